package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/config"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/demobackend"
	"github.com/portcullis/portcullis/shared/localenv/devca"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

const (
	acmeHost    = "mcp.acme.localhost"
	auditStream = "PORTCULLIS_AUDIT"
)

var (
	sealKey       = bytes.Repeat([]byte{7}, 32)
	backendSecret = []byte("demo backend secret, at least 32 bytes")
)

// env is everything around one gateway: NATS, the signed bundles, an issuer,
// the demo backend, a slow backend, a dev CA and the gateway's config.
type env struct {
	t       *testing.T
	natsURL string
	signKey ed25519.PrivateKey
	kid     string
	issuer  *devissuer.Issuer
	ca      *devca.CA
	demoURL string
	slow    *slowBackend
	cfg     config.Config
}

// slowBackend holds every request until released, so a call can be kept in
// flight across a shutdown.
type slowBackend struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	e := &env{t: t, natsURL: natstest.New(t).URL()}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	e.signKey, e.kid = priv, bundle.KeyID(pub)
	dir := t.TempDir()
	jwks, err := bundle.PublicJWKS(bundle.PublicKey{KID: e.kid, Key: pub})
	require.NoError(t, err)
	keysFile := filepath.Join(dir, "bundle-keys.json")
	require.NoError(t, os.WriteFile(keysFile, jwks, 0o600))

	e.issuer, err = devissuer.New("", devissuer.WithLogger(quiet))
	require.NoError(t, err)
	issURL, err := e.issuer.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.issuer.Close() })

	demo := httptest.NewServer(demobackend.New(map[string][]byte{"bk-1": backendSecret}, quiet).Handler())
	t.Cleanup(demo.Close)
	e.demoURL = demo.URL
	e.slow = &slowBackend{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	e.slow.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.slow.arrived <- struct{}{}
		<-e.slow.release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"done":true}`)
	}))
	t.Cleanup(e.slow.Close)

	e.ca, err = devca.EnsureCA(filepath.Join(dir, "ca"))
	require.NoError(t, err)
	defCert, defKey, err := e.ca.Issue([]string{"localhost", "127.0.0.1"}, dir, "gateway")
	require.NoError(t, err)
	acmeCert, acmeKey, err := e.ca.Issue([]string{acmeHost}, dir, "acme")
	require.NoError(t, err)

	cfg := config.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = "https://127.0.0.1:0"
	cfg.TLSCertFiles = []string{defCert, acmeCert}
	cfg.TLSKeyFiles = []string{defKey, acmeKey}
	cfg.NATSURL = e.natsURL
	cfg.BundleKeysFile = keysFile
	cfg.BundleSealKey = sealKey
	cfg.SnapshotFile = filepath.Join(dir, "snapshot.json")
	cfg.GatewayID = "gw-test"
	cfg.SessionKeys = [][]byte{bytes.Repeat([]byte{9}, 32)}
	cfg.Issuers = []config.IssuerConfig{{Issuer: issURL}}
	cfg.Issuers = cfg.WithResourceAudience(cfg.Issuers)
	cfg.ShutdownTimeout = time.Minute
	cfg.HeartbeatInterval = time.Hour
	e.cfg = cfg
	return e
}

// publish creates the bucket the way the control plane's relay does and puts
// a signed global bundle and the tenant bundle of acme.
func (e *env) publish() {
	t := e.t
	nc, err := nats.Connect(e.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: "portcullis-bundles", Description: "Portcullis signed configuration bundles, one key per scope",
		History: 5, Storage: jetstream.FileStorage, Replicas: 1,
	})
	require.NoError(t, err)
	// The audit stream, as the control plane's ingest creates it.
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: auditStream, Subjects: []string{"portcullis.audit.>"}})
	require.NoError(t, err)

	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	sealed, err := sealer.Seal(backendSecret, []byte("bk-1"))
	require.NoError(t, err)
	obj := map[string]any{"type": "object"}
	global := &bundle.Bundle{Scope: model.GlobalScope, Revision: 1, BuiltAt: time.Now().UTC(), Global: &bundle.Global{
		Tools: []bundle.Entry[model.Tool]{
			{ID: "t1", Spec: model.Tool{Name: "customers.list", Description: "List customers", BaseURL: e.demoURL, Method: "GET",
				Path: "/v1/customers", Params: []model.Param{{Name: "q", In: "query"}}, InputSchema: obj, TimeoutMS: 5000, Active: true}},
			{ID: "t2", Spec: model.Tool{Name: "slow.wait", Description: "Waits", BaseURL: e.slow.URL, Method: "GET",
				Path: "/slow", InputSchema: obj, TimeoutMS: 5000, Active: true}},
		},
		AccessRules: []bundle.Entry[model.AccessRule]{{ID: "r1", Spec: model.AccessRule{Name: "viewers", Tools: []string{"*"}, Roles: []string{"viewer"}, Enabled: true}}},
		BackendKeys: []bundle.SealedKey{{BackendKey: model.BackendKey{KID: "bk-1", Status: "active", CreatedAt: time.Now().UTC()}, Sealed: sealed}},
		Domains:     []bundle.Entry[model.Domain]{{ID: "d1", Spec: model.Domain{Hostname: acmeHost, TenantID: "acme"}}},
	}}
	tenant := &bundle.Bundle{Scope: model.TenantScope("acme"), Revision: 1, BuiltAt: time.Now().UTC(),
		Tenant: &bundle.Tenant{Tenant: model.Tenant{ID: "acme", Name: "Acme"}}}
	for _, b := range []*bundle.Bundle{global, tenant} {
		raw, err := bundle.Sign(b, e.signKey, e.kid)
		require.NoError(t, err)
		_, err = kv.Put(ctx, bundle.KeyFor(b.Scope), raw)
		require.NoError(t, err)
	}
}

// start runs a gateway until the test ends (or stop is called) and returns
// it with a function that stops it and returns Run's error.
func (e *env) start() (*Server, func() error) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, e.cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var stopped bool
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return srv, stop
}

func (e *env) token(tenant, aud string) string {
	tok, err := e.issuer.Mint(devissuer.Claims{Subject: "user-" + tenant, TenantID: tenant, Roles: []string{"viewer"}, Audience: []string{aud}})
	require.NoError(e.t, err)
	return tok
}

// client trusts only the dev CA; dialTo, when set, sends every connection
// there whatever the URL's host (to reach the gateway under another name).
func (e *env) client(dialTo string) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.CertPool()}, ForceAttemptHTTP2: true}
	if dialTo != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, dialTo)
		}
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func (e *env) connect(ctx context.Context, srv *Server, token string) *sdk.ClientSession {
	t := e.t
	hc := e.client("")
	hc.Transport = bearer{token: token, next: hc.Transport}
	client := sdk.NewClient(&sdk.Implementation{Name: "server-test", Version: "1.0"}, nil)
	cs, err := client.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: srv.URL() + "/mcp", HTTPClient: hc}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func get(t *testing.T, c *http.Client, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

func TestGatewayOverTLS(t *testing.T) {
	e := newEnv(t)
	srv, _ := e.start()
	c := e.client("")
	require.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"), srv.URL())
	require.NotEqual(t, "https://127.0.0.1:0", srv.URL(), "port 0 resolved")

	// Before the first sync: alive, not ready, and /mcp refuses to serve.
	code, _, _ := get(t, c, srv.URL()+"/healthz")
	require.Equal(t, http.StatusOK, code)
	code, _, _ = get(t, c, srv.URL()+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	resp, err := c.Post(srv.URL()+"/mcp", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	e.publish()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.WaitReady(ctx))
	code, _, body := get(t, c, srv.URL()+"/readyz")
	require.Equal(t, http.StatusOK, code, body)

	t.Run("no token", func(t *testing.T) {
		resp, err := c.Post(srv.URL()+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, `Bearer resource_metadata="`+srv.URL()+`/.well-known/oauth-protected-resource"`, resp.Header.Get("WWW-Authenticate"))
	})

	t.Run("metadata", func(t *testing.T) {
		code, _, body := get(t, c, srv.URL()+"/.well-known/oauth-protected-resource/mcp")
		require.Equal(t, http.StatusOK, code)
		var md map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &md))
		require.Equal(t, srv.ResourceURL(), md["resource"])
		require.Equal(t, []any{e.issuer.URL()}, md["authorization_servers"])
	})

	t.Run("official Go SDK client", func(t *testing.T) {
		cs := e.connect(ctx, srv, e.token("acme", srv.ResourceURL()))
		require.Equal(t, "portcullis", cs.InitializeResult().ServerInfo.Name)
		list, err := cs.ListTools(ctx, nil)
		require.NoError(t, err)
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
		}
		require.ElementsMatch(t, []string{"customers.list", "slow.wait"}, names)
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "customers.list", Arguments: map[string]any{}})
		require.NoError(t, err)
		require.False(t, res.IsError, "%+v", res.Content)

		// The call's audit event reaches the stream.
		nc, err := nats.Connect(e.natsURL)
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			st, err := js.Stream(ctx, auditStream)
			if err != nil {
				return false
			}
			info, err := st.Info(ctx)
			return err == nil && info.State.Msgs >= 2 // tools/list and tools/call
		}, 20*time.Second, 20*time.Millisecond)
	})

	t.Run("custom domain and SNI", func(t *testing.T) {
		// One listener, two names, two certificates.
		for host, wantCN := range map[string]string{"localhost": "localhost", acmeHost: acmeHost} {
			conn, err := tls.Dial("tcp", srv.Addr(), &tls.Config{ServerName: host, RootCAs: e.ca.CertPool()})
			require.NoError(t, err, host)
			require.Equal(t, wantCN, conn.ConnectionState().PeerCertificates[0].Subject.CommonName)
			conn.Close()
		}
		_, port, err := net.SplitHostPort(srv.Addr())
		require.NoError(t, err)
		acmeURL := "https://" + acmeHost + ":" + port
		ac := e.client(srv.Addr())
		code, _, body := get(t, ac, acmeURL+"/.well-known/oauth-protected-resource")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, `"resource":"`+acmeURL+`/mcp"`)

		// A token of another tenant, for the right audience, is refused.
		req, err := http.NewRequest(http.MethodPost, acmeURL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.token("globex", acmeURL+"/mcp"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := ac.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("metrics", func(t *testing.T) {
		code, _, body := get(t, c, srv.URL()+"/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "portcullis_gateway_authn_requests_total")
	})
}

// TestGracefulShutdownFinishesInFlightCall: a call in flight when the
// gateway is told to stop completes; the listener is closed meanwhile.
func TestGracefulShutdownFinishesInFlightCall(t *testing.T) {
	e := newEnv(t)
	e.publish()
	srv, stop := e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.WaitReady(ctx))
	cs := e.connect(ctx, srv, e.token("acme", srv.ResourceURL()))

	type outcome struct {
		res *sdk.CallToolResult
		err error
	}
	result := make(chan outcome, 1)
	go func() {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "slow.wait", Arguments: map[string]any{}})
		result <- outcome{res, err}
	}()
	<-e.slow.arrived // the call reached the backend

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown closes the listener first: wait until new connections fail.
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", srv.Addr(), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	}, 20*time.Second, 10*time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Run returned before the in-flight call finished: %v", err)
	default:
	}

	close(e.slow.release)
	got := <-result
	require.NoError(t, got.err)
	require.False(t, got.res.IsError, "%+v", got.res.Content)
	require.NoError(t, <-stopped)
}

func TestNewRefusesBadConfig(t *testing.T) {
	e := newEnv(t)
	cfg := e.cfg
	cfg.TLSCertFiles, cfg.TLSKeyFiles = nil, nil // plain HTTP without opting in
	_, err := New(context.Background(), cfg, nil)
	require.ErrorContains(t, err, config.EnvInsecureHTTP)

	cfg = e.cfg
	cfg.TLSKeyFiles = []string{cfg.TLSKeyFiles[1], cfg.TLSKeyFiles[0]} // keys swapped
	_, err = New(context.Background(), cfg, nil)
	require.Error(t, err)
}

func TestPlainHTTPOnLoopback(t *testing.T) {
	e := newEnv(t)
	e.publish()
	e.cfg.TLSCertFiles, e.cfg.TLSKeyFiles = nil, nil
	e.cfg.InsecureHTTP = true
	e.cfg.PublicURL = "http://127.0.0.1:0"
	srv, _ := e.start()
	require.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.WaitReady(ctx))
	code, _, _ := get(t, http.DefaultClient, srv.URL()+"/readyz")
	require.Equal(t, http.StatusOK, code)
}
