package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Platform-only methods for the relay and background workers. They run as the
// store's system actor, in their own transactions, and are not reachable from
// a handler's Tx.

// ScopeRevision is a scope with unpublished outbox rows and the highest
// revision among them.
type ScopeRevision struct {
	Scope      model.Scope
	Revision   int64
	EnqueuedAt time.Time // when the oldest unpublished row was written (relay lag)
	Pending    int64     // unpublished outbox rows of the scope
}

// Snapshot is the whole configuration of one scope at one revision, read in
// one REPEATABLE READ transaction so rows and revision agree.
type Snapshot struct {
	Scope    model.Scope
	Revision int64         // 0: the scope was never written
	Tenant   *TenantRecord // tenant scopes: nil when the tenant is deleted (publish a tombstone)
	// Resources holds every row of the scope by kind: for the global scope the
	// platform kinds (tools, tool sources) and the global rows of the scoped
	// kinds; for a tenant scope the tenant's rows of the scoped kinds. Every
	// kind of the scope has an entry, possibly empty.
	Resources map[Kind][]Record
	// BackendKeys (global scope only): active keys and retiring keys within
	// their overlap, with secrets. Revoked keys are never included.
	BackendKeys []BackendKeyRecord
	// Domains (global scope only): every custom domain, platform and tenant
	// ones alike, by hostname.
	Domains []DomainRecord
}

// PendingScopes lists scopes with unpublished outbox rows, the one waiting
// longest first.
func (s *Store) PendingScopes(ctx context.Context) ([]ScopeRevision, error) {
	var out []ScopeRevision
	err := s.run(ctx, system, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(t *pgTx) error {
		rows, err := t.tx.Query(ctx, `
			SELECT scope, max(revision), min(created_at), count(*) FROM outbox WHERE published_at IS NULL
			GROUP BY scope ORDER BY min(id)`)
		if err != nil {
			return mapErr(err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScopeRevision, error) {
			var sr ScopeRevision
			err := r.Scan(&sr.Scope, &sr.Revision, &sr.EnqueuedAt, &sr.Pending)
			return sr, err
		})
		return mapErr(err)
	})
	return out, err
}

