package bundle

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
)

type signer struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func newSigner(t testing.TB, kid string) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return signer{kid: kid, priv: priv, pub: pub}
}

func (s signer) set() KeySet { return KeySet{s.kid: s.pub} }

func globalBundle(rev int64) *Bundle {
	return &Bundle{
		Scope:    model.GlobalScope,
		Revision: rev,
		BuiltAt:  time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC),
		Global: &Global{
			Tools: []Entry[model.Tool]{{ID: "7b1c", Spec: model.Tool{
				Name: "orders.get", BaseURL: "https://api.example.com", Method: "GET", Path: "/orders/{id}",
				InputSchema: map[string]any{"type": "object", "maxProperties": 9007199254740993, "x": 1.5e300, "html": "<a&b>"},
				Active:      true,
			}}},
			Policies: []Entry[policy.Policy]{{ID: "p1", Spec: policy.Policy{
				Name: "big refunds", Tools: []string{"refund"}, Effect: policy.Deny, Enabled: true,
				Match: &policy.Group{Op: "and", Conditions: []policy.Condition{{Attribute: "args.amount", Operator: "gt", Value: 1000}}},
			}}},
			BackendKeys: []SealedKey{{BackendKey: model.BackendKey{KID: "k1", Status: "active", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))}, Sealed: []byte{1, 2, 3}}},
		},
	}
}

