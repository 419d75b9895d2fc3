package authn

import (
	"context"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const aud = "https://gateway.example/mcp"

type fixture struct {
	iss   *testIssuer
	rs    signingKey
	es    signingKey
	ed    signingKey
	clock *clock
	v     *Validator
}

func newFixture(t testing.TB, mutate ...func(*IssuerConfig)) *fixture {
	t.Helper()
	f := &fixture{
		rs:    signingKey{kid: "rsa-1", alg: jwa.RS256, priv: rsaKey(t, 0)},
		es:    signingKey{kid: "ec-1", alg: jwa.ES256, priv: ecKey(t, elliptic.P256())},
		ed:    signingKey{kid: "ed-1", alg: jwa.EdDSA, priv: edKey(t)},
		clock: newClock(),
	}
	f.iss = newTestIssuer(t, f.rs, f.es, f.ed)
	ic := IssuerConfig{Issuer: f.iss.url(), Audiences: []string{aud}}
	for _, m := range mutate {
		m(&ic)
	}
	v, err := New(context.Background(), Config{
		Issuers: []IssuerConfig{ic}, Now: f.clock.Now, HTTPClient: f.iss.srv.Client(),
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	f.v = v
	return f
}

func (f *fixture) claims() map[string]any { return claimsFor(f.iss.url(), f.clock.Now()) }

func (f *fixture) validate(tok string) (Principal, error) {
	return f.v.Validate(context.Background(), tok)
}

func requireInvalid(t *testing.T, err error, reason string) {
	t.Helper()
	require.ErrorIs(t, err, ErrInvalidToken)
	var te *TokenError
	require.True(t, errors.As(err, &te))
	require.Contains(t, te.Reason, reason)
}

func TestValidTokens(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	for _, k := range []signingKey{f.rs, f.es, f.ed} {
		t.Run(k.alg.String(), func(t *testing.T) {
			p, err := f.validate(mint(t, k, f.claims(), nil))
			require.NoError(t, err)
			require.Equal(t, f.iss.url(), p.Issuer)
			require.Equal(t, "user-1", p.Subject)
			require.Equal(t, "acme", p.TenantID)
			require.Equal(t, []string{"viewer", "tenant-admin"}, p.Roles)
			require.True(t, p.HasRole("tenant-admin"))
			require.Empty(t, p.Permissions)
			require.Equal(t, "u1@acme.example", p.Email)
			require.Equal(t, "mfa", p.ACR)
			require.True(t, p.AuthTime.Equal(now.Add(-time.Minute)))
			require.Equal(t, "acme", p.Claims["tenantId"])
		})
	}
	require.Equal(t, int32(1), f.iss.discHits.Load(), "discovery once")
	require.Equal(t, int32(1), f.iss.jwksHits.Load(), "keys cached")
}

func TestRejectedTokens(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	with := func(changes map[string]any) map[string]any {
		c := f.claims()
		for k, v := range changes {
			if v == nil {
				delete(c, k)
				continue
			}
			c[k] = v
		}
		return c
	}
	valid := mint(t, f.rs, f.claims(), nil)
	parts := strings.Split(valid, ".")

	// Payload changed after signing.
	tampered := parts[0] + "." + b64json(t, with(map[string]any{"tenantId": "globex"})) + "." + parts[2]

	// The public key the attacker knows, as PEM: the classic HS256 confusion.
	pubDER, err := x509.MarshalPKIXPublicKey(rsaKey(t, 0).Public())
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		return forge(map[string]any{"alg": "HS256", "kid": f.rs.kid, "typ": "JWT"}, f.claims(), func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		})
	}

	attackerRSA := signingKey{kid: f.rs.kid, alg: jwa.RS256, priv: rsaKey(t, 1)}
	attackerEC := signingKey{kid: f.rs.kid, alg: jwa.ES256, priv: ecKey(t, elliptic.P256())}
	ecUnderRSAKid := signingKey{kid: f.rs.kid, alg: jwa.ES256, priv: f.es.priv}
	rsaUnderECKid := signingKey{kid: f.es.kid, alg: jwa.RS256, priv: f.rs.priv}
	es384UnderP256 := signingKey{kid: f.es.kid, alg: jwa.ES384, priv: ecKey(t, elliptic.P384())}

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"no token", "", "missing token"},
		{"garbage", "garbage", "not a compact JWS"},
		{"three garbage parts", "a.b.c", "malformed"},
		{"json serialization", `{"payload":"e30","signatures":[]}`, "not a compact JWS"},
		{"huge", strings.Repeat("a", maxTokenSize+1), "too large"},
		{"expired", mint(t, f.rs, with(map[string]any{"exp": now.Add(-31 * time.Second).Unix()}), nil), "expired"},
		{"no exp", mint(t, f.rs, with(map[string]any{"exp": nil}), nil), "missing exp"},
		{"exp not a number", mint(t, f.rs, with(map[string]any{"exp": "tomorrow"}), nil), "NumericDate"},
		{"nbf in the future", mint(t, f.rs, with(map[string]any{"nbf": now.Add(time.Minute).Unix()}), nil), "not valid yet"},
		{"iat in the future", mint(t, f.rs, with(map[string]any{"iat": now.Add(time.Minute).Unix()}), nil), "issued in the future"},
		{"unknown issuer", mint(t, f.rs, with(map[string]any{"iss": "https://evil.example"}), nil), "unknown issuer"},
		{"issuer with trailing slash", mint(t, f.rs, with(map[string]any{"iss": f.iss.url() + "/"}), nil), "unknown issuer"},
		{"no issuer", mint(t, f.rs, with(map[string]any{"iss": nil}), nil), "unknown issuer"},
		{"wrong audience", mint(t, f.rs, with(map[string]any{"aud": "https://other.example"}), nil), "audience"},
		{"audience list without ours", mint(t, f.rs, with(map[string]any{"aud": []string{"a", "b"}}), nil), "audience"},
		{"audience with ours inside a string", mint(t, f.rs, with(map[string]any{"aud": "x " + aud}), nil), "audience"},
		{"no audience", mint(t, f.rs, with(map[string]any{"aud": nil}), nil), "audience"},
		{"no sub", mint(t, f.rs, with(map[string]any{"sub": nil}), nil), "missing sub"},
		{"alg none", forge(map[string]any{"alg": "none", "kid": f.rs.kid}, f.claims(), nil), "not allowed"},
		{"alg None", forge(map[string]any{"alg": "None", "kid": f.rs.kid}, f.claims(), nil), "not allowed"},
		{"HS256 with the RSA public key PEM", hs(pubPEM), "not allowed"},
		{"HS256 with the RSA public key DER", hs(pubDER), "not allowed"},
		{"tampered payload", tampered, "bad signature"},
		{"attacker RSA key with a known kid", mint(t, attackerRSA, f.claims(), nil), "bad signature"},
		{"attacker EC key with an RSA kid", mint(t, attackerEC, f.claims(), nil), "needs an EC"},
		{"real EC key under the RSA kid", mint(t, ecUnderRSAKid, f.claims(), nil), "needs an EC"},
		{"real RSA key under the EC kid", mint(t, rsaUnderECKid, f.claims(), nil), "needs an RSA"},
		{"ES384 against a P-256 key", mint(t, es384UnderP256, f.claims(), nil), "needs an EC P-384"},
		{"missing kid", mint(t, f.rs, f.claims(), map[string]any{"kid": ""}), "missing kid"},
		{"crit header", mint(t, f.rs, f.claims(), map[string]any{"crit": []string{"exp"}}), "crit"},
		{"roles of the wrong shape", mint(t, f.rs, with(map[string]any{"roles": map[string]any{"a": 1}}), nil), "roles claim"},
		{"claims not an object", forgeRaw(t, f.rs, []byte(`["a"]`)), "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.validate(tc.token)
			requireInvalid(t, err, tc.reason)
			require.Zero(t, p)
		})
	}

	// The fixtures differ from an accepted token only by what they test.
	for _, tok := range []string{
		valid,
		mint(t, f.rs, with(map[string]any{"exp": now.Add(-29 * time.Second).Unix()}), nil), // within skew
		mint(t, f.rs, with(map[string]any{"nbf": now.Add(29 * time.Second).Unix()}), nil),
		mint(t, f.rs, with(map[string]any{"aud": []string{"x", aud}}), nil),
		mint(t, f.rs, with(map[string]any{"nbf": nil, "iat": nil}), nil),
	} {
		_, err := f.validate(tok)
		require.NoError(t, err)
	}
}

