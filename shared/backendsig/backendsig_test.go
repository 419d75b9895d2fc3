package backendsig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	t0     = time.Unix(1767225600, 0)
	keyOld = Key{KID: "k-old", Secret: []byte("old secret, 32 bytes long......")}
	keyNew = Key{KID: "k-new", Secret: []byte("new secret, 32 bytes long......")}
)

// signed builds a request as the gateway sends it and returns it as a backend
// server receives it (RequestURI set, body readable).
func signed(t *testing.T, s Signer, method, target, body, tenant, user, id string, at time.Time) *http.Request {
	t.Helper()
	out, err := http.NewRequest(method, "http://backend.internal"+target, strings.NewReader(body))
	require.NoError(t, err)
	require.NoError(t, s.Sign(out, []byte(body), tenant, user, id, at))
	return received(out, body)
}

// received turns a client request into the server-side request the backend
// handler sees: same request line, headers and body.
func received(out *http.Request, body string) *http.Request {
	in := httptest.NewRequest(out.Method, out.URL.RequestURI(), strings.NewReader(body))
	in.Header = out.Header.Clone()
	return in
}

func verifier(keys ...Key) *Verifier {
	m := map[string][]byte{}
	for _, k := range keys {
		m[k.KID] = k.Secret
	}
	return &Verifier{Keys: m, Now: func() time.Time { return t0 }}
}

