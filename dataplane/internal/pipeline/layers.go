package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/audit"
)

// MCP methods as the audit trail names them.
const (
	methodList = "tools/list"
	methodCall = "tools/call"
)

// Public error codes in audit events (Event.Error); never internal detail.
const (
	errInvalidArguments = "invalid_arguments"
	errToolMisconfig    = "tool_misconfigured"
	errNoBackendKey     = "no_backend_key"
	errBackend          = "backend_error"
	errInternal         = "internal_error"
	errInvalidTenant    = "invalid_tenant_claim"
)

// Kinds of DecidedBy.
const (
	kindAccessRule  = "access_rule"
	kindInputSchema = "input_schema"
)

// begin loads the one snapshot the request will use, resolves the caller's
// access view and starts the audit event. The returned func ends the request:
// it completes and records the event (layer 7), also when a layer panicked.
func (p *Pipeline) begin(ctx context.Context, method string) (*Request, func()) {
	start := p.now()
	principal, _ := mcp.PrincipalFromContext(ctx)
	session, _ := mcp.SessionFromContext(ctx)
	info, _ := RequestInfoFromContext(ctx)
	snap := p.src.Current()
	r := &Request{
		Principal: principal, Tenant: principal.TenantID, Session: session, Info: info,
		Snapshot: snap, cat: p.catalogs.get(snap.Global()), pos: -1,
		tenant: principal.TenantID, user: principal.Subject,
		platform: Platform(session.ClientName, info.UserAgent),
	}
	// The tenant is the principal's and nothing else: the view, the backend's
	// tenant header and the audit subject all derive from r.tenant.
	r.View = r.cat.access.View(r.tenant, snap.Tenant(r.tenant))
	r.Event = p.newEvent(start, method, r)
	return r, func() { p.finish(r, start) }
}

// checkAccess is layer 3 for a call: a tool that does not exist and one the
// caller may not use get the same error, byte for byte.
func (p *Pipeline) checkAccess(r *Request) error {
	d, pos := r.View.Decide(&r.Principal, r.Name)
	ev := r.Event
	ev.Tool = r.Name
	ev.DecidedBy = &audit.DecidedBy{Kind: kindAccessRule, Name: d.Rule, Scope: string(d.Scope)}
	if !d.Granted {
		ev.Access, ev.Decision = audit.AccessDenied, audit.DecisionDeny
		return mcp.UnknownToolError(r.Name)
	}
	ev.Access, ev.Decision = audit.AccessGranted, audit.DecisionAllow
	r.pos = pos
	r.Tool = r.cat.access.Tools()[pos]
	ev.HTTPMethod, ev.HTTPPath = r.Tool.Method, r.Tool.Path // the template: argument values stay out of the trail
	return nil
}

// listDecision records layer 3's outcome for a list: a caller with a usable
// tenant is granted (whatever the number of tools); one without is denied.
func (p *Pipeline) listDecision(r *Request) {
	if reason := r.View.Reason(); reason != "" {
		r.Event.Access, r.Event.Decision = audit.AccessDenied, audit.DecisionDeny
		r.Event.DecidedBy = &audit.DecidedBy{Kind: kindAccessRule, Name: reason}
		return
	}
	r.Event.Access, r.Event.Decision = audit.AccessGranted, audit.DecisionAllow
}

// validate checks the arguments against the tool's input schema, compiled
// once per global bundle. A schema that does not compile fails closed.
func (p *Pipeline) validate(r *Request) error {
	tool := r.GrantedTool()
	schema, err := r.cat.schemas[r.pos].get()
	if err != nil {
		r.Event.Decision, r.Event.Error = audit.DecisionError, errToolMisconfig
		return fmt.Errorf("pipeline: input schema of tool %q does not compile: %w", tool, err)
	}
	if err := validateArgs(tool, schema, r.Args); err != nil {
		var me *mcp.Error
		if errors.As(err, &me) {
			r.Event.Decision, r.Event.Error = audit.DecisionDeny, errInvalidArguments
			r.Event.DecidedBy = &audit.DecidedBy{Kind: kindInputSchema, Name: tool}
		} else {
			r.Event.Decision, r.Event.Error = audit.DecisionError, errInternal
		}
		return err
	}
	return nil
}

