// Package stack starts a whole Portcullis deployment in-process for
// end-to-end tests: a throwaway Postgres database, an embedded NATS server
// with JetStream (which tests can stop and restart to simulate an outage), a
// development OIDC issuer, a development CA, and the control plane itself
// serving TLS, exactly as cmd/portcullis-controlplane runs it. With
// Options.Gateways > 0 it also starts the demo SaaS backend and that many
// gateway replicas behind a TCP load balancer, over TLS, and seeds the demo
// configuration through the admin API (see gateways.go).
//
// Test binaries using it must start Postgres from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package stack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/controlplane"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/devca"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
	"github.com/portcullis/portcullis/shared/localenv/natsserver"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

// AdminAudience is the audience admin tokens are minted for and the control
// plane accepts.
const AdminAudience = "portcullis-admin"

// BundleBucket is the KV bucket holding bundles (CONTRACTS.md).
const BundleBucket = "portcullis-bundles"

// startTimeout bounds the start of the whole stack (a hang guard).
const startTimeout = 2 * time.Minute

// Stack is one running deployment. Everything is stopped when the test ends.
type Stack struct {
	DatabaseURL string
	NATS        *natsserver.Server
	Issuer      *devissuer.Issuer
	// IssuerKey is the issuer's RSA signing key, so tests can forge tokens
	// the issuer itself would never mint (expired, tampered, other algs).
	IssuerKey     *rsa.PrivateKey
	ControlPlane  *controlplane.Server
	BundleSealKey []byte
	// API is the control plane's base URL, e.g. https://127.0.0.1:41234.
	API string
	// HTTP calls the admin API (it trusts the dev CA).
	HTTP   *http.Client
	Logger *slog.Logger
	// CA is the development CA every TLS server of the stack has its
	// certificate from; clients trust it alone.
	CA *devca.CA

	// Set only when Options.Gateways > 0.
	Gateways []*Gateway
	Backend  *Backend
	// PublicURL is the gateways' shared public URL: the load balancer in
	// front of them (https://127.0.0.1:<port>).
	PublicURL string
	// AccessRuleIDs are the seeded global access rules by name.
	AccessRuleIDs map[string]string
	lb            *loadBalancer
	sessionKey    []byte
}

// Options tunes Start.
type Options struct {
	// LogLevel of the components' logs (to stderr); default Warn, so a
	// passing test stays quiet.
	LogLevel slog.Level
	// Gateways is the number of gateway replicas to start, together with the
	// demo backend and the demo configuration; 0 starts no data plane.
	Gateways int
}

// Start brings the stack up and waits until the control plane is ready.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.LogLevel == 0 {
		o.LogLevel = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: o.LogLevel}))
	s := &Stack{
		DatabaseURL:   pgtest.NewDatabase(t),
		NATS:          natstest.New(t),
		BundleSealKey: randomKey(t),
		Logger:        logger,
	}
	s.startCA(t)
	tr := &http.Transport{TLSClientConfig: s.TLSConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	s.HTTP = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	s.startIssuer(t)
	s.startControlPlane(t)
	if o.Gateways > 0 {
		s.startDataPlane(t, o.Gateways, o.LogLevel)
	}
	return s
}

func (s *Stack) startCA(t testing.TB) {
	t.Helper()
	ca, err := devca.EnsureCA(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatalf("stack: dev CA: %v", err)
	}
	s.CA = ca
}

// TLSConfig is a client TLS configuration trusting only the dev CA.
func (s *Stack) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CA.CertPool(), MinVersion: tls.VersionTLS12}
}

func randomKey(t testing.TB) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatalf("stack: key: %v", err)
	}
	return k
}

func (s *Stack) startIssuer(t testing.TB) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("stack: issuer key: %v", err)
	}
	s.IssuerKey = key
	iss, err := devissuer.New("", devissuer.WithKey(key), devissuer.WithLogger(s.Logger))
	if err != nil {
		t.Fatalf("stack: devissuer: %v", err)
	}
	if _, err := iss.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("stack: devissuer start: %v", err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	s.Issuer = iss
}

