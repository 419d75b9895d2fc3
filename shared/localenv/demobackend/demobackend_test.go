package demobackend

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/backendsig"
)

var (
	keyOld = backendsig.Key{KID: "k-old", Secret: []byte("old demo secret, 32 bytes long!!")}
	keyNew = backendsig.Key{KID: "k-new", Secret: []byte("new demo secret, 32 bytes long!!")}
)

var requestSeq atomic.Int64

func keysOf(ks ...backendsig.Key) map[string][]byte {
	m := map[string][]byte{}
	for _, k := range ks {
		m[k.KID] = k.Secret
	}
	return m
}

type env struct {
	t   *testing.T
	b   *Backend
	srv *httptest.Server
}

func newEnv(t *testing.T, keys ...backendsig.Key) *env {
	t.Helper()
	b := New(keysOf(keys...), nil)
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, b: b, srv: srv}
}

// signed builds a request signed as a gateway would sign it.
func (e *env) signed(method, target, body, tenant string, at time.Time, keys ...backendsig.Key) *http.Request {
	e.t.Helper()
	if len(keys) == 0 {
		keys = []backendsig.Key{keyOld}
	}
	req, err := http.NewRequest(method, e.srv.URL+target, strings.NewReader(body))
	require.NoError(e.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	id := fmt.Sprintf("req-%d", requestSeq.Add(1))
	require.NoError(e.t, backendsig.Signer{Keys: keys}.Sign(req, []byte(body), tenant, "user-1", id, at))
	return req
}

func (e *env) send(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	var m map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &m), "every answer is a JSON object: %s", raw)
	return resp.StatusCode, m
}

// call signs and sends as tenant, now.
func (e *env) call(method, target, body, tenant string) (int, map[string]any) {
	e.t.Helper()
	return e.send(e.signed(method, target, body, tenant, time.Now()))
}

