package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	sealKey    = bytes.Repeat([]byte{7}, 32)
	backendKey = backendsig.Key{KID: "bk-1", Secret: []byte("backend secret, at least 32 bytes!!")}
)

func newSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(sealKey)
	require.NoError(t, err)
	return s
}

// seen is one request the test backend verified.
type seen struct {
	Path     string
	Body     string
	Identity backendsig.Identity
}

// backend is an httptest server that verifies every request with a real
// backendsig.Verifier, records it and answers by path.
type backend struct {
	*httptest.Server
	mu       sync.Mutex
	requests []seen
	rejected int
}

func newBackend(t testing.TB) *backend {
	t.Helper()
	b := &backend{}
	v := &backendsig.Verifier{Keys: map[string][]byte{backendKey.KID: backendKey.Secret}, Replay: backendsig.NewMemoryReplayCache(10000, time.Minute)}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r)
		if err != nil {
			b.mu.Lock()
			b.rejected++
			b.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.requests = append(b.requests, seen{Path: r.URL.Path, Body: string(body), Identity: id})
		b.mu.Unlock()
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "database exploded at 10.1.2.3", http.StatusInternalServerError)
		default:
			// Echo who the gateway said the caller is: the tenant isolation tests read it.
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"tenant": id.Tenant, "user": id.User, "path": r.URL.Path})
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) got() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]seen(nil), b.requests...)
}

// recorder collects audit events.
type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) Record(ev audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) last(t testing.TB) audit.Event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.events)
	return r.events[len(r.events)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func entry[T any](id string, spec T) bundle.Entry[T] { return bundle.Entry[T]{ID: id, Spec: spec} }

// orderSchema is a realistic imported input schema: a JSON body with a
// required positive amount and a currency enum, nothing else allowed.
var orderSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"body": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"amount":   map[string]any{"type": "number", "exclusiveMinimum": 0},
				"currency": map[string]any{"type": "string", "enum": []any{"EUR", "USD"}},
				"email":    map[string]any{"type": "string", "format": "email"},
			},
			"required":             []any{"amount", "currency"},
			"additionalProperties": false,
		},
	},
	"required":             []any{"body"},
	"additionalProperties": false,
}

func testTools(baseURL string) []bundle.Entry[model.Tool] {
	get := func(name, path string) model.Tool {
		return model.Tool{Name: name, Description: name + " tool", BaseURL: baseURL, Method: "GET", Path: path,
			InputSchema: map[string]any{"type": "object", "additionalProperties": false}, Active: true}
	}
	create := model.Tool{Name: "orders.create", Description: "Create an order", BaseURL: baseURL, Method: "POST", Path: "/orders",
		Params: []model.Param{{Name: "body", In: "body", Required: true}}, InputSchema: orderSchema,
		OutputSchema: map[string]any{"type": "object"}, Active: true}
	inactive := get("orders.legacy", "/legacy")
	inactive.Active = false
	return []bundle.Entry[model.Tool]{
		entry("t1", get("orders.list", "/orders")),
		entry("t2", create),
		entry("t3", get("whoami", "/whoami")),
		entry("t4", get("broken.call", "/fail")),
		entry("t5", get("admin.purge", "/purge")),
		entry("t6", inactive),
	}
}

func accessRule(name string, tools, roles, perms []string) bundle.Entry[model.AccessRule] {
	return entry("r-"+name, model.AccessRule{Name: name, Tools: tools, Roles: roles, Permissions: perms, Enabled: true})
}

func sealedKey(t testing.TB, s *seal.Sealer, k backendsig.Key) bundle.SealedKey {
	t.Helper()
	sealed, err := s.Seal(k.Secret, []byte(k.KID))
	require.NoError(t, err)
	return bundle.SealedKey{BackendKey: model.BackendKey{KID: k.KID, Status: "active"}, Sealed: sealed}
}

func globalBundle(t testing.TB, rev int64, s *seal.Sealer, baseURL string, rules ...bundle.Entry[model.AccessRule]) *bundle.Bundle {
	t.Helper()
	if rules == nil {
		rules = defaultRules()
	}
	return &bundle.Bundle{Scope: model.GlobalScope, Revision: rev, BuiltAt: time.Unix(1_780_000_000, 0).UTC(),
		Global: &bundle.Global{Tools: testTools(baseURL), AccessRules: rules, BackendKeys: []bundle.SealedKey{sealedKey(t, s, backendKey)}}}
}

func defaultRules() []bundle.Entry[model.AccessRule] {
	return []bundle.Entry[model.AccessRule]{
		accessRule("readers", []string{"orders.*", "whoami", "broken.call"}, []string{"viewer"}, nil),
		accessRule("admins", []string{"*"}, []string{"admin"}, nil),
		accessRule("writers", []string{"orders.create"}, nil, []string{"orders:write"}),
	}
}

func tenantBundle(id string, rev int64, rules ...bundle.Entry[model.AccessRule]) *bundle.Bundle {
	return &bundle.Bundle{Scope: model.TenantScope(id), Revision: rev, BuiltAt: time.Unix(1_780_000_000, 0).UTC(),
		Tenant: &bundle.Tenant{Tenant: model.Tenant{ID: id, Name: id}, AccessRules: rules}}
}

func snapshot(t testing.TB, bundles ...*bundle.Bundle) *bundlestore.Snapshot {
	t.Helper()
	s, err := bundlestore.NewSnapshot(bundles...)
	require.NoError(t, err)
	return s
}

// env is a pipeline over a Static source, a real forwarder and the test backend.
type env struct {
	t       testing.TB
	src     *bundlestore.Static
	sealer  *seal.Sealer
	backend *backend
	audit   *recorder
	p       *Pipeline
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, sealer: newSealer(t), backend: newBackend(t), audit: &recorder{}}
	e.src = bundlestore.NewStatic(snapshot(t,
		globalBundle(t, 1, e.sealer, e.backend.URL),
		tenantBundle("acme", 1),
		// globex narrows orders.create to buyers.
		tenantBundle("globex", 1, accessRule("buyers", []string{"orders.create"}, []string{"buyer"}, nil)),
	))
	fwd, err := forward.New(forward.Config{Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(fwd.Close)
	e.p, err = New(Config{Source: e.src, Backend: fwd, Sealer: e.sealer, GatewayID: "gw-test", Audit: e.audit, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(e.p.Close)
	return e
}

func as(p authn.Principal) context.Context {
	return mcp.ContextWithPrincipal(context.Background(), p)
}

func toolNames(tools []mcp.Tool) []string {
	out := []string{}
	for _, t := range tools {
		out = append(out, t.Name)
	}
	return out
}
