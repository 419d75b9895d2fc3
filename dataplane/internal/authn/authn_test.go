package authn

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	sharedauthn "github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
	"github.com/portcullis/portcullis/shared/model"
)

const (
	publicURL     = "https://gw.localhost:8443"
	publicRes     = publicURL + "/mcp"
	acmeHost      = "mcp.acme.localhost"
	globexHost    = "mcp.globex.localhost"
	platformHost  = "mcp.platform.localhost"
	platformLogin = "https://login.platform.localhost"
)

// rsaKey is generated once: RSA generation dominates the test time otherwise.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

type fixture struct {
	iss     *devissuer.Issuer
	issURL  string
	kid     string
	bundles *bundlestore.Static
	auth    *Authenticator
	reg     *prometheus.Registry
	handler http.Handler
}

func globalWithDomains(t *testing.T, rev int64, domains ...model.Domain) *bundlestore.Snapshot {
	t.Helper()
	g := &bundle.Global{}
	for i, d := range domains {
		g.Domains = append(g.Domains, bundle.Entry[model.Domain]{ID: string(rune('a' + i)), Spec: d})
	}
	snap, err := bundlestore.NewSnapshot(&bundle.Bundle{Scope: model.GlobalScope, Revision: rev, Global: g})
	require.NoError(t, err)
	return snap
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	iss, err := devissuer.New("", devissuer.WithKey(rsaKey()), devissuer.WithLogger(quiet))
	require.NoError(t, err)
	issURL, err := iss.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = iss.Close() })
	k, ok := iss.PublicKeys().Key(0)
	require.True(t, ok)

	v, err := sharedauthn.New(context.Background(), sharedauthn.Config{
		Issuers: []sharedauthn.IssuerConfig{{Issuer: issURL, Audiences: []string{publicRes}}},
		Logger:  quiet,
	})
	require.NoError(t, err)
	f := &fixture{iss: iss, issURL: issURL, kid: k.KeyID(), reg: prometheus.NewRegistry()}
	f.bundles = bundlestore.NewStatic(globalWithDomains(t, 1,
		model.Domain{Hostname: acmeHost, TenantID: "acme"},
		model.Domain{Hostname: globexHost, TenantID: "globex"},
		model.Domain{Hostname: platformHost, AuthorizationServer: platformLogin},
	))
	f.auth, err = New(Config{
		PublicURL: publicURL, Validator: v, Bundles: f.bundles,
		AuthorizationServers: []string{issURL}, Logger: quiet, Registerer: f.reg,
	})
	require.NoError(t, err)
	f.handler = f.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := mcp.PrincipalFromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusTeapot) // reached without a principal: a bug
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": p.Subject, "tenant": p.TenantID})
	}))
	return f
}

func (f *fixture) mint(t *testing.T, tenant string, aud ...string) string {
	t.Helper()
	tok, err := f.iss.Mint(devissuer.Claims{Subject: "user-" + tenant, TenantID: tenant, Roles: []string{"viewer"}, Audience: aud})
	require.NoError(t, err)
	return tok
}

// call sends a POST /mcp for host with the Authorization header auth ("" = none).
func (f *fixture) call(host, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://gw.localhost/mcp", strings.NewReader(`{}`))
	r.Host = host
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func TestValidTokensReachTheHandler(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, host, aud, tenant string
	}{
		{"default host", "gw.localhost:8443", publicRes, "acme"},
		{"default host, other port behind a proxy", "gw.localhost", publicRes, "acme"},
		{"default host, odd case and trailing dot", "GW.Localhost.:8443", publicRes, "globex"},
		{"tenant domain on a port", acmeHost + ":8443", "https://" + acmeHost + ":8443/mcp", "acme"},
		{"tenant domain on 443", acmeHost + ":443", "https://" + acmeHost + "/mcp", "acme"},
		{"tenant domain without port", acmeHost, "https://" + acmeHost + "/mcp", "acme"},
		{"platform domain, any tenant", platformHost, "https://" + platformHost + "/mcp", "globex"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.call(tc.host, "Bearer "+f.mint(t, tc.tenant, tc.aud))
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.JSONEq(t, `{"sub":"user-`+tc.tenant+`","tenant":"`+tc.tenant+`"}`, w.Body.String())
		})
	}
	require.Equal(t, float64(len(tests)), testutil.ToFloat64(f.auth.metrics.requests.WithLabelValues(outcomeOK)))
}

func TestNoToken(t *testing.T) {
	f := newFixture(t)
	for _, host := range []string{"gw.localhost:8443", acmeHost + ":8443"} {
		t.Run(host, func(t *testing.T) {
			w := f.call(host, "")
			require.Equal(t, http.StatusUnauthorized, w.Code)
			base := "https://" + host
			if strings.HasPrefix(host, "gw.") {
				base = publicURL
			}
			require.Equal(t, `Bearer resource_metadata="`+base+`/.well-known/oauth-protected-resource"`, w.Header().Get("WWW-Authenticate"))
			require.JSONEq(t, `{"error":"unauthorized","error_description":"a bearer token is required"}`, w.Body.String())
		})
	}
}

