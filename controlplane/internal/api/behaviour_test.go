package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

func TestIdempotencyKey(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	key := map[string]string{"Idempotency-Key": "create-acme-1"}
	body := map[string]any{"id": "acme", "name": "Acme"}

	first := env.must(req{method: "POST", path: "/v1/tenants", token: p, body: body, headers: key}, http.StatusCreated)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	snap := env.snapshot()

	// Same key, same request: the stored response, nothing written.
	again := env.must(req{method: "POST", path: "/v1/tenants", token: p, body: body, headers: key}, http.StatusCreated)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(first.body), string(again.body))
	require.Equal(t, first.header.Get("Location"), again.header.Get("Location"))
	require.Equal(t, first.header.Get("ETag"), again.header.Get("ETag"))
	require.Equal(t, snap, env.snapshot())

	// Same key, different request: refused, nothing written.
	other := env.must(req{method: "POST", path: "/v1/tenants", token: p, body: map[string]any{"id": "acme2", "name": "Other"}, headers: key}, http.StatusUnprocessableEntity)
	require.Equal(t, "idempotency-key-reuse", other.problemCode(t))
	require.Equal(t, snap, env.snapshot())

	// The key belongs to the principal: another admin's identical key is a
	// new request (here: a name clash, since acme exists).
	p2 := env.token("root2", "", "platform-admin")
	clash := env.must(req{method: "POST", path: "/v1/tenants", token: p2, body: body, headers: key}, http.StatusConflict)
	require.Equal(t, "conflict", clash.problemCode(t))

	// Without a key, a repeat is a plain conflict.
	env.must(req{method: "POST", path: "/v1/tenants", token: p, body: body}, http.StatusConflict)

	// A failed write stores no response: fixing the request and retrying
	// with the same key works.
	k2 := map[string]string{"Idempotency-Key": "rule-1"}
	env.must(req{method: "POST", path: "/v1/access-rules", token: p, body: map[string]any{"name": 1}, headers: k2, invalid: true}, http.StatusUnprocessableEntity)
	env.must(req{method: "POST", path: "/v1/access-rules", token: p, body: accessRuleBody("r1"), headers: k2}, http.StatusCreated)

	// Keys on secret-bearing responses are refused rather than stored.
	env.must(req{method: "POST", path: "/v1/signing-keys", token: p, headers: key}, http.StatusBadRequest)

	bad := env.must(req{method: "POST", path: "/v1/tenants", token: p, body: body, headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 300)}, invalid: true}, http.StatusBadRequest)
	require.Equal(t, "invalid-parameter", bad.problemCode(t))
}

