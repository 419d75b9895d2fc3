package mcp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func mustCodec(t *testing.T, ttl time.Duration, keys ...[]byte) *sessionCodec {
	t.Helper()
	c, err := newSessionCodec(keys, ttl)
	require.NoError(t, err)
	return c
}

func TestSessionRoundTrip(t *testing.T) {
	c := mustCodec(t, time.Hour, testKey)
	token, issued, err := c.issue("tenant-a", "user-1", "2025-06-18", "claude-ai", "0.1.0", t0)
	require.NoError(t, err)
	got, err := c.verify(token, "tenant-a", "user-1", t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, issued, got)
	assert.Equal(t, "2025-06-18", got.ProtocolVersion)
	assert.Equal(t, "claude-ai", got.ClientName)
	assert.Equal(t, t0.Add(time.Hour), got.ExpiresAt)
	assert.Len(t, got.ID, 22, "16 random bytes, base64url")

	// Header-safe: visible ASCII only, as the spec requires of session ids.
	for _, r := range token {
		assert.True(t, r > 0x20 && r < 0x7f, "character %q", r)
	}

	other, _, err := c.issue("tenant-a", "user-1", "2025-06-18", "claude-ai", "0.1.0", t0)
	require.NoError(t, err)
	assert.NotEqual(t, token, other, "every initialize gets a fresh session")
}

