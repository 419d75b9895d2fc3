package migrations_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

var tables = []string{"tenants", "tool_sources", "tools", "access_rules", "policies", "hooks", "masking_rules",
	"approvals", "signing_keys", "scope_revisions", "outbox", "bundle_revisions", "audit_events", "gateways",
	"idempotency_keys", "domains"}

func countTables(t *testing.T, ctx context.Context, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM unnest($1::text[]) AS t(name) WHERE to_regclass(name) IS NOT NULL`,
		tables).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUpDownUp(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDatabase(t)
	conn := connect(t, ctx, dsn)

	steps := []struct {
		name   string
		run    func(context.Context, string) error
		tables int
	}{
		{"up", migrations.Up, len(tables)},
		{"up again is a no-op", migrations.Up, len(tables)},
		{"down", migrations.Down, 0},
		{"up after down", migrations.Up, len(tables)},
	}
	for _, s := range steps {
		if err := s.run(ctx, dsn); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := countTables(t, ctx, conn); got != s.tables {
			t.Fatalf("%s: %d of our tables exist, want %d", s.name, got, s.tables)
		}
	}
	// Every table holding tenant data (or other protected state) has forced RLS.
	var unprotected []string
	rows, err := conn.Query(ctx, `
		SELECT name FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(name)
		WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity)`, tables)
	if err != nil {
		t.Fatal(err)
	}
	unprotected, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(unprotected) > 0 {
		t.Fatalf("tables without forced row-level security: %v", unprotected)
	}
	// Partitions are reachable by name, bypassing the parent's policies unless
	// they have row-level security of their own.
	var parts, open int
	if err := conn.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE NOT (c.relrowsecurity AND c.relforcerowsecurity))
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass`).
		Scan(&parts, &open); err != nil {
		t.Fatal(err)
	}
	if parts < 5 || open != 0 {
		t.Fatalf("%d audit partitions, %d without forced row-level security", parts, open)
	}
}

func TestDirtyStateIsReported(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, dsn)
	if _, err := conn.Exec(ctx, `UPDATE schema_migrations SET dirty = true`); err != nil {
		t.Fatal(err)
	}
	err := migrations.Up(ctx, dsn)
	if !errors.Is(err, migrations.ErrDirty) {
		t.Fatalf("Up on a dirty database: %v, want ErrDirty", err)
	}
}

