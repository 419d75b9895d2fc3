// Package authn is the gateway's authentication layer (layer 2 of DESIGN.md)
// in HTTP form: it sits in front of the MCP handler, routes the request by
// Host to the platform's default host or a custom domain, validates the
// bearer token against that host's resource URL, and hands the principal to
// the MCP transport (mcp.ContextWithPrincipal). It also serves the OAuth
// protected-resource metadata (RFC 9728) that tells agents where to get a
// token.
//
// # Decisions (security)
//
//   - Host routing first. A request whose Host is neither PUBLIC_URL's host
//     nor a domain of the global bundle gets 421 Misdirected Request before
//     its token is looked at: the gateway does not serve that name, and
//     answering 401 would advertise metadata for a resource that does not
//     exist (and help DNS-rebinding pages, which send a foreign Host).
//   - The audience is per host (RFC 8707): https://<host>/mcp on a custom
//     domain, PUBLIC_URL + "/mcp" on the default host. A token minted for
//     one domain is refused on every other one, even of the same tenant.
//   - On a tenant's custom domain, a token whose tenant claim differs (or is
//     absent) gets 403, not 401. The token is authentic and unexpired; the
//     user simply is not a member of that tenant, and a 401 would send the
//     agent into a re-authentication loop that yields the same token. The
//     response says nothing about which tenant the domain belongs to.
//   - No token: 401 with WWW-Authenticate: Bearer resource_metadata="…"
//     and no error code (RFC 6750 §3.1). A token that fails any check: 401
//     with error="invalid_token". The reason goes to the log only: every
//     failure looks the same to the client, so it cannot probe which check
//     failed.
//   - Tokens are accepted only in the Authorization header (MCP forbids
//     query-string tokens; they end up in logs).
//   - A CORS preflight passes without a token (browsers never send
//     credentials on a preflight); the MCP handler answers it.
package authn
