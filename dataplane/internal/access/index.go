package access

import (
	"sync"
	"sync/atomic"

	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// DefaultMaxTenantViews bounds the tenant views one Index caches. Beyond it,
// views are built per request (correct, only slower); the bound keeps a flood
// of tenants, or tenants deleted during one global revision, from growing the
// cache without limit.
const DefaultMaxTenantViews = 100_000

// Index is the access-control view of one global bundle. It is immutable
// except for its tenant-view cache, which is safe for concurrent use; build
// one per global bundle and share it between requests.
type Index struct {
	global *bundle.Bundle
	tools  []model.Tool   // active tools, sorted by name; a tool's position is its bit
	byName map[string]int // name → position
	rules  [][]*rule      // position → enabled global rules matching the tool, bundle order
	grants grantSets      // role/permission → tools granted by global rules
	all    *TenantView    // the view of a tenant without enabled tenant rules

	maxViews int
	views    sync.Map     // tenant id → *TenantView
	nViews   atomic.Int64 // entries in views
}

// NewIndex builds the Index of a global bundle; nil (no global bundle yet)
// gives an Index that grants nothing. maxTenantViews ≤ 0 means
// DefaultMaxTenantViews.
func NewIndex(global *bundle.Bundle, maxTenantViews int) *Index {
	if maxTenantViews <= 0 {
		maxTenantViews = DefaultMaxTenantViews
	}
	ix := &Index{global: global, byName: map[string]int{}, grants: newGrantSets(), maxViews: maxTenantViews}
	ix.all = &TenantView{ix: ix}
	if global == nil || global.Global == nil {
		return ix
	}
	for _, e := range global.Global.Tools {
		// Inactive tools are left out of the index entirely: no rule can grant them.
		if _, dup := ix.byName[e.Spec.Name]; e.Spec.Active && !dup {
			ix.byName[e.Spec.Name] = 0
			ix.tools = append(ix.tools, e.Spec)
		}
	}
	sortTools(ix.tools)
	n := len(ix.tools)
	ix.rules = make([][]*rule, n)
	rules, patterns := enabledRules(global.Global.AccessRules)
	for i, t := range ix.tools {
		ix.byName[t.Name] = i
		for j, r := range rules {
			if matchesAny(patterns[j], t.Name) {
				ix.rules[i] = append(ix.rules[i], r)
				ix.grants.add(r, i, n)
			}
		}
	}
	return ix
}

// Global returns the bundle the Index was built from (nil if none).
func (ix *Index) Global() *bundle.Bundle { return ix.global }

// Tools returns the active tools, sorted by name. Position i of the slice is
// the position Lookup and TenantView.Visible use. Read-only.
func (ix *Index) Tools() []model.Tool { return ix.tools }

// Lookup returns the position of the active tool called name.
func (ix *Index) Lookup(name string) (int, bool) {
	i, ok := ix.byName[name]
	return i, ok
}

// View returns the view for the caller's tenant: tenantID is always the
// principal's, and tb is the gateway's bundle for it (nil when it holds none).
// A caller without a tenant, or whose tenant has no bundle, gets a view that
// grants nothing.
func (ix *Index) View(tenantID string, tb *bundle.Bundle) *TenantView {
	switch {
	case ix.global == nil:
		return &TenantView{ix: ix, deny: ReasonNoGlobal}
	case tenantID == "":
		return &TenantView{ix: ix, deny: ReasonNoTenant}
	case tb == nil || tb.Tenant == nil || tb.Deleted || tb.Tenant.Tenant.ID != tenantID:
		return &TenantView{ix: ix, deny: ReasonUnknownTenant}
	case !hasEnabled(tb.Tenant.AccessRules):
		return ix.all // the common case: no narrowing, nothing to build or cache
	}
	if v, ok := ix.views.Load(tenantID); ok {
		if tv := v.(*TenantView); tv.tenant == tb {
			return tv
		}
	}
	tv := ix.buildView(tb)
	if _, loaded := ix.views.Swap(tenantID, tv); !loaded {
		if ix.nViews.Add(1) > int64(ix.maxViews) {
			// Over the bound: undo, this view is served uncached.
			ix.views.Delete(tenantID)
			ix.nViews.Add(-1)
		}
	}
	return tv
}

func hasEnabled(rules []bundle.Entry[model.AccessRule]) bool {
	for _, r := range rules {
		if r.Spec.Enabled {
			return true
		}
	}
	return false
}

// buildView derives the narrowing of one tenant bundle: which tools its rules
// restrict and to whom. Tenant rules are only matched against tools of the
// Index, so a tenant rule naming a tool no global rule grants adds nothing.
func (ix *Index) buildView(tb *bundle.Bundle) *TenantView {
	n := len(ix.tools)
	tv := &TenantView{
		ix: ix, tenant: tb, scope: tb.Scope,
		restricted: newBitset(n), grants: newGrantSets(), rules: map[int][]*rule{},
	}
	rules, patterns := enabledRules(tb.Tenant.AccessRules)
	for i, t := range ix.tools {
		for j, r := range rules {
			if matchesAny(patterns[j], t.Name) {
				tv.restricted.set(i)
				tv.rules[i] = append(tv.rules[i], r)
				tv.grants.add(r, i, n)
			}
		}
	}
	return tv
}

// TenantView is what one tenant's callers may use: the global grants,
// narrowed by the tenant's enabled rules. Immutable.
type TenantView struct {
	ix         *Index
	deny       string         // non-empty: the view grants nothing, for this reason
	tenant     *bundle.Bundle // nil: no tenant rules
	scope      model.Scope
	restricted bitset          // tools matched by at least one enabled tenant rule
	grants     grantSets       // role/permission → tools granted by tenant rules
	rules      map[int][]*rule // position → tenant rules matching it
}

// Reason is why the view grants nothing (a Reason constant), or "" when it
// may grant tools.
func (v *TenantView) Reason() string { return v.deny }

// Index returns the Index the view belongs to.
func (v *TenantView) Index() *Index { return v.ix }

// Visible returns the positions (in Index.Tools order) of the tools p may see
// and call.
func (v *TenantView) Visible(p *authn.Principal) []int {
	if v.deny != "" {
		return nil
	}
	n := len(v.ix.tools)
	granted := v.ix.grants.union(p, n)
	if v.tenant != nil {
		narrowed := v.grants.union(p, n)
		for w := range granted {
			granted[w] &= ^v.restricted[w] | narrowed[w]
		}
	}
	var out []int
	granted.each(func(i int) { out = append(out, i) })
	return out
}

// Decide decides whether p may call the tool called name. The position is
// valid when the tool exists (whether or not it is granted).
func (v *TenantView) Decide(p *authn.Principal, name string) (Decision, int) {
	if v.deny != "" {
		return Decision{Rule: v.deny}, -1
	}
	i, ok := v.ix.byName[name]
	if !ok {
		return Decision{Rule: ReasonUnknownTool}, -1
	}
	global := firstGranting(v.ix.rules[i], p)
	if global == nil {
		return Decision{Rule: ReasonNoGrant, Scope: model.GlobalScope}, i
	}
	if v.tenant == nil || !v.restricted.has(i) {
		return Decision{Granted: true, Rule: global.name, Scope: model.GlobalScope}, i
	}
	if t := firstGranting(v.rules[i], p); t != nil {
		return Decision{Granted: true, Rule: t.name, Scope: v.scope}, i
	}
	// Narrowed away: name the first tenant rule that restricts the tool.
	return Decision{Rule: v.rules[i][0].name, Scope: v.scope}, i
}

func firstGranting(rules []*rule, p *authn.Principal) *rule {
	for _, r := range rules {
		if r.grants(p) {
			return r
		}
	}
	return nil
}