func tenantBundle(id string, rev int64) *Bundle {
	return &Bundle{
		Scope:    model.TenantScope(id),
		Revision: rev,
		Tenant: &Tenant{
			Tenant:      model.Tenant{ID: id, Name: id, DelegationEnabled: true},
			AccessRules: []Entry[model.AccessRule]{{ID: "r1", Spec: model.AccessRule{Name: "r", Tools: []string{"*"}, Roles: []string{"viewer"}, Enabled: true}}},
		},
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := newSigner(t, "kid-1")
	for _, b := range []*Bundle{globalBundle(3), tenantBundle("acme", 7), {Scope: "tenant/gone", Revision: 9, Deleted: true}} {
		t.Run(string(b.Scope), func(t *testing.T) {
			raw, err := Sign(b, s.priv, s.kid)
			require.NoError(t, err)
			require.Len(t, b.ContentHash, 64)

			got, err := Verify(raw, s.set(), b.Scope)
			require.NoError(t, err)
			require.Equal(t, b.ContentHash, got.ContentHash)
			require.Equal(t, b.Revision, got.Revision)
			require.Equal(t, b.Deleted, got.Deleted)
			require.True(t, b.BuiltAt.Equal(got.BuiltAt))

			// Re-signing what was verified gives the same hash: the
			// canonical JSON survives the round trip (big ints, floats, HTML).
			again, err := ComputeContentHash(got)
			require.NoError(t, err)
			require.Equal(t, b.ContentHash, again)
		})
	}
}

func TestContentHashIgnoresBuiltAt(t *testing.T) {
	a, b := globalBundle(1), globalBundle(1)
	b.BuiltAt = b.BuiltAt.Add(time.Hour)
	ha, err := ComputeContentHash(a)
	require.NoError(t, err)
	hb, err := ComputeContentHash(b)
	require.NoError(t, err)
	require.Equal(t, ha, hb)

	b.Global.Tools[0].Spec.Path = "/orders/{id}/x"
	hb, err = ComputeContentHash(b)
	require.NoError(t, err)
	require.NotEqual(t, ha, hb)
}

// forge builds a compact JWS from arbitrary header and payload, signed by sign
// (or with an empty signature when sign is nil).
func forge(header map[string]any, payload []byte, sign func([]byte) []byte) []byte {
	h, _ := json.Marshal(header)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(payload)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return []byte(input + "." + base64.RawURLEncoding.EncodeToString(sig))
}

func payloadOf(t *testing.T, raw []byte) []byte {
	t.Helper()
	parts := strings.Split(string(raw), ".")
	require.Len(t, parts, 3)
	p, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return p
}

func TestVerifyRejects(t *testing.T) {
	s := newSigner(t, "kid-1")
	attacker := newSigner(t, "kid-1") // same kid, other key
	good := globalBundle(5)
	raw, err := Sign(good, s.priv, s.kid)
	require.NoError(t, err)
	payload := payloadOf(t, raw)

	edHeader := map[string]any{"alg": "EdDSA", "kid": "kid-1", "typ": JWSType}
	edSign := func(k ed25519.PrivateKey) func([]byte) []byte {
		return func(in []byte) []byte { return ed25519.Sign(k, in) }
	}

	// A payload changed after signing (revision bumped, hash fixed up).
	var changed Bundle
	require.NoError(t, json.Unmarshal(payload, &changed))
	changed.Revision = 99
	changed.ContentHash, err = ComputeContentHash(&changed)
	require.NoError(t, err)
	changedPayload, err := json.Marshal(changed)
	require.NoError(t, err)
	parts := strings.Split(string(raw), ".")
	tampered := []byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(changedPayload) + "." + parts[2])

	// A payload whose hash does not match its content, validly signed.
	var badHash Bundle
	require.NoError(t, json.Unmarshal(payload, &badHash))
	badHash.Global.Tools = nil
	badHashPayload, _ := json.Marshal(badHash)

	// Unknown field: validly signed, but not fully understood.
	unknown := []byte(strings.Replace(string(payload), `{"scope"`, `{"future":1,"scope"`, 1))

	// A tenant A bundle, validly signed, replayed under tenant B's key.
	tenantA, err := Sign(tenantBundle("tenant-a", 3), s.priv, s.kid)
	require.NoError(t, err)

	hsKey := []byte(s.pub) // HMAC keyed with the public key bytes

	tests := []struct {
		name  string
		raw   []byte
		keys  KeySet
		scope model.Scope
	}{
		{"tampered payload", tampered, s.set(), model.GlobalScope},
		{"another key with the same kid", forge(edHeader, payload, edSign(attacker.priv)), s.set(), model.GlobalScope},
		{"alg none", forge(map[string]any{"alg": "none", "kid": "kid-1", "typ": JWSType}, payload, nil), s.set(), model.GlobalScope},
		{"HS256 with the public key bytes", forge(map[string]any{"alg": "HS256", "kid": "kid-1", "typ": JWSType}, payload, func(in []byte) []byte {
			m := hmac.New(sha256.New, hsKey)
			m.Write(in)
			return m.Sum(nil)
		}), s.set(), model.GlobalScope},
		{"unknown kid", raw, KeySet{"kid-2": s.pub}, model.GlobalScope},
		{"empty key set", raw, nil, model.GlobalScope},
		{"missing kid", forge(map[string]any{"alg": "EdDSA", "typ": JWSType}, payload, edSign(s.priv)), KeySet{"": s.pub}, model.GlobalScope},
		{"wrong typ", forge(map[string]any{"alg": "EdDSA", "kid": "kid-1", "typ": "JWT"}, payload, edSign(s.priv)), s.set(), model.GlobalScope},
		{"crit header", forge(map[string]any{"alg": "EdDSA", "kid": "kid-1", "typ": JWSType, "crit": []string{"exp"}, "exp": 1}, payload, edSign(s.priv)), s.set(), model.GlobalScope},
		{"hash mismatch", forge(edHeader, badHashPayload, edSign(s.priv)), s.set(), model.GlobalScope},
		{"unknown field", forge(edHeader, unknown, edSign(s.priv)), s.set(), model.GlobalScope},
		{"trailing data", forge(edHeader, append(append([]byte{}, payload...), []byte(" {}")...), edSign(s.priv)), s.set(), model.GlobalScope},
		{"wrong scope", raw, s.set(), model.TenantScope("acme")},
		{"tenant A under tenant B", tenantA, s.set(), model.TenantScope("tenant-b")},
		{"json serialization", []byte(`{"payload":"e30","signatures":[]}`), s.set(), model.GlobalScope},
		{"garbage", []byte("a.b.c"), s.set(), model.GlobalScope},
		{"empty", nil, s.set(), model.GlobalScope},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Verify(tc.raw, tc.keys, tc.scope)
			require.ErrorIs(t, err, ErrInvalid)
			require.Nil(t, b)
		})
	}

	// The fixtures above differ from a valid bundle only in what they test.
	_, err = Verify(forge(edHeader, payload, edSign(s.priv)), s.set(), model.GlobalScope)
	require.NoError(t, err)
	_, err = Verify(tenantA, s.set(), model.TenantScope("tenant-a"))
	require.NoError(t, err)
}

