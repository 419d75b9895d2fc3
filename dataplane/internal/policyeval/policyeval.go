package policyeval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/approval"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/policy"
)

// JSON-RPC error codes of the policy layer, besides pipeline.CodeDenied (a
// deny, a denied approval, a failed evaluation).
const (
	// CodeStepUpRequired: the token must be stronger (HTTP 401, RFC 9470).
	CodeStepUpRequired = -32004
	// CodeApprovalPending: a human must approve this exact call first;
	// data carries the approval id, expiry and check URL.
	CodeApprovalPending = -32005
	// CodeApprovalUnavailable: the approval could not be checked (control
	// plane unreachable); the call was not sent.
	CodeApprovalUnavailable = -32006
)

// Kind of audit.DecidedBy for decisions of this layer.
const kindPolicy = "policy"

// Public error codes in audit events.
const (
	errPolicyDenied        = "policy_denied"
	errPolicyFailed        = "policy_evaluation_failed"
	errStepUpRequired      = "step_up_required"
	errApprovalPending     = "approval_pending"
	errApprovalDenied      = "approval_denied"
	errApprovalUnavailable = "approval_unavailable"
)

// Approver checks approvals with the control plane; *approvals.Client
// implements it.
type Approver interface {
	Check(ctx context.Context, req approval.Request) (approval.Response, error)
}

// Config configures a Layer.
type Config struct {
	// Approvals answers approval_required decisions; nil refuses them all
	// (fail closed).
	Approvals Approver
	// ResourceMetadata is the RFC 9728 metadata URL used in step-up
	// challenges when the request does not name its own
	// (RequestInfo.ResourceMetadata); "" leaves the parameter out.
	ResourceMetadata string
	// MaxTenants bounds the cached tenant layers (DefaultMaxTenants when 0).
	MaxTenants int
	Logger     *slog.Logger
	// Now is the gateway clock: the request time policies see and the
	// reference for max_age. Default time.Now.
	Now func() time.Time
}

// Layer implements pipeline.Policies. Safe for concurrent use.
type Layer struct {
	approvals Approver
	metadata  string
	cache     *cache
	log       *slog.Logger
	now       func() time.Time
}

var _ pipeline.Policies = (*Layer)(nil)

// New returns a Layer.
func New(cfg Config) *Layer {
	l := &Layer{approvals: cfg.Approvals, metadata: cfg.ResourceMetadata, log: cfg.Logger, now: cfg.Now}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.cache = newCache(cfg.MaxTenants, l.log)
	return l
}

// Follow compiles the global policies of every snapshot src applies, as
// soon as it applies it, so no request pays for the compilation. The
// returned function stops following.
func (l *Layer) Follow(src bundlestore.Source) (stop func()) {
	stop = src.OnChange(func(s *bundlestore.Snapshot) { _, _ = l.cache.globalLayer(s.Global()) })
	_, _ = l.cache.globalLayer(src.Current().Global())
	return stop
}

// Check implements pipeline.Policies: it evaluates the policies that apply
// to the granted call and acts on the merged decision (see the package
// comment).
func (l *Layer) Check(ctx context.Context, r *pipeline.Request) error {
	tenant, _ := r.Caller()
	global, gerr := l.cache.globalLayer(r.Snapshot.Global())
	tb := r.Snapshot.Tenant(tenant)
	var tlayer *policy.Layer
	var terr error
	if tenant != "" {
		tlayer, terr = l.cache.tenantLayer(tenant, tb)
	}
	if err := errors.Join(gerr, terr); err != nil {
		return l.failed(r, policy.Decision{}, err)
	}
	if global == nil && tlayer == nil {
		return nil // no policies: nothing to evaluate
	}
	delegation := tb != nil && tb.Tenant != nil && tb.Tenant.Tenant.DelegationEnabled
	now := l.now()
	in, err := l.input(r, now)
	if err != nil {
		return l.failed(r, policy.Decision{}, err)
	}
	d, err := policy.NewCompiled(global, tlayer, delegation).Evaluate(ctx, in)
	if err != nil {
		return l.failed(r, d, err)
	}
	r.AddMasking(d.Masking...)
	switch d.Effect {
	case policy.Allow:
		return nil
	case policy.StepUp:
		return l.stepUp(r, d, now)
	case policy.ApprovalRequired:
		if d.AutoApproved() {
			return l.autoApprove(r, d, now)
		}
		r.RequireConfirmation(&approvalCheck{l: l, d: d})
		return nil
	case policy.Deny:
		return l.deny(r, d)
	default:
		return l.failed(r, d, fmt.Errorf("policyeval: unknown effect %q", d.Effect))
	}
}

