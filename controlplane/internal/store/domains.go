package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/portcullis/portcullis/shared/model"
)

// Custom domains. They are platform-owned: only the platform writes them, and
// every write touches the global scope (not the tenant's), because every
// gateway needs every domain to route a request by its Host and to pick the
// tenant whose tokens it accepts there. A tenant actor may read its own
// tenant's domains; row-level security enforces both rules again.

const domainCols = `id::text, hostname, coalesce(tenant_id, ''), authorization_server, revision, created_at, updated_at`

func scanDomain(row pgx.Row) (DomainRecord, error) {
	var r DomainRecord
	err := row.Scan(&r.ID, &r.Hostname, &r.TenantID, &r.AuthorizationServer, &r.Revision, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// domainErr is mapErr, except that a foreign-key violation (the tenant does
// not exist, or was deleted concurrently) is invalid input, not a missing
// domain.
func domainErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: the domain's tenant does not exist: %w", ErrInvalid, err)
	}
	return mapErr(err)
}

func (t *pgTx) CreateDomain(ctx context.Context, d model.Domain) (DomainRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return DomainRecord{}, err
	}
	r, err := scanDomain(t.tx.QueryRow(ctx, `
		INSERT INTO domains (hostname, tenant_id, authorization_server, created_by) VALUES ($1, nullif($2, ''), $3, $4)
		RETURNING `+domainCols, d.Hostname, d.TenantID, d.AuthorizationServer, t.actor.Subject))
	if err != nil {
		return DomainRecord{}, domainErr(err)
	}
	t.touch(model.GlobalScope)
	return r, nil
}

func (t *pgTx) GetDomain(ctx context.Context, id string) (DomainRecord, error) {
	if err := validID(id); err != nil {
		return DomainRecord{}, err
	}
	r, err := scanDomain(t.tx.QueryRow(ctx, `SELECT `+domainCols+` FROM domains WHERE id = $1`, id))
	return r, mapErr(err)
}

func (t *pgTx) ListDomains(ctx context.Context, tenantID string, p Page) ([]DomainRecord, string, error) {
	pg, err := uuidPageOf(p)
	if err != nil {
		return nil, "", err
	}
	rows, err := t.tx.Query(ctx, `
		SELECT `+domainCols+` FROM domains
		WHERE ($1 = '' OR tenant_id = $1) AND (NOT $2 OR (created_at, id) > ($3, $4::uuid))
		ORDER BY created_at, id LIMIT $5`, tenantID, pg.after, pg.at, pg.id, pg.limit+1)
	return collectPage(rows, err, pg.limit, func(r pgx.CollectableRow) (DomainRecord, error) { return scanDomain(r) },
		func(r DomainRecord) (time.Time, string) { return r.CreatedAt, r.ID })
}

func (t *pgTx) UpdateDomain(ctx context.Context, id string, d model.Domain, ifMatch int64) (DomainRecord, error) {
	if err := t.requirePlatform(); err != nil {
		return DomainRecord{}, err
	}
	if err := validID(id); err != nil {
		return DomainRecord{}, err
	}
	if err := t.checkRevision(ctx, ifMatch, `SELECT revision FROM domains WHERE id = $1 FOR UPDATE`, id); err != nil {
		return DomainRecord{}, err
	}
	r, err := scanDomain(t.tx.QueryRow(ctx, `
		UPDATE domains SET hostname = $2, tenant_id = nullif($3, ''), authorization_server = $4,
			revision = revision + 1, updated_at = now()
		WHERE id = $1 RETURNING `+domainCols, id, d.Hostname, d.TenantID, d.AuthorizationServer))
	if err != nil {
		return DomainRecord{}, domainErr(err)
	}
	t.touch(model.GlobalScope)
	return r, nil
}

func (t *pgTx) DeleteDomain(ctx context.Context, id string, ifMatch int64) error {
	if err := t.requirePlatform(); err != nil {
		return err
	}
	if err := validID(id); err != nil {
		return err
	}
	if err := t.checkRevision(ctx, ifMatch, `SELECT revision FROM domains WHERE id = $1 FOR UPDATE`, id); err != nil {
		return err
	}
	tag, err := t.tx.Exec(ctx, `DELETE FROM domains WHERE id = $1`, id)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	t.touch(model.GlobalScope)
	return nil
}

// deleteTenantDomains deletes a tenant's domains ahead of the tenant itself
// (the foreign key would cascade, but silently): when there were any, the
// global scope changes and gateways must stop routing those hostnames.
func (t *pgTx) deleteTenantDomains(ctx context.Context, tenantID string) error {
	tag, err := t.tx.Exec(ctx, `DELETE FROM domains WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() > 0 {
		t.touch(model.GlobalScope)
	}
	return nil
}

// allDomains returns every domain, by hostname (the global snapshot).
func (t *pgTx) allDomains(ctx context.Context) ([]DomainRecord, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+domainCols+` FROM domains ORDER BY hostname`)
	if err != nil {
		return nil, mapErr(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DomainRecord, error) { return scanDomain(r) })
	if err != nil {
		return nil, mapErr(err)
	}
	if out == nil {
		out = []DomainRecord{}
	}
	return out, nil
}