func ids(t *testing.T, m map[string]any) []string {
	t.Helper()
	list, ok := m["items"].([]any)
	require.True(t, ok, "items: %v", m)
	var out []string
	for _, it := range list {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

func TestSignedRequestWorks(t *testing.T) {
	e := newEnv(t, keyOld)
	status, m := e.call("GET", "/v1/customers", "", "acme")
	require.Equal(t, http.StatusOK, status)
	items := m["items"].([]any)
	require.Len(t, items, len(seedCustomers))
	first := items[0].(map[string]any)
	require.Equal(t, "ada.lovelace@acme.example.com", first["email"])
	require.Equal(t, "4111 1111 1111 1111", first["payment_card"], "PII for masking demos")
	require.NotEmpty(t, first["phone"])

	status, m = e.call("GET", "/v1/customers?q=HOPPER", "", "acme")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, ids(t, m), 1)
}

// TestRejections: anything but an intact, fresh, first-seen request signed
// with a known key is a 401 with a JSON reason, and never reaches the data.
func TestRejections(t *testing.T) {
	e := newEnv(t, keyOld)
	_, m := e.call("GET", "/v1/orders", "", "acme")
	orderID := ids(t, m)[0]
	refund := "/v1/orders/" + orderID + "/refund"
	now := time.Now()
	tests := []struct {
		name   string
		req    func() *http.Request
		reason error
	}{
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", e.srv.URL+refund, strings.NewReader(`{"amount":1}`))
			r.Header.Set(backendsig.TenantHeader, "acme")
			return r
		}, backendsig.ErrMissing},
		{"changed body", func() *http.Request {
			r := e.signed("POST", refund, `{"amount":1}`, "acme", now)
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			return r
		}, backendsig.ErrBadSignature},
		{"changed path", func() *http.Request {
			r := e.signed("GET", "/v1/orders/"+orderID, "", "acme", now)
			r.URL.Path = "/v1/customers"
			return r
		}, backendsig.ErrBadSignature},
		{"changed query", func() *http.Request {
			r := e.signed("GET", "/v1/orders?status=open", "", "acme", now)
			r.URL.RawQuery = "status=paid"
			return r
		}, backendsig.ErrBadSignature},
		{"changed method", func() *http.Request {
			r := e.signed("GET", refund, "", "acme", now)
			r.Method = "POST"
			return r
		}, backendsig.ErrBadSignature},
		{"changed tenant header", func() *http.Request {
			r := e.signed("GET", "/v1/customers", "", "acme", now)
			r.Header.Set(backendsig.TenantHeader, "globex")
			return r
		}, backendsig.ErrBadSignature},
		{"second tenant header", func() *http.Request {
			r := e.signed("GET", "/v1/customers", "", "acme", now)
			r.Header.Add(backendsig.TenantHeader, "globex")
			return r
		}, backendsig.ErrIdentity},
		{"changed user header", func() *http.Request {
			r := e.signed("GET", "/v1/customers", "", "acme", now)
			r.Header.Set(backendsig.UserHeader, "admin")
			return r
		}, backendsig.ErrBadSignature},
		{"old timestamp", func() *http.Request {
			return e.signed("GET", "/v1/customers", "", "acme", now.Add(-6*time.Minute))
		}, backendsig.ErrTimestamp},
		{"future timestamp", func() *http.Request {
			return e.signed("GET", "/v1/customers", "", "acme", now.Add(6*time.Minute))
		}, backendsig.ErrTimestamp},
		{"unknown key", func() *http.Request {
			return e.signed("GET", "/v1/customers", "", "acme", now, keyNew)
		}, backendsig.ErrUnknownKey},
		{"garbage header", func() *http.Request {
			r := e.signed("GET", "/v1/customers", "", "acme", now)
			r.Header.Set(backendsig.SignatureHeader, "t=x")
			return r
		}, backendsig.ErrMalformed},
		{"unknown path unsigned", func() *http.Request {
			r, _ := http.NewRequest("GET", e.srv.URL+"/admin", nil)
			return r
		}, backendsig.ErrMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := e.send(tc.req())
			require.Equal(t, http.StatusUnauthorized, status)
			require.Equal(t, "unauthorized", m["error"])
			require.Equal(t, tc.reason.Error(), m["message"])
		})
	}
	// None of the refunds went through.
	_, m = e.call("GET", "/v1/orders/"+orderID, "", "acme")
	require.Equal(t, 0.0, m["refunded_amount"])
}

func TestReplay(t *testing.T) {
	e := newEnv(t, keyOld)
	_, m := e.call("GET", "/v1/orders?status=paid", "", "acme")
	orderID := ids(t, m)[0]
	refund := "/v1/orders/" + orderID + "/refund"

	first := e.signed("POST", refund, `{"amount":1}`, "acme", time.Now())
	again, err := http.NewRequest(first.Method, first.URL.String(), strings.NewReader(`{"amount":1}`))
	require.NoError(t, err)
	again.Header = first.Header.Clone()

	status, _ := e.send(first)
	require.Equal(t, http.StatusOK, status)
	status, m = e.send(again)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, backendsig.ErrReplay.Error(), m["message"])
	_, m = e.call("GET", "/v1/orders/"+orderID, "", "acme")
	require.Equal(t, 1.0, m["refunded_amount"], "the replay was not applied")
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t, keyOld)
	_, acme := e.call("GET", "/v1/customers", "", "acme")
	_, globex := e.call("GET", "/v1/customers", "", "globex")
	acmeIDs, globexIDs := ids(t, acme), ids(t, globex)
	for _, id := range acmeIDs {
		require.NotContains(t, globexIDs, id)
	}
	for _, it := range globex["items"].([]any) {
		require.Contains(t, it.(map[string]any)["email"], "@globex.example.com")
	}
	_, acmeOrders := e.call("GET", "/v1/orders?limit=100", "", "acme")
	acmeOrder := ids(t, acmeOrders)[0]

	tests := []struct{ method, target, body string }{
		{"GET", "/v1/customers/" + acmeIDs[0], ""},
		{"PATCH", "/v1/customers/" + acmeIDs[0], `{"email":"mallory@evil.example"}`},
		{"GET", "/v1/orders/" + acmeOrder, ""},
		{"POST", "/v1/orders/" + acmeOrder + "/refund", `{"amount":1}`},
	}
	for _, tc := range tests {
		status, m := e.call(tc.method, tc.target, tc.body, "globex")
		require.Equal(t, http.StatusNotFound, status, "%s %s as globex: %v", tc.method, tc.target, m)
	}
	status, m := e.call("POST", "/v1/orders", `{"customer_id":"`+acmeIDs[0]+`","amount":5}`, "globex")
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", m)
	_, m = e.call("GET", "/v1/orders?customer_id="+acmeIDs[0], "", "globex")
	require.Empty(t, ids(t, m))

	// And acme's data is untouched.
	_, m = e.call("GET", "/v1/customers/"+acmeIDs[0], "", "acme")
	require.Equal(t, "ada.lovelace@acme.example.com", m["email"])
}

