package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natsserver"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// noLeaks checks, after every other cleanup of the test has run, that the
// relay left no goroutine behind. Call it first in a test.
func noLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) })
}

// waitFor bounds every wait on the relay. It is a hang guard, not a
// performance assertion: a healthy relay publishes in milliseconds.
const waitFor = 60 * time.Second

var (
	masterKey = bytes.Repeat([]byte{0x4d}, 32)
	sealKey   = bytes.Repeat([]byte{0x53}, 32)
	platform  = store.Actor{Subject: "test:platform", Platform: true}
)

// env is one test's Postgres database, store, NATS server and client.
type env struct {
	dsn   string
	store *store.Store
	ns    *natsserver.Server
	nc    *nats.Conn
	js    jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Up(ctx, dsn))
	sealer, err := seal.New(masterKey)
	require.NoError(t, err)
	st, err := store.Open(ctx, dsn, store.Options{MaxConns: 8, Sealer: sealer, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(st.Close)
	// The server creates the signing key at start; do the same so tests can
	// fetch the public keys before the first publish.
	_, _, err = st.BundleSigningKey(ctx)
	require.NoError(t, err)
	ns := natstest.New(t)
	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return &env{dsn: dsn, store: st, ns: ns, nc: nc, js: js}
}

func testLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (e *env) newRelay(t *testing.T, reg prometheus.Registerer) *Relay {
	t.Helper()
	r, err := New(Config{
		DSN: e.dsn, Store: e.store, JS: e.js, SealKey: sealKey,
		PollInterval: 100 * time.Millisecond, Logger: testLogger(), Metrics: reg,
	})
	require.NoError(t, err)
	return r
}

// start runs r until the test ends.
func start(t *testing.T, r *Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func (e *env) tx(t *testing.T, fn func(store.Tx) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, e.store.Tx(ctx, platform, fn))
}

func (e *env) createTenant(t *testing.T, id string) {
	e.tx(t, func(tx store.Tx) error {
		_, err := tx.CreateTenant(context.Background(), model.Tenant{ID: id, Name: id, DelegationEnabled: true})
		return err
	})
}

// createPolicy writes a policy in scope (tenantID "" = global) and returns its id.
func (e *env) createPolicy(t *testing.T, tenantID, name string) string {
	spec, err := json.Marshal(map[string]any{"name": name, "tools": []string{"*"}, "effect": "deny", "enabled": true})
	require.NoError(t, err)
	var id string
	e.tx(t, func(tx store.Tx) error {
		rec, err := tx.CreateResource(context.Background(), store.KindPolicy, tenantID, name, spec)
		id = rec.ID
		return err
	})
	return id
}

// scopeRevision is the revision Postgres handed out last for scope.
func (e *env) scopeRevision(t *testing.T, scope model.Scope) int64 {
	t.Helper()
	return e.queryInt(t, `SELECT revision FROM scope_revisions WHERE scope = $1`, string(scope))
}

// unpublished counts outbox rows not yet published.
func (e *env) unpublished(t *testing.T) int64 {
	t.Helper()
	return e.queryInt(t, `SELECT count(*) FROM outbox WHERE published_at IS NULL`)
}

func (e *env) queryInt(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// Row-level security: read as the platform, like the store's system actor.
	_, err = conn.Exec(ctx, `SELECT set_config('portcullis.platform', 'on', false)`)
	require.NoError(t, err)
	var n int64
	require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&n))
	return n
}

func (e *env) keySet(t *testing.T) bundle.KeySet {
	t.Helper()
	pubs, err := e.store.BundlePublicKeys(context.Background())
	require.NoError(t, err)
	set := bundle.KeySet{}
	for _, p := range pubs {
		set[p.KID] = p.Key
	}
	require.NotEmpty(t, set)
	return set
}

func (e *env) bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := EnsureBucket(ctx, e.js, 1)
	require.NoError(t, err)
	return kv
}

// waitBundle waits until the bucket holds a bundle for scope with at least
// revision want, verifies it with the store's public keys and returns it with
// its raw bytes.
func (e *env) waitBundle(t *testing.T, scope model.Scope, want int64) (*bundle.Bundle, []byte) {
	t.Helper()
	return e.waitBundleOver(t, scope, want, false)
}

