package bundlestore

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natsserver"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/model"
)

// waitLimit bounds every wait in these tests. It is a hang guard, not a
// performance assertion: the store applies a bundle in milliseconds.
const waitLimit = 30 * time.Second

// signer is a bundle-signing key, as the control plane holds one.
type signer struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newSigner(t testing.TB) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return signer{kid: bundle.KeyID(pub), priv: priv, pub: pub}
}

// keySet goes through the JWKS a gateway is configured with, not a map
// literal, so the test covers the path production takes.
func keySet(t testing.TB, signers ...signer) bundle.KeySet {
	t.Helper()
	var pubs []bundle.PublicKey
	for _, s := range signers {
		pubs = append(pubs, bundle.PublicKey{KID: s.kid, Key: s.pub})
	}
	doc, err := bundle.PublicJWKS(pubs...)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	ks, err := LoadKeySet(path)
	require.NoError(t, err)
	return ks
}

func (s signer) sign(t testing.TB, b *bundle.Bundle) []byte {
	t.Helper()
	raw, err := bundle.Sign(b, s.priv, s.kid)
	require.NoError(t, err)
	return raw
}

func newGlobal(rev int64, keys ...bundle.SealedKey) *bundle.Bundle {
	return &bundle.Bundle{
		Scope: model.GlobalScope, Revision: rev, BuiltAt: time.Unix(1_780_000_000+rev, 0).UTC(),
		Global: &bundle.Global{BackendKeys: keys},
	}
}

// tenantBundle's name records the revision, so tests can tell versions apart.
func newTenant(id string, rev int64) *bundle.Bundle {
	return &bundle.Bundle{
		Scope: model.TenantScope(id), Revision: rev, BuiltAt: time.Unix(1_780_000_000+rev, 0).UTC(),
		Tenant: &bundle.Tenant{Tenant: model.Tenant{ID: id, Name: id + "-r" + strconv.FormatInt(rev, 10), DelegationEnabled: true}},
	}
}

func tombstone(id string, rev int64) *bundle.Bundle {
	return &bundle.Bundle{Scope: model.TenantScope(id), Revision: rev, Deleted: true, BuiltAt: time.Unix(1_780_000_000+rev, 0).UTC()}
}

// env is one test's JetStream server, a writer connection standing in for
// the control plane's relay, and the bundle bucket.
type env struct {
	ns *natsserver.Server
	kv jetstream.KeyValue
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.New(t)
	e := &env{ns: ns}
	e.kv = e.bucket(t)
	return e
}

// bucket connects a fresh writer (after a restart the old one may still be
// reconnecting) and opens the bucket, creating it as the relay does.
func (e *env) bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(e.ns.URL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, History: 5, Storage: jetstream.FileStorage,
	})
	require.NoError(t, err)
	return kv
}

func (e *env) put(t *testing.T, key string, raw []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	_, err := e.kv.Put(ctx, key, raw)
	require.NoError(t, err)
}

// gatewayConn is the gateway's own connection, made the way production
// makes it.
func (e *env) gatewayConn(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := Connect(e.ns.URL(), "test-gateway", quietLogger(), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// testConfig is a store configuration with fresh metrics.
func testConfig(nc *nats.Conn, keys bundle.KeySet) (Config, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return Config{
		NC: nc, Keys: keys, GatewayID: "gw-test-1", Hostname: "test-host", Version: "test",
		BootTimeout: 200 * time.Millisecond, HeartbeatInterval: time.Hour,
		Logger: quietLogger(), Metrics: reg,
	}, reg
}

// start creates a store and runs it until the test ends.
func start(t *testing.T, cfg Config) *NATS {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	run(t, s)
	return s
}

// run runs s until the test ends, and checks that Run returns.
func run(t *testing.T, s *NATS) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(waitLimit):
			t.Error("Run did not return after cancel")
		}
	})
}

// stoppable is start with an explicit stop, for tests that restart a store.
func stoppable(t *testing.T, cfg Config) (*NATS, func()) {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(waitLimit):
			t.Fatal("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func waitReady(t *testing.T, s *NATS) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, s.WaitReady(ctx))
}

// waitFor blocks until cond holds for the current snapshot, woken by
// OnChange (and by a slow poll, for conditions on state other than the
// snapshot).
func waitFor(t *testing.T, src Source, what string, cond func(*Snapshot) bool) *Snapshot {
	t.Helper()
	changed := make(chan struct{}, 1)
	remove := src.OnChange(func(*Snapshot) {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	defer remove()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		if snap := src.Current(); cond(snap) {
			return snap
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func waitRevision(t *testing.T, src Source, scope model.Scope, rev int64) *Snapshot {
	t.Helper()
	return waitFor(t, src, string(scope)+" revision", func(s *Snapshot) bool { return s.Revision(scope) == rev })
}

// eventually polls cond (state outside the snapshot: metrics, flags).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
