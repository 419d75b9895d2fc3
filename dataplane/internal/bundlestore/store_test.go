package bundlestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/model"
)

var (
	scopeA = model.TenantScope("tenant-a")
	scopeB = model.TenantScope("tenant-b")
)

// TestInitialLoadThenReady: bundles already in the bucket are all held, and
// published together, when the store reports Ready.
func TestInitialLoadThenReady(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(3)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 5)))
	e.put(t, "tenant.tenant-b", sg.sign(t, newTenant("tenant-b", 1)))

	cfg, reg := testConfig(e.gatewayConn(t), keySet(t, sg))
	s, err := New(cfg)
	require.NoError(t, err)
	assert.False(t, s.Ready(), "ready before Run")
	assert.Nil(t, s.Current().Global())
	var published []*Snapshot // OnChange runs on the writer goroutine, in order
	var mu sync.Mutex
	s.OnChange(func(snap *Snapshot) { mu.Lock(); published = append(published, snap); mu.Unlock() })

	run(t, s)
	waitReady(t, s)
	mu.Lock()
	require.NotEmpty(t, published)
	assert.Len(t, published[0].Revisions(), 3, "the first published snapshot is complete, never partial")
	mu.Unlock()
	snap := s.Current()
	assert.False(t, s.Stale())
	require.NotNil(t, snap.Global())
	assert.Equal(t, int64(3), snap.Global().Revision)
	assert.Equal(t, "tenant-a-r5", snap.Tenant("tenant-a").Tenant.Tenant.Name)
	assert.Equal(t, []string{"tenant-a", "tenant-b"}, snap.TenantIDs())
	assert.Equal(t, map[string]int64{"global": 3, "tenant/tenant-a": 5, "tenant/tenant-b": 1}, snap.Revisions())
	assert.Equal(t, 3.0, testutil.ToFloat64(s.m.applied.WithLabelValues(sourceNATS)))
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.ready))
	assert.Equal(t, 5.0, gaugeValue(t, reg, "portcullis_gateway_bundle_revision", "tenant/tenant-a"))
}

// gaugeValue reads one labelled sample from the registry, as a scrape would.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name, scope string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "scope" && l.GetValue() == scope {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no sample %s{scope=%q}", name, scope)
	return 0
}

// TestEmptyBucketIsReady: a fresh installation (bucket, no bundles) is a
// complete, empty configuration.
func TestEmptyBucketIsReady(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)
	assert.Nil(t, s.Current().Global())
	assert.Empty(t, s.Current().Revisions())
}

