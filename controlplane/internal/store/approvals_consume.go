package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Approvals requested by gateways over NATS (controlplane/internal/approvalsvc)
// and the webhook queue that announces approval changes. Migration 000006 adds
// the flow columns to approvals, the webhook_deliveries table and the trigger
// that fills it.

// ApprovalCheck is a gateway's request to consume an approved approval or to
// find or create a pending one, validated by the caller (shared/approval).
type ApprovalCheck struct {
	TenantID       string
	UserID         string
	UserEmail      string
	Tool           string
	ArgsHash       string
	Arguments      json.RawMessage // nil: not shown to approvers
	PolicyName     string
	PolicyScope    string // "global" or "tenant"
	ApproverRoles  []string
	ApproverEmails []string
	MinApprovals   int           // 1–10
	Expiry         time.Duration // of a created approval; the caller clamps it
	WebhookURL     string
}

// CheckOutcome is what CheckApproval did.
type CheckOutcome string

const (
	CheckConsumed CheckOutcome = "consumed" // an approved approval was consumed: the call may pass once
	CheckPending  CheckOutcome = "pending"  // an existing pending approval was found
	CheckCreated  CheckOutcome = "created"  // a new pending approval was created
	CheckDenied   CheckOutcome = "denied"   // a denied approval has not expired yet
)

// approvalsActor runs a check as the request's tenant, so row-level security
// confines it to that tenant's approvals whatever the request says.
func approvalsActor(tenantID string) Actor {
	return Actor{Subject: "system:approvals", TenantID: tenantID}
}

// CheckApproval runs the check of shared/approval in one transaction:
// consume an approved, unexpired, unconsumed approval of exactly (tenant,
// user, tool, args hash); else report the pending one; else report a denied
// one that has not expired; else create a pending one.
//
// Concurrency: checks of one (tenant, user, tool, args hash) are serialised by
// a transaction-level advisory lock, so two checks never create two pending
// approvals; the consuming UPDATE also re-checks status and consumed_at, so
// even without the lock exactly one transaction can turn an approval from
// approved to consumed.
func (s *Store) CheckApproval(ctx context.Context, c ApprovalCheck) (CheckOutcome, Approval, error) {
	if !tenantIDPattern.MatchString(c.TenantID) {
		return "", Approval{}, fmt.Errorf("%w: tenant id", ErrInvalid)
	}
	if c.UserID == "" || c.Tool == "" || c.ArgsHash == "" || c.Expiry <= 0 {
		return "", Approval{}, fmt.Errorf("%w: approval check needs user, tool, args hash and expiry", ErrInvalid)
	}
	var outcome CheckOutcome
	var out Approval
	err := s.run(ctx, approvalsActor(c.TenantID), pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t *pgTx) (err error) {
		outcome, out, err = t.checkApproval(ctx, c)
		return err
	})
	return outcome, out, err
}

func (t *pgTx) checkApproval(ctx context.Context, c ApprovalCheck) (CheckOutcome, Approval, error) {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, checkLockKey(c)); err != nil {
		return "", Approval{}, mapErr(err)
	}
	a, err := scanApproval(t.tx.QueryRow(ctx, `
		UPDATE approvals SET status = 'consumed', consumed_at = now()
		WHERE id = (SELECT id FROM approvals
		            WHERE tenant_id = $1 AND user_id = $2 AND tool = $3 AND args_hash = $4
		              AND status = 'approved' AND consumed_at IS NULL AND expires_at > now()
		            ORDER BY created_at LIMIT 1 FOR UPDATE)
		  AND status = 'approved' AND consumed_at IS NULL AND expires_at > now()
		RETURNING `+approvalCols, c.TenantID, c.UserID, c.Tool, c.ArgsHash))
	if err == nil {
		return CheckConsumed, a, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return "", Approval{}, mapErr(err)
	}
	for _, q := range []struct {
		outcome CheckOutcome
		where   string
	}{
		{CheckPending, `status = 'pending' AND expires_at > now() ORDER BY created_at DESC`},
		{CheckDenied, `status = 'denied' AND expires_at > now() ORDER BY decided_at DESC NULLS LAST`},
	} {
		a, err := scanApproval(t.tx.QueryRow(ctx, `
			SELECT `+approvalCols+` FROM approvals
			WHERE tenant_id = $1 AND user_id = $2 AND tool = $3 AND args_hash = $4 AND `+q.where+` LIMIT 1`,
			c.TenantID, c.UserID, c.Tool, c.ArgsHash))
		if err == nil {
			return q.outcome, a, nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return "", Approval{}, mapErr(err)
		}
	}
	a, err = t.insertCheckedApproval(ctx, c)
	return CheckCreated, a, err
}

// checkLockKey is the advisory lock of one (tenant, user, tool, args hash):
// the first 8 bytes of a SHA-256 over the length-prefixed fields. A collision
// only serialises two unrelated checks; it never merges them (the queries
// match the fields exactly).
func checkLockKey(c ApprovalCheck) int64 {
	h := sha256.New()
	for _, f := range []string{"approval", c.TenantID, c.UserID, c.Tool, c.ArgsHash} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}

