// Package approval is the wire contract between gateways and the control
// plane for human approvals (policy effect approval_required), and the
// canonical hash that binds an approval to a call's exact arguments.
//
// # Protocol
//
// A gateway sends a Request as JSON over NATS request/reply on Subject; the
// control planes answer from queue group QueueGroup (any replica may answer,
// Postgres arbitrates). The only operation is "check", atomic in one
// Postgres transaction:
//
//  1. an approved, unexpired, unconsumed approval for exactly (tenant, user,
//     tool, args hash) is marked consumed and the answer is approved_consumed:
//     the call may go through, once (a concurrent check for the same approval
//     gets pending for a new approval, never a second approved_consumed);
//  2. else a pending, unexpired one is reported (pending, same id: no
//     duplicates while the user retries);
//  3. else a denied one whose expiry has not passed is reported (denied:
//     re-asking is refused until then, so a denied call cannot spam approvers);
//  4. else a new pending approval is created (pending).
//
// Expired approvals never pass and are never reused.
//
// # Trust
//
// The control plane trusts what the gateway asserts (tenant, user, tool,
// policy and its approval settings): the gateway has authenticated the user
// and evaluated the policy. The trust boundary is the NATS account: only
// gateways and control planes may publish on Subject (NATS permissions in
// production). The control plane still validates every field's format and
// size, checks that Args (when sent) hash to ArgsHash, and scopes its
// Postgres transaction to the request's tenant (row-level security), so a
// malformed or hostile request cannot touch another tenant's approvals.
//
// # Arguments hash
//
// ArgsHash is hex SHA-256 over Canonical(arguments): see Canonical for the
// canonical form (RFC 8785 with numbers kept as written).
package approval

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portcullis/portcullis/shared/model"
)

// NATS names.
const (
	Subject    = "portcullis.approvals.request"
	QueueGroup = "controlplane"
)

// OpCheck is the only operation: consume an approved approval, or find or
// create a pending one.
const OpCheck = "check"

// Status is the outcome of a check.
type Status string

const (
	// StatusApprovedConsumed: an approval was consumed by this call; let it through.
	StatusApprovedConsumed Status = "approved_consumed"
	// StatusPending: the call waits for approvers (ApprovalID says which approval).
	StatusPending Status = "pending"
	// StatusDenied: an approver denied this exact call; refuse it.
	StatusDenied Status = "denied"
	// StatusError: the request was invalid or the control plane failed; refuse the call.
	StatusError Status = "error"
)

// Limits on a request, checked by Validate.
const (
	MaxArgsBytes     = 64 << 10 // arguments shown to approvers; larger ones are sent without Args
	MaxApprovers     = 50       // entries in ApproverRoles plus ApproverEmails
	MaxFieldLen      = 256      // user id, email, policy name, role, email entries
	MaxWebhookURLLen = 2048
	MinExpirySec     = 300    // 5 minutes
	MaxExpirySec     = 604800 // 7 days
	DefaultExpirySec = 3600
	MaxMinApprovals  = 10
)

// Config is the approval flow of the policy that asked for the approval, as
// the gateway read it from its bundle.
type Config struct {
	ApproverRoles  []string `json:"approver_roles,omitempty"`
	ApproverEmails []string `json:"approver_emails,omitempty"`
	MinApprovals   int      `json:"min_approvals,omitempty"` // 0 means 1
	ExpirySec      int      `json:"expiry_sec,omitempty"`    // clamped to 300–604800; 0 means 3600
	WebhookURL     string   `json:"webhook_url,omitempty"`
}

// Request is what a gateway sends on Subject.
type Request struct {
	Op          string          `json:"op"` // OpCheck
	Tenant      string          `json:"tenant"`
	UserID      string          `json:"user_id"`
	UserEmail   string          `json:"user_email,omitempty"`
	Tool        string          `json:"tool"`
	ArgsHash    string          `json:"args_hash"`      // ArgsHash(arguments)
	Args        json.RawMessage `json:"args,omitempty"` // the arguments, for approvers to read; omitted above MaxArgsBytes
	PolicyName  string          `json:"policy_name"`
	PolicyScope string          `json:"policy_scope"` // "global" or "tenant"
	Approval    Config          `json:"approval"`
}

