package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// hostnamesOf returns the hostnames of a domain list response, sorted.
func hostnamesOf(t *testing.T, r res) []string {
	t.Helper()
	var out []string
	for _, it := range r.json(t)["items"].([]any) {
		out = append(out, it.(map[string]any)["hostname"].(string))
	}
	slices.Sort(out)
	return out
}

// TestDomains: the lifecycle of custom domains through the API, who may see
// them, and that deleting a tenant takes its domains with it.
func TestDomains(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	env.seedTenant(tenantA, false)
	env.seedTenant(tenantB, false)

	created := env.must(req{method: "POST", path: "/v1/domains", token: p, body: map[string]any{
		"hostname": "mcp.ta.test", "tenant_id": tenantA, "authorization_server": "https://login.ta.test",
	}}, http.StatusCreated)
	a := created.json(t)
	aPath := "/v1/domains/" + a["id"].(string)
	require.Equal(t, aPath, created.header.Get("Location"))
	require.Equal(t, `"1"`, created.header.Get("ETag"))
	require.Equal(t, "mcp.ta.test", a["hostname"])
	require.Equal(t, tenantA, a["tenant_id"])
	require.Equal(t, "https://login.ta.test", a["authorization_server"])

	plat := env.create(p, "/v1/domains", domainBody(platformHostname, ""))
	require.NotContains(t, plat, "tenant_id", "a platform domain has no tenant")
	env.create(p, "/v1/domains", domainBody("mcp.tb.test", tenantB))

	// A hostname belongs to one owner only, whoever asks for it next.
	snap := env.snapshot()
	dup := env.must(req{method: "POST", path: "/v1/domains", token: p, body: domainBody("mcp.ta.test", tenantB)}, http.StatusConflict)
	require.Equal(t, "conflict", dup.problemCode(t))
	ghost := env.must(req{method: "POST", path: "/v1/domains", token: p, body: domainBody("mcp.ghost.test", "ghost")}, http.StatusUnprocessableEntity)
	require.Equal(t, "validation-failed", ghost.problemCode(t))
	require.Equal(t, snap, env.snapshot())

	// Idempotency-Key replays the creation instead of clashing with it.
	key := map[string]string{"Idempotency-Key": "domain-1"}
	first := env.must(req{method: "POST", path: "/v1/domains", token: p, body: domainBody("api.ta.test", tenantA), headers: key}, http.StatusCreated)
	again := env.must(req{method: "POST", path: "/v1/domains", token: p, body: domainBody("api.ta.test", tenantA), headers: key}, http.StatusCreated)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.body), string(again.body))
	env.must(req{method: "POST", path: "/v1/domains", token: p, body: domainBody("other.ta.test", tenantA), headers: key}, http.StatusUnprocessableEntity)

	all := env.must(req{method: "GET", path: "/v1/domains?limit=2", token: p}, http.StatusOK).json(t)
	require.Len(t, all["items"], 2)
	require.NotEmpty(t, all["next_cursor"], "four domains in pages of two")
	require.Equal(t, []string{"api.ta.test", "mcp.ta.test"},
		hostnamesOf(t, env.must(req{method: "GET", path: "/v1/tenants/ta/domains", token: p}, http.StatusOK)))

	// If-Match on replace and delete.
	got := env.must(req{method: "GET", path: aPath, token: p}, http.StatusOK)
	etag := got.header.Get("ETag")
	moved := env.must(req{method: "PUT", path: aPath, token: p, body: domainBody("mcp2.ta.test", tenantA),
		headers: map[string]string{"If-Match": etag}}, http.StatusOK).json(t)
	require.Equal(t, "mcp2.ta.test", moved["hostname"])
	require.NotContains(t, moved, "authorization_server", "PUT replaces the whole domain")
	require.EqualValues(t, 2, moved["revision"])
	env.must(req{method: "PUT", path: aPath, token: p, body: domainBody("mcp3.ta.test", tenantA),
		headers: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed)
	env.must(req{method: "PUT", path: aPath, token: p, body: domainBody(platformHostname, tenantA)}, http.StatusConflict)
	env.must(req{method: "DELETE", path: aPath, token: p, headers: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed)

	// A tenant admin lists its own domains, and nothing else.
	tokA := env.tenantToken(tenantA)
	require.Equal(t, []string{"api.ta.test", "mcp2.ta.test"},
		hostnamesOf(t, env.must(req{method: "GET", path: "/v1/tenants/ta/domains", token: tokA}, http.StatusOK)))
	env.must(req{method: "GET", path: "/v1/tenants/tb/domains", token: tokA}, http.StatusForbidden)
	env.must(req{method: "GET", path: "/v1/domains", token: tokA}, http.StatusForbidden)
	env.must(req{method: "GET", path: aPath, token: tokA}, http.StatusForbidden)
	env.must(req{method: "POST", path: "/v1/domains", token: tokA, body: domainBody("evil.ta.test", tenantA)}, http.StatusForbidden)
	env.must(req{method: "DELETE", path: aPath, token: tokA}, http.StatusForbidden)

	// Deleting a tenant deletes its domains.
	env.must(req{method: "DELETE", path: "/v1/tenants/tb", token: p}, http.StatusNoContent)
	require.Equal(t, []string{"api.ta.test", platformHostname, "mcp2.ta.test"},
		hostnamesOf(t, env.must(req{method: "GET", path: "/v1/domains", token: p}, http.StatusOK)))
	// Its hostname is free again.
	env.create(p, "/v1/domains", domainBody("mcp.tb.test", ""))

	env.must(req{method: "DELETE", path: aPath, token: p}, http.StatusNoContent)
	env.must(req{method: "GET", path: aPath, token: p}, http.StatusNotFound)
	env.must(req{method: "DELETE", path: aPath, token: p}, http.StatusNotFound)
}