func (t *pgTx) insertCheckedApproval(ctx context.Context, c ApprovalCheck) (Approval, error) {
	var args any // NULL when absent
	if len(c.Arguments) > 0 {
		if !json.Valid(c.Arguments) {
			return Approval{}, fmt.Errorf("%w: arguments are not JSON", ErrInvalid)
		}
		args = string(c.Arguments)
	}
	roles, emails := c.ApproverRoles, c.ApproverEmails
	if roles == nil {
		roles = []string{}
	}
	if emails == nil {
		emails = []string{}
	}
	out, err := scanApproval(t.tx.QueryRow(ctx, `
		INSERT INTO approvals (tenant_id, user_id, tool, args_hash, arguments, policy_name, min_approvals, expires_at,
			policy_scope, requester_email, approver_roles, approver_emails, webhook_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9, $10, $11, $12, $13)
		RETURNING `+approvalCols,
		c.TenantID, c.UserID, c.Tool, c.ArgsHash, args, c.PolicyName, max(c.MinApprovals, 1), c.Expiry.Seconds(),
		c.PolicyScope, c.UserEmail, roles, emails, c.WebhookURL))
	return out, mapErr(err)
}

// WebhookDelivery is one queued webhook notification.
type WebhookDelivery struct {
	ID          string          `json:"id"`
	TenantID    string          `json:"tenant_id"`
	ApprovalID  string          `json:"approval_id"`
	Event       string          `json:"event"` // approval.created, approval.approved, approval.denied
	URL         string          `json:"url"`
	Payload     json.RawMessage `json:"payload"`
	Attempts    int             `json:"attempts"`
	LastError   string          `json:"last_error,omitempty"`
	DeliveredAt *time.Time      `json:"delivered_at,omitempty"`
	FailedAt    *time.Time      `json:"failed_at,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

const webhookCols = `id::text, tenant_id, approval_id::text, event, url, payload, attempts, last_error,
	delivered_at, failed_at, created_at`

func scanWebhook(r pgx.CollectableRow) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := r.Scan(&d.ID, &d.TenantID, &d.ApprovalID, &d.Event, &d.URL, &d.Payload, &d.Attempts, &d.LastError,
		&d.DeliveredAt, &d.FailedAt, &d.CreatedAt)
	return d, err
}

// ClaimWebhookDeliveries returns up to limit deliveries that are due and
// leases them for lease: their next attempt moves to now()+lease, so another
// worker (or replica) does not send them meanwhile; RecordWebhookAttempt then
// settles each one. A worker that dies mid-delivery leaves its rows to be
// retried when the lease ends (delivery is at least once).
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		rows, err := t.tx.Query(ctx, `
			UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2)
			WHERE id IN (SELECT id FROM webhook_deliveries
			             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
			             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
			RETURNING `+webhookCols, limit, lease.Seconds())
		if err != nil {
			return mapErr(err)
		}
		out, err = pgx.CollectRows(rows, scanWebhook)
		return mapErr(err)
	})
	return out, err
}

// RecordWebhookAttempt settles a claimed delivery: delivered when failure is
// "", else one more failed attempt, retried after retryIn, or failed for good
// once attempts reaches maxAttempts.
func (s *Store) RecordWebhookAttempt(ctx context.Context, id, failure string, retryIn time.Duration, maxAttempts int) error {
	if err := validID(id); err != nil {
		return err
	}
	return s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		var err error
		if failure == "" {
			_, err = t.tx.Exec(ctx, `UPDATE webhook_deliveries SET delivered_at = now(), attempts = attempts + 1, last_error = ''
				WHERE id = $1 AND delivered_at IS NULL`, id)
		} else {
			_, err = t.tx.Exec(ctx, `
				UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = left($2, 1000),
					next_attempt_at = now() + make_interval(secs => $3),
					failed_at = CASE WHEN attempts + 1 >= $4 THEN now() END
				WHERE id = $1 AND delivered_at IS NULL AND failed_at IS NULL`, id, failure, retryIn.Seconds(), maxAttempts)
		}
		return mapErr(err)
	})
}

// ListWebhookDeliveries returns the deliveries of one approval, oldest first
// (operations and tests).
func (s *Store) ListWebhookDeliveries(ctx context.Context, approvalID string) ([]WebhookDelivery, error) {
	if err := validID(approvalID); err != nil {
		return nil, err
	}
	var out []WebhookDelivery
	err := s.run(ctx, system, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(t *pgTx) error {
		rows, err := t.tx.Query(ctx, `SELECT `+webhookCols+` FROM webhook_deliveries
			WHERE approval_id = $1 ORDER BY created_at, id`, approvalID)
		if err != nil {
			return mapErr(err)
		}
		out, err = pgx.CollectRows(rows, scanWebhook)
		return mapErr(err)
	})
	return out, err
}

// PruneWebhookDeliveries deletes settled (delivered or failed) deliveries
// created more than olderThan ago and returns how many went.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, olderThan time.Duration) (int64, error) {
	var n int64
	err := s.run(ctx, system, pgx.TxOptions{}, func(t *pgTx) error {
		tag, err := t.tx.Exec(ctx, `
			DELETE FROM webhook_deliveries
			WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < now() - make_interval(secs => $1)`,
			olderThan.Seconds())
		n = tag.RowsAffected()
		return mapErr(err)
	})
	return n, err
}