// deny refuses the call, naming the policy.
func (l *Layer) deny(r *pipeline.Request, d policy.Decision) error {
	by := decidedBy(r, d)
	record(r, audit.DecisionDeny, by, errPolicyDenied)
	return &mcp.Error{
		Code:    pipeline.CodeDenied,
		Message: "Denied by policy " + quote(d.Policy),
		Data:    pipeline.DeniedData{Kind: kindPolicy, Name: by.Name, Scope: by.Scope},
	}
}

// failed refuses a call whose policies could not be evaluated (fail
// closed). The agent learns that much, not the internal reason.
func (l *Layer) failed(r *pipeline.Request, d policy.Decision, err error) error {
	tenant, _ := r.Caller()
	l.log.Error("policy evaluation failed; call refused", "tenant", tenant, "tool", r.GrantedTool(), "policy", d.Policy, "err", err)
	by := &audit.DecidedBy{Kind: kindPolicy}
	if d.Policy != "" {
		by = decidedBy(r, d)
	}
	record(r, audit.DecisionError, by, errPolicyFailed)
	return &mcp.Error{
		Code:    pipeline.CodeDenied,
		Message: "Denied: the policies that apply to this call could not be evaluated; it was not sent",
		Data:    pipeline.DeniedData{Kind: kindPolicy, Name: by.Name, Scope: by.Scope},
	}
}

// input builds the policy input from what the pipeline knows. Arguments
// that are not a JSON object cannot be matched against conditions: the call
// is refused rather than evaluated without them.
func (l *Layer) input(r *pipeline.Request, now time.Time) (policy.Input, error) {
	args, err := decodeArgs(r.Args)
	if err != nil {
		return policy.Input{}, err
	}
	tenant, user := r.Caller()
	p := r.Principal
	return policy.Input{
		Tool: r.GrantedTool(),
		Args: args,
		User: policy.UserAttrs{
			ID: user, Email: p.Email, Tenant: tenant,
			Roles: p.Roles, Permissions: p.Permissions, Claims: p.Claims,
		},
		Request: policy.RequestAttrs{
			IP: r.Info.ClientIP, Country: r.Info.Country, UserAgent: r.Info.UserAgent,
			Platform: r.Platform(), Time: now,
		},
	}, nil
}

// decodeArgs decodes the call's arguments, keeping numbers exact.
func decodeArgs(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var args map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&args); err != nil {
		return nil, fmt.Errorf("policyeval: arguments are not a JSON object: %w", err)
	}
	return args, nil
}

// decidedBy names the deciding policy for the audit trail: scope "global"
// or "tenant/<id>".
func decidedBy(r *pipeline.Request, d policy.Decision) *audit.DecidedBy {
	scope := "global"
	if d.Scope == policy.Tenant {
		tenant, _ := r.Caller()
		scope = "tenant/" + tenant
	}
	return &audit.DecidedBy{Kind: kindPolicy, Name: d.Policy, Scope: scope}
}

// record sets the event's outcome.
func record(r *pipeline.Request, decision audit.Decision, by *audit.DecidedBy, code string) {
	r.Event.Decision, r.Event.DecidedBy, r.Event.Error = decision, by, code
}

// quote quotes a policy name for a message, clipped.
func quote(name string) string {
	const max = 100
	if len(name) > max {
		name = name[:max] + "…"
	}
	return fmt.Sprintf("%q", name)
}
