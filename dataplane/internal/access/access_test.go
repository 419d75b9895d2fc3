package access

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

func tool(name string, active bool) bundle.Entry[model.Tool] {
	return bundle.Entry[model.Tool]{ID: "t-" + name, Spec: model.Tool{Name: name, Method: "GET", Path: "/x", Active: active}}
}

func ruleEntry(name string, enabled bool, tools, roles, perms []string) bundle.Entry[model.AccessRule] {
	return bundle.Entry[model.AccessRule]{ID: "r-" + name, Spec: model.AccessRule{
		Name: name, Tools: tools, Roles: roles, Permissions: perms, Enabled: enabled,
	}}
}

func globalBundle(rev int64, tools []bundle.Entry[model.Tool], rules ...bundle.Entry[model.AccessRule]) *bundle.Bundle {
	return &bundle.Bundle{Scope: model.GlobalScope, Revision: rev, BuiltAt: time.Unix(1, 0),
		Global: &bundle.Global{Tools: tools, AccessRules: rules}}
}

func tenantBundle(id string, rev int64, rules ...bundle.Entry[model.AccessRule]) *bundle.Bundle {
	return &bundle.Bundle{Scope: model.TenantScope(id), Revision: rev, BuiltAt: time.Unix(1, 0),
		Tenant: &bundle.Tenant{Tenant: model.Tenant{ID: id, Name: id}, AccessRules: rules}}
}

func l(xs ...string) []string { return append([]string{}, xs...) }

// fixture: a small catalogue and the rules most cases use.
var (
	catalogue = []bundle.Entry[model.Tool]{
		tool("orders.list", true), tool("orders.get", true), tool("orders.refund", true),
		tool("customers.list", true), tool("admin.purge", true), tool("legacy.export", false),
	}
	globalRules = []bundle.Entry[model.AccessRule]{
		ruleEntry("orders-readers", true, l("orders.list", "orders.get"), l("viewer", "admin"), nil),
		ruleEntry("orders-all", true, l("orders.*"), l("admin"), l("orders:write")),
		ruleEntry("customers", true, l("customers.*"), nil, l("customers:read")),
		ruleEntry("disabled-purge", false, l("admin.purge"), l("viewer", "admin"), nil),
		ruleEntry("legacy", true, l("legacy.*"), l("viewer", "admin"), nil),
		ruleEntry("empty-entries", true, l("admin.purge"), l(""), l("")),
	}
)

func names(ix *Index, pos []int) []string {
	out := []string{}
	for _, i := range pos {
		out = append(out, ix.Tools()[i].Name)
	}
	return out
}

