package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

// exposure is what a tenant-A admin may get from a route.
type exposure int

const (
	open          exposure = iota // public route: no token, no tenant data
	platformRoute                 // 403 for any tenant admin
	tenantRoute                   // :tenant routes: 403 for another tenant; 404 for another tenant's ids under its own
	ownView                       // 200, narrowed to the caller's tenant (or global data)
)

// crossTenantTable says, for EVERY route, what tenant A may get. A route
// missing from it fails TestCrossTenant, so a new route cannot ship without
// a decision here.
var crossTenantTable = map[string]exposure{
	"GET /healthz":                open,
	"GET /readyz":                 open,
	"GET /metrics":                open,
	"GET /v1/bundle-signing-keys": open,

	"GET /v1/tenants":             ownView,
	"POST /v1/tenants":            platformRoute,
	"GET /v1/tenants/:tenant":     tenantRoute,
	"PUT /v1/tenants/:tenant":     platformRoute,
	"DELETE /v1/tenants/:tenant":  platformRoute,
	"GET /v1/tools":               ownView,
	"POST /v1/tools":              platformRoute,
	"GET /v1/tools/:id":           platformRoute,
	"PUT /v1/tools/:id":           platformRoute,
	"DELETE /v1/tools/:id":        platformRoute,
	"GET /v1/tool-sources":        platformRoute,
	"POST /v1/tool-sources":       platformRoute,
	"GET /v1/tool-sources/:id":    platformRoute,
	"DELETE /v1/tool-sources/:id": platformRoute,

	"GET /v1/signing-keys":              platformRoute,
	"POST /v1/signing-keys":             platformRoute,
	"GET /v1/signing-keys/:kid":         platformRoute,
	"POST /v1/signing-keys/:kid/rotate": platformRoute,
	"POST /v1/signing-keys/:kid/revoke": platformRoute,

	"GET /v1/approvals":                              platformRoute,
	"GET /v1/tenants/:tenant/approvals":              tenantRoute,
	"GET /v1/tenants/:tenant/approvals/:id":          tenantRoute,
	"POST /v1/tenants/:tenant/approvals/:id/approve": tenantRoute,
	"POST /v1/tenants/:tenant/approvals/:id/deny":    tenantRoute,
	"GET /v1/audit-events":                           platformRoute,
	"GET /v1/tenants/:tenant/audit-events":           tenantRoute,
	"GET /v1/fleet":                                  platformRoute,

	"GET /v1/domains":                 platformRoute,
	"POST /v1/domains":                platformRoute,
	"GET /v1/domains/:id":             platformRoute,
	"PUT /v1/domains/:id":             platformRoute,
	"DELETE /v1/domains/:id":          platformRoute,
	"GET /v1/tenants/:tenant/domains": tenantRoute,
}

func init() {
	for _, c := range []string{"access-rules", "policies", "hooks", "masking-rules", "rate-limits", "network-rules"} {
		for _, m := range []string{"GET /v1/", "POST /v1/"} {
			crossTenantTable[m+c] = platformRoute
		}
		for _, m := range []string{"GET /v1/", "PUT /v1/", "DELETE /v1/"} {
			crossTenantTable[m+c+"/:id"] = platformRoute
		}
		if c == "hooks" {
			continue
		}
		for _, m := range []string{"GET", "POST"} {
			crossTenantTable[m+" /v1/tenants/:tenant/"+c] = tenantRoute
		}
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			crossTenantTable[m+" /v1/tenants/:tenant/"+c+"/:id"] = tenantRoute
		}
	}
}

// collectionOf is the collection a route's :id belongs to.
func collectionOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] == ":id" && i > 0 {
			return segs[i-1]
		}
	}
	return ""
}

