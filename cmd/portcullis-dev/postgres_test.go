package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestPostgresIsPersistentAndReused is what two consecutive `make run`s do: the second run reuses
// the data dir and the database, and the app role is not a superuser.
func TestPostgresIsPersistentAndReused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config{pgDir: filepath.Join(t.TempDir(), "pg"), pgPort: 0}

	for run := 1; run <= 2; run++ {
		var stack stopStack
		dsn, err := startPostgres(ctx, cfg, logger, &stack)
		require.NoError(t, err, "run %d", run)
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		var super bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super))
		require.False(t, super)
		if run == 1 {
			_, err = conn.Exec(ctx, `CREATE TABLE marker (v int); INSERT INTO marker VALUES (42)`)
		} else {
			var v int
			err = conn.QueryRow(ctx, `SELECT v FROM marker`).Scan(&v)
			require.Equal(t, 42, v)
		}
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
		stack.stopAll(logger)
	}
}

func TestDatabaseURLSkipsLocalCluster(t *testing.T) {
	var stack stopStack
	dsn, err := startPostgres(context.Background(), config{databaseURL: "postgres://u@db.example/x"}, slog.Default(), &stack)
	require.NoError(t, err)
	require.Equal(t, "postgres://u@db.example/x", dsn)
	require.Empty(t, stack.items)
}
