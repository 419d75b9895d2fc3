// Package relay drains the transactional outbox into signed bundles in the
// JetStream KV bucket "portcullis-bundles", one key per scope.
//
// Invariants (see also DESIGN.md, bundles):
//
//   - Nothing is lost. An outbox row is only marked published after the KV
//     holds a bundle of that revision or a newer one. A crash, a lost lock or a
//     NATS outage leaves rows pending; the next pass publishes them.
//   - Revisions never go backwards in the KV. Every publish reads the current
//     entry, verifies it against the control plane's own signing keys, skips
//     when it already holds our revision or a newer one, and otherwise writes
//     with kv.Update(key, value, lastSeq) (kv.Create when the key is absent).
//     A concurrent writer makes that compare-and-set fail and the loser
//     re-reads. This, not the lock below, is what guarantees ordering.
//   - One publisher at a time, for efficiency: each relay holds a dedicated
//     Postgres connection, LISTENs on "portcullis_outbox" on it and tries to
//     take a session-level advisory lock (pg_try_advisory_lock) on it. Only the
//     holder drains. If the connection dies, Postgres releases the lock and
//     another relay takes over on its next tick; if both briefly believe they
//     lead (a half-dead connection), the compare-and-set keeps the KV ordered.
//   - A bundle always describes the scope as it is at its revision: it is
//     built from Store.Snapshot, which reads the configuration and the scope's
//     revision in one transaction. Intermediate revisions may be skipped (a
//     gateway only ever needs the latest); older ones are never published
//     after newer ones.
//
// Goroutines: Run owns everything (the connection, the bucket handle, the
// backoff state); nothing is shared with other goroutines except metrics.
package relay

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

// Bucket is the KV bucket holding one signed bundle per scope (CONTRACTS.md).
const Bucket = "portcullis-bundles"

// NotifyChannel is the Postgres channel the store NOTIFYs on each outbox row.
const NotifyChannel = "portcullis_outbox"

// lockKey is the advisory lock key of the single publisher: an arbitrary
// constant ("PCRELAY" in ASCII) that no other component uses.
const lockKey int64 = 0x5043_52454C4159

// Per-call timeouts. Every DB and NATS call is bounded so a hung dependency
// shows up as an error and a retry, never a stuck relay.
const (
	dbTimeout      = 10 * time.Second
	natsTimeout    = 5 * time.Second
	connectTimeout = 10 * time.Second
	maxCASRetries  = 5
)

// Store is what the relay needs from the control plane's store; *store.Store
// implements it.
type Store interface {
	PendingScopes(ctx context.Context) ([]store.ScopeRevision, error)
	Snapshot(ctx context.Context, scope model.Scope) (store.Snapshot, error)
	MarkPublished(ctx context.Context, scope model.Scope, revision int64, contentHash string) error
	RecordPublishError(ctx context.Context, scope model.Scope, err error) error
	BundleSigningKey(ctx context.Context) (string, ed25519.PrivateKey, error)
	BundlePublicKeys(ctx context.Context) ([]bundle.PublicKey, error)
}

// Config configures a Relay.
type Config struct {
	// DSN is used for the relay's own connection (LISTEN and the publisher
	// lock), which must not come from the store's pool: it is held for hours.
	DSN   string
	Store Store
	JS    jetstream.JetStream
	// SealKey seals backend secrets inside the global bundle (32 bytes).
	SealKey []byte
	// Replicas of the KV bucket; 0 means 1.
	Replicas int
	// PollInterval bounds how long a missed NOTIFY can delay a publish; 0
	// means 2 s.
	PollInterval time.Duration
	Logger       *slog.Logger
	// Metrics registers the relay's metrics; nil leaves them unregistered.
	Metrics prometheus.Registerer
}

// Relay publishes bundles. Create it with New, run it with Run.
type Relay struct {
	dsn      string
	store    Store
	js       jetstream.JetStream
	sealer   *seal.Sealer
	replicas int
	poll     time.Duration
	log      *slog.Logger
	metrics  *metrics

	// Owned by the goroutine running Run (or drain, in tests).
	kv    jetstream.KeyValue // set once the bucket exists
	retry map[model.Scope]*scopeRetry
}

