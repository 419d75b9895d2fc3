package netrules

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Rule is one enabled network rule, parsed.
type Rule struct {
	Scope model.Scope
	ID    string
	Name  string
	allow []netip.Prefix
	block []netip.Prefix
	// broken: an entry of the bundle did not parse (the control plane
	// validates them, so only a corrupt or newer bundle gets here). The rule
	// then refuses every address: ignoring the entry could let a blocked
	// address through.
	broken bool
}

// Set is the rules of one scope.
type Set []Rule

// Compile parses the enabled rules of one scope. Disabled rules are left out.
func Compile(scope model.Scope, entries []bundle.Entry[model.NetworkRule]) Set {
	var out Set
	for _, e := range entries {
		if !e.Spec.Enabled {
			continue
		}
		r := Rule{Scope: scope, ID: e.ID, Name: e.Spec.Name}
		r.allow, r.broken = parseAll(e.Spec.Allow)
		var brokenBlock bool
		r.block, brokenBlock = parseAll(e.Spec.Block)
		r.broken = r.broken || brokenBlock
		out = append(out, r)
	}
	return out
}

func parseAll(list []string) ([]netip.Prefix, bool) {
	out := make([]netip.Prefix, 0, len(list))
	broken := false
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			broken = true
			continue
		}
		out = append(out, p)
	}
	return out, broken
}

func parsePrefix(s string) (netip.Prefix, error) {
	p, err := model.ParseCIDR(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("netrules: %w", err)
	}
	return p, nil
}

// Refuses reports whether the rule refuses addr: a broken rule refuses
// everything; an address inside a block prefix is refused even when an
// allow prefix holds it too (block wins); with an allow list, an address
// outside it is refused; an unknown (zero) address is refused by any rule
// with an allow list, since it cannot be shown to be inside it.
func (r *Rule) Refuses(addr netip.Addr) bool {
	if r.broken {
		return true
	}
	if addr.IsValid() && contains(r.block, addr) {
		return true
	}
	if len(r.allow) > 0 {
		return !addr.IsValid() || !contains(r.allow, addr)
	}
	return false
}

// Check returns the first rule of the sets that refuses addr, or nil when
// every rule lets it through. Every rule of every set must pass: a tenant's
// rules restrict on top of the global ones.
func Check(addr netip.Addr, sets ...Set) *Rule {
	addr = addr.Unmap().WithZone("")
	for _, s := range sets {
		for i := range s {
			if s[i].Refuses(addr) {
				return &s[i]
			}
		}
	}
	return nil
}

// compiled is a Set with the bundle it came from.
type compiled struct {
	src *bundle.Bundle
	set Set
}

// Cache memoises the compiled rules of each bundle, keyed by the bundle
// pointer: bundles are immutable once applied, so a new pointer is a new
// configuration. Reads are an atomic load or a sync.Map load; only a bundle
// change compiles. Only tenants with network rules take an entry.
type Cache struct {
	global  atomic.Pointer[compiled]
	tenants sync.Map // tenant id → *compiled
}

// Global returns the rules of the global bundle b (nil: none).
func (c *Cache) Global(b *bundle.Bundle) Set {
	if b == nil || b.Global == nil || len(b.Global.NetworkRules) == 0 {
		return nil
	}
	if cur := c.global.Load(); cur != nil && cur.src == b {
		return cur.set
	}
	cp := &compiled{src: b, set: Compile(model.GlobalScope, b.Global.NetworkRules)}
	c.global.Store(cp)
	return cp.set
}

// Tenant returns the rules of tenant id's bundle b (nil: none).
func (c *Cache) Tenant(id string, b *bundle.Bundle) Set {
	if b == nil || b.Tenant == nil || len(b.Tenant.NetworkRules) == 0 {
		if _, ok := c.tenants.Load(id); ok {
			c.tenants.Delete(id) // the tenant's rules were removed
		}
		return nil
	}
	if v, ok := c.tenants.Load(id); ok && v.(*compiled).src == b {
		return v.(*compiled).set
	}
	cp := &compiled{src: b, set: Compile(model.TenantScope(id), b.Tenant.NetworkRules)}
	c.tenants.Store(id, cp)
	return cp.set
}
