package api

import (
	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// fleet lists the gateways and the bundle revisions each has applied, so an
// operator sees whether a change has reached every replica.
func (s *server) fleet(c echo.Context) error {
	var gws []store.Gateway
	err := s.inTx(c, func(tx store.Tx) (err error) {
		gws, err = tx.ListGateways(c.Request().Context())
		return err
	})
	if err != nil {
		return err
	}
	return ok(c, newList(gws, ""))
}
