package policyeval

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/policy"
)

// DefaultMaxTenants bounds the tenant layers cached when Config.MaxTenants
// is zero.
const DefaultMaxTenants = 20000

// compiled is one bundle's layer. err is set when the bundle's policies did
// not compile and there was no earlier good layer to keep: the calls it
// governs are refused.
type compiled struct {
	src   *bundle.Bundle
	layer *policy.Layer
	err   error
}

// cache holds the compiled layers. The global layer is an atomic pointer
// (one per process, read on every call); tenant layers are a map under a
// read-write mutex, bounded by max (an arbitrary entry is evicted when it is
// full: a cache miss only costs a compilation).
type cache struct {
	log *slog.Logger
	max int
	// global holds the layers of the current and the previous global
	// bundle, so requests still holding the old snapshot during a swap do
	// not evict the new layer (and the other way round).
	global atomic.Pointer[globalPair]

	mu      sync.RWMutex
	tenants map[string]*compiled
}

func newCache(max int, log *slog.Logger) *cache {
	if max <= 0 {
		max = DefaultMaxTenants
	}
	return &cache{log: log, max: max, tenants: map[string]*compiled{}}
}

// globalLayer returns the compiled global policies of b (nil layer: none).
func (c *cache) globalLayer(b *bundle.Bundle) (*policy.Layer, error) {
	var refs []policy.Ref
	if b != nil && b.Global != nil {
		refs = refsOf(b.Global.Policies)
	}
	if len(refs) == 0 {
		return nil, nil
	}
	pair := c.global.Load()
	if pair == nil {
		pair = &globalPair{}
	}
	for _, cp := range [2]*compiled{pair.cur, pair.prev} {
		if cp != nil && cp.src == b {
			return cp.layer, cp.err
		}
	}
	next := c.compile(policy.Global, "global", b, refs, pair.cur)
	// Concurrent first requests may compile twice; the result is the same.
	c.global.Store(&globalPair{cur: next, prev: pair.cur})
	return next.layer, next.err
}

// globalPair is the current and the previous global layer.
type globalPair struct{ cur, prev *compiled }

// tenantLayer returns the compiled delegated policies of tenant id's bundle
// b (nil layer: none).
func (c *cache) tenantLayer(id string, b *bundle.Bundle) (*policy.Layer, error) {
	var refs []policy.Ref
	if b != nil && b.Tenant != nil && b.Tenant.Tenant.DelegationEnabled {
		refs = refsOf(b.Tenant.Policies)
	}
	c.mu.RLock()
	cur := c.tenants[id]
	c.mu.RUnlock()
	if len(refs) == 0 {
		if cur != nil {
			c.mu.Lock()
			delete(c.tenants, id) // the tenant's policies were removed
			c.mu.Unlock()
		}
		return nil, nil
	}
	if cur != nil && cur.src == b {
		return cur.layer, cur.err
	}
	next := c.compile(policy.Tenant, "tenant/"+id, b, refs, cur)
	c.mu.Lock()
	if _, ok := c.tenants[id]; !ok && len(c.tenants) >= c.max {
		for k := range c.tenants { // map order is random: an arbitrary victim
			delete(c.tenants, k)
			break
		}
	}
	c.tenants[id] = next
	c.mu.Unlock()
	return next.layer, next.err
}

// compile compiles refs. On failure it keeps prev's layer when there is
// one (the control plane validated the policies, so a failure here is a
// version skew or a bug: the last good layer is the best enforcement
// available), and otherwise records the error so calls are refused.
func (c *cache) compile(scope policy.ScopeKind, name string, b *bundle.Bundle, refs []policy.Ref, prev *compiled) *compiled {
	layer, err := policy.CompileScope(scope, refs)
	if err != nil {
		if prev != nil && prev.layer != nil {
			c.log.Error("policies do not compile; keeping the previous ones", "scope", name, "revision", b.Revision, "err", err)
			return &compiled{src: b, layer: prev.layer}
		}
		c.log.Error("policies do not compile; refusing the calls they govern", "scope", name, "revision", b.Revision, "err", err)
		return &compiled{src: b, err: err}
	}
	for _, ig := range layer.Ignored() {
		c.log.Warn("policy ignored", "scope", name, "revision", b.Revision, "policy", ig.Name, "id", ig.ID, "reason", ig.Reason)
	}
	return &compiled{src: b, layer: layer}
}

func refsOf(entries []bundle.Entry[policy.Policy]) []policy.Ref {
	if len(entries) == 0 {
		return nil
	}
	refs := make([]policy.Ref, len(entries))
	for i, e := range entries {
		refs[i] = policy.Ref{ID: e.ID, Policy: e.Spec}
	}
	return refs
}