// waitBundleOver is waitBundle; with forged set it tolerates invalid bundles
// in the bucket until a valid one replaces them.
func (e *env) waitBundleOver(t *testing.T, scope model.Scope, want int64, forged bool) (*bundle.Bundle, []byte) {
	t.Helper()
	kv := e.bucket(t)
	keys := e.keySet(t)
	deadline := time.Now().Add(waitFor)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		entry, err := kv.Get(ctx, bundle.KeyFor(scope))
		cancel()
		if err == nil {
			b, verr := bundle.Verify(entry.Value(), keys, scope)
			switch {
			case verr != nil && forged:
				lastErr = verr
			case verr != nil:
				require.NoError(t, verr, "the bucket must only ever hold valid bundles")
			case b.Revision >= want:
				return b, entry.Value()
			default:
				lastErr = fmt.Errorf("holding revision %d, want %d", b.Revision, want)
			}
		} else {
			lastErr = err
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no bundle for %s at revision %d: %v", scope, want, lastErr)
	return nil, nil
}

// watchRevisions records, in order, the revision of every bundle written
// under key from now on.
func (e *env) watchRevisions(t *testing.T, key string) func() []int64 {
	t.Helper()
	kv := e.bucket(t)
	keys := e.keySet(t)
	scope, err := bundle.ScopeFromKey(key)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(ctx, key, jetstream.IncludeHistory())
	require.NoError(t, err)
	var mu sync.Mutex
	var revs []int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The watcher's ordered consumer may be recreated under load and
		// deliver entries again; the invariant is about distinct writes, so
		// each KV sequence counts once.
		var lastSeq uint64
		for entry := range w.Updates() {
			if entry == nil || entry.Operation() != jetstream.KeyValuePut || entry.Revision() <= lastSeq {
				continue
			}
			lastSeq = entry.Revision()
			b, err := bundle.Verify(entry.Value(), keys, scope)
			if err != nil {
				t.Errorf("invalid bundle in bucket: %v", err)
				continue
			}
			mu.Lock()
			revs = append(revs, b.Revision)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = w.Stop()
		cancel()
		<-done
	})
	return func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), revs...)
	}
}

func requireIncreasing(t *testing.T, revs []int64) {
	t.Helper()
	for i := 1; i < len(revs); i++ {
		require.Greater(t, revs[i], revs[i-1], "revisions published out of order: %v", revs)
	}
}

func TestPublishesSignedBundles(t *testing.T) {
	noLeaks(t)
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	r := e.newRelay(t, reg)
	start(t, r)

	e.createTenant(t, "acme")
	policyID := e.createPolicy(t, "acme", "no-deletes")
	globalID := e.createPolicy(t, "", "global-deny")

	tb, _ := e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))
	assert.Equal(t, e.scopeRevision(t, model.TenantScope("acme")), tb.Revision)
	require.NotNil(t, tb.Tenant)
	assert.False(t, tb.Deleted)
	assert.Equal(t, "acme", tb.Tenant.Tenant.ID)
	require.Len(t, tb.Tenant.Policies, 1)
	assert.Equal(t, policyID, tb.Tenant.Policies[0].ID)
	assert.Equal(t, "no-deletes", tb.Tenant.Policies[0].Spec.Name)

	gb, _ := e.waitBundle(t, model.GlobalScope, e.scopeRevision(t, model.GlobalScope))
	require.NotNil(t, gb.Global)
	require.Len(t, gb.Global.Policies, 1)
	assert.Equal(t, globalID, gb.Global.Policies[0].ID)

	// Every outbox row is eventually marked; the metrics saw the publishes.
	require.Eventually(t, func() bool { return e.unpublished(t) == 0 }, waitFor, 20*time.Millisecond)
	assert.GreaterOrEqual(t, testutil.ToFloat64(r.metrics.published.WithLabelValues("tenant")), 1.0)
	assert.GreaterOrEqual(t, testutil.ToFloat64(r.metrics.published.WithLabelValues("global")), 1.0)
	assert.Equal(t, 1.0, testutil.ToFloat64(r.metrics.leader))
}

