package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

// OutboxChannel is the LISTEN/NOTIFY channel a committed write notifies, with
// the scope as payload, so the relay wakes at once instead of polling.
const OutboxChannel = "portcullis_outbox"

// Options configures Open.
type Options struct {
	// MaxConns caps the pool; 0 means 10.
	MaxConns int32
	// Sealer seals secrets at rest (backend keys, the bundle signing key) with
	// the master key. Without it every key operation fails.
	Sealer *seal.Sealer
	// Logger receives the store's rare operational messages; nil means slog.Default().
	Logger *slog.Logger
}

// Store is the Postgres implementation of TxRunner plus the platform-only
// methods the relay and background workers use.
type Store struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	log    *slog.Logger
}

var _ TxRunner = (*Store)(nil)

// Open connects a pool and checks the database answers.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("store: database URL does not parse") // never echo a URL that may hold a password
	}
	cfg.MaxConns = 10
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "portcullis-controlplane" // shows in pg_stat_activity
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	s := &Store{pool: pool, sealer: opts.Sealer, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

var tenantIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

// Tx runs fn in one READ COMMITTED transaction as actor. The actor's
// row-level-security context is set transaction-locally before fn runs. When
// fn succeeds, every scope it wrote is bumped once, in sorted order (so two
// transactions touching the same scopes cannot deadlock on them), with one
// outbox row and one NOTIFY each, and the transaction commits. Any error from
// fn (or from a store method: after one, Postgres refuses further statements)
// rolls everything back.
func (s *Store) Tx(ctx context.Context, actor Actor, fn func(Tx) error) error {
	if !actor.Platform && !tenantIDPattern.MatchString(actor.TenantID) {
		return ErrForbidden
	}
	return s.run(ctx, actor, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(t *pgTx) error {
		if err := fn(t); err != nil {
			return err
		}
		return t.bumpTouched(ctx)
	})
}

// system is the actor of the store's own platform-level work (relay, workers).
var system = Actor{Subject: "system:store", Platform: true}

// run begins a transaction, sets the actor's context, runs fn and commits.
func (s *Store) run(ctx context.Context, actor Actor, opts pgx.TxOptions, fn func(*pgTx) error) (err error) {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		// Roll back after an error, a cancelled ctx or a panic in fn (re-raised:
		// the pool must get its connection back either way). Rollback's own
		// error adds nothing: a broken connection is discarded by the pool.
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	platform, tenant := "off", actor.TenantID
	if actor.Platform {
		platform, tenant = "on", ""
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('portcullis.platform', $1, true), set_config('portcullis.tenant_id', $2, true)`,
		platform, tenant); err != nil {
		return fmt.Errorf("store: set actor: %w", err)
	}
	t := &pgTx{tx: tx, actor: actor, sealer: s.sealer, touched: map[model.Scope]bool{}}
	if err := fn(t); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(fmt.Errorf("store: commit: %w", err))
	}
	return nil
}

// pgTx implements Tx on one pgx transaction.
type pgTx struct {
	tx      pgx.Tx
	actor   Actor
	sealer  *seal.Sealer
	touched map[model.Scope]bool
}

// touch records that this transaction changed scope's configuration.
func (t *pgTx) touch(scope model.Scope) { t.touched[scope] = true }

// bumpTouched bumps the revision of every touched scope, enqueues an outbox
// row and notifies the relay. The upsert's row lock, held until commit, makes
// concurrent writers of a scope commit in revision order.
func (t *pgTx) bumpTouched(ctx context.Context) error {
	scopes := make([]string, 0, len(t.touched))
	for s := range t.touched {
		scopes = append(scopes, string(s))
	}
	slices.Sort(scopes)
	for _, scope := range scopes {
		var rev int64
		err := t.tx.QueryRow(ctx, `
			INSERT INTO scope_revisions AS r (scope, revision) VALUES ($1, 1)
			ON CONFLICT (scope) DO UPDATE SET revision = r.revision + 1
			RETURNING revision`, scope).Scan(&rev)
		if err != nil {
			return mapErr(fmt.Errorf("store: bump %s: %w", scope, err))
		}
		if _, err := t.tx.Exec(ctx, `INSERT INTO outbox (scope, revision) VALUES ($1, $2)`, scope, rev); err != nil {
			return mapErr(fmt.Errorf("store: enqueue %s: %w", scope, err))
		}
		if _, err := t.tx.Exec(ctx, `SELECT pg_notify($1, $2)`, OutboxChannel, scope); err != nil {
			return mapErr(fmt.Errorf("store: notify %s: %w", scope, err))
		}
	}
	return nil
}

// requirePlatform guards platform-only methods before any SQL runs; row-level
// security refuses the same statements anyway.
func (t *pgTx) requirePlatform() error {
	if !t.actor.Platform {
		return ErrForbidden
	}
	return nil
}

// mapErr turns Postgres errors into the store's sentinel errors, keeping the
// original in the chain for logs (handlers never show it to clients).
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case "42501": // insufficient_privilege: a row-level-security WITH CHECK refused the row
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case "23503": // foreign_key_violation: the tenant does not exist (or is not visible)
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case "23514", "23502", "22P02", "22001", "22023", "22007", "22008": // check, not null, bad text/json, too long, bad value
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return err
}

// Pagination. A cursor is the (time, id) of the last row of the previous
// page, base64url-encoded; rows are ordered by (time, id) so pages never skip
// or repeat a row even when many rows share a timestamp.

const (
	defaultLimit = 50
	maxLimit     = 500
)

func limitOf(p Page) (int, error) {
	switch {
	case p.Limit == 0:
		return defaultLimit, nil
	case p.Limit < 0 || p.Limit > maxLimit:
		return 0, fmt.Errorf("%w: page limit must be 1-%d", ErrInvalid, maxLimit)
	}
	return p.Limit, nil
}

type cursor struct {
	at time.Time
	id string
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "|" + id))
}

// decodeCursor returns ok=false for an empty cursor (first page).
func decodeCursor(s string) (c cursor, ok bool, err error) {
	if s == "" {
		return cursor{}, false, nil
	}
	bad := fmt.Errorf("%w: malformed cursor", ErrInvalid)
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, bad
	}
	micros, id, found := strings.Cut(string(raw), "|")
	if !found || id == "" || len(id) > 200 {
		return cursor{}, false, bad
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return cursor{}, false, bad
	}
	return cursor{at: time.UnixMicro(n).UTC(), id: id}, true, nil
}

// page is a checked Page request: up to limit rows, after the cursor unless
// this is the first page.
type page struct {
	limit int
	after bool // false: the first page
	cursor
}

// pageOf checks p's limit, then decodes its cursor.
func pageOf(p Page) (page, error) {
	limit, err := limitOf(p)
	if err != nil {
		return page{}, err
	}
	c, after, err := decodeCursor(p.Cursor)
	if err != nil {
		return page{}, err
	}
	return page{limit: limit, after: after, cursor: c}, nil
}

// uuidPageOf is pageOf for tables keyed by uuid: a cursor's id must be a
// uuid, and the first page carries the nil uuid, as the queries cast the id
// parameter to uuid even when it is not compared.
func uuidPageOf(p Page) (page, error) {
	pg, err := pageOf(p)
	if err != nil {
		return page{}, err
	}
	if !pg.after {
		pg.id = uuid.Nil.String()
	} else if err := validID(pg.id); err != nil {
		return page{}, fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	return pg, nil
}

// collectPage scans the rows of a query that fetched limit+1 rows (qerr is
// the query's error) and returns up to limit of them with the next page's
// cursor.
func collectPage[T any](rows pgx.Rows, qerr error, limit int, scan pgx.RowToFunc[T], key func(T) (time.Time, string)) ([]T, string, error) {
	if qerr != nil {
		return nil, "", mapErr(qerr)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, "", mapErr(err)
	}
	out, next := nextCursor(out, limit, key)
	return out, next, nil
}

// nextCursor trims a result fetched with limit+1 rows to limit and returns the
// cursor of the next page ("" on the last page).
func nextCursor[T any](rows []T, limit int, key func(T) (time.Time, string)) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	at, id := key(rows[limit-1])
	return rows, encodeCursor(at, id)
}

// randomID returns prefix + 26 lowercase base32 characters (128 random bits).
func randomID(prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: random: %w", err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// scopeOf is the bundle scope a row of tenantID ("" = global) belongs to.
func scopeOf(tenantID string) model.Scope {
	if tenantID == "" {
		return model.GlobalScope
	}
	return model.TenantScope(tenantID)
}

// parseScope validates a scope name from outside (the relay).
func parseScope(scope model.Scope) (tenantID string, err error) {
	if scope == model.GlobalScope {
		return "", nil
	}
	id, ok := strings.CutPrefix(string(scope), "tenant/")
	if !ok || !tenantIDPattern.MatchString(id) {
		return "", fmt.Errorf("%w: scope %q", ErrInvalid, scope)
	}
	return id, nil
}