// TestUpdatesAndRejections: updates apply; every refused value leaves the
// scope's last good bundle in place and is counted by reason. After each bad
// value a good one for another scope is written as a fence: the watch
// delivers in order, so once the fence is applied the bad value was handled.
func TestUpdatesAndRejections(t *testing.T) {
	e := newEnv(t)
	sg, other := newSigner(t), newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(2)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 2)))
	e.put(t, "tenant.tenant-b", sg.sign(t, newTenant("tenant-b", 2)))
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)

	// An update is applied.
	e.put(t, "global", sg.sign(t, newGlobal(3)))
	waitRevision(t, s, model.GlobalScope, 3)

	sameRevOtherContent := newTenant("tenant-a", 2)
	sameRevOtherContent.Tenant.Tenant.Name = "changed"
	tenantAUnderB := sg.sign(t, newTenant("tenant-a", 9))
	fence := int64(100)
	cases := []struct {
		name   string
		key    string
		value  []byte
		scope  model.Scope
		reason string
	}{
		{"older revision", "global", sg.sign(t, newGlobal(1)), model.GlobalScope, reasonStale},
		{"same revision, other content", "tenant.tenant-a", sg.sign(t, sameRevOtherContent), scopeA, reasonStale},
		{"signed with an unknown key", "global", other.sign(t, newGlobal(50)), model.GlobalScope, reasonInvalid},
		{"tenant A bundle under tenant B's key", "tenant.tenant-b", tenantAUnderB, scopeB, reasonInvalid},
		{"global bundle under a tenant key", "tenant.tenant-a", sg.sign(t, newGlobal(60)), scopeA, reasonInvalid},
		{"not a JWS", "tenant.tenant-a", []byte("hello"), scopeA, reasonInvalid},
		{"empty value", "global", []byte{}, model.GlobalScope, reasonInvalid},
		{"key naming no scope", "nonsense", sg.sign(t, newGlobal(70)), "", reasonBadKey},
		{"tampered payload", "global", tamper(t, sg.sign(t, newGlobal(80))), model.GlobalScope, reasonInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.Current()
			rejected := testutil.ToFloat64(s.m.rejected.WithLabelValues(tc.reason))
			e.put(t, tc.key, tc.value)
			fence++
			e.put(t, "tenant.fence", sg.sign(t, newTenant("fence", fence)))
			after := waitRevision(t, s, model.TenantScope("fence"), fence)

			assert.Equal(t, rejected+1, testutil.ToFloat64(s.m.rejected.WithLabelValues(tc.reason)), "rejection counted")
			if tc.scope != "" {
				assert.Equal(t, before.Revision(tc.scope), after.Revision(tc.scope), "last good revision kept")
				assert.Same(t, before.bundleFor(tc.scope), after.bundleFor(tc.scope), "last good bundle kept")
			}
		})
	}
	assert.Equal(t, int64(3), s.Current().Revision(model.GlobalScope))
	assert.Equal(t, "tenant-a-r2", s.Current().Tenant("tenant-a").Tenant.Tenant.Name)
	assert.Equal(t, 3.0, testutil.ToFloat64(s.m.revision.WithLabelValues("global")))

	// A redelivery of the held bundle is neither applied nor rejected.
	t.Run("duplicate", func(t *testing.T) {
		dups := testutil.ToFloat64(s.m.duplicates)
		before := s.Current()
		e.put(t, "global", before.held[model.GlobalScope].raw)
		fence++
		e.put(t, "tenant.fence", sg.sign(t, newTenant("fence", fence)))
		after := waitRevision(t, s, model.TenantScope("fence"), fence)
		assert.Equal(t, dups+1, testutil.ToFloat64(s.m.duplicates))
		assert.Same(t, before.Global(), after.Global())
	})
}

// tamper changes one character of the payload, keeping the signature.
func tamper(t *testing.T, raw []byte) []byte {
	t.Helper()
	out := append([]byte(nil), raw...)
	dot := indexByte(out, '.')
	require.Positive(t, dot)
	i := dot + 10
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// TestTombstoneRemovesTenant: a signed tombstone removes the tenant; its
// older bundles cannot bring it back.
func TestTombstoneRemovesTenant(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	old := sg.sign(t, newTenant("tenant-a", 4))
	e.put(t, "global", sg.sign(t, newGlobal(1)))
	e.put(t, "tenant.tenant-a", old)
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)
	require.NotNil(t, s.Current().Tenant("tenant-a"))

	e.put(t, "tenant.tenant-a", sg.sign(t, tombstone("tenant-a", 5)))
	snap := waitRevision(t, s, scopeA, 5)
	assert.Nil(t, snap.Tenant("tenant-a"))
	assert.Empty(t, snap.TenantIDs())
	assert.Equal(t, int64(5), snap.Revisions()["tenant/tenant-a"], "the tombstone's revision is reported")

	// Replaying the tenant's last bundle is refused as stale.
	e.put(t, "tenant.tenant-a", old)
	e.put(t, "tenant.fence", sg.sign(t, newTenant("fence", 1)))
	snap = waitRevision(t, s, model.TenantScope("fence"), 1)
	assert.Nil(t, snap.Tenant("tenant-a"))
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.rejected.WithLabelValues(reasonStale)))

	// A newer bundle re-creates it (a tenant re-added with the same id).
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 6)))
	snap = waitRevision(t, s, scopeA, 6)
	assert.NotNil(t, snap.Tenant("tenant-a"))
}

