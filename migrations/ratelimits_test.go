package migrations_test

import "testing"

// TestRateLimitTablesRLS: rate_limits and network_rules follow the access
// model of access_rules (000005): forced row-level security, tenants read
// their own and global rows, write only their own, names unique per scope.
func TestRateLimitTablesRLS(t *testing.T) {
	ctx := testCtx(t)
	conn := seededDatabase(t, ctx)
	for _, tbl := range []string{"rate_limits", "network_rules"} {
		requireForcedRLS(t, ctx, conn, tbl)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		exec(t, ctx, tx, `SET LOCAL portcullis.platform = 'on'`)
		exec(t, ctx, tx, `INSERT INTO `+tbl+` (tenant_id, name, spec) VALUES (NULL, 'g', '{}'), ('a', 'r', '{}'), ('b', 'r', '{}')`)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		checks := []rlsCheck{
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
			t.Run(tbl+"/"+c.name, func(t *testing.T) { c.run(t, ctx, conn) })
		}
	}
}
