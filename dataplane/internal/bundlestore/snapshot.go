package bundlestore

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Snapshot is one consistent view of the gateway's configuration: the global
// bundle, the bundle of every live tenant and the revision applied for every
// scope. It is immutable once published: a change builds a new Snapshot
// (copy-on-write) and swaps it in atomically, so a request that loaded a
// Snapshot sees the same configuration from its first layer to its last.
//
// The bundles it returns are shared with every other reader: treat them as
// read-only. All methods are safe on a nil *Snapshot (an empty configuration).
type Snapshot struct {
	global  *globalBundle
	tenants map[string]*bundle.Bundle // live tenants only: tombstones removed
	// held is every accepted bundle by scope, tombstones included: Accept
	// compares against it, so a tenant deleted at revision 7 cannot come back
	// with its revision 6, and the snapshot file keeps the tombstone too.
	held map[model.Scope]heldBundle
}

// heldBundle is an accepted bundle and the signed bytes it was read from.
type heldBundle struct {
	b   *bundle.Bundle
	raw []byte // nil for bundles given to NewSnapshot (never written to the file)
}

// globalBundle is the global bundle with the cache of its unsealed backend
// keys. It lives as long as the bundle does: snapshots that only change a
// tenant share it, so the keys are unsealed once per global bundle.
type globalBundle struct {
	b    *bundle.Bundle
	keys backendKeyCache
}

// ErrSnapshot wraps the reasons NewSnapshot refuses its input.
var ErrSnapshot = errors.New("bundlestore: invalid snapshot")

// NewSnapshot builds a Snapshot from bundles that are already trusted Go
// values (tests, the Static source). It checks what Verify would check about
// their shape (a valid scope, a positive revision, content matching the
// scope, one bundle per scope) but not signatures: there are none. A
// tombstone (Deleted) records the tenant's revision and removes the tenant.
func NewSnapshot(bundles ...*bundle.Bundle) (*Snapshot, error) {
	s := &Snapshot{}
	for i, b := range bundles {
		if err := checkShape(b); err != nil {
			return nil, fmt.Errorf("%w: bundle %d: %v", ErrSnapshot, i, err)
		}
		if _, dup := s.held[b.Scope]; dup {
			return nil, fmt.Errorf("%w: two bundles for scope %q", ErrSnapshot, b.Scope)
		}
		s.set(b, nil)
	}
	return s, nil
}

// checkShape mirrors the structural rules bundle.Verify applies after the
// signature, for bundles that never had one.
func checkShape(b *bundle.Bundle) error {
	if b == nil {
		return errors.New("nil bundle")
	}
	if err := bundle.ValidateScope(b.Scope); err != nil {
		return err
	}
	if b.Revision <= 0 {
		return fmt.Errorf("revision %d is not positive", b.Revision)
	}
	if b.Scope == model.GlobalScope {
		if b.Global == nil || b.Tenant != nil || b.Deleted {
			return errors.New("global bundle must carry global content only")
		}
		return nil
	}
	switch {
	case b.Global != nil:
		return errors.New("tenant bundle carries global content")
	case b.Tenant == nil && !b.Deleted:
		return errors.New("tenant bundle without content")
	case b.Tenant != nil && b.Tenant.Tenant.ID != tenantOf(b.Scope):
		return fmt.Errorf("tenant content for %q under scope %q", b.Tenant.Tenant.ID, b.Scope)
	}
	return nil
}

// tenantOf returns the tenant id of a tenant scope ("" for global).
func tenantOf(s model.Scope) string {
	id, _ := strings.CutPrefix(string(s), "tenant/")
	if s == model.GlobalScope {
		return ""
	}
	return id
}

// with returns a new Snapshot with b (read from raw) applied; s is left
// untouched. The caller has already checked that b may replace what s holds.
func (s *Snapshot) with(b *bundle.Bundle, raw []byte) *Snapshot {
	next := s.clone()
	next.set(b, raw)
	return next
}

// clone returns a Snapshot equal to s that shares no map with it: O(scopes),
// which keeps reads free of locks and is cheap next to verifying a signature.
func (s *Snapshot) clone() *Snapshot {
	next := &Snapshot{held: maps.Clone(s.heldMap())}
	if s != nil {
		next.global, next.tenants = s.global, maps.Clone(s.tenants)
	}
	return next
}

// set applies b (read from raw) to s in place. Only for a Snapshot no reader
// has seen and whose maps no other Snapshot shares (fresh from clone or
// NewSnapshot): staging many bundles before one publish then costs
// O(bundles), not a copy of every map per bundle.
func (s *Snapshot) set(b *bundle.Bundle, raw []byte) {
	if s.held == nil {
		s.held = map[model.Scope]heldBundle{}
	}
	s.held[b.Scope] = heldBundle{b: b, raw: raw}
	if b.Scope == model.GlobalScope {
		s.global = &globalBundle{b: b}
		return
	}
	if s.tenants == nil {
		s.tenants = map[string]*bundle.Bundle{}
	}
	if b.Deleted {
		delete(s.tenants, tenantOf(b.Scope))
	} else {
		s.tenants[tenantOf(b.Scope)] = b
	}
}

func (s *Snapshot) heldMap() map[model.Scope]heldBundle {
	if s == nil {
		return nil
	}
	return s.held
}

// Global returns the global bundle, or nil when none has been applied yet.
func (s *Snapshot) Global() *bundle.Bundle {
	if s == nil || s.global == nil {
		return nil
	}
	return s.global.b
}

// Tenant returns the bundle of tenant id, or nil when the gateway holds none
// (never configured, or deleted by a tombstone).
func (s *Snapshot) Tenant(id string) *bundle.Bundle {
	if s == nil {
		return nil
	}
	return s.tenants[id]
}

// TenantIDs returns the ids of the live tenants, sorted.
func (s *Snapshot) TenantIDs() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.tenants))
}

// Revision returns the revision applied for scope (a tombstone's included),
// or 0 when none has been.
func (s *Snapshot) Revision(scope model.Scope) int64 {
	if s == nil {
		return 0
	}
	if h, ok := s.held[scope]; ok {
		return h.b.Revision
	}
	return 0
}

// Revisions returns a fresh map of scope → applied revision, tombstones
// included: the shape heartbeats report.
func (s *Snapshot) Revisions() map[string]int64 {
	out := make(map[string]int64, len(s.heldMap()))
	for scope, h := range s.heldMap() {
		out[string(scope)] = h.b.Revision
	}
	return out
}

// bundleFor returns the accepted bundle of scope (a tombstone's included), or nil.
func (s *Snapshot) bundleFor(scope model.Scope) *bundle.Bundle {
	if s == nil {
		return nil
	}
	return s.held[scope].b
}

// rawBundles returns the signed form of every held bundle by KV key, for the
// snapshot file. Bundles without one (NewSnapshot) are left out.
func (s *Snapshot) rawBundles() map[string]string {
	out := make(map[string]string, len(s.heldMap()))
	for scope, h := range s.heldMap() {
		if h.raw != nil {
			out[bundle.KeyFor(scope)] = string(h.raw)
		}
	}
	return out
}
