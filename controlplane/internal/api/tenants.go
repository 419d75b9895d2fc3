package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/model"
)

// tenantUpdate is the body of PUT /v1/tenants/:tenant: the id is the path's.
type tenantUpdate struct {
	Name              string `json:"name"`
	DelegationEnabled bool   `json:"delegation_enabled"`
}

// listTenants lists every tenant for a platform admin and only its own for a
// tenant admin.
func (s *server) listTenants(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	cl := callerOf(c)
	var items []store.TenantRecord
	var next string
	err = s.inTx(c, func(tx store.Tx) error {
		if cl.platform {
			items, next, err = tx.ListTenants(c.Request().Context(), p)
			return err
		}
		if p.Cursor != "" { // the one-item page has no next page
			return nil
		}
		t, err := tx.GetTenant(c.Request().Context(), cl.tenantID)
		if err == nil {
			items = []store.TenantRecord{t}
		} else if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, newList(items, next))
}

func (s *server) getTenant(c echo.Context) error {
	var t store.TenantRecord
	err := s.inTx(c, func(tx store.Tx) (err error) {
		t, err = tx.GetTenant(c.Request().Context(), c.Param("tenant"))
		return err
	})
	if err != nil {
		return err
	}
	setETag(c, t.Revision)
	return ok(c, t)
}

func (s *server) createTenant(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var t model.Tenant
	if err := decodeStrict(body, &t); err != nil {
		return err
	}
	if err := validationProblem(t.Validate()); err != nil {
		return err
	}
	return s.write(c, body, func(tx store.Tx) (reply, error) {
		rec, err := tx.CreateTenant(c.Request().Context(), t)
		if err != nil {
			if errors.Is(err, store.ErrConflict) {
				return reply{}, fieldProblem(CodeConflict, "id", "a tenant with this id already exists")
			}
			return reply{}, err
		}
		return reply{status: http.StatusCreated, body: rec, location: "/v1/tenants/" + rec.ID}, nil
	})
}

func (s *server) updateTenant(c echo.Context) error {
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	var u tenantUpdate
	if err := decodeStrict(body, &u); err != nil {
		return err
	}
	t := model.Tenant{ID: c.Param("tenant"), Name: u.Name, DelegationEnabled: u.DelegationEnabled}
	if err := validationProblem(t.Validate()); err != nil {
		return err
	}
	return s.write(c, body, func(tx store.Tx) (reply, error) {
		rec, err := tx.UpdateTenant(c.Request().Context(), t, rev)
		if err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusOK, body: rec}, nil
	})
}

func (s *server) deleteTenant(c echo.Context) error {
	rev, err := ifMatch(c)
	if err != nil {
		return err
	}
	return s.write(c, nil, func(tx store.Tx) (reply, error) {
		if err := tx.DeleteTenant(c.Request().Context(), c.Param("tenant"), rev); err != nil {
			return reply{}, err
		}
		return reply{status: http.StatusNoContent}, nil
	})
}
