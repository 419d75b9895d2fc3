package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/shared/tlsconfig"
)

const makeCerts = "compose/make-certs.sh"

// runMakeCerts runs deploy/compose/make-certs.sh into dir with extra gateway names.
func runMakeCerts(t *testing.T, dir string, names ...string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed; make-certs.sh needs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{makeCerts}, names...)...)
	cmd.Env = append(os.Environ(), "CERTS_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-certs.sh: %v\n%s", err, out)
	}
}

// handshake performs a TLS handshake against the planes' own TLS configuration
// (shared/tlsconfig) loaded with certFile/keyFile, as a client trusting only caFile and
// asking for serverName.
func handshake(t *testing.T, certFile, keyFile, caFile, serverName string) error {
	t.Helper()
	pairs, err := tlsconfig.Pairs([]string{certFile}, []string{keyFile})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := tlsconfig.Load(pairs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("the planes cannot load %s: %v", certFile, err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	serverConn, clientConn := net.Pipe()
	defer serverConn.Close()
	defer clientConn.Close()
	server := tls.Server(serverConn, tlsconfig.ServerConfig(certs))
	go func() { _ = server.Handshake() }()
	client := tls.Client(clientConn, &tls.Config{RootCAs: roots, ServerName: serverName, MinVersion: tls.VersionTLS12})
	_ = clientConn.SetDeadline(time.Now().Add(30 * time.Second))
	return client.Handshake()
}

// TestComposeCertificates: make-certs.sh produces what docker-compose.yml mounts, and a
// client trusting ca.pem can reach each plane under every name compose uses for it.
func TestComposeCertificates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	runMakeCerts(t, dir, "mcp.example.com")

	project, err := loadComposeProject(composeTestEnv())
	if err != nil {
		t.Fatal(err)
	}
	publicURL, err := url.Parse(*project.Services["gateway-1"].Environment["PORTCULLIS_PUBLIC_URL"])
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.pem")
	tests := []struct {
		component, name string
		ok              bool
	}{
		{"controlplane", "controlplane", true}, // the bundle-keys job's URL
		{"controlplane", "localhost", true},    // the published admin port
		{"controlplane", "127.0.0.1", true},
		{"gateway", publicURL.Hostname(), true}, // PORTCULLIS_PUBLIC_URL
		{"gateway", "gateway-1", true},
		{"gateway", "gateway-2", true},
		{"gateway", "mcp.example.com", true}, // the extra name given
		{"gateway", "controlplane", false},
		{"controlplane", "mcp.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.component+"/"+tt.name, func(t *testing.T) {
			err := handshake(t, filepath.Join(dir, tt.component, "tls.crt"), filepath.Join(dir, tt.component, "tls.key"), ca, tt.name)
			if tt.ok && err != nil {
				t.Errorf("handshake for %s: %v", tt.name, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("the %s certificate is accepted for %s", tt.component, tt.name)
			}
		})
	}
	for _, component := range []string{"controlplane", "gateway"} {
		info, err := os.Stat(filepath.Join(dir, component, "tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s/tls.key has mode %v; only its owner may read it", component, mode)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("ca-key.pem is missing or readable by others: %v", err)
	}

	// A second run keeps the CA that clients already trust and issues new certificates.
	caBefore, _ := os.ReadFile(ca)
	leafBefore, _ := os.ReadFile(filepath.Join(dir, "gateway", "tls.crt"))
	runMakeCerts(t, dir)
	caAfter, _ := os.ReadFile(ca)
	leafAfter, _ := os.ReadFile(filepath.Join(dir, "gateway", "tls.crt"))
	if !bytes.Equal(caBefore, caAfter) {
		t.Error("a second run replaced the CA")
	}
	if bytes.Equal(leafBefore, leafAfter) {
		t.Error("a second run did not reissue the gateway certificate")
	}
	if err := handshake(t, filepath.Join(dir, "gateway", "tls.crt"), filepath.Join(dir, "gateway", "tls.key"), ca, "localhost"); err != nil {
		t.Errorf("after reissue: %v", err)
	}
}

// TestComposeCertificatesOtherCA guards the handshake check: a CA from another run is
// not trusted.
func TestComposeCertificatesOtherCA(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	runMakeCerts(t, a)
	runMakeCerts(t, b)
	if err := handshake(t, filepath.Join(a, "gateway", "tls.crt"), filepath.Join(a, "gateway", "tls.key"), filepath.Join(b, "ca.pem"), "localhost"); err == nil {
		t.Error("a certificate from another CA is accepted")
	}
}
