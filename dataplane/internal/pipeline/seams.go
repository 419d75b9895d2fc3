package pipeline

import (
	"context"
	"strings"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/audit"
)

// Policies is layer 4: conditions on arguments, identity and request context
// (a later issue). Check runs after access control granted the tool and before
// hooks; it returns nil to let the call go on, or an error that refuses it — an
// *mcp.Error for what the agent must see (a step-up 401, an approval id), and it
// records its decision in r.Event (Decision, DecidedBy). It must not widen
// access: the tool in r is already granted, and a refusal is final.
type Policies interface {
	Check(ctx context.Context, r *Request) error
}

// Hooks is layer 5: custom code on LIST_TOOLS and CALL_TOOL (a later issue).
// OnCall may refuse the call or rewrite r.Args (the rewrite is then validated
// against the input schema like the original); OnList may remove tools from the
// granted list but must never add one.
type Hooks interface {
	OnCall(ctx context.Context, r *Request) error
	OnList(ctx context.Context, r *Request, tools []mcp.Tool) ([]mcp.Tool, error)
}

// Masker is layer 6: masks the backend's answer before the agent sees it (a
// later issue). It records what it masked in r.Event.Masking. An error fails
// the call closed: the unmasked result is never returned.
type Masker interface {
	Mask(ctx context.Context, r *Request, res mcp.CallResult) (mcp.CallResult, error)
}

// Recorder is layer 7's sink: it receives exactly one event per tools/list and
// tools/call, after the request finished. It must not block (package auditpub
// queues and publishes to JetStream).
type Recorder interface {
	Record(ev audit.Event)
}

// AllowPolicies is the Policies of a gateway without policy evaluation: every
// granted call proceeds.
type AllowPolicies struct{}

// Check implements Policies.
func (AllowPolicies) Check(context.Context, *Request) error { return nil }

// NoHooks is the Hooks of a gateway without hooks.
type NoHooks struct{}

// OnCall implements Hooks.
func (NoHooks) OnCall(context.Context, *Request) error { return nil }

// OnList implements Hooks.
func (NoHooks) OnList(_ context.Context, _ *Request, tools []mcp.Tool) ([]mcp.Tool, error) {
	return tools, nil
}

// NoMasking is the Masker of a gateway without masking rules.
type NoMasking struct{}

// Mask implements Masker.
func (NoMasking) Mask(_ context.Context, _ *Request, res mcp.CallResult) (mcp.CallResult, error) {
	return res, nil
}

// checkMaskable refuses, before anything is forwarded, a call whose policies
// asked for masking when the gateway has no masking layer: returning the
// backend's data unmasked would fail open, and refusing only after the
// backend ran would leave its side effects behind.
func (p *Pipeline) checkMaskable(r *Request) error {
	if _, none := p.masker.(NoMasking); !none || len(r.Masking()) == 0 {
		return nil
	}
	return &mcp.Error{
		Code:    CodeDenied,
		Message: "Request denied: a policy requires masking the result and this gateway cannot mask it",
		Data:    DeniedData{Kind: "policy", Name: strings.Join(r.Masking(), ",")},
	}
}

// DiscardAudit drops every event (tests, or a gateway run without NATS).
type DiscardAudit struct{}

// Record implements Recorder.
func (DiscardAudit) Record(audit.Event) {}
