package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeKeyAPI is the part of the admin API ensureBackendKey uses: it lists keys and creates one.
type fakeKeyAPI struct {
	mu      sync.Mutex
	keys    map[string]string // kid → status
	created int
}

func (f *fakeKeyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/v1/signing-keys" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet:
		var items []map[string]string
		for kid, st := range f.keys {
			items = append(items, map[string]string{"kid": kid, "status": st})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	case http.MethodPost:
		f.created++
		kid := "bk_new" + string(rune('0'+f.created))
		f.keys[kid] = "active"
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"kid": kid, "status": "active",
			"secret": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(f.created)}, 32))})
	}
}

func TestBackendKeyIsCreatedOnceAndReusedWhileActive(t *testing.T) {
	api := &fakeKeyAPI{keys: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "backend-key.env")
	ctx := context.Background()

	first, reused, err := ensureBackendKey(ctx, srv.Client(), srv.URL, "tok", file)
	require.NoError(t, err)
	require.False(t, reused)
	require.Equal(t, 1, api.created)
	st, err := os.Stat(file)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the secret must be private")

	second, reused, err := ensureBackendKey(ctx, srv.Client(), srv.URL, "tok", file)
	require.NoError(t, err)
	require.True(t, reused)
	require.Equal(t, first, second)
	require.Equal(t, 1, api.created, "an active saved key must not be replaced")

	for _, status := range []string{"retiring", "revoked"} {
		api.keys[second.kid] = status
		third, reused, err := ensureBackendKey(ctx, srv.Client(), srv.URL, "tok", file)
		require.NoError(t, err, status)
		require.False(t, reused, status)
		require.NotEqual(t, second.kid, third.kid)
		saved, err := readBackendKey(file)
		require.NoError(t, err)
		require.Equal(t, third, saved, "the new key replaces the old one in the file")
		second = third
	}

	delete(api.keys, second.kid) // e.g. ./.data/pg was deleted but not the key file
	_, reused, err = ensureBackendKey(ctx, srv.Client(), srv.URL, "tok", file)
	require.NoError(t, err)
	require.False(t, reused)
}

func TestBackendKeyFileMustBeWellFormed(t *testing.T) {
	for name, content := range map[string]string{
		"not kid=secret": envBackendKey + "=justakid\n",
		"not base64":     envBackendKey + "=bk_1=%%%\n",
		"two keys":       envBackendKey + "=a=AAAA,b=BBBB\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "backend-key.env")
			require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
			_, err := readBackendKey(file)
			require.Error(t, err)
			require.NotContains(t, err.Error(), "%%%")
		})
	}
}