func TestRevisionsIncreaseAndLatestWins(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme")
	revs := e.watchRevisions(t, "tenant.acme")
	start(t, e.newRelay(t, nil))

	for i := range 6 {
		e.createPolicy(t, "acme", fmt.Sprintf("p%d", i))
	}
	want := e.scopeRevision(t, model.TenantScope("acme"))
	b, _ := e.waitBundle(t, model.TenantScope("acme"), want)
	assert.Equal(t, want, b.Revision)
	assert.Len(t, b.Tenant.Policies, 6)
	require.Eventually(t, func() bool {
		r := revs()
		return len(r) > 0 && r[len(r)-1] == want
	}, waitFor, 20*time.Millisecond)
	requireIncreasing(t, revs())
}

// TestNATSOutage: with NATS down writes still commit and pile up in the
// outbox; once NATS is back the outbox drains, the latest revision is
// published, and no older revision ever follows a newer one.
func TestNATSOutage(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	r := e.newRelay(t, reg)
	e.createTenant(t, "acme")
	start(t, r)
	before, _ := e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))

	e.ns.Shutdown()
	for i := range 3 {
		e.createPolicy(t, "acme", fmt.Sprintf("during-outage-%d", i))
	}
	e.createPolicy(t, "", "global-during-outage")
	// The relay keeps failing while NATS is down: rows stay pending and the
	// failures are counted.
	require.Eventually(t, func() bool { return testutil.ToFloat64(r.metrics.errors) > 0 }, waitFor, 20*time.Millisecond)
	assert.GreaterOrEqual(t, e.unpublished(t), int64(4))

	require.NoError(t, e.ns.Restart())
	want := e.scopeRevision(t, model.TenantScope("acme"))
	require.Greater(t, want, before.Revision)
	b, _ := e.waitBundle(t, model.TenantScope("acme"), want)
	assert.Equal(t, want, b.Revision)
	assert.Len(t, b.Tenant.Policies, 3)
	e.waitBundle(t, model.GlobalScope, e.scopeRevision(t, model.GlobalScope))
	require.Eventually(t, func() bool { return e.unpublished(t) == 0 }, waitFor, 20*time.Millisecond)
	// A watch from here replays the key's history (5 entries, more than
	// this test writes): every bundle ever written, in order.
	revs := e.watchRevisions(t, "tenant.acme")
	require.Eventually(t, func() bool {
		got := revs()
		return len(got) > 0 && got[len(got)-1] == want
	}, waitFor, 20*time.Millisecond)
	requireIncreasing(t, revs())
	assert.Equal(t, before.Revision, revs()[0], "history starts with the bundle from before the outage")
}

// TestConcurrentRelays runs two relays and, to exercise the compare-and-set
// rather than the advisory lock, also calls drain from several goroutines at
// once while writes go on. The bucket must never step back.
func TestConcurrentRelays(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme")
	revs := e.watchRevisions(t, "tenant.acme")
	a, b := e.newRelay(t, nil), e.newRelay(t, nil)
	start(t, a)
	start(t, b)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []*Relay{e.newRelay(t, nil), e.newRelay(t, nil), e.newRelay(t, nil)} {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := r.drain(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("drain: %v", err)
					return
				}
			}
		})
	}
	for i := range 15 {
		e.createPolicy(t, "acme", fmt.Sprintf("p%d", i))
	}
	want := e.scopeRevision(t, model.TenantScope("acme"))
	e.waitBundle(t, model.TenantScope("acme"), want)
	cancel()
	wg.Wait()

	require.Eventually(t, func() bool { return e.unpublished(t) == 0 }, waitFor, 20*time.Millisecond)
	got := revs()
	require.NotEmpty(t, got)
	assert.Equal(t, want, got[len(got)-1])
	requireIncreasing(t, got)
}

