package policyeval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/policy"
)

// ApprovalData is the data of a CodeApprovalPending error (and of a denied
// approval's CodeDenied error).
type ApprovalData struct {
	Kind       string     `json:"kind"` // "approval"
	ApprovalID string     `json:"approval_id"`
	Status     string     `json:"status"` // pending, denied
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	CheckURL   string     `json:"check_url,omitempty"`
	Policy     string     `json:"policy"`
	Scope      string     `json:"scope"`
}

// approvalCheck is the confirmation an approval_required decision adds to
// the request: it runs after hooks and schema validation, so the approval
// is consumed only by a call that is then forwarded, and it binds the
// approval to the arguments as they will be sent.
type approvalCheck struct {
	l *Layer
	d policy.Decision
}

// Confirm implements pipeline.Confirmer.
func (c *approvalCheck) Confirm(ctx context.Context, r *pipeline.Request) error {
	by := decidedBy(r, c.d)
	resp, err := c.check(ctx, r)
	if err != nil {
		tenant, user := r.Caller()
		c.l.log.Warn("approval not checked; call refused", "tenant", tenant, "user", user,
			"tool", r.GrantedTool(), "policy", c.d.Policy, "err", err)
		record(r, audit.DecisionError, by, errApprovalUnavailable)
		return &mcp.Error{
			Code: CodeApprovalUnavailable,
			Message: "Approval required by policy " + quote(c.d.Policy) +
				", but it could not be checked right now; the call was not sent. Retry later",
			Data: pipeline.DeniedData{Kind: "approval", Name: by.Name, Scope: by.Scope},
		}
	}
	r.Event.ApprovalID = resp.ApprovalID
	data := ApprovalData{Kind: "approval", ApprovalID: resp.ApprovalID, Status: string(resp.Status),
		ExpiresAt: resp.ExpiresAt, CheckURL: resp.CheckURL, Policy: by.Name, Scope: by.Scope}
	switch resp.Status {
	case approval.StatusApprovedConsumed:
		record(r, audit.DecisionAllow, by, "")
		return nil
	case approval.StatusPending:
		record(r, audit.DecisionApprovalRequired, by, errApprovalPending)
		return &mcp.Error{Code: CodeApprovalPending, Message: pendingMessage(c.d.Policy, resp), Data: data}
	default: // denied (Check returns no other status without an error)
		record(r, audit.DecisionDeny, by, errApprovalDenied)
		return &mcp.Error{
			Code: pipeline.CodeDenied,
			Message: fmt.Sprintf("Denied: approval %s required by policy %s for this call was denied",
				resp.ApprovalID, quote(c.d.Policy)),
			Data: data,
		}
	}
}

// check asks the control plane; every failure is an error (fail closed).
func (c *approvalCheck) check(ctx context.Context, r *pipeline.Request) (approval.Response, error) {
	if c.l.approvals == nil {
		return approval.Response{}, errors.New("policyeval: no approvals client configured")
	}
	tenant, user := r.Caller()
	scope := "global"
	if c.d.Scope == policy.Tenant {
		scope = "tenant"
	}
	req, err := approval.NewRequest(tenant, user, r.Principal.Email, r.GrantedTool(), r.Args,
		c.d.Policy, scope, approval.ConfigFrom(c.d.Approval))
	if err != nil {
		return approval.Response{}, err
	}
	return c.l.approvals.Check(ctx, req)
}

// pendingMessage tells the agent what happens next.
func pendingMessage(name string, resp approval.Response) string {
	msg := fmt.Sprintf("Approval required by policy %s: approval %s is pending", quote(name), resp.ApprovalID)
	if resp.ExpiresAt != nil {
		msg += " (expires " + resp.ExpiresAt.UTC().Format(time.RFC3339) + ")"
	}
	if resp.CheckURL != "" {
		msg += "; its status is at " + resp.CheckURL
	}
	return msg + ". Once an approver approves it, retry the same call with the same arguments: it will go through once"
}
