package migrations_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

// TestRateLimitTablesRLS: rate_limits and network_rules follow the access
// model of access_rules (000005): forced row-level security, tenants read
// their own and global rows, write only their own, names unique per scope.
func TestRateLimitTablesRLS(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, dsn)
	seed(t, ctx, conn)
	for _, tbl := range []string{"rate_limits", "network_rules"} {
		var forced bool
		if err := conn.QueryRow(ctx, `SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)`, tbl).
			Scan(&forced); err != nil || !forced {
			t.Fatalf("%s: forced row-level security = %v, %v", tbl, forced, err)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, ctx, tx, `SET LOCAL portcullis.platform = 'on'`)
		exec(t, ctx, tx, `INSERT INTO `+tbl+` (tenant_id, name, spec) VALUES (NULL, 'g', '{}'), ('a', 'r', '{}'), ('b', 'r', '{}')`)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name, actor, sql string
			want             int64
			code             string
		}{
			{"tenant sees own and global", "a", `SELECT * FROM ` + tbl, 2, ""},
			{"no actor sees nothing", "", `SELECT * FROM ` + tbl, 0, ""},
			{"platform sees all", "platform", `SELECT * FROM ` + tbl, 3, ""},
			{"tenant writes own", "a", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES ('a', 'n', '{}')`, 1, ""},
			{"tenant updates own", "a", `UPDATE ` + tbl + ` SET name = 'x' WHERE tenant_id = 'a'`, 1, ""},
			{"tenant cannot insert b's", "a", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES ('b', 'e', '{}')`, 0, "42501"},
			{"tenant cannot insert global", "a", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES (NULL, 'e', '{}')`, 0, "42501"},
			{"tenant cannot move to global", "a", `UPDATE ` + tbl + ` SET tenant_id = NULL WHERE tenant_id = 'a'`, 0, "42501"},
			{"tenant cannot update global", "a", `UPDATE ` + tbl + ` SET name = 'x' WHERE tenant_id IS NULL`, 0, ""},
			{"tenant cannot delete b's", "a", `DELETE FROM ` + tbl + ` WHERE tenant_id = 'b'`, 0, ""},
			{"tenant cannot delete global", "a", `DELETE FROM ` + tbl + ` WHERE tenant_id IS NULL`, 0, ""},
			{"names unique per scope", "platform", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES (NULL, 'g', '{}')`, 0, "23505"},
			{"same name in another scope", "platform", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES ('a', 'g', '{}')`, 1, ""},
			{"tenant must exist", "platform", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES ('ghost', 'g', '{}')`, 0, "23503"},
			{"spec is an object", "platform", `INSERT INTO ` + tbl + ` (tenant_id, name, spec) VALUES (NULL, 'z', '[]')`, 0, "23514"},
			{"tenant delete cascades", "platform", `DELETE FROM tenants WHERE id = 'b'`, 1, ""},
		}
		for _, c := range checks {
			t.Run(tbl+"/"+c.name, func(t *testing.T) {
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx)
				setActor(t, ctx, tx, c.actor)
				var n int64
				if c.sql[:6] == "SELECT" {
					rows, qerr := tx.Query(ctx, c.sql)
					if qerr == nil {
						for rows.Next() {
							n++
						}
						rows.Close()
						qerr = rows.Err()
					}
					err = qerr
				} else {
					var tag pgconn.CommandTag
					tag, err = tx.Exec(ctx, c.sql)
					n = tag.RowsAffected()
				}
				var pgErr *pgconn.PgError
				switch {
				case c.code != "":
					if !errors.As(err, &pgErr) || pgErr.Code != c.code {
						t.Fatalf("got %v (%d rows), want SQLSTATE %s", err, n, c.code)
					}
				case err != nil:
					t.Fatalf("unexpected error: %v", err)
				case n != c.want:
					t.Fatalf("%d rows, want %d", n, c.want)
				}
			})
		}
	}
}