func TestBackendKeyCreationFailureIsReported(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"title":"Forbidden","status":403}`))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "backend-key.env")
	_, _, err := ensureBackendKey(context.Background(), srv.Client(), srv.URL, "tok", file)
	require.ErrorContains(t, err, "HTTP 403")
	_, statErr := os.Stat(file)
	require.ErrorIs(t, statErr, os.ErrNotExist)
}

func TestKeysFileGainsSessionKeysKeepingTheOthers(t *testing.T) {
	t.Setenv(envMasterKey, "")
	t.Setenv(envBundleSealKey, "")
	t.Setenv(envSessionKeys, "")
	path := filepath.Join(t.TempDir(), "keys.env")
	k := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	// A keys.env written before the gateways existed: master and seal keys only.
	require.NoError(t, os.WriteFile(path, []byte(envMasterKey+"="+k+"\n"+envBundleSealKey+"="+k+"\n"), 0o600))
	keys, err := loadOrCreateKeys(path)
	require.NoError(t, err)
	require.Equal(t, k, keys.masterKey, "existing keys must survive: Postgres holds data sealed with them")
	require.Equal(t, k, keys.bundleSealKey)
	b, err := base64.StdEncoding.DecodeString(keys.sessionKeys)
	require.NoError(t, err)
	require.Len(t, b, 32)
	again, err := loadOrCreateKeys(path)
	require.NoError(t, err)
	require.Equal(t, keys, again)

	t.Setenv(envSessionKeys, base64.StdEncoding.EncodeToString([]byte("short")))
	_, err = loadOrCreateKeys(path)
	require.ErrorContains(t, err, envSessionKeys)
}

func TestGatewayEnv(t *testing.T) {
	t.Setenv(envMasterKey, "inherited-master-key")
	t.Setenv("PORTCULLIS_INSECURE_HTTP", "true")
	cfg := config{dataDir: t.TempDir(), bundleKeysFile: "/d/bundle-keys.json", gatewayPublic: "https://localhost:8443",
		natsListen: "127.0.0.1:4222", logLevel: "info"}
	in := gatewayInput{issuerURL: "http://127.0.0.1:9000", keys: devKeys{masterKey: "m", bundleSealKey: "b", sessionKeys: "s"},
		certs: &devTLS{gateway: []certPair{{"/ca/gw.pem", "/ca/gw-key.pem"}, {"/ca/d.pem", "/ca/d-key.pem"}}}}
	env, err := gatewayEnv(cfg, 2, "127.0.0.1:8444", in)
	require.NoError(t, err)
	for _, want := range []string{
		"PORTCULLIS_LISTEN=127.0.0.1:8444",
		"PORTCULLIS_PUBLIC_URL=https://localhost:8443",
		"PORTCULLIS_TLS_CERT_FILE=/ca/gw.pem,/ca/d.pem",
		"PORTCULLIS_TLS_KEY_FILE=/ca/gw-key.pem,/ca/d-key.pem",
		"NATS_URL=nats://127.0.0.1:4222",
		"PORTCULLIS_BUNDLE_KEYS_FILE=/d/bundle-keys.json",
		"PORTCULLIS_BUNDLE_SEAL_KEY=b",
		"PORTCULLIS_SESSION_KEYS=s",
		"PORTCULLIS_GATEWAY_ID=gw-2",
		"PORTCULLIS_SNAPSHOT_FILE=" + filepath.Join(cfg.dataDir, "gw-2", "snapshot.json"),
		`PORTCULLIS_ISSUERS=[{"issuer":"http://127.0.0.1:9000"}]`,
	} {
		require.Contains(t, env, want)
	}
	for _, kv := range env {
		require.False(t, strings.HasPrefix(kv, envMasterKey+"="), "gateways must not get the control plane's master key")
		require.False(t, strings.HasPrefix(kv, "PORTCULLIS_INSECURE_HTTP="))
	}
	cfg.natsURL = "nats://elsewhere:4222"
	env, err = gatewayEnv(cfg, 1, "127.0.0.1:8443", in)
	require.NoError(t, err)
	require.Contains(t, env, "NATS_URL=nats://elsewhere:4222")
}

func TestDomainURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://localhost:8443": "https://mcp.acme.localhost:8443",
		"https://localhost":      "https://mcp.acme.localhost",
	} {
		got, err := domainURL(in, demoDomain)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := domainURL("localhost:8443", demoDomain)
	require.Error(t, err)
}

// TestCertificatesServeTheirNames checks that each issued certificate verifies, with the dev
// CA alone, for the names clients use, and is reused as CA across runs.
func TestCertificatesServeTheirNames(t *testing.T) {
	cfg := config{caDir: filepath.Join(t.TempDir(), "ca")}
	first, err := ensureTLS(cfg)
	require.NoError(t, err)
	second, err := ensureTLS(cfg)
	require.NoError(t, err)
	require.True(t, first.ca.Cert.Equal(second.ca.Cert), "the CA clients trust must survive restarts")

	check := func(p certPair, names ...string) {
		pair, err := tls.LoadX509KeyPair(p.cert, p.key)
		require.NoError(t, err)
		leaf, err := x509.ParseCertificate(pair.Certificate[0])
		require.NoError(t, err)
		for _, n := range names {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: first.ca.CertPool()})
			require.NoError(t, err, n)
		}
		_, err = leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: first.ca.CertPool()})
		require.Error(t, err)
	}
	check(second.controlPlane, "localhost", "127.0.0.1")
	require.Len(t, second.gateway, 2)
	check(second.gateway[0], "localhost", "127.0.0.1")
	check(second.gateway[1], demoDomain)
}

func TestBannerShowsWhatToPaste(t *testing.T) {
	var out bytes.Buffer
	printBanner(&out, bannerInfo{
		adminURL: "https://127.0.0.1:8080", issuerURL: "http://127.0.0.1:9000", dsn: "postgres://x", caFile: "/r/.data/ca/ca.pem",
		mcpURL: "https://localhost:8443/mcp", domainMCPURL: "https://mcp.acme.localhost:8443/mcp",
		gateways: []string{"https://localhost:8443/mcp", "https://localhost:8444/mcp"}, backendURL: "http://127.0.0.1:9100",
		tokens: demoTokens{platformAdmin: "PTOK", acmeAdmin: "ATOK", domainToken: "DTOK", aliceMFA: "MFATOK",
			agents: []agentToken{{env: "ALICE", who: "alice", token: "ALICETOK"}, {env: "BOB", who: "bob", token: "BOBTOK"}}},
		ids: demoIDs{order: "ord_1", customer: "cus_1"},
	})
	text := out.String()
	for _, want := range []string{
		"export ALICE=ALICETOK", "export BOB=BOBTOK", "export ALICE_DOMAIN=DTOK", "export TOKEN=PTOK", "export ACME_TOKEN=ATOK",
		"export NODE_EXTRA_CA_CERTS=/r/.data/ca/ca.pem", "update-ca-certificates", "npx @modelcontextprotocol/inspector",
		`claude mcp add --transport http portcullis https://localhost:8443/mcp --header "Authorization: Bearer $ALICE"`,
		`"method":"initialize"`, `"method":"tools/list"`, "https://localhost:8444/mcp",
		// the policy flows: step-up with and without the MFA token, approval through the admin API
		"export ALICE_MFA=MFATOK",
		`call "$ALICE" orders.refund '{"order_id":"ord_1","body":{"amount":5}}'`,
		`call "$ALICE_MFA" orders.refund '{"order_id":"ord_1","body":{"amount":5}}'`,
		`call "$ALICE" orders.create '{"body":{"customer_id":"cus_1","amount":500}}'`,
		`-H "Authorization: Bearer $ACME_TOKEN" https://127.0.0.1:8080/v1/tenants/acme/approvals/<approval id>/approve`,
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "banner:", "the template must execute")
}

