// Package store is the control plane's Postgres repository. Every method runs
// inside one transaction opened by Store.Tx for one Actor; the actor decides the
// row-level-security context (platform or one tenant) set with SET LOCAL, so a
// tenant transaction cannot read or write another tenant's rows even if a handler
// forgot a check. Every write bumps the revision of the scope it touched and
// inserts an outbox row in the same transaction (see DESIGN.md, bundles).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/portcullis/portcullis/shared/model"
)

// Errors returned by the store; handlers map them to problem+json.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrConflict     = errors.New("store: conflicts with an existing resource") // unique violation
	ErrPrecondition = errors.New("store: revision does not match If-Match")
	ErrForbidden    = errors.New("store: not permitted for this actor")
	// ErrInvalid: the input breaks a schema rule (bad tenant id or tool name,
	// spec not a JSON object, bad cursor, unknown kind...). Handlers validate
	// first; this is the backstop, mapped to 400/422.
	ErrInvalid = errors.New("store: invalid input")
)

// Actor is who a transaction runs as.
type Actor struct {
	Subject  string // the token's sub, recorded as created_by / decided_by
	Email    string
	Platform bool   // platform-admin or a system worker: sees every row
	TenantID string // tenant-admin: sees only this tenant's rows
}

// Kind names a resource table stored as a JSON spec with a few typed columns.
type Kind string

// Resource kinds. Tools and tool sources are platform-only; the others exist
// globally (TenantID "") and per tenant.
const (
	KindToolSource  Kind = "tool_sources"
	KindTool        Kind = "tools"
	KindAccessRule  Kind = "access_rules"
	KindPolicy      Kind = "policies"
	KindHook        Kind = "hooks"
	KindMaskingRule Kind = "masking_rules"
	KindRateLimit   Kind = "rate_limits"
	KindNetworkRule Kind = "network_rules"
)

