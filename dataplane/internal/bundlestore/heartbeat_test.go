package bundlestore

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// fleetGateway mirrors controlplane/internal/store.Gateway, the type the
// control plane decodes heartbeats into (with unknown fields refused). The
// planes never import each other, so the shape is pinned here; a change on
// either side breaks this test.
type fleetGateway struct {
	ID        string           `json:"id"`
	Hostname  string           `json:"hostname"`
	Version   string           `json:"version"`
	StartedAt time.Time        `json:"started_at"`
	LastSeen  time.Time        `json:"last_seen"`
	Revisions map[string]int64 `json:"revisions"`
}

// fleetGatewayID is controlplane/internal/fleet's gateway id pattern.
var fleetGatewayID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// TestHeartbeat: heartbeats carry the gateway's identity and applied
// revisions, decode the way the control plane decodes them, and follow a
// change without waiting for the interval.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t)
	sg := newSigner(t)
	e.put(t, "global", sg.sign(t, newGlobal(4)))
	e.put(t, "tenant.tenant-a", sg.sign(t, newTenant("tenant-a", 2)))

	listener, err := nats.Connect(e.ns.URL())
	require.NoError(t, err)
	t.Cleanup(listener.Close)
	msgs := make(chan *nats.Msg, 64)
	sub, err := listener.ChanSubscribe(HeartbeatSubject, msgs)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, listener.Flush())

	cfg, _ := testConfig(e.gatewayConn(t), keySet(t, sg))
	cfg.GatewayID, cfg.Hostname, cfg.Version = "gw-eu-1.a", "node-7.example", "1.2.3"
	cfg.StartedAt = time.Date(2026, 12, 4, 15, 0, 0, 0, time.FixedZone("CET", 3600))
	cfg.HeartbeatInterval = time.Hour // only the first and change-driven beats
	s := start(t, cfg)
	waitReady(t, s)

	want := map[string]int64{"global": 4, "tenant/tenant-a": 2}
	g := nextHeartbeat(t, msgs, want)
	assert.Equal(t, "gw-eu-1.a", g.ID)
	assert.Regexp(t, fleetGatewayID, g.ID)
	assert.Equal(t, "node-7.example", g.Hostname)
	assert.Equal(t, "1.2.3", g.Version)
	assert.True(t, g.StartedAt.Equal(cfg.StartedAt))
	assert.True(t, g.LastSeen.IsZero(), "last_seen is the control plane's to set")
	for scope := range g.Revisions {
		assert.NoError(t, bundle.ValidateScope(model.Scope(scope)))
	}

	// A change is reported without waiting an hour, tombstones included.
	e.put(t, "tenant.tenant-a", sg.sign(t, tombstone("tenant-a", 3)))
	nextHeartbeat(t, msgs, map[string]int64{"global": 4, "tenant/tenant-a": 3})
}

// nextHeartbeat returns the first heartbeat reporting want, decoding each
// one strictly.
func nextHeartbeat(t *testing.T, msgs <-chan *nats.Msg, want map[string]int64) fleetGateway {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		select {
		case m := <-msgs:
			var g fleetGateway
			dec := json.NewDecoder(bytes.NewReader(m.Data))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&g), "heartbeat %s", m.Data)
			require.NotNil(t, g.Revisions, "revisions is always an object")
			if assert.ObjectsAreEqual(want, g.Revisions) {
				return g
			}
		case <-deadline.C:
			t.Fatalf("no heartbeat reporting %v", want)
		}
	}
}
