package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/policy"
)

// Bundle is the signed, self-contained configuration of one scope.
type Bundle struct {
	Scope       model.Scope `json:"scope"`
	Revision    int64       `json:"revision"`
	BuiltAt     time.Time   `json:"built_at"`
	ContentHash string      `json:"content_hash"`
	// Deleted marks a tenant tombstone: the tenant is gone and gateways drop its
	// configuration. It is signed like any bundle so nobody but the control
	// plane can delete a tenant's configuration from the fleet.
	Deleted bool    `json:"deleted,omitempty"`
	Global  *Global `json:"global,omitempty"`
	Tenant  *Tenant `json:"tenant,omitempty"`
}

// Global is the content of the global bundle.
type Global struct {
	Tools        []Entry[model.Tool]        `json:"tools"`
	AccessRules  []Entry[model.AccessRule]  `json:"access_rules"`
	Policies     []Entry[policy.Policy]     `json:"policies"`
	Hooks        []Entry[model.Hook]        `json:"hooks"`
	MaskingRules []Entry[model.MaskingRule] `json:"masking_rules"`
	BackendKeys  []SealedKey                `json:"backend_keys"`
	Domains      []Entry[model.Domain]      `json:"domains,omitempty"`
	// Rate limits and network rules are omitted when empty, so a bundle
	// without any has the same bytes (and content hash) as before they existed.
	RateLimits   []Entry[model.RateLimit]   `json:"rate_limits,omitempty"`
	NetworkRules []Entry[model.NetworkRule] `json:"network_rules,omitempty"`
}

// Tenant is the content of one tenant's bundle.
type Tenant struct {
	Tenant       model.Tenant               `json:"tenant"`
	AccessRules  []Entry[model.AccessRule]  `json:"access_rules"`
	Policies     []Entry[policy.Policy]     `json:"policies"`
	MaskingRules []Entry[model.MaskingRule] `json:"masking_rules"`
	// Enforced in addition to the global ones (omitted when empty, as in Global).
	RateLimits   []Entry[model.RateLimit]   `json:"rate_limits,omitempty"`
	NetworkRules []Entry[model.NetworkRule] `json:"network_rules,omitempty"`
}

// Entry is one stored resource: its ID (a UUID from Postgres) and its spec.
type Entry[T any] struct {
	ID   string `json:"id"`
	Spec T      `json:"spec"`
}

// SealedKey is a backend HMAC key with its secret sealed by package seal under
// the bundle seal key, with the kid as additional data (so a sealed secret
// moved to another kid fails to open).
type SealedKey struct {
	model.BackendKey
	Sealed []byte `json:"sealed"`
}

// Errors. Verify wraps ErrInvalid with the reason; callers log the reason and
// keep their last good bundle.
var (
	ErrInvalid   = errors.New("bundle: invalid")
	ErrStale     = errors.New("bundle: stale revision")
	ErrDuplicate = errors.New("bundle: duplicate")
	ErrScope     = errors.New("bundle: scope mismatch")
)

// content is what ContentHash covers. BuiltAt and ContentHash itself are left
// out so that rebuilding the same revision of the same configuration gives the
// same hash.
type content struct {
	Scope    model.Scope `json:"scope"`
	Revision int64       `json:"revision"`
	Deleted  bool        `json:"deleted"`
	Global   *Global     `json:"global"`
	Tenant   *Tenant     `json:"tenant"`
}

// ComputeContentHash returns the lowercase hex SHA-256 of the canonical JSON of
// b's content. Canonical means encoding/json of the types above: struct fields
// in declaration order, map keys sorted, no insignificant whitespace, HTML
// characters escaped. That encoding is deterministic, and it survives a
// decode/encode round trip as long as the decoder keeps numbers verbatim
// (json.Decoder.UseNumber), which is how Verify decodes.
func ComputeContentHash(b *Bundle) (string, error) {
	buf, err := json.Marshal(content{
		Scope: b.Scope, Revision: b.Revision, Deleted: b.Deleted, Global: b.Global, Tenant: b.Tenant,
	})
	if err != nil {
		return "", fmt.Errorf("bundle: canonical json: %w", err)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), nil
}

// check enforces the structural invariants of a bundle, on both the signing
// and the verifying side: a valid scope, a positive revision, and content of
// the kind the scope calls for.
func check(b *Bundle) error {
	tenantID, global, err := parseScope(b.Scope)
	if err != nil {
		return err
	}
	if b.Revision <= 0 {
		return fmt.Errorf("%w: revision %d is not positive", ErrInvalid, b.Revision)
	}
	if global {
		switch {
		case b.Deleted:
			return fmt.Errorf("%w: the global scope cannot be deleted", ErrInvalid)
		case b.Tenant != nil:
			return fmt.Errorf("%w: global bundle carries tenant content", ErrInvalid)
		case b.Global == nil:
			return fmt.Errorf("%w: global bundle without content", ErrInvalid)
		}
		return nil
	}
	switch {
	case b.Global != nil:
		return fmt.Errorf("%w: tenant bundle carries global content", ErrInvalid)
	case b.Tenant == nil && !b.Deleted:
		return fmt.Errorf("%w: tenant bundle without content", ErrInvalid)
	case b.Tenant != nil && b.Tenant.Tenant.ID != tenantID:
		return fmt.Errorf("%w: tenant content for %q under scope %q", ErrInvalid, b.Tenant.Tenant.ID, b.Scope)
	}
	return nil
}

// Accept reports whether next may replace current in a gateway's memory:
// nil when there is no current bundle or next has a higher revision;
// ErrDuplicate when it is the same revision with the same content (a
// redelivery, ignore it); ErrStale otherwise (an older revision, or the same
// revision with other content, which only a rollback of the control plane's
// database could produce and which must not silently replace what is served).
// ErrScope when the two bundles are for different scopes.
func Accept(current, next *Bundle) error {
	if next == nil {
		return fmt.Errorf("%w: nil bundle", ErrInvalid)
	}
	if current == nil {
		return nil
	}
	if current.Scope != next.Scope {
		return fmt.Errorf("%w: holding %q, got %q", ErrScope, current.Scope, next.Scope)
	}
	switch {
	case next.Revision > current.Revision:
		return nil
	case next.Revision == current.Revision && next.ContentHash == current.ContentHash:
		return ErrDuplicate
	case next.Revision == current.Revision:
		return fmt.Errorf("%w: revision %d already held with other content", ErrStale, next.Revision)
	default:
		return fmt.Errorf("%w: revision %d is older than held %d", ErrStale, next.Revision, current.Revision)
	}
}