// Response is the control plane's answer.
type Response struct {
	Status     Status     `json:"status"`
	ApprovalID string     `json:"approval_id,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Message    string     `json:"message,omitempty"`
	CheckURL   string     `json:"check_url,omitempty"` // admin API URL (or path) of the approval
}

var (
	tenantPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)
	toolPattern   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	hashPattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// NewRequest builds a check request for a call, hashing args and attaching
// them for approvers when they fit MaxArgsBytes.
func NewRequest(tenant, userID, userEmail, tool string, args json.RawMessage, policyName, policyScope string, cfg Config) (Request, error) {
	hash, err := ArgsHash(args)
	if err != nil {
		return Request{}, err
	}
	r := Request{
		Op: OpCheck, Tenant: tenant, UserID: userID, UserEmail: userEmail, Tool: tool, ArgsHash: hash,
		PolicyName: policyName, PolicyScope: policyScope, Approval: cfg,
	}
	if len(args) <= MaxArgsBytes {
		r.Args = args
	}
	return r, nil
}

// Validate checks every field's format and size, and that Args, when
// present, hash to ArgsHash. It does not check authorization (see the
// package comment).
func (r Request) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.Op != OpCheck {
		bad("op must be %q", OpCheck)
	}
	if !tenantPattern.MatchString(r.Tenant) {
		bad("tenant is not a tenant id")
	}
	checkText(bad, "user_id", r.UserID, true)
	checkText(bad, "user_email", r.UserEmail, false)
	checkText(bad, "policy_name", r.PolicyName, false)
	if !toolPattern.MatchString(r.Tool) {
		bad("tool is not a tool name")
	}
	if !hashPattern.MatchString(r.ArgsHash) {
		bad("args_hash must be 64 lowercase hex characters")
	}
	if r.PolicyScope != "global" && r.PolicyScope != "tenant" {
		bad("policy_scope must be global or tenant")
	}
	if len(r.Args) > 0 {
		if len(r.Args) > MaxArgsBytes {
			bad("args larger than %d bytes", MaxArgsBytes)
		} else if h, err := ArgsHash(r.Args); err != nil {
			bad("args: %v", err)
		} else if h != r.ArgsHash {
			bad("args do not hash to args_hash")
		}
	}
	errs = append(errs, r.Approval.validate()...)
	return errors.Join(errs...)
}

func (c Config) validate() []error {
	var errs []error
	if n := len(c.ApproverRoles) + len(c.ApproverEmails); n > MaxApprovers {
		errs = append(errs, fmt.Errorf("at most %d approvers", MaxApprovers))
	}
	for _, list := range [][]string{c.ApproverRoles, c.ApproverEmails} {
		for _, s := range list {
			checkText(func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }, "approver", s, true)
		}
	}
	if c.MinApprovals < 0 || c.MinApprovals > MaxMinApprovals {
		errs = append(errs, fmt.Errorf("min_approvals must be 0-%d", MaxMinApprovals))
	}
	if c.ExpirySec < 0 {
		errs = append(errs, errors.New("expiry_sec must not be negative"))
	}
	if len(c.WebhookURL) > MaxWebhookURLLen {
		errs = append(errs, errors.New("webhook_url too long"))
	} else if c.WebhookURL != "" {
		// The policy was validated when written; checking again here keeps a
		// forged request from pointing the control plane at an arbitrary URL.
		var p model.Problems
		model.CheckWebhookURL(&p, "webhook_url", c.WebhookURL)
		if err := p.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkText(bad func(string, ...any), field, s string, required bool) {
	switch {
	case s == "" && required:
		bad("%s is required", field)
	case len(s) > MaxFieldLen:
		bad("%s longer than %d bytes", field, MaxFieldLen)
	case !utf8.ValidString(s):
		bad("%s is not valid UTF-8", field)
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		bad("%s contains control characters", field)
	}
}

// Expiry is the approval lifetime for cfg: ExpirySec clamped to
// MinExpirySec–MaxExpirySec, DefaultExpirySec when unset.
func (c Config) Expiry() time.Duration {
	sec := c.ExpirySec
	switch {
	case sec == 0:
		sec = DefaultExpirySec
	case sec < MinExpirySec:
		sec = MinExpirySec
	case sec > MaxExpirySec:
		sec = MaxExpirySec
	}
	return time.Duration(sec) * time.Second
}

// Approvals is the number of approve verdicts needed (MinApprovals, at least 1).
func (c Config) Approvals() int { return max(c.MinApprovals, 1) }
