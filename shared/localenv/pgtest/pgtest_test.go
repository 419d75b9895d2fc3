package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestNewDatabaseIsIsolatedAndNonSuperuser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsnA := pgtest.NewDatabase(t)
	dsnB := pgtest.NewDatabase(t)
	require.NotEqual(t, dsnA, dsnB)

	a, err := pgx.Connect(ctx, dsnA)
	require.NoError(t, err)
	defer a.Close(ctx)
	var user string
	var super, bypass bool
	require.NoError(t, a.QueryRow(ctx,
		`SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &bypass))
	require.Equal(t, pgtest.Owner, user)
	require.False(t, super)
	require.False(t, bypass)
	_, err = a.Exec(ctx, `CREATE TABLE only_in_a (id int)`)
	require.NoError(t, err)

	b, err := pgx.Connect(ctx, dsnB)
	require.NoError(t, err)
	defer b.Close(ctx)
	_, err = b.Exec(ctx, `SELECT 1 FROM only_in_a`)
	require.Error(t, err, "databases must not share tables")
}

func TestRowLevelSecurityAppliesToOwner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `
		CREATE TABLE items (tenant text, v int);
		INSERT INTO items VALUES ('a', 1), ('b', 2);
		ALTER TABLE items ENABLE ROW LEVEL SECURITY;
		ALTER TABLE items FORCE ROW LEVEL SECURITY;
		CREATE POLICY p ON items USING (tenant = current_setting('app.tenant', true));`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT set_config('app.tenant', 'a', false)`)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n))
	require.Equal(t, 1, n, "the owner role must be subject to forced RLS")
}

func TestDatabaseDroppedOnCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
		require.NoError(t, err)
		name = cfg.Database
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgtest.Cluster(t).SuperuserDSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	require.False(t, exists, "database %s must be dropped after its test", name)
}