// New checks cfg and registers the metrics. It does no I/O: a relay can be
// created while Postgres or NATS are still down.
func New(cfg Config) (*Relay, error) {
	if cfg.DSN == "" || cfg.Store == nil || cfg.JS == nil {
		return nil, errors.New("relay: DSN, Store and JS are required")
	}
	sealer, err := seal.New(cfg.SealKey)
	if err != nil {
		return nil, fmt.Errorf("relay: bundle seal key: %w", err)
	}
	r := &Relay{
		dsn: cfg.DSN, store: cfg.Store, js: cfg.JS, sealer: sealer,
		replicas: cfg.Replicas, poll: cfg.PollInterval, log: cfg.Logger,
		retry: map[model.Scope]*scopeRetry{},
	}
	if r.replicas <= 0 {
		r.replicas = 1
	}
	if r.poll <= 0 {
		r.poll = 2 * time.Second
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("component", "relay")
	if r.metrics, err = newMetrics(cfg.Metrics); err != nil {
		return nil, err
	}
	return r, nil
}

// Run relays until ctx is cancelled; it returns nil then. Errors from
// Postgres or NATS are logged, recorded and retried with backoff: Run never
// gives up on its own.
func (r *Relay) Run(ctx context.Context) error {
	bo := newBackoff(250*time.Millisecond, 30*time.Second)
	for ctx.Err() == nil {
		start := time.Now()
		err := r.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > time.Minute {
			bo.reset() // a long healthy session: start over at the short delay
		}
		d := bo.next()
		r.log.Warn("relay connection lost; reconnecting", "err", err, "in", d)
		sleep(ctx, d)
	}
	r.metrics.leader.Set(0)
	return nil
}

// session runs on one dedicated Postgres connection until it fails or ctx
// ends. Closing the connection releases the advisory lock.
func (r *Relay) session(ctx context.Context) error {
	conn, err := r.connect(ctx)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		_ = conn.Close(cctx)
		r.metrics.leader.Set(0)
		r.metrics.lag.Set(0) // the next leader reports the lag
	}()

	if r.kv == nil && r.js.Conn().IsConnected() {
		// Create the bucket up front so gateways starting before the first
		// write find it; failing here is fine, drain retries.
		if _, err := r.bucket(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("cannot create the bundle bucket yet", "err", err)
		}
	}
	leader := false
	bo := newBackoff(250*time.Millisecond, 30*time.Second)
	var retryAt time.Time // publish backoff after a failed drain
	natsDown := false     // the last drain failed because NATS was unreachable
	for {
		if !leader {
			if leader, err = tryLock(ctx, conn); err != nil {
				return err
			}
			if leader {
				r.log.Info("relay is the publisher")
				r.metrics.leader.Set(1)
			}
		}
		// NATS coming back ends the backoff early: the outbox should drain
		// as soon as it can, not when the timer says.
		reconnected := natsDown && r.js.Conn().IsConnected()
		if leader && (reconnected || !time.Now().Before(retryAt)) {
			if err := r.drain(ctx); err != nil && ctx.Err() == nil {
				d := bo.next()
				retryAt = time.Now().Add(d)
				natsDown = !r.js.Conn().IsConnected()
				r.log.Warn("bundle publish failed; retrying", "err", err, "in", d, "nats_connected", !natsDown)
			} else if err == nil {
				bo.reset()
				retryAt, natsDown = time.Time{}, false
			}
		}
		if err := r.wait(ctx, conn, retryAt); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

func (r *Relay) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, r.dsn)
	if err != nil {
		return nil, fmt.Errorf("relay: connect: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+NotifyChannel); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("relay: listen: %w", err)
	}
	return conn, nil
}

func tryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var ok bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&ok); err != nil {
		return false, fmt.Errorf("relay: advisory lock: %w", err)
	}
	return ok, nil
}

