// Package model holds the platform's configuration resources as both planes see
// them: the control plane stores and validates them, the bundle carries them, the
// gateway enforces them. Types here are plain data plus validation; no I/O.
package model

import "time"

// Scope names the owner of a resource and of a bundle: the platform ("global")
// or one tenant ("tenant/<id>").
type Scope string

// GlobalScope is the platform-wide scope.
const GlobalScope Scope = "global"

// TenantScope returns the scope of one tenant.
func TenantScope(tenantID string) Scope { return Scope("tenant/" + tenantID) }

// Tenant is one customer of the SaaS platform. Its ID is the value of the
// tenant claim in that customer's tokens (Frontegg's tenantId).
type Tenant struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	DelegationEnabled bool   `json:"delegation_enabled"`
}

// ToolSource is where a set of tools came from (an imported OpenAPI document)
// and how the gateway reaches the backend that serves them.
type ToolSource struct {
	Name      string            `json:"name"`
	BaseURL   string            `json:"base_url"`
	Headers   map[string]string `json:"headers,omitempty"` // fixed headers sent to the backend
	TimeoutMS int               `json:"timeout_ms"`        // 500–5000, default for its tools
}

// Tool is one backend operation exposed to agents as an MCP tool.
type Tool struct {
	Name         string         `json:"name"` // ^[a-zA-Z0-9_.-]{1,64}$
	Title        string         `json:"title,omitempty"`
	Description  string         `json:"description,omitempty"` // ≤ 2000 chars
	SourceID     string         `json:"source_id,omitempty"`
	BaseURL      string         `json:"base_url"`
	Method       string         `json:"method"`
	Path         string         `json:"path"` // may hold {param} templates
	Params       []Param        `json:"params,omitempty"`
	InputSchema  map[string]any `json:"input_schema"`
	OutputSchema map[string]any `json:"output_schema,omitempty"`
	TimeoutMS    int            `json:"timeout_ms,omitempty"` // 500–5000
	Active       bool           `json:"active"`
}

// Param says where one tool argument goes in the backend request.
type Param struct {
	Name     string `json:"name"`
	In       string `json:"in"` // path, query, header, body
	Required bool   `json:"required,omitempty"`
}

// AccessRule grants the tools matching Tools to callers holding any one of
// Roles or Permissions. A global rule applies to every tenant; a tenant rule can
// only narrow what global rules grant (see DESIGN.md, access control).
type AccessRule struct {
	Name        string   `json:"name"`
	Tools       []string `json:"tools"` // names or glob patterns ("orders.*")
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
	Enabled     bool     `json:"enabled"`
}

// Hook is custom JavaScript run by the gateway on LIST_TOOLS and CALL_TOOL.
type Hook struct {
	Name      string   `json:"name"`
	Events    []string `json:"events"`          // LIST_TOOLS, CALL_TOOL
	Tools     []string `json:"tools,omitempty"` // empty: all tools
	Code      string   `json:"code"`            // defines onEvent(event); ≤ 100 KB
	TimeoutMS int      `json:"timeout_ms"`      // 100–10000
	FailMode  string   `json:"fail_mode"`       // open, closed
	Enabled   bool     `json:"enabled"`
}

// MaskingRule masks sensitive data in backend responses before the agent sees it.
type MaskingRule struct {
	Name      string   `json:"name"`
	Tools     []string `json:"tools,omitempty"`     // empty: all tools
	Detectors []string `json:"detectors,omitempty"` // built-in detector names
	Pattern   string   `json:"pattern,omitempty"`   // custom RE2 pattern
	JSONPaths []string `json:"json_paths,omitempty"`
	Action    string   `json:"action"` // redact, partial, hash
	Enabled   bool     `json:"enabled"`
}

// BackendKey is an HMAC key the gateway signs forwarded requests with. Secret is
// only present inside a bundle (sealed, see package bundle) and in the one
// response that creates or rotates it.
type BackendKey struct {
	KID       string     `json:"kid"`
	Status    string     `json:"status"` // active, retiring, revoked
	NotAfter  *time.Time `json:"not_after,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Domain is a hostname the gateway answers on: the platform's own or a tenant's
// custom domain (e.g. mcp.customer.com). The gateway's resource URL on that host,
// https://<hostname>/mcp, is the audience tokens must carry there; on a tenant's
// domain only that tenant's tokens are accepted.
type Domain struct {
	Hostname string `json:"hostname"`            // lower-case DNS name, no port
	TenantID string `json:"tenant_id,omitempty"` // "" = platform domain
	// AuthorizationServer is the issuer URL advertised in the protected-resource
	// metadata on this host (may itself be a custom domain); "" = the default.
	AuthorizationServer string `json:"authorization_server,omitempty"`
}