// forward signs and sends the call. Every failure is an isError result: the
// agent learns the call did not go through, not why in internal terms.
func (p *Pipeline) forward(ctx context.Context, r *Request) mcp.CallResult {
	signer, err := r.Snapshot.BackendSigner(p.sealer, p.now())
	if err != nil {
		p.log.ErrorContext(ctx, "no backend key to sign with", "tool", r.Name, "err", err)
		r.Event.Decision, r.Event.Error = audit.DecisionError, errNoBackendKey
		return errorResult("The call could not be signed; it was not sent.")
	}
	if r.RequestID, err = audit.NewID(); err != nil {
		r.Event.Decision, r.Event.Error = audit.DecisionError, errInternal
		return errorResult("The call could not be sent.")
	}
	r.Event.RequestID = r.RequestID
	res := p.backend.Forward(ctx, forward.Call{
		Tool: r.cat.access.Tools()[r.pos], Args: r.Args, Tenant: r.tenant, User: r.user,
		RequestID: r.RequestID, Signer: signer,
	})
	r.Event.BackendStatus = res.Status
	if res.IsError {
		r.Event.Decision, r.Event.Error = audit.DecisionError, errBackend
	}
	return toCallResult(res)
}

// toCallResult maps the backend's answer to MCP content: the text always,
// the structured form only for successes.
func toCallResult(res forward.Result) mcp.CallResult {
	out := mcp.CallResult{Content: []mcp.Content{mcp.TextContent(res.Text)}, IsError: res.IsError}
	if res.Structured != nil && !res.IsError {
		if raw, err := json.Marshal(res.Structured); err == nil {
			out.StructuredContent = raw
		}
	}
	return out
}

func errorResult(text string) mcp.CallResult {
	return mcp.CallResult{Content: []mcp.Content{mcp.TextContent(text)}, IsError: true}
}

// refuse records a refusal by a later layer (policies, hooks) that did not
// record its own decision, and passes the error on.
func (p *Pipeline) refuse(r *Request, kind string, err error) error {
	ev := r.Event
	var me *mcp.Error
	if !errors.As(err, &me) {
		ev.Decision, ev.Error = audit.DecisionError, errInternal
		return err
	}
	if ev.Decision == audit.DecisionAllow || ev.Decision == "" {
		ev.Decision = audit.DecisionDeny
		ev.DecidedBy = &audit.DecidedBy{Kind: kind}
	}
	if ev.Error == "" {
		ev.Error = clip(me.Message, maxProblemMessage)
	}
	return err
}

// fail records an internal failure of a layer; the client sees an opaque
// internal error.
func (p *Pipeline) fail(r *Request, code string, err error) error {
	r.Event.Decision, r.Event.Error = audit.DecisionError, code
	return fmt.Errorf("pipeline: %s: %w", code, err)
}

// listHooks runs the hooks on a list and keeps only granted tools from what
// they return: a hook may remove or reword tools, never add one.
func (p *Pipeline) listHooks(ctx context.Context, r *Request, granted []mcp.Tool) ([]mcp.Tool, error) {
	if _, none := p.hooks.(NoHooks); none {
		return granted, nil
	}
	out, err := p.hooks.OnList(ctx, r, granted)
	if err != nil {
		return nil, err
	}
	allowed := make(map[string]struct{}, len(granted))
	for _, t := range granted {
		allowed[t.Name] = struct{}{}
	}
	kept := out[:0:0]
	for _, t := range out {
		if _, ok := allowed[t.Name]; ok {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// listing returns the tools/list entries of the given positions.
func (c *catalog) listing(positions []int) []mcp.Tool {
	out := make([]mcp.Tool, len(positions))
	for i, pos := range positions {
		out[i] = c.listed[pos]
	}
	return out
}
