package store

import "context"

// ApprovalApprovers is who may decide an approval, as copied from the
// requesting policy's flow settings when the gateway's check created it
// (migration 000006). Later edits or deletion of the policy do not change it.
type ApprovalApprovers struct {
	PolicyScope    string   // "global" or "tenant"; "" for rows not created by a gateway check
	ApproverRoles  []string // never nil
	ApproverEmails []string // never nil
}

// Stored reports whether the row carries its own approver lists. Rows
// created before migration 000006, or through CreateApproval, have none.
func (a ApprovalApprovers) Stored() bool {
	return len(a.ApproverRoles) > 0 || len(a.ApproverEmails) > 0
}

// GetApprovalApprovers returns the approver lists stored on an approval,
// with the same tenant scoping (and row-level security) as GetApproval.
func (t *pgTx) GetApprovalApprovers(ctx context.Context, tenantID, id string) (ApprovalApprovers, error) {
	if tenantID == "" && !t.actor.Platform {
		return ApprovalApprovers{}, ErrForbidden
	}
	if err := validID(id); err != nil {
		return ApprovalApprovers{}, err
	}
	var a ApprovalApprovers
	err := t.tx.QueryRow(ctx, `
		SELECT policy_scope, approver_roles, approver_emails FROM approvals
		WHERE ($1 = '' OR tenant_id = $1) AND id = $2`, tenantID, id).
		Scan(&a.PolicyScope, &a.ApproverRoles, &a.ApproverEmails)
	if err != nil {
		return ApprovalApprovers{}, mapErr(err)
	}
	if a.ApproverRoles == nil {
		a.ApproverRoles = []string{}
	}
	if a.ApproverEmails == nil {
		a.ApproverEmails = []string{}
	}
	return a, nil
}