// claimsOf decodes the payload of a compact JWS.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(payload, &c))
	return c
}

func b64(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signWith signs claims with jwx using alg and key under kid.
func signWith(t *testing.T, claims map[string]any, alg jwa.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	hdr := jws.NewHeaders()
	require.NoError(t, hdr.Set(jws.KeyIDKey, kid))
	require.NoError(t, hdr.Set(jws.TypeKey, "JWT"))
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	require.NoError(t, err)
	return string(tok)
}

// TestTokenAttacks: every forged, expired or mis-targeted token is refused
// with the same 401, and the handler behind is never reached.
func TestTokenAttacks(t *testing.T) {
	f := newFixture(t)
	quiet := devissuer.WithLogger(slog.New(slog.DiscardHandler))
	shifted := func(d time.Duration, url string) *devissuer.Issuer {
		i, err := devissuer.New(url, devissuer.WithKey(rsaKey()), quiet, devissuer.WithClock(func() time.Time { return time.Now().Add(d) }))
		require.NoError(t, err)
		return i
	}
	mintWith := func(i *devissuer.Issuer, aud string) string {
		tok, err := i.Mint(devissuer.Claims{Subject: "user-acme", TenantID: "acme", Audience: []string{aud}})
		require.NoError(t, err)
		return tok
	}
	valid := f.mint(t, "acme", publicRes)
	claims := claimsOf(t, valid)
	parts := strings.Split(valid, ".")

	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	tampered := func() string {
		c := claimsOf(t, valid)
		c["roles"] = []string{"platform-admin"}
		return parts[0] + "." + b64(t, c) + "." + parts[2]
	}()
	algNone := b64(t, map[string]any{"alg": "none", "kid": f.kid, "typ": "JWT"}) + "." + b64(t, claims) + "."

	// The key exists in the issuer's JWKS, but as an RSA key: an HMAC with its
	// public bytes as the secret is the classic key-confusion forgery.
	pubJWK, err := jwk.FromRaw(&rsaKey().PublicKey)
	require.NoError(t, err)
	require.NotNil(t, pubJWK)

	tests := []struct {
		name, token string
	}{
		{"expired", mintWith(shifted(-2*time.Hour, f.issURL), publicRes)},
		{"not yet valid", mintWith(shifted(time.Hour, f.issURL), publicRes)},
		{"wrong issuer", mintWith(shifted(0, "https://evil.example"), publicRes)},
		{"wrong audience: token for host A used on host B", f.mint(t, "acme", "https://"+acmeHost+"/mcp")},
		{"audience of the issuer config, not the resource", f.mint(t, "acme", "portcullis-admin")},
		{"alg none", algNone},
		{"HS256 signed with the RSA public key (PEM)", signWith(t, claims, jwa.HS256, pubPEM, f.kid)},
		{"HS256 signed with the RSA public key (DER)", signWith(t, claims, jwa.HS256, pubDER, f.kid)},
		{"unknown kid", signWith(t, claims, jwa.RS256, stranger, "not-published")},
		{"attacker key under the real kid", signWith(t, claims, jwa.RS256, stranger, f.kid)},
		{"tampered payload", tampered},
		{"garbage", "not-a-jwt"},
		{"empty bearer", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := f.call("gw.localhost:8443", "Bearer "+tc.token)
			require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
			require.Equal(t, `Bearer resource_metadata="`+publicURL+`/.well-known/oauth-protected-resource", error="invalid_token"`,
				w.Header().Get("WWW-Authenticate"))
			// No detail leaks: every refusal has the same body.
			require.JSONEq(t, `{"error":"invalid_token","error_description":"the bearer token is not valid here"}`, w.Body.String())
		})
	}
	// The unmodified token passes, so each case fails for its own reason.
	require.Equal(t, http.StatusOK, f.call("gw.localhost:8443", "Bearer "+valid).Code)
}

