package forward

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/localenv/demobackend"
	"github.com/portcullis/portcullis/shared/model"
)

// demoTools are the tools the control plane's OpenAPI import makes from the
// demo backend's document (names, paths and params as openapiimport builds
// them: path params required, the JSON body in the "body" argument).
func demoTools(baseURL string) map[string]model.Tool {
	mk := func(name, method, path string, params ...model.Param) model.Tool {
		return model.Tool{Name: name, BaseURL: baseURL, Method: method, Path: path, Params: params,
			InputSchema: map[string]any{"type": "object"}, TimeoutMS: 3000, Active: true}
	}
	orderID := model.Param{Name: "order_id", In: "path", Required: true}
	customerID := model.Param{Name: "customer_id", In: "path", Required: true}
	body := model.Param{Name: "body", In: "body", Required: true}
	return map[string]model.Tool{
		"orders.list": mk("orders.list", "GET", "/v1/orders",
			model.Param{Name: "status", In: "query"}, model.Param{Name: "customer_id", In: "query"}, model.Param{Name: "limit", In: "query"}),
		"orders.create":    mk("orders.create", "POST", "/v1/orders", body),
		"orders.get":       mk("orders.get", "GET", "/v1/orders/{order_id}", orderID),
		"orders.refund":    mk("orders.refund", "POST", "/v1/orders/{order_id}/refund", orderID, body),
		"customers.list":   mk("customers.list", "GET", "/v1/customers", model.Param{Name: "q", In: "query"}),
		"customers.get":    mk("customers.get", "GET", "/v1/customers/{customer_id}", customerID),
		"customers.update": mk("customers.update", "PATCH", "/v1/customers/{customer_id}", customerID, body),
	}
}

// TestDemoBackend runs the forwarder against the real demo backend: every
// request is verified there, and data is scoped by the signed tenant.
func TestDemoBackend(t *testing.T) {
	demo := demobackend.New(keysOf(keyA), nil)
	srv := httptest.NewServer(demo.Handler())
	t.Cleanup(srv.Close)
	tools := demoTools(srv.URL)
	f := newForwarder(t, Config{})
	as := func(tenant, name, args string) Result {
		t.Helper()
		c := call(tools[name], args)
		c.Tenant = tenant
		return forward(t, f, c)
	}
	idsOf := func(res Result) []string {
		t.Helper()
		require.False(t, res.IsError, res.Text)
		var out []string
		for _, it := range res.Structured["items"].([]any) {
			out = append(out, it.(map[string]any)["id"].(string))
		}
		return out
	}

	customers := idsOf(as("acme", "customers.list", `{"q":"lovelace"}`))
	require.Len(t, customers, 1)
	res := as("acme", "customers.get", fmt.Sprintf(`{"customer_id":%q}`, customers[0]))
	require.False(t, res.IsError, res.Text)
	require.Equal(t, "4111 1111 1111 1111", res.Structured["payment_card"])

	paid := idsOf(as("acme", "orders.list", `{"status":"paid","limit":100}`))
	require.NotEmpty(t, paid)
	res = as("acme", "orders.refund", fmt.Sprintf(`{"order_id":%q,"body":{"amount":1.5,"reason":"late"}}`, paid[0]))
	require.False(t, res.IsError, res.Text)
	require.Equal(t, json.Number("1.50"), res.Structured["refunded_amount"])

	res = as("acme", "orders.create", fmt.Sprintf(`{"body":{"customer_id":%q,"amount":20}}`, customers[0]))
	require.False(t, res.IsError, res.Text)
	require.Equal(t, 201, res.Status)

	// Tenant isolation through the gateway: globex cannot name acme's data.
	res = as("globex", "customers.get", fmt.Sprintf(`{"customer_id":%q}`, customers[0]))
	require.True(t, res.IsError)
	require.Equal(t, 404, res.Status)
	require.Contains(t, res.Text, "not_found")

	// A traversal attempt never leaves the gateway.
	res = as("acme", "orders.get", `{"order_id":"../customers"}`)
	require.True(t, res.IsError)
	require.Zero(t, res.Status)

	// The backend follows a rotation: after it drops keyA, calls signed with
	// keyA alone fail, and calls signed with both keys pass.
	demo.SetKeys(keysOf(keyB))
	res = as("acme", "customers.list", `{}`)
	require.True(t, res.IsError)
	require.Equal(t, 401, res.Status)
	c := call(tools["customers.list"], `{}`)
	c.Signer = backendsig.Signer{Keys: []backendsig.Key{keyA, keyB}}
	res = forward(t, f, c)
	require.False(t, res.IsError, res.Text)
}
