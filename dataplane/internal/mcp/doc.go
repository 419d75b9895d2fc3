// Package mcp is the gateway's MCP server transport: Streamable HTTP at one endpoint,
// JSON-RPC 2.0 framing, protocol-version negotiation and self-contained signed
// session tokens.
//
// It knows nothing about authentication, access rules, policies or backends. The auth
// layer in front of it puts the caller's principal into the request context
// (ContextWithPrincipal); the layers behind it (access control, policies, hooks,
// masking, forwarding) are reached through the Tools interface. Because the session
// token carries everything a replica needs to accept a session, any number of
// gateways configured with the same session keys serve the same sessions without a
// shared store or sticky routing. DESIGN.md beside this file states the invariants.
package mcp
