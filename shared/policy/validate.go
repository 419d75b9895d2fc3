package policy

// Write-time validation of policies. The control plane runs it on every
// create and update; the gateway may run it again on bundle load. It never
// executes anything: Rego is parsed and compiled, not evaluated.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/shared/model"
)

// ScopeKind says where a policy is written: the platform (Global) or one
// tenant's delegated policies (Tenant).
type ScopeKind int

// Scopes. The zero value is Global so that a forgotten argument is the
// scope with the strictest review (platform admins), not a silent tenant.
const (
	Global ScopeKind = iota
	Tenant
)

// String names the scope in messages.
func (s ScopeKind) String() string {
	switch s {
	case Global:
		return "global"
	case Tenant:
		return "tenant"
	default:
		return fmt.Sprintf("ScopeKind(%d)", int(s))
	}
}

// Limits of the policy model (admin API contract).
const (
	MaxConditions    = 10
	MaxPriority      = 10000
	MaxMaxAgeSec     = 86400  // step_up max_age: one day
	MinApprovalsMax  = 10     // most approvals one call may require
	MinExpirySec     = 300    // 5 minutes
	MaxExpirySec     = 604800 // 7 days
	MaxApprovers     = 100    // roles plus e-mails
	MaxACRValues     = 10
	MaxMaskingRefs   = 20
	maxACRValueBytes = 200
)

// ValidEffect reports whether e is one of the five effects.
func ValidEffect(e Effect) bool {
	switch e {
	case Allow, Deny, StepUp, ApprovalRequired, Mask:
		return true
	}
	return false
}

// Validate checks a policy written in scope and returns nil or a
// model.ValidationError listing every problem.
//
// A Tenant policy may only add restrictions (DESIGN.md, "Global
// precedence"): its effect is deny, step_up, approval_required or mask, and it
// carries no raw Rego. Whether its tools belong to the tenant and whether
// delegation is enabled depend on stored data, so the caller checks those.
func (p Policy) Validate(scope ScopeKind) error {
	var pr model.Problems
	model.CheckName(&pr, "name", p.Name)
	model.CheckText(&pr, "description", p.Description, 0, model.MaxDescriptionLen)
	model.CheckToolPatterns(&pr, "tools", p.Tools, 1)
	if p.Priority < 0 || p.Priority > MaxPriority {
		pr.Add("priority", "must be between 0 and %d", MaxPriority)
	}
	checkEffect(&pr, p.Effect, scope)
	checkMatch(&pr, p.Match, p.Rego != "")
	if p.Rego != "" {
		if scope == Global {
			pr.Merge("rego", ValidateRego(p.Rego))
		} else {
			pr.Add("rego", "raw Rego is only allowed in global policies")
		}
	}
	checkStepUp(&pr, p.Effect, p.StepUp)
	checkApproval(&pr, p.Effect, p.Approval, p.Rego != "")
	checkMasking(&pr, p.Effect, p.Masking)
	return pr.Err()
}

func checkEffect(pr *model.Problems, e Effect, scope ScopeKind) {
	switch {
	case !ValidEffect(e):
		pr.Add("effect", "must be one of allow, deny, step_up, approval_required, mask")
	case scope == Tenant && e == Allow:
		pr.Add("effect", "tenant policies can only add restrictions: effect must be deny, step_up, approval_required or mask")
	}
	if scope != Global && scope != Tenant {
		pr.Add("", "unknown policy scope %s", scope)
	}
}

