package pipeline

import (
	"net/netip"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/netrules"
	"github.com/portcullis/portcullis/dataplane/internal/ratelimit"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/model"
)

// JSON-RPC error codes of the gateway's own refusals, in the range JSON-RPC
// leaves to servers (-32000 to -32099).
const (
	// CodeDenied: refused by a rule about the request (a network rule; the
	// policy layer uses it for a deny too), with a message naming the rule.
	CodeDenied = -32003
	// CodeRateLimited: a rate limit refused the call; data carries
	// retry_after_seconds.
	CodeRateLimited = -32029
)

// Kinds of DecidedBy for the layers of this file.
const (
	kindNetworkRule = "network_rule"
	kindRateLimit   = "rate_limit"
)

// Public error codes in audit events.
const (
	errNetworkDenied = "network_denied"
	errRateLimited   = "rate_limited"
)

// DeniedData is the data of a CodeDenied error: which rule refused.
type DeniedData struct {
	Kind  string `json:"kind"` // network_rule, policy
	Name  string `json:"name"`
	Scope string `json:"scope,omitempty"`
}

// RateLimitedData is the data of a CodeRateLimited error.
type RateLimitedData struct {
	RetryAfterSeconds int    `json:"retry_after_seconds"`
	Limit             string `json:"limit"`
	Scope             string `json:"scope,omitempty"`
}

// checkNetwork is the first layer after authentication: the IP allow/block
// lists of the global bundle and of the caller's tenant, all of which must
// pass. It runs before access control for lists and calls alike, since it
// is about where the request comes from, not what it asks for.
func (p *Pipeline) checkNetwork(r *Request) error {
	global := p.netrules.Global(r.Snapshot.Global())
	var tenant netrules.Set
	if r.tenant != "" {
		tenant = p.netrules.Tenant(r.tenant, r.Snapshot.Tenant(r.tenant))
	}
	if global == nil && tenant == nil {
		return nil
	}
	addr, _ := netip.ParseAddr(r.Info.ClientIP) // unknown: the zero Addr, refused by allow-lists
	rule := netrules.Check(addr, global, tenant)
	if rule == nil {
		return nil
	}
	ev := r.Event
	ev.Tool = r.Name // as checkAccess records it; "" for a list
	ev.Decision, ev.Access, ev.Error = audit.DecisionDeny, audit.AccessNotEvaluated, errNetworkDenied
	ev.DecidedBy = &audit.DecidedBy{Kind: kindNetworkRule, Name: rule.Name, Scope: string(rule.Scope)}
	return &mcp.Error{
		Code:    CodeDenied,
		Message: "Request denied by network rule " + quoteName(rule.Name) + ": calls from this address are not allowed",
		Data:    DeniedData{Kind: kindNetworkRule, Name: rule.Name, Scope: string(rule.Scope)},
	}
}

// checkRateLimit runs after access control granted the tool: the global
// limits and the tenant's, each counting per tenant, user or tool. A
// refused call never reaches the policies, hooks or the backend.
func (p *Pipeline) checkRateLimit(r *Request) error {
	sets := [2]ratelimit.Rules{{Scope: model.GlobalScope}, {Scope: model.TenantScope(r.tenant)}}
	if g := r.Snapshot.Global(); g != nil && g.Global != nil {
		sets[0].Entries = g.Global.RateLimits
	}
	if t := r.Snapshot.Tenant(r.tenant); t != nil && t.Tenant != nil {
		sets[1].Entries = t.Tenant.RateLimits
	}
	if len(sets[0].Entries) == 0 && len(sets[1].Entries) == 0 {
		return nil
	}
	ref := p.limiter.Allow(ratelimit.Call{Tenant: r.tenant, User: r.user, Tool: r.Tool.Name}, sets[:]...)
	if ref == nil {
		return nil
	}
	ev := r.Event
	ev.Decision, ev.Error = audit.DecisionDeny, errRateLimited
	ev.DecidedBy = &audit.DecidedBy{Kind: kindRateLimit, Name: ref.Name, Scope: string(ref.Scope)}
	return &mcp.Error{
		Code:    CodeRateLimited,
		Message: "rate limit exceeded",
		Data:    RateLimitedData{RetryAfterSeconds: ref.RetryAfterSeconds(), Limit: ref.Name, Scope: string(ref.Scope)},
	}
}

// quoteName quotes a rule name for a message, clipped.
func quoteName(name string) string { return `"` + clip(name, 100) + `"` }
