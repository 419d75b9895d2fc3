// Package authn validates the bearer JWTs both planes accept: admin tokens at the
// control plane and agent tokens at the gateway. One implementation, so both
// planes reject exactly the same forged, expired or mis-targeted tokens.
//
// It fetches OIDC discovery documents and JWKS over HTTP, an exception to
// shared/'s no-I/O rule like shared/tlsconfig and shared/serve: key fetching,
// caching and refresh on an unknown kid are part of what must behave
// identically in both planes.
package authn

import "time"

// Principal is who a validated token speaks for.
type Principal struct {
	Issuer      string
	Subject     string
	Email       string
	TenantID    string
	Roles       []string
	Permissions []string
	ACR         string
	AuthTime    time.Time
	Claims      map[string]any // all claims, for policy attributes
}

// HasRole reports whether the principal holds role.
func (p Principal) HasRole(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}
