package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// badCase is one malformed request to a write route.
type badCase struct {
	name        string
	body        any
	contentType string // "" = application/json
	status      int
	code        string
	field       string // the problem's first field error, if any
}

// wrongTypeCase sends a field with the wrong JSON type for each write route.
func wrongTypeCase(path string) badCase {
	switch {
	case strings.HasSuffix(path, "/approve"), strings.HasSuffix(path, "/deny"):
		return badCase{"wrong type", `{"comment": 5}`, "", 422, "validation-failed", "comment"}
	case strings.HasSuffix(path, "/rotate"):
		return badCase{"wrong type", `{"overlap_seconds": "a day"}`, "", 422, "validation-failed", "overlap_seconds"}
	case strings.HasSuffix(path, "/revoke"), path == "/v1/signing-keys":
		return badCase{"wrong type", `[1]`, "", 400, "invalid-json", ""}
	case strings.Contains(path, "domains"):
		return badCase{"wrong type", `{"hostname": 5}`, "", 422, "validation-failed", "hostname"}
	case path == "/v1/tenants":
		return badCase{"wrong type", `{"id": "x", "name": "x", "delegation_enabled": "yes"}`, "", 422, "validation-failed", "delegation_enabled"}
	default:
		return badCase{"wrong type", `{"name": 5}`, "", 422, "validation-failed", "name"}
	}
}

// specificCases are the checks only some resources have.
func specificCases(method, path string) []badCase {
	isTenant := strings.HasPrefix(path, "/v1/tenants/:tenant/")
	switch {
	case strings.HasSuffix(path, "masking-rules") || strings.HasSuffix(path, "masking-rules/:id"):
		m := maskingBody("bad-regex")
		m["pattern"] = "(unclosed"
		return []badCase{{"invalid regex", m, "", 422, "validation-failed", "pattern"}}
	case strings.HasSuffix(path, "policies") || strings.HasSuffix(path, "policies/:id"):
		re := policyBody("bad-regex", "deny")
		re["match"] = map[string]any{"op": "and", "conditions": []any{map[string]any{"attribute": "user.email", "operator": "matches", "value": "([a-z"}}}
		cs := []badCase{{"invalid regex", re, "", 422, "validation-failed", ""}}
		rego := policyBody("bad-rego", "deny")
		delete(rego, "match")
		rego["rego"] = "package portcullis\n\ndeny if { input.x == }"
		cs = append(cs, badCase{"invalid rego", rego, "", 422, "validation-failed", ""})
		if isTenant {
			cs = append(cs,
				badCase{"tenant allow", policyBody("widen", "allow"), "", 422, "validation-failed", ""},
				badCase{"tenant unknown tool", policyBody("typo", "deny", "orders.lsit"), "", 422, "validation-failed", "tools[0]"})
		}
		return cs
	case strings.HasSuffix(path, "rate-limits") || strings.HasSuffix(path, "rate-limits/:id"):
		limit := func(k string, v any) map[string]any { b := rateLimitBody("bad-limit"); b[k] = v; return b }
		return []badCase{
			{"rpm zero", limit("requests_per_minute", 0), "", 422, "validation-failed", "requests_per_minute"},
			{"rpm too high", limit("requests_per_minute", 100001), "", 422, "validation-failed", "requests_per_minute"},
			{"unknown per", limit("per", "ip"), "", 422, "validation-failed", "per"},
			{"negative burst", limit("burst", -1), "", 422, "validation-failed", "burst"},
			{"bad tool pattern", limit("tools", []string{"orders/[x"}), "", 422, "validation-failed", "tools[0]"},
		}
	case strings.HasSuffix(path, "network-rules") || strings.HasSuffix(path, "network-rules/:id"):
		rule := func(k string, v any) map[string]any { b := networkRuleBody("bad-net"); b[k] = v; return b }
		return []badCase{
			{"invalid cidr", rule("allow", []string{"10.0.0.0/33"}), "", 422, "validation-failed", "allow[0]"},
			{"not an address", rule("block", []string{"evil.example"}), "", 422, "validation-failed", "block[0]"},
			{"host bits", rule("block", []string{"10.1.2.3/8"}), "", 422, "validation-failed", "block[0]"},
			{"ipv6 zone", rule("allow", []string{"fe80::1%eth0"}), "", 422, "validation-failed", "allow[0]"},
			{"no lists", map[string]any{"name": "empty", "enabled": true}, "", 422, "validation-failed", "allow"},
		}
	case strings.HasSuffix(path, "/v1/tools") || strings.HasSuffix(path, "/v1/tools/:id"):
		return []badCase{{"invalid tool name", toolBody("bad name!"), "", 422, "validation-failed", "name"}}
	case path == "/v1/tool-sources":
		return []badCase{
			{"malformed openapi", importBody("src", "openapi: 3.0.3\npaths: [not, a, map]"), "", 422, "validation-failed", "document"},
			{"external ref", importBody("src", strings.Replace(petstore, `"#/components/schemas/Owner"`, `"http://169.254.169.254/latest#/Owner"`, 1)), "", 422, "validation-failed", "document"},
			{"file ref", importBody("src", strings.Replace(petstore, `"#/components/schemas/Owner"`, `"/etc/passwd#/Owner"`, 1)), "", 422, "validation-failed", "document"},
			{"document not object", map[string]any{"name": "src", "document": 42}, "", 422, "validation-failed", "document"},
			{"no document", map[string]any{"name": "src"}, "", 422, "validation-failed", "document"},
		}
	case path == "/v1/domains" || path == "/v1/domains/:id":
		host := func(h string) map[string]any { return domainBody(h, "") }
		return []badCase{
			{"no hostname", map[string]any{}, "", 422, "validation-failed", "hostname"},
			{"invalid hostname", host("bad_host!.example.test"), "", 422, "validation-failed", "hostname"},
			{"ip literal", host("192.0.2.10"), "", 422, "validation-failed", "hostname"},
			{"ipv6 literal", host("[2001:db8::1]"), "", 422, "validation-failed", "hostname"},
			{"port", host("mcp.example.test:8443"), "", 422, "validation-failed", "hostname"},
			{"upper case", host("MCP.example.test"), "", 422, "validation-failed", "hostname"},
			{"trailing dot", host("mcp.example.test."), "", 422, "validation-failed", "hostname"},
			{"wildcard", host("*.example.test"), "", 422, "validation-failed", "hostname"},
			{"single label", host("localhost"), "", 422, "validation-failed", "hostname"},
			{"unknown tenant", domainBody("mcp.ghost.test", "ghost"), "", 422, "validation-failed", "tenant_id"},
			{"malformed tenant", domainBody("mcp.ghost.test", "../ta"), "", 422, "validation-failed", "tenant_id"},
			{"plain http authorization server", map[string]any{"hostname": "mcp.example.test", "authorization_server": "http://idp.example.test"}, "", 422, "validation-failed", "authorization_server"},
			{"duplicate hostname", host(platformHostname), "", 409, "conflict", "hostname"},
		}
	case path == "/v1/tenants":
		return []badCase{{"invalid tenant id", map[string]any{"id": "../etc", "name": "x"}, "", 422, "validation-failed", "id"}}
	case strings.HasSuffix(path, "/rotate"):
		return []badCase{{"overlap out of range", map[string]any{"overlap_seconds": 10}, "", 422, "validation-failed", "overlap_seconds"}}
	}
	return nil
}

