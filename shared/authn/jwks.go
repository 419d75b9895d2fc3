package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// maxDocument bounds a discovery or JWKS response.
const maxDocument = 1 << 20

// keySource holds one issuer's JWKS. Reads are lock-free (an atomic pointer
// to an immutable snapshot); fetches are serialised by mu and rate-limited to
// one per MinRefreshInterval, whatever the number of tokens with unknown kids.
//
// It fetches lazily, on the validation that needs keys, and runs no
// background goroutine: nothing to stop, and an issuer that is down at start
// only fails the validations made while it is down. The jwx jwk.Cache is not
// used for this reason and because its refresh is not rate-limited per kid
// miss.
type keySource struct {
	issuer  string
	jwksURL string // configured; empty → discovery
	client  *http.Client
	timeout time.Duration
	minGap  time.Duration
	maxAge  time.Duration
	log     *slog.Logger

	snap atomic.Pointer[keySnapshot]

	mu          sync.Mutex // serialises fetches; guards the fields below
	lastAttempt time.Time
	resolvedURL string // from discovery, once it succeeded
}

type keySnapshot struct {
	set       jwk.Set
	fetchedAt time.Time
}

func newKeySource(ic IssuerConfig, cfg Config) *keySource {
	return &keySource{
		issuer: ic.Issuer, jwksURL: ic.JWKSURL, client: cfg.HTTPClient,
		timeout: cfg.FetchTimeout, minGap: cfg.MinRefreshInterval, maxAge: cfg.MaxKeyAge,
		log: cfg.Logger.With("issuer", ic.Issuer),
	}
}

// lookup returns the key with kid. It refreshes the set when kid is unknown
// or the set is older than maxAge, at most once per minGap.
func (s *keySource) lookup(ctx context.Context, kid string, now time.Time) (jwk.Key, error) {
	snap := s.snap.Load()
	if snap != nil && now.Sub(snap.fetchedAt) < s.maxAge {
		if k, ok := snap.set.LookupKeyID(kid); ok {
			return k, nil
		}
	}
	fetchErr := s.refresh(ctx, now)
	snap = s.snap.Load()
	if snap == nil {
		if fetchErr == nil {
			fetchErr = invalidCause("fetching keys", fmt.Errorf("%w: %s: last fetch failed, retry is rate-limited", ErrKeysUnavailable, s.issuer))
		}
		return nil, fetchErr
	}
	// After a failed refresh the old keys still serve: an issuer outage must
	// not log everyone out.
	if k, ok := snap.set.LookupKeyID(kid); ok {
		return k, nil
	}
	return nil, invalid(fmt.Sprintf("unknown kid %q", kid))
}

// refresh fetches the JWKS unless a fetch was attempted less than minGap ago
// (including one that finished while this call waited for the lock).
func (s *keySource) refresh(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minGap {
		return nil
	}
	s.lastAttempt = now
	set, err := s.fetch(ctx)
	if err != nil {
		s.log.Warn("authn: fetching issuer keys failed; keeping the keys held", "error", err,
			"held", s.snap.Load() != nil, "retry_after", s.minGap)
		return invalidCause("fetching keys", fmt.Errorf("%w: %s: %v", ErrKeysUnavailable, s.issuer, err))
	}
	s.snap.Store(&keySnapshot{set: set, fetchedAt: now})
	s.log.Debug("authn: issuer keys refreshed", "keys", set.Len())
	return nil
}

// fetch gets the JWKS, discovering its URL first when needed. Called with mu held.
func (s *keySource) fetch(ctx context.Context) (jwk.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u := s.jwksURL
	if u == "" {
		if s.resolvedURL == "" {
			resolved, err := s.discover(ctx)
			if err != nil {
				return nil, err
			}
			s.resolvedURL = resolved
		}
		u = s.resolvedURL
	}
	body, err := s.get(ctx, u)
	if err != nil {
		return nil, err
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return set, nil
}

// discover reads the OIDC discovery document. Its issuer must be ours (OpenID
// Connect Discovery 1.0 §4.3), so a document served for another issuer cannot
// point us at someone else's keys.
func (s *keySource) discover(ctx context.Context) (string, error) {
	body, err := s.get(ctx, strings.TrimSuffix(s.issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != s.issuer {
		return "", fmt.Errorf("discovery: issuer %q, want %q", doc.Issuer, s.issuer)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

func (s *keySource) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxDocument {
		return nil, fmt.Errorf("GET %s: response too large", u)
	}
	return body, nil
}
