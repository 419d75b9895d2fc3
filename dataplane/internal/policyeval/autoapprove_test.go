package policyeval

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/policy"
	"github.com/portcullis/portcullis/shared/seal"
)

// countingApprover answers every check with a pending approval and counts
// the checks: an auto-approved call must not make any.
type countingApprover struct {
	mu    sync.Mutex
	calls []approval.Request
}

func (c *countingApprover) Check(_ context.Context, req approval.Request) (approval.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, req)
	return approval.Response{Status: approval.StatusPending, ApprovalID: "ap-1", ExpiresAt: &expiry}, nil
}

func (c *countingApprover) requests() []approval.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]approval.Request(nil), c.calls...)
}

// autoPol is approvalPol auto-approving amounts below 1000.
func autoPol(name string, tools ...string) policy.Policy {
	p := approvalPol(name, tools...)
	p.Approval.AutoApprove = &policy.Group{Op: policy.GroupAnd, Conditions: []policy.Condition{
		{Attribute: "args.body.amount", Operator: "lt", Value: 1000}}}
	return p
}

func TestAutoApprove(t *testing.T) {
	su := stepUpPol("strong-auth", policy.StepUpRule{ACRValues: []string{"urn:mfa"}}, "orders.create")
	cases := []struct {
		name      string
		global    []policy.Policy
		tenant    []policy.Policy
		amount    int
		wantCode  int // 0: forwarded
		wantAsked bool
		wantEvent audit.Event // Decision, DecidedBy, Error
	}{
		{"tenant policy auto-approves", nil, []policy.Policy{autoPol("small-orders", "orders.create")}, 500, 0, false,
			audit.Event{Decision: audit.DecisionAllow, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "small-orders", Scope: "tenant/acme", Reason: "auto_approved"}}},
		{"global policy auto-approves", []policy.Policy{autoPol("small-orders", "orders.create")}, nil, 500, 0, false,
			audit.Event{Decision: audit.DecisionAllow, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "small-orders", Scope: "global", Reason: "auto_approved"}}},
		{"conditions false: pending", nil, []policy.Policy{autoPol("small-orders", "orders.create")}, 5000, CodeApprovalPending, true,
			audit.Event{Decision: audit.DecisionApprovalRequired, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "small-orders", Scope: "tenant/acme"}, Error: "approval_pending"}},
		{"tenant auto-approve cannot waive a global approval", []policy.Policy{approvalPol("global-approval", "orders.create")},
			[]policy.Policy{autoPol("small-orders", "orders.create")}, 500, CodeApprovalPending, true,
			audit.Event{Decision: audit.DecisionApprovalRequired, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "global-approval", Scope: "global"}, Error: "approval_pending"}},
		{"global auto-approve does not waive a tenant approval", []policy.Policy{autoPol("small-orders", "orders.create")},
			[]policy.Policy{approvalPol("tenant-approval", "orders.create")}, 500, CodeApprovalPending, true,
			audit.Event{Decision: audit.DecisionApprovalRequired, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "small-orders", Scope: "global"}, Error: "approval_pending"}},
		{"a step_up the approval outranked still applies", []policy.Policy{su}, []policy.Policy{autoPol("small-orders", "orders.create")}, 500,
			CodeStepUpRequired, false,
			audit.Event{Decision: audit.DecisionStepUp, DecidedBy: &audit.DecidedBy{Kind: "policy", Name: "strong-auth", Scope: "global"}, Error: "step_up_required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ap := &countingApprover{}
			e := newEnv(t, ap, func(url string) []*bundle.Bundle {
				return []*bundle.Bundle{globalBundle(t, 1, url, c.global...), tenantBundle("acme", 1, true, c.tenant...)}
			})
			err := e.call(user("acme"), "orders.create", c.amount)
			if c.wantCode == 0 {
				require.Nil(t, err)
				assert.Equal(t, 1, e.backend.count())
			} else {
				require.NotNil(t, err)
				assert.Equal(t, c.wantCode, err.Code, err.Message)
				assert.Zero(t, e.backend.count())
			}
			if c.wantAsked {
				assert.Len(t, ap.requests(), 1)
			} else {
				assert.Empty(t, ap.requests(), "an auto-approved call must not ask the control plane")
			}
			ev := e.audit.last(t)
			assert.Equal(t, c.wantEvent.Decision, ev.Decision)
			assert.Equal(t, c.wantEvent.DecidedBy, ev.DecidedBy)
			assert.Equal(t, c.wantEvent.Error, ev.Error)
			if !c.wantAsked {
				assert.Empty(t, ev.ApprovalID)
			}
		})
	}
}

// TestAutoApproveStepUpSatisfied: with the step-up met, the auto-approved
// call goes through without asking the control plane.
func TestAutoApproveStepUpSatisfied(t *testing.T) {
	ap := &countingApprover{}
	su := stepUpPol("strong-auth", policy.StepUpRule{ACRValues: []string{"urn:mfa"}}, "orders.create")
	e := newEnv(t, ap, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, su), tenantBundle("acme", 1, true, autoPol("small-orders", "orders.create"))}
	})
	alice := user("acme")
	alice.ACR = "urn:mfa"
	require.Nil(t, e.call(alice, "orders.create", 500))
	assert.Empty(t, ap.requests())
	ev := e.audit.last(t)
	assert.Equal(t, audit.DecisionAllow, ev.Decision)
	assert.Equal(t, "small-orders", ev.DecidedBy.Name)
	require.NotNil(t, ev.DecidedBy)
	assert.Equal(t, "auto_approved", ev.DecidedBy.Reason)
	assert.Empty(t, ev.Error)
}

// rewriter is a hook that rewrites the call's arguments.
type rewriter struct {
	pipeline.NoHooks
	args json.RawMessage
}

func (h rewriter) OnCall(_ context.Context, r *pipeline.Request) error {
	r.Args = h.args
	return nil
}

// TestAutoApproveArgsRewrittenByHook: the auto-approve conditions saw the
// arguments before hooks ran; when a hook changes them, the call asks for
// a human approval bound to the arguments as sent.
func TestAutoApproveArgsRewrittenByHook(t *testing.T) {
	ap := &countingApprover{}
	b := newBackend(t)
	snap, err := bundlestore.NewSnapshot(withTenants([]*bundle.Bundle{
		globalBundle(t, 1, b.URL), tenantBundle("acme", 1, true, autoPol("small-orders", "orders.create")),
	})...)
	require.NoError(t, err)
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	fwd, err := forward.New(forward.Config{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(fwd.Close)
	rec := &recorder{}
	p, err := pipeline.New(pipeline.Config{Source: bundlestore.NewStatic(snap), Backend: fwd, Sealer: sealer,
		Policies: New(Config{Approvals: ap, Now: func() time.Time { return clock }}),
		Hooks:    rewriter{args: json.RawMessage(`{"body":{"amount":900}}`)},
		Audit:    rec, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	t.Cleanup(p.Close)

	ctx := mcp.ContextWithPrincipal(context.Background(), user("acme"))
	_, err = p.Call(ctx, "orders.create", json.RawMessage(`{"body":{"amount":500}}`))
	var me *mcp.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, CodeApprovalPending, me.Code)
	require.Len(t, ap.requests(), 1)
	assert.JSONEq(t, `{"body":{"amount":900}}`, string(ap.requests()[0].Args))
	assert.Zero(t, b.count())
	assert.Equal(t, audit.DecisionApprovalRequired, rec.last(t).Decision)
}
