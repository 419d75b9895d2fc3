package e2e

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e-raw","version":"1"}}}`

// mcpPost sends one JSON-RPC message to url with token ("" for none) and
// session ("" for none) and returns the response with its body read.
func mcpPost(t *testing.T, client *http.Client, url, token, session, body string) (*http.Response, []byte) {
	t.Helper()
	resp, data, err := tryMCPPost(client, url, token, session, body)
	require.NoError(t, err)
	return resp, data
}

// tryMCPPost is mcpPost without assertions, for other goroutines than the
// test's.
func tryMCPPost(client *http.Client, url, token, session, body string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	return resp, data, nil
}

// forger builds JWTs by hand, so every field an attacker controls can be
// set: header, claims, and the signature (or its absence).
type forger struct {
	t   *testing.T
	s   *stack.Stack
	kid string // the issuer's real key id
}

func newForger(t *testing.T, s *stack.Stack) *forger {
	t.Helper()
	real := s.UserToken(t, stack.TenantAcme, stack.RoleViewer)
	var hdr struct {
		KID string `json:"kid"`
	}
	require.NoError(t, json.Unmarshal(b64decode(t, strings.Split(real, ".")[0]), &hdr))
	require.NotEmpty(t, hdr.KID)
	return &forger{t: t, s: s, kid: hdr.KID}
}

// claims are a valid viewer's claims of acme for the default resource.
func (f *forger) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": f.s.Issuer.URL(), "sub": "viewer@acme", "aud": []string{f.s.ResourceURL()},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"tenantId": stack.TenantAcme, "roles": []string{stack.RoleViewer}, "permissions": []string{},
	}
}

func (f *forger) header(alg string) map[string]any {
	return map[string]any{"alg": alg, "typ": "JWT", "kid": f.kid}
}