func TestIfMatch(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	env.seedTenant("acme", false)

	got := env.must(req{method: "GET", path: "/v1/tenants/acme", token: p}, http.StatusOK)
	etag := got.header.Get("ETag")
	require.Regexp(t, `^"\d+"$`, etag)

	upd := env.must(req{method: "PUT", path: "/v1/tenants/acme", token: p, body: map[string]any{"name": "Acme Inc"}, headers: map[string]string{"If-Match": etag}}, http.StatusOK)
	require.NotEqual(t, etag, upd.header.Get("ETag"))
	snap := env.snapshot()
	for _, stale := range []string{etag, `"999"`, `W/"1"`, "garbage"} {
		out := env.must(req{method: "PUT", path: "/v1/tenants/acme", token: p, body: map[string]any{"name": "Lost update"}, headers: map[string]string{"If-Match": stale}}, http.StatusPreconditionFailed)
		require.Equal(t, "precondition-failed", out.problemCode(t))
	}
	env.must(req{method: "DELETE", path: "/v1/tenants/acme", token: p, headers: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed)
	require.Equal(t, snap, env.snapshot())

	// Same for a spec resource.
	rule := env.must(req{method: "POST", path: "/v1/access-rules", token: p, body: accessRuleBody("r1")}, http.StatusCreated)
	loc := rule.header.Get("Location")
	require.Equal(t, "/v1/access-rules/"+rule.json(t)["id"].(string), loc)
	etag = rule.header.Get("ETag")
	env.must(req{method: "PUT", path: loc, token: p, body: accessRuleBody("r1-renamed"), headers: map[string]string{"If-Match": etag}}, http.StatusOK)
	env.must(req{method: "PUT", path: loc, token: p, body: accessRuleBody("r1-again"), headers: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed)
	env.must(req{method: "DELETE", path: loc, token: p, headers: map[string]string{"If-Match": etag}}, http.StatusPreconditionFailed)
	// If-Match is optional.
	env.must(req{method: "DELETE", path: loc, token: p}, http.StatusNoContent)
	env.must(req{method: "GET", path: loc, token: p}, http.StatusNotFound)
}

func TestTenantDelegation(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	env.seedTenant("on", true)
	env.seedTenant("off", false)
	env.create(p, "/v1/tools", toolBody("orders.list"))

	on, off := env.tenantToken("on"), env.tenantToken("off")
	snap := env.snapshot()

	// Delegation disabled: 409 delegation-disabled for the tenant admin and
	// the platform admin alike, on every delegated collection.
	for _, c := range []struct {
		coll string
		body any
	}{{"policies", policyBody("deny-contractors", "deny")}, {"access-rules", accessRuleBody("narrow")}, {"masking-rules", maskingBody("mask")}} {
		for _, tok := range []string{off, p} {
			out := env.must(req{method: "POST", path: "/v1/tenants/off/" + c.coll, token: tok, body: c.body}, http.StatusConflict)
			require.Equal(t, "delegation-disabled", out.problemCode(t))
		}
	}
	// Tenant that does not exist.
	out := env.must(req{method: "POST", path: "/v1/tenants/ghost/policies", token: p, body: policyBody("x", "deny")}, http.StatusNotFound)
	require.Equal(t, "not-found", out.problemCode(t))

	// Widening attempts: an allow, raw Rego, an unknown tool.
	env.must(req{method: "POST", path: "/v1/tenants/on/policies", token: on, body: policyBody("widen", "allow")}, http.StatusUnprocessableEntity)
	rego := policyBody("rego", "deny")
	delete(rego, "match")
	rego["rego"] = "package portcullis\n\ndeny if { true }"
	env.must(req{method: "POST", path: "/v1/tenants/on/policies", token: on, body: rego}, http.StatusUnprocessableEntity)
	unknown := env.must(req{method: "POST", path: "/v1/tenants/on/policies", token: on, body: policyBody("typo", "deny", "orders.*", "orders.lsit")}, http.StatusUnprocessableEntity)
	require.Contains(t, string(unknown.body), `"tools[1]"`)
	require.Equal(t, snap, env.snapshot())

	// A restriction is fine, globs included.
	pol := env.create(on, "/v1/tenants/on/policies", policyBody("deny-contractors", "deny", "orders.*", "orders.list"))
	require.Equal(t, "on", pol["tenant_id"])
	require.Equal(t, "deny", pol["effect"])
	// The same name may exist in another scope, not twice in one.
	env.create(p, "/v1/policies", policyBody("deny-contractors", "deny"))
	env.must(req{method: "POST", path: "/v1/tenants/on/policies", token: on, body: policyBody("deny-contractors", "deny")}, http.StatusConflict)

	// Turning delegation off stops the tenant admin's writes, deletes included;
	// the platform admin may still clean up.
	env.must(req{method: "PUT", path: "/v1/tenants/on", token: p, body: map[string]any{"name": "On", "delegation_enabled": false}}, http.StatusOK)
	polPath := "/v1/tenants/on/policies/" + pol["id"].(string)
	env.must(req{method: "PUT", path: polPath, token: on, body: policyBody("deny-contractors", "deny")}, http.StatusConflict)
	env.must(req{method: "DELETE", path: polPath, token: on}, http.StatusConflict)
	env.must(req{method: "GET", path: polPath, token: on}, http.StatusOK)
	env.must(req{method: "DELETE", path: polPath, token: p}, http.StatusNoContent)

	// Hooks are never delegated.
	env.must(req{method: "GET", path: "/v1/tenants/on/hooks", token: on, invalid: true}, http.StatusNotFound)
}

func TestImportOpenAPI(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()

	out := env.must(req{method: "POST", path: "/v1/tool-sources", token: p, body: importBody("pets", petstore)}, http.StatusCreated)
	res := out.json(t)
	src := res["source"].(map[string]any)
	require.Equal(t, "https://pets.example.test/v1", src["base_url"])
	require.Equal(t, "/v1/tool-sources/"+src["id"].(string), out.header.Get("Location"))
	tools := res["tools"].([]any)
	require.Len(t, tools, 3)
	byName := map[string]map[string]any{}
	for _, x := range tools {
		tool := x.(map[string]any)
		byName[tool["name"].(string)] = tool
		require.Equal(t, src["id"], tool["source_id"])
	}
	require.Contains(t, byName, "listPets")
	require.Contains(t, byName, "createPet")
	require.Contains(t, byName, "get_pets_petId")
	get := byName["get_pets_petId"]
	in := get["input_schema"].(map[string]any)
	require.ElementsMatch(t, []any{"petId"}, in["required"])
	require.Contains(t, in["properties"], "X-Trace")
	require.Equal(t, "object", get["output_schema"].(map[string]any)["type"])
	create := byName["createPet"]["input_schema"].(map[string]any)
	require.Equal(t, map[string]any{"$ref": "#/$defs/Pet"}, create["properties"].(map[string]any)["body"])
	require.Contains(t, create["$defs"], "Owner", "referenced schemas travel with the tool")
	list := byName["listPets"]["output_schema"].(map[string]any)
	require.Equal(t, []any{"items"}, list["required"], "an array response is described as the gateway's {\"items\": [...]} wrapper")
	for name, tool := range byName {
		require.Equal(t, float64(3000), tool["timeout_ms"], "%s gets its source's (default) timeout", name)
	}

	listed := env.must(req{method: "GET", path: "/v1/tools", token: p}, http.StatusOK).json(t)
	require.Len(t, listed["items"], 3)

	// A second import whose operations clash with existing tools writes nothing.
	snap := env.snapshot()
	clash := env.must(req{method: "POST", path: "/v1/tool-sources", token: p, body: importBody("pets-again", petstore)}, http.StatusConflict)
	require.Equal(t, "conflict", clash.problemCode(t))
	require.Equal(t, snap, env.snapshot())

	// A YAML string and a JSON object both load.
	doc := `{"openapi":"3.0.3","info":{"title":"x","version":"1"},"paths":{"/ping":{"get":{"operationId":"ping one!","responses":{"204":{"description":"ok"}}}}}}`
	obj := env.must(req{method: "POST", path: "/v1/tool-sources", token: p, body: `{"name":"ping","base_url":"https://ping.example.test","document":` + doc + `}`}, http.StatusCreated).json(t)
	require.Equal(t, "ping_one", obj["tools"].([]any)[0].(map[string]any)["name"])

	// The source's timeout reaches the tools; its headers do not.
	timed := env.must(req{method: "POST", path: "/v1/tool-sources", token: p, body: `{"name":"timed","base_url":"https://ping.example.test",` +
		`"timeout_ms":1200,"headers":{"X-Api-Key":"secret"},"document":` + strings.Replace(doc, "ping one!", "timed", 1) + `}`}, http.StatusCreated).json(t)
	timedTool := timed["tools"].([]any)[0].(map[string]any)
	require.Equal(t, float64(1200), timedTool["timeout_ms"])
	require.NotContains(t, fmt.Sprint(timedTool), "secret")

	// Deleting the source deletes its tools, in one go.
	env.must(req{method: "DELETE", path: "/v1/tool-sources/" + src["id"].(string), token: p}, http.StatusNoContent)
	listed = env.must(req{method: "GET", path: "/v1/tools", token: p}, http.StatusOK).json(t)
	require.Len(t, listed["items"], 2)
	env.must(req{method: "GET", path: "/v1/tool-sources/" + src["id"].(string), token: p}, http.StatusNotFound)
}

func TestTenantsNarrowedForTenantAdmins(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	for i := 0; i < 5; i++ {
		env.seedTenant(fmt.Sprintf("t%d", i), i%2 == 0)
	}
	// Platform admins page through everything.
	var ids []string
	cursor := ""
	for {
		path := "/v1/tenants?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		page := env.must(req{method: "GET", path: path, token: p}, http.StatusOK).json(t)
		for _, it := range page["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	require.ElementsMatch(t, []string{"t0", "t1", "t2", "t3", "t4"}, ids)

	// A tenant admin sees only its own tenant.
	own := env.must(req{method: "GET", path: "/v1/tenants", token: env.tenantToken("t3")}, http.StatusOK).json(t)
	require.Len(t, own["items"], 1)
	require.Equal(t, "t3", own["items"].([]any)[0].(map[string]any)["id"])
	env.must(req{method: "GET", path: "/v1/tenants/t3", token: env.tenantToken("t3")}, http.StatusOK)

	for _, q := range []string{"limit=0", "limit=501", "limit=x", "cursor=%25%25not-a-cursor"} {
		out := env.must(req{method: "GET", path: "/v1/tenants?" + q, token: p, invalid: true}, http.StatusBadRequest)
		require.Equal(t, "invalid-parameter", out.problemCode(t))
	}
}

func TestSigningKeys(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	created := env.must(req{method: "POST", path: "/v1/signing-keys", token: p}, http.StatusCreated)
	require.Equal(t, "no-store", created.header.Get("Cache-Control"))
	key := created.json(t)
	kid := key["kid"].(string)
	require.NotEmpty(t, key["secret"])
	require.Equal(t, "active", key["status"])

	list := env.must(req{method: "GET", path: "/v1/signing-keys", token: p}, http.StatusOK)
	require.NotContains(t, string(list.body), "secret")
	require.NotContains(t, string(list.body), key["secret"].(string))

	rotated := env.must(req{method: "POST", path: "/v1/signing-keys/" + kid + "/rotate", token: p, body: map[string]any{"overlap_seconds": 120}}, http.StatusCreated).json(t)
	require.NotEqual(t, kid, rotated["kid"])
	require.NotEmpty(t, rotated["secret"])
	old := env.must(req{method: "GET", path: "/v1/signing-keys/" + kid, token: p}, http.StatusOK).json(t)
	require.Equal(t, "retiring", old["status"])
	notAfter, err := time.Parse(time.RFC3339Nano, old["not_after"].(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(120*time.Second), notAfter, time.Minute)
	require.NotContains(t, old, "secret")

	revoked := env.must(req{method: "POST", path: "/v1/signing-keys/" + kid + "/revoke", token: p}, http.StatusOK).json(t)
	require.Equal(t, "revoked", revoked["status"])
	env.must(req{method: "POST", path: "/v1/signing-keys/bk_nope/rotate", token: p}, http.StatusNotFound)
	env.must(req{method: "GET", path: "/v1/signing-keys/bk_nope", token: p}, http.StatusNotFound)
	env.must(req{method: "GET", path: "/v1/signing-keys/..%2f..", token: p, invalid: true}, http.StatusNotFound)
}

func TestApprovals(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	a1 := env.createApproval(tenantA, "agent-user")
	a2 := env.createApproval(tenantA, "agent-user")
	tok := env.tenantToken(tenantA)

	list := env.must(req{method: "GET", path: "/v1/tenants/ta/approvals?status=pending", token: tok}, http.StatusOK).json(t)
	require.Len(t, list["items"], 2)
	env.must(req{method: "GET", path: "/v1/tenants/ta/approvals?status=bogus", token: tok, invalid: true}, http.StatusBadRequest)

	dec := env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a1.ID + "/approve", token: tok, body: map[string]any{"comment": "ok"}}, http.StatusOK).json(t)
	require.Equal(t, "approved", dec["status"])
	d := dec["decisions"].([]any)[0].(map[string]any)
	require.Equal(t, "admin-ta", d["by"])
	require.Equal(t, "ok", d["comment"])
	out := env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a1.ID + "/deny", token: tok}, http.StatusConflict)
	require.Equal(t, "conflict", out.problemCode(t))

	// The user who made the call may not approve it, even as an admin.
	self := env.token("agent-user", tenantA, "tenant-admin")
	env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a2.ID + "/approve", token: self}, http.StatusForbidden)
	denied := env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a2.ID + "/deny", token: env.platformToken()}, http.StatusOK).json(t)
	require.Equal(t, "denied", denied["status"])

	all := env.must(req{method: "GET", path: "/v1/approvals", token: env.platformToken()}, http.StatusOK).json(t)
	require.Len(t, all["items"], 2)
	env.must(req{method: "GET", path: "/v1/tenants/ta/approvals/" + uuid.NewString(), token: tok}, http.StatusNotFound)
	env.must(req{method: "GET", path: "/v1/tenants/ta/approvals/not-a-uuid", token: tok}, http.StatusNotFound)
}