// Record is one stored resource. Revision is the row's own version (ETag,
// If-Match); the scope revision is separate and only grows.
type Record struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenant_id,omitempty"` // "" = global
	Name      string          `json:"name"`
	Revision  int64           `json:"revision"`
	Spec      json.RawMessage `json:"spec"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// TenantRecord is a stored tenant.
type TenantRecord struct {
	model.Tenant
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DomainRecord is a stored custom domain. Domains are platform-owned (only
// the platform writes them) and belong to the global scope even when TenantID
// is set: every gateway routes every domain.
type DomainRecord struct {
	ID string `json:"id"`
	model.Domain
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Page asks for one page of a list: Cursor is opaque, from the previous page.
type Page struct {
	Cursor string
	Limit  int // 1–500; 0 means 50
}

// BackendKeyRecord is a backend HMAC key; Secret is set only on create/rotate.
type BackendKeyRecord struct {
	model.BackendKey
	Secret []byte `json:"-"`
}

// Approval is a pending or decided human approval.
type Approval struct {
	ID           string          `json:"id"`
	TenantID     string          `json:"tenant_id"`
	UserID       string          `json:"user_id"`
	Tool         string          `json:"tool"`
	ArgsHash     string          `json:"args_hash"`
	Arguments    json.RawMessage `json:"arguments,omitempty"`
	PolicyName   string          `json:"policy_name"`
	Status       string          `json:"status"` // pending, approved, denied, expired, consumed
	MinApprovals int             `json:"min_approvals"`
	Decisions    []Decision      `json:"decisions"`
	ExpiresAt    time.Time       `json:"expires_at"`
	CreatedAt    time.Time       `json:"created_at"`
	DecidedAt    *time.Time      `json:"decided_at,omitempty"`
	ConsumedAt   *time.Time      `json:"consumed_at,omitempty"`
}

// Decision is one approver's verdict.
type Decision struct {
	By      string    `json:"by"`
	Verdict string    `json:"verdict"` // approve, deny
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

// AuditFilter narrows an audit query; zero fields do not filter.
type AuditFilter struct {
	TenantID string
	UserID   string
	Tool     string
	Decision string
	From, To time.Time
}

// AuditEvent is one stored audit event; Event is the shared/audit JSON.
// UserID, Tool and Decision are the indexed filter columns; when empty on
// insert they are read from the event's "user_id", "tool" and "decision" keys.
type AuditEvent struct {
	ID       string          `json:"id"`
	Time     time.Time       `json:"time"`
	TenantID string          `json:"tenant_id,omitempty"`
	UserID   string          `json:"user_id,omitempty"`
	Tool     string          `json:"tool,omitempty"`
	Decision string          `json:"decision,omitempty"`
	Event    json.RawMessage `json:"event"`
}

// Gateway is one data-plane replica as last reported by its heartbeat.
type Gateway struct {
	ID        string           `json:"id"`
	Hostname  string           `json:"hostname"`
	Version   string           `json:"version"`
	StartedAt time.Time        `json:"started_at"`
	LastSeen  time.Time        `json:"last_seen"`
	Revisions map[string]int64 `json:"revisions"` // scope → applied revision
}

// IdempotentResponse is a stored response replayed for a repeated
// Idempotency-Key from the same principal.
type IdempotentResponse struct {
	RequestHash string
	Status      int
	Body        []byte
	Location    string
}

// Tx is everything one transaction can do. Implementations: the Postgres one in
// this package; the shared test suite (storetest) is the contract.
type Tx interface {
	CreateTenant(ctx context.Context, t model.Tenant) (TenantRecord, error)
	GetTenant(ctx context.Context, id string) (TenantRecord, error)
	ListTenants(ctx context.Context, p Page) ([]TenantRecord, string, error)
	UpdateTenant(ctx context.Context, t model.Tenant, ifMatch int64) (TenantRecord, error) // ifMatch 0: unconditional
	DeleteTenant(ctx context.Context, id string, ifMatch int64) error

	CreateResource(ctx context.Context, kind Kind, tenantID, name string, spec json.RawMessage) (Record, error)
	GetResource(ctx context.Context, kind Kind, tenantID, id string) (Record, error)
	ListResources(ctx context.Context, kind Kind, tenantID string, p Page) ([]Record, string, error)
	UpdateResource(ctx context.Context, kind Kind, tenantID, id, name string, spec json.RawMessage, ifMatch int64) (Record, error)
	DeleteResource(ctx context.Context, kind Kind, tenantID, id string, ifMatch int64) error

	// Domains: writes are platform-only and bump the global scope. A tenant
	// actor reads its own tenant's domains only. ListDomains with tenantID ""
	// lists every domain the actor may read.
	CreateDomain(ctx context.Context, d model.Domain) (DomainRecord, error)
	GetDomain(ctx context.Context, id string) (DomainRecord, error)
	ListDomains(ctx context.Context, tenantID string, p Page) ([]DomainRecord, string, error)
	UpdateDomain(ctx context.Context, id string, d model.Domain, ifMatch int64) (DomainRecord, error) // ifMatch 0: unconditional
	DeleteDomain(ctx context.Context, id string, ifMatch int64) error

	CreateBackendKey(ctx context.Context) (BackendKeyRecord, error)
	RotateBackendKey(ctx context.Context, kid string, overlap time.Duration) (BackendKeyRecord, error) // new key; old one retiring until now+overlap
	RevokeBackendKey(ctx context.Context, kid string) error
	ListBackendKeys(ctx context.Context) ([]BackendKeyRecord, error)

	// CreateApproval stores a pending approval; ID, Status, Decisions and
	// CreatedAt are set by the store, MinApprovals 0 means 1.
	CreateApproval(ctx context.Context, a Approval) (Approval, error)
	ListApprovals(ctx context.Context, tenantID, status string, p Page) ([]Approval, string, error) // tenantID "" = all (platform only)
	GetApproval(ctx context.Context, tenantID, id string) (Approval, error)
	DecideApproval(ctx context.Context, tenantID, id string, d Decision) (Approval, error)
	// GetApprovalApprovers returns the approver lists copied onto the approval
	// when it was created (approvals_approvers.go).
	GetApprovalApprovers(ctx context.Context, tenantID, id string) (ApprovalApprovers, error)

	InsertAuditEvents(ctx context.Context, events []AuditEvent) (inserted int, err error) // idempotent on ID
	QueryAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, string, error)

	UpsertGateway(ctx context.Context, g Gateway) error
	ListGateways(ctx context.Context) ([]Gateway, error)

	LookupIdempotency(ctx context.Context, principal, key string) (*IdempotentResponse, error) // nil if unseen
	SaveIdempotency(ctx context.Context, principal, key string, r IdempotentResponse) error
}

// TxRunner opens one transaction for an actor and runs fn in it; fn's error
// rolls everything back, so nothing is half-written.
type TxRunner interface {
	Tx(ctx context.Context, actor Actor, fn func(Tx) error) error
}