func (s *Stack) startControlPlane(t testing.TB) {
	t.Helper()
	cfg := controlplane.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cert, key, err := s.CA.Issue([]string{"127.0.0.1", "localhost"}, t.TempDir(), "controlplane")
	if err != nil {
		t.Fatalf("stack: control plane certificate: %v", err)
	}
	cfg.TLSCertFiles, cfg.TLSKeyFiles = []string{cert}, []string{key}
	cfg.DatabaseURL = s.DatabaseURL
	cfg.DBMaxConns = 8
	cfg.NATSURL = s.NATS.URL()
	cfg.Issuers = []authn.IssuerConfig{{Issuer: s.Issuer.URL(), Audiences: []string{AdminAudience}}}
	cfg.MasterKey = randomKey(t)
	cfg.BundleSealKey = s.BundleSealKey
	cfg.LogLevel = slog.LevelWarn
	cfg.ShutdownTimeout = 10 * time.Second
	cfg.RelayPollInterval = 200 * time.Millisecond
	cfg.WebhookAllowPrivate = true // the tests' webhook receivers listen on loopback

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cp, err := controlplane.New(ctx, cfg, s.Logger)
	if err != nil {
		t.Fatalf("stack: control plane: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("stack: control plane stopped with: %v", err)
		}
	})
	s.ControlPlane = cp
	s.API = cp.URL()
	s.waitReady(t, ctx)
}

func (s *Stack) waitReady(t testing.TB, ctx context.Context) {
	t.Helper()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.API+"/readyz", nil)
		if err != nil {
			t.Fatalf("stack: %v", err)
		}
		resp, err := s.HTTP.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stack: control plane not ready: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PlatformAdminToken mints a platform-admin token.
func (s *Stack) PlatformAdminToken(t testing.TB) string {
	t.Helper()
	return s.Mint(t, devissuer.Claims{
		Subject: "platform-admin@e2e", Email: "admin@platform.test",
		Roles: []string{"platform-admin"}, Audience: []string{AdminAudience},
	})
}

// TenantAdminToken mints a tenant-admin token for tenant.
func (s *Stack) TenantAdminToken(t testing.TB, tenant string) string {
	t.Helper()
	return s.Mint(t, devissuer.Claims{
		Subject: "tenant-admin@" + tenant, Email: "admin@" + tenant + ".test", TenantID: tenant,
		Roles: []string{"tenant-admin"}, Audience: []string{AdminAudience},
	})
}

// Mint mints a token with the stack's issuer.
func (s *Stack) Mint(t testing.TB, c devissuer.Claims) string {
	t.Helper()
	tok, err := s.Issuer.Mint(c)
	if err != nil {
		t.Fatalf("stack: mint: %v", err)
	}
	return tok
}

// Response is an API response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("stack: response %d is not the expected JSON: %v\n%s", r.Status, err, r.Body)
	}
}

// Do calls the admin API with token (none when empty) and a JSON body (none
// when nil).
func (s *Stack) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("stack: body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.API+path, rd)
	if err != nil {
		t.Fatalf("stack: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		t.Fatalf("stack: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		t.Fatalf("stack: %s %s: read: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// BundleKeys fetches the public bundle-signing keys from the API, as a
// gateway operator would.
func (s *Stack) BundleKeys(t testing.TB) bundle.KeySet {
	t.Helper()
	r := s.Do(t, http.MethodGet, "/v1/bundle-signing-keys", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("stack: GET /v1/bundle-signing-keys: %d %s", r.Status, r.Body)
	}
	keys, err := bundle.ParseJWKS(r.Body)
	if err != nil {
		t.Fatalf("stack: bundle keys: %v", err)
	}
	return keys
}

// NATSConn connects a test client to the stack's NATS, reconnecting forever
// (it survives the tests' outages). Closed when the test ends.
func (s *Stack) NATSConn(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.NATS.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatalf("stack: nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("stack: jetstream: %v", err)
	}
	return nc, js
}

// ErrNoBundle is returned by ReadBundle when the key holds no bundle yet.
var ErrNoBundle = errors.New("stack: no bundle")

// ReadBundle reads the bundle under KV key ("global", "tenant.<id>") and
// verifies it as a gateway does: signature by one of keys, and the scope the
// key names.
func ReadBundle(ctx context.Context, js jetstream.JetStream, keys bundle.KeySet, key string) (*bundle.Bundle, error) {
	kv, err := js.KeyValue(ctx, BundleBucket)
	if err != nil {
		return nil, fmt.Errorf("%w: bucket: %v", ErrNoBundle, err)
	}
	scope, err := bundle.ScopeFromKey(key)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBundle, err)
	}
	return bundle.Verify(e.Value(), keys, scope)
}
