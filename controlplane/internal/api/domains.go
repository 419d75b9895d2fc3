package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// Custom domains: the hostnames gateways answer on, the platform's own or a
// tenant's (mcp.customer.com). On a tenant's domain a gateway accepts only
// that tenant's tokens, so a domain decides whose traffic a hostname carries:
// only platform admins write them. A tenant admin may list its own.

// domainRoutes is the route table of custom domains.
func (s *server) domainRoutes() []route {
	return []route{
		{http.MethodGet, "/v1/domains", platformOnly, s.listDomains, 0},
		{http.MethodPost, "/v1/domains", platformOnly, s.createDomain, 0},
		{http.MethodGet, "/v1/domains/:id", platformOnly, s.getDomain, 0},
		{http.MethodPut, "/v1/domains/:id", platformOnly, s.updateDomain, 0},
		{http.MethodDelete, "/v1/domains/:id", platformOnly, s.deleteDomain, 0},
		{http.MethodGet, "/v1/tenants/:tenant/domains", tenantAdmin, s.listDomains, 0},
	}
}

// listDomains lists every domain (/v1/domains) or one tenant's
// (/v1/tenants/:tenant/domains; a tenant admin only reaches its own, and
// row-level security narrows the rows to it again).
func (s *server) listDomains(c echo.Context) error {
	tenantID := c.Param("tenant")
	return listPage(s, c, func(ctx context.Context, tx store.Tx, p store.Page) ([]store.DomainRecord, string, error) {
		return tx.ListDomains(ctx, tenantID, p)
	})
}

func (s *server) getDomain(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var d store.DomainRecord
	err = s.inTx(c, func(tx store.Tx) (err error) {
		d, err = tx.GetDomain(c.Request().Context(), id)
		return err
	})
	if err != nil {
		return err
	}
	setETag(c, d.Revision)
	return ok(c, d)
}

// decodeDomain reads, strictly decodes and validates a domain body.
func decodeDomain(c echo.Context) (model.Domain, []byte, error) {
	body, err := readBody(c)
	if err != nil {
		return model.Domain{}, nil, err
	}
	var d model.Domain
	if err := decodeStrict(body, &d); err != nil {
		return model.Domain{}, nil, err
	}
	if err := validationProblem(d.Validate()); err != nil {
		return model.Domain{}, nil, err
	}
	return d, body, nil
}

func (s *server) createDomain(c echo.Context) error {
	d, body, err := decodeDomain(c)
	if err != nil {
		return err
	}
	return s.writeDomain(c, body, d, func(ctx context.Context, tx store.Tx) (store.DomainRecord, error) {
		return tx.CreateDomain(ctx, d)
	}, func(rec store.DomainRecord) reply {
		return reply{status: http.StatusCreated, body: rec, location: "/v1/domains/" + rec.ID}
	})
}

// writeDomain stores d with save, in one write after checking its tenant,
// and answers what answer makes of the stored record.
func (s *server) writeDomain(c echo.Context, body []byte, d model.Domain,
	save func(ctx context.Context, tx store.Tx) (store.DomainRecord, error), answer func(store.DomainRecord) reply,
) error {
	return s.write(c, body, func(tx store.Tx) (reply, error) {
		ctx := c.Request().Context()
		if err := checkDomainTenant(ctx, tx, d); err != nil {
			return reply{}, err
		}
		rec, err := save(ctx, tx)
		if err != nil {
			return reply{}, domainWriteError(err, d)
		}
		return answer(rec), nil
	})
}

func (s *server) updateDomain(c echo.Context) error {
	id, rev, err := writeTarget(c)
	if err != nil {
		return err
	}
	d, body, err := decodeDomain(c)
	if err != nil {
		return err
	}
	return s.writeDomain(c, body, d, func(ctx context.Context, tx store.Tx) (store.DomainRecord, error) {
		return tx.UpdateDomain(ctx, id, d, rev)
	}, func(rec store.DomainRecord) reply { return reply{status: http.StatusOK, body: rec} })
}

func (s *server) deleteDomain(c echo.Context) error {
	id, rev, err := writeTarget(c)
	if err != nil {
		return err
	}
	return s.write(c, nil, func(tx store.Tx) (reply, error) {
		if err := tx.DeleteDomain(c.Request().Context(), id, rev); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusNoContent}, nil
	})
}

// checkDomainTenant refuses a tenant domain whose tenant does not exist: the
// request is well-formed but names nothing, so it is a validation failure
// (422) on tenant_id, not a missing resource.
func checkDomainTenant(ctx context.Context, tx store.Tx, d model.Domain) error {
	if d.TenantID == "" {
		return nil
	}
	_, err := tx.GetTenant(ctx, d.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return fieldProblem(CodeValidationFailed, "tenant_id", "no tenant with this id exists")
	}
	return err
}

// domainWriteError explains the store's refusals of a domain write: a
// hostname already registered (to anyone: hostnames are global), or a tenant
// deleted between the check and the write (the store's foreign key).
func domainWriteError(err error, d model.Domain) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return &Error{Code: CodeConflict, Detail: "the hostname " + quote(d.Hostname) + " is already registered",
			Fields: []model.FieldError{{Field: "hostname", Message: "already registered"}}, cause: err}
	case errors.Is(err, store.ErrInvalid) && d.TenantID != "":
		return &Error{Code: CodeValidationFailed, Detail: "no tenant with this id exists",
			Fields: []model.FieldError{{Field: "tenant_id", Message: "no tenant with this id exists"}}, cause: err}
	}
	return err
}
