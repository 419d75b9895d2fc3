package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Approvals are tenant-owned and not part of any bundle, so writing them
// touches no scope. The stored status stays 'pending' or 'approved' after the
// expiry passes; reads report such approvals as 'expired' (computed in SQL,
// so filters agree with what is shown) and decisions on them are refused.

const approvalCols = `id::text, tenant_id, user_id, tool, args_hash, arguments, policy_name,
	CASE WHEN status IN ('pending', 'approved') AND expires_at <= now() THEN 'expired' ELSE status END,
	min_approvals, decisions, expires_at, created_at, decided_at, consumed_at`

// effectiveStatus is approvalCols' status expression, for WHERE clauses.
const effectiveStatus = `(CASE WHEN status IN ('pending', 'approved') AND expires_at <= now() THEN 'expired' ELSE status END)`

func scanApproval(row pgx.Row) (Approval, error) {
	var a Approval
	var decisions []byte
	err := row.Scan(&a.ID, &a.TenantID, &a.UserID, &a.Tool, &a.ArgsHash, &a.Arguments, &a.PolicyName,
		&a.Status, &a.MinApprovals, &decisions, &a.ExpiresAt, &a.CreatedAt, &a.DecidedAt, &a.ConsumedAt)
	if err != nil {
		return Approval{}, err
	}
	if err := json.Unmarshal(decisions, &a.Decisions); err != nil {
		return Approval{}, fmt.Errorf("store: approval %s decisions: %w", a.ID, err)
	}
	if a.Decisions == nil {
		a.Decisions = []Decision{}
	}
	return a, nil
}

func (t *pgTx) CreateApproval(ctx context.Context, a Approval) (Approval, error) {
	switch {
	case a.TenantID == "", a.UserID == "", a.Tool == "", a.ArgsHash == "":
		return Approval{}, fmt.Errorf("%w: approval needs tenant, user, tool and args hash", ErrInvalid)
	case a.ExpiresAt.IsZero():
		return Approval{}, fmt.Errorf("%w: approval needs an expiry", ErrInvalid)
	}
	if a.MinApprovals == 0 {
		a.MinApprovals = 1
	}
	var args any // NULL when absent
	if len(a.Arguments) > 0 {
		if !json.Valid(a.Arguments) {
			return Approval{}, fmt.Errorf("%w: arguments are not JSON", ErrInvalid)
		}
		args = string(a.Arguments)
	}
	out, err := scanApproval(t.tx.QueryRow(ctx, `
		INSERT INTO approvals (tenant_id, user_id, tool, args_hash, arguments, policy_name, min_approvals, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+approvalCols,
		a.TenantID, a.UserID, a.Tool, a.ArgsHash, args, a.PolicyName, a.MinApprovals, a.ExpiresAt))
	return out, mapErr(err)
}

func (t *pgTx) ListApprovals(ctx context.Context, tenantID, status string, p Page) ([]Approval, string, error) {
	if tenantID == "" && !t.actor.Platform {
		return nil, "", ErrForbidden
	}
	pg, err := uuidPageOf(p)
	if err != nil {
		return nil, "", err
	}
	// Newest first.
	rows, err := t.tx.Query(ctx, `
		SELECT `+approvalCols+` FROM approvals
		WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR `+effectiveStatus+` = $2)
		  AND (NOT $3 OR (created_at, id) < ($4, $5::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $6`, tenantID, status, pg.after, pg.at, pg.id, pg.limit+1)
	return collectPage(rows, err, pg.limit, func(r pgx.CollectableRow) (Approval, error) { return scanApproval(r) },
		func(a Approval) (time.Time, string) { return a.CreatedAt, a.ID })
}

func (t *pgTx) GetApproval(ctx context.Context, tenantID, id string) (Approval, error) {
	return t.getApproval(ctx, tenantID, id, "")
}

func (t *pgTx) getApproval(ctx context.Context, tenantID, id, lock string) (Approval, error) {
	if tenantID == "" && !t.actor.Platform {
		return Approval{}, ErrForbidden
	}
	if err := validID(id); err != nil {
		return Approval{}, err
	}
	a, err := scanApproval(t.tx.QueryRow(ctx, `
		SELECT `+approvalCols+` FROM approvals WHERE ($1 = '' OR tenant_id = $1) AND id = $2`+lock, tenantID, id))
	return a, mapErr(err)
}

// DecideApproval records one approver's verdict on a pending, unexpired
// approval. A deny is final at once; the approval is approved when the number
// of approve verdicts reaches MinApprovals. An approver (d.By, or the actor's
// subject when empty) votes at most once, at the time the store stamps on
// d.At. Refusals are ErrConflict.
func (t *pgTx) DecideApproval(ctx context.Context, tenantID, id string, d Decision) (Approval, error) {
	if d.Verdict != "approve" && d.Verdict != "deny" {
		return Approval{}, fmt.Errorf("%w: verdict must be approve or deny", ErrInvalid)
	}
	if d.By == "" {
		d.By = t.actor.Subject
	}
	if d.By == "" {
		return Approval{}, fmt.Errorf("%w: decision without an approver", ErrInvalid)
	}
	a, err := t.getApproval(ctx, tenantID, id, ` FOR UPDATE`)
	if err != nil {
		return Approval{}, err
	}
	if a.Status != "pending" {
		return Approval{}, fmt.Errorf("%w: approval is %s", ErrConflict, a.Status)
	}
	approvals := 0
	for _, prev := range a.Decisions {
		if prev.By == d.By {
			return Approval{}, fmt.Errorf("%w: %s already decided", ErrConflict, d.By)
		}
		if prev.Verdict == "approve" {
			approvals++
		}
	}
	d.At = time.Now().UTC()
	decisions, err := json.Marshal(append(a.Decisions, d))
	if err != nil {
		return Approval{}, fmt.Errorf("store: decisions: %w", err)
	}
	status := "pending"
	switch {
	case d.Verdict == "deny":
		status = "denied"
	case approvals+1 >= a.MinApprovals:
		status = "approved"
	}
	out, err := scanApproval(t.tx.QueryRow(ctx, `
		UPDATE approvals SET decisions = $2, status = $3,
			decided_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
		WHERE id = $1 RETURNING `+approvalCols, id, string(decisions), status))
	return out, mapErr(err)
}
