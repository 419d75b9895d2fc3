package backendsig

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultWindow is how far a timestamp may be from the verifier's clock, in
// either direction.
const DefaultWindow = 5 * time.Minute

// DefaultMaxBody bounds the body Verify reads to hash it.
const DefaultMaxBody = 10 << 20

// Errors returned by Verify. The Middleware answers 401 with the error text,
// which names the reason but never a key or an expected signature.
var (
	ErrMissing      = errors.New("backendsig: missing signature")
	ErrMalformed    = errors.New("backendsig: malformed signature header")
	ErrTimestamp    = errors.New("backendsig: timestamp outside window")
	ErrUnknownKey   = errors.New("backendsig: no known key id")
	ErrBadSignature = errors.New("backendsig: signature mismatch")
	ErrReplay       = errors.New("backendsig: request id already seen")
	ErrBodyTooLarge = errors.New("backendsig: body too large")
	ErrIdentity     = errors.New("backendsig: bad identity headers")
)

// Identity is who the gateway says the request is for, once verified.
type Identity struct {
	Tenant    string
	User      string
	RequestID string
}

// ReplayCache remembers request ids. Remember records id until the given time
// and reports whether it was new; an id still remembered is a replay.
// Implementations must be safe for concurrent use.
type ReplayCache interface {
	Remember(id string, until, now time.Time) bool
}

// Verifier checks signed requests on the backend side.
type Verifier struct {
	Keys    map[string][]byte // secret by kid; several during a rotation
	Window  time.Duration     // default DefaultWindow
	Replay  ReplayCache       // optional
	Now     func() time.Time  // default time.Now
	MaxBody int64             // default DefaultMaxBody
}

// Verify checks r's signature and returns the identity it carries. It reads
// the body (at most MaxBody bytes) and puts it back, so handlers can still
// read it.
func (v *Verifier) Verify(r *http.Request) (Identity, error) {
	h, err := v.header(r)
	if err != nil {
		return Identity{}, err
	}
	now := v.now()
	window := v.window()
	signedAt := time.Unix(h.Timestamp, 0)
	if now.Sub(signedAt).Abs() > window {
		return Identity{}, ErrTimestamp
	}
	id, err := identity(r, h.ID)
	if err != nil {
		return Identity{}, err
	}
	body, err := v.readBody(r)
	if err != nil {
		return Identity{}, err
	}
	canon := Canonical(h.Timestamp, h.ID, r.Method, requestTarget(r), body, id.Tenant, id.User)
	if err := v.check(h.Signatures, canon); err != nil {
		return Identity{}, err
	}
	// Only authentic requests reach the cache, so nobody without a key can
	// fill it. The id must be remembered as long as its timestamp stays
	// acceptable.
	if v.Replay != nil && !v.Replay.Remember(h.ID, signedAt.Add(window), now) {
		return Identity{}, ErrReplay
	}
	return id, nil
}

func (v *Verifier) header(r *http.Request) (Header, error) {
	values := r.Header.Values(SignatureHeader)
	switch len(values) {
	case 0:
		return Header{}, ErrMissing
	case 1:
		return ParseHeader(values[0])
	default:
		return Header{}, fmt.Errorf("%w: repeated header", ErrMalformed)
	}
}

// identity reads the identity headers. Each may appear at most once: with two
// values, the verifier and the application might read different ones.
func identity(r *http.Request, signedID string) (Identity, error) {
	var vals [3]string
	for i, name := range []string{TenantHeader, UserHeader, RequestIDHeader} {
		vs := r.Header.Values(name)
		if len(vs) > 1 {
			return Identity{}, fmt.Errorf("%w: repeated %s", ErrIdentity, name)
		}
		if len(vs) == 1 {
			vals[i] = vs[0]
		}
	}
	if vals[2] != signedID {
		return Identity{}, fmt.Errorf("%w: %s differs from the signed id", ErrIdentity, RequestIDHeader)
	}
	return Identity{Tenant: vals[0], User: vals[1], RequestID: signedID}, nil
}

func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := v.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("backendsig: read body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, ErrBodyTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// check accepts when any signature by a known kid matches. Signatures by
// kids this verifier does not know are skipped: they belong to the other side
// of a rotation.
func (v *Verifier) check(sigs []Signature, canon []byte) error {
	known := false
	for _, s := range sigs {
		secret, ok := v.Keys[s.KID]
		if !ok || len(secret) == 0 {
			continue
		}
		known = true
		if hmac.Equal(mac(secret, canon), s.V1) {
			return nil
		}
	}
	if !known {
		return ErrUnknownKey
	}
	return ErrBadSignature
}

// requestTarget is the path?query as the client sent it. RequestURI holds the
// raw request line target on a server; r.URL may have been rewritten by
// routing (http.StripPrefix) and is only the fallback.
func requestTarget(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) window() time.Duration {
	if v.Window > 0 {
		return v.Window
	}
	return DefaultWindow
}

type identityKey struct{}

// Middleware verifies every request before next sees it and answers 401 with
// a short reason otherwise. next finds the identity with IdentityFrom.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r)
		if err != nil {
			status := http.StatusUnauthorized
			if errors.Is(err, ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			http.Error(w, reason(err), status)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

// reason maps an error to its public sentinel text, dropping any detail.
func reason(err error) string {
	for _, e := range []error{ErrMissing, ErrMalformed, ErrTimestamp, ErrUnknownKey, ErrBadSignature, ErrReplay, ErrBodyTooLarge, ErrIdentity} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "backendsig: invalid request"
}

// IdentityFrom returns the identity Middleware verified for this request.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