// TestBackendSecretsSealed: backend HMAC secrets travel sealed under the
// bundle seal key (aad = kid); the raw bundle never contains them in any
// common encoding.
func TestBackendSecretsSealed(t *testing.T) {
	e := newEnv(t)
	start(t, e.newRelay(t, nil))
	var key store.BackendKeyRecord
	e.tx(t, func(tx store.Tx) error {
		var err error
		key, err = tx.CreateBackendKey(context.Background())
		return err
	})
	require.NotEmpty(t, key.Secret)

	b, raw := e.waitBundle(t, model.GlobalScope, e.scopeRevision(t, model.GlobalScope))
	for _, enc := range []string{
		string(key.Secret),
		hex.EncodeToString(key.Secret),
		base64.StdEncoding.EncodeToString(key.Secret),
		base64.RawStdEncoding.EncodeToString(key.Secret),
		base64.URLEncoding.EncodeToString(key.Secret),
		base64.RawURLEncoding.EncodeToString(key.Secret),
	} {
		assert.NotContains(t, string(raw), enc)
		// The payload is base64url inside the JWS: look there too.
		assert.NotContains(t, decodedPayload(t, raw), enc)
	}
	require.Len(t, b.Global.BackendKeys, 1)
	sk := b.Global.BackendKeys[0]
	assert.Equal(t, key.KID, sk.KID)
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	secret, err := sealer.Open(sk.Sealed, []byte(sk.KID))
	require.NoError(t, err)
	assert.Equal(t, key.Secret, secret)
	_, err = sealer.Open(sk.Sealed, []byte("another-kid"))
	assert.Error(t, err, "a sealed secret must not open under another kid")
	masterSealer, err := seal.New(masterKey)
	require.NoError(t, err)
	_, err = masterSealer.Open(sk.Sealed, []byte(sk.KID))
	assert.Error(t, err, "bundle secrets are sealed with the bundle key, not the master key")
}

func decodedPayload(t *testing.T, raw []byte) string {
	t.Helper()
	parts := bytes.Split(raw, []byte{'.'})
	require.Len(t, parts, 3)
	p, err := base64.RawURLEncoding.DecodeString(string(parts[1]))
	require.NoError(t, err)
	return string(p)
}

func TestDeletedTenantTombstone(t *testing.T) {
	e := newEnv(t)
	start(t, e.newRelay(t, nil))
	e.createTenant(t, "gone")
	e.createPolicy(t, "gone", "p")
	e.waitBundle(t, model.TenantScope("gone"), e.scopeRevision(t, model.TenantScope("gone")))

	e.tx(t, func(tx store.Tx) error { return tx.DeleteTenant(context.Background(), "gone", 0) })
	want := e.scopeRevision(t, model.TenantScope("gone"))
	b, _ := e.waitBundle(t, model.TenantScope("gone"), want)
	assert.True(t, b.Deleted)
	assert.Nil(t, b.Tenant)
}

// TestForgedEntryOverwritten: an entry the control plane did not sign (say,
// written by someone with bucket access, claiming a huge revision) must not
// stop publishing: the relay overwrites it with a real bundle.
func TestForgedEntryOverwritten(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "acme")
	kv := e.bucket(t)
	forged := forgeBundle(t, model.TenantScope("acme"), 1<<62)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := kv.Put(ctx, "tenant.acme", forged)
	require.NoError(t, err)

	start(t, e.newRelay(t, nil))
	want := e.scopeRevision(t, model.TenantScope("acme"))
	b, _ := e.waitBundleOver(t, model.TenantScope("acme"), want, true)
	assert.Equal(t, want, b.Revision)
	assert.False(t, b.Deleted)
}

// forgeBundle signs a bundle with a key the control plane does not know.
func forgeBundle(t *testing.T, scope model.Scope, revision int64) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	raw, err := bundle.Sign(&bundle.Bundle{Scope: scope, Revision: revision, Deleted: true}, priv, "attacker")
	require.NoError(t, err)
	return raw
}

