// Package audit defines the audit event: one per request the gateway handles,
// whatever its outcome (DESIGN.md, "Monitoring"). Gateways publish events to
// JetStream on Subject(tenant); the control plane stores them in Postgres,
// idempotently by ID, so a redelivered event is stored once.
package audit

import (
	"time"

	"github.com/google/uuid"

	"github.com/portcullis/portcullis/shared/model"
)

// Decision is the outcome of a request as the audit trail records it.
type Decision string

// Decisions. Error means the gateway could not decide or could not complete
// the call (a backend failure, a hook failing closed, an internal error).
const (
	DecisionAllow            Decision = "allow"
	DecisionDeny             Decision = "deny"
	DecisionStepUp           Decision = "step_up"
	DecisionApprovalRequired Decision = "approval_required"
	DecisionError            Decision = "error"
)

// Access is the result of the access-control layer.
type Access string

// Access results. NotEvaluated is for requests stopped before access control
// (bad token) or that have no tool (initialize, ping).
const (
	AccessGranted      Access = "granted"
	AccessDenied       Access = "denied"
	AccessNotEvaluated Access = "not_evaluated"
)

// SubjectPrefix starts every audit subject; the PORTCULLIS_AUDIT stream
// captures SubjectPrefix + ">".
const SubjectPrefix = "portcullis.audit."

// GlobalSubjectToken replaces the tenant in the subject of events with no
// tenant (a request rejected before its token was read).
const GlobalSubjectToken = "_global"

// invalidSubjectToken is used for a tenant that is not a valid tenant ID. The
// tenant comes from a token claim; written into a subject as is, "a.b" or "*"
// would land the event under another subject or fail to publish.
const invalidSubjectToken = "_invalid"

// Event is one audit record. Times are UTC; durations are milliseconds.
type Event struct {
	ID        string    `json:"id"`   // UUIDv7 (NewID); the idempotency key
	Time      time.Time `json:"time"` // when the gateway received the request
	GatewayID string    `json:"gateway_id"`

	// Who.
	Tenant   string `json:"tenant,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	Email    string `json:"email,omitempty"`
	ClientIP string `json:"client_ip,omitempty"`

	// Which agent: the MCP client's clientInfo, and the AI platform derived
	// from it or from the user agent (claude, chatgpt, cursor, ...).
	ClientName    string `json:"client_name,omitempty"`
	ClientVersion string `json:"client_version,omitempty"`
	Platform      string `json:"platform,omitempty"`
	SessionID     string `json:"session_id,omitempty"`

	// What.
	Method     string `json:"method"`                // MCP method: tools/call, tools/list, initialize, ...
	Tool       string `json:"tool,omitempty"`        // for tools/call
	HTTPMethod string `json:"http_method,omitempty"` // backend request method
	HTTPPath   string `json:"http_path,omitempty"`   // backend request path, without query
	ApprovalID string `json:"approval_id,omitempty"` // pending or consumed approval
	RequestID  string `json:"request_id,omitempty"`  // id= in Portcullis-Signature
	UserAgent  string `json:"user_agent,omitempty"`  // as received, truncated by the gateway
	Country    string `json:"country,omitempty"`     // from the configured header

	// Outcome.
	Decision      Decision       `json:"decision"`
	DecidedBy     *DecidedBy     `json:"decided_by,omitempty"`
	Access        Access         `json:"access,omitempty"`
	Masking       map[string]int `json:"masking,omitempty"` // detector or rule name → values masked
	Hooks         []HookResult   `json:"hooks,omitempty"`
	BackendStatus int            `json:"backend_status,omitempty"` // 0: backend not called
	DurationMS    int64          `json:"duration_ms"`
	Error         string         `json:"error,omitempty"` // public error code or message, no internals
}

// DecidedBy names the rule that made the decision, for the audit trail and
// for the message the agent sees.
type DecidedBy struct {
	Kind  string `json:"kind"`            // policy, access_rule, hook, rate_limit, authn, ...
	Name  string `json:"name"`            // the rule's name
	Scope string `json:"scope,omitempty"` // "global" or "tenant/<id>"
	// Reason qualifies how the rule decided, e.g. "auto_approved": an allow
	// from an approval policy whose auto-approve conditions held.
	Reason string `json:"reason,omitempty"`
}

// HookResult is what one hook did to the request.
type HookResult struct {
	Name       string `json:"name"`
	Verdict    string `json:"verdict"` // allow, deny, error, timeout
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// NewID returns a new event ID: a UUIDv7, so IDs sort by time, which keeps
// the store's index on them append-mostly.
func NewID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Subject returns the NATS subject an event of tenant is published on:
// "portcullis.audit.<tenant>", "portcullis.audit._global" for no tenant, and
// "portcullis.audit._invalid" for a string that is not a tenant ID (so a
// hostile claim can never address another subject).
func Subject(tenant string) string {
	switch {
	case tenant == "":
		return SubjectPrefix + GlobalSubjectToken
	case model.ValidTenantID(tenant):
		return SubjectPrefix + tenant
	default:
		return SubjectPrefix + invalidSubjectToken
	}
}

// Subject is the subject this event is published on.
func (e Event) Subject() string { return Subject(e.Tenant) }

// Validate checks what the store relies on: an ID to deduplicate by, a time
// to partition by, and, when present, a tenant that is a tenant ID and a
// known decision. It is deliberately lenient otherwise: an odd event is
// still evidence, and dropping it would lose the trail.
func (e Event) Validate() error {
	var p model.Problems
	if e.ID == "" || len(e.ID) > 64 {
		p.Add("id", "must be 1–64 characters")
	}
	if e.Time.IsZero() {
		p.Add("time", "is required")
	}
	if e.Tenant != "" && !model.ValidTenantID(e.Tenant) {
		p.Add("tenant", "is not a valid tenant ID")
	}
	switch e.Decision {
	case "", DecisionAllow, DecisionDeny, DecisionStepUp, DecisionApprovalRequired, DecisionError:
	default:
		p.Add("decision", "must be allow, deny, step_up, approval_required or error")
	}
	return p.Err()
}
