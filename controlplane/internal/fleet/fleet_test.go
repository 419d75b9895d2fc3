package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func heartbeat(t *testing.T, mutate func(map[string]any)) []byte {
	t.Helper()
	hb := map[string]any{
		"id": "gw-1", "hostname": "gw-1.internal", "version": "0.1.0",
		"started_at": now.Add(-time.Hour), "last_seen": now.Add(24 * time.Hour),
		"revisions": map[string]int64{"global": 4, "tenant/acme": 2},
	}
	if mutate != nil {
		mutate(hb)
	}
	b, err := json.Marshal(hb)
	require.NoError(t, err)
	return b
}

func TestParse(t *testing.T) {
	g, err := Parse(heartbeat(t, nil), now)
	require.NoError(t, err)
	assert.Equal(t, "gw-1", g.ID)
	assert.Equal(t, now, g.LastSeen, "last_seen is our clock, not the sender's")
	assert.Equal(t, map[string]int64{"global": 4, "tenant/acme": 2}, g.Revisions)

	manyRevs := map[string]int64{}
	for i := range maxRevisions + 1 {
		manyRevs[fmt.Sprintf("tenant/t%d", i)] = 1
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		raw    []byte
	}{
		{name: "not JSON", raw: []byte("{")},
		{name: "oversize", raw: make([]byte, maxMsgSize+1)},
		{name: "trailing data", raw: append(heartbeat(t, nil), []byte(" {}")...)},
		{name: "trailing bracket", raw: append(heartbeat(t, nil), []byte("]")...)},
		{name: "unknown field", mutate: func(m map[string]any) { m["admin"] = true }},
		{name: "no id", mutate: func(m map[string]any) { delete(m, "id") }},
		{name: "id with slash", mutate: func(m map[string]any) { m["id"] = "gw/1" }},
		{name: "id too long", mutate: func(m map[string]any) { m["id"] = strings.Repeat("g", 129) }},
		{name: "hostname too long", mutate: func(m map[string]any) { m["hostname"] = strings.Repeat("h", 254) }},
		{name: "control characters", mutate: func(m map[string]any) { m["version"] = "1.0\x1b[31m" }},
		{name: "started in the future", mutate: func(m map[string]any) { m["started_at"] = now.Add(time.Hour) }},
		{name: "no start time", mutate: func(m map[string]any) { delete(m, "started_at") }},
		{name: "bad scope", mutate: func(m map[string]any) { m["revisions"] = map[string]int64{"tenant/../x": 1} }},
		{name: "negative revision", mutate: func(m map[string]any) { m["revisions"] = map[string]int64{"global": -1} }},
		{name: "too many revisions", mutate: func(m map[string]any) { m["revisions"] = manyRevs }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if raw == nil {
				raw = heartbeat(t, tc.mutate)
			}
			_, err := Parse(raw, now)
			assert.Error(t, err)
		})
	}
}

// TestRecordsHeartbeats sends heartbeats through a real NATS server and reads
// them back through the store.
func TestRecordsHeartbeats(t *testing.T) {
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

	r, err := New(Config{NC: nc, Store: st, Now: func() time.Time { return now }})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })

	list := func() []store.Gateway {
		var gws []store.Gateway
		require.NoError(t, st.Tx(ctx, store.Actor{Subject: "test", Platform: true}, func(tx store.Tx) error {
			var err error
			gws, err = tx.ListGateways(ctx)
			return err
		}))
		return gws
	}
	// Publish until the subscription is live (core NATS drops messages sent
	// before it), then a malformed one that must change nothing.
	require.Eventually(t, func() bool {
		require.NoError(t, nc.Publish(Subject, heartbeat(t, nil)))
		return len(list()) == 1
	}, 60*time.Second, 50*time.Millisecond)
	require.NoError(t, nc.Publish(Subject, heartbeat(t, func(m map[string]any) { m["id"] = "evil/../gw" })))
	require.NoError(t, nc.Publish(Subject, heartbeat(t, func(m map[string]any) { m["revisions"] = map[string]int64{"global": 5} })))
	require.Eventually(t, func() bool {
		gws := list()
		return len(gws) == 1 && gws[0].Revisions["global"] == 5
	}, 60*time.Second, 20*time.Millisecond)
	gws := list()
	assert.Equal(t, "gw-1", gws[0].ID)
	assert.True(t, gws[0].LastSeen.Equal(now))
}