func TestVisibleAndDecide(t *testing.T) {
	g := globalBundle(1, catalogue, globalRules...)
	tenants := map[string]*bundle.Bundle{
		"plain": tenantBundle("plain", 1),
		// Only admins may refund; viewers keep orders.list (unrestricted) but orders.get is
		// restricted to a role the viewer lacks.
		"narrow": tenantBundle("narrow", 3,
			ruleEntry("refund-admins", true, l("orders.refund"), l("admin"), nil),
			ruleEntry("get-support", true, l("orders.get"), l("support"), nil)),
		// A tenant rule for a tool no global rule grants (and one for an inactive tool, and
		// a nonexistent one): must not widen.
		"widen": tenantBundle("widen", 2,
			ruleEntry("grab-purge", true, l("admin.purge", "legacy.export", "nope"), l("viewer"), l("x")),
			ruleEntry("grab-all", true, l("*"), l("viewer"), nil)),
		// A disabled tenant rule restricts nothing.
		"disabled": tenantBundle("disabled", 1, ruleEntry("off", false, l("orders.*"), l("nobody"), nil)),
		// A tenant rule granting by permission.
		"perm": tenantBundle("perm", 1, ruleEntry("perm-only", true, l("orders.get"), nil, l("orders:get"))),
	}
	ix := NewIndex(g, 0)
	tests := []struct {
		name    string
		p       authn.Principal
		visible []string
		decide  map[string]Decision // tool → expected decision
	}{
		{
			name: "viewer, no tenant rules", p: authn.Principal{TenantID: "plain", Roles: l("viewer")},
			visible: l("orders.get", "orders.list"),
			decide: map[string]Decision{
				"orders.get":    {Granted: true, Rule: "orders-readers", Scope: model.GlobalScope},
				"orders.refund": {Rule: ReasonNoGrant, Scope: model.GlobalScope},
				"admin.purge":   {Rule: ReasonNoGrant, Scope: model.GlobalScope}, // its only rule is disabled
				"legacy.export": {Rule: ReasonUnknownTool},                       // inactive: never granted
				"nope":          {Rule: ReasonUnknownTool},
			},
		},
		{
			name: "admin role", p: authn.Principal{TenantID: "plain", Roles: l("admin")},
			visible: l("orders.get", "orders.list", "orders.refund"),
		},
		{
			name: "permission only", p: authn.Principal{TenantID: "plain", Permissions: l("customers:read", "orders:write")},
			visible: l("customers.list", "orders.get", "orders.list", "orders.refund"),
			decide: map[string]Decision{
				"customers.list": {Granted: true, Rule: "customers", Scope: model.GlobalScope},
				"orders.get":     {Granted: true, Rule: "orders-all", Scope: model.GlobalScope},
			},
		},
		{
			name: "a role name given as a permission does not match", p: authn.Principal{TenantID: "plain", Permissions: l("admin", "viewer")},
			visible: l(),
		},
		{
			name: "empty role and permission never match empty rule entries", p: authn.Principal{TenantID: "plain", Roles: l(""), Permissions: l("")},
			visible: l(),
		},
		{
			name: "tenant narrows viewer", p: authn.Principal{TenantID: "narrow", Roles: l("viewer")},
			visible: l("orders.list"),
			decide: map[string]Decision{
				"orders.list": {Granted: true, Rule: "orders-readers", Scope: model.GlobalScope},
				"orders.get":  {Rule: "get-support", Scope: model.TenantScope("narrow")},
			},
		},
		{
			name: "tenant narrowing keeps admin", p: authn.Principal{TenantID: "narrow", Roles: l("admin")},
			visible: l("orders.list", "orders.refund"),
			decide: map[string]Decision{
				"orders.refund": {Granted: true, Rule: "refund-admins", Scope: model.TenantScope("narrow")},
				"orders.get":    {Rule: "get-support", Scope: model.TenantScope("narrow")},
			},
		},
		{
			name: "tenant grant needs the global grant too", p: authn.Principal{TenantID: "narrow", Roles: l("support")},
			visible: l(),
			decide: map[string]Decision{
				"orders.get": {Rule: ReasonNoGrant, Scope: model.GlobalScope},
			},
		},
		{
			name: "tenant rules cannot widen", p: authn.Principal{TenantID: "widen", Roles: l("viewer"), Permissions: l("x")},
			visible: l("orders.get", "orders.list"),
			decide: map[string]Decision{
				"admin.purge":   {Rule: ReasonNoGrant, Scope: model.GlobalScope},
				"legacy.export": {Rule: ReasonUnknownTool},
				"orders.refund": {Rule: ReasonNoGrant, Scope: model.GlobalScope},
				"orders.get":    {Granted: true, Rule: "grab-all", Scope: model.TenantScope("widen")},
			},
		},
		{
			name: "disabled tenant rule restricts nothing", p: authn.Principal{TenantID: "disabled", Roles: l("viewer")},
			visible: l("orders.get", "orders.list"),
		},
		{
			name: "tenant rule by permission", p: authn.Principal{TenantID: "perm", Roles: l("viewer"), Permissions: l("orders:get")},
			visible: l("orders.get", "orders.list"),
		},
		{
			name: "tenant rule by permission, permission missing", p: authn.Principal{TenantID: "perm", Roles: l("viewer")},
			visible: l("orders.list"),
		},
		{
			name: "unknown tenant", p: authn.Principal{TenantID: "ghost", Roles: l("admin")},
			visible: l(),
			decide:  map[string]Decision{"orders.list": {Rule: ReasonUnknownTenant}},
		},
		{
			name: "no tenant", p: authn.Principal{Roles: l("admin")},
			visible: l(),
			decide:  map[string]Decision{"orders.list": {Rule: ReasonNoTenant}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := ix.View(tt.p.TenantID, tenants[tt.p.TenantID])
			require.Equal(t, tt.visible, names(ix, v.Visible(&tt.p)))
			// Decide agrees with Visible for every name in the catalogue.
			for _, e := range catalogue {
				d, _ := v.Decide(&tt.p, e.Spec.Name)
				require.Equal(t, slices.Contains(tt.visible, e.Spec.Name), d.Granted, e.Spec.Name)
			}
			for name, want := range tt.decide {
				d, _ := v.Decide(&tt.p, name)
				require.Equal(t, want, d, name)
			}
		})
	}
}

