package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/ratelimit"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// limitsEnv is a pipeline whose bundles carry the given rate limits and
// network rules, with a rate limiter on a clock that only moves by hand.
func limitsEnv(t *testing.T, global, tenant []bundle.Entry[model.RateLimit], gNet, tNet []bundle.Entry[model.NetworkRule]) (*env, *time.Time) {
	t.Helper()
	e := &env{t: t, sealer: newSealer(t), backend: newBackend(t), audit: &recorder{}}
	g := globalBundle(t, 1, e.sealer, e.backend.URL)
	g.Global.RateLimits, g.Global.NetworkRules = global, gNet
	tb := tenantBundle("acme", 1)
	tb.Tenant.RateLimits, tb.Tenant.NetworkRules = tenant, tNet
	e.src = bundlestore.NewStatic(snapshot(t, g, tb, tenantBundle("globex", 1)))
	fwd, err := forward.New(forward.Config{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(fwd.Close)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e.p, err = New(Config{Source: e.src, Backend: fwd, Sealer: e.sealer, GatewayID: "gw-test", Audit: e.audit,
		RateLimiter: ratelimit.New(ratelimit.Config{Now: clock}), Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(e.p.Close)
	return e, &now
}

func withIP(ctx context.Context, ip string) context.Context {
	return ContextWithRequestInfo(ctx, RequestInfo{ClientIP: ip, UserAgent: "test"})
}

func rpcError(t *testing.T, err error) *mcp.Error {
	t.Helper()
	var me *mcp.Error
	require.True(t, errors.As(err, &me), "not an mcp.Error: %v", err)
	return me
}

// TestRateLimitedCallNeverReachesBackend: once a limit is exhausted the
// call is refused before forwarding, with -32029, "rate limit exceeded" and
// retry_after_seconds, and audited as a deny by the limit.
func TestRateLimitedCallNeverReachesBackend(t *testing.T) {
	perUser := entry("l-user", model.RateLimit{Name: "two-per-minute", Tools: []string{"orders.*"}, Per: model.PerUser, RequestsPerMinute: 2, Enabled: true})
	e, now := limitsEnv(t, []bundle.Entry[model.RateLimit]{perUser}, nil, nil, nil)
	alice := as(authn.Principal{Subject: "alice", TenantID: "acme", Roles: []string{"viewer"}})

	for range 2 {
		res, err := e.p.Call(alice, "orders.list", json.RawMessage(`{}`))
		require.NoError(t, err)
		require.False(t, res.IsError)
	}
	_, err := e.p.Call(alice, "orders.list", json.RawMessage(`{}`))
	me := rpcError(t, err)
	require.Equal(t, CodeRateLimited, me.Code)
	require.Equal(t, "rate limit exceeded", me.Message)
	require.Equal(t, RateLimitedData{RetryAfterSeconds: 30, Limit: "two-per-minute", Scope: "global"}, me.Data)
	require.Len(t, e.backend.got(), 2, "the refused call reached the backend")

	ev := e.audit.last(t)
	require.Equal(t, audit.DecisionDeny, ev.Decision)
	require.Equal(t, &audit.DecidedBy{Kind: "rate_limit", Name: "two-per-minute", Scope: "global"}, ev.DecidedBy)
	require.Equal(t, "rate_limited", ev.Error)
	require.Zero(t, ev.BackendStatus)

	// Another user of the same tenant has a bucket of their own; a tool the
	// limit does not name is not limited.
	bob := as(authn.Principal{Subject: "bob", TenantID: "acme", Roles: []string{"viewer"}})
	_, err = e.p.Call(bob, "orders.list", json.RawMessage(`{}`))
	require.NoError(t, err)
	for range 3 {
		_, err = e.p.Call(alice, "whoami", json.RawMessage(`{}`))
		require.NoError(t, err)
	}
	// After the retry-after, alice may call again.
	*now = now.Add(30 * time.Second)
	_, err = e.p.Call(alice, "orders.list", json.RawMessage(`{}`))
	require.NoError(t, err)
	require.Len(t, e.backend.got(), 7)
}

// TestTenantRateLimitAddsToGlobal: a tenant's limit restricts that tenant
// only, on top of the global one; a hidden tool is refused as unknown before
// any limit counts it.
func TestTenantRateLimitAddsToGlobal(t *testing.T) {
	global := entry("g", model.RateLimit{Name: "global", Per: model.PerTenant, RequestsPerMinute: 100, Enabled: true})
	tenant := entry("t", model.RateLimit{Name: "acme-one", Per: model.PerTool, RequestsPerMinute: 1, Enabled: true})
	e, _ := limitsEnv(t, []bundle.Entry[model.RateLimit]{global}, []bundle.Entry[model.RateLimit]{tenant}, nil, nil)
	acme := as(authn.Principal{Subject: "u", TenantID: "acme", Roles: []string{"viewer"}})
	globex := as(authn.Principal{Subject: "u", TenantID: "globex", Roles: []string{"viewer"}})

	_, err := e.p.Call(acme, "orders.list", json.RawMessage(`{}`))
	require.NoError(t, err)
	_, err = e.p.Call(acme, "orders.list", json.RawMessage(`{}`))
	me := rpcError(t, err)
	require.Equal(t, CodeRateLimited, me.Code)
	require.Equal(t, "tenant/acme", me.Data.(RateLimitedData).Scope)
	_, err = e.p.Call(acme, "whoami", json.RawMessage(`{}`)) // per tool: another bucket
	require.NoError(t, err)
	for range 3 {
		_, err = e.p.Call(globex, "orders.list", json.RawMessage(`{}`))
		require.NoError(t, err, "acme's limit applied to globex")
	}
	_, err = e.p.Call(acme, "admin.purge", json.RawMessage(`{}`))
	require.Equal(t, mcp.UnknownToolError("admin.purge"), rpcError(t, err))
}

// TestNetworkRules: the allow/block lists run before access control, on
// lists and calls, with the error of a deny naming the rule.
func TestNetworkRules(t *testing.T) {
	office := entry("n1", model.NetworkRule{Name: "office-only", Allow: []string{"203.0.113.0/24", "2001:db8::/32"}, Enabled: true})
	blocked := entry("n2", model.NetworkRule{Name: "acme-blocks", Block: []string{"203.0.113.66"}, Enabled: true})
	e, _ := limitsEnv(t, nil, nil, []bundle.Entry[model.NetworkRule]{office}, []bundle.Entry[model.NetworkRule]{blocked})
	acme := as(authn.Principal{Subject: "u", TenantID: "acme", Roles: []string{"viewer"}})
	globex := as(authn.Principal{Subject: "u", TenantID: "globex", Roles: []string{"viewer"}})

	cases := []struct {
		name   string
		ctx    context.Context
		refuse string // rule name, "" = passes
	}{
		{"inside the allow-list", withIP(acme, "203.0.113.10"), ""},
		{"ipv6 inside", withIP(acme, "2001:db8::10"), ""},
		{"outside", withIP(acme, "198.51.100.1"), "office-only"},
		{"no client address known", acme, "office-only"},
		{"tenant block-list", withIP(acme, "203.0.113.66"), "acme-blocks"},
		{"another tenant's block-list does not apply", withIP(globex, "203.0.113.66"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.backend.got())
			_, callErr := e.p.Call(c.ctx, "orders.list", json.RawMessage(`{}`))
			callEv := e.audit.last(t)
			_, listErr := e.p.List(c.ctx)
			if c.refuse == "" {
				require.NoError(t, callErr)
				require.NoError(t, listErr)
				require.Len(t, e.backend.got(), before+1)
				return
			}
			for _, err := range []error{callErr, listErr} {
				me := rpcError(t, err)
				require.Equal(t, CodeDenied, me.Code)
				require.Contains(t, me.Message, `network rule "`+c.refuse+`"`)
				require.Equal(t, c.refuse, me.Data.(DeniedData).Name)
			}
			require.Len(t, e.backend.got(), before, "a refused call reached the backend")
			require.Equal(t, audit.DecisionDeny, callEv.Decision)
			require.Equal(t, audit.AccessNotEvaluated, callEv.Access)
			require.Equal(t, "network_rule", callEv.DecidedBy.Kind)
			require.Equal(t, c.refuse, callEv.DecidedBy.Name)
			require.Equal(t, "orders.list", callEv.Tool)
		})
	}
}