func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	f := newFixture(t)
	_, err := f.validate(mint(t, f.rs, f.claims(), nil))
	require.NoError(t, err)
	require.Equal(t, int32(1), f.iss.jwksHits.Load())

	stranger := signingKey{kid: "nobody", alg: jwa.RS256, priv: rsaKey(t, 1)}

	// Within the interval of the first fetch: no refetch at all.
	_, err = f.validate(mint(t, stranger, f.claims(), nil))
	requireInvalid(t, err, "unknown kid")
	require.Equal(t, int32(1), f.iss.jwksHits.Load())

	// After the interval: one refresh is attempted, then the token is refused.
	f.clock.advance(11 * time.Second)
	_, err = f.validate(mint(t, stranger, f.claims(), nil))
	requireInvalid(t, err, "unknown kid")
	require.Equal(t, int32(2), f.iss.jwksHits.Load())

	// A second unknown kid within the interval does not refetch, even from
	// many goroutines at once.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.validate(mint(t, signingKey{kid: "other", alg: jwa.ES256, priv: ecKey(t, elliptic.P256())}, f.claims(), nil))
			require.ErrorIs(t, err, ErrInvalidToken)
		}()
	}
	wg.Wait()
	require.Equal(t, int32(2), f.iss.jwksHits.Load())

	// Known keys keep working throughout.
	_, err = f.validate(mint(t, f.es, f.claims(), nil))
	require.NoError(t, err)
	require.Equal(t, int32(2), f.iss.jwksHits.Load())
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	_, err := f.validate(mint(t, f.rs, f.claims(), nil))
	require.NoError(t, err)

	next := signingKey{kid: "rsa-2", alg: jwa.RS256, priv: rsaKey(t, 2)}
	f.iss.publish(f.rs, next)
	f.clock.advance(11 * time.Second)
	_, err = f.validate(mint(t, next, f.claims(), nil))
	require.NoError(t, err, "new kid accepted after a refresh")
	require.Equal(t, int32(2), f.iss.jwksHits.Load())

	// The issuer retires the old key: once the held set is older than
	// MaxKeyAge it is refetched and the old kid is refused.
	f.iss.publish(next)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	require.NoError(t, err, "still in the held set")
	f.clock.advance(defaultMaxKeyAge)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	requireInvalid(t, err, "unknown kid")
	_, err = f.validate(mint(t, next, f.claims(), nil))
	require.NoError(t, err)
}