// Snapshot reads the scope's revision and every row of the scope.
func (s *Store) Snapshot(ctx context.Context, scope model.Scope) (Snapshot, error) {
	tenantID, err := parseScope(scope)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Scope: scope, Resources: map[Kind][]Record{}}
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err = s.run(ctx, system, opts, func(t *pgTx) error {
		if err := t.tx.QueryRow(ctx, `SELECT coalesce((SELECT revision FROM scope_revisions WHERE scope = $1), 0)`,
			string(scope)).Scan(&snap.Revision); err != nil {
			return mapErr(err)
		}
		kindsOf := ScopedKinds
		if tenantID == "" {
			kindsOf = append(append([]Kind{}, PlatformKinds...), ScopedKinds...)
			keys, err := t.usableBackendKeys(ctx)
			if err != nil {
				return err
			}
			snap.BackendKeys = keys
			if snap.Domains, err = t.allDomains(ctx); err != nil {
				return err
			}
		} else {
			tr, err := t.GetTenant(ctx, tenantID)
			switch {
			case err == nil:
				snap.Tenant = &tr
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		for _, kind := range kindsOf {
			recs, err := t.allResources(ctx, kind, tenantID)
			if err != nil {
				return err
			}
			snap.Resources[kind] = recs
		}
		return nil
	})
	if err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

// allResources returns every row of kind in one scope, in list order.
func (t *pgTx) allResources(ctx context.Context, kind Kind, tenantID string) ([]Record, error) {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, `SELECT `+k.cols()+` FROM `+k.table+` WHERE `+k.scopeCond()+` ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Record, error) { return scanRecord(r) })
	if err != nil {
		return nil, mapErr(err)
	}
	if out == nil {
		out = []Record{}
	}
	return out, nil
}

// MarkPublished marks the scope's outbox rows up to revision as published and
// records the bundle revision.
func (s *Store) MarkPublished(ctx context.Context, scope model.Scope, revision int64, contentHash string) error {
	if _, err := parseScope(scope); err != nil {
		return err
	}
	return s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		if _, err := t.tx.Exec(ctx, `
			UPDATE outbox SET published_at = now() WHERE scope = $1 AND revision <= $2 AND published_at IS NULL`,
			string(scope), revision); err != nil {
			return mapErr(err)
		}
		_, err := t.tx.Exec(ctx, `
			INSERT INTO bundle_revisions (scope, revision, content_hash, built_at, published_at) VALUES ($1, $2, $3, now(), now())
			ON CONFLICT (scope, revision) DO UPDATE SET content_hash = excluded.content_hash, published_at = excluded.published_at`,
			string(scope), revision, contentHash)
		return mapErr(err)
	})
}

// RecordPublishError counts a failed publish attempt on the scope's pending
// outbox rows and keeps the error text for operators.
func (s *Store) RecordPublishError(ctx context.Context, scope model.Scope, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		_, err := t.tx.Exec(ctx, `
			UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE scope = $1 AND published_at IS NULL`,
			string(scope), msg)
		return mapErr(err)
	})
}

// BackendKeySecrets returns the active and still-overlapping retiring backend
// keys with their secrets (for the relay; Snapshot of the global scope carries
// the same list).
func (s *Store) BackendKeySecrets(ctx context.Context) ([]BackendKeyRecord, error) {
	var out []BackendKeyRecord
	err := s.run(ctx, system, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(t *pgTx) (err error) {
		out, err = t.usableBackendKeys(ctx)
		return err
	})
	return out, err
}

// bundleKeyLock serialises the creation of the bundle signing key between
// control planes sharing the database (an arbitrary constant, "PCBUNDLE").
const bundleKeyLock int64 = 0x50434255_4E444C45

// BundleSigningKey returns the active bundle signing key, creating it on
// first use. The kid is the key's RFC 7638 thumbprint (bundle.KeyID). The
// Ed25519 seed is sealed with the master key (aad = kid); the public key is
// stored in clear for BundlePublicKeys.
func (s *Store) BundleSigningKey(ctx context.Context) (string, ed25519.PrivateKey, error) {
	if s.sealer == nil {
		return "", nil, ErrNoSealer
	}
	var kid string
	var priv ed25519.PrivateKey
	err := s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) (err error) {
		// The key exists on every call but the first: read it without the
		// lock; only creation is serialised.
		if kid, priv, err = s.activeBundleKey(ctx, t); err != nil || priv != nil {
			return err
		}
		if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, bundleKeyLock); err != nil {
			return mapErr(err)
		}
		// Another control plane may have created it while we waited; READ
		// COMMITTED lets this statement see its commit.
		if kid, priv, err = s.activeBundleKey(ctx, t); err != nil || priv != nil {
			return err
		}
		kid, priv, err = s.createBundleKey(ctx, t)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return kid, priv, nil
}

// activeBundleKey returns the newest active bundle key, or a nil key if none.
func (s *Store) activeBundleKey(ctx context.Context, t *pgTx) (string, ed25519.PrivateKey, error) {
	var kid string
	var sealed []byte
	err := t.tx.QueryRow(ctx, `
		SELECT kid, secret_sealed FROM signing_keys WHERE kind = $1 AND status = 'active'
		ORDER BY created_at DESC LIMIT 1`, kindBundleEd25519).Scan(&kid, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, mapErr(err)
	}
	seed, err := s.sealer.Open(sealed, []byte(kid))
	if err != nil || len(seed) != ed25519.SeedSize {
		return "", nil, fmt.Errorf("store: open bundle signing key %s (wrong master key?): %v", kid, err)
	}
	return kid, ed25519.NewKeyFromSeed(seed), nil
}

func (s *Store) createBundleKey(ctx context.Context, t *pgTx) (string, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, fmt.Errorf("store: generate bundle key: %w", err)
	}
	kid := bundle.KeyID(pub)
	sealed, err := s.sealer.Seal(priv.Seed(), []byte(kid))
	if err != nil {
		return "", nil, fmt.Errorf("store: seal: %w", err)
	}
	if _, err := t.tx.Exec(ctx, `
		INSERT INTO signing_keys (kid, kind, status, secret_sealed, public_key, created_by)
		VALUES ($1, $2, 'active', $3, $4, $5)`, kid, kindBundleEd25519, sealed, []byte(pub), system.Subject); err != nil {
		return "", nil, mapErr(err)
	}
	s.log.Info("created the bundle signing key", "kid", kid)
	return kid, priv, nil
}

// BundlePublicKeys returns the public keys of every bundle signing key that
// is not revoked (active and retiring), oldest first.
func (s *Store) BundlePublicKeys(ctx context.Context) ([]bundle.PublicKey, error) {
	var out []bundle.PublicKey
	err := s.run(ctx, system, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(t *pgTx) error {
		rows, err := t.tx.Query(ctx, `
			SELECT kid, public_key FROM signing_keys WHERE kind = $1 AND status <> 'revoked' ORDER BY created_at, kid`,
			kindBundleEd25519)
		if err != nil {
			return mapErr(err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (bundle.PublicKey, error) {
			var k bundle.PublicKey
			var raw []byte
			if err := r.Scan(&k.KID, &raw); err != nil {
				return k, err
			}
			if len(raw) != ed25519.PublicKeySize {
				return k, fmt.Errorf("store: bundle key %s has a bad public key", k.KID)
			}
			k.Key = ed25519.PublicKey(raw)
			return k, nil
		})
		return mapErr(err)
	})
	return out, err
}

// EnsureAuditPartitions creates the monthly audit partitions from last month
// to monthsAhead months ahead (idempotent; the migration did it for the months
// around its run, so a long-running control plane calls this periodically).
func (s *Store) EnsureAuditPartitions(ctx context.Context, monthsAhead int) (created int, err error) {
	err = s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		return mapErr(t.tx.QueryRow(ctx, `SELECT portcullis_ensure_audit_partitions($1)`, monthsAhead).Scan(&created))
	})
	return created, err
}

// PruneIdempotencyKeys deletes stored idempotent responses older than
// IdempotencyTTL and returns how many it deleted.
func (s *Store) PruneIdempotencyKeys(ctx context.Context) (int64, error) {
	var n int64
	err := s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		tag, err := t.tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at <= now() - make_interval(secs => $1)`,
			IdempotencyTTL.Seconds())
		n = tag.RowsAffected()
		return mapErr(err)
	})
	return n, err
}

// ListenOutbox calls wake with the scope of every committed write (NOTIFY on
// OutboxChannel) until ctx ends or the connection fails. It holds one pool
// connection for its lifetime, taken out of the pool (hijacked) so the
// LISTEN never leaks to other users. Notifications are hints: a caller must
// still poll PendingScopes, since a NOTIFY sent while it was not listening is
// lost.
func (s *Store) ListenOutbox(ctx context.Context, wake func(model.Scope)) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	conn := pc.Hijack()
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+OutboxChannel); err != nil {
		return fmt.Errorf("store: listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("store: listen: %w", err)
		}
		wake(model.Scope(n.Payload))
	}
}
