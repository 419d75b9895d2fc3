package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
	"github.com/portcullis/portcullis/shared/seal"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const adminAudience = "portcullis-admin"

// testBundleJWKS is what the test server's Deps.BundleKeys serves.
const testBundleJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"test","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`

// env is one API server on a fresh database, with a real token issuer, and
// a client whose every request and response is checked against
// api/openapi.yaml.
type env struct {
	t      *testing.T
	e      *echo.Echo
	store  *store.Store
	dsn    string
	iss    *devissuer.Issuer
	router routers.Router
}

// newEnv starts everything one test needs.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	require.NoError(t, migrations.Up(ctx, dsn))
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	sealer, err := seal.New(key)
	require.NoError(t, err)
	st, err := store.Open(ctx, dsn, store.Options{Sealer: sealer, MaxConns: 4, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(st.Close)

	iss, err := devissuer.New("", devissuer.WithLogger(testLogger()))
	require.NoError(t, err)
	_, err = iss.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = iss.Close() })
	v, err := authn.New(ctx, authn.Config{
		Issuers: []authn.IssuerConfig{{Issuer: iss.URL(), JWKSURL: iss.JWKSURL(), Audiences: []string{adminAudience}}},
		Logger:  testLogger(),
	})
	require.NoError(t, err)

	e := New(Config{}, Deps{
		Store:      st,
		Auth:       v,
		Logger:     testLogger(),
		Metrics:    prometheus.NewRegistry(),
		Ready:      st.Ping,
		BundleKeys: func(context.Context) ([]byte, error) { return []byte(testBundleJWKS), nil },
	})
	return &env{t: t, e: e, store: st, dsn: dsn, iss: iss, router: contractRouter(t)}
}

func testLogger() *slog.Logger {
	if os.Getenv("PORTCULLIS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var loadSpec = sync.OnceValues(func() (*openapi3.T, error) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "api", "openapi.yaml")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml is not valid OpenAPI: %w", err)
	}
	doc.Servers = nil // match on the request path alone
	return doc, nil
})

func contractRouter(t testing.TB) routers.Router {
	doc, err := loadSpec()
	require.NoError(t, err)
	r, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return r
}

// tokenFor mints a token with roles for tenant ("" = none).
func (env *env) token(sub, tenant string, roles ...string) string {
	env.t.Helper()
	tok, err := env.iss.Mint(devissuer.Claims{
		Subject: sub, Email: sub + "@example.test", TenantID: tenant, Roles: roles,
		Audience: []string{adminAudience}, TTL: time.Hour,
	})
	require.NoError(env.t, err)
	return tok
}

func (env *env) platformToken() string { return env.token("root", "", "platform-admin") }
func (env *env) tenantToken(tenant string) string {
	return env.token("admin-"+tenant, tenant, "tenant-admin")
}

// req is one API call. Body is sent as is when it is a string or []byte, else
// JSON-encoded. Invalid marks a request that breaks the contract on purpose
// (bad input tests): only its response is checked against the contract.
type req struct {
	method, path string
	token        string
	body         any
	headers      map[string]string
	invalid      bool
}

// res is a response.
type res struct {
	status int
	header http.Header
	body   []byte
}

func (r res) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// problemCode returns the problem+json code of an error response.
func (r res) problemCode(t testing.TB) string {
	t.Helper()
	require.Equal(t, problemContentType, r.header.Get("Content-Type"), "body: %s", r.body)
	code, _ := r.json(t)["code"].(string)
	return code
}

func bodyBytes(t testing.TB, body any) []byte {
	switch b := body.(type) {
	case nil:
		return nil
	case string:
		return []byte(b)
	case []byte:
		return b
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		return data
	}
}

func (env *env) newRequest(r req, data []byte) *http.Request {
	hr := httptest.NewRequest(r.method, r.path, bytes.NewReader(data))
	if data != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	return hr
}

// do sends r through the contract checks and the server.
func (env *env) do(r req) res {
	t := env.t
	t.Helper()
	data := bodyBytes(t, r.body)
	ctx := context.Background()

	route, params, routeErr := env.router.FindRoute(env.newRequest(r, data))
	in := &openapi3filter.RequestValidationInput{
		Request: env.newRequest(r, data), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if routeErr == nil && !r.invalid {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("contract: request %s %s does not match api/openapi.yaml: %v", r.method, r.path, err)
		}
	}

	rec := httptest.NewRecorder()
	env.e.ServeHTTP(rec, env.newRequest(r, data))
	out := res{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}

	if routeErr != nil {
		if !r.invalid {
			t.Errorf("contract: %s %s is not in api/openapi.yaml: %v", r.method, r.path, routeErr)
		}
		return out
	}
	in.Request = env.newRequest(r, data)
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 out.status,
		Header:                 out.header,
		Body:                   io.NopCloser(bytes.NewReader(out.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("contract: response %d to %s %s does not match api/openapi.yaml: %v\nbody: %s", out.status, r.method, r.path, err, out.body)
	}
	return out
}

// must sends r and requires status.
func (env *env) must(r req, status int) res {
	env.t.Helper()
	out := env.do(r)
	require.Equal(env.t, status, out.status, "%s %s: %s", r.method, r.path, out.body)
	return out
}

// snapshot is a fingerprint of every table's rows (counts and contents),
// taken as the superuser so that row-level security hides nothing. Two equal
// snapshots mean nothing was written: no rows, no scope revision, no outbox.
func (env *env) snapshot() map[string]string {
	t := env.t
	t.Helper()
	u, err := url.Parse(env.dsn)
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.Cluster(t).SuperuserDSN(strings.TrimPrefix(u.Path, "/")))
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'schema_migrations'
		ORDER BY 1`)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	snap := map[string]string{}
	for _, tbl := range tables {
		var n int64
		var sum string
		err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '') FROM %s x`,
			pgx.Identifier{tbl}.Sanitize())).Scan(&n, &sum)
		require.NoError(t, err)
		snap[tbl] = fmt.Sprintf("%d/%s", n, sum)
	}
	return snap
}

// seedTenant creates a tenant through the API.
func (env *env) seedTenant(id string, delegation bool) {
	env.t.Helper()
	env.must(req{method: "POST", path: "/v1/tenants", token: env.platformToken(),
		body: map[string]any{"id": id, "name": "Tenant " + id, "delegation_enabled": delegation}}, http.StatusCreated)
}

// create posts body and returns the created resource.
func (env *env) create(token, path string, body any) map[string]any {
	env.t.Helper()
	return env.must(req{method: "POST", path: path, token: token, body: body}, http.StatusCreated).json(env.t)
}
