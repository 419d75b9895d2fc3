package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/devca"
)

type fixture struct {
	ca   *devca.CA
	dir  string
	acme Pair // mcp.acme.localhost
	wild Pair // *.tenants.localhost
	def  Pair // localhost, 127.0.0.1
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := devca.EnsureCA(dir)
	require.NoError(t, err)
	issue := func(name string, hosts ...string) Pair {
		c, k, err := ca.Issue(hosts, dir, name)
		require.NoError(t, err)
		return Pair{CertFile: c, KeyFile: k}
	}
	return fixture{
		ca: ca, dir: dir,
		def:  issue("default", "localhost", "127.0.0.1"),
		acme: issue("acme", "mcp.acme.localhost"),
		wild: issue("wild", "*.tenants.localhost"),
	}
}

// serve starts a TLS server with cfg and returns its address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	// Not httptest's StartTLS: it adds its own certificate, which Go serves
	// to clients without SNI instead of asking GetCertificate.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), TLSConfig: cfg,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// handshake connects with serverName as SNI and returns the leaf served.
func handshake(t *testing.T, addr, serverName string, roots *x509.CertPool, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName, cfg.RootCAs = serverName, roots
	if serverName == "" {
		cfg.InsecureSkipVerify = true // no name to verify: only look at what is served
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestSNISelectsCertificate(t *testing.T) {
	f := newFixture(t)
	certs, err := Load([]Pair{f.def, f.acme, f.wild}, nil)
	require.NoError(t, err)
	addr := serve(t, ServerConfig(certs))

	tests := []struct {
		sni    string
		wantCN string
	}{
		{"mcp.acme.localhost", "mcp.acme.localhost"},
		{"MCP.ACME.localhost", "mcp.acme.localhost"},
		{"globex.tenants.localhost", "*.tenants.localhost"},
		{"localhost", "localhost"},
		{"", "localhost"},                      // no SNI: the default
		{"a.b.tenants.localhost", "localhost"}, // wildcard covers one label only
		{"unknown.example", "localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.sni, func(t *testing.T) {
			leaf, err := handshake(t, addr, tc.sni, f.ca.CertPool(), &tls.Config{InsecureSkipVerify: true})
			require.NoError(t, err)
			require.Equal(t, tc.wantCN, leaf.Subject.CommonName)
		})
	}

	// With verification on, a client trusting the dev CA accepts the names
	// the certificates cover and refuses the others.
	_, err = handshake(t, addr, "mcp.acme.localhost", f.ca.CertPool(), nil)
	require.NoError(t, err)
	_, err = handshake(t, addr, "unknown.example", f.ca.CertPool(), nil)
	require.Error(t, err)
	_, err = handshake(t, addr, "localhost", x509.NewCertPool(), nil)
	require.Error(t, err, "a client not trusting the CA refuses")
}

func TestProtocolVersionsAndSuites(t *testing.T) {
	f := newFixture(t)
	certs, err := Load([]Pair{f.def}, nil)
	require.NoError(t, err)
	addr := serve(t, ServerConfig(certs))
	dial := func(cfg *tls.Config) (tls.ConnectionState, error) {
		cfg.ServerName, cfg.RootCAs = "localhost", f.ca.CertPool()
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}

	st, err := dial(&tls.Config{})
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS13), st.Version, "1.3 preferred")

	st, err = dial(&tls.Config{MaxVersion: tls.VersionTLS12})
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS12), st.Version)
	require.Contains(t, cipherSuites, st.CipherSuite)

	_, err = dial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	require.Error(t, err, "TLS 1.1 refused")

	_, err = dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}})
	require.Error(t, err, "CBC suites refused")
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	certs, err := Load([]Pair{f.def}, nil)
	require.NoError(t, err)
	first := certs.set.Load().certs[0].Leaf
	require.False(t, certs.changed())

	// A broken file leaves the current certificate in place.
	require.NoError(t, os.WriteFile(f.def.CertFile, []byte("not a certificate"), 0o644))
	require.True(t, certs.changed())
	require.Error(t, certs.Reload())
	require.True(t, first.Equal(certs.set.Load().certs[0].Leaf))

	// A renewed certificate is picked up by Watch.
	_, _, err = f.ca.Issue([]string{"localhost", "127.0.0.1"}, f.dir, "default")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); certs.Watch(ctx, time.Millisecond) }()
	require.Eventually(t, func() bool { return !first.Equal(certs.set.Load().certs[0].Leaf) }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
}

func TestLoadAndPairsErrors(t *testing.T) {
	f := newFixture(t)
	_, err := Load(nil, nil)
	require.Error(t, err)
	_, err = Load([]Pair{{CertFile: f.def.CertFile, KeyFile: f.acme.KeyFile}}, nil)
	require.Error(t, err, "key of another certificate")
	_, err = Load([]Pair{{CertFile: filepath.Join(f.dir, "missing.pem"), KeyFile: f.def.KeyFile}}, nil)
	require.Error(t, err)

	_, err = Pairs([]string{"a", "b"}, []string{"a"})
	require.Error(t, err)
	_, err = Pairs([]string{"a", ""}, []string{"a", "b"})
	require.Error(t, err)
	p, err := Pairs([]string{" a ", "b"}, []string{"ak", "bk"})
	require.NoError(t, err)
	require.Equal(t, []Pair{{"a", "ak"}, {"b", "bk"}}, p)
}
