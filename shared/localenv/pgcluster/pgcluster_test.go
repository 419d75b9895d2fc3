package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/pgcluster"
)

func TestClusterCreatesNonSuperuserDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	require.NoError(t, err)
	dir := c.Dir()
	defer func() {
		require.NoError(t, c.Stop(ctx))
		_, err := os.Stat(dir)
		require.ErrorIs(t, err, os.ErrNotExist, "temporary data dir must be removed by Stop")
	}()

	dsn, err := c.CreateDatabase(ctx, "app_db", "app_owner")
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)

	var user string
	var super, bypass bool
	require.NoError(t, conn.QueryRow(ctx,
		`SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &bypass))
	require.Equal(t, "app_owner", user)
	require.False(t, super, "app role must not be a superuser")
	require.False(t, bypass, "app role must not bypass RLS")

	_, err = conn.Exec(ctx, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)`)
	require.NoError(t, err)

	// A second database for the same (now existing) owner works; a duplicate name does not.
	_, err = c.CreateDatabase(ctx, "app_db2", "app_owner")
	require.NoError(t, err)
	_, err = c.CreateDatabase(ctx, "app_db", "app_owner")
	require.Error(t, err)
	_, err = c.EnsureDatabase(ctx, "app_db", "app_owner")
	require.NoError(t, err)

	// Drop works even with a session still open.
	require.NoError(t, c.DropDatabase(ctx, "app_db2"))
}

func TestClusterReusesDirAndSurvivesStalePID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	require.NoError(t, err)
	dsn, err := c.CreateDatabase(ctx, "keep", "keeper")
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')`)
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, c.Stop(ctx))

	// Simulate a killed run: a postmaster.pid naming a process that is not postgres.
	stale := []byte("999999\n" + dir + "\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "postmaster.pid"), stale, 0o600))

	c2, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir})
	require.NoError(t, err)
	defer func() { require.NoError(t, c2.Stop(ctx)) }()
	dsn2, err := c2.EnsureDatabase(ctx, "keep", "keeper")
	require.NoError(t, err)
	conn2, err := pgx.Connect(ctx, dsn2)
	require.NoError(t, err)
	defer conn2.Close(ctx)
	var v string
	require.NoError(t, conn2.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v))
	require.Equal(t, "still here", v)
}

func TestFindBinDir(t *testing.T) {
	d, err := pgcluster.FindBinDir()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(d, "initdb"))

	t.Setenv(pgcluster.BinDirEnv, t.TempDir()) // an override without binaries falls through
	d2, err := pgcluster.FindBinDir()
	require.NoError(t, err)
	require.Equal(t, d, d2)
}
