package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/controlplane/internal/config"
	"github.com/portcullis/portcullis/controlplane/internal/relay"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/devca"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
	"github.com/portcullis/portcullis/shared/localenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func key(t *testing.T) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func testConfig(t *testing.T, issuer string) config.Config {
	cfg := config.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.InsecureHTTP = true
	cfg.DatabaseURL = pgtest.NewDatabase(t)
	cfg.NATSListen = "127.0.0.1:0"
	cfg.NATSDir = t.TempDir()
	cfg.Issuers = []authn.IssuerConfig{{Issuer: issuer, Audiences: []string{"portcullis-admin"}}}
	cfg.MasterKey, cfg.BundleSealKey = key(t), key(t)
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// TestRunEmbeddedAndShutdown starts a control plane with its embedded NATS
// server, checks what tests and operators rely on (bound address, health,
// readiness, public bundle keys, the bundle bucket), then shuts it down and
// checks nothing is left running.
func TestRunEmbeddedAndShutdown(t *testing.T) {
	iss, err := devissuer.New("")
	require.NoError(t, err)
	_, err = iss.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = iss.Close() })
	cfg := testConfig(t, iss.URL())
	// Registered after the issuer and database: runs before their cleanup,
	// after the server has stopped.
	leaks := goleak.IgnoreCurrent()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	s, err := New(ctx, cfg, logger)
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(s.Addr())
	require.NoError(t, err)
	assert.NotEqual(t, "0", port, "Addr reports the port actually bound")
	assert.NotEqual(t, "nats://127.0.0.1:0", s.NATSURL())

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()

	code, _ := get(t, s.URL()+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	code, body := get(t, s.URL()+"/readyz")
	assert.Equal(t, http.StatusOK, code, "%s", body)
	code, body = get(t, s.URL()+"/v1/bundle-signing-keys")
	require.Equal(t, http.StatusOK, code)
	keys, err := bundle.ParseJWKS(body)
	require.NoError(t, err, "the signing key exists from the start")
	assert.Len(t, keys, 1)
	code, body = get(t, s.URL()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.True(t, bytes.Contains(body, []byte("portcullis_relay_leader")), "relay metrics are served")

	// The embedded server is reachable and the relay created the bucket.
	nc, err := nats.Connect(s.NATSURL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := js.KeyValue(c, relay.Bucket)
		return err == nil
	}, 60*time.Second, 20*time.Millisecond)
	nc.Close()

	stop()
	require.NoError(t, <-done)
	_, err = net.DialTimeout("tcp", s.Addr(), time.Second)
	assert.Error(t, err, "the API port is closed after shutdown")
	goleak.VerifyNone(t, leaks)
}

func TestNewRefusesBadConfig(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Listen = "0.0.0.0:8080"
	_, err := New(context.Background(), cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), config.EnvListen)
	assert.Contains(t, err.Error(), config.EnvDatabaseURL)
}

// TestServesTLS: with certificates the admin API is HTTPS only, and any
// listen address is accepted.
func TestServesTLS(t *testing.T) {
	iss, err := devissuer.New("")
	require.NoError(t, err)
	_, err = iss.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = iss.Close() })
	dir := t.TempDir()
	ca, err := devca.EnsureCA(dir)
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue([]string{"localhost", "127.0.0.1"}, dir, "controlplane")
	require.NoError(t, err)

	cfg := testConfig(t, iss.URL())
	cfg.InsecureHTTP = false
	cfg.TLSCertFiles, cfg.TLSKeyFiles = []string{certFile}, []string{keyFile}
	s, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()

	require.True(t, strings.HasPrefix(s.URL(), "https://"), s.URL())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.CertPool()}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get(s.URL() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))

	// Plain HTTP to the TLS port gets no API response.
	resp, err = http.Get("http://" + s.Addr() + "/healthz")
	if err == nil {
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	}
}