// TestCrossTenant: a tenant-admin of A, on every route, with B's tenant id
// and with ids guessed or copied from B's real resources, gets 403 or 404 and
// never B's data, and changes nothing.
func TestCrossTenant(t *testing.T) {
	env := newEnv(t)
	w := env.populate()
	tokA := env.tenantToken(tenantA)
	// Markers of B's data: none may appear in any response to A.
	secrets := []string{"tb-secret", "Tenant tb", w.ids["tenant:access-rules"], w.ids["tenant:policies"],
		w.ids["tenant:masking-rules"], w.ids["tenant:approvals"], w.ids["domains"],
		w.ids["tenant:rate-limits"], w.ids["tenant:network-rules"]}
	before := env.snapshot()

	for _, r := range env.e.Routes() {
		key := r.Method + " " + r.Path
		exp, ok := crossTenantTable[key]
		if !ok {
			t.Errorf("route %s is missing from crossTenantTable: decide what a tenant admin may get from it", key)
			continue
		}
		coll := collectionOf(r.Path)
		// Each route is tried with every id a tenant-A admin could come up with.
		type attempt struct {
			tenant, id string
			want       []int
		}
		var attempts []attempt
		switch exp {
		case open:
			continue
		case platformRoute:
			attempts = []attempt{{tenantB, w.ids[coll], []int{http.StatusForbidden}}, {tenantA, uuid.NewString(), []int{http.StatusForbidden}}}
		case tenantRoute:
			attempts = []attempt{
				{tenantB, w.ids["tenant:"+coll], []int{http.StatusForbidden}},
				{tenantB, uuid.NewString(), []int{http.StatusForbidden}},
			}
			if coll != "" { // B's real id under A's own tenant: not found
				attempts = append(attempts, attempt{tenantA, w.ids["tenant:"+coll], []int{http.StatusNotFound}})
			}
		case ownView:
			attempts = []attempt{{tenantA, "", []int{http.StatusOK}}}
		}
		for _, a := range attempts {
			path := strings.NewReplacer(":tenant", a.tenant, ":id", a.id, ":kid", w.kid).Replace(r.Path)
			out := env.do(req{method: r.Method, path: path, token: tokA, body: bodyFor(r.Method, r.Path)})
			require.Contains(t, a.want, out.status, "%s %s as tenant admin of %s: %s", r.Method, path, tenantA, out.body)
			for _, s := range secrets {
				require.NotContains(t, string(out.body), s, "%s %s leaked tenant %s's data", r.Method, path, tenantB)
			}
		}
	}
	require.Equal(t, before, env.snapshot(), "a tenant admin of %s changed something", tenantA)

	// The table has no stale entries either.
	served := map[string]bool{}
	for _, r := range env.e.Routes() {
		served[r.Method+" "+r.Path] = true
	}
	for key := range crossTenantTable {
		require.True(t, served[key], "crossTenantTable lists %s, which is not a route", key)
	}
}

// TestAuthentication: no token, a bad token, a token without an admin role
// and a tenant-admin token without a tenant are all refused on every
// non-public route.
func TestAuthentication(t *testing.T) {
	env := newEnv(t)
	other, err := newEnvIssuerToken(env)
	require.NoError(t, err)
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"garbage", "not-a-jwt", http.StatusUnauthorized},
		{"foreign issuer", other, http.StatusUnauthorized},
		{"no admin role", env.token("mallory", tenantA, "viewer"), http.StatusForbidden},
		{"tenant admin without tenant", env.token("mallory", "", "tenant-admin"), http.StatusForbidden},
		{"tenant admin with malformed tenant", env.token("mallory", "../tb", "tenant-admin"), http.StatusForbidden},
	}
	for _, r := range env.e.Routes() {
		if crossTenantTable[r.Method+" "+r.Path] == open {
			continue
		}
		path := strings.NewReplacer(":tenant", tenantA, ":id", uuid.NewString(), ":kid", "bk_x").Replace(r.Path)
		for _, c := range cases {
			out := env.do(req{method: r.Method, path: path, token: c.token, body: bodyFor(r.Method, r.Path), invalid: c.token == ""})
			require.Equal(t, c.status, out.status, "%s %s with %s: %s", r.Method, path, c.name, out.body)
			if c.status == http.StatusUnauthorized {
				require.True(t, strings.HasPrefix(out.header.Get("WWW-Authenticate"), "Bearer"), "missing WWW-Authenticate")
				require.Equal(t, "unauthenticated", out.problemCode(t))
			}
		}
	}
}

// newEnvIssuerToken mints a well-formed platform-admin token from an issuer
// the server does not trust.
func newEnvIssuerToken(env *env) (string, error) {
	other, err := devissuer.New("http://127.0.0.1:1/untrusted")
	if err != nil {
		return "", err
	}
	return other.Mint(devissuer.Claims{Subject: "root", Roles: []string{"platform-admin"}, Audience: []string{adminAudience}})
}