// TestKVDeleteIgnored: deleting or purging a key does not remove anything.
func TestKVDeleteIgnored(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(1)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 1)))
	e.put(t, "tenant.tenant-b", sg.sign(t, newTenant("tenant-b", 1)))
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)

	ctx := context.Background()
	require.NoError(t, e.kv.Delete(ctx, "tenant.tenant-a"))
	require.NoError(t, e.kv.Purge(ctx, "tenant.tenant-b"))
	require.NoError(t, e.kv.Delete(ctx, "global"))
	e.put(t, "tenant.fence", sg.sign(t, newTenant("fence", 1)))
	snap := waitRevision(t, s, model.TenantScope("fence"), 1)

	assert.NotNil(t, snap.Global())
	assert.NotNil(t, snap.Tenant("tenant-a"))
	assert.NotNil(t, snap.Tenant("tenant-b"))
	assert.Equal(t, 3.0, testutil.ToFloat64(s.m.deletesIgnored))

	// A resync (after a NATS restart) reads the delete markers again: still
	// ignored, and not reported twice.
	syncs := testutil.ToFloat64(s.m.syncs)
	require.NoError(t, e.ns.Restart())
	eventually(t, "a resync", func() bool { return testutil.ToFloat64(s.m.syncs) > syncs })
	snap = s.Current()
	assert.NotNil(t, snap.Global())
	assert.NotNil(t, snap.Tenant("tenant-a"))
	assert.NotNil(t, snap.Tenant("tenant-b"))
	assert.Equal(t, 3.0, testutil.ToFloat64(s.m.deletesIgnored))
}

// TestNATSOutage: with NATS gone the store keeps serving what it had; when
// NATS is back it catches up with what changed.
func TestNATSOutage(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(1)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 1)))
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	s := start(t, cfg)
	waitReady(t, s)
	before := s.Current()

	e.ns.Shutdown()
	eventually(t, "the store to notice the outage", func() bool { return !s.live.Load() })
	assert.Same(t, before, s.Current(), "the configuration survives the outage")
	assert.True(t, s.Ready(), "still ready")
	assert.Positive(t, s.syncAge(), "sync age grows while disconnected")

	require.NoError(t, e.ns.Restart())
	kv := e.bucket(t)
	ctx := context.Background()
	_, err := kv.Put(ctx, "global", sg.sign(t, newGlobal(2)))
	require.NoError(t, err)
	_, err = kv.Put(ctx, "tenant.tenant-a", sg.sign(t, tombstone("tenant-a", 2)))
	require.NoError(t, err)
	_, err = kv.Put(ctx, "tenant.tenant-b", sg.sign(t, newTenant("tenant-b", 1)))
	require.NoError(t, err)

	snap := waitFor(t, s, "catch-up", func(s *Snapshot) bool {
		return s.Revision(model.GlobalScope) == 2 && s.Revision(scopeA) == 2 && s.Revision(scopeB) == 1
	})
	assert.Nil(t, snap.Tenant("tenant-a"))
	assert.NotNil(t, snap.Tenant("tenant-b"))
	eventually(t, "the watch to be live again", func() bool { return s.live.Load() })
	assert.Zero(t, s.syncAge())
	assert.GreaterOrEqual(t, testutil.ToFloat64(s.m.syncs), 2.0, "a full resync after the reconnect")

	// Changes after the reconnect keep flowing.
	_, err = kv.Put(ctx, "global", sg.sign(t, newGlobal(3)))
	require.NoError(t, err)
	waitRevision(t, s, model.GlobalScope, 3)
}

