package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// TestRateLimitsAndNetworkRulesCRUD: both kinds go through the generic
// scoped CRUD globally and per tenant, with the same delegation rules as the
// other delegated resources, and what is stored decodes to the model.
func TestRateLimitsAndNetworkRulesCRUD(t *testing.T) {
	env := newEnv(t)
	p := env.platformToken()
	env.seedTenant("on", true)
	env.seedTenant("off", false)
	on := env.tenantToken("on")

	for _, c := range []struct {
		coll   string
		kind   store.Kind
		body   func(string) map[string]any
		change func(map[string]any)
	}{
		{"rate-limits", store.KindRateLimit, rateLimitBody, func(b map[string]any) { b["requests_per_minute"] = 5; b["burst"] = 2; b["per"] = "tool" }},
		{"network-rules", store.KindNetworkRule, networkRuleBody, func(b map[string]any) { b["allow"] = []string{"198.51.100.7"}; delete(b, "block") }},
	} {
		t.Run(c.coll, func(t *testing.T) {
			// Global, platform admin.
			g := env.create(p, "/v1/"+c.coll, c.body("global"))
			gPath := "/v1/" + c.coll + "/" + g["id"].(string)
			require.Nil(t, g["tenant_id"])
			upd := c.body("global")
			c.change(upd)
			out := env.must(req{method: "PUT", path: gPath, token: p, body: upd, headers: map[string]string{"If-Match": `"1"`}}, http.StatusOK)
			require.EqualValues(t, 2, out.json(t)["revision"])
			env.must(req{method: "PUT", path: gPath, token: p, body: upd, headers: map[string]string{"If-Match": `"1"`}}, http.StatusPreconditionFailed)
			env.must(req{method: "POST", path: "/v1/" + c.coll, token: p, body: c.body("global")}, http.StatusConflict)
			// A tenant admin may not touch global rows.
			env.must(req{method: "GET", path: gPath, token: on}, http.StatusForbidden)
			env.must(req{method: "POST", path: "/v1/" + c.coll, token: on, body: c.body("x")}, http.StatusForbidden)

			// Tenant, delegated.
			tr := env.create(on, "/v1/tenants/on/"+c.coll, c.body("global")) // same name, other scope
			require.Equal(t, "on", tr["tenant_id"])
			tPath := "/v1/tenants/on/" + c.coll + "/" + tr["id"].(string)
			env.must(req{method: "GET", path: tPath, token: on}, http.StatusOK)
			list := env.must(req{method: "GET", path: "/v1/tenants/on/" + c.coll, token: on}, http.StatusOK).json(t)
			require.Len(t, list["items"], 1)
			out = env.must(req{method: "POST", path: "/v1/tenants/off/" + c.coll, token: p, body: c.body("x")}, http.StatusConflict)
			require.Equal(t, "delegation-disabled", out.problemCode(t))

			// What is stored is exactly the model's JSON.
			err := env.store.Tx(context.Background(), store.Actor{Subject: "t", Platform: true}, func(tx store.Tx) error {
				rec, err := tx.GetResource(context.Background(), c.kind, "", g["id"].(string))
				if err != nil {
					return err
				}
				var v any
				if c.kind == store.KindRateLimit {
					v = &model.RateLimit{}
				} else {
					v = &model.NetworkRule{}
				}
				if err := json.Unmarshal(rec.Spec, v); err != nil {
					return err
				}
				if rl, ok := v.(*model.RateLimit); ok {
					require.Equal(t, model.RateLimit{Name: "global", Tools: []string{"orders.*"}, Per: "tool", RequestsPerMinute: 5, Burst: 2, Enabled: true}, *rl)
				} else {
					require.Equal(t, model.NetworkRule{Name: "global", Allow: []string{"198.51.100.7"}, Enabled: true}, *v.(*model.NetworkRule))
				}
				return nil
			})
			require.NoError(t, err)

			env.must(req{method: "DELETE", path: tPath, token: on}, http.StatusNoContent)
			env.must(req{method: "DELETE", path: gPath, token: p}, http.StatusNoContent)
			env.must(req{method: "GET", path: gPath, token: p}, http.StatusNotFound)
		})
	}
}
