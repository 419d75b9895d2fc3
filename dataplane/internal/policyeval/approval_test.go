package policyeval

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/approvals"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
)

// controlPlane stands in for the control plane's approval service (the real
// one is tested in controlplane/internal/approvalsvc and e2e): one pending
// approval per (tenant, user, tool, args hash), which the test approves or
// denies; an approved one is consumed by the next check.
type controlPlane struct {
	mu       sync.Mutex
	next     int
	open     map[string]*pendingApproval // key → the open approval
	received []approval.Request
}

type pendingApproval struct {
	id     string
	status approval.Status // pending, approved, denied
}

var expiry = time.Date(2026, 12, 4, 17, 15, 0, 0, time.UTC)

func startControlPlane(t *testing.T, nc *nats.Conn) *controlPlane {
	cp := &controlPlane{open: map[string]*pendingApproval{}}
	sub, err := nc.QueueSubscribe(approval.Subject, approval.QueueGroup, func(m *nats.Msg) {
		var r approval.Request
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Validate() != nil {
			t.Errorf("invalid approval request: %s", m.Data)
			_ = m.Respond([]byte(`{"status":"error","message":"invalid"}`))
			return
		}
		resp, _ := json.Marshal(cp.check(r))
		_ = m.Respond(resp)
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	return cp
}

func (cp *controlPlane) check(r approval.Request) approval.Response {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.received = append(cp.received, r)
	key := r.Tenant + "|" + r.UserID + "|" + r.Tool + "|" + r.ArgsHash
	a := cp.open[key]
	if a == nil {
		cp.next++
		a = &pendingApproval{id: fmt.Sprintf("ap-%d", cp.next), status: approval.StatusPending}
		cp.open[key] = a
	}
	resp := approval.Response{ApprovalID: a.id, CheckURL: "/v1/tenants/" + r.Tenant + "/approvals/" + a.id}
	switch a.status {
	case "approved":
		delete(cp.open, key)
		resp.Status = approval.StatusApprovedConsumed
	case approval.StatusDenied:
		resp.Status = approval.StatusDenied
	default:
		resp.Status, resp.ExpiresAt = approval.StatusPending, &expiry
	}
	return resp
}

func (cp *controlPlane) decide(id string, status approval.Status) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for _, a := range cp.open {
		if a.id == id {
			a.status = status
		}
	}
}

func (cp *controlPlane) requests() []approval.Request {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return append([]approval.Request(nil), cp.received...)
}

func connect(t *testing.T, url string) *nats.Conn {
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

func approvalEnv(t *testing.T, client Approver) *env {
	return newEnv(t, client, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{
			globalBundle(t, 1, url),
			tenantBundle("acme", 1, true, approvalPol("big-orders", "orders.create")),
		}
	})
}

func TestApprovalFlow(t *testing.T) {
	ns := natstest.New(t)
	cp := startControlPlane(t, connect(t, ns.URL()))
	e := approvalEnv(t, &approvals.Client{NC: connect(t, ns.URL())})
	alice := user("acme")

	// First call: pending, with the id, expiry and where to check.
	err := e.call(alice, "orders.create", 500)
	require.NotNil(t, err)
	assert.Equal(t, CodeApprovalPending, err.Code)
	assert.Equal(t, `Approval required by policy "big-orders": approval ap-1 is pending (expires 2026-12-04T17:15:00Z); `+
		`its status is at /v1/tenants/acme/approvals/ap-1. Once an approver approves it, retry the same call with the same arguments: it will go through once`, err.Message)
	assert.Equal(t, ApprovalData{Kind: "approval", ApprovalID: "ap-1", Status: "pending", ExpiresAt: &expiry,
		CheckURL: "/v1/tenants/acme/approvals/ap-1", Policy: "big-orders", Scope: "tenant/acme"}, err.Data)
	ev := e.audit.last(t)
	assert.Equal(t, audit.DecisionApprovalRequired, ev.Decision)
	assert.Equal(t, "ap-1", ev.ApprovalID)
	assert.Equal(t, &audit.DecidedBy{Kind: "policy", Name: "big-orders", Scope: "tenant/acme"}, ev.DecidedBy)

	got := cp.requests()[0]
	assert.Equal(t, approval.Request{Op: approval.OpCheck, Tenant: "acme", UserID: "alice", UserEmail: "alice@acme.test",
		Tool: "orders.create", ArgsHash: got.ArgsHash, Args: json.RawMessage(`{"body":{"amount":500}}`),
		PolicyName: "big-orders", PolicyScope: "tenant",
		Approval: approval.Config{ApproverRoles: []string{"tenant-admin"}, MinApprovals: 1, ExpirySec: 900}}, got)
	hash, herr := approval.ArgsHash(json.RawMessage(`{"body":{"amount":500}}`))
	require.NoError(t, herr)
	assert.Equal(t, hash, got.ArgsHash)

	// Still pending: nothing reaches the backend.
	require.NotNil(t, e.call(alice, "orders.create", 500))
	assert.Zero(t, e.backend.count())

	// Arguments the schema rejects never reach the approval service: an
	// approval is not created for (or spent on) a call that cannot be sent.
	n := len(cp.requests())
	require.NotNil(t, e.callArgs(alice, "orders.create", json.RawMessage(`{"body":{"amount":-1}}`)))
	assert.Len(t, cp.requests(), n)

	// Approved: the same call passes exactly once.
	cp.decide("ap-1", "approved")
	require.Nil(t, e.call(alice, "orders.create", 500))
	assert.Equal(t, 1, e.backend.count())
	ev = e.audit.last(t)
	assert.Equal(t, audit.DecisionAllow, ev.Decision)
	assert.Equal(t, "ap-1", ev.ApprovalID)
	assert.Equal(t, "big-orders", ev.DecidedBy.Name)
	err = e.call(alice, "orders.create", 500)
	require.NotNil(t, err, "the second identical call needs a new approval")
	assert.Contains(t, err.Message, "approval ap-2 is pending")
	assert.Equal(t, 1, e.backend.count())

	// Denied: refused.
	cp.decide("ap-2", approval.StatusDenied)
	err = e.call(alice, "orders.create", 500)
	require.NotNil(t, err)
	assert.Equal(t, pipeline.CodeDenied, err.Code)
	assert.Equal(t, `Denied: approval ap-2 required by policy "big-orders" for this call was denied`, err.Message)
	assert.Equal(t, audit.DecisionDeny, e.audit.last(t).Decision)
	assert.Equal(t, 1, e.backend.count())

	// Below the policy's threshold nothing is asked.
	n = len(cp.requests())
	require.Nil(t, e.call(alice, "orders.create", 0))
	assert.Len(t, cp.requests(), n)
}

// TestApprovalFailsClosed: no control plane answering, an error answer, or
// no client configured → the call is refused, never forwarded.
func TestApprovalFailsClosed(t *testing.T) {
	ns := natstest.New(t)
	nobody := &approvals.Client{NC: connect(t, ns.URL()), Timeout: 200 * time.Millisecond}
	erroring := connect(t, ns.URL())
	for name, client := range map[string]Approver{"no responder": nobody, "no client": nil} {
		e := approvalEnv(t, client)
		err := e.call(user("acme"), "orders.create", 500)
		require.NotNil(t, err, name)
		assert.Equal(t, CodeApprovalUnavailable, err.Code, name)
		assert.Contains(t, err.Message, "could not be checked", name)
		ev := e.audit.last(t)
		assert.Equal(t, audit.DecisionError, ev.Decision, name)
		assert.Equal(t, "approval_unavailable", ev.Error, name)
		assert.Zero(t, e.backend.count(), name)
	}
	sub, err := erroring.Subscribe(approval.Subject, func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"status":"approved_consumed"}`)) // no approval id: not believed
	})
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	require.NoError(t, erroring.Flush())
	e := approvalEnv(t, &approvals.Client{NC: connect(t, ns.URL())})
	rerr := e.call(user("acme"), "orders.create", 500)
	require.NotNil(t, rerr)
	assert.Equal(t, CodeApprovalUnavailable, rerr.Code)
	assert.Zero(t, e.backend.count())
}

// TestApprovalGlobalPolicy: a global approval_required policy binds the
// approval to the caller's tenant.
func TestApprovalGlobalPolicy(t *testing.T) {
	ns := natstest.New(t)
	cp := startControlPlane(t, connect(t, ns.URL()))
	e := newEnv(t, &approvals.Client{NC: connect(t, ns.URL())}, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, approvalPol("global-approval", "orders.refund"))}
	})
	err := e.call(user("globex"), "orders.refund", 5)
	require.NotNil(t, err)
	assert.Equal(t, CodeApprovalPending, err.Code)
	require.Len(t, cp.requests(), 1)
	assert.Equal(t, "global", cp.requests()[0].PolicyScope)
	assert.Equal(t, "globex", cp.requests()[0].Tenant)
}