func TestAuditQuery(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	env.seedTenant(tenantB, true)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var evs []store.AuditEvent
	for i := 0; i < 6; i++ {
		tenant, decision := tenantA, "allow"
		if i%2 == 1 {
			tenant, decision = tenantB, "deny"
		}
		id := fmt.Sprintf("evt-%d", i)
		evs = append(evs, store.AuditEvent{ID: id, Time: base.Add(time.Duration(i) * time.Minute), TenantID: tenant, UserID: "u" + tenant,
			Tool: "orders.list", Decision: decision, Event: []byte(`{"id":"` + id + `"}`)})
	}
	env.insertAudit(evs...)
	p := env.platformToken()
	count := func(token, path string) int {
		return len(env.must(req{method: "GET", path: path, token: token}, http.StatusOK).json(t)["items"].([]any))
	}
	require.Equal(t, 6, count(p, "/v1/audit-events"))
	require.Equal(t, 3, count(p, "/v1/audit-events?decision=deny"))
	require.Equal(t, 3, count(p, "/v1/audit-events?tenant=ta"))
	require.Equal(t, 2, count(p, "/v1/audit-events?from=2026-03-01T12:02:00Z&to=2026-03-01T12:04:00Z"))
	require.Equal(t, 3, count(env.tenantToken(tenantA), "/v1/tenants/ta/audit-events"))
	require.Equal(t, 0, count(env.tenantToken(tenantA), "/v1/tenants/ta/audit-events?user=utb"))
	require.Equal(t, 2, count(p, "/v1/audit-events?limit=2"))

	for _, q := range []string{"from=yesterday", "to=2026-13-01T00:00:00Z", "from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z"} {
		env.must(req{method: "GET", path: "/v1/audit-events?" + q, token: p, invalid: true}, http.StatusBadRequest)
	}
	// A tenant admin cannot widen its query to another tenant.
	env.must(req{method: "GET", path: "/v1/tenants/ta/audit-events?tenant=tb", token: env.tenantToken(tenantA), invalid: true}, http.StatusBadRequest)
}

