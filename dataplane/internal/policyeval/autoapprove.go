package policyeval

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/policy"
)

// reasonAutoApproved is the DecidedBy.Reason of an auto-approved call's audit
// event: a decision of allow with it says the approval was waived, not
// granted by a person.
const reasonAutoApproved = "auto_approved"

// autoApprove handles an approval_required decision that every approval
// policy that fired auto-approves (policy.Decision.AutoApproved): the
// control plane is not asked. What the other policies demand still applies
// (a step_up a waived approval outranked), so the waiver never lowers the
// call below them.
func (l *Layer) autoApprove(r *pipeline.Request, d policy.Decision, now time.Time) error {
	rest := d.WithoutApprovals()
	switch rest.Effect {
	case policy.Allow:
	case policy.StepUp:
		if err := l.stepUp(r, rest, now); err != nil {
			return err
		}
	default: // deny outranks approval_required: Merge never leaves one here
		return l.failed(r, d, fmt.Errorf("policyeval: auto-approved decision leaves effect %q", rest.Effect))
	}
	r.RequireConfirmation(&autoApproval{check: approvalCheck{l: l, d: d}, args: slices.Clone(r.Args)})
	return nil
}

// autoApproval lets an auto-approved call go, right before it is forwarded,
// if its arguments are still those the auto-approve conditions were
// evaluated on. A hook may rewrite the arguments after the policies ran; the
// conditions then vouch for arguments that are not the ones sent, so the
// call asks for a human approval instead, bound to the arguments as sent.
type autoApproval struct {
	check approvalCheck
	args  []byte
}

// Confirm implements pipeline.Confirmer.
func (a *autoApproval) Confirm(ctx context.Context, r *pipeline.Request) error {
	if !bytes.Equal(r.Args, a.args) {
		tenant, user := r.Caller()
		a.check.l.log.Info("arguments rewritten after auto-approval was evaluated; asking for an approval",
			"tenant", tenant, "user", user, "tool", r.GrantedTool(), "policy", a.check.d.Policy)
		return a.check.Confirm(ctx, r)
	}
	by := decidedBy(r, a.check.d)
	by.Reason = reasonAutoApproved
	record(r, audit.DecisionAllow, by, "")
	return nil
}