func TestVerify(t *testing.T) {
	s := Signer{Keys: []Key{keyOld}}
	base := func() *http.Request {
		return signed(t, s, "POST", "/v1/orders?limit=10&x=a%20b", `{"amount":42}`, "acme", "u1", "req-1", t0)
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request) *http.Request
		v      *Verifier
		want   error
	}{
		{"valid", nil, verifier(keyOld), nil},
		{"changed body", func(r *http.Request) *http.Request {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":4200}`))
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed path", func(r *http.Request) *http.Request {
			r.RequestURI = "/v1/refunds?limit=10&x=a%20b"
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed path encoding", func(r *http.Request) *http.Request {
			r.RequestURI = "/v1/orders?limit=10&x=a+b"
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed query", func(r *http.Request) *http.Request {
			r.RequestURI = "/v1/orders?limit=1000&x=a%20b"
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"dropped query", func(r *http.Request) *http.Request {
			r.RequestURI = "/v1/orders"
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed method", func(r *http.Request) *http.Request {
			r.Method = "PUT"
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed tenant header", func(r *http.Request) *http.Request {
			r.Header.Set(TenantHeader, "globex")
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed user header", func(r *http.Request) *http.Request {
			r.Header.Set(UserHeader, "admin")
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"removed user header", func(r *http.Request) *http.Request {
			r.Header.Del(UserHeader)
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"second tenant header", func(r *http.Request) *http.Request {
			r.Header.Add(TenantHeader, "globex")
			return r
		}, verifier(keyOld), ErrIdentity},
		{"changed request id header", func(r *http.Request) *http.Request {
			r.Header.Set(RequestIDHeader, "req-2")
			return r
		}, verifier(keyOld), ErrIdentity},
		{"changed signed id", func(r *http.Request) *http.Request {
			h := strings.Replace(r.Header.Get(SignatureHeader), "id=req-1", "id=req-2", 1)
			r.Header.Set(SignatureHeader, h)
			r.Header.Set(RequestIDHeader, "req-2")
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"changed timestamp", func(r *http.Request) *http.Request {
			h := strings.Replace(r.Header.Get(SignatureHeader), fmt.Sprint("t=", t0.Unix()), fmt.Sprint("t=", t0.Unix()+1), 1)
			r.Header.Set(SignatureHeader, h)
			return r
		}, verifier(keyOld), ErrBadSignature},
		{"missing signature", func(r *http.Request) *http.Request {
			r.Header.Del(SignatureHeader)
			return r
		}, verifier(keyOld), ErrMissing},
		{"two signature headers", func(r *http.Request) *http.Request {
			r.Header.Add(SignatureHeader, r.Header.Get(SignatureHeader))
			return r
		}, verifier(keyOld), ErrMalformed},
		{"malformed signature", func(r *http.Request) *http.Request {
			r.Header.Set(SignatureHeader, "t=1,id=x")
			return r
		}, verifier(keyOld), ErrMalformed},
		{"unknown kid only", nil, verifier(keyNew), ErrUnknownKey},
		{"known kid, wrong secret", nil, verifier(Key{KID: keyOld.KID, Secret: keyNew.Secret}), ErrBadSignature},
		{"no keys", nil, &Verifier{Now: func() time.Time { return t0 }}, ErrUnknownKey},
		{"body too large", nil, &Verifier{Keys: map[string][]byte{keyOld.KID: keyOld.Secret}, Now: func() time.Time { return t0 }, MaxBody: 5}, ErrBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			if tc.mutate != nil {
				r = tc.mutate(r)
			}
			id, err := tc.v.Verify(r)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				require.Zero(t, id)
				return
			}
			require.NoError(t, err)
			require.Equal(t, Identity{Tenant: "acme", User: "u1", RequestID: "req-1"}, id)
			body, err := io.ReadAll(r.Body)
			require.NoError(t, err)
			require.Equal(t, `{"amount":42}`, string(body), "body must be restored for the handler")
		})
	}
}

func TestTimestampWindow(t *testing.T) {
	s := Signer{Keys: []Key{keyOld}}
	tests := []struct {
		name     string
		signedAt time.Time
		want     error
	}{
		{"now", t0, nil},
		{"4m59s ago", t0.Add(-4*time.Minute - 59*time.Second), nil},
		{"exactly 5m ago", t0.Add(-5 * time.Minute), nil},
		{"6m ago", t0.Add(-6 * time.Minute), ErrTimestamp},
		{"5m1s ago", t0.Add(-5*time.Minute - time.Second), ErrTimestamp},
		{"4m ahead", t0.Add(4 * time.Minute), nil},
		{"6m ahead", t0.Add(6 * time.Minute), ErrTimestamp},
		{"epoch", time.Unix(0, 0), ErrTimestamp},
		{"far future", time.Unix(999999999999, 0), ErrTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signed(t, s, "GET", "/x", "", "acme", "u1", "req-1", tc.signedAt)
			_, err := verifier(keyOld).Verify(r)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestReplay(t *testing.T) {
	s := Signer{Keys: []Key{keyOld}}
	now := t0
	v := verifier(keyOld)
	v.Now = func() time.Time { return now }
	v.Replay = NewMemoryReplayCache(100, time.Minute)

	capture := signed(t, s, "POST", "/pay", `{"n":1}`, "acme", "u1", "req-9", t0)
	replay := func() *http.Request { return received(capture, `{"n":1}`) }

	_, err := v.Verify(capture)
	require.NoError(t, err)

	// Inside the window: only the replay cache stops it.
	now = t0.Add(2 * time.Minute)
	_, err = v.Verify(replay())
	require.ErrorIs(t, err, ErrReplay)
	v.Replay = nil
	_, err = v.Verify(replay())
	require.NoError(t, err, "without a cache the replay inside the window is accepted (why the cache exists)")
	v.Replay = NewMemoryReplayCache(100, time.Minute)

	// Outside the window: the timestamp stops it, cache or not.
	now = t0.Add(5*time.Minute + time.Second)
	_, err = v.Verify(replay())
	require.ErrorIs(t, err, ErrTimestamp)

	// A forged request never enters the cache (nobody can fill it without a key).
	now = t0
	forged := replay()
	forged.Header.Set(UserHeader, "mallory")
	_, err = v.Verify(forged)
	require.ErrorIs(t, err, ErrBadSignature)
	_, err = v.Verify(replay())
	require.NoError(t, err)
}

func TestRotation(t *testing.T) {
	both := Signer{Keys: []Key{keyOld, keyNew}}
	tests := []struct {
		name string
		v    *Verifier
		want error
	}{
		{"verifier knows old only", verifier(keyOld), nil},
		{"verifier knows new only", verifier(keyNew), nil},
		{"verifier knows both", verifier(keyOld, keyNew), nil},
		{"verifier knows neither", verifier(Key{KID: "k-other", Secret: []byte("x")}), ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := signed(t, both, "GET", "/x", "", "acme", "u1", "req-1", t0)
			h, err := ParseHeader(r.Header.Get(SignatureHeader))
			require.NoError(t, err)
			require.Len(t, h.Signatures, 2)
			_, err = tc.v.Verify(r)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}

	// A forged v1 under the kid the verifier knows is not rescued by a valid
	// one under a kid it does not know.
	r := signed(t, both, "GET", "/x", "", "acme", "u1", "req-1", t0)
	h, err := ParseHeader(r.Header.Get(SignatureHeader))
	require.NoError(t, err)
	h.Signatures[1].V1 = bytes.Repeat([]byte{0}, 32)
	r.Header.Set(SignatureHeader, h.String())
	_, err = verifier(keyNew).Verify(r)
	require.ErrorIs(t, err, ErrBadSignature)
}

func TestSignRejects(t *testing.T) {
	req := httptest.NewRequest("GET", "/x", nil)
	s := Signer{Keys: []Key{keyOld}}
	require.Error(t, Signer{}.Sign(req, nil, "a", "u", "id", t0))
	require.Error(t, s.Sign(req, nil, "a", "u", "bad,id", t0))
	require.Error(t, s.Sign(req, nil, "a", "u", "", t0))
	require.Error(t, s.Sign(req, nil, "a\nb", "u", "id", t0))
	require.Error(t, s.Sign(req, nil, "a", "u\r", "id", t0))
	require.Error(t, Signer{Keys: []Key{{KID: "k=1", Secret: []byte("s")}}}.Sign(req, nil, "a", "u", "id", t0))
	require.Error(t, Signer{Keys: []Key{{KID: "k", Secret: nil}}}.Sign(req, nil, "a", "u", "id", t0))
}

func TestMiddleware(t *testing.T) {
	s := Signer{Keys: []Key{keyOld}}
	v := verifier(keyOld)
	v.Replay = NewMemoryReplayCache(10, time.Minute)
	var got Identity
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = IdentityFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signed(t, s, "POST", "/echo", "hello", "acme", "u1", "req-1", t0))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "hello", rec.Body.String())
	require.Equal(t, Identity{Tenant: "acme", User: "u1", RequestID: "req-1"}, got)

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, signed(t, s, "POST", "/echo", "hello", "acme", "u1", "req-1", t0))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, ErrReplay.Error()+"\n", rec.Body.String())

	rec = httptest.NewRecorder()
	bad := signed(t, s, "POST", "/echo", "hello", "acme", "u1", "req-2", t0)
	bad.Header.Set(SignatureHeader, "t=1,id=req-2,kid=k-old,v1=zz")
	h.ServeHTTP(rec, bad)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, ErrMalformed.Error()+"\n", rec.Body.String(), "no parser detail leaks")
}

