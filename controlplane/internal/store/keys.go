package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/shared/model"
)

// Backend HMAC keys. The secret is 32 random bytes sealed with the master key
// (aad = kid, so a sealed secret copied onto another row does not open). It
// leaves the store only in the create/rotate result and, for the relay, in
// BackendKeySecrets / Snapshot while the key is active or retiring. Key
// changes touch the global scope: the global bundle carries the keys.

const (
	kindBackendHMAC   = "backend_hmac"
	kindBundleEd25519 = "bundle_ed25519"
	backendSecretSize = 32
)

// ErrNoSealer is returned by key operations when Options.Sealer was not set.
var ErrNoSealer = errors.New("store: no master key configured")

func (t *pgTx) CreateBackendKey(ctx context.Context) (BackendKeyRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return BackendKeyRecord{}, err
	}
	k, err := t.insertBackendKey(ctx)
	if err != nil {
		return BackendKeyRecord{}, err
	}
	t.touch(model.GlobalScope)
	return k, nil
}

func (t *pgTx) insertBackendKey(ctx context.Context) (BackendKeyRecord, error) {
	if t.sealer == nil {
		return BackendKeyRecord{}, ErrNoSealer
	}
	kid, err := randomID("bk_")
	if err != nil {
		return BackendKeyRecord{}, err
	}
	secret := make([]byte, backendSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return BackendKeyRecord{}, fmt.Errorf("store: random: %w", err)
	}
	sealed, err := t.sealer.Seal(secret, []byte(kid))
	if err != nil {
		return BackendKeyRecord{}, fmt.Errorf("store: seal: %w", err)
	}
	k := BackendKeyRecord{Secret: secret}
	err = t.tx.QueryRow(ctx, `
		INSERT INTO signing_keys (kid, kind, status, secret_sealed, created_by) VALUES ($1, $2, 'active', $3, $4)
		RETURNING kid, status, not_after, created_at`, kid, kindBackendHMAC, sealed, t.actor.Subject).
		Scan(&k.KID, &k.Status, &k.NotAfter, &k.CreatedAt)
	if err != nil {
		return BackendKeyRecord{}, mapErr(err)
	}
	return k, nil
}

// lockBackendKey returns the status of kid, locked for the rest of the transaction.
func (t *pgTx) lockBackendKey(ctx context.Context, kid string) (string, error) {
	var status string
	err := t.tx.QueryRow(ctx, `SELECT status FROM signing_keys WHERE kid = $1 AND kind = $2 FOR UPDATE`,
		kid, kindBackendHMAC).Scan(&status)
	return status, mapErr(err)
}

func (t *pgTx) RotateBackendKey(ctx context.Context, kid string, overlap time.Duration) (BackendKeyRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return BackendKeyRecord{}, err
	}
	if overlap < 0 {
		return BackendKeyRecord{}, fmt.Errorf("%w: negative overlap", ErrInvalid)
	}
	status, err := t.lockBackendKey(ctx, kid)
	if err != nil {
		return BackendKeyRecord{}, err
	}
	if status != "active" {
		return BackendKeyRecord{}, fmt.Errorf("%w: key %s is %s, only an active key rotates", ErrConflict, kid, status)
	}
	next, err := t.insertBackendKey(ctx)
	if err != nil {
		return BackendKeyRecord{}, err
	}
	if _, err := t.tx.Exec(ctx, `
		UPDATE signing_keys SET status = 'retiring', not_after = now() + make_interval(secs => $2)
		WHERE kid = $1`, kid, overlap.Seconds()); err != nil {
		return BackendKeyRecord{}, mapErr(err)
	}
	t.touch(model.GlobalScope)
	return next, nil
}

func (t *pgTx) RevokeBackendKey(ctx context.Context, kid string) error {
	if err := t.requirePlatform(); err != nil {
		return err
	}
	status, err := t.lockBackendKey(ctx, kid)
	if err != nil {
		return err
	}
	if status == "revoked" {
		return nil // already revoked: nothing changes, nothing to publish
	}
	if _, err := t.tx.Exec(ctx, `UPDATE signing_keys SET status = 'revoked', not_after = now() WHERE kid = $1`, kid); err != nil {
		return mapErr(err)
	}
	t.touch(model.GlobalScope)
	return nil
}

func (t *pgTx) ListBackendKeys(ctx context.Context) ([]BackendKeyRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, `
		SELECT kid, status, not_after, created_at FROM signing_keys WHERE kind = $1 ORDER BY created_at, kid`,
		kindBackendHMAC)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (BackendKeyRecord, error) {
		var k BackendKeyRecord
		err := r.Scan(&k.KID, &k.Status, &k.NotAfter, &k.CreatedAt)
		return k, err
	})
	return out, mapErr(err)
}

// usableBackendKeys returns the active keys and the retiring keys still in
// their overlap window, with their secrets opened. Revoked keys never leave.
func (t *pgTx) usableBackendKeys(ctx context.Context) ([]BackendKeyRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, `
		SELECT kid, status, not_after, created_at, secret_sealed FROM signing_keys
		WHERE kind = $1 AND (status = 'active' OR (status = 'retiring' AND not_after > now()))
		ORDER BY created_at, kid`, kindBackendHMAC)
	if err != nil {
		return nil, mapErr(err)
	}
	type sealedKey struct {
		BackendKeyRecord
		sealed []byte
	}
	sealed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedKey, error) {
		var k sealedKey
		err := r.Scan(&k.KID, &k.Status, &k.NotAfter, &k.CreatedAt, &k.sealed)
		return k, err
	})
	if err != nil {
		return nil, mapErr(err)
	}
	if len(sealed) > 0 && t.sealer == nil {
		return nil, ErrNoSealer
	}
	out := make([]BackendKeyRecord, 0, len(sealed))
	for _, k := range sealed {
		secret, err := t.sealer.Open(k.sealed, []byte(k.KID))
		if err != nil {
			return nil, fmt.Errorf("store: open backend key %s (wrong master key?): %w", k.KID, err)
		}
		k.Secret = secret
		out = append(out, k.BackendKeyRecord)
	}
	return out, nil
}
