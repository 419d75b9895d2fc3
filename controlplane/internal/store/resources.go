package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// kindInfo says how a Kind is stored. Table names come from this fixed table
// only, never from input, so building SQL with them is safe.
type kindInfo struct {
	table        string
	scoped       bool // has tenant_id (NULL = global); otherwise platform-owned
	platformOnly bool // scoped, but only the platform writes it (tenants read their own rows)
}

var kinds = map[Kind]kindInfo{
	KindToolSource:  {table: "tool_sources"},
	KindTool:        {table: "tools"},
	KindAccessRule:  {table: "access_rules", scoped: true},
	KindPolicy:      {table: "policies", scoped: true},
	KindHook:        {table: "hooks", scoped: true, platformOnly: true},
	KindMaskingRule: {table: "masking_rules", scoped: true},
	KindRateLimit:   {table: "rate_limits", scoped: true},
	KindNetworkRule: {table: "network_rules", scoped: true},
}

// ScopedKinds are the kinds that exist both globally and per tenant, in the
// order a snapshot lists them.
var ScopedKinds = []Kind{KindAccessRule, KindPolicy, KindHook, KindMaskingRule, KindRateLimit, KindNetworkRule}

// PlatformKinds are the platform-owned kinds (global scope only).
var PlatformKinds = []Kind{KindToolSource, KindTool}

// lookupKind validates kind and tenantID together: platform-owned kinds have
// no tenant rows.
func lookupKind(kind Kind, tenantID string) (kindInfo, error) {
	k, ok := kinds[kind]
	if !ok {
		return kindInfo{}, fmt.Errorf("%w: unknown kind %q", ErrInvalid, kind)
	}
	if !k.scoped && tenantID != "" {
		return kindInfo{}, fmt.Errorf("%w: %s are platform-owned, not per tenant", ErrInvalid, kind)
	}
	return k, nil
}

func (k kindInfo) cols() string {
	tenant := `''`
	if k.scoped {
		tenant = `coalesce(tenant_id, '')`
	}
	return `id::text, ` + tenant + `, name, revision, spec, created_at, updated_at`
}

// scopeCond restricts a query to one scope; $1 is always the tenant id ("" = global).
func (k kindInfo) scopeCond() string {
	if k.scoped {
		return `coalesce(tenant_id, '') = $1`
	}
	return `$1 = ''`
}

func scanRecord(row pgx.Row) (Record, error) {
	var r Record
	err := row.Scan(&r.ID, &r.TenantID, &r.Name, &r.Revision, &r.Spec, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// canWrite refuses writes a tenant actor may never make (platform-owned or
// platform-written kinds, global rows) before any SQL runs; row-level security is the backstop. A
// tenant actor writing another tenant's rows is left to row-level security
// alone, so the contract tests exercise it.
func (t *pgTx) canWrite(k kindInfo, tenantID string) error {
	if t.actor.Platform {
		return nil
	}
	if !k.scoped || k.platformOnly || tenantID == "" {
		return ErrForbidden
	}
	return nil
}

// validID rejects ids that are not UUIDs: such a row cannot exist.
func validID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrNotFound
	}
	return nil
}

func (t *pgTx) CreateResource(ctx context.Context, kind Kind, tenantID, name string, spec json.RawMessage) (Record, error) {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return Record{}, err
	}
	if err := t.canWrite(k, tenantID); err != nil {
		return Record{}, err
	}
	if !json.Valid(spec) {
		return Record{}, fmt.Errorf("%w: spec is not JSON", ErrInvalid)
	}
	var q string
	args := []any{name, string(spec), t.actor.Subject}
	if k.scoped {
		q = `INSERT INTO ` + k.table + ` (name, spec, created_by, tenant_id) VALUES ($1, $2, $3, nullif($4, ''))`
		args = append(args, tenantID)
	} else {
		q = `INSERT INTO ` + k.table + ` (name, spec, created_by) VALUES ($1, $2, $3)`
	}
	r, err := scanRecord(t.tx.QueryRow(ctx, q+` RETURNING `+k.cols(), args...))
	if err != nil {
		return Record{}, mapErr(err)
	}
	t.touch(scopeOf(tenantID))
	return r, nil
}

func (t *pgTx) GetResource(ctx context.Context, kind Kind, tenantID, id string) (Record, error) {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return Record{}, err
	}
	if err := validID(id); err != nil {
		return Record{}, err
	}
	r, err := scanRecord(t.tx.QueryRow(ctx,
		`SELECT `+k.cols()+` FROM `+k.table+` WHERE `+k.scopeCond()+` AND id = $2`, tenantID, id))
	return r, mapErr(err)
}

func (t *pgTx) ListResources(ctx context.Context, kind Kind, tenantID string, p Page) ([]Record, string, error) {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return nil, "", err
	}
	pg, err := uuidPageOf(p)
	if err != nil {
		return nil, "", err
	}
	rows, err := t.tx.Query(ctx, `
		SELECT `+k.cols()+` FROM `+k.table+`
		WHERE `+k.scopeCond()+` AND (NOT $2 OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`, tenantID, pg.after, pg.at, pg.id, pg.limit+1)
	return collectPage(rows, err, pg.limit, func(r pgx.CollectableRow) (Record, error) { return scanRecord(r) },
		func(r Record) (time.Time, string) { return r.CreatedAt, r.ID })
}

func (t *pgTx) UpdateResource(ctx context.Context, kind Kind, tenantID, id, name string, spec json.RawMessage, ifMatch int64) (Record, error) {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return Record{}, err
	}
	if err := t.canWrite(k, tenantID); err != nil {
		return Record{}, err
	}
	if err := validID(id); err != nil {
		return Record{}, err
	}
	if !json.Valid(spec) {
		return Record{}, fmt.Errorf("%w: spec is not JSON", ErrInvalid)
	}
	if err := t.lockResource(ctx, k, tenantID, id, ifMatch); err != nil {
		return Record{}, err
	}
	r, err := scanRecord(t.tx.QueryRow(ctx, `
		UPDATE `+k.table+` SET name = $3, spec = $4, revision = revision + 1, updated_at = now()
		WHERE `+k.scopeCond()+` AND id = $2 RETURNING `+k.cols(), tenantID, id, name, string(spec)))
	if err != nil {
		return Record{}, mapErr(err)
	}
	t.touch(scopeOf(tenantID))
	return r, nil
}

func (t *pgTx) DeleteResource(ctx context.Context, kind Kind, tenantID, id string, ifMatch int64) error {
	k, err := lookupKind(kind, tenantID)
	if err != nil {
		return err
	}
	if err := t.canWrite(k, tenantID); err != nil {
		return err
	}
	if err := validID(id); err != nil {
		return err
	}
	if err := t.lockResource(ctx, k, tenantID, id, ifMatch); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `DELETE FROM `+k.table+` WHERE `+k.scopeCond()+` AND id = $2`, tenantID, id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	t.touch(scopeOf(tenantID))
	return nil
}

// lockResource locks the row and checks ifMatch (see checkRevision).
func (t *pgTx) lockResource(ctx context.Context, k kindInfo, tenantID, id string, ifMatch int64) error {
	return t.checkRevision(ctx, ifMatch, `SELECT revision FROM `+k.table+` WHERE `+k.scopeCond()+` AND id = $2 FOR UPDATE`,
		tenantID, id)
}