func TestIssuerOutage(t *testing.T) {
	f := newFixture(t)
	f.iss.down.Store(true)

	// Down at first use: refused, marked as an outage, retried after the interval.
	_, err := f.validate(mint(t, f.rs, f.claims(), nil))
	require.ErrorIs(t, err, ErrKeysUnavailable)
	require.ErrorIs(t, err, ErrInvalidToken)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	require.ErrorIs(t, err, ErrKeysUnavailable)
	require.Equal(t, int32(1), f.iss.discHits.Load(), "retry is rate-limited")

	f.iss.down.Store(false)
	f.clock.advance(11 * time.Second)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	require.NoError(t, err)

	// Down later: the keys already held keep serving past MaxKeyAge.
	f.iss.down.Store(true)
	f.clock.advance(defaultMaxKeyAge + time.Minute)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	require.NoError(t, err)
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	f := newFixture(t)
	f.iss.mu.Lock()
	f.iss.discIss = "https://evil.example"
	f.iss.mu.Unlock()
	_, err := f.validate(mint(t, f.rs, f.claims(), nil))
	require.ErrorIs(t, err, ErrKeysUnavailable)
	require.Equal(t, int32(0), f.iss.jwksHits.Load())
}

func TestExplicitJWKSURL(t *testing.T) {
	g := newFixture(t)
	v, err := New(context.Background(), Config{
		Issuers:    []IssuerConfig{{Issuer: g.iss.url(), JWKSURL: g.iss.url() + "/keys", Audiences: []string{aud}}},
		Now:        g.clock.Now,
		HTTPClient: g.iss.srv.Client(),
	})
	require.NoError(t, err)
	_, err = v.Validate(context.Background(), mint(t, g.rs, g.claims(), nil))
	require.NoError(t, err)
	require.Equal(t, int32(0), g.iss.discHits.Load(), "no discovery with an explicit jwks_url")
}

