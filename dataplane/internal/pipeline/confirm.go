package pipeline

import (
	"context"
	"slices"
)

// Confirmer is a check that must run last, after hooks and input-schema
// validation, right before the call is forwarded. The policy layer uses it
// for approval_required: consuming an approval is a side effect that must
// not be spent on a call that is then rejected for its arguments. Confirm
// returns nil to let the call go, or an error that refuses it (an
// *mcp.Error for what the agent must see); it records its decision in
// r.Event.
type Confirmer interface {
	Confirm(ctx context.Context, r *Request) error
}

// RequireConfirmation adds c to the checks run right before forwarding.
// Confirmations can only be added, never removed: a later layer (a hook)
// cannot drop the approval a policy demanded.
func (r *Request) RequireConfirmation(c Confirmer) {
	if c != nil {
		r.confirms = append(r.confirms, c)
	}
}

// AddMasking records masking rule names a policy asked for, for the masking
// layer (layer 6). Names can only be added.
func (r *Request) AddMasking(names ...string) {
	for _, n := range names {
		if !slices.Contains(r.masking, n) {
			r.masking = append(r.masking, n)
		}
	}
}

// Masking returns a copy of the masking rule names the policies asked for.
func (r *Request) Masking() []string { return append([]string(nil), r.masking...) }

// Caller returns the tenant and user the call is made for, as begin set
// them from the token: unlike Principal and Tenant, layers cannot change
// them, so what binds to the caller (an approval) uses these.
func (r *Request) Caller() (tenant, user string) { return r.tenant, r.user }

// Platform returns the AI platform the request comes from (see Platform),
// as begin derived it for the audit event: the policy input uses the same.
func (r *Request) Platform() string { return r.platform }

// GrantedTool returns the name of the tool access control granted ("" for a
// list, or before access control granted one). Layers cannot change it.
func (r *Request) GrantedTool() string {
	if r.cat == nil || r.pos < 0 {
		return ""
	}
	return r.cat.access.Tools()[r.pos].Name
}

// confirm runs the confirmations in the order they were required.
func (p *Pipeline) confirm(ctx context.Context, r *Request) error {
	for _, c := range r.confirms {
		if err := c.Confirm(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
