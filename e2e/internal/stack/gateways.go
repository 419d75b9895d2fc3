package stack

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/dataplane"
	"github.com/portcullis/portcullis/shared/localenv/demobackend"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

// The demo configuration Start seeds when it starts gateways.
const (
	// TenantAcme has delegation enabled (its admins may narrow access).
	TenantAcme = "acme"
	// TenantGlobex has delegation disabled.
	TenantGlobex = "globex"
	// RoleAdmin is granted every tool by the "admins" global rule.
	RoleAdmin = "admin"
	// RoleViewer is granted ReadTools by the "viewers" global rule.
	RoleViewer = "viewer"
	// GlobexDomain is a custom domain the gateways hold a certificate for
	// (SNI); tests register it for globex through /v1/domains.
	GlobexDomain = "mcp.globex.localhost"
)

// ReadTools are the demo backend's read operations (the viewers' tools);
// WriteTools the rest. Together: every tool imported from demobackend.OpenAPI.
var (
	ReadTools  = []string{"customers.get", "customers.list", "orders.get", "orders.list"}
	WriteTools = []string{"customers.update", "orders.create", "orders.refund"}
)

// AllTools is ReadTools and WriteTools, sorted.
func AllTools() []string {
	all := append(slices.Clone(ReadTools), WriteTools...)
	slices.Sort(all)
	return all
}

// Gateway is one running gateway replica.
type Gateway struct {
	*dataplane.Server
	ID string
	// Direct is the replica's own address (https://127.0.0.1:<port>),
	// bypassing the load balancer: tests use it to pick a replica.
	Direct string
}

// Backend is the demo SaaS backend, with every request it received
// recorded (the request as the gateway signed it) for replay tests.
type Backend struct {
	URL    string
	Demo   *demobackend.Backend
	KID    string // the backend signing key, created through the admin API
	Secret []byte

	mu       sync.Mutex
	received []Captured
}

// Captured is one request the backend received, as it arrived.
type Captured struct {
	Method string
	Target string // path?query
	Header http.Header
	Body   []byte
	Status int
}

// maxCaptured bounds the recording (a long test would otherwise grow it).
const maxCaptured = 256

// Received returns the requests received so far, oldest first.
func (b *Backend) Received() []Captured {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.received)
}

// record wraps the backend's handler to keep a copy of each request.
func (b *Backend) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		c := Captured{Method: r.Method, Target: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body, Status: rec.status}
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.received) == maxCaptured {
			b.received = slices.Delete(b.received, 0, 1)
		}
		b.received = append(b.received, c)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// gatewayFiles are the files every gateway replica is configured with.
type gatewayFiles struct {
	bundleKeys  string
	certs, keys []string
	dir         string // for the snapshot files
}

// startDataPlane starts the backend, seeds the configuration, and starts n
// gateways behind a load balancer, then waits until every gateway is ready
// and has applied every scope's latest revision.
func (s *Stack) startDataPlane(t testing.TB, n int, level slog.Level) {
	t.Helper()
	s.sessionKey = randomKey(t)
	s.startBackend(t)
	s.seed(t)
	files := s.gatewayFiles(t)
	s.lb = startLoadBalancer(t)
	s.PublicURL = "https://" + s.lb.Addr()
	var targets []string
	for i := range n {
		g := s.startGateway(t, s.gatewayConfig(i+1, files, level), level)
		s.Gateways = append(s.Gateways, g)
		targets = append(targets, g.Addr())
	}
	s.lb.setTargets(targets)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, g := range s.Gateways {
		s.waitGatewayReady(t, ctx, g)
	}
	s.WaitApplied(t)
}

// gatewayFiles writes the bundle-signing public keys (as an operator
// would fetch them) and issues the gateways' certificates: the default
// host's and GlobexDomain's (picked by SNI).
func (s *Stack) gatewayFiles(t testing.TB) gatewayFiles {
	t.Helper()
	f := gatewayFiles{dir: t.TempDir()}
	f.bundleKeys = filepath.Join(f.dir, "bundle-keys.json")
	r := s.mustDo(t, http.MethodGet, "/v1/bundle-signing-keys", "", nil, http.StatusOK)
	if err := os.WriteFile(f.bundleKeys, r.Body, 0o600); err != nil {
		t.Fatalf("stack: %v", err)
	}
	for name, hosts := range map[string][]string{"gateway": {"127.0.0.1", "localhost"}, "globex-domain": {GlobexDomain}} {
		cert, key, err := s.CA.Issue(hosts, f.dir, name)
		if err != nil {
			t.Fatalf("stack: certificate %s: %v", name, err)
		}
		if name == "gateway" { // the default certificate comes first
			f.certs, f.keys = append([]string{cert}, f.certs...), append([]string{key}, f.keys...)
		} else {
			f.certs, f.keys = append(f.certs, cert), append(f.keys, key)
		}
	}
	return f
}