// TestOverHTTP signs with a real client request and verifies in a real server,
// so the request target the signer uses is the one the server sees.
func TestOverHTTP(t *testing.T) {
	v := &Verifier{Keys: map[string][]byte{keyOld.KID: keyOld.Secret}}
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFrom(r.Context())
		_, _ = io.WriteString(w, id.Tenant+"/"+id.User)
	})))
	defer srv.Close()

	for _, target := range []string{"/", "/a%2Fb/c%20d?q=x+y&q=%26", "/plain", "/trailing/?"} {
		body := []byte(`{"k":"v"}`)
		req, err := http.NewRequest("POST", srv.URL+target, bytes.NewReader(body))
		require.NoError(t, err)
		require.NoError(t, Signer{Keys: []Key{keyOld}}.Sign(req, body, "acme", "user@example.com", "req-http", time.Now()))
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", target, got)
		require.Equal(t, "acme/user@example.com", string(got))
	}
}

type vector struct {
	Name string `json:"name"`
	Keys []struct {
		KID          string `json:"kid"`
		SecretBase64 string `json:"secret_base64"`
	} `json:"keys"`
	T         int64  `json:"t"`
	ID        string `json:"id"`
	Method    string `json:"method"`
	Target    string `json:"target"`
	Body      string `json:"body"`
	Tenant    string `json:"tenant"`
	User      string `json:"user"`
	Canonical string `json:"canonical"`
	Header    string `json:"header"`
}

// TestVectors checks this package against testdata/vectors.json, produced by
// the independent Python implementation in testdata/vectors.py.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	require.NoError(t, err)
	var vectors []vector
	require.NoError(t, json.Unmarshal(raw, &vectors))
	require.NotEmpty(t, vectors)
	for _, vec := range vectors {
		t.Run(vec.Name, func(t *testing.T) {
			var s Signer
			v := &Verifier{Keys: map[string][]byte{}, Now: func() time.Time { return time.Unix(vec.T, 0) }}
			for _, k := range vec.Keys {
				secret, err := base64.StdEncoding.DecodeString(k.SecretBase64)
				require.NoError(t, err)
				s.Keys = append(s.Keys, Key{KID: k.KID, Secret: secret})
				v.Keys[k.KID] = secret
			}
			require.Equal(t, vec.Canonical, string(Canonical(vec.T, vec.ID, vec.Method, vec.Target, []byte(vec.Body), vec.Tenant, vec.User)))

			r := signed(t, s, vec.Method, vec.Target, vec.Body, vec.Tenant, vec.User, vec.ID, time.Unix(vec.T, 0))
			require.Equal(t, vec.Header, r.Header.Get(SignatureHeader))

			// And a request carrying the vector's header verifies.
			in := httptest.NewRequest(vec.Method, vec.Target, strings.NewReader(vec.Body))
			in.Header.Set(SignatureHeader, vec.Header)
			in.Header.Set(TenantHeader, vec.Tenant)
			in.Header.Set(UserHeader, vec.User)
			in.Header.Set(RequestIDHeader, vec.ID)
			id, err := v.Verify(in)
			require.NoError(t, err)
			require.Equal(t, Identity{Tenant: vec.Tenant, User: vec.User, RequestID: vec.ID}, id)
		})
	}
}