// wait blocks until a NOTIFY arrives, the poll interval passes (or retryAt,
// if sooner and set) or ctx ends. Only a connection failure is an error.
func (r *Relay) wait(ctx context.Context, conn *pgx.Conn, retryAt time.Time) error {
	d := r.poll
	if !retryAt.IsZero() {
		d = min(d, max(time.Until(retryAt), 10*time.Millisecond))
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	switch {
	case err == nil, ctx.Err() != nil:
		return nil
	case wctx.Err() != nil && !conn.IsClosed():
		// The deadline expired on an idle connection: pgx keeps the
		// connection usable after a read timeout.
		return nil
	default:
		return fmt.Errorf("relay: wait for notification: %w", err)
	}
}

// drain publishes every pending scope once. It returns an error (and the
// caller backs off as a whole) only when NATS or Postgres fail for every
// scope alike. A failure specific to one scope (a spec that no longer
// decodes, say) backs off that scope alone, so one broken tenant cannot delay
// everyone else's bundles.
func (r *Relay) drain(ctx context.Context) error {
	pending, err := r.pending(ctx)
	if err != nil || len(pending) == 0 {
		return err
	}
	if !r.js.Conn().IsConnected() {
		// Fail fast: every request would only wait for its timeout.
		err := errors.New("relay: NATS is not connected")
		r.recordAll(ctx, pending, err)
		return err
	}
	kv, err := r.bucket(ctx)
	if err != nil {
		r.recordAll(ctx, pending, err)
		return err
	}
	signer, err := r.loadKeys(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	stillPending := make(map[model.Scope]bool, len(pending))
	for i, p := range pending {
		stillPending[p.Scope] = true
		if rt := r.retry[p.Scope]; rt != nil && now.Before(rt.at) {
			continue
		}
		err := r.publishScope(ctx, kv, signer, p.Scope)
		if err == nil {
			delete(r.retry, p.Scope)
			continue
		}
		if ctx.Err() != nil {
			return nil // shutting down: the rows stay pending for the next start
		}
		r.metrics.errors.Inc()
		r.record(ctx, p.Scope, err)
		var te transportError
		if errors.As(err, &te) || !r.js.Conn().IsConnected() {
			r.recordAll(ctx, pending[i+1:], err)
			return fmt.Errorf("%s: %w", p.Scope, err)
		}
		rt := r.retry[p.Scope]
		if rt == nil {
			rt = &scopeRetry{bo: newBackoff(250*time.Millisecond, 30*time.Second)}
			r.retry[p.Scope] = rt
		}
		d := rt.bo.next()
		rt.at = now.Add(d)
		r.log.Error("cannot publish scope; retrying it later", "scope", p.Scope, "err", err, "in", d)
	}
	for scope := range r.retry {
		if !stillPending[scope] {
			delete(r.retry, scope)
		}
	}
	return nil
}

// scopeRetry is the backoff of one scope whose bundle fails to build.
type scopeRetry struct {
	bo *backoff
	at time.Time
}

// transportError marks a failure talking to NATS, which every other scope
// would hit too.
type transportError struct{ err error }

func (e transportError) Error() string { return e.err.Error() }
func (e transportError) Unwrap() error { return e.err }

// pending lists the scopes with unpublished outbox rows and updates the lag
// gauge from the oldest of them.
func (r *Relay) pending(ctx context.Context) ([]store.ScopeRevision, error) {
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	pending, err := r.store.PendingScopes(cctx)
	if err != nil {
		return nil, fmt.Errorf("relay: pending scopes: %w", err)
	}
	var oldest time.Time
	for _, p := range pending {
		if oldest.IsZero() || p.EnqueuedAt.Before(oldest) {
			oldest = p.EnqueuedAt
		}
	}
	lag := 0.0
	if !oldest.IsZero() {
		lag = time.Since(oldest).Seconds()
	}
	r.metrics.lag.Set(lag)
	return pending, nil
}

// bucket returns the KV bucket, creating or updating it on first use. Doing
// this lazily (not in New) lets the control plane start while NATS is down.
func (r *Relay) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	if r.kv != nil {
		return r.kv, nil
	}
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	kv, err := EnsureBucket(cctx, r.js, r.replicas)
	if err != nil {
		return nil, err
	}
	r.kv = kv
	return kv, nil
}

// EnsureBucket creates the bundle bucket, or updates its configuration to
// ours: file storage, 5 revisions of history per key (enough to inspect a
// recent change, small enough to stay cheap), the given replicas.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "Portcullis signed configuration bundles, one key per scope",
		History:     5,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("relay: bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

func (r *Relay) record(ctx context.Context, scope model.Scope, cause error) {
	if ctx.Err() != nil {
		return // our own shutdown is not a publish error worth recording
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := r.store.RecordPublishError(cctx, scope, cause); err != nil {
		r.log.Warn("cannot record publish error", "scope", scope, "err", err)
	}
}

func (r *Relay) recordAll(ctx context.Context, pending []store.ScopeRevision, cause error) {
	for _, p := range pending {
		r.metrics.errors.Inc()
		r.record(ctx, p.Scope, cause)
	}
}