// TestBackendServesSignedRequestsOnly starts the in-process demo backend as make run does.
func TestBackendServesSignedRequestsOnly(t *testing.T) {
	var stack stopStack
	url, err := startBackend("127.0.0.1:0", backendKey{kid: "k1", secret: bytes.Repeat([]byte{1}, 32)}, discardLogger(), &stack)
	require.NoError(t, err)
	client := &http.Client{Timeout: 10 * time.Second}
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/openapi.json": http.StatusOK, "/v1/orders": http.StatusUnauthorized} {
		resp, err := client.Get(url + path)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}
	stack.stopAll(discardLogger())
	_, err = client.Get(url + "/healthz")
	require.Error(t, err, "stopped means stopped")
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestReplicaURLKeepsTheHostName(t *testing.T) {
	got, err := replicaURL("https://localhost:8443/mcp", "https://127.0.0.1:8444")
	require.NoError(t, err)
	require.Equal(t, "https://localhost:8444/mcp", got, "the token's audience names localhost, not the IP")
	_, err = replicaURL("https://localhost:8443/mcp", "https://127.0.0.1")
	require.Error(t, err)
}

// TestListToolsSpeaksMCP runs listTools against a minimal Streamable HTTP server that insists
// on what a real gateway insists on: the bearer token, then the session id and version header.
func TestListToolsSpeaksMCP(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var msg struct {
			Method string `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&msg)
		switch {
		case msg.Method == "initialize":
			w.Header().Set("Mcp-Session-Id", "s1")
			_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
		case r.Header.Get("Mcp-Session-Id") != "s1" || r.Header.Get("MCP-Protocol-Version") != protocolVersion:
			w.WriteHeader(http.StatusBadRequest)
		case msg.Method == "notifications/initialized":
			w.WriteHeader(http.StatusAccepted)
		case msg.Method == "tools/list":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}\n\n"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	tools, err := listTools(ctx, srv.Client(), srv.URL, "good", true)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, tools)
	_, err = listTools(ctx, srv.Client(), srv.URL, "bad", true)
	require.ErrorContains(t, err, "HTTP 401")
}
