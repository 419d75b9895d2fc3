package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Gateways (fleet heartbeats) are platform-only state.

func (t *pgTx) UpsertGateway(ctx context.Context, g Gateway) error {
	if err := t.requirePlatform(); err != nil {
		return err
	}
	if g.ID == "" {
		return fmt.Errorf("%w: gateway without id", ErrInvalid)
	}
	if g.LastSeen.IsZero() {
		g.LastSeen = time.Now()
	}
	if g.StartedAt.IsZero() {
		g.StartedAt = g.LastSeen
	}
	revs := g.Revisions
	if revs == nil {
		revs = map[string]int64{}
	}
	raw, err := json.Marshal(revs)
	if err != nil {
		return fmt.Errorf("store: gateway revisions: %w", err)
	}
	_, err = t.tx.Exec(ctx, `
		INSERT INTO gateways (id, hostname, version, started_at, last_seen, revisions) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, version = excluded.version,
			started_at = excluded.started_at, last_seen = excluded.last_seen, revisions = excluded.revisions`,
		g.ID, g.Hostname, g.Version, g.StartedAt, g.LastSeen, string(raw))
	return mapErr(err)
}

func (t *pgTx) ListGateways(ctx context.Context) ([]Gateway, error) {
	if err := t.requirePlatform(); err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, `SELECT id, hostname, version, started_at, last_seen, revisions FROM gateways ORDER BY id`)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Gateway, error) {
		var g Gateway
		var raw []byte
		if err := r.Scan(&g.ID, &g.Hostname, &g.Version, &g.StartedAt, &g.LastSeen, &raw); err != nil {
			return Gateway{}, err
		}
		return g, json.Unmarshal(raw, &g.Revisions)
	})
	return out, mapErr(err)
}

// Idempotency keys. A stored response is replayed for IdempotencyTTL; older
// rows are ignored and pruned (SaveIdempotency replaces an expired row for the
// same key; PruneIdempotencyKeys removes the rest).

// IdempotencyTTL is how long a stored response is replayed.
const IdempotencyTTL = 24 * time.Hour

func (t *pgTx) LookupIdempotency(ctx context.Context, principal, key string) (*IdempotentResponse, error) {
	var r IdempotentResponse
	err := t.tx.QueryRow(ctx, `
		SELECT request_hash, status, body, location FROM idempotency_keys
		WHERE principal = $1 AND key = $2 AND created_at > now() - make_interval(secs => $3)`,
		principal, key, IdempotencyTTL.Seconds()).Scan(&r.RequestHash, &r.Status, &r.Body, &r.Location)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &r, nil
}

// SaveIdempotency stores the response for (principal, key). A concurrent
// request that saved the same key first makes this ErrConflict, which rolls
// back the duplicate's own write.
func (t *pgTx) SaveIdempotency(ctx context.Context, principal, key string, r IdempotentResponse) error {
	if principal == "" || key == "" {
		return fmt.Errorf("%w: idempotency needs a principal and a key", ErrInvalid)
	}
	if _, err := t.tx.Exec(ctx, `
		DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND created_at <= now() - make_interval(secs => $3)`,
		principal, key, IdempotencyTTL.Seconds()); err != nil {
		return mapErr(err)
	}
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	_, err := t.tx.Exec(ctx, `
		INSERT INTO idempotency_keys (principal, key, tenant_id, request_hash, status, body, location)
		VALUES ($1, $2, nullif($3, ''), $4, $5, $6, $7)`,
		principal, key, t.actingTenant(), r.RequestHash, r.Status, body, r.Location)
	return mapErr(err)
}

// actingTenant is the tenant the actor acts for ("" for the platform).
func (t *pgTx) actingTenant() string {
	if t.actor.Platform {
		return ""
	}
	return t.actor.TenantID
}
