package migrations_test

import (
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestApprovalWebhooks (000006): the trigger queues a delivery on creation
// and on a decision of an approval with a webhook URL, in the changing
// transaction, for a tenant actor too; webhook_deliveries is otherwise
// platform-only.
func TestApprovalWebhooks(t *testing.T) {
	ctx := testCtx(t)
	conn := seededDatabase(t, ctx)
	requireForcedRLS(t, ctx, conn, "webhook_deliveries")
	inTx := func(actor string, fn func(tx pgx.Tx) error) error {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
		setActor(t, ctx, tx, actor)
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	var hooked, quiet string
	// Tenant a creates two approvals (one with a webhook) and decides them.
	err := inTx("a", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO approvals (tenant_id, user_id, tool, args_hash, expires_at, webhook_url)
			VALUES ('a', 'u', 't', 'h', now() + interval '1 hour', 'https://hooks.example.com/x') RETURNING id::text`).Scan(&hooked); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO approvals (tenant_id, user_id, tool, args_hash, expires_at)
			VALUES ('a', 'u', 't', 'h2', now() + interval '1 hour') RETURNING id::text`).Scan(&quiet); err != nil {
			return err
		}
		for _, id := range []string{hooked, quiet} {
			if _, err := tx.Exec(ctx, `UPDATE approvals SET status = 'approved' WHERE id = $1`, id); err != nil {
				return err
			}
		}
		// An update that does not change the status announces nothing.
		_, err := tx.Exec(ctx, `UPDATE approvals SET status = 'approved' WHERE id = $1`, hooked)
		return err
	})
	if err != nil {
		t.Fatalf("tenant writes approvals: %v", err)
	}
	count := func(actor, where string, args ...any) int {
		var n int
		_ = inTx(actor, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE `+where, args...).Scan(&n)
		})
		return n
	}
	if n := count("platform", "approval_id = $1 AND event IN ('approval.created', 'approval.approved') AND url = 'https://hooks.example.com/x'", hooked); n != 2 {
		t.Fatalf("%d deliveries for the hooked approval, want created + approved", n)
	}
	if n := count("platform", "approval_id = $1", quiet); n != 0 {
		t.Fatalf("%d deliveries for an approval without webhook", n)
	}
	if n := count("a", "true"); n != 0 {
		t.Fatalf("a tenant reads %d deliveries; the queue is platform-only", n)
	}
	// A tenant cannot queue a delivery for another tenant.
	err = inTx("a", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (tenant_id, approval_id, event, url, payload)
			VALUES ('b', gen_random_uuid(), 'approval.created', 'https://x.example', '{}')`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Fatalf("cross-tenant insert: %v, want 42501", err)
	}
	// A rolled-back decision leaves no delivery behind.
	_ = inTx("platform", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE approvals SET status = 'denied' WHERE id = $1`, hooked); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	if n := count("platform", "approval_id = $1 AND event = 'approval.denied'", hooked); n != 0 {
		t.Fatalf("a rolled-back decision queued %d deliveries", n)
	}
}