// gatewayConfig is replica i's configuration: everything shared but its
// id, snapshot file and (free) port.
func (s *Stack) gatewayConfig(i int, f gatewayFiles, level slog.Level) dataplane.Config {
	cfg := dataplane.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = s.PublicURL
	cfg.TLSCertFiles, cfg.TLSKeyFiles = f.certs, f.keys
	cfg.NATSURL = s.NATS.URL()
	cfg.BundleKeysFile = f.bundleKeys
	cfg.BundleSealKey = s.BundleSealKey
	cfg.SnapshotFile = filepath.Join(f.dir, fmt.Sprintf("snapshot-%d.json", i))
	cfg.GatewayID = fmt.Sprintf("gw-%d", i)
	cfg.SessionKeys = [][]byte{s.sessionKey}
	cfg.Issuers = cfg.WithResourceAudience([]dataplane.IssuerConfig{{Issuer: s.Issuer.URL()}})
	cfg.LogLevel = level
	cfg.ShutdownTimeout = 10 * time.Second
	// Gateways also send a heartbeat right after applying a change; the
	// interval only bounds how stale GET /v1/fleet can be.
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.Version = "e2e"
	return cfg
}

func (s *Stack) startBackend(t testing.TB) {
	t.Helper()
	b := &Backend{Demo: demobackend.New(nil, s.Logger.With("component", "demobackend"))}
	srv := httptest.NewServer(b.record(b.Demo.Handler()))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	s.Backend = b
}

// seed writes the demo configuration through the admin API, as a platform
// admin would: tenants, a backend signing key (handed to the backend),
// the demo backend's tools and the global access rules.
func (s *Stack) seed(t testing.TB) {
	t.Helper()
	admin := s.PlatformAdminToken(t)
	for _, tn := range []struct {
		id         string
		delegation bool
	}{{TenantAcme, true}, {TenantGlobex, false}} {
		s.mustDo(t, http.MethodPost, "/v1/tenants", admin, map[string]any{"id": tn.id, "name": tn.id, "delegation_enabled": tn.delegation}, http.StatusCreated)
	}
	var key struct {
		KID    string `json:"kid"`
		Secret string `json:"secret"`
	}
	s.mustDo(t, http.MethodPost, "/v1/signing-keys", admin, map[string]any{}, http.StatusCreated).Decode(t, &key)
	secret, err := base64.StdEncoding.DecodeString(key.Secret)
	if err != nil || key.KID == "" || len(secret) == 0 {
		t.Fatalf("stack: signing key %q: secret is not base64: %v", key.KID, err)
	}
	s.Backend.KID, s.Backend.Secret = key.KID, secret
	s.Backend.Demo.SetKeys(map[string][]byte{key.KID: secret})

	s.mustDo(t, http.MethodPost, "/v1/tool-sources", admin, map[string]any{
		"name": "demo", "base_url": s.Backend.URL, "document": json.RawMessage(demobackend.OpenAPI()),
	}, http.StatusCreated)

	s.AccessRuleIDs = map[string]string{}
	for _, rule := range []map[string]any{
		{"name": "admins", "tools": []string{"*"}, "roles": []string{RoleAdmin}, "enabled": true},
		{"name": "viewers", "tools": ReadTools, "roles": []string{RoleViewer}, "enabled": true},
	} {
		var created struct {
			ID string `json:"id"`
		}
		s.mustDo(t, http.MethodPost, "/v1/access-rules", admin, rule, http.StatusCreated).Decode(t, &created)
		s.AccessRuleIDs[rule["name"].(string)] = created.ID
	}
}