func TestClaimMapping(t *testing.T) {
	f := newFixture(t, func(ic *IssuerConfig) {
		ic.TenantClaim = "org_id"
		ic.RolesClaim = "realm_access.roles"
		ic.PermissionsClaim = "scope"
		ic.EmailClaim = "upn"
	})
	tests := []struct {
		name   string
		claims map[string]any
		want   Principal
	}{
		{"nested roles, space-separated permissions", map[string]any{
			"org_id": "acme", "realm_access": map[string]any{"roles": []string{"a", "b"}},
			"scope": "orders:read  orders:write", "upn": "x@acme.example",
		}, Principal{TenantID: "acme", Roles: []string{"a", "b"}, Permissions: []string{"orders:read", "orders:write"}, Email: "x@acme.example"}},
		{"roles as a string", map[string]any{
			"org_id": "acme", "realm_access": map[string]any{"roles": "a b"},
		}, Principal{TenantID: "acme", Roles: []string{"a", "b"}}},
		{"literal dotted claim wins", map[string]any{
			"realm_access.roles": []string{"literal"}, "realm_access": map[string]any{"roles": []string{"nested"}},
		}, Principal{Roles: []string{"literal"}}},
		{"numeric tenant id", map[string]any{"org_id": 12345}, Principal{TenantID: "12345"}},
		{"absent claims", map[string]any{}, Principal{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := map[string]any{"iss": f.iss.url(), "sub": "s", "aud": aud, "exp": f.clock.Now().Add(time.Minute).Unix()}
			for k, v := range tc.claims {
				c[k] = v
			}
			p, err := f.validate(mint(t, f.es, c, nil))
			require.NoError(t, err)
			require.Equal(t, tc.want.TenantID, p.TenantID)
			require.Equal(t, tc.want.Email, p.Email)
			require.ElementsMatch(t, tc.want.Roles, p.Roles)
			require.ElementsMatch(t, tc.want.Permissions, p.Permissions)
		})
	}
}

func TestDefaultClaimNames(t *testing.T) {
	f := newFixture(t)
	c := f.claims()
	c["roles"] = "platform-admin viewer"
	c["permissions"] = []string{"tools:read"}
	p, err := f.validate(mint(t, f.rs, c, nil))
	require.NoError(t, err)
	require.Equal(t, []string{"platform-admin", "viewer"}, p.Roles)
	require.Equal(t, []string{"tools:read"}, p.Permissions)
}

func TestTwoIssuers(t *testing.T) {
	a := newFixture(t)
	b := newFixture(t)
	clk := newClock()
	v, err := New(context.Background(), Config{
		Issuers: []IssuerConfig{
			{Issuer: a.iss.url(), Audiences: []string{aud}},
			{Issuer: b.iss.url(), Audiences: []string{"https://admin.example"}, TenantClaim: "tid"},
		},
		Now: clk.Now,
	})
	require.NoError(t, err)
	ctx := context.Background()

	pa, err := v.Validate(ctx, mint(t, a.es, claimsFor(a.iss.url(), clk.Now()), nil))
	require.NoError(t, err)
	require.Equal(t, a.iss.url(), pa.Issuer)
	require.Equal(t, "acme", pa.TenantID)

	cb := claimsFor(b.iss.url(), clk.Now())
	cb["aud"] = "https://admin.example"
	cb["tid"] = "globex"
	pb, err := v.Validate(ctx, mint(t, b.es, cb, nil))
	require.NoError(t, err)
	require.Equal(t, b.iss.url(), pb.Issuer)
	require.Equal(t, "globex", pb.TenantID)

	// Issuer A's key cannot speak for issuer B, even under a kid B publishes.
	_, err = v.Validate(ctx, mint(t, a.es, cb, nil))
	requireInvalid(t, err, "bad signature")
	// Nor can A's audience be used at B.
	ca := claimsFor(b.iss.url(), clk.Now())
	_, err = v.Validate(ctx, mint(t, b.es, ca, nil))
	requireInvalid(t, err, "audience")
}

