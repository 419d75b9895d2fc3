package auditingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// waitFor is a hang guard, not a performance assertion.
const waitFor = 60 * time.Second

func event(id, tenant string) audit.Event {
	return audit.Event{
		ID: id, Time: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), GatewayID: "gw-1",
		Tenant: tenant, UserID: "u1", Method: "tools/call", Tool: "orders.list",
		Decision: audit.DecisionAllow, DurationMS: 12,
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestIngest(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Up(ctx, dsn))
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	ns := natstest.New(t)
	nc, err := nats.Connect(ns.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)

	in, err := New(Config{JS: js, Store: st, Batch: 4, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	// The stream is created by Run; publish once it exists.
	require.Eventually(t, func() bool {
		_, err := js.Stream(ctx, Stream)
		return err == nil
	}, waitFor, 20*time.Millisecond)

	good1 := event("0193a0c0-0000-7000-8000-000000000001", "acme")
	good2 := event("0193a0c0-0000-7000-8000-000000000002", "")
	withExtra := mustJSON(t, event("0193a0c0-0000-7000-8000-000000000003", "acme"))
	withExtra = append(withExtra[:len(withExtra)-1], []byte(`,"smuggled":"x"}`)...)
	msgs := []struct {
		name    string
		subject string
		data    []byte
		stored  bool
	}{
		{"tenant event", audit.Subject("acme"), mustJSON(t, good1), true},
		{"global event", audit.Subject(""), mustJSON(t, good2), true},
		{"duplicate (redelivered by a gateway)", audit.Subject("acme"), mustJSON(t, good1), false},
		{"unknown field dropped, event kept", audit.Subject("acme"), withExtra, true},
		{"not JSON", audit.Subject("acme"), []byte("{not json"), false},
		{"no id", audit.Subject("acme"), mustJSON(t, event("", "acme")), false},
		{"tenant differs from subject", audit.Subject("other"), mustJSON(t, event("0193a0c0-0000-7000-8000-000000000009", "acme")), false},
		{"invalid tenant subject", audit.Subject("bad.tenant"), mustJSON(t, event("0193a0c0-0000-7000-8000-00000000000a", "")), false},
		{"bad decision", audit.Subject("acme"), []byte(`{"id":"x1","time":"2026-12-04T12:00:00Z","tenant":"acme","decision":"maybe"}`), false},
	}
	for _, m := range msgs {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.Publish(pctx, m.subject, m.data)
		pcancel()
		require.NoError(t, err, m.name)
	}

	// Every message is handled: acked or terminated, none left pending.
	require.Eventually(t, func() bool {
		c, err := js.Consumer(ctx, Stream, Consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream == uint64(len(msgs))
	}, waitFor, 20*time.Millisecond)

	assert.Equal(t, int64(3), countRows(t, dsn, ""), "each valid event stored exactly once")
	assert.Equal(t, int64(2), countRows(t, dsn, "acme"))
	assert.Equal(t, 5.0, testutil.ToFloat64(in.rejected), "malformed messages terminated")
	assert.Equal(t, 3.0, testutil.ToFloat64(in.stored))

	var body string
	require.NoError(t, withPlatform(t, dsn, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT event::text FROM audit_events WHERE id = $1`, "0193a0c0-0000-7000-8000-000000000003").Scan(&body)
	}))
	assert.NotContains(t, body, "smuggled", "only known fields are stored")
}

func countRows(t *testing.T, dsn, tenant string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, withPlatform(t, dsn, func(c *pgx.Conn) error {
		q := `SELECT count(*) FROM audit_events`
		args := []any{}
		if tenant != "" {
			q += ` WHERE tenant_id = $1`
			args = append(args, tenant)
		}
		return c.QueryRow(context.Background(), q, args...).Scan(&n)
	}))
	return n
}

// withPlatform runs fn on a connection with the platform row-level-security
// context, as the store's system actor reads.
func withPlatform(t *testing.T, dsn string, fn func(*pgx.Conn) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `SELECT set_config('portcullis.platform', 'on', false)`); err != nil {
		return err
	}
	return fn(c)
}

func TestDecode(t *testing.T) {
	ev := event("0193a0c0-0000-7000-8000-000000000001", "acme")
	ok := mustJSON(t, ev)
	for _, tc := range []struct {
		name, subject string
		data          []byte
		wantErr       bool
	}{
		{"ok", "portcullis.audit.acme", ok, false},
		{"subject outside the prefix", "portcullis.other.acme", ok, true},
		{"nested subject", "portcullis.audit.acme.x", ok, true},
		{"wildcard-like tenant", "portcullis.audit._invalid", ok, true},
		{"oversize", "portcullis.audit.acme", make([]byte, maxMsgSize+1), true},
		{"array", "portcullis.audit.acme", []byte(`[]`), true},
		{"id with spaces", "portcullis.audit.acme", mustJSON(t, event("a b", "acme")), true},
		{"no time", "portcullis.audit.acme", []byte(`{"id":"x","tenant":"acme","decision":"allow"}`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(tc.subject, tc.data)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "acme", got.TenantID)
			assert.Equal(t, ev.ID, got.ID)
			assert.Equal(t, "orders.list", got.Tool)
			assert.Equal(t, "allow", got.Decision)
		})
	}
}
