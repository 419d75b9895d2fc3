package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

// Approvals through the real control plane: gateways' approval checks go
// over NATS request/reply (shared/approval); here two NATS connections stand
// for two gateway replicas and send exactly what the gateway's client
// (dataplane/internal/approvals) sends. Approvers act through the admin API.

// approvalGateway is one "gateway" connection.
type approvalGateway struct{ nc *nats.Conn }

func (g approvalGateway) check(t *testing.T, r approval.Request) approval.Response {
	t.Helper()
	resp, err := g.try(r)
	require.NoError(t, err)
	return resp
}

func (g approvalGateway) try(r approval.Request) (approval.Response, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return approval.Response{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg, err := g.nc.RequestWithContext(ctx, approval.Subject, data)
	if err != nil {
		return approval.Response{}, err
	}
	var resp approval.Response
	err = json.Unmarshal(msg.Data, &resp)
	return resp, err
}

// webhookEvent is one verified webhook POST.
type webhookEvent struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Approval struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		UserID string `json:"user_id"`
	} `json:"approval"`
	tenant, requestID string
}

// webhookReceiver verifies every POST with the platform's backend key and
// records the events.
type webhookReceiver struct {
	URL    string
	mu     sync.Mutex
	events []webhookEvent
}

func startWebhookReceiver(t *testing.T, kid string, secret []byte) *webhookReceiver {
	w := &webhookReceiver{}
	v := &backendsig.Verifier{Keys: map[string][]byte{kid: secret}, Replay: backendsig.NewMemoryReplayCache(1000, time.Hour)}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ident, err := v.Verify(r)
		if err != nil {
			t.Errorf("webhook: %v", err)
			http.Error(rw, "unverified", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev webhookEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		ev.tenant, ev.requestID = ident.Tenant, ident.RequestID
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/approvals"
	return w
}

// waitFor polls until an event of type typ for approval id arrives (the
// deadline is a hang guard, not a performance threshold).
func (w *webhookReceiver) waitFor(t *testing.T, typ, id string) webhookEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, ev := range w.events {
			if ev.Type == typ && ev.Approval.ID == id {
				w.mu.Unlock()
				return ev
			}
		}
		w.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s webhook for approval %s", typ, id)
	return webhookEvent{}
}

type approvalsEnv struct {
	s        *stack.Stack
	gws      []approvalGateway
	webhooks *webhookReceiver
}

func startApprovals(t *testing.T) approvalsEnv {
	s := stack.Start(t, stack.Options{})
	admin := s.PlatformAdminToken(t)
	for _, id := range []string{"acme", "globex"} {
		r := s.Do(t, http.MethodPost, "/v1/tenants", admin, map[string]any{"id": id, "name": id})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	}
	var key struct {
		KID    string `json:"kid"`
		Secret string `json:"secret"`
	}
	r := s.Do(t, http.MethodPost, "/v1/signing-keys", admin, map[string]any{})
	require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
	r.Decode(t, &key)
	secret, err := base64.StdEncoding.DecodeString(key.Secret)
	require.NoError(t, err)
	env := approvalsEnv{s: s, webhooks: startWebhookReceiver(t, key.KID, secret)}
	for range 2 {
		nc, _ := s.NATSConn(t)
		env.gws = append(env.gws, approvalGateway{nc})
	}
	return env
}

func (e approvalsEnv) request(t *testing.T, user, args string) approval.Request {
	r, err := approval.NewRequest("acme", user, user+".mail@acme.test", "orders.refund", json.RawMessage(args),
		"refunds", "tenant", approval.Config{MinApprovals: 1, ExpirySec: 900, WebhookURL: e.webhooks.URL})
	require.NoError(t, err)
	return r
}

func (e approvalsEnv) decide(t *testing.T, token, id, verdict string) stack.Response {
	return e.s.Do(t, http.MethodPost, "/v1/tenants/acme/approvals/"+id+"/"+verdict, token, map[string]any{"comment": "e2e"})
}

// TestApprovalFlow: pending → approved through the admin API by a tenant
// admin (not the requester, not another tenant) → two gateways racing on the
// same call: exactly one passes → the next identical call is pending again.
// Webhooks announce creation and decision, signed.
func TestApprovalFlow(t *testing.T) {
	e := startApprovals(t)
	a, b := e.gws[0], e.gws[1]
	call := e.request(t, "alice", `{"order_id":"ord_1","amount":42}`)

	first := a.check(t, call)
	require.Equal(t, approval.StatusPending, first.Status, first.Message)
	require.NotEmpty(t, first.ApprovalID)
	assert.Contains(t, first.CheckURL, "/v1/tenants/acme/approvals/"+first.ApprovalID)
	// The other replica sees the same pending approval (no duplicate).
	again := b.check(t, call)
	require.Equal(t, approval.StatusPending, again.Status)
	require.Equal(t, first.ApprovalID, again.ApprovalID)

	created := e.webhooks.waitFor(t, "approval.created", first.ApprovalID)
	assert.Equal(t, "acme", created.tenant)
	assert.Equal(t, created.ID+":1", created.requestID, "the signed request id is <event id>:<attempt>")
	assert.Equal(t, "alice", created.Approval.UserID)

	var got struct {
		Status    string          `json:"status"`
		Arguments json.RawMessage `json:"arguments"`
		UserID    string          `json:"user_id"`
	}
	r := e.s.Do(t, http.MethodGet, "/v1/tenants/acme/approvals/"+first.ApprovalID, e.s.TenantAdminToken(t, "acme"), nil)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r.Decode(t, &got)
	assert.Equal(t, "pending", got.Status)
	assert.JSONEq(t, `{"order_id":"ord_1","amount":42}`, string(got.Arguments), "approvers read the exact arguments")

	// The requester may not approve its own call, even as a tenant admin;
	// another tenant's admin may not either.
	self := e.s.Mint(t, devissuer.Claims{Subject: "alice", Email: "alice.mail@acme.test", TenantID: "acme",
		Roles: []string{"tenant-admin"}, Audience: []string{stack.AdminAudience}})
	assert.Equal(t, http.StatusForbidden, e.decide(t, self, first.ApprovalID, "approve").Status)
	assert.Contains(t, []int{http.StatusForbidden, http.StatusNotFound},
		e.decide(t, e.s.TenantAdminToken(t, "globex"), first.ApprovalID, "approve").Status)
	// Still pending: nothing passes.
	require.Equal(t, approval.StatusPending, a.check(t, call).Status)

	r = e.decide(t, e.s.TenantAdminToken(t, "acme"), first.ApprovalID, "approve")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	e.webhooks.waitFor(t, "approval.approved", first.ApprovalID)

	// A different call by the same user, or the same call by another user,
	// does not use the approval.
	other := a.check(t, e.request(t, "alice", `{"order_id":"ord_1","amount":4200}`))
	require.Equal(t, approval.StatusPending, other.Status)
	require.NotEqual(t, first.ApprovalID, other.ApprovalID)
	mallory := b.check(t, e.request(t, "mallory", `{"order_id":"ord_1","amount":42}`))
	require.Equal(t, approval.StatusPending, mallory.Status)

	// Both replicas race on the identical call, several times each.
	const perGateway = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[approval.Status]int{}
	var consumedID string
	gate := make(chan struct{})
	for _, gw := range e.gws {
		for range perGateway {
			wg.Go(func() {
				<-gate
				resp, err := gw.try(call)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				statuses[resp.Status]++
				if resp.Status == approval.StatusApprovedConsumed {
					consumedID = resp.ApprovalID
				}
			})
		}
	}
	close(gate)
	wg.Wait()
	require.Equal(t, 1, statuses[approval.StatusApprovedConsumed], "exactly one call passes: %v", statuses)
	require.Equal(t, 2*perGateway-1, statuses[approval.StatusPending], "the others wait for a new approval: %v", statuses)
	require.Equal(t, first.ApprovalID, consumedID)

	next := a.check(t, call)
	require.Equal(t, approval.StatusPending, next.Status, "the second identical call is pending again")
	require.NotEqual(t, first.ApprovalID, next.ApprovalID)
	r = e.s.Do(t, http.MethodGet, "/v1/tenants/acme/approvals/"+first.ApprovalID, e.s.TenantAdminToken(t, "acme"), nil)
	r.Decode(t, &got)
	assert.Equal(t, "consumed", got.Status)
	// A consumed approval cannot be decided again.
	assert.Equal(t, http.StatusConflict, e.decide(t, e.s.TenantAdminToken(t, "acme"), first.ApprovalID, "approve").Status)
}

// TestApprovalDenied: a call denied through the admin API never passes, on
// either replica.
func TestApprovalDenied(t *testing.T) {
	e := startApprovals(t)
	call := e.request(t, "bob", `{"order_id":"ord_9"}`)
	p := e.gws[0].check(t, call)
	require.Equal(t, approval.StatusPending, p.Status)
	r := e.decide(t, e.s.TenantAdminToken(t, "acme"), p.ApprovalID, "deny")
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	e.webhooks.waitFor(t, "approval.denied", p.ApprovalID)
	for _, gw := range e.gws {
		resp := gw.check(t, call)
		require.Equal(t, approval.StatusDenied, resp.Status, resp.Message)
		require.Equal(t, p.ApprovalID, resp.ApprovalID)
	}
	// A forged request naming a tenant that does not exist, or malformed,
	// gets an error, never an approval.
	ghost := call
	ghost.Tenant = "ghost"
	resp := e.gws[1].check(t, ghost)
	require.Equal(t, approval.StatusError, resp.Status)
	require.Empty(t, resp.ApprovalID)
}