func TestFleetAndHealth(t *testing.T) {
	env := newEnv(t)
	err := env.store.Tx(t.Context(), store.Actor{Subject: "fleet", Platform: true}, func(tx store.Tx) error {
		return tx.UpsertGateway(t.Context(), store.Gateway{ID: "gw-1", Hostname: "gw-1.local", Version: "dev",
			StartedAt: time.Now().Add(-time.Hour), LastSeen: time.Now(), Revisions: map[string]int64{"global": 3, "tenant/ta": 1}})
	})
	require.NoError(t, err)
	fleet := env.must(req{method: "GET", path: "/v1/fleet", token: env.platformToken()}, http.StatusOK).json(t)
	gw := fleet["items"].([]any)[0].(map[string]any)
	require.Equal(t, "gw-1", gw["id"])
	require.Equal(t, float64(3), gw["revisions"].(map[string]any)["global"])

	env.must(req{method: "GET", path: "/healthz"}, http.StatusOK)
	env.must(req{method: "GET", path: "/readyz"}, http.StatusOK)
	jwks := env.must(req{method: "GET", path: "/v1/bundle-signing-keys"}, http.StatusOK)
	require.JSONEq(t, testBundleJWKS, string(jwks.body))
	metrics := env.must(req{method: "GET", path: "/metrics"}, http.StatusOK)
	require.Contains(t, string(metrics.body), `portcullis_admin_http_requests_total{method="GET",route="/v1/fleet",status="200"} 1`)
	require.Contains(t, string(metrics.body), `portcullis_admin_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200"`)

	// Unknown routes and methods are problems too.
	out := env.must(req{method: "GET", path: "/v1/nope", invalid: true}, http.StatusNotFound)
	require.Equal(t, "not-found", out.problemCode(t))
	out = env.must(req{method: "PATCH", path: "/v1/tenants", token: env.platformToken(), invalid: true}, http.StatusMethodNotAllowed)
	require.Equal(t, "method-not-allowed", out.problemCode(t))
}

