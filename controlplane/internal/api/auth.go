package api

import (
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/authn"
)

// callerKey is the echo context key of the authenticated caller.
const callerKey = "portcullis.caller"

// caller is an authenticated admin: either a platform admin, or the admin of
// exactly one tenant.
type caller struct {
	principal authn.Principal
	platform  bool
	tenantID  string // tenant-admin's own tenant; "" for platform admins
}

// actor is who the caller's transactions run as; it decides row-level
// security in Postgres, the second line of tenant isolation.
func (cl caller) actor() store.Actor {
	a := store.Actor{Subject: cl.principal.Subject, Email: cl.principal.Email}
	if cl.platform {
		a.Platform = true
	} else {
		a.TenantID = cl.tenantID
	}
	return a
}

// idempotencyPrincipal keys Idempotency-Key records: the same key from two
// principals are two different requests.
func (cl caller) idempotencyPrincipal() string {
	return cl.principal.Issuer + " " + cl.principal.Subject
}

// callerOf returns the caller set by authenticate.
func callerOf(c echo.Context) caller {
	cl, _ := c.Get(callerKey).(caller)
	return cl
}

// tenantIDPattern is the shape of tenant ids (CONTRACTS.md).
var tenantIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

// authenticate validates the bearer token and decides the caller's role. A
// token without an admin role is valid but forbidden; a tenant-admin token
// without a well-formed tenant claim cannot be scoped, so it is forbidden too.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return problemf(CodeUnauthenticated, "a bearer token is required")
		}
		p, err := s.auth.Validate(c.Request().Context(), raw)
		if err != nil {
			// The reason (expired, bad signature, wrong audience) is logged,
			// not sent: it would help an attacker tune forged tokens.
			return &Error{Code: CodeUnauthenticated, Detail: "the bearer token is invalid", cause: err}
		}
		var cl caller
		switch {
		case p.HasRole(s.cfg.AdminRoles.Platform):
			cl = caller{principal: p, platform: true}
		case p.HasRole(s.cfg.AdminRoles.Tenant) && tenantIDPattern.MatchString(p.TenantID):
			cl = caller{principal: p, tenantID: p.TenantID}
		default:
			return problemf(CodeForbidden, "the token carries no admin role")
		}
		c.Set(callerKey, cl)
		return next(c)
	}
}

// authorize enforces a route's access level. Handlers narrow further (a
// tenant-admin listing tenants sees only its own), and Postgres row-level
// security backs both.
func (s *server) authorize(a access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cl := callerOf(c)
			switch a {
			case platformOnly:
				if !cl.platform {
					return problemf(CodeForbidden, "this requires the platform admin role")
				}
			case tenantAdmin:
				t := c.Param("tenant")
				if !cl.platform && t != cl.tenantID {
					return problemf(CodeForbidden, "a tenant admin may only manage its own tenant")
				}
			case anyAdmin:
			default:
				return problemf(CodeForbidden, "route is not open to admins")
			}
			if t := c.Param("tenant"); t != "" && !tenantIDPattern.MatchString(t) {
				return problemf(CodeNotFound, "no such tenant")
			}
			return next(c)
		}
	}
}

// bearerToken extracts the token of an "Authorization: Bearer <token>" header.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
