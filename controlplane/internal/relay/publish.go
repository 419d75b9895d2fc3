package relay

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// keys is the signing material of one drain pass: the current private key
// and every public key the control plane has published (to trust what is
// already in the bucket across a signing-key rotation).
type keys struct {
	kid     string
	private ed25519.PrivateKey
	public  bundle.KeySet
}

func (r *Relay) loadKeys(ctx context.Context) (keys, error) {
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	kid, priv, err := r.store.BundleSigningKey(cctx)
	if err != nil {
		return keys{}, fmt.Errorf("relay: signing key: %w", err)
	}
	pubs, err := r.store.BundlePublicKeys(cctx)
	if err != nil {
		return keys{}, fmt.Errorf("relay: public keys: %w", err)
	}
	set := make(bundle.KeySet, len(pubs)+1)
	for _, p := range pubs {
		set[p.KID] = p.Key
	}
	set[kid] = priv.Public().(ed25519.PublicKey)
	return keys{kid: kid, private: priv, public: set}, nil
}

// publishScope builds, signs and publishes the current state of one scope,
// then marks its outbox rows published.
func (r *Relay) publishScope(ctx context.Context, kv jetstream.KeyValue, k keys, scope model.Scope) error {
	key := bundle.KeyFor(scope)
	if key == "" {
		// Postgres' CHECK constraint makes this unreachable; refuse rather
		// than write under an empty key.
		return fmt.Errorf("relay: invalid scope %q", scope)
	}
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	snap, err := r.store.Snapshot(cctx, scope)
	cancel()
	if err != nil {
		return fmt.Errorf("relay: snapshot: %w", err)
	}
	b, err := build(snap, r.sealer)
	if err != nil {
		return err
	}
	raw, err := bundle.Sign(b, k.private, k.kid)
	if err != nil {
		return fmt.Errorf("relay: sign: %w", err)
	}
	written, held, err := r.put(ctx, kv, k.public, scope, key, b.Revision, raw)
	if err != nil {
		return err
	}
	hash := b.ContentHash
	if held != nil && held.Revision == b.Revision {
		// Published before (by us before a crash, or by another relay): the
		// bucket's copy is the one gateways hold, so record its hash. Ours may
		// differ, sealing uses random nonces.
		hash = held.ContentHash
	}
	cctx, cancel = context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if err := r.store.MarkPublished(cctx, scope, b.Revision, hash); err != nil {
		return fmt.Errorf("relay: mark published: %w", err)
	}
	if written {
		r.metrics.published.WithLabelValues(scopeKind(scope)).Inc()
		r.log.Info("bundle published", "scope", scope, "revision", b.Revision, "deleted", b.Deleted)
	}
	return nil
}

// put writes raw under key unless the bucket already holds revision or a
// newer one. It reports whether it wrote and, when it did not, the bundle the
// bucket holds. See the package comment for why this compare-and-set, and not
// the advisory lock, keeps revisions ordered.
func (r *Relay) put(ctx context.Context, kv jetstream.KeyValue, trusted bundle.KeySet, scope model.Scope, key string, revision int64, raw []byte) (bool, *bundle.Bundle, error) {
	for range maxCASRetries {
		held, seq, err := r.current(ctx, kv, trusted, scope, key)
		if err != nil {
			return false, nil, err
		}
		if held != nil && held.Revision >= revision {
			r.log.Debug("bucket already holds this revision or newer", "scope", scope, "held", held.Revision, "ours", revision)
			return false, held, nil
		}
		cctx, cancel := context.WithTimeout(ctx, natsTimeout)
		if seq == 0 {
			_, err = kv.Create(cctx, key, raw)
		} else {
			_, err = kv.Update(cctx, key, raw, seq)
		}
		cancel()
		switch {
		case err == nil:
			return true, nil, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another relay wrote in between: re-read and compare again
		case errors.Is(err, nats.ErrMaxPayload):
			// This bundle alone is too big for the server: other scopes can
			// still be published, so it is not a transport failure.
			return false, nil, fmt.Errorf("relay: bundle of %d bytes exceeds the NATS max payload: %w", len(raw), err)
		default:
			return false, nil, transportError{fmt.Errorf("relay: kv put %s: %w", key, err)}
		}
	}
	return false, nil, transportError{fmt.Errorf("relay: kv put %s: still conflicting after %d attempts", key, maxCASRetries)}
}

// current returns the bundle the bucket holds for key (nil when absent) and the
// entry's sequence (0 when the key is absent or deleted). An entry that does
// not verify against our own keys is treated as absent and overwritten:
// trusting its claimed revision would let anyone with write access to the
// bucket block publishing forever by writing revision 2^63-1.
func (r *Relay) current(ctx context.Context, kv jetstream.KeyValue, trusted bundle.KeySet, scope model.Scope, key string) (*bundle.Bundle, uint64, error) {
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	e, err := kv.Get(cctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		// Create handles a deleted key (it writes over the delete marker).
		return nil, 0, nil
	case err != nil:
		return nil, 0, transportError{fmt.Errorf("relay: kv get %s: %w", key, err)}
	}
	held, err := bundle.Verify(e.Value(), trusted, scope)
	if err != nil {
		r.log.Warn("bucket holds a bundle we did not sign; overwriting it", "scope", scope, "err", err)
		return nil, e.Revision(), nil
	}
	return held, e.Revision(), nil
}

func scopeKind(s model.Scope) string {
	if s == model.GlobalScope {
		return "global"
	}
	return "tenant"
}
