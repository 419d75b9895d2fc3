package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// resourceMeta are the fields the server owns in every resource
// representation; clients never send them.
type resourceMeta struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id,omitempty"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// reservedFields are the meta fields a stored spec may not shadow.
var reservedFields = []string{"id", "tenant_id", "revision", "created_at", "updated_at"}

// representation renders a stored record as the API shows it: the spec's
// fields flattened next to the meta fields.
func representation(r store.Record) (json.RawMessage, error) {
	meta, err := json.Marshal(resourceMeta{ID: r.ID, TenantID: r.TenantID, Revision: r.Revision, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt})
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.Spec, &fields); err != nil {
		return nil, fmt.Errorf("stored spec of %s is not a JSON object: %w", r.ID, err)
	}
	for _, k := range reservedFields {
		delete(fields, k)
	}
	if len(fields) == 0 {
		return meta, nil
	}
	spec, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(meta[:len(meta)-1])
	b.WriteByte(',')
	b.Write(spec[1:])
	return b.Bytes(), nil
}

// representations renders a page of records.
func representations(rs []store.Record) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(rs))
	for _, r := range rs {
		j, err := representation(r)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// getResource answers the read of one record of kind in tenantID's scope
// ("" = global), the :id of the path, with its revision as the ETag.
func (s *server) getResource(c echo.Context, kind store.Kind, tenantID string) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	var rec store.Record
	err = s.inTx(c, func(tx store.Tx) (err error) {
		rec, err = tx.GetResource(c.Request().Context(), kind, tenantID, id)
		return err
	})
	if err != nil {
		return err
	}
	out, err := representation(rec)
	if err != nil {
		return err
	}
	setETag(c, rec.Revision)
	return ok(c, out)
}
