package mcp

import (
	"context"
	"encoding/json"

	"github.com/portcullis/portcullis/shared/authn"
)

type principalKey struct{}
type sessionKey struct{}
type requestKey struct{}

// ContextWithPrincipal is how the authentication layer in front of the transport tells
// it who is calling. The transport binds sessions to the principal's tenant and subject
// and refuses (fails closed) a request without one unless Config.AllowAnonymous is set.
func ContextWithPrincipal(ctx context.Context, p authn.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the principal the authentication layer attached.
func PrincipalFromContext(ctx context.Context) (authn.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(authn.Principal)
	return p, ok
}

// SessionFromContext returns the verified session of the request being served; the
// transport sets it before calling Tools. It is absent for initialize.
func SessionFromContext(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// Request describes the JSON-RPC request being served, for audit and logs.
type Request struct {
	Method string
	ID     json.RawMessage // as the client sent it
}

// RequestFromContext returns the JSON-RPC request being served.
func RequestFromContext(ctx context.Context) (Request, bool) {
	r, ok := ctx.Value(requestKey{}).(Request)
	return r, ok
}