func TestTenantTokenOnAnotherTenantsDomain(t *testing.T) {
	f := newFixture(t)
	globexRes := "https://" + globexHost + "/mcp"
	tests := []struct {
		name, tenant string
		want         int
	}{
		{"tenant A token on tenant B's domain", "acme", http.StatusForbidden},
		{"token without a tenant on a tenant domain", "", http.StatusForbidden},
		{"tenant B token on tenant B's domain", "globex", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The audience is right for the domain: only the tenant differs.
			w := f.call(globexHost, "Bearer "+f.mint(t, tc.tenant, globexRes))
			require.Equal(t, tc.want, w.Code, w.Body.String())
			if tc.want == http.StatusForbidden {
				require.NotContains(t, w.Body.String(), "globex", "the domain's tenant is not revealed")
				require.Empty(t, w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

func TestUnknownHost(t *testing.T) {
	f := newFixture(t)
	tok := "Bearer " + f.mint(t, "acme", publicRes)
	for _, host := range []string{"evil.example", "127.0.0.1:8443", "mcp.acme.localhost.evil.example", "", "bad host", "gw.localhost@evil"} {
		t.Run(host, func(t *testing.T) {
			w := f.call(host, tok)
			require.Equal(t, http.StatusMisdirectedRequest, w.Code)
			require.Empty(t, w.Header().Get("WWW-Authenticate"))
		})
	}
}

func TestDomainsFollowTheGlobalBundle(t *testing.T) {
	f := newFixture(t)
	const newHost = "mcp.initech.localhost"
	tok := "Bearer " + f.mint(t, "initech", "https://"+newHost+"/mcp")
	require.Equal(t, http.StatusMisdirectedRequest, f.call(newHost, tok).Code)
	f.bundles.Set(globalWithDomains(t, 2, model.Domain{Hostname: newHost, TenantID: "initech"}))
	require.Equal(t, http.StatusOK, f.call(newHost, tok).Code)
	require.Equal(t, http.StatusMisdirectedRequest, f.call(acmeHost, "Bearer "+f.mint(t, "acme", "https://"+acmeHost+"/mcp")).Code,
		"a removed domain is no longer served")
}

func TestPreflightPassesWithoutToken(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest(http.MethodOptions, "https://gw.localhost:8443/mcp", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	require.Equal(t, http.StatusTeapot, w.Code, "reached the handler (without a principal)")

	// A plain OPTIONS is not a preflight and needs a token.
	r = httptest.NewRequest(http.MethodOptions, "https://gw.localhost:8443/mcp", nil)
	w = httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	require.Equal(t, http.StatusUnauthorized, w.Code)
}

func TestAuthorizationHeaderForms(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, "acme", publicRes)
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"lower-case scheme", []string{"bearer " + tok}, http.StatusOK},
		{"basic scheme", []string{"Basic " + tok}, http.StatusUnauthorized},
		{"no scheme", []string{tok}, http.StatusUnauthorized},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://gw.localhost:8443/mcp", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			w := httptest.NewRecorder()
			f.handler.ServeHTTP(w, r)
			require.Equal(t, tc.want, w.Code)
		})
	}
	// A token in the query string is not looked at.
	r := httptest.NewRequest(http.MethodPost, "https://gw.localhost:8443/mcp?access_token="+tok, nil)
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.NotContains(t, w.Header().Get("WWW-Authenticate"), "error=")
}

func TestMetadata(t *testing.T) {
	f := newFixture(t)
	h := f.auth.MetadataHandler()
	get := func(host, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "https://"+host+path, nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	tests := []struct {
		name, host string
		want       Metadata
	}{
		{"default host", "gw.localhost:8443", Metadata{Resource: publicRes, AuthorizationServers: []string{f.issURL}}},
		{"tenant domain", acmeHost + ":8443", Metadata{Resource: "https://" + acmeHost + ":8443/mcp", AuthorizationServers: []string{f.issURL}}},
		{"domain with its own authorization server", platformHost, Metadata{Resource: "https://" + platformHost + "/mcp", AuthorizationServers: []string{platformLogin}}},
	}
	for _, tc := range tests {
		for _, path := range []string{MetadataPath, MetadataPath + "/mcp"} {
			t.Run(tc.name+path, func(t *testing.T) {
				w := get(tc.host, path)
				require.Equal(t, http.StatusOK, w.Code)
				require.Equal(t, "application/json", w.Header().Get("Content-Type"))
				require.Equal(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
				var got Metadata
				require.NoError(t, json.NewDecoder(w.Body).Decode(&got))
				tc.want.BearerMethodsSupported = []string{"header"}
				tc.want.ResourceName = "Portcullis MCP gateway"
				require.Equal(t, tc.want, got)
			})
		}
	}
	require.Equal(t, http.StatusMisdirectedRequest, get("evil.example", MetadataPath).Code)

	r := httptest.NewRequest(http.MethodPost, "https://gw.localhost:8443"+MetadataPath, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	_, _ = io.Copy(io.Discard, w.Body)
}

func TestSplitHost(t *testing.T) {
	tests := []struct {
		in, host, port string
		ok             bool
	}{
		{"Example.COM", "example.com", "", true},
		{"example.com:8443", "example.com", "8443", true},
		{"example.com.", "example.com", "", true},
		{"127.0.0.1:8443", "127.0.0.1", "8443", true},
		{"[::1]:8443", "::1", "8443", true},
		{"[::1]", "::1", "", true},
		{"", "", "", false},
		{"exa mple.com", "", "", false},
		{"example.com:80:80", "", "", false},
		{"ex_ample.com", "", "", false},
		{"user@example.com", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			host, port, ok := splitHost(tc.in)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.host, host)
				require.Equal(t, tc.port, port)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	v := &sharedauthn.Validator{}
	for name, cfg := range map[string]Config{
		"no public URL":      {Validator: v, AuthorizationServers: []string{"https://idp"}},
		"public URL path":    {PublicURL: "https://gw/x", Validator: v, AuthorizationServers: []string{"https://idp"}},
		"no validator":       {PublicURL: publicURL, AuthorizationServers: []string{"https://idp"}},
		"no authz server":    {PublicURL: publicURL, Validator: v},
		"public URL not URL": {PublicURL: "gw.localhost", Validator: v, AuthorizationServers: []string{"https://idp"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			require.Error(t, err)
		})
	}
}