func TestConfig(t *testing.T) {
	ok := IssuerConfig{Issuer: "https://idp.example", Audiences: []string{"x"}}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuers", Config{}},
		{"empty issuer", Config{Issuers: []IssuerConfig{{Audiences: []string{"x"}}}}},
		{"relative issuer", Config{Issuers: []IssuerConfig{{Issuer: "idp.example", Audiences: []string{"x"}}}}},
		{"no audiences", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example"}}}},
		{"empty audience", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{""}}}}},
		{"HS256", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{"x"}, Algorithms: []string{"RS256", "HS256"}}}}},
		{"hs512 lower case", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{"x"}, Algorithms: []string{"hs512"}}}}},
		{"none", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{"x"}, Algorithms: []string{"none"}}}}},
		{"unknown alg", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{"x"}, Algorithms: []string{"RS1"}}}}},
		{"bad jwks url", Config{Issuers: []IssuerConfig{{Issuer: "https://idp.example", Audiences: []string{"x"}, JWKSURL: "file:///etc/keys"}}}},
		{"duplicate issuer", Config{Issuers: []IssuerConfig{ok, ok}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			require.Error(t, err)
		})
	}

	// JSON tags as in CONTRACTS.md (PORTCULLIS_ISSUERS).
	var ics []IssuerConfig
	require.NoError(t, json.Unmarshal([]byte(`[{"issuer":"http://127.0.0.1:9000","audiences":["portcullis-admin"],
		"jwks_url":"http://127.0.0.1:9000/jwks","tenant_claim":"t","roles_claim":"r","permissions_claim":"p",
		"email_claim":"e","algorithms":["ES256"]}]`), &ics))
	require.Equal(t, IssuerConfig{
		Issuer: "http://127.0.0.1:9000", Audiences: []string{"portcullis-admin"}, JWKSURL: "http://127.0.0.1:9000/jwks",
		TenantClaim: "t", RolesClaim: "r", PermissionsClaim: "p", EmailClaim: "e", Algorithms: []string{"ES256"},
	}, ics[0])
	_, err := New(context.Background(), Config{Issuers: ics})
	require.NoError(t, err, "New does not contact the issuer")
}

func TestAlgorithmAllowList(t *testing.T) {
	f := newFixture(t, func(ic *IssuerConfig) { ic.Algorithms = []string{"ES256"} })
	_, err := f.validate(mint(t, f.es, f.claims(), nil))
	require.NoError(t, err)
	_, err = f.validate(mint(t, f.rs, f.claims(), nil))
	requireInvalid(t, err, "not allowed")
	_, err = f.validate(mint(t, f.ed, f.claims(), nil))
	requireInvalid(t, err, "not allowed")
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b)
}

// forge builds a compact JWS from any header and claims, with the signature
// sign returns (empty when sign is nil).
func forge(hdr map[string]any, claims map[string]any, sign func([]byte) []byte) string {
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// forgeRaw signs an arbitrary payload properly with k.
func forgeRaw(t *testing.T, k signingKey, payload []byte) string {
	t.Helper()
	var claims any
	require.NoError(t, json.Unmarshal(payload, &claims))
	tok, err := jwsSign(k, payload)
	require.NoError(t, err)
	return tok
}

func FuzzValidate(f *testing.F) {
	fx := newFixture(f)
	valid := mint(f, fx.rs, fx.claims(), nil)
	// Fetch the keys now: the clock never moves, so no fetch happens inside
	// the fuzz target.
	if _, err := fx.validate(valid); err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := fx.validate(tok)
		if err == nil && p.Subject == "" {
			t.Fatal("accepted a token without a subject")
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error does not match ErrInvalidToken: %v", err)
		}
	})
}

func TestValidateAudience(t *testing.T) {
	f := newFixture(t)
	hostA, hostB := "https://a.example/mcp", "https://b.example/mcp"
	with := func(aud any) string {
		c := f.claims()
		c["aud"] = aud
		return mint(t, f.rs, c, nil)
	}
	tests := []struct {
		name     string
		token    string
		audience string
		ok       bool
	}{
		{"exact", with(hostA), hostA, true},
		{"in a list", with([]string{"x", hostA}), hostA, true},
		{"token for host A on host B", with(hostA), hostB, false},
		{"configured audience does not count", with(aud), hostA, false},
		{"prefix of ours", with("https://a.example"), hostA, false},
		{"case differs", with("https://A.example/mcp"), hostA, false},
		{"empty expected audience", with(""), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.v.ValidateAudience(context.Background(), tc.token, tc.audience)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, "user-1", p.Subject)
				return
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.Zero(t, p)
		})
	}
	// The other checks still apply.
	c := f.claims()
	c["aud"] = hostA
	c["exp"] = f.clock.Now().Add(-time.Hour).Unix()
	_, err := f.v.ValidateAudience(context.Background(), mint(t, f.rs, c, nil), hostA)
	requireInvalid(t, err, "expired")
}