// TestBuildIsDeterministic: the same snapshot gives the same content hash
// regardless of the order the store returned rows in.
func TestBuildIsDeterministic(t *testing.T) {
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	recs := []store.Record{
		{ID: "b", Spec: json.RawMessage(`{"name":"b","tools":["*"],"effect":"deny","enabled":true}`)},
		{ID: "a", Spec: json.RawMessage(`{"name":"a","tools":["x"],"effect":"allow","enabled":true}`)},
	}
	snap := func(r []store.Record) store.Snapshot {
		return store.Snapshot{
			Scope: model.TenantScope("acme"), Revision: 7,
			Tenant:    &store.TenantRecord{Tenant: model.Tenant{ID: "acme", Name: "Acme"}},
			Resources: map[store.Kind][]store.Record{store.KindPolicy: r},
		}
	}
	b1, err := build(snap(recs), sealer)
	require.NoError(t, err)
	b2, err := build(snap([]store.Record{recs[1], recs[0]}), sealer)
	require.NoError(t, err)
	h1, err := bundle.ComputeContentHash(b1)
	require.NoError(t, err)
	h2, err := bundle.ComputeContentHash(b2)
	require.NoError(t, err)
	assert.Equal(t, h1, h2)
	assert.Equal(t, "a", b1.Tenant.Policies[0].ID)

	_, err = build(store.Snapshot{
		Scope: model.GlobalScope, Revision: 1,
		Resources: map[store.Kind][]store.Record{store.KindTool: {{ID: "t", Spec: json.RawMessage(`"not an object"`)}}},
	}, sealer)
	assert.Error(t, err, "a spec that does not decode must fail the build, not vanish from the bundle")
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{})
	assert.Error(t, err)
	_, err = New(Config{DSN: "postgres://x", Store: (*store.Store)(nil), JS: nil, SealKey: sealKey})
	assert.Error(t, err, "JS is required")
}

// TestBrokenScopeDoesNotBlockOthers: a scope whose bundle cannot be built
// (a stored spec that no longer decodes) is retried on its own; other
// scopes keep being published, and the failure is recorded on its outbox
// rows for operators.
func TestBrokenScopeDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t)
	e.createTenant(t, "broken")
	e.createTenant(t, "healthy")
	e.tx(t, func(tx store.Tx) error {
		_, err := tx.CreateResource(context.Background(), store.KindPolicy, "broken", "bad",
			json.RawMessage(`{"name":"bad","tools":"not-a-list"}`))
		return err
	})
	start(t, e.newRelay(t, nil))

	e.waitBundle(t, model.TenantScope("healthy"), e.scopeRevision(t, model.TenantScope("healthy")))
	e.createPolicy(t, "healthy", "later")
	b, _ := e.waitBundle(t, model.TenantScope("healthy"), e.scopeRevision(t, model.TenantScope("healthy")))
	assert.Len(t, b.Tenant.Policies, 1)

	require.Eventually(t, func() bool {
		return e.queryInt(t, `SELECT count(*) FROM outbox WHERE scope = 'tenant/broken' AND published_at IS NULL AND attempts > 0 AND last_error LIKE '%does not decode%'`) > 0
	}, waitFor, 20*time.Millisecond)
	assert.Equal(t, int64(0), e.queryInt(t, `SELECT count(*) FROM outbox WHERE scope = 'tenant/healthy' AND published_at IS NULL`))
}

// TestSurvivesConnectionLoss: when Postgres kills the relay's dedicated
// connection (a failover, an idle-session killer), the advisory lock goes
// with it; the relay reconnects, takes the lock again and keeps publishing.
func TestSurvivesConnectionLoss(t *testing.T) {
	e := newEnv(t)
	r := e.newRelay(t, prometheus.NewRegistry())
	start(t, r)
	e.createTenant(t, "acme")
	e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	su, err := pgx.Connect(ctx, pgtest.Cluster(t).SuperuserDSN("postgres"))
	require.NoError(t, err)
	defer su.Close(ctx)
	var killed int
	require.NoError(t, su.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		  AND ((classid::bigint << 32) | objid::bigint) = $1`, lockKey).Scan(&killed))
	require.Equal(t, 1, killed, "the relay holds the publisher lock on one connection")

	e.createPolicy(t, "acme", "after-reconnect")
	b, _ := e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))
	assert.Len(t, b.Tenant.Policies, 1)
	assert.Equal(t, 1.0, testutil.ToFloat64(r.metrics.leader))
}
