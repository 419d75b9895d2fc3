// Package policy is the policy model shared by both planes: what a policy says,
// how it is validated at write time, and (in later steps) how it compiles to Rego
// and how decisions merge with global precedence.
package policy

// Effect is what a matching policy does to a call.
type Effect string

// Effects, from weakest to most restrictive in the merge (mask is orthogonal:
// it never blocks a call, it adds masking to the response).
const (
	Allow            Effect = "allow"
	StepUp           Effect = "step_up"
	ApprovalRequired Effect = "approval_required"
	Deny             Effect = "deny"
	Mask             Effect = "mask"
)

// Policy is one rule: when the call targets one of Tools and the conditions
// hold, Effect applies.
type Policy struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Tools       []string    `json:"tools"` // names or glob patterns; "*" for all
	Match       *Group      `json:"match,omitempty"`
	Rego        string      `json:"rego,omitempty"` // raw Rego; global policies only
	Effect      Effect      `json:"effect"`
	Priority    int         `json:"priority"`
	Enabled     bool        `json:"enabled"`
	StepUp      *StepUpRule `json:"step_up,omitempty"`  // with Effect step_up
	Approval    *Approval   `json:"approval,omitempty"` // with Effect approval_required
	Masking     []string    `json:"masking,omitempty"`  // masking rule names, with Effect mask
}

// Group combines conditions with "and" or "or"; it may hold one level of nested
// groups. A policy has 1–10 conditions in total.
type Group struct {
	Op         string      `json:"op"` // and, or
	Conditions []Condition `json:"conditions,omitempty"`
	Groups     []Group     `json:"groups,omitempty"`
}

// Condition is "Attribute Operator Value".
type Condition struct {
	// Attribute: "args.<json path>", "user.id", "user.email", "user.roles",
	// "user.permissions", "user.tenant", "user.claims.<name>", "request.ip",
	// "request.country", "request.user_agent", "request.platform", "request.tool",
	// "request.time", "request.weekday".
	Attribute string `json:"attribute"`
	Operator  string `json:"operator"`
	Value     any    `json:"value"`
	TimeZone  string `json:"time_zone,omitempty"` // for time and weekday operators
}

// StepUpRule says what authentication a step_up policy demands (RFC 9470).
type StepUpRule struct {
	ACRValues []string `json:"acr_values,omitempty"`
	MaxAgeSec int      `json:"max_age,omitempty"`
}

// Approval configures the human approval a policy requires.
type Approval struct {
	ApproverRoles  []string `json:"approver_roles,omitempty"`
	ApproverEmails []string `json:"approver_emails,omitempty"`
	MinApprovals   int      `json:"min_approvals"`
	ExpirySec      int      `json:"expiry_sec"` // 300–604800
	WebhookURL     string   `json:"webhook_url,omitempty"`
	// AutoApprove waives the approval for calls that definitely meet these
	// conditions (same language and limits as Policy.Match; an unknown
	// condition never auto-approves). Structured policies only: a raw Rego
	// policy decides "allow" itself instead. See DESIGN.md, "Auto-approve".
	AutoApprove *Group `json:"auto_approve,omitempty"`
}
