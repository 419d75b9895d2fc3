package api

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

func (s *server) queryAllAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	if t := c.QueryParam("tenant"); t != "" {
		if !tenantIDPattern.MatchString(t) {
			return fieldProblem(CodeInvalidParameter, "tenant", "not a tenant id")
		}
		f.TenantID = t
	}
	return s.queryAudit(c, f)
}

func (s *server) queryTenantAudit(c echo.Context) error {
	if c.QueryParam("tenant") != "" {
		return fieldProblem(CodeInvalidParameter, "tenant", "the tenant is the one in the path")
	}
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	f.TenantID = c.Param("tenant")
	return s.queryAudit(c, f)
}

func (s *server) queryAudit(c echo.Context, f store.AuditFilter) error {
	return listPage(s, c, func(ctx context.Context, tx store.Tx, p store.Page) ([]store.AuditEvent, string, error) {
		return tx.QueryAudit(ctx, f, p)
	})
}

// auditFilter parses the shared filters: user, tool, decision, from, to.
func auditFilter(c echo.Context) (store.AuditFilter, error) {
	f := store.AuditFilter{UserID: c.QueryParam("user"), Tool: c.QueryParam("tool"), Decision: c.QueryParam("decision")}
	for name, v := range map[string]string{"user": f.UserID, "tool": f.Tool, "decision": f.Decision} {
		if len(v) > 256 {
			return f, fieldProblem(CodeInvalidParameter, name, "at most 256 characters")
		}
	}
	var err error
	if f.From, err = timeParam(c, "from"); err != nil {
		return f, err
	}
	if f.To, err = timeParam(c, "to"); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return f, fieldProblem(CodeInvalidParameter, "to", "must not be before from")
	}
	return f, nil
}

// timeParam parses an RFC 3339 query parameter; absent is the zero time.
func timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fieldProblem(CodeInvalidParameter, name, "must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
	}
	return t, nil
}