func TestNoTenant(t *testing.T) {
	e := newEnv(t, keyOld)
	status, m := e.call("GET", "/v1/customers", "", "")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "forbidden", m["error"])
}

func TestOrderFlow(t *testing.T) {
	e := newEnv(t, keyOld)
	_, m := e.call("GET", "/v1/customers", "", "acme")
	customer := ids(t, m)[1]

	status, m := e.call("POST", "/v1/orders", `{"customer_id":"`+customer+`","amount":100.5}`, "acme")
	require.Equal(t, http.StatusCreated, status, "%v", m)
	require.Equal(t, "USD", m["currency"])
	require.Equal(t, "paid", m["status"])
	require.Equal(t, 100.5, m["amount"])
	order := m["id"].(string)
	refund := "/v1/orders/" + order + "/refund"

	steps := []struct {
		body       string
		wantStatus int
		wantState  string
	}{
		{`{"amount":40,"reason":"damaged"}`, 200, "paid"},
		{`{"amount":60.51}`, 409, ""},
		{`{"amount":0}`, 400, ""},
		{`{"amount":-1}`, 400, ""},
		{`{"amount":"ten"}`, 400, ""},
		{`[1]`, 400, ""},
		{`{"amount":60.5}`, 200, "refunded"},
		{`{"amount":1}`, 409, ""},
	}
	for _, s := range steps {
		status, m := e.call("POST", refund, s.body, "acme")
		require.Equal(t, s.wantStatus, status, "%s → %v", s.body, m)
		if s.wantState != "" {
			require.Equal(t, s.wantState, m["status"])
		}
	}
	_, m = e.call("GET", "/v1/orders/"+order, "", "acme")
	require.Equal(t, 100.5, m["refunded_amount"])

	status, m = e.call("GET", "/v1/orders?status=refunded&limit=100", "", "acme")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, ids(t, m), order)
	for _, bad := range []string{"status=lost", "limit=0", "limit=101", "limit=x"} {
		status, _ := e.call("GET", "/v1/orders?"+bad, "", "acme")
		require.Equal(t, http.StatusBadRequest, status, bad)
	}
	status, m = e.call("GET", "/v1/orders?limit=2", "", "acme")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, ids(t, m), 2)

	status, m = e.call("PATCH", "/v1/customers/"+customer, `{"phone":"+1 555 0000"}`, "acme")
	require.Equal(t, http.StatusOK, status, "%v", m)
	require.Equal(t, "+1 555 0000", m["phone"])
	status, _ = e.call("PATCH", "/v1/customers/"+customer, `{"email":"not an email"}`, "acme")
	require.Equal(t, http.StatusBadRequest, status)
	status, _ = e.call("PATCH", "/v1/customers/"+customer, `{}`, "acme")
	require.Equal(t, http.StatusBadRequest, status)
}

