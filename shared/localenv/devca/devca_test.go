package devca

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnsureCACreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := EnsureCA(dir)
	require.NoError(t, err)
	require.True(t, ca.Cert.IsCA)

	st, err := os.Stat(filepath.Join(dir, KeyFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "CA key must be private")
	st, err = os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	again, err := EnsureCA(dir)
	require.NoError(t, err)
	require.True(t, ca.Cert.Equal(again.Cert), "second call loads the same CA")
	require.Equal(t, filepath.Join(dir, CertFileName), again.CertFile)
}

func TestEnsureCARefusesHalfACA(t *testing.T) {
	tests := []struct {
		name   string
		remove string
	}{
		{"key without certificate", CertFileName},
		{"certificate without key", KeyFileName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := EnsureCA(dir)
			require.NoError(t, err)
			require.NoError(t, os.Remove(filepath.Join(dir, tc.remove)))
			_, err = EnsureCA(dir)
			require.ErrorContains(t, err, "only one of")
		})
	}
}

func TestEnsureCARefusesMismatchedKey(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	_, err := EnsureCA(a)
	require.NoError(t, err)
	_, err = EnsureCA(b)
	require.NoError(t, err)
	key, err := os.ReadFile(filepath.Join(b, KeyFileName))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(a, KeyFileName), key, 0o600))
	_, err = EnsureCA(a)
	require.ErrorContains(t, err, "does not belong")
}

func TestIssueVerifiesForEveryHost(t *testing.T) {
	dir := t.TempDir()
	ca, err := EnsureCA(dir)
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue([]string{"localhost", "127.0.0.1", "::1", "mcp.acme.localhost", "*.tenants.localhost"}, dir, "gateway")
	require.NoError(t, err)
	st, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	require.NoError(t, err)

	tests := []struct {
		host string
		ok   bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"::1", true},
		{"mcp.acme.localhost", true},
		{"globex.tenants.localhost", true},
		{"a.b.tenants.localhost", false}, // a wildcard covers one label only
		{"mcp.globex.localhost", false},
		{"10.0.0.1", false},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{
				DNSName: tc.host, Roots: ca.CertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}

	// Another CA's pool does not trust it.
	other, err := EnsureCA(t.TempDir())
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: other.CertPool()})
	require.Error(t, err)
}

func TestIssueRejectsBadInput(t *testing.T) {
	ca, err := EnsureCA(t.TempDir())
	require.NoError(t, err)
	tests := []struct {
		name  string
		hosts []string
		file  string
	}{
		{"no hosts", nil, "x"},
		{"empty host", []string{"localhost", " "}, "x"},
		{"path in name", []string{"localhost"}, "../x"},
		{"empty name", []string{"localhost"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.Issue(tc.hosts, t.TempDir(), tc.file)
			require.Error(t, err)
		})
	}
}