// forge signs an arbitrary payload the way the codec would with key, to build tokens
// that are correctly signed but say something the issuer never said.
func forge(key []byte, p sessionPayload) string {
	raw, _ := json.Marshal(p)
	body := base64.RawURLEncoding.EncodeToString(raw)
	h := hmac.New(sha256.New, key)
	h.Write([]byte(sessionMACContext))
	h.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func TestSessionAttacks(t *testing.T) {
	c := mustCodec(t, time.Hour, testKey)
	good, _, err := c.issue("tenant-a", "user-1", "2025-11-25", "c", "1", t0)
	require.NoError(t, err)
	body, sig, _ := strings.Cut(good, ".")
	rawPayload, _ := base64.RawURLEncoding.DecodeString(body)
	var payload sessionPayload
	require.NoError(t, json.Unmarshal(rawPayload, &payload))
	reencode := func(mutate func(*sessionPayload)) string {
		p := payload
		mutate(&p)
		raw, _ := json.Marshal(p)
		return base64.RawURLEncoding.EncodeToString(raw)
	}

	tests := []struct {
		name    string
		token   string
		tenant  string
		subject string
		at      time.Time
		want    error
	}{
		{name: "empty", token: "", want: errSessionInvalid},
		{name: "no signature", token: body, want: errSessionInvalid},
		{name: "empty signature", token: body + ".", want: errSessionInvalid},
		{name: "extra segment", token: good + ".x", want: errSessionInvalid},
		{name: "signature not base64", token: body + ".***", want: errSessionInvalid},
		{name: "truncated signature", token: body + "." + sig[:20], want: errSessionInvalid},
		{name: "signature of another token", token: body + "." + sig[:len(sig)-2] + "AA", want: errSessionInvalid},
		{name: "payload swapped to another tenant, old MAC", token: reencode(func(p *sessionPayload) { p.Ten = "tenant-b" }) + "." + sig, tenant: "tenant-b", want: errSessionInvalid},
		{name: "expiry extended, old MAC", token: reencode(func(p *sessionPayload) { p.EXP += 1e6 }) + "." + sig, at: t0.Add(2 * time.Hour), want: errSessionInvalid},
		{name: "non-canonical signature encoding", token: body + "." + tweakLastBits(sig), want: errSessionInvalid},
		{name: "signed with an unknown key", token: forge(testKeyOld, payload), want: errSessionInvalid},
		{name: "MAC without the context prefix", token: func() string {
			h := hmac.New(sha256.New, testKey)
			h.Write([]byte(body))
			return body + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
		}(), want: errSessionInvalid},
		{name: "oversized", token: strings.Repeat("a", maxSessionTokenLen+1), want: errSessionInvalid},
		{name: "signed but not JSON", token: forgeRaw(testKey, []byte("hello")), want: errSessionInvalid},
		{name: "signed, wrong format version", token: forge(testKey, with(payload, func(p *sessionPayload) { p.V = 2 })), want: errSessionInvalid},
		{name: "signed, unsupported protocol version", token: forge(testKey, with(payload, func(p *sessionPayload) { p.PV = "2024-11-05" })), want: errSessionInvalid},
		{name: "signed, no session id", token: forge(testKey, with(payload, func(p *sessionPayload) { p.SID = "" })), want: errSessionInvalid},
		{name: "expired", token: good, at: t0.Add(time.Hour), want: errSessionExpired},
		{name: "long expired", token: good, at: t0.Add(1000 * time.Hour), want: errSessionExpired},
		{name: "issued in the future", token: forge(testKey, with(payload, func(p *sessionPayload) { p.IAT = t0.Add(10 * time.Minute).Unix() })), want: errSessionExpired},
		{name: "other subject", token: good, subject: "user-2", want: errSessionPrincipal},
		{name: "other tenant", token: good, tenant: "tenant-b", want: errSessionPrincipal},
		{name: "subject prefix", token: good, subject: "user-", want: errSessionPrincipal},
		{name: "tenant and subject boundary shifted", token: good, tenant: "tenant-au", subject: "ser-1", want: errSessionPrincipal},
		{name: "anonymous caller", token: good, tenant: "-", subject: "-", want: errSessionPrincipal},
		{name: "valid", token: good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, subject, at := "tenant-a", "user-1", t0.Add(time.Minute)
			if tt.tenant == "-" {
				tenant = ""
			} else if tt.tenant != "" {
				tenant = tt.tenant
			}
			if tt.subject == "-" {
				subject = ""
			} else if tt.subject != "" {
				subject = tt.subject
			}
			if !tt.at.IsZero() {
				at = tt.at
			}
			_, err := c.verify(tt.token, tenant, subject, at)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

// tweakLastBits flips a padding bit of the last base64url character: a lenient decoder
// yields the same bytes, so the string would be a second valid spelling of the token.
func tweakLastBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

func with(p sessionPayload, mutate func(*sessionPayload)) sessionPayload {
	mutate(&p)
	return p
}

func forgeRaw(key, raw []byte) string {
	body := base64.RawURLEncoding.EncodeToString(raw)
	h := hmac.New(sha256.New, key)
	h.Write([]byte(sessionMACContext))
	h.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// TestSessionKeyRotation walks the documented rotation: add the new key as a verifier,
// then make it the signer, then drop the old one.
func TestSessionKeyRotation(t *testing.T) {
	newKey := testKey
	oldOnly := mustCodec(t, time.Hour, testKeyOld)
	oldToken, _, err := oldOnly.issue("t", "s", "2025-11-25", "", "", t0)
	require.NoError(t, err)

	steps := []struct {
		name              string
		keys              [][]byte
		acceptOld         bool
		newTokenVerifiers [][]byte // a token issued at this step verifies under these key lists
	}{
		{name: "new key added as verifier", keys: [][]byte{testKeyOld, newKey}, acceptOld: true, newTokenVerifiers: [][]byte{testKeyOld}},
		{name: "new key signs, old still verifies", keys: [][]byte{newKey, testKeyOld}, acceptOld: true, newTokenVerifiers: [][]byte{newKey}},
		{name: "old key dropped", keys: [][]byte{newKey}, acceptOld: false, newTokenVerifiers: [][]byte{newKey}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			c := mustCodec(t, time.Hour, st.keys...)
			_, err := c.verify(oldToken, "t", "s", t0)
			if st.acceptOld {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errSessionInvalid)
			}
			token, _, err := c.issue("t", "s", "2025-11-25", "", "", t0)
			require.NoError(t, err)
			_, err = mustCodec(t, time.Hour, st.newTokenVerifiers...).verify(token, "t", "s", t0)
			assert.NoError(t, err, "tokens are signed with the first key")
		})
	}
}

func TestSessionClientInfoBounded(t *testing.T) {
	c := mustCodec(t, time.Hour, testKey)
	token, s, err := c.issue("t", "s", "2025-11-25", strings.Repeat("n", 10000), strings.Repeat("ü", 1000), t0)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(s.ClientName), maxClientInfoLen+len("…"))
	assert.LessOrEqual(t, len(token), 1024)
	got, err := c.verify(token, "t", "s", t0)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(got.ClientVersion, "ü…"), "cut on a rune boundary: %q", got.ClientVersion)
}

// TestSessionAcrossReplicas: two handlers that share only the key accept each other's
// sessions; one with another key does not.
func TestSessionAcrossReplicas(t *testing.T) {
	const v = "2025-11-25"
	a := newTestEnv(t, nil)
	b := newTestEnv(t, nil)
	stranger := newTestEnv(t, func(c *Config) { c.SessionKeys = [][]byte{testKeyOld} })
	token := a.initialize(v, nil)

	rec := b.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, sessionHeaders(token, v))
	assert.Equal(t, 200, rec.Code)
	rec = stranger.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, sessionHeaders(token, v))
	assert.Equal(t, 404, rec.Code)
}

func TestParseSessionKeys(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(testKey)
	k2 := base64.RawURLEncoding.EncodeToString(append([]byte{0xfb, 0xff}, testKeyOld...)) // has - and _
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{name: "one", in: k1, want: 1},
		{name: "two, spaces, url alphabet", in: " " + k1 + " , " + k2 + " ", want: 2},
		{name: "trailing comma", in: k1 + ",", want: 1},
		{name: "empty", in: "", wantErr: true},
		{name: "short", in: base64.StdEncoding.EncodeToString([]byte("short")), wantErr: true},
		{name: "not base64", in: "!!!!", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseSessionKeys(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, keys, tt.want)
			assert.Equal(t, testKey, keys[0])
		})
	}
}