func checkStepUp(pr *model.Problems, e Effect, s *StepUpRule) {
	if e != StepUp {
		if s != nil {
			pr.Add("step_up", "only allowed with effect step_up")
		}
		return
	}
	if s == nil || (len(s.ACRValues) == 0 && s.MaxAgeSec == 0) {
		pr.Add("step_up", "effect step_up requires acr_values or max_age")
		return
	}
	if s.MaxAgeSec < 0 || s.MaxAgeSec > MaxMaxAgeSec {
		pr.Add("step_up.max_age", "must be between 0 and %d seconds", MaxMaxAgeSec)
	}
	if len(s.ACRValues) > MaxACRValues {
		pr.Add("step_up.acr_values", "at most %d values", MaxACRValues)
		return
	}
	for i, v := range s.ACRValues {
		if !validACRValue(v) {
			pr.Add(fmt.Sprintf("step_up.acr_values[%d]", i),
				"must be 1–%d printable ASCII characters without spaces, quotes or backslashes", maxACRValueBytes)
		}
	}
}

// validACRValue keeps ACR values safe to place in the space-separated,
// quoted acr_values of a WWW-Authenticate header (RFC 9470): no space, quote,
// backslash or control character can split or escape it.
func validACRValue(v string) bool {
	if v == "" || len(v) > maxACRValueBytes {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func checkApproval(pr *model.Problems, e Effect, a *Approval, hasRego bool) {
	if e != ApprovalRequired {
		if a != nil {
			pr.Add("approval", "only allowed with effect approval_required")
		}
		return
	}
	if a == nil {
		pr.Add("approval", "effect approval_required requires an approval configuration")
		return
	}
	if a.MinApprovals < 1 || a.MinApprovals > MinApprovalsMax {
		pr.Add("approval.min_approvals", "must be between 1 and %d", MinApprovalsMax)
	}
	if a.ExpirySec < MinExpirySec || a.ExpirySec > MaxExpirySec {
		pr.Add("approval.expiry_sec", "must be between %d (5 minutes) and %d (7 days)", MinExpirySec, MaxExpirySec)
	}
	checkApprovers(pr, a)
	if a.WebhookURL != "" {
		model.CheckWebhookURL(pr, "approval.webhook_url", a.WebhookURL)
	}
	switch {
	case a.AutoApprove == nil:
	case hasRego:
		pr.Add("approval.auto_approve", "not allowed with raw Rego: the module's decision returns \"allow\" for the calls it approves itself")
	default:
		checkConditionTree(pr, "approval.auto_approve", a.AutoApprove)
	}
}

func checkApprovers(pr *model.Problems, a *Approval) {
	n := len(a.ApproverRoles) + len(a.ApproverEmails)
	switch {
	case n == 0:
		pr.Add("approval.approver_roles", "at least one approver role or e-mail is required")
		return
	case n > MaxApprovers:
		pr.Add("approval", "at most %d approver roles and e-mails in total", MaxApprovers)
		return
	}
	model.CheckGrants(pr, "approval.approver_roles", a.ApproverRoles)
	seen := map[string]bool{}
	for i, email := range a.ApproverEmails {
		field := fmt.Sprintf("approval.approver_emails[%d]", i)
		key := strings.ToLower(email)
		switch {
		case !model.ValidEmail(email):
			pr.Add(field, "is not a valid e-mail address")
		case seen[key]:
			pr.Add(field, "duplicate approver")
		}
		seen[key] = true
	}
	// With e-mails only, the set of approvers is known: asking for more
	// approvals than there are approvers makes every call wait forever.
	if len(a.ApproverRoles) == 0 && len(seen) > 0 && a.MinApprovals > len(seen) {
		pr.Add("approval.min_approvals", "is more than the %d approver e-mails listed", len(seen))
	}
}

func checkMasking(pr *model.Problems, e Effect, names []string) {
	if e != Mask {
		if len(names) > 0 {
			pr.Add("masking", "only allowed with effect mask")
		}
		return
	}
	switch {
	case len(names) == 0:
		pr.Add("masking", "effect mask requires at least one masking rule name")
		return
	case len(names) > MaxMaskingRefs:
		pr.Add("masking", "at most %d masking rule names", MaxMaskingRefs)
		return
	}
	for i, n := range names {
		field := fmt.Sprintf("masking[%d]", i)
		model.CheckName(pr, field, n)
		if slices.Index(names, n) < i {
			pr.Add(field, "duplicate masking rule name")
		}
	}
}
