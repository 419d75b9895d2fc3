package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/policy"
)

// approvalStatuses are the values of the status filter.
var approvalStatuses = map[string]bool{"pending": true, "approved": true, "denied": true, "expired": true, "consumed": true}

// decisionRequest is the (optional) body of approve and deny.
type decisionRequest struct {
	Comment string `json:"comment"`
}

const maxCommentRunes = 1000

func (s *server) listAllApprovals(c echo.Context) error { return s.listApprovalsIn(c, "") }

func (s *server) listApprovals(c echo.Context) error {
	return s.listApprovalsIn(c, c.Param("tenant"))
}

// listApprovalsIn lists approvals of one tenant ("" = all, platform only).
func (s *server) listApprovalsIn(c echo.Context, tenantID string) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	if status != "" && !approvalStatuses[status] {
		return fieldProblem(CodeInvalidParameter, "status", "status must be one of pending, approved, denied, expired, consumed")
	}
	var items []store.Approval
	var next string
	err = s.inTx(c, func(tx store.Tx) (err error) {
		items, next, err = tx.ListApprovals(c.Request().Context(), tenantID, status, p)
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, newList(items, next))
}

func (s *server) getApproval(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var a store.Approval
	err = s.inTx(c, func(tx store.Tx) (err error) {
		a, err = tx.GetApproval(c.Request().Context(), c.Param("tenant"), id)
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, a)
}

// decideApproval records the caller's verdict. The requester may not approve
// its own call: an approval is a second person's judgement. When the policy
// that asked for the approval names approvers, the caller must be one.
func (s *server) decideApproval(verdict string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c, "id")
		if err != nil {
			return err
		}
		body, err := readBody(c)
		if err != nil {
			return err
		}
		var req decisionRequest
		if body != nil {
			if err := decodeStrict(body, &req); err != nil {
				return err
			}
		}
		if utf8.RuneCountInString(req.Comment) > maxCommentRunes {
			return fieldProblem(CodeValidationFailed, "comment", "must be at most %d characters", maxCommentRunes)
		}
		tenantID := c.Param("tenant")
		cl := callerOf(c)
		return s.write(c, body, func(tx store.Tx) (reply, error) {
			ctx := c.Request().Context()
			a, err := tx.GetApproval(ctx, tenantID, id)
			if err != nil {
				return reply{}, err
			}
			if a.UserID == cl.principal.Subject {
				return reply{}, problemf(CodeForbidden, "the requester of a call may not decide its approval")
			}
			if err := checkApprover(ctx, tx, cl, a); err != nil {
				return reply{}, err
			}
			if a.Status != "pending" {
				return reply{}, problemf(CodeConflict, "the approval is %s, not pending", a.Status)
			}
			d := store.Decision{By: cl.principal.Subject, Verdict: verdict, Comment: req.Comment} // the store stamps At
			a, err = tx.DecideApproval(ctx, tenantID, id, d)
			if err != nil {
				return reply{}, err
			}
			return reply{status: 200, body: a}, nil
		})
	}
}

// checkApprover refuses a caller who is not an approver of the approval.
//
// Who may decide is what the approval row stores: the requesting policy's
// approver roles and e-mails, copied when the gateway's check created it
// (migration 000006). Editing, renaming or deleting the policy afterwards,
// or another policy of the same name in the other scope, changes nothing.
//
// Rows without stored lists fall back to looking the policy up by name:
// rows written before migration 000006 (and through store.CreateApproval,
// which records no flow settings) have nothing else to go by. A row the
// gateway created without approver lists (policy_scope set, lists empty)
// asked for the defaults: the route's admins decide.
func checkApprover(ctx context.Context, tx store.Tx, cl caller, a store.Approval) error {
	stored, err := tx.GetApprovalApprovers(ctx, a.TenantID, a.ID)
	if err != nil {
		return err
	}
	var rules []approverList
	switch {
	case stored.Stored():
		rules = []approverList{{roles: stored.ApproverRoles, emails: stored.ApproverEmails}}
	case stored.PolicyScope == "":
		if rules, err = approversByPolicyName(ctx, tx, a); err != nil {
			return err
		}
	}
	if len(rules) == 0 {
		return nil
	}
	for _, r := range rules {
		if r.allows(cl) {
			return nil
		}
	}
	return problemf(CodeForbidden, "policy %s names who may decide this approval; the caller is not one of them", quote(a.PolicyName))
}

// approverList is one policy's approvers.
type approverList struct {
	roles, emails []string
}

func (l approverList) allows(cl caller) bool {
	for _, role := range l.roles {
		if cl.principal.HasRole(role) {
			return true
		}
	}
	for _, email := range l.emails {
		if cl.principal.Email != "" && strings.EqualFold(email, cl.principal.Email) {
			return true
		}
	}
	return false
}

// approversByPolicyName is the fallback for rows without stored approver
// lists: the policies named like the approval's, in the tenant's and the
// global scope; approvers listed by either count. A policy without approver
// lists (or one deleted since) leaves the decision to the route's admins.
func approversByPolicyName(ctx context.Context, tx store.Tx, a store.Approval) ([]approverList, error) {
	var rules []approverList
	for _, scope := range []string{a.TenantID, ""} {
		recs, err := allRecords(ctx, tx, store.KindPolicy, scope)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Name != a.PolicyName {
				continue
			}
			var p policy.Policy
			if err := json.Unmarshal(r.Spec, &p); err != nil {
				return nil, fmt.Errorf("stored policy %s: %w", r.ID, err)
			}
			if p.Approval != nil && (len(p.Approval.ApproverRoles) > 0 || len(p.Approval.ApproverEmails) > 0) {
				rules = append(rules, approverList{roles: p.Approval.ApproverRoles, emails: p.Approval.ApproverEmails})
			}
		}
	}
	return rules, nil
}
