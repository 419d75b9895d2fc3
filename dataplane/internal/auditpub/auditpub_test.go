package auditpub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/localenv/natsserver"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit is a hang guard, not a performance assertion.
const waitLimit = 30 * time.Second

// streamName and the config below replicate the control plane's
// auditingest.EnsureStream (internal to another module): the subjects, the
// size limit and the duplicate window are what this package relies on.
const streamName = "PORTCULLIS_AUDIT"

func ensureStream(t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: streamName, Subjects: []string{audit.SubjectPrefix + ">"},
		Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
		MaxAge: 7 * 24 * time.Hour, MaxMsgSize: 256 << 10, Replicas: 1, Duplicates: 2 * time.Minute,
	})
	require.NoError(t, err)
	return s
}

func connect(t *testing.T, ns *natsserver.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(ns.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func newPublisher(t *testing.T, cfg Config) (*Publisher, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p, reg
}

func event(t *testing.T, tenant string, i int) audit.Event {
	t.Helper()
	id, err := audit.NewID()
	require.NoError(t, err)
	return audit.Event{
		ID: id, Time: time.Now().UTC().Truncate(time.Millisecond), GatewayID: "gw-1", Tenant: tenant,
		UserID: fmt.Sprintf("user-%d", i), Method: "tools/call", Tool: "orders.list",
		Decision: audit.DecisionAllow, Access: audit.AccessGranted, BackendStatus: 200, DurationMS: int64(i),
		DecidedBy: &audit.DecidedBy{Kind: "access_rule", Name: "readers", Scope: "global"},
	}
}

// stored reads every message of the stream, checking what the ingest
// checks: strict JSON, tenant in the body equals the subject's, and the
// Nats-Msg-Id header equals the event id.
func stored(t *testing.T, js jetstream.JetStream) map[string]audit.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	s, err := js.Stream(ctx, streamName)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	out := map[string]audit.Event{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		var ev audit.Event
		dec := json.NewDecoder(bytes.NewReader(m.Data))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&ev))
		require.NoError(t, ev.Validate())
		require.Equal(t, audit.Subject(ev.Tenant), m.Subject)
		require.Equal(t, ev.ID, m.Header.Get(jetstream.MsgIDHeader))
		_, dup := out[ev.ID]
		require.False(t, dup, "event %s stored twice", ev.ID)
		out[ev.ID] = ev
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublish(t *testing.T) {
	ns := natstest.New(t)
	js := connect(t, ns)
	ensureStream(t, js)
	p, reg := newPublisher(t, Config{JS: js})
	want := map[string]audit.Event{}
	for i := range 50 {
		tenant := []string{"acme", "globex", ""}[i%3]
		ev := event(t, tenant, i)
		want[ev.ID] = ev
		p.Record(ev)
	}
	// A redelivered event (same id) is stored once.
	for _, ev := range want {
		p.Record(ev)
		break
	}
	require.NoError(t, p.Close(context.Background()))
	got := stored(t, js)
	require.Len(t, got, len(want))
	for id, ev := range want {
		require.Equal(t, ev.Time.UnixMilli(), got[id].Time.UnixMilli())
		g := got[id]
		g.Time = ev.Time
		require.Equal(t, ev, g)
	}
	require.Equal(t, 51.0, testutil.ToFloat64(p.published))
	require.Zero(t, testutil.ToFloat64(p.dropped))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	require.Equal(t, 4, n)
}

func TestInvalidEventDropped(t *testing.T) {
	ns := natstest.New(t)
	js := connect(t, ns)
	ensureStream(t, js)
	p, _ := newPublisher(t, Config{JS: js})
	bad := event(t, "a.b", 1) // a tenant that is no tenant id: the ingest would refuse it
	p.Record(bad)
	noID := event(t, "acme", 2)
	noID.ID = ""
	p.Record(noID)
	require.NoError(t, p.Close(context.Background()))
	require.Empty(t, stored(t, js))
	require.Equal(t, 2.0, testutil.ToFloat64(p.dropped))
}

// TestOutage: with NATS down, Record never blocks; beyond the queue events
// are dropped and counted; the queued ones are published once NATS is back.
func TestOutage(t *testing.T) {
	ns := natstest.New(t)
	js := connect(t, ns)
	ensureStream(t, js)
	p, _ := newPublisher(t, Config{JS: js, QueueSize: 5, Workers: 1, PublishTimeout: 200 * time.Millisecond})
	ns.Shutdown()
	const n = 40
	for i := range n {
		p.Record(event(t, "acme", i)) // returns at once: this loop would hang otherwise
	}
	// At most the queue plus the one event the worker holds survive.
	dropped := testutil.ToFloat64(p.dropped)
	require.GreaterOrEqual(t, dropped, float64(n-5-1))
	require.NoError(t, ns.Restart())
	waitFor(t, "the queue to drain", func() bool { return len(p.queue) == 0 && testutil.ToFloat64(p.published) == n-dropped })
	require.NoError(t, p.Close(context.Background()))
	require.Len(t, stored(t, js), n-int(dropped))
}

// TestCloseGivesUp: Close flushes within its deadline and counts the rest.
func TestCloseGivesUp(t *testing.T) {
	ns := natstest.New(t)
	js := connect(t, ns)
	ensureStream(t, js)
	p, _ := newPublisher(t, Config{JS: js, QueueSize: 10, Workers: 1, PublishTimeout: 100 * time.Millisecond})
	ns.Shutdown()
	for i := range 10 {
		p.Record(event(t, "acme", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
	require.Equal(t, 10.0, testutil.ToFloat64(p.dropped))
	p.Record(event(t, "acme", 11))
	require.Equal(t, 11.0, testutil.ToFloat64(p.dropped), "after Close, events are dropped, not queued")
}
