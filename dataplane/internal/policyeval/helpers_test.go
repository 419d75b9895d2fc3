package policyeval

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
	"github.com/portcullis/portcullis/shared/seal"
)

var (
	sealKey    = bytes.Repeat([]byte{9}, 32)
	backendKey = backendsig.Key{KID: "bk-1", Secret: []byte("backend secret, at least 32 bytes!!")}
	// clock is the gateway time of every test request.
	clock = time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC)
)

const metadataURL = "https://gw.example/.well-known/oauth-protected-resource"

// backend records the paths and bodies it was called with.
type backend struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls = append(b.calls, r.URL.Path+" "+string(body))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls)
}

// recorder keeps the audit events.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(ev audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) last(t *testing.T) audit.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.events)
	return r.events[len(r.events)-1]
}

// maskSpy is a Masker that remembers the masking names of the last call.
type maskSpy struct {
	mu    sync.Mutex
	names []string
}

func (m *maskSpy) Mask(_ context.Context, r *pipeline.Request, res mcp.CallResult) (mcp.CallResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names = r.Masking()
	return res, nil
}

func tools(baseURL string) []bundle.Entry[model.Tool] {
	post := func(name, path string) model.Tool {
		return model.Tool{Name: name, Description: name, BaseURL: baseURL, Method: "POST", Path: path,
			Params: []model.Param{{Name: "body", In: "body", Required: true}},
			InputSchema: map[string]any{
				"type": "object", "required": []any{"body"}, "additionalProperties": false,
				"properties": map[string]any{"body": map[string]any{
					"type": "object", "required": []any{"amount"},
					"properties": map[string]any{"amount": map[string]any{"type": "number", "minimum": 0}},
				}},
			}, Active: true}
	}
	return []bundle.Entry[model.Tool]{
		{ID: "t1", Spec: post("orders.create", "/orders")},
		{ID: "t2", Spec: post("orders.refund", "/refunds")},
	}
}

func globalBundle(t *testing.T, rev int64, baseURL string, policies ...policy.Policy) *bundle.Bundle {
	s, err := seal.New(sealKey)
	require.NoError(t, err)
	sealed, err := s.Seal(backendKey.Secret, []byte(backendKey.KID))
	require.NoError(t, err)
	return &bundle.Bundle{Scope: model.GlobalScope, Revision: rev, BuiltAt: clock,
		Global: &bundle.Global{
			Tools: tools(baseURL),
			AccessRules: []bundle.Entry[model.AccessRule]{{ID: "r1", Spec: model.AccessRule{
				Name: "users", Tools: []string{"*"}, Roles: []string{"user"}, Enabled: true}}},
			Policies:    entries("g", policies),
			BackendKeys: []bundle.SealedKey{{BackendKey: model.BackendKey{KID: backendKey.KID, Status: "active"}, Sealed: sealed}},
		}}
}

func tenantBundle(id string, rev int64, delegation bool, policies ...policy.Policy) *bundle.Bundle {
	return &bundle.Bundle{Scope: model.TenantScope(id), Revision: rev, BuiltAt: clock,
		Tenant: &bundle.Tenant{Tenant: model.Tenant{ID: id, Name: id, DelegationEnabled: delegation},
			Policies: entries("t", policies)}}
}

func entries(prefix string, ps []policy.Policy) []bundle.Entry[policy.Policy] {
	var out []bundle.Entry[policy.Policy]
	for i, p := range ps {
		out = append(out, bundle.Entry[policy.Policy]{ID: prefix + string(rune('a'+i)), Spec: p})
	}
	return out
}

// pol is an enabled policy on tools whose condition holds when the
// argument amount is above min.
func pol(name string, effect policy.Effect, min int, tools ...string) policy.Policy {
	return policy.Policy{Name: name, Tools: tools, Effect: effect, Enabled: true,
		Match: &policy.Group{Op: policy.GroupAnd, Conditions: []policy.Condition{
			{Attribute: "args.body.amount", Operator: "gt", Value: min}}}}
}

func stepUpPol(name string, rule policy.StepUpRule, tools ...string) policy.Policy {
	p := pol(name, policy.StepUp, 0, tools...)
	p.StepUp = &rule
	return p
}

func approvalPol(name string, tools ...string) policy.Policy {
	p := pol(name, policy.ApprovalRequired, 0, tools...)
	p.Approval = &policy.Approval{ApproverRoles: []string{"tenant-admin"}, MinApprovals: 1, ExpirySec: 900}
	return p
}

// env is a real pipeline (real forwarder, schema validation, audit) with
// the policy layer under test.
type env struct {
	t       *testing.T
	src     *bundlestore.Static
	backend *backend
	audit   *recorder
	masks   *maskSpy
	layer   *Layer
	p       *pipeline.Pipeline
}

func newEnv(t *testing.T, approver Approver, bundles func(baseURL string) []*bundle.Bundle) *env {
	e := &env{t: t, backend: newBackend(t), audit: &recorder{}, masks: &maskSpy{}}
	snap, err := bundlestore.NewSnapshot(withTenants(bundles(e.backend.URL))...)
	require.NoError(t, err)
	e.src = bundlestore.NewStatic(snap)
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	fwd, err := forward.New(forward.Config{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(fwd.Close)
	e.layer = New(Config{Approvals: approver, ResourceMetadata: metadataURL, Now: func() time.Time { return clock }})
	e.p, err = pipeline.New(pipeline.Config{Source: e.src, Backend: fwd, Sealer: sealer, Policies: e.layer,
		Masker: e.masks, Audit: e.audit, Now: func() time.Time { return clock }})
	require.NoError(t, err)
	t.Cleanup(e.p.Close)
	return e
}

func (e *env) set(bundles ...*bundle.Bundle) {
	snap, err := bundlestore.NewSnapshot(withTenants(bundles)...)
	require.NoError(e.t, err)
	e.src.Set(snap)
}

// withTenants adds bundles without policies for the tenants acme and globex
// when bs has none (access control needs a tenant bundle).
func withTenants(bs []*bundle.Bundle) []*bundle.Bundle {
	for _, id := range []string{"acme", "globex"} {
		if !slices.ContainsFunc(bs, func(b *bundle.Bundle) bool { return b.Scope == model.TenantScope(id) }) {
			bs = append(bs, tenantBundle(id, 1, false))
		}
	}
	return bs
}

// user is a caller of tenant acme (or another tenant) with role user.
func user(tenant string) authn.Principal {
	return authn.Principal{Subject: "alice", Email: "alice@" + tenant + ".test", TenantID: tenant, Roles: []string{"user"}}
}

// call calls tool as p with the given amount; it returns the MCP error
// (nil when the call went through) and fails on any other error.
func (e *env) call(p authn.Principal, tool string, amount int) *mcp.Error {
	e.t.Helper()
	return e.callArgs(p, tool, json.RawMessage(`{"body":{"amount":`+strconv.Itoa(amount)+`}}`))
}

func (e *env) callArgs(p authn.Principal, tool string, args json.RawMessage) *mcp.Error {
	e.t.Helper()
	ctx := mcp.ContextWithPrincipal(context.Background(), p)
	ctx = pipeline.ContextWithRequestInfo(ctx, pipeline.RequestInfo{ClientIP: "192.0.2.10", UserAgent: "claude-code/1.0"})
	res, err := e.p.Call(ctx, tool, args)
	if err == nil {
		require.False(e.t, res.IsError, "%+v", res)
		return nil
	}
	me, ok := err.(*mcp.Error)
	require.True(e.t, ok, "not an *mcp.Error: %v", err)
	return me
}
