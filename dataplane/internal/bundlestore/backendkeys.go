package bundlestore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/shared/backendsig"
	"github.com/portcullis/portcullis/shared/seal"
)

// Errors of BackendSigner. Forwarding fails closed on either: an unsigned
// request would be refused by the backend anyway.
var (
	ErrNoGlobal      = errors.New("bundlestore: no global bundle")
	ErrNoBackendKeys = errors.New("bundlestore: no usable backend key")
)

// Key statuses a gateway signs with (model.BackendKey.Status). "revoked" and
// anything unknown are never used: a status the gateway does not understand
// must not put a key into service.
const (
	keyActive   = "active"
	keyRetiring = "retiring"
)

// backendKeyCache holds the unsealed backend keys of one global bundle. It is
// filled on first use and read lock-free afterwards; two requests racing to
// fill it both unseal and one result wins, which is harmless.
type backendKeyCache struct {
	p atomic.Pointer[unsealedKeys]
}

// unsealedKeys is the result of opening a global bundle's backend keys with
// one Sealer.
type unsealedKeys struct {
	sealer   *seal.Sealer
	keys     []unsealedKey
	all      []backendsig.Key // keys as a slice, shared when none expires
	expiring bool             // some key has NotAfter: filter per call
	err      error            // first key that failed to open, if any
}

type unsealedKey struct {
	key      backendsig.Key
	notAfter *time.Time
}

// BackendSigner returns the signer for requests forwarded at now: every
// active or retiring backend key of the global bundle whose not_after has not
// passed, unsealed with sealer (additional data = the kid). The secrets are
// unsealed once per global bundle, not per request; the returned Signer
// shares its Keys slice with other callers and must not be modified.
//
// A key that fails to open (the gateway's PORTCULLIS_BUNDLE_SEAL_KEY differs
// from the control plane's) is skipped; when no key is usable the error says
// why.
func (s *Snapshot) BackendSigner(sealer *seal.Sealer, now time.Time) (backendsig.Signer, error) {
	if s == nil || s.global == nil {
		return backendsig.Signer{}, ErrNoGlobal
	}
	if sealer == nil {
		return backendsig.Signer{}, errors.New("bundlestore: nil sealer")
	}
	u := s.global.keys.p.Load()
	if u == nil || u.sealer != sealer {
		u = s.global.unseal(sealer)
		s.global.keys.p.Store(u)
	}
	keys := u.all
	if u.expiring {
		keys = make([]backendsig.Key, 0, len(u.keys))
		for _, k := range u.keys {
			if k.notAfter == nil || now.Before(*k.notAfter) {
				keys = append(keys, k.key)
			}
		}
	}
	if len(keys) == 0 {
		if u.err != nil {
			return backendsig.Signer{}, fmt.Errorf("%w: %v", ErrNoBackendKeys, u.err)
		}
		return backendsig.Signer{}, ErrNoBackendKeys
	}
	return backendsig.Signer{Keys: keys}, nil
}

// unseal opens every key the gateway may sign with.
func (g *globalBundle) unseal(sealer *seal.Sealer) *unsealedKeys {
	u := &unsealedKeys{sealer: sealer}
	for _, k := range g.b.Global.BackendKeys {
		if k.Status != keyActive && k.Status != keyRetiring {
			continue
		}
		secret, err := sealer.Open(k.Sealed, []byte(k.KID))
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("backend key %q: %w", k.KID, err)
			}
			continue
		}
		u.keys = append(u.keys, unsealedKey{key: backendsig.Key{KID: k.KID, Secret: secret}, notAfter: k.NotAfter})
		u.all = append(u.all, backendsig.Key{KID: k.KID, Secret: secret})
		u.expiring = u.expiring || k.NotAfter != nil
	}
	return u
}
