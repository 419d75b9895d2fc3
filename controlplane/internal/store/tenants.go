package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/shared/model"
)

// Tenants are written by the platform only (a tenant must never switch on its
// own delegation); a tenant actor reads its own row. Every write touches the
// tenant's scope: the tenant bundle carries the tenant, and a deleted tenant's
// scope gets a last revision the relay publishes as a tombstone. Deleting a
// tenant with custom domains touches the global scope too (see domains.go).

const tenantCols = `id, name, delegation_enabled, revision, created_at, updated_at`

func scanTenant(row pgx.Row) (TenantRecord, error) {
	var r TenantRecord
	err := row.Scan(&r.ID, &r.Name, &r.DelegationEnabled, &r.Revision, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

func (t *pgTx) CreateTenant(ctx context.Context, in model.Tenant) (TenantRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return TenantRecord{}, err
	}
	if !tenantIDPattern.MatchString(in.ID) {
		return TenantRecord{}, fmt.Errorf("%w: tenant id", ErrInvalid)
	}
	r, err := scanTenant(t.tx.QueryRow(ctx, `
		INSERT INTO tenants (id, name, delegation_enabled, created_by) VALUES ($1, $2, $3, $4)
		RETURNING `+tenantCols, in.ID, in.Name, in.DelegationEnabled, t.actor.Subject))
	if err != nil {
		return TenantRecord{}, mapErr(err)
	}
	t.touch(model.TenantScope(r.ID))
	return r, nil
}

func (t *pgTx) GetTenant(ctx context.Context, id string) (TenantRecord, error) {
	r, err := scanTenant(t.tx.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	return r, mapErr(err)
}

func (t *pgTx) ListTenants(ctx context.Context, p Page) ([]TenantRecord, string, error) {
	pg, err := pageOf(p)
	if err != nil {
		return nil, "", err
	}
	rows, err := t.tx.Query(ctx, `
		SELECT `+tenantCols+` FROM tenants
		WHERE NOT $1 OR (created_at, id) > ($2, $3)
		ORDER BY created_at, id LIMIT $4`, pg.after, pg.at, pg.id, pg.limit+1)
	return collectPage(rows, err, pg.limit, func(r pgx.CollectableRow) (TenantRecord, error) { return scanTenant(r) },
		func(r TenantRecord) (time.Time, string) { return r.CreatedAt, r.ID })
}

func (t *pgTx) UpdateTenant(ctx context.Context, in model.Tenant, ifMatch int64) (TenantRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return TenantRecord{}, err
	}
	if err := t.checkRevision(ctx, ifMatch, `SELECT revision FROM tenants WHERE id = $1 FOR UPDATE`, in.ID); err != nil {
		return TenantRecord{}, err
	}
	r, err := scanTenant(t.tx.QueryRow(ctx, `
		UPDATE tenants SET name = $2, delegation_enabled = $3, revision = revision + 1, updated_at = now()
		WHERE id = $1 RETURNING `+tenantCols, in.ID, in.Name, in.DelegationEnabled))
	if err != nil {
		return TenantRecord{}, mapErr(err)
	}
	t.touch(model.TenantScope(r.ID))
	return r, nil
}

func (t *pgTx) DeleteTenant(ctx context.Context, id string, ifMatch int64) error {
	if err := t.requirePlatform(); err != nil {
		return err
	}
	if err := t.checkRevision(ctx, ifMatch, `SELECT revision FROM tenants WHERE id = $1 FOR UPDATE`, id); err != nil {
		return err
	}
	if err := t.deleteTenantDomains(ctx, id); err != nil {
		return err
	}
	// ON DELETE CASCADE removes the tenant's resources and approvals; its
	// audit events stay (the trail outlives the tenant).
	if _, err := t.tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id); err != nil {
		return mapErr(err)
	}
	t.touch(model.TenantScope(id))
	return nil
}

// checkRevision locks one row with query (which selects its revision, FOR
// UPDATE, by args) and compares it with ifMatch. FOR UPDATE also applies the
// UPDATE policies of row-level security, so a row the actor may read but not
// write is not found.
func (t *pgTx) checkRevision(ctx context.Context, ifMatch int64, query string, args ...any) error {
	var rev int64
	if err := t.tx.QueryRow(ctx, query, args...).Scan(&rev); err != nil {
		return mapErr(err)
	}
	if ifMatch != 0 && rev != ifMatch {
		return ErrPrecondition
	}
	return nil
}
