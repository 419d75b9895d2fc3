package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/stretchr/testify/require"
)

// signingKey is a private key with its kid and alg, as an issuer holds it.
type signingKey struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	priv crypto.Signer
}

// public is the JWK the issuer publishes for k. It takes no testing.TB: it
// runs in the issuer's handler goroutine.
func (k signingKey) public() (jwk.Key, error) {
	pub, err := jwk.FromRaw(k.priv.Public())
	if err != nil {
		return nil, err
	}
	if err := pub.Set(jwk.KeyIDKey, k.kid); err != nil {
		return nil, err
	}
	return pub, pub.Set(jwk.KeyUsageKey, "sig")
}

// RSA key generation is slow on small machines: generate each size once.
var (
	rsaOnce sync.Once
	rsaKeys [3]*rsa.PrivateKey
)

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// testIssuer is an OIDC issuer: discovery document, JWKS, hit counters, and
// switches to change its keys or take it down.
type testIssuer struct {
	t         testing.TB
	srv       *httptest.Server
	mu        sync.Mutex
	published []signingKey
	discIss   string // issuer announced by discovery; default the real one
	down      atomic.Bool
	jwksHits  atomic.Int32
	discHits  atomic.Int32
}

func newTestIssuer(t testing.TB, keys ...signingKey) *testIssuer {
	ti := &testIssuer{t: t, published: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ti.discHits.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ti.mu.Lock()
		iss := ti.discIss
		ti.mu.Unlock()
		if iss == "" {
			iss = ti.srv.URL
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": ti.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		ti.jwksHits.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		set := jwk.NewSet()
		ti.mu.Lock()
		for _, k := range ti.published {
			pub, err := k.public()
			if err != nil {
				ti.mu.Unlock()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = set.AddKey(pub)
		}
		ti.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

func (ti *testIssuer) url() string { return ti.srv.URL }

func (ti *testIssuer) publish(keys ...signingKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.published = keys
}

// clock is a settable time source: tests move time instead of sleeping.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) advance(d time.Duration) { c.now.Add(int64(d)) }

// mint signs claims with k, kid and alg from k unless overridden in hdr.
func mint(t testing.TB, k signingKey, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	require.NoError(t, err)
	h := jws.NewHeaders()
	require.NoError(t, h.Set(jws.KeyIDKey, k.kid))
	require.NoError(t, h.Set(jws.TypeKey, "JWT"))
	for name, v := range hdr {
		require.NoError(t, h.Set(name, v))
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(h)))
	require.NoError(t, err)
	return string(tok)
}

// claimsFor returns a valid claim set for issuer iss at time now.
func claimsFor(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       iss,
		"sub":       "user-1",
		"aud":       "https://gateway.example/mcp",
		"exp":       now.Add(5 * time.Minute).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"tenantId":  "acme",
		"roles":     []string{"viewer", "tenant-admin"},
		"email":     "u1@acme.example",
		"acr":       "mfa",
		"auth_time": now.Add(-time.Minute).Unix(),
	}
}

func jwsSign(k signingKey, payload []byte) (string, error) {
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", err
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(h)))
	return string(tok), err
}