func TestVerifyStructure(t *testing.T) {
	s := newSigner(t, "k")
	edHeader := map[string]any{"alg": "EdDSA", "kid": "k", "typ": JWSType}
	signed := func(b *Bundle) []byte {
		var err error
		b.ContentHash, err = ComputeContentHash(b)
		require.NoError(t, err)
		p, err := json.Marshal(b)
		require.NoError(t, err)
		return forge(edHeader, p, func(in []byte) []byte { return ed25519.Sign(s.priv, in) })
	}
	tests := []struct {
		name string
		b    *Bundle
	}{
		{"revision zero", &Bundle{Scope: model.GlobalScope, Global: &Global{}}},
		{"negative revision", &Bundle{Scope: model.GlobalScope, Revision: -1, Global: &Global{}}},
		{"global without content", &Bundle{Scope: model.GlobalScope, Revision: 1}},
		{"global deleted", &Bundle{Scope: model.GlobalScope, Revision: 1, Deleted: true, Global: &Global{}}},
		{"global with tenant content", &Bundle{Scope: model.GlobalScope, Revision: 1, Global: &Global{}, Tenant: &Tenant{}}},
		{"tenant with global content", &Bundle{Scope: "tenant/a", Revision: 1, Global: &Global{}, Tenant: &Tenant{Tenant: model.Tenant{ID: "a"}}}},
		{"tenant without content", &Bundle{Scope: "tenant/a", Revision: 1}},
		{"tenant content of another tenant", &Bundle{Scope: "tenant/a", Revision: 1, Tenant: &Tenant{Tenant: model.Tenant{ID: "b"}}}},
		{"bad tenant id", &Bundle{Scope: "tenant/../x", Revision: 1, Deleted: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(signed(tc.b), s.set(), tc.b.Scope)
			require.ErrorIs(t, err, ErrInvalid)
			_, err = Sign(tc.b, s.priv, s.kid)
			require.ErrorIs(t, err, ErrInvalid, "Sign must refuse what Verify refuses")
		})
	}
}

func TestSignRejectsBadKey(t *testing.T) {
	_, err := Sign(globalBundle(1), ed25519.PrivateKey("short"), "k")
	require.Error(t, err)
	s := newSigner(t, "k")
	_, err = Sign(globalBundle(1), s.priv, "")
	require.Error(t, err)
}