func TestBadDSN(t *testing.T) {
	ctx := testCtx(t)
	for _, dsn := range []string{"mysql://x@localhost/db", "::not a url", ""} {
		if err := migrations.Up(ctx, dsn); err == nil {
			t.Errorf("Up(%q) succeeded", dsn)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := migrations.Up(ctx, dsn); !errors.Is(err, context.Canceled) {
		t.Fatalf("Up with a cancelled context: %v", err)
	}
}

func TestAuditPartitions(t *testing.T) {
	ctx := testCtx(t)
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, dsn)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	exec(t, ctx, tx, `SELECT set_config('portcullis.platform', 'on', true)`)

	// An event far in the future lands in the DEFAULT partition; creating its
	// month's partition later moves it there.
	exec(t, ctx, tx, `INSERT INTO audit_events (id, time, event) VALUES ('e-now', now(), '{}'), ('e-late', now() + interval '8 months', '{}')`)
	partOf := func(id string) string {
		var p string
		if err := tx.QueryRow(ctx, `SELECT tableoid::regclass::text FROM audit_events WHERE id = $1`, id).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := partOf("e-now"); p == "audit_events_default" {
		t.Fatalf("an event of the current month went to %s", p)
	}
	if p := partOf("e-late"); p != "audit_events_default" {
		t.Fatalf("a far-future event went to %s, want the default partition", p)
	}
	var created int
	if err := tx.QueryRow(ctx, `SELECT portcullis_ensure_audit_partitions(9)`).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created == 0 {
		t.Fatal("no partition created")
	}
	if p := partOf("e-late"); p == "audit_events_default" {
		t.Fatal("the event stayed in the default partition after its month's partition was created")
	}
	// Idempotent inserts thanks to the (id, time) primary key.
	tag, err := tx.Exec(ctx, `INSERT INTO audit_events (id, time, event) SELECT id, time, event FROM audit_events ON CONFLICT DO NOTHING`)
	if err != nil || tag.RowsAffected() != 0 {
		t.Fatalf("re-insert: %v, %d rows", err, tag.RowsAffected())
	}
	if err := tx.QueryRow(ctx, `SELECT portcullis_ensure_audit_partitions(9)`).Scan(&created); err != nil || created != 0 {
		t.Fatalf("second call: created %d, %v", created, err)
	}
}

func exec(t *testing.T, ctx context.Context, tx pgx.Tx, sql string, args ...any) {
	t.Helper()
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestRowLevelSecurity checks the policies with raw SQL, as the application
// role, without the store: with portcullis.tenant_id = 'a' a session sees
// only tenant a's rows (plus the global rows the model allows) and cannot
// write anyone else's.
func TestRowLevelSecurity(t *testing.T) {
	ctx := testCtx(t)
	conn := seededDatabase(t, ctx)

	thisMonth := time.Now().UTC().Format("audit_events_y2006m01")
	checks := []rlsCheck{
		{name: "partitions cannot be read by name", actor: "platform", sql: `SELECT * FROM ` + thisMonth, want: 0},
		{name: "partitions cannot be written by name", actor: "platform", sql: `INSERT INTO audit_events_default (id, time, event) VALUES ('x', now() + interval '20 years', '{}')`, code: "42501"},
		// Reads.
		{name: "tenant sees own and global access rules", actor: "a", sql: `SELECT * FROM access_rules`, want: 2},
		{name: "tenant sees own and global policies", actor: "a", sql: `SELECT * FROM policies`, want: 2},
		{name: "tenant sees only own hooks", actor: "a", sql: `SELECT * FROM hooks`, want: 1},
		{name: "tenant sees only its tenant row", actor: "a", sql: `SELECT * FROM tenants`, want: 1},
		{name: "tenant sees only own approvals", actor: "a", sql: `SELECT * FROM approvals`, want: 1},
		{name: "tenant sees only own audit", actor: "a", sql: `SELECT * FROM audit_events`, want: 1},
		{name: "tenant sees own scope revision only", actor: "a", sql: `SELECT * FROM scope_revisions`, want: 1},
		{name: "tenant reads tools", actor: "a", sql: `SELECT * FROM tools`, want: 1},
		{name: "tenant cannot read tool sources", actor: "a", sql: `SELECT * FROM tool_sources`, want: 0},
		{name: "tenant cannot read signing keys", actor: "a", sql: `SELECT * FROM signing_keys`, want: 0},
		{name: "tenant cannot read the outbox", actor: "a", sql: `SELECT * FROM outbox`, want: 0},
		{name: "tenant cannot read gateways", actor: "a", sql: `SELECT * FROM gateways`, want: 0},
		{name: "tenant cannot read other idempotency keys", actor: "a", sql: `SELECT * FROM idempotency_keys`, want: 1},
		{name: "tenant sees only own domains", actor: "a", sql: `SELECT * FROM domains`, want: 1},
		{name: "tenant does not see platform domains", actor: "a", sql: `SELECT * FROM domains WHERE tenant_id IS NULL`, want: 0},
		{name: "no actor sees no domains", actor: "", sql: `SELECT * FROM domains`, want: 0},
		{name: "platform sees all domains", actor: "platform", sql: `SELECT * FROM domains`, want: 3},
		{name: "no actor sees no tenants", actor: "", sql: `SELECT * FROM tenants`, want: 0},
		{name: "no actor sees no rules", actor: "", sql: `SELECT * FROM access_rules`, want: 0},
		{name: "no actor sees no tools", actor: "", sql: `SELECT * FROM tools`, want: 0},
		{name: "platform sees all rules", actor: "platform", sql: `SELECT * FROM access_rules`, want: 3},
		{name: "platform sees all audit", actor: "platform", sql: `SELECT * FROM audit_events`, want: 3},
		{name: "platform deletes audit (retention)", actor: "platform", sql: `DELETE FROM audit_events WHERE tenant_id = 'b'`, want: 1},
		{name: "tenant cannot delete audit", actor: "a", sql: `DELETE FROM audit_events`, want: 0},

		// Writes a tenant may make.
		{name: "tenant writes own rule", actor: "a", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES ('a', 'new', '{}')`, want: 1},
		{name: "tenant updates own rule", actor: "a", sql: `UPDATE access_rules SET name = 'x' WHERE tenant_id = 'a'`, want: 1},
		{name: "tenant bumps own scope", actor: "a", sql: `UPDATE scope_revisions SET revision = revision + 1 WHERE scope = 'tenant/a'`, want: 1},
		{name: "tenant enqueues own scope", actor: "a", sql: `INSERT INTO outbox (scope, revision) VALUES ('tenant/a', 9)`, want: 1},

		// Writes a tenant may not make.
		{name: "tenant cannot insert b's rule", actor: "a", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES ('b', 'evil', '{}')`, code: "42501"},
		{name: "tenant cannot insert a global rule", actor: "a", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES (NULL, 'evil', '{}')`, code: "42501"},
		{name: "tenant cannot move its rule to b", actor: "a", sql: `UPDATE access_rules SET tenant_id = 'b' WHERE tenant_id = 'a'`, code: "42501"},
		{name: "tenant cannot move its rule to global", actor: "a", sql: `UPDATE access_rules SET tenant_id = NULL WHERE tenant_id = 'a'`, code: "42501"},
		{name: "tenant cannot update global rules", actor: "a", sql: `UPDATE access_rules SET name = 'x' WHERE tenant_id IS NULL`, want: 0},
		{name: "tenant cannot update b's rules", actor: "a", sql: `UPDATE access_rules SET name = 'x' WHERE tenant_id = 'b'`, want: 0},
		{name: "tenant cannot delete global rules", actor: "a", sql: `DELETE FROM access_rules WHERE tenant_id IS NULL`, want: 0},
		{name: "tenant cannot delete b's policies", actor: "a", sql: `DELETE FROM policies WHERE tenant_id = 'b'`, want: 0},
		{name: "tenant cannot write policies without delegation", actor: "b", sql: `INSERT INTO policies (tenant_id, name, spec) VALUES ('b', 'p2', '{}')`, code: "42501"},
		{name: "tenant cannot update policies without delegation", actor: "b", sql: `UPDATE policies SET name = 'x' WHERE tenant_id = 'b'`, code: "42501"},
		{name: "tenant with delegation writes policies", actor: "a", sql: `INSERT INTO policies (tenant_id, name, spec) VALUES ('a', 'p2', '{}')`, want: 1},
		{name: "tenant cannot write hooks", actor: "a", sql: `INSERT INTO hooks (tenant_id, name, spec) VALUES ('a', 'h2', '{}')`, code: "42501"},
		{name: "tenant cannot enable its delegation", actor: "b", sql: `UPDATE tenants SET delegation_enabled = true`, want: 0},
		{name: "tenant cannot create tenants", actor: "a", sql: `INSERT INTO tenants (id, name) VALUES ('c', 'C')`, code: "42501"},
		{name: "tenant cannot delete itself", actor: "a", sql: `DELETE FROM tenants`, want: 0},
		{name: "tenant cannot bump global", actor: "a", sql: `INSERT INTO scope_revisions VALUES ('global', 99) ON CONFLICT (scope) DO UPDATE SET revision = 99`, code: "42501"},
		{name: "tenant cannot bump b", actor: "a", sql: `UPDATE scope_revisions SET revision = 99 WHERE scope = 'tenant/b'`, want: 0},
		{name: "tenant cannot enqueue global", actor: "a", sql: `INSERT INTO outbox (scope, revision) VALUES ('global', 9)`, code: "42501"},
		{name: "tenant cannot mark published", actor: "a", sql: `UPDATE outbox SET published_at = now()`, want: 0},
		{name: "tenant cannot create its domain", actor: "a", sql: `INSERT INTO domains (hostname, tenant_id) VALUES ('x.a.test', 'a')`, code: "42501"},
		{name: "tenant cannot update its domain", actor: "a", sql: `UPDATE domains SET hostname = 'y.a.test' WHERE tenant_id = 'a'`, want: 0},
		{name: "tenant cannot delete its domain", actor: "a", sql: `DELETE FROM domains`, want: 0},
		{name: "hostnames are unique across tenants", actor: "platform", sql: `INSERT INTO domains (hostname, tenant_id) VALUES ('mcp.a.test', 'b')`, code: "23505"},
		{name: "hostnames are lower-case", actor: "platform", sql: `INSERT INTO domains (hostname) VALUES ('MCP.example.test')`, code: "23514"},
		{name: "hostnames have no port", actor: "platform", sql: `INSERT INTO domains (hostname) VALUES ('mcp.example.test:443')`, code: "23514"},
		{name: "hostnames have no trailing dot", actor: "platform", sql: `INSERT INTO domains (hostname) VALUES ('mcp.example.test.')`, code: "23514"},
		{name: "domains need an existing tenant", actor: "platform", sql: `INSERT INTO domains (hostname, tenant_id) VALUES ('mcp.ghost.test', 'ghost')`, code: "23503"},
		{name: "tenant cannot write tools", actor: "a", sql: `INSERT INTO tools (name, spec) VALUES ('t2', '{}')`, code: "42501"},
		{name: "tenant cannot update tools", actor: "a", sql: `UPDATE tools SET spec = '{}'`, want: 0},
		{name: "tenant cannot write keys", actor: "a", sql: `INSERT INTO signing_keys (kid, kind, secret_sealed) VALUES ('k', 'backend_hmac', '\x00')`, code: "42501"},
		{name: "tenant cannot create b's approval", actor: "a", sql: `INSERT INTO approvals (tenant_id, user_id, tool, args_hash, expires_at) VALUES ('b', 'u', 't', 'h', now())`, code: "42501"},
		{name: "tenant cannot decide b's approval", actor: "a", sql: `UPDATE approvals SET status = 'approved' WHERE tenant_id = 'b'`, want: 0},
		{name: "tenant cannot forge audit", actor: "a", sql: `INSERT INTO audit_events (id, time, tenant_id, event) VALUES ('x', now(), 'a', '{}')`, code: "42501"},
		{name: "tenant cannot store b's idempotency key", actor: "a", sql: `INSERT INTO idempotency_keys (principal, key, tenant_id, request_hash, status, body) VALUES ('p', 'k2', 'b', 'h', 201, '')`, code: "42501"},
		{name: "no actor cannot write rules", actor: "", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES ('a', 'n', '{}')`, code: "42501"},
		{name: "audit is append-only even for the platform", actor: "platform", sql: `UPDATE audit_events SET tool = 'x'`, want: 0},
		{name: "platform writes global rules", actor: "platform", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES (NULL, 'g2', '{}')`, want: 1},
		{name: "names are unique per scope", actor: "platform", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES (NULL, 'g', '{}')`, code: "23505"},
		{name: "the same name in another scope is fine", actor: "platform", sql: `INSERT INTO access_rules (tenant_id, name, spec) VALUES ('b', 'g', '{}')`, want: 1},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, ctx, conn) })
	}
}

