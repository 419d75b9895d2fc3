package model

// RateLimit caps how often the tools matching Tools may be called. The
// gateway counts calls per Per key: "tenant" (all calls of one tenant),
// "user" (one user within one tenant) or "tool" (one tool within one
// tenant). A global limit applies to every tenant separately (each tenant has
// its own count); a tenant limit applies in addition to the global ones, so it
// can only restrict further. Enforcement is a token bucket: it refills at
// RequestsPerMinute and holds at most Burst calls (0 = RequestsPerMinute).
type RateLimit struct {
	Name              string   `json:"name"`
	Tools             []string `json:"tools,omitempty"` // names or glob patterns; empty: all tools
	Per               string   `json:"per"`             // tenant, user, tool
	RequestsPerMinute int      `json:"requests_per_minute"`
	Burst             int      `json:"burst,omitempty"`
	Enabled           bool     `json:"enabled"`
}

// Rate limit counting keys (RateLimit.Per).
const (
	PerTenant = "tenant"
	PerUser   = "user"
	PerTool   = "tool"
)

// Capacity is the number of calls the limit's bucket holds: Burst, or
// RequestsPerMinute when Burst is 0.
func (r RateLimit) Capacity() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.RequestsPerMinute
}

// AppliesTo reports whether the limit counts calls to the tool: enabled, and
// Tools empty or one of its patterns matching (MatchTool).
func (r RateLimit) AppliesTo(tool string) bool {
	if !r.Enabled {
		return false
	}
	if len(r.Tools) == 0 {
		return true
	}
	for _, p := range r.Tools {
		if MatchTool(p, tool) {
			return true
		}
	}
	return false
}

// NetworkRule restricts which client IP addresses may use the gateway. When
// Allow is non-empty only addresses inside one of its CIDRs pass; an address
// inside one of Block's CIDRs never passes, even if Allow lists it (block
// wins). Every enabled rule must pass: global rules apply to every tenant and
// a tenant's rules apply in addition, so a tenant rule can only restrict.
type NetworkRule struct {
	Name    string   `json:"name"`
	Allow   []string `json:"allow,omitempty"` // CIDRs or single addresses
	Block   []string `json:"block,omitempty"` // CIDRs or single addresses
	Enabled bool     `json:"enabled"`
}