// TestBootFromSnapshotFile: a gateway that applied bundles writes them to its
// snapshot file; restarted while NATS is down it serves them, flagged stale,
// and catches up when NATS returns.
func TestBootFromSnapshotFile(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	path := filepath.Join(t.TempDir(), "bundles.json")
	e.put(t, "global", sg.sign(t, newGlobal(1)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 1)))
	e.put(t, "tenant.tenant-b", sg.sign(t, newTenant("tenant-b", 1)))

	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	cfg.SnapshotPath = path
	first, stopFirst := stoppable(t, cfg)
	waitReady(t, first)
	e.put(t, "global", sg.sign(t, newGlobal(2)))
	e.put(t, "tenant.tenant-b", sg.sign(t, tombstone("tenant-b", 2)))
	want := waitFor(t, first, "updates", func(s *Snapshot) bool {
		return s.Revision(model.GlobalScope) == 2 && s.Revision(scopeB) == 2
	}).Revisions()
	stopFirst()

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	e.ns.Shutdown()
	cfg, _ = testConfig(e.gatewayConn(t), cfg.Keys)
	cfg.SnapshotPath = path
	second := start(t, cfg)
	waitReady(t, second)
	assert.True(t, second.Stale(), "served from the file")
	assert.Equal(t, want, second.Current().Revisions())
	assert.Nil(t, second.Current().Tenant("tenant-b"), "the tombstone survives the file")
	assert.NotNil(t, second.Current().Tenant("tenant-a"))
	assert.Equal(t, 1.0, testutil.ToFloat64(second.m.snapshotFile.WithLabelValues("load", "ok")))
	assert.Equal(t, 1.0, testutil.ToFloat64(second.m.stale))

	require.NoError(t, e.ns.Restart())
	_, err = e.bucket(t).Put(context.Background(), "global", sg.sign(t, newGlobal(3)))
	require.NoError(t, err)
	waitRevision(t, second, model.GlobalScope, 3)
	eventually(t, "stale to clear", func() bool { return !second.Stale() })
	assert.True(t, second.Ready())
}

// TestTamperedSnapshotFileRefused: a snapshot file with a bundle that no
// longer verifies is refused as a whole; the gateway stays not ready and
// waits for NATS.
func TestTamperedSnapshotFileRefused(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	path := filepath.Join(t.TempDir(), "bundles.json")
	snap, err := NewSnapshot()
	require.NoError(t, err)
	snap = snap.with(newGlobal(1), sg.sign(t, newGlobal(1)))
	snap = snap.with(newTenant("tenant-a", 1), tamper(t, sg.sign(t, newTenant("tenant-a", 1))))
	require.NoError(t, writeSnapshotFile(path, snap, snap.Global().BuiltAt))

	e.ns.Shutdown()
	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	cfg.SnapshotPath = path
	s := start(t, cfg)
	eventually(t, "the file to be refused", func() bool {
		return testutil.ToFloat64(s.m.snapshotFile.WithLabelValues("load", "rejected")) == 1
	})
	assert.False(t, s.Ready())
	assert.Nil(t, s.Current().Global(), "nothing from a refused file is served")

	// NATS coming back makes it ready the normal way.
	require.NoError(t, e.ns.Restart())
	_, err = e.bucket(t).Put(context.Background(), "global", sg.sign(t, newGlobal(4)))
	require.NoError(t, err)
	waitReady(t, s)
	waitRevision(t, s, model.GlobalScope, 4)
	assert.False(t, s.Stale())
}

func TestNewRejectsBadConfig(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	nc := e.gatewayConn(t)
	good := func() Config { c, _ := testConfig(nc, keySet(t, sg)); return c }
	cases := map[string]func(*Config){
		"no connection":    func(c *Config) { c.NC = nil },
		"no keys":          func(c *Config) { c.Keys = nil },
		"no gateway id":    func(c *Config) { c.GatewayID = "" },
		"bad gateway id":   func(c *Config) { c.GatewayID = "gw 1" },
		"version too long": func(c *Config) { c.Version = strings.Repeat("v", 65) },
		"control in host":  func(c *Config) { c.Hostname = "host\n" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			c := good()
			mutate(&c)
			_, err := New(c)
			assert.Error(t, err)
		})
	}
	t.Run("metrics registered twice", func(t *testing.T) {
		c := good()
		_, err := New(c)
		require.NoError(t, err)
		_, err = New(c)
		assert.Error(t, err)
	})
	t.Run("Run twice", func(t *testing.T) {
		s := start(t, good())
		waitReady(t, s) // readiness comes from Run's goroutines: Run has started
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // should the guard fail, the second Run still returns
		assert.Error(t, s.Run(ctx))
	})
}