func TestAccept(t *testing.T) {
	mk := func(scope model.Scope, rev int64, hash string) *Bundle {
		return &Bundle{Scope: scope, Revision: rev, ContentHash: hash}
	}
	g := model.GlobalScope
	tests := []struct {
		name    string
		current *Bundle
		next    *Bundle
		want    error
	}{
		{"first bundle", nil, mk(g, 1, "a"), nil},
		{"newer", mk(g, 1, "a"), mk(g, 2, "b"), nil},
		{"newer, same hash", mk(g, 1, "a"), mk(g, 5, "a"), nil},
		{"older", mk(g, 5, "a"), mk(g, 4, "b"), ErrStale},
		{"duplicate", mk(g, 5, "a"), mk(g, 5, "a"), ErrDuplicate},
		{"same revision, other content", mk(g, 5, "a"), mk(g, 5, "b"), ErrStale},
		{"other scope", mk(g, 1, "a"), mk("tenant/x", 2, "b"), ErrScope},
		{"nil next", mk(g, 1, "a"), nil, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Accept(tc.current, tc.next)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		scope model.Scope
		key   string
	}{
		{model.GlobalScope, "global"},
		{model.TenantScope("acme"), "tenant.acme"},
		{model.TenantScope("A_b-9"), "tenant.A_b-9"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.key, KeyFor(tc.scope))
		got, err := ScopeFromKey(tc.key)
		require.NoError(t, err)
		require.Equal(t, tc.scope, got)
	}
	for _, bad := range []model.Scope{"", "tenant/", "tenant/a.b", "tenant/-a", "tenant/a/b", "tenant/" + model.Scope(strings.Repeat("a", 65)), "Global", "tenant.acme"} {
		require.Empty(t, KeyFor(bad), "%q", bad)
		require.ErrorIs(t, ValidateScope(bad), ErrInvalid, "%q", bad)
	}
	for _, bad := range []string{"", "tenant.", "tenant.a.b", "tenant._a", "tenant/acme", "GLOBAL", "tenant.a*", "tenant.a>"} {
		_, err := ScopeFromKey(bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
}

func TestJWKS(t *testing.T) {
	a, b := newSigner(t, ""), newSigner(t, "")
	a.kid, b.kid = KeyID(a.pub), KeyID(b.pub)
	require.NotEqual(t, a.kid, b.kid)

	doc, err := PublicJWKS(PublicKey{KID: a.kid, Key: a.pub}, PublicKey{KID: b.kid, Key: b.pub})
	require.NoError(t, err)
	set, err := ParseJWKS(doc)
	require.NoError(t, err)
	require.Equal(t, KeySet{a.kid: a.pub, b.kid: b.pub}, set)

	// Bundles from either key verify with the parsed set (rotation overlap).
	for _, s := range []signer{a, b} {
		raw, err := Sign(globalBundle(1), s.priv, s.kid)
		require.NoError(t, err)
		_, err = Verify(raw, set, model.GlobalScope)
		require.NoError(t, err)
	}

	_, err = PublicJWKS(PublicKey{KID: "x", Key: a.pub}, PublicKey{KID: "x", Key: b.pub})
	require.Error(t, err)
	_, err = PublicJWKS(PublicKey{KID: "", Key: a.pub})
	require.Error(t, err)

	x := base64.RawURLEncoding.EncodeToString(a.pub)
	for name, bad := range map[string]string{
		"not json":    `{`,
		"no keys":     `{"keys":[]}`,
		"rsa":         `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}]}`,
		"oct":         `{"keys":[{"kty":"oct","k":"` + x + `","kid":"o"}]}`,
		"x25519":      `{"keys":[{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"k"}]}`,
		"private":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","d":"` + x + `","kid":"k"}]}`,
		"no kid":      `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`,
		"hs alg":      `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k","alg":"HS256"}]}`,
		"enc use":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k","use":"enc"}]}`,
		"short x":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"k"}]}`,
		"dup kid":     `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k"},{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"k"}]}`,
		"padded x":    `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `=","kid":"k"}]}`,
		"keys object": `{"keys":{}}`,
	} {
		_, err := ParseJWKS([]byte(bad))
		require.Error(t, err, name)
	}
}

func TestKeyIDRFC8037Vector(t *testing.T) {
	// RFC 8037 appendix A.3: thumbprint of the A.2 public key.
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	require.NoError(t, err)
	require.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", KeyID(ed25519.PublicKey(x)))
}

func FuzzVerify(f *testing.F) {
	s := newSigner(f, "k")
	raw, err := Sign(globalBundle(1), s.priv, s.kid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add([]byte("a.b.c"))
	f.Add([]byte(".."))
	f.Add([]byte(`{"payload":"","signatures":[]}`))
	f.Add(forge(map[string]any{"alg": "EdDSA", "kid": "k", "typ": JWSType}, []byte(`{"scope":"global","revision":1,"global":{}}`), nil))
	keys := s.set()
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Verify(in, keys, model.GlobalScope)
		if err == nil && (b == nil || b.Scope != model.GlobalScope || b.Revision <= 0) {
			t.Fatalf("accepted an invalid bundle: %+v", b)
		}
	})
}