func TestNoGlobalBundle(t *testing.T) {
	ix := NewIndex(nil, 0)
	p := authn.Principal{TenantID: "a", Roles: l("admin")}
	v := ix.View("a", tenantBundle("a", 1))
	require.Empty(t, v.Visible(&p))
	d, _ := v.Decide(&p, "x")
	require.Equal(t, Decision{Rule: ReasonNoGlobal}, d)
}

// A view is cached per tenant bundle: the same bundle gives the same view, a
// new revision a new one, and a bundle for another tenant id is refused.
func TestViewCache(t *testing.T) {
	ix := NewIndex(globalBundle(1, catalogue, globalRules...), 2)
	r := ruleEntry("refund-admins", true, l("orders.refund"), l("admin"), nil)
	a1 := tenantBundle("a", 1, r)
	require.Same(t, ix.View("a", a1), ix.View("a", a1))
	a2 := tenantBundle("a", 2) // rules removed: the shared unrestricted view
	require.Same(t, ix.all, ix.View("a", a2))
	a3 := tenantBundle("a", 3, r)
	v3 := ix.View("a", a3)
	require.NotSame(t, ix.View("a", a1), v3)
	p := authn.Principal{TenantID: "b", Roles: l("admin")}
	require.Empty(t, ix.View("b", a3).Visible(&p), "a bundle of tenant a must never serve tenant b")

	// Over the bound, views still work, uncached.
	for i := range 5 {
		id := fmt.Sprintf("t%d", i)
		v := ix.View(id, tenantBundle(id, 1, r))
		p := authn.Principal{TenantID: id, Roles: l("viewer")}
		require.Equal(t, l("orders.get", "orders.list"), names(ix, v.Visible(&p)))
	}
	require.LessOrEqual(t, ix.nViews.Load(), int64(2))
}

func TestConcurrentViews(t *testing.T) {
	ix := NewIndex(globalBundle(1, catalogue, globalRules...), 0)
	r := ruleEntry("refund-admins", true, l("orders.refund"), l("admin"), nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("t%d", (g*7+i)%20)
				tb := tenantBundle(id, int64(1+i%3), r)
				p := authn.Principal{TenantID: id, Roles: l("viewer")}
				if got := names(ix, ix.View(id, tb).Visible(&p)); len(got) != 2 {
					t.Errorf("got %v", got)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// A large catalogue crosses bitset word boundaries.
func TestManyTools(t *testing.T) {
	var tools []bundle.Entry[model.Tool]
	for i := range 200 {
		tools = append(tools, tool(fmt.Sprintf("t%03d", i), i%3 != 0))
	}
	ix := NewIndex(globalBundle(1, tools, ruleEntry("all", true, l("t1*"), l("r"), nil)), 0)
	p := authn.Principal{TenantID: "a", Roles: l("r")}
	got := names(ix, ix.View("a", tenantBundle("a", 1)).Visible(&p))
	var want []string
	for i := 100; i < 200; i++ {
		if i%3 != 0 {
			want = append(want, fmt.Sprintf("t%03d", i))
		}
	}
	require.Equal(t, want, got)
}