// token encodes header and claims and signs them with sign (nil: no
// signature, as alg none has).
func (f *forger) token(header, claims map[string]any, sign func(input []byte) []byte) string {
	f.t.Helper()
	input := b64json(f.t, header) + "." + b64json(f.t, claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func (f *forger) rs256(key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		require.NoError(f.t, err)
		return sig
	}
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(data)
}

func b64decode(t *testing.T, s string) []byte {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return data
}

func with(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

// TestGatewayTokenAttacks: every request without a valid token for this
// gateway gets 401 with a WWW-Authenticate pointing at the RFC 9728
// metadata, on every replica; a token of one tenant is refused on another
// tenant's custom domain and cannot use another tenant's session.
func TestGatewayTokenAttacks(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	f := newForger(t, s)
	client := s.GatewayClient(t)
	key := s.IssuerKey
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func(secret []byte) func([]byte) []byte {
		return func(input []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(input)
			return m.Sum(nil)
		}
	}
	now := time.Now()

	// The forger's baseline is a token the gateway accepts: each attack
	// below changes one thing, so its 401 is due to that change alone.
	valid := f.token(f.header("RS256"), f.claims(), f.rs256(key))
	for _, g := range s.Gateways {
		resp, body := mcpPost(t, client, g.Direct+"/mcp", valid, "", initializeBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: the forger's baseline token must be valid: %s", g.ID, body)
	}

	minted := s.UserToken(t, stack.TenantAcme, stack.RoleViewer)
	parts := strings.Split(minted, ".")
	var payload map[string]any
	require.NoError(t, json.Unmarshal(b64decode(t, parts[1]), &payload))
	payload["roles"] = []string{stack.RoleAdmin}
	tampered := parts[0] + "." + b64json(t, payload) + "." + parts[2]

	attacks := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"expired", f.token(f.header("RS256"), with(with(with(f.claims(), "exp", now.Add(-10*time.Minute).Unix()), "iat", now.Add(-2*time.Hour).Unix()), "nbf", now.Add(-2*time.Hour).Unix()), f.rs256(key))},
		{"not yet valid", f.token(f.header("RS256"), with(with(with(f.claims(), "nbf", now.Add(10*time.Minute).Unix()), "iat", now.Add(10*time.Minute).Unix()), "exp", now.Add(2*time.Hour).Unix()), f.rs256(key))},
		{"wrong issuer", f.token(f.header("RS256"), with(f.claims(), "iss", "https://evil.example.test"), f.rs256(key))},
		{"wrong audience", f.token(f.header("RS256"), with(f.claims(), "aud", []string{"https://other.example.test/mcp"}), f.rs256(key))},
		{"admin API audience", s.TenantAdminToken(t, stack.TenantAcme)},
		{"no audience", f.token(f.header("RS256"), func() map[string]any { c := f.claims(); delete(c, "aud"); return c }(), f.rs256(key))},
		{"alg none", f.token(f.header("none"), f.claims(), nil)},
		{"alg None", f.token(f.header("None"), f.claims(), nil)},
		{"alg none with the real signature", func() string {
			tok := f.token(f.header("none"), f.claims(), nil)
			return tok + strings.Split(valid, ".")[2]
		}()},
		{"HS256 signed with the RSA public key", f.token(f.header("HS256"), f.claims(), hs256(pubPEM))},
		{"HS256 signed with the RSA public key (DER)", f.token(f.header("HS256"), f.claims(), hs256(pubDER))},
		{"unknown kid", f.token(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "attacker-key"}, f.claims(), f.rs256(otherKey))},
		{"known kid, other key", f.token(f.header("RS256"), f.claims(), f.rs256(otherKey))},
		{"tampered payload", tampered},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"garbage", "not.a.jwt"},
	}
	wantChallenge := `resource_metadata="` + s.PublicURL + `/.well-known/oauth-protected-resource"`
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for _, g := range s.Gateways {
				resp, body := mcpPost(t, client, g.Direct+"/mcp", a.token, "", initializeBody)
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s: %s", g.ID, body)
				challenge := resp.Header.Get("WWW-Authenticate")
				assert.True(t, strings.HasPrefix(challenge, "Bearer "), "%s: %q", g.ID, challenge)
				assert.Contains(t, challenge, wantChallenge, g.ID)
				if a.token != "" {
					assert.Contains(t, challenge, `error="invalid_token"`, g.ID)
				}
				assert.Empty(t, resp.Header.Get("Mcp-Session-Id"), "%s: no session for a bad token", g.ID)
			}
		})
	}

	t.Run("protected resource metadata", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.PublicURL+"/.well-known/oauth-protected-resource", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&md))
		assert.Equal(t, s.ResourceURL(), md.Resource)
		assert.Equal(t, []string{s.Issuer.URL()}, md.AuthorizationServers)
	})

	t.Run("session of another tenant", func(t *testing.T) {
		resp, body := mcpPost(t, client, s.Gateways[0].Direct+"/mcp", s.UserToken(t, stack.TenantAcme, stack.RoleAdmin), "", initializeBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		acmeSession := resp.Header.Get("Mcp-Session-Id")
		require.NotEmpty(t, acmeSession)
		list := `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}`
		// Control: acme's own token continues its session on the other replica.
		resp, body = mcpPost(t, client, s.Gateways[1].Direct+"/mcp", s.UserToken(t, stack.TenantAcme, stack.RoleAdmin), acmeSession, list)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		resp, body = mcpPost(t, client, s.Gateways[1].Direct+"/mcp", s.UserToken(t, stack.TenantGlobex, stack.RoleAdmin), acmeSession, list)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "globex's token with acme's session: %s", body)
		assert.NotContains(t, string(body), "customers.list")
	})

	t.Run("tenant A token on tenant B's domain", func(t *testing.T) {
		admin := s.PlatformAdminToken(t)
		r := s.Do(t, http.MethodPost, "/v1/domains", admin, map[string]any{"hostname": stack.GlobexDomain, "tenant_id": stack.TenantGlobex})
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
		s.WaitApplied(t)

		// The domain resolves to the load balancer; TLS asks for the
		// domain (SNI) and verifies the certificate against it.
		_, lbPort, err := net.SplitHostPort(strings.TrimPrefix(s.PublicURL, "https://"))
		require.NoError(t, err)
		base := "https://" + net.JoinHostPort(stack.GlobexDomain, lbPort)
		resource := base + "/mcp"
		lbAddr := strings.TrimPrefix(s.PublicURL, "https://")
		var peerNames []string
		tr := &http.Transport{
			TLSClientConfig: s.TLSConfig(),
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, lbAddr)
			},
		}
		tr.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
			peerNames = cs.PeerCertificates[0].DNSNames
			return nil
		}
		t.Cleanup(tr.CloseIdleConnections)
		domainClient := &http.Client{Transport: tr, Timeout: callTimeout}
		token := func(tenant string, aud string) string {
			return f.token(f.header("RS256"), with(with(with(f.claims(), "aud", []string{aud}), "tenantId", tenant), "sub", "admin@"+tenant), f.rs256(key))
		}

		resp, body := mcpPost(t, domainClient, resource, token(stack.TenantGlobex, resource), "", initializeBody)
		require.Equal(t, http.StatusOK, resp.StatusCode, "globex's own token on its domain: %s", body)
		assert.Equal(t, []string{stack.GlobexDomain}, peerNames, "SNI picked the domain's certificate")

		resp, body = mcpPost(t, domainClient, resource, token(stack.TenantAcme, resource), "", initializeBody)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "acme's token on globex's domain: %s", body)
		assert.Empty(t, resp.Header.Get("Mcp-Session-Id"))
		assert.NotContains(t, string(body), stack.TenantGlobex, "the refusal does not name the domain's tenant")

		resp, body = mcpPost(t, domainClient, resource, token(stack.TenantAcme, ""), "", initializeBody)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a token without the domain's audience: %s", body)
		resp, body = mcpPost(t, domainClient, resource, s.UserToken(t, stack.TenantGlobex, stack.RoleAdmin), "", initializeBody)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a token for the default host is not valid on the domain: %s", body)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), `resource_metadata="`+base+`/.well-known/oauth-protected-resource"`)
	})
}
