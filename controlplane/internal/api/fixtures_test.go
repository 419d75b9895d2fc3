package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// Valid bodies for each writable collection.

func toolBody(name string) map[string]any {
	return map[string]any{
		"name": name, "description": "Lists orders", "base_url": "https://api.example.test", "method": "GET", "path": "/orders",
		"input_schema": map[string]any{"type": "object", "properties": map[string]any{"status": map[string]any{"type": "string"}}},
		"active":       true,
	}
}

func accessRuleBody(name string) map[string]any {
	return map[string]any{"name": name, "tools": []string{"orders.*"}, "roles": []string{"support"}, "enabled": true}
}

func policyBody(name, effect string, tools ...string) map[string]any {
	if len(tools) == 0 {
		tools = []string{"orders.list"}
	}
	return map[string]any{
		"name": name, "tools": tools, "effect": effect, "priority": 10, "enabled": true,
		"match": map[string]any{"op": "and", "conditions": []any{
			map[string]any{"attribute": "user.email", "operator": "ends_with", "value": "@contractor.test"},
		}},
	}
}

func hookBody(name string) map[string]any {
	return map[string]any{"name": name, "events": []string{"CALL_TOOL"}, "code": "function onEvent(event) { return {allow: true}; }",
		"timeout_ms": 500, "fail_mode": "closed", "enabled": true}
}

// platformHostname is the platform domain populate registers.
const platformHostname = "mcp.platform.test"

func domainBody(hostname, tenant string) map[string]any {
	d := map[string]any{"hostname": hostname}
	if tenant != "" {
		d["tenant_id"] = tenant
	}
	return d
}

func maskingBody(name string) map[string]any {
	return map[string]any{"name": name, "detectors": []string{"email"}, "action": "redact", "enabled": true}
}

func rateLimitBody(name string) map[string]any {
	return map[string]any{"name": name, "tools": []string{"orders.*"}, "per": "user", "requests_per_minute": 60, "enabled": true}
}

func networkRuleBody(name string) map[string]any {
	return map[string]any{"name": name, "allow": []string{"203.0.113.0/24", "2001:db8::/32"}, "block": []string{"203.0.113.66"}, "enabled": true}
}

// petstore is a small OpenAPI document with three operations.
const petstore = `openapi: 3.0.3
info: {title: Pets, version: "1"}
servers: [{url: "https://pets.example.test/v1"}]
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Pet"}}
    post:
      operationId: createPet
      description: Create a pet.
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Pet"}
      responses:
        "201": {description: created}
  /pets/{petId}:
    get:
      parameters:
        - {name: petId, in: path, required: true, schema: {type: string}}
        - {name: X-Trace, in: header, schema: {type: string}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Pet"}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        tag: {type: string, nullable: true}
        owner: {$ref: "#/components/schemas/Owner"}
    Owner:
      type: object
      properties:
        email: {type: string}
`

func importBody(name, doc string) map[string]any {
	return map[string]any{"name": name, "document": doc}
}

// createApproval makes a pending approval the way the gateway's request
// would (the API has no create route).
func (env *env) createApproval(tenant, user string) store.Approval {
	env.t.Helper()
	var a store.Approval
	err := env.store.Tx(context.Background(), store.Actor{Subject: "gateway", Platform: true}, func(tx store.Tx) (err error) {
		a, err = tx.CreateApproval(context.Background(), store.Approval{
			TenantID: tenant, UserID: user, Tool: "orders.list", ArgsHash: strings.Repeat("ab", 32),
			PolicyName: "needs-approval", MinApprovals: 1, ExpiresAt: time.Now().Add(time.Hour),
		})
		return err
	})
	require.NoError(env.t, err)
	return a
}

// insertAudit stores audit events as the ingester would.
func (env *env) insertAudit(events ...store.AuditEvent) {
	env.t.Helper()
	err := env.store.Tx(context.Background(), store.Actor{Subject: "ingest", Platform: true}, func(tx store.Tx) error {
		_, err := tx.InsertAuditEvents(context.Background(), events)
		return err
	})
	require.NoError(env.t, err)
}

// world is a populated control plane: two tenants with delegated resources,
// and one of every global resource.
type world struct {
	ids map[string]string // collection → a real id ("tenant:<collection>" for tenant tb's)
	kid string
}

const (
	tenantA = "ta"
	tenantB = "tb"
)