// seededDatabase is a fresh migrated database holding the seed, connected.
func seededDatabase(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	if err := migrations.Up(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, dsn)
	seed(t, ctx, conn)
	return conn
}

// requireForcedRLS fails the test unless table has row-level security
// enabled and forced (so the table owner is bound by it too).
func requireForcedRLS(t *testing.T, ctx context.Context, conn *pgx.Conn, table string) {
	t.Helper()
	var forced bool
	if err := conn.QueryRow(ctx, `SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)`, table).
		Scan(&forced); err != nil || !forced {
		t.Fatalf("%s: forced row-level security = %v, %v", table, forced, err)
	}
}

// rlsCheck is one statement run as an actor against the seed.
type rlsCheck struct {
	name  string
	actor string // "a", "b", "platform" or "" (no setting at all)
	sql   string
	want  int64  // rows returned (queries starting with SELECT) or affected
	code  string // expected SQLSTATE instead of a result
}

// run runs the check in a transaction it rolls back, so every check starts
// from the seed.
func (c rlsCheck) run(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	setActor(t, ctx, tx, c.actor)
	var n int64
	if len(c.sql) > 6 && c.sql[:6] == "SELECT" {
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
}

func setActor(t *testing.T, ctx context.Context, tx pgx.Tx, actor string) {
	t.Helper()
	switch actor {
	case "":
	case "platform":
		exec(t, ctx, tx, `SET LOCAL portcullis.platform = 'on'`)
	default:
		exec(t, ctx, tx, `SELECT set_config('portcullis.tenant_id', $1, true)`, actor)
	}
}

// seed writes, as the platform: tenants a (delegation on) and b (off); one
// global and one row per tenant of access rules, policies and hooks; one tool
// and tool source; approvals, audit events, idempotency keys and scope
// revisions for both tenants; one platform domain and one per tenant.
func seed(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	stmts := []string{
		`SET LOCAL portcullis.platform = 'on'`,
		`INSERT INTO tenants (id, name, delegation_enabled) VALUES ('a', 'A', true), ('b', 'B', false)`,
		`INSERT INTO access_rules (tenant_id, name, spec) VALUES (NULL, 'g', '{}'), ('a', 'r', '{}'), ('b', 'r', '{}')`,
		`INSERT INTO policies (tenant_id, name, spec) VALUES (NULL, 'g', '{}'), ('a', 'p', '{}'), ('b', 'p', '{}')`,
		`INSERT INTO hooks (tenant_id, name, spec) VALUES (NULL, 'g', '{}'), ('a', 'h', '{}'), ('b', 'h', '{}')`,
		`INSERT INTO tools (name, spec) VALUES ('t', '{}')`,
		`INSERT INTO tool_sources (name, spec) VALUES ('s', '{}')`,
		`INSERT INTO signing_keys (kid, kind, secret_sealed) VALUES ('bk_1', 'backend_hmac', '\x00')`,
		`INSERT INTO gateways (id, started_at, last_seen) VALUES ('g1', now(), now())`,
		`INSERT INTO approvals (tenant_id, user_id, tool, args_hash, expires_at) VALUES ('a', 'u', 't', 'h', now() + interval '1 hour'), ('b', 'u', 't', 'h', now() + interval '1 hour')`,
		`INSERT INTO audit_events (id, time, tenant_id, event) VALUES ('1', now(), 'a', '{}'), ('2', now(), 'b', '{}'), ('3', now(), NULL, '{}')`,
		`INSERT INTO idempotency_keys (principal, key, tenant_id, request_hash, status, body) VALUES ('pa', 'k', 'a', 'h', 201, ''), ('pb', 'k', 'b', 'h', 201, '')`,
		`INSERT INTO scope_revisions VALUES ('global', 1), ('tenant/a', 1), ('tenant/b', 1)`,
		`INSERT INTO outbox (scope, revision) VALUES ('global', 1), ('tenant/a', 1), ('tenant/b', 1)`,
		`INSERT INTO domains (hostname, tenant_id) VALUES ('mcp.platform.test', NULL), ('mcp.a.test', 'a'), ('mcp.b.test', 'b')`,
	}
	for _, s := range stmts {
		exec(t, ctx, tx, s)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
