package pipeline

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/auditpub"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
)

var _ Recorder = (*auditpub.Publisher)(nil)

// TestAuditToJetStream: the pipeline's events reach the audit stream on the
// caller's tenant subject, deduplicable by id.
func TestAuditToJetStream(t *testing.T) {
	ns := natstest.New(t)
	nc, err := nats.Connect(ns.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The control plane's stream (auditingest.EnsureStream), minimal.
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "PORTCULLIS_AUDIT", Subjects: []string{audit.SubjectPrefix + ">"}, Storage: jetstream.FileStorage,
		MaxMsgSize: 256 << 10, Duplicates: 2 * time.Minute,
	})
	require.NoError(t, err)
	pub, err := auditpub.New(auditpub.Config{JS: js})
	require.NoError(t, err)

	e := newEnv(t)
	p, err := New(Config{Source: e.src, Backend: e.p.backend, Sealer: e.sealer, Audit: pub, GatewayID: "gw-9"})
	require.NoError(t, err)
	defer p.Close()
	_, err = p.Call(as(authn.Principal{TenantID: "globex", Subject: "bob", Roles: []string{"viewer"}}), "whoami", json.RawMessage(`{}`))
	require.NoError(t, err)
	_, err = p.List(as(authn.Principal{TenantID: "acme", Subject: "alice", Roles: []string{"viewer"}}))
	require.NoError(t, err)
	require.NoError(t, pub.Close(ctx))

	// Two workers publish: order is not guaranteed, subjects are.
	subjects := map[string]string{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		require.NoError(t, err)
		var ev audit.Event
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		require.Equal(t, ev.ID, m.Header.Get("Nats-Msg-Id"))
		require.Equal(t, "gw-9", ev.GatewayID)
		subjects[ev.Method] = m.Subject
	}
	require.Equal(t, map[string]string{"tools/call": "portcullis.audit.globex", "tools/list": "portcullis.audit.acme"}, subjects)
}

// TestConcurrentSwaps: calls racing with bundle swaps always see one
// consistent configuration (run with -race): under revision A the tool is
// granted, under B it is unknown, never anything else.
func TestConcurrentSwaps(t *testing.T) {
	e := newEnv(t)
	granted := snapshot(t, globalBundle(t, 1, e.sealer, e.backend.URL), tenantBundle("acme", 1))
	revoked := snapshot(t, globalBundle(t, 2, e.sealer, e.backend.URL,
		accessRule("other", []string{"orders.list"}, []string{"viewer"}, nil)), tenantBundle("acme", 1))
	ctx := as(authn.Principal{TenantID: "acme", Subject: "u", Roles: []string{"viewer"}})
	stop, swapperDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(swapperDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				e.src.Set(revoked)
			} else {
				e.src.Set(granted)
			}
		}
	}()
	var callers sync.WaitGroup
	for range 4 {
		callers.Add(1)
		go func() {
			defer callers.Done()
			for range 50 {
				res, err := e.p.Call(ctx, "whoami", json.RawMessage(`{}`))
				if err != nil && err.Error() != mcp.UnknownToolError("whoami").Error() {
					t.Errorf("unexpected error %v", err)
				}
				if err == nil && res.IsError {
					t.Errorf("unexpected result %+v", res)
				}
			}
		}()
	}
	callers.Wait()
	close(stop)
	<-swapperDone
}
