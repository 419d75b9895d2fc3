package devissuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

func startIssuer(t *testing.T, opts ...devissuer.Option) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.New("", opts...)
	require.NoError(t, err)
	_, err = iss.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = iss.Close() })
	return iss
}

// verify validates a token the way a relying party does: discovery → JWKS → signature + claims.
func verify(t *testing.T, issuerURL, token string, aud string) jwt.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.Get(issuerURL + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&disc))
	require.Equal(t, issuerURL, disc.Issuer)
	set, err := jwk.Fetch(ctx, disc.JWKSURI)
	require.NoError(t, err)
	tok, err := jwt.ParseString(token, jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithIssuer(disc.Issuer), jwt.WithAudience(aud))
	require.NoError(t, err)
	return tok
}

func TestMintAndVerify(t *testing.T) {
	iss := startIssuer(t)
	tok, err := iss.Mint(devissuer.Claims{Subject: "alice", Email: "alice@acme.test", TenantID: "acme",
		Roles: []string{"tenant-admin"}, Permissions: []string{"orders.read"}, Audience: []string{"portcullis-admin"},
		ACR: "mfa", Extra: map[string]any{"org": "x"}})
	require.NoError(t, err)
	parsed := verify(t, iss.URL(), tok, "portcullis-admin")
	require.Equal(t, "alice", parsed.Subject())
	for claim, want := range map[string]any{
		devissuer.ClaimTenantID: "acme", devissuer.ClaimEmail: "alice@acme.test", "acr": "mfa", "org": "x",
		devissuer.ClaimRoles: []any{"tenant-admin"}, devissuer.ClaimPermissions: []any{"orders.read"},
	} {
		got, ok := parsed.Get(claim)
		require.True(t, ok, claim)
		require.Equal(t, want, got, claim)
	}
	require.WithinDuration(t, time.Now().Add(devissuer.DefaultTTL), parsed.Expiration(), 5*time.Second)
}

func TestMintRejectsBadInput(t *testing.T) {
	iss, err := devissuer.New("http://127.0.0.1:1")
	require.NoError(t, err)
	for name, c := range map[string]devissuer.Claims{
		"no subject":   {},
		"negative ttl": {Subject: "a", TTL: -time.Second},
		"huge ttl":     {Subject: "a", TTL: devissuer.MaxTTL + time.Second},
	} {
		_, err := iss.Mint(c)
		require.Error(t, err, name)
	}
	unset, err := devissuer.New("")
	require.NoError(t, err)
	_, err = unset.Mint(devissuer.Claims{Subject: "a"})
	require.Error(t, err, "no issuer URL yet")
}

func TestTokenEndpoint(t *testing.T) {
	iss := startIssuer(t)
	cases := []struct {
		name, contentType, body string
		status                  int
	}{
		{"form", "application/x-www-form-urlencoded",
			url.Values{"sub": {"bob"}, "tenant": {"acme"}, "roles": {"viewer,admin"}, "audience": {"portcullis-admin"}, "ttl": {"12h"}}.Encode(), 200},
		{"json", "application/json",
			`{"sub":"bob","tenant":"acme","roles":["viewer","admin"],"audience":["portcullis-admin"],"ttl":"43200"}`, 200},
		{"unknown json field", "application/json", `{"sub":"bob","admin":true}`, 400},
		{"missing sub", "application/json", `{"tenant":"acme"}`, 400},
		{"bad ttl", "application/x-www-form-urlencoded", "sub=bob&ttl=forever", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(iss.URL()+"/token", tc.contentType, strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			if tc.status != 200 {
				return
			}
			var out struct {
				AccessToken string `json:"access_token"`
				ExpiresIn   int    `json:"expires_in"`
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			require.Equal(t, 43200, out.ExpiresIn)
			parsed := verify(t, iss.URL(), out.AccessToken, "portcullis-admin")
			roles, _ := parsed.Get(devissuer.ClaimRoles)
			require.Equal(t, []any{"viewer", "admin"}, roles)
		})
	}
}

func TestKeyFilePersistsAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer-key.pem")
	first := startIssuer(t, devissuer.WithKeyFile(path))
	tok, err := first.Mint(devissuer.Claims{Subject: "carol", Audience: []string{"a"}})
	require.NoError(t, err)
	require.FileExists(t, path)

	second := startIssuer(t, devissuer.WithKeyFile(path))
	set, err := jwk.Fetch(context.Background(), second.JWKSURL())
	require.NoError(t, err)
	_, err = jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithValidate(true))
	require.NoError(t, err, "a token from the first run verifies with the second run's JWKS")

	other := startIssuer(t)
	otherSet, err := jwk.Fetch(context.Background(), other.JWKSURL())
	require.NoError(t, err)
	_, err = jwt.ParseString(tok, jwt.WithKeySet(otherSet), jwt.WithValidate(true))
	require.Error(t, err, "a different key must not verify the token")
}

func TestStartRefusesNonLoopback(t *testing.T) {
	iss, err := devissuer.New("")
	require.NoError(t, err)
	_, err = iss.Start("0.0.0.0:0")
	require.Error(t, err)
}

func TestTokenEndpointRefusesRemoteClients(t *testing.T) {
	iss, err := devissuer.New("http://127.0.0.1:9000")
	require.NoError(t, err)
	for _, remote := range []string{"203.0.113.5:1234", "[2001:db8::1]:443", "garbage"} {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader("sub=evil"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		iss.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusForbidden, rec.Code, remote)
		require.NotContains(t, rec.Body.String(), "access_token")
	}
}