// TestApproverRoles: when the policy that asked for an approval names
// approvers, only they may decide it.
func TestApproverRoles(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	p := env.platformToken()
	env.create(p, "/v1/tools", toolBody("orders.list"))
	pol := policyBody("needs-approval", "approval_required")
	pol["approval"] = map[string]any{"approver_roles": []string{"finance"}, "approver_emails": []string{"cfo@example.test"}, "min_approvals": 1, "expiry_sec": 3600}
	env.create(p, "/v1/policies", pol)
	a := env.createApproval(tenantA, "agent-user")
	path := "/v1/tenants/ta/approvals/" + a.ID + "/approve"

	out := env.must(req{method: "POST", path: path, token: env.tenantToken(tenantA)}, http.StatusForbidden)
	require.Equal(t, "forbidden", out.problemCode(t))
	env.must(req{method: "POST", path: path, token: p}, http.StatusForbidden)
	env.must(req{method: "POST", path: path, token: env.token("cfo", tenantA, "tenant-admin")}, http.StatusOK) // email cfo@example.test

	b := env.createApproval(tenantA, "agent-user")
	env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + b.ID + "/deny", token: env.token("fin", tenantA, "tenant-admin", "finance")}, http.StatusOK)
}

// TestConcurrentIdempotentCreates: retries racing with the same key create
// one resource, and every racer gets the same response.
func TestConcurrentIdempotentCreates(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	tok := env.tenantToken(tenantA)
	body := bodyBytes(t, accessRuleBody("raced"))
	const n = 6
	type result struct {
		status int
		body   string
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			r := env.newRequest(req{method: "POST", path: "/v1/tenants/ta/access-rules", token: tok, headers: map[string]string{"Idempotency-Key": "race-1"}}, body)
			rec := httptest.NewRecorder()
			env.e.ServeHTTP(rec, r)
			results <- result{rec.Code, rec.Body.String()}
		}()
	}
	var first result
	for i := 0; i < n; i++ {
		r := <-results
		require.Equal(t, http.StatusCreated, r.status, r.body)
		if i == 0 {
			first = r
		}
		require.JSONEq(t, first.body, r.body)
	}
	list := env.must(req{method: "GET", path: "/v1/tenants/ta/access-rules", token: tok}, http.StatusOK).json(t)
	require.Len(t, list["items"], 1)
}

func TestNotReady(t *testing.T) {
	e := New(Config{}, Deps{Ready: func(context.Context) error { return errors.New("db: connection refused to 10.0.0.5") }})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, problemContentType, rec.Header().Get("Content-Type"))
	require.NotContains(t, rec.Body.String(), "10.0.0.5", "internal details never reach the client")

	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/bundle-signing-keys", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
}

// TestSnapshotSeesWrites proves the snapshot helper the "nothing written"
// assertions rely on does notice a write: rows, scope revision and outbox.
func TestSnapshotSeesWrites(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	before := env.snapshot()
	env.create(env.tenantToken(tenantA), "/v1/tenants/ta/masking-rules", maskingBody("m"))
	after := env.snapshot()
	for _, table := range []string{"masking_rules", "scope_revisions", "outbox"} {
		require.Contains(t, before, table)
		require.NotEqual(t, before[table], after[table], "the snapshot missed the write to %s", table)
	}
}
