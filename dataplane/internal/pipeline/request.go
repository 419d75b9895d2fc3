package pipeline

import (
	"context"
	"encoding/json"

	"github.com/portcullis/portcullis/dataplane/internal/access"
	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/model"
)

// Request is one tools/list or tools/call as the layers see it. The pipeline
// fills it; layers read it and may annotate Event. Snapshot is the one
// configuration the whole request uses.
type Request struct {
	Principal authn.Principal
	// Tenant is the tenant every layer acts for: always Principal.TenantID,
	// never anything the arguments say.
	Tenant   string
	Session  mcp.Session // zero when the transport set none
	Info     RequestInfo
	Snapshot *bundlestore.Snapshot
	View     *access.TenantView

	// For tools/call only.
	Name      string          // as the client sent it
	Tool      model.Tool      // the granted tool (zero until access control granted it)
	Args      json.RawMessage // the "arguments" object; hooks may rewrite it
	RequestID string          // the backend request id (Portcullis-Signature id=)

	Event *audit.Event

	// What forwarding and audit use, out of the later layers' reach: a hook or
	// policy editing the exported fields above cannot redirect the call to
	// another tool, backend, tenant or user.
	cat      *catalog // what the snapshot's global bundle derives to
	pos      int      // the granted tool's position in cat
	tenant   string
	user     string
	platform string // Platform of Session and Info, computed once in begin

	// Added by the policy layer (confirm.go), append-only.
	confirms []Confirmer // run right before forwarding
	masking  []string    // masking rule names for layer 6
}

// RequestInfo is what the HTTP layer knows about the request that the MCP
// transport does not pass on: the gateway's server puts it in the context with
// ContextWithRequestInfo; it feeds the audit event (and, later, policies).
type RequestInfo struct {
	ClientIP  string
	UserAgent string
	Country   string // from the configured geo header, if any
	// ResourceMetadata is the RFC 9728 metadata URL of the host the request
	// arrived on (a step-up challenge points to it); "" when unknown.
	ResourceMetadata string
}

type requestInfoKey struct{}

// ContextWithRequestInfo attaches info for the pipeline to read.
func ContextWithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFromContext returns what ContextWithRequestInfo attached.
func RequestInfoFromContext(ctx context.Context) (RequestInfo, bool) {
	info, ok := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info, ok
}
