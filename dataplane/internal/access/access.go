// Package access is the gateway's access-control layer (DESIGN.md, layer 3):
// from the global bundle, the caller's tenant bundle and the caller's roles and
// permissions it decides which tools the caller may see and call.
//
// The work is split by how often its inputs change. An Index is built once per
// global bundle (tools, the global rules matching each tool, one bitset of
// granted tools per role and per permission); a TenantView is derived from an
// Index and one tenant bundle and cached inside the Index; a decision for one
// principal is a few map lookups and bitset operations. DESIGN.md beside this
// file states the semantics and the invariants.
package access

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Reasons a decision gives when no rule granted the tool. They are recorded in
// the audit trail (DecidedBy.Name) and never shown to the caller, who only
// ever sees "Unknown tool".
const (
	ReasonNoGlobal      = "no-global-bundle"
	ReasonNoTenant      = "no-tenant"      // the principal carries no tenant
	ReasonUnknownTenant = "unknown-tenant" // the gateway holds no bundle for it
	ReasonUnknownTool   = "unknown-tool"   // no active tool of that name
	ReasonNoGrant       = "default-deny"   // no enabled global rule grants it
)

// Decision is the outcome for one tool. Rule and Scope name the rule that
// made it: the granting rule (the tenant rule when tenant rules restrict the
// tool, else the global one), the tenant rule that narrowed the tool away, or
// one of the Reason constants with an empty Scope for the global scope.
type Decision struct {
	Granted bool
	Rule    string
	Scope   model.Scope
}

// rule is one enabled access rule, with its grantees as sets.
type rule struct {
	name  string
	roles map[string]struct{}
	perms map[string]struct{}
}

func newRule(r model.AccessRule) *rule {
	out := &rule{name: r.Name, roles: set(r.Roles), perms: set(r.Permissions)}
	return out
}

func set(xs []string) map[string]struct{} {
	m := make(map[string]struct{}, len(xs))
	for _, x := range xs {
		if x != "" { // an empty claim value must never match an empty rule entry
			m[x] = struct{}{}
		}
	}
	return m
}

// grants reports whether the principal holds one of the rule's roles or
// permissions.
func (r *rule) grants(p *authn.Principal) bool {
	for _, role := range p.Roles {
		if _, ok := r.roles[role]; ok {
			return true
		}
	}
	for _, perm := range p.Permissions {
		if _, ok := r.perms[perm]; ok {
			return true
		}
	}
	return false
}

// bitset is a set of tool positions in an Index.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }

func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// each calls fn for every member, in increasing order.
func (b bitset) each(fn func(int)) {
	for w, word := range b {
		for word != 0 {
			fn(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
}

// grantSets maps each role and each permission to the tools it is granted.
type grantSets struct {
	roles map[string]bitset
	perms map[string]bitset
}

func newGrantSets() grantSets {
	return grantSets{roles: map[string]bitset{}, perms: map[string]bitset{}}
}

func (g grantSets) add(r *rule, tool, n int) {
	for role := range r.roles {
		addBit(g.roles, role, tool, n)
	}
	for perm := range r.perms {
		addBit(g.perms, perm, tool, n)
	}
}

func addBit(m map[string]bitset, key string, tool, n int) {
	b, ok := m[key]
	if !ok {
		b = newBitset(n)
		m[key] = b
	}
	b.set(tool)
}

// union returns the tools granted to any of the principal's roles or
// permissions.
func (g grantSets) union(p *authn.Principal, n int) bitset {
	out := newBitset(n)
	for _, role := range p.Roles {
		if b, ok := g.roles[role]; ok {
			out.or(b)
		}
	}
	for _, perm := range p.Permissions {
		if b, ok := g.perms[perm]; ok {
			out.or(b)
		}
	}
	return out
}

// enabledRules compiles the enabled rules of a bundle, keeping bundle order
// (the first granting rule is the one the audit trail names).
func enabledRules(entries []bundle.Entry[model.AccessRule]) ([]*rule, [][]string) {
	var rules []*rule
	var patterns [][]string
	for _, e := range entries {
		if !e.Spec.Enabled {
			continue
		}
		rules = append(rules, newRule(e.Spec))
		patterns = append(patterns, e.Spec.Tools)
	}
	return rules, patterns
}

func matchesAny(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return model.MatchTool(p, name) })
}

// sortTools orders tools by name, the order tools/list shows.
func sortTools(tools []model.Tool) {
	slices.SortFunc(tools, func(a, b model.Tool) int { return strings.Compare(a.Name, b.Name) })
}