func TestSetKeys(t *testing.T) {
	e := newEnv(t, keyOld)
	ok := func(keys ...backendsig.Key) bool {
		status, _ := e.send(e.signed("GET", "/v1/customers", "", "acme", time.Now(), keys...))
		return status == http.StatusOK
	}
	require.True(t, ok(keyOld))
	require.False(t, ok(keyNew))
	require.True(t, ok(keyOld, keyNew), "during a rotation the gateway signs with both")

	e.b.SetKeys(keysOf(keyOld, keyNew))
	require.True(t, ok(keyOld))
	require.True(t, ok(keyNew))

	e.b.SetKeys(keysOf(keyNew))
	require.False(t, ok(keyOld), "the retired key is refused")
	require.True(t, ok(keyNew))

	e.b.SetKeys(nil)
	require.False(t, ok(keyNew))
}

func TestPublicEndpoints(t *testing.T) {
	e := newEnv(t, keyOld)
	resp, err := http.Get(e.srv.URL + "/openapi.json")
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, string(OpenAPI()), string(raw))

	resp, err = http.Get(e.srv.URL + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Only GET is public: a POST to the document path is an API call.
	resp, err = http.Post(e.srv.URL+"/openapi.json", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// operations lists "METHOD path" → operation of an OpenAPI document.
type operation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	RequestBody *struct {
		Required bool `json:"required"`
	} `json:"requestBody"`
}

func operations(t *testing.T, raw []byte) map[string]operation {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	out := map[string]operation{}
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			require.NoError(t, json.Unmarshal(rawOp, &op))
			var common struct {
				Parameters []struct {
					Name string `json:"name"`
					In   string `json:"in"`
				} `json:"parameters"`
			}
			if p, ok := item["parameters"]; ok {
				require.NoError(t, json.Unmarshal(p, &common.Parameters))
				op.Parameters = append(common.Parameters, op.Parameters...)
			}
			sort.Slice(op.Parameters, func(i, j int) bool { return op.Parameters[i].Name < op.Parameters[j].Name })
			out[strings.ToUpper(method)+" "+path] = op
		}
	}
	return out
}

// TestEveryOperationIsRouted: each documented operation reaches a handler
// (a valid call answers 2xx).
func TestEveryOperationIsRouted(t *testing.T) {
	e := newEnv(t, keyOld)
	_, m := e.call("GET", "/v1/customers", "", "acme")
	customer := ids(t, m)[0]
	_, m = e.call("GET", "/v1/orders?status=paid", "", "acme")
	order := ids(t, m)[0]
	bodies := map[string]string{
		"POST /v1/orders":                   `{"customer_id":"` + customer + `","amount":1}`,
		"POST /v1/orders/{order_id}/refund": `{"amount":1}`,
		"PATCH /v1/customers/{customer_id}": `{"phone":"+1 555 0101"}`,
	}
	for key := range operations(t, OpenAPI()) {
		method, path, _ := strings.Cut(key, " ")
		target := strings.NewReplacer("{order_id}", order, "{customer_id}", customer).Replace(path)
		status, m := e.call(method, target, bodies[key], "acme")
		require.True(t, status >= 200 && status < 300, "%s → %d %v", key, status, m)
	}
}

func TestParseKeys(t *testing.T) {
	std := base64.StdEncoding.EncodeToString([]byte("secret one"))
	url := base64.RawURLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe})
	keys, err := ParseKeys(" k1=" + std + ", k2=" + url + " ")
	require.NoError(t, err)
	require.Equal(t, map[string][]byte{"k1": []byte("secret one"), "k2": {0xfb, 0xff, 0xfe}}, keys)
	for _, bad := range []string{"", "k1", "=abc", "k1=!!!", "k1="} {
		_, err := ParseKeys(bad)
		require.Error(t, err, bad)
	}
}