// TestBadInput: every write route refuses malformed input with problem+json
// 4xx, and the database is exactly as it was.
func TestBadInput(t *testing.T) {
	env := newEnv(t)
	w := env.populate()
	plat := env.platformToken()
	approval := env.createApproval(tenantA, "someone")
	before := env.snapshot()

	seen := 0
	for _, r := range env.e.Routes() {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			continue
		}
		seen++
		limit := DefaultConfig().BodyLimit
		if r.Path == "/v1/tool-sources" {
			limit = DefaultConfig().ImportBodyLimit
		}
		cases := []badCase{
			{"malformed json", `{"name": `, "", 400, "invalid-json", ""},
			{"trailing data", `{} {}`, "", 400, "invalid-json", ""},
			{"unknown field", `{"surprise": true}`, "", 400, "unknown-field", "surprise"},
			{"oversize", `{"name": "` + strings.Repeat("a", int(limit)) + `"}`, "", 413, "body-too-large", ""},
			{"not json", `name=x`, "application/x-www-form-urlencoded", 415, "unsupported-media-type", ""},
			wrongTypeCase(r.Path),
		}
		cases = append(cases, specificCases(r.Method, r.Path)...)
		id := w.ids[collectionOf(r.Path)]
		if strings.Contains(r.Path, "approvals") {
			id = approval.ID
		} else if strings.HasPrefix(r.Path, "/v1/tenants/:tenant/") {
			id = uuid.NewString()
		}
		path := strings.NewReplacer(":tenant", tenantA, ":id", id, ":kid", w.kid).Replace(r.Path)
		for _, c := range cases {
			t.Run(r.Method+" "+r.Path+" "+c.name, func(t *testing.T) {
				hdr := map[string]string{}
				if c.contentType != "" {
					hdr["Content-Type"] = c.contentType
				}
				out := env.do(req{method: r.Method, path: path, token: plat, body: c.body, headers: hdr, invalid: true})
				require.Equal(t, c.status, out.status, "body: %s", out.body)
				require.Equal(t, c.code, out.problemCode(t))
				if c.field != "" {
					errs, _ := out.json(t)["errors"].([]any)
					require.NotEmpty(t, errs, "no field errors: %s", out.body)
					require.Equal(t, c.field, errs[0].(map[string]any)["field"], "body: %s", out.body)
				}
				require.NotContains(t, string(out.body), "SQL")
				require.NotContains(t, string(out.body), "pgx")
			})
		}
	}
	require.Greater(t, seen, 20)
	require.Equal(t, before, env.snapshot(), "a refused write changed the database")
}