func TestParseHeader(t *testing.T) {
	mac := strings.Repeat("ab", 32)
	good := []struct {
		in   string
		want Header
	}{
		{"t=1,id=r,kid=k,v1=" + mac, Header{1, "r", []Signature{{"k", bytes.Repeat([]byte{0xab}, 32)}}}},
		{"id=r, t=1, kid=k, v1=" + mac + ", v2=future", Header{1, "r", []Signature{{"k", bytes.Repeat([]byte{0xab}, 32)}}}},
		{"t=1,id=r,kid=a,v1=" + mac + ",kid=b,v1=" + mac, Header{1, "r", []Signature{{"a", bytes.Repeat([]byte{0xab}, 32)}, {"b", bytes.Repeat([]byte{0xab}, 32)}}}},
	}
	for _, tc := range good {
		got, err := ParseHeader(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
	bad := []string{
		"", "t=1", "t=1,id=r", "t=1,id=r,kid=k", "t=1,id=r,v1=" + mac, "t=1,id=r,kid=k,kid=j,v1=" + mac,
		"t=1,t=2,id=r,kid=k,v1=" + mac, "t=1,id=r,id=s,kid=k,v1=" + mac, "t=-1,id=r,kid=k,v1=" + mac,
		"t=+1,id=r,kid=k,v1=" + mac, "t=1x,id=r,kid=k,v1=" + mac, "t=1234567890123,id=r,kid=k,v1=" + mac,
		"t=1,id=,kid=k,v1=" + mac, "t=1,id=r r,kid=k,v1=" + mac, "t=1,id=r,kid=k,v1=" + mac[:62],
		"t=1,id=r,kid=k,v1=" + strings.Repeat("zz", 32), "t=1,id=r,kid=k,v1=" + mac + ",junk",
		"t=1,id=r" + strings.Repeat(",kid=k,v1="+mac, 9), strings.Repeat("x", maxHeaderLen+1),
	}
	for _, in := range bad {
		_, err := ParseHeader(in)
		require.ErrorIs(t, err, ErrMalformed, "%q", in)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("t=1767225600,id=req-1,kid=k1,v1=" + strings.Repeat("ab", 32))
	f.Add("t=1,id=r,kid=a,v1=" + strings.Repeat("00", 32) + ",kid=b,v1=" + strings.Repeat("ff", 32))
	f.Add(",,,==,")
	f.Add("t=,id=,kid=,v1=")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHeader(s)
		if err != nil {
			return
		}
		// Whatever parses must round-trip through String.
		again, err := ParseHeader(h.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", h.String(), err)
		}
		if again.String() != h.String() {
			t.Fatalf("round trip %q != %q", again.String(), h.String())
		}
	})
}

func TestMemoryReplayCache(t *testing.T) {
	c := NewMemoryReplayCache(3, time.Minute)
	now := t0
	until := now.Add(5 * time.Minute)
	require.True(t, c.Remember("a", until, now))
	require.False(t, c.Remember("a", until, now))
	require.True(t, c.Remember("b", until.Add(time.Second), now))
	require.True(t, c.Remember("c", until.Add(2*time.Second), now))
	require.Equal(t, 3, c.Len())

	// Full: the id closest to expiry ("a") goes first.
	require.True(t, c.Remember("d", until.Add(3*time.Second), now))
	require.Equal(t, 3, c.Len())
	require.True(t, c.Remember("a", until, now))
	require.False(t, c.Remember("c", until, now))

	// The ttl is a floor under the requested expiry.
	c2 := NewMemoryReplayCache(10, 10*time.Minute)
	require.True(t, c2.Remember("x", now.Add(time.Minute), now))
	require.False(t, c2.Remember("x", now.Add(time.Minute), now.Add(9*time.Minute)))
	// Expired ids are forgotten.
	require.True(t, c2.Remember("x", now.Add(time.Minute), now.Add(10*time.Minute)))
}

func TestMemoryReplayCacheConcurrent(t *testing.T) {
	c := NewMemoryReplayCache(1000, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if c.Remember(fmt.Sprint("id-", i), t0.Add(time.Minute), t0) {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 200, fresh, "each id is fresh exactly once")
}