func (s *Stack) mustDo(t testing.TB, method, path, token string, body any, want int) Response {
	t.Helper()
	r := s.Do(t, method, path, token, body)
	if r.Status != want {
		t.Fatalf("stack: %s %s: got %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

func (s *Stack) startGateway(t testing.TB, cfg dataplane.Config, level slog.Level) *Gateway {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("gateway", cfg.GatewayID)
	// The context outlives New: the token validator refreshes keys under it.
	runCtx, stop := context.WithCancel(context.Background())
	srv, err := dataplane.New(runCtx, cfg, logger)
	if err != nil {
		stop()
		t.Fatalf("stack: gateway %s: %v", cfg.GatewayID, err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("stack: gateway %s stopped with: %v", cfg.GatewayID, err)
		}
	})
	return &Gateway{Server: srv, ID: cfg.GatewayID, Direct: "https://" + srv.Addr()}
}

// GatewayClient is an HTTP client for the gateways (trusts the dev CA).
func (s *Stack) GatewayClient(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: s.TLSConfig(), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// ResourceURL is the gateways' resource URL on the default host: the
// audience of agents' tokens.
func (s *Stack) ResourceURL() string { return s.PublicURL + "/mcp" }

// UserToken mints an agent user's token for the gateways: tenant, one role,
// audience ResourceURL.
func (s *Stack) UserToken(t testing.TB, tenant, role string) string {
	t.Helper()
	return s.Mint(t, devissuer.Claims{
		Subject: role + "@" + tenant, Email: role + "@" + tenant + ".test", TenantID: tenant,
		Roles: []string{role}, Audience: []string{s.ResourceURL()},
	})
}

func (s *Stack) waitGatewayReady(t testing.TB, ctx context.Context, g *Gateway) {
	t.Helper()
	client := s.GatewayClient(t)
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.Direct+"/readyz", nil)
		if err != nil {
			t.Fatalf("stack: %v", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack: gateway %s not ready: %s", g.ID, last)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// ScopeRevisions is the last revision Postgres handed out per scope
// ("global", "tenant/<id>"): what gateways must have applied.
func (s *Stack) ScopeRevisions(t testing.TB) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DatabaseURL)
	if err != nil {
		t.Fatalf("stack: postgres: %v", err)
	}
	defer conn.Close(ctx)
	// Read as the platform: the tables have row-level security.
	if _, err := conn.Exec(ctx, `SELECT set_config('portcullis.platform', 'on', false)`); err != nil {
		t.Fatalf("stack: postgres: %v", err)
	}
	rows, err := conn.Query(ctx, `SELECT scope, revision FROM scope_revisions`)
	if err != nil {
		t.Fatalf("stack: scope revisions: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		Scope    string
		Revision int64
	}, error) {
		var v struct {
			Scope    string
			Revision int64
		}
		err := r.Scan(&v.Scope, &v.Revision)
		return v, err
	})
	if err != nil {
		t.Fatalf("stack: scope revisions: %v", err)
	}
	revs := make(map[string]int64, len(out))
	for _, v := range out {
		revs[v.Scope] = v.Revision
	}
	return revs
}

// FleetRevisions is GET /v1/fleet: the revisions each gateway reported
// applying in its last heartbeat, by gateway id.
func (s *Stack) FleetRevisions(t testing.TB) map[string]map[string]int64 {
	t.Helper()
	r := s.mustDo(t, http.MethodGet, "/v1/fleet", s.PlatformAdminToken(t), nil, http.StatusOK)
	var fleet struct {
		Items []struct {
			ID        string           `json:"id"`
			Revisions map[string]int64 `json:"revisions"`
		} `json:"items"`
	}
	r.Decode(t, &fleet)
	out := map[string]map[string]int64{}
	for _, g := range fleet.Items {
		out[g.ID] = g.Revisions
	}
	return out
}

// WaitApplied waits until GET /v1/fleet shows every gateway at (or past)
// the revision Postgres holds for every scope. A hang guard, not a
// performance assertion.
func (s *Stack) WaitApplied(t testing.TB) {
	t.Helper()
	want := s.ScopeRevisions(t)
	deadline := time.Now().Add(startTimeout)
	for {
		fleet := s.FleetRevisions(t)
		missing := behind(want, fleet, s.Gateways)
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack: gateways did not apply the latest bundles: %s", missing)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// behind describes the first scope a gateway has not applied yet ("" when
// all are applied).
func behind(want map[string]int64, fleet map[string]map[string]int64, gws []*Gateway) string {
	for _, g := range gws {
		got, ok := fleet[g.ID]
		if !ok {
			return g.ID + " has sent no heartbeat"
		}
		for scope, rev := range want {
			if got[scope] < rev {
				return fmt.Sprintf("%s holds %s at revision %d, want %d", g.ID, scope, got[scope], rev)
			}
		}
	}
	return ""
}