func (env *env) populate() world {
	t := env.t
	t.Helper()
	env.seedTenant(tenantA, true)
	env.seedTenant(tenantB, true)
	p := env.platformToken()
	w := world{ids: map[string]string{}}
	w.ids["tools"] = env.create(p, "/v1/tools", toolBody("orders.list"))["id"].(string)
	imp := env.create(p, "/v1/tool-sources", importBody("pets", petstore))
	w.ids["tool-sources"] = imp["source"].(map[string]any)["id"].(string)
	w.ids["access-rules"] = env.create(p, "/v1/access-rules", accessRuleBody("global-rule"))["id"].(string)
	w.ids["policies"] = env.create(p, "/v1/policies", policyBody("global-policy", "deny"))["id"].(string)
	w.ids["hooks"] = env.create(p, "/v1/hooks", hookBody("global-hook"))["id"].(string)
	w.ids["masking-rules"] = env.create(p, "/v1/masking-rules", maskingBody("global-mask"))["id"].(string)
	w.ids["rate-limits"] = env.create(p, "/v1/rate-limits", rateLimitBody("global-limit"))["id"].(string)
	w.ids["network-rules"] = env.create(p, "/v1/network-rules", networkRuleBody("global-net"))["id"].(string)
	w.kid = env.create(p, "/v1/signing-keys", nil)["kid"].(string)
	env.create(p, "/v1/domains", domainBody(platformHostname, ""))
	// Tenant tb's domain: the "domains" id is tb's, the most sensitive one to probe with.
	w.ids["domains"] = env.create(p, "/v1/domains", domainBody("tb-secret.customer.test", tenantB))["id"].(string)

	b := env.tenantToken(tenantB)
	w.ids["tenant:access-rules"] = env.create(b, "/v1/tenants/tb/access-rules", accessRuleBody("tb-secret-rule"))["id"].(string)
	w.ids["tenant:policies"] = env.create(b, "/v1/tenants/tb/policies", policyBody("tb-secret-policy", "deny"))["id"].(string)
	w.ids["tenant:masking-rules"] = env.create(b, "/v1/tenants/tb/masking-rules", maskingBody("tb-secret-mask"))["id"].(string)
	w.ids["tenant:rate-limits"] = env.create(b, "/v1/tenants/tb/rate-limits", rateLimitBody("tb-secret-limit"))["id"].(string)
	w.ids["tenant:network-rules"] = env.create(b, "/v1/tenants/tb/network-rules", networkRuleBody("tb-secret-net"))["id"].(string)
	w.ids["tenant:approvals"] = env.createApproval(tenantB, "tb-secret-user").ID
	env.insertAudit(store.AuditEvent{ID: "evt-tb-secret", Time: time.Now().UTC(), TenantID: tenantB, UserID: "tb-secret-user",
		Tool: "orders.list", Decision: "allow", Event: []byte(`{"id":"evt-tb-secret","tenant_id":"tb","user_id":"tb-secret-user"}`)})
	return w
}

// bodyFor returns a valid request body for a write route, so that a refusal
// is about who calls, not about what is sent.
func bodyFor(method, path string) any {
	if method != http.MethodPost && method != http.MethodPut {
		return nil
	}
	switch {
	case strings.HasSuffix(path, "/approve"), strings.HasSuffix(path, "/deny"):
		return map[string]any{"comment": "looks fine"}
	case strings.HasSuffix(path, "/rotate"):
		return map[string]any{"overlap_seconds": 60}
	case strings.HasSuffix(path, "/revoke"), path == "/v1/signing-keys":
		return nil
	case strings.Contains(path, "access-rules"):
		return accessRuleBody("probe-rule")
	case strings.Contains(path, "policies"):
		return policyBody("probe-policy", "deny")
	case strings.Contains(path, "masking-rules"):
		return maskingBody("probe-mask")
	case strings.Contains(path, "hooks"):
		return hookBody("probe-hook")
	case strings.Contains(path, "rate-limits"):
		return rateLimitBody("probe-limit")
	case strings.Contains(path, "network-rules"):
		return networkRuleBody("probe-net")
	case strings.Contains(path, "domains"):
		return domainBody("probe.customer.test", "")
	case strings.Contains(path, "tool-sources"):
		return importBody("probe-source", petstore)
	case strings.Contains(path, "tools"):
		return toolBody("probe.tool")
	case path == "/v1/tenants":
		return map[string]any{"id": "probe", "name": "Probe"}
	case strings.HasPrefix(path, "/v1/tenants/"):
		return map[string]any{"name": "Renamed", "delegation_enabled": true}
	}
	return nil
}
