package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Audit events are written by the platform's ingestion worker only and are
// append-only (row-level security has no UPDATE policy for them). A tenant
// actor reads its own tenant's events.

// filterColumns reads the indexed filter fields from the event JSON when the
// caller left them empty.
func filterColumns(e *AuditEvent) {
	if e.UserID != "" && e.Tool != "" && e.Decision != "" {
		return
	}
	var fields struct {
		UserID   string `json:"user_id"`
		Tool     string `json:"tool"`
		Decision string `json:"decision"`
	}
	if json.Unmarshal(e.Event, &fields) != nil {
		return // the event may carry these under other types; filters then miss it, the insert does not fail
	}
	if e.UserID == "" {
		e.UserID = fields.UserID
	}
	if e.Tool == "" {
		e.Tool = fields.Tool
	}
	if e.Decision == "" {
		e.Decision = fields.Decision
	}
}

func (t *pgTx) InsertAuditEvents(ctx context.Context, events []AuditEvent) (int, error) {
	if err := t.requirePlatform(); err != nil {
		return 0, err
	}
	if len(events) == 0 {
		return 0, nil
	}
	n := len(events)
	ids, tenants, users, tools, decisions, bodies := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	for i := range events {
		e := events[i]
		if e.ID == "" || e.Time.IsZero() || !json.Valid(e.Event) {
			return 0, fmt.Errorf("%w: audit event %d needs an id, a time and a JSON body", ErrInvalid, i)
		}
		filterColumns(&e)
		ids[i], times[i], tenants[i], users[i], tools[i], decisions[i], bodies[i] =
			e.ID, e.Time, e.TenantID, e.UserID, e.Tool, e.Decision, string(e.Event)
	}
	// One statement for the batch; ON CONFLICT DO NOTHING makes a redelivered
	// event (same id and time) a no-op, also within one batch.
	tag, err := t.tx.Exec(ctx, `
		INSERT INTO audit_events (id, time, tenant_id, user_id, tool, decision, event)
		SELECT id, time, nullif(tenant_id, ''), user_id, tool, decision, event::jsonb
		FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
			AS e(id, time, tenant_id, user_id, tool, decision, event)
		ON CONFLICT DO NOTHING`, ids, times, tenants, users, tools, decisions, bodies)
	if err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}

// QueryAudit returns events newest first. A tenant actor sees only its own
// tenant's events whatever the filter says.
func (t *pgTx) QueryAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEvent, string, error) {
	pg, err := pageOf(p)
	if err != nil {
		return nil, "", err
	}
	var from, to *time.Time
	if !f.From.IsZero() {
		from = &f.From
	}
	if !f.To.IsZero() {
		to = &f.To
	}
	rows, err := t.tx.Query(ctx, `
		SELECT id, time, coalesce(tenant_id, ''), user_id, tool, decision, event FROM audit_events
		WHERE ($1 = '' OR tenant_id = $1) AND ($2 = '' OR user_id = $2) AND ($3 = '' OR tool = $3)
		  AND ($4 = '' OR decision = $4)
		  AND ($5::timestamptz IS NULL OR time >= $5) AND ($6::timestamptz IS NULL OR time < $6)
		  AND (NOT $7 OR (time, id) < ($8, $9))
		ORDER BY time DESC, id DESC LIMIT $10`,
		f.TenantID, f.UserID, f.Tool, f.Decision, from, to, pg.after, pg.at, pg.id, pg.limit+1)
	return collectPage(rows, err, pg.limit, func(r pgx.CollectableRow) (AuditEvent, error) {
		var e AuditEvent
		err := r.Scan(&e.ID, &e.Time, &e.TenantID, &e.UserID, &e.Tool, &e.Decision, &e.Event)
		return e, err
	}, func(e AuditEvent) (time.Time, string) { return e.Time, e.ID })
}
