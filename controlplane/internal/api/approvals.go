package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
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
			d := store.Decision{By: cl.principal.Subject, Verdict: verdict, Comment: req.Comment, At: time.Now().UTC()}
			a, err = tx.DecideApproval(ctx, tenantID, id, d)
			if err != nil {
				return reply{}, err
			}
			return reply{status: 200, body: a}, nil
		})
	}
}

// checkApprover refuses a caller that the approval's policy does not name as
// an approver. The policy is looked up by name in the tenant's and the global
// scope; approvers listed by either count. A policy without approver lists
// (or one deleted since) leaves the decision to the route's admins.
func checkApprover(ctx context.Context, tx store.Tx, cl caller, a store.Approval) error {
	var rules []*policy.Approval
	for _, scope := range []string{a.TenantID, ""} {
		recs, err := allRecords(ctx, tx, store.KindPolicy, scope)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.Name != a.PolicyName {
				continue
			}
			var p policy.Policy
			if err := json.Unmarshal(r.Spec, &p); err != nil {
				return fmt.Errorf("stored policy %s: %w", r.ID, err)
			}
			if p.Approval != nil && (len(p.Approval.ApproverRoles) > 0 || len(p.Approval.ApproverEmails) > 0) {
				rules = append(rules, p.Approval)
			}
		}
	}
	if len(rules) == 0 {
		return nil
	}
	for _, r := range rules {
		for _, role := range r.ApproverRoles {
			if cl.principal.HasRole(role) {
				return nil
			}
		}
		for _, email := range r.ApproverEmails {
			if cl.principal.Email != "" && strings.EqualFold(email, cl.principal.Email) {
				return nil
			}
		}
	}
	return problemf(CodeForbidden, "policy %s names who may decide this approval; the caller is not one of them", quote(a.PolicyName))
}
