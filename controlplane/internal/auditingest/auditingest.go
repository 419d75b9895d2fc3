// Package auditingest moves audit events from JetStream into Postgres.
//
// Gateways publish one event per request on portcullis.audit.<tenant> (or
// portcullis.audit._global) into the stream PORTCULLIS_AUDIT. The control
// plane reads them with the durable pull consumer "controlplane-audit" and
// inserts them in batches. Delivery is at least once: a message is acked only
// after its batch committed, and the insert is idempotent on the event id, so
// a redelivery (lost ack, crash between commit and ack) stores nothing twice.
// A message that can never be stored (not JSON, no id, a bad subject) is
// terminated so it cannot block the stream; a batch that fails for a
// transient reason (Postgres down) is nak'ed with a delay and retried.
package auditingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/promreg"
)

// Names agreed in CONTRACTS.md.
const (
	Stream   = "PORTCULLIS_AUDIT"
	Consumer = "controlplane-audit"
)

const (
	defaultBatch = 100
	fetchWait    = 5 * time.Second
	natsTimeout  = 5 * time.Second
	dbTimeout    = 15 * time.Second
	ackWait      = 60 * time.Second // > dbTimeout: a batch is stored or nak'ed before redelivery
	retryDelay   = 5 * time.Second  // nak delay after a failed insert
	maxMsgSize   = 256 << 10        // an audit event is a few KB; bounds a hostile publisher
)

// eventIDPattern keeps ids to something an index and a log line can hold.
// Validate already bounds the length to 64.
var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// actor is who the ingest transactions run as: a platform system worker.
var actor = store.Actor{Subject: "system:auditingest", Platform: true}

// Config configures an Ingest.
type Config struct {
	JS    jetstream.JetStream
	Store store.TxRunner
	// Replicas of the stream; 0 means 1.
	Replicas int
	// MaxAge is how long JetStream keeps events (Postgres keeps its own
	// copy); 0 means 7 days, enough to ride out a long control-plane outage.
	MaxAge time.Duration
	// Batch is the fetch size; 0 means 100.
	Batch   int
	Logger  *slog.Logger
	Metrics prometheus.Registerer
}

// Ingest consumes the audit stream. Create it with New, run it with Run.
type Ingest struct {
	cfg      Config
	log      *slog.Logger
	stored   prometheus.Counter
	rejected prometheus.Counter
	failed   prometheus.Counter
}

// New checks cfg and registers the metrics; it does no I/O.
func New(cfg Config) (*Ingest, error) {
	if cfg.JS == nil || cfg.Store == nil {
		return nil, errors.New("auditingest: JS and Store are required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = defaultBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Ingest{
		cfg: cfg,
		log: cfg.Logger.With("component", "auditingest"),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_audit_events_stored_total",
			Help: "Audit events newly inserted into Postgres (duplicates not counted).",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_audit_events_rejected_total",
			Help: "Malformed audit messages terminated without being stored.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_audit_batch_errors_total",
			Help: "Audit batches that failed to insert and were retried.",
		}),
	}
	if err := promreg.RegisterAll(cfg.Metrics, in.stored, in.rejected, in.failed); err != nil {
		return nil, fmt.Errorf("auditingest: register metrics: %w", err)
	}
	return in, nil
}

// EnsureStream creates or updates the audit stream: limits-based retention
// (events are removed by age, not by acknowledgement, so an operator can
// replay them), file storage, bounded message size.
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int, maxAge time.Duration) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        Stream,
		Description: "Portcullis audit events from gateways",
		Subjects:    []string{audit.SubjectPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      maxAge,
		MaxMsgSize:  maxMsgSize,
		Replicas:    max(replicas, 1),
		// Publishers may set Nats-Msg-Id to the event id: duplicates within
		// this window are dropped by the server before they reach us.
		Duplicates: 2 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("auditingest: stream %s: %w", Stream, err)
	}
	return s, nil
}

// Run consumes until ctx is cancelled and returns nil then. NATS or Postgres
// errors are logged and retried with backoff.
func (in *Ingest) Run(ctx context.Context) error {
	const minDelay, maxDelay = 250 * time.Millisecond, 30 * time.Second
	delay := minDelay
	for ctx.Err() == nil {
		start := time.Now()
		cons, err := in.consumer(ctx)
		if err == nil {
			err = in.consume(ctx, cons)
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > time.Minute {
			delay = minDelay // it ran fine for a while: a new outage starts short
		}
		in.log.Warn("audit ingest interrupted; retrying", "err", err, "in", delay)
		sleep(ctx, delay)
		delay = min(2*delay, maxDelay)
	}
	return nil
}

func (in *Ingest) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	defer cancel()
	if _, err := EnsureStream(cctx, in.cfg.JS, in.cfg.Replicas, in.cfg.MaxAge); err != nil {
		return nil, err
	}
	cons, err := in.cfg.JS.CreateOrUpdateConsumer(cctx, Stream, jetstream.ConsumerConfig{
		Durable:       Consumer,
		Description:   "control plane: store audit events in Postgres",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1, // a transient Postgres outage must not drop events
		MaxAckPending: 10 * in.cfg.Batch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("auditingest: consumer: %w", err)
	}
	return cons, nil
}

// consume fetches and stores batches until ctx ends or a fetch fails.
//
// A plain Fetch waits until its batch is full or it expires, which would
// hold a lone event back for the whole wait. So: take whatever is available
// now (FetchNoWait, full batches under load); when nothing is, wait for one
// message, then go back to taking what is available.
func (in *Ingest) consume(ctx context.Context, cons jetstream.Consumer) error {
	for ctx.Err() == nil {
		msgs, err := in.fetch(ctx, func(context.Context) (jetstream.MessageBatch, error) {
			return cons.FetchNoWait(in.cfg.Batch)
		})
		if err == nil && len(msgs) == 0 {
			msgs, err = in.fetch(ctx, func(fctx context.Context) (jetstream.MessageBatch, error) {
				return cons.Fetch(1, jetstream.FetchContext(fctx))
			})
		}
		if len(msgs) > 0 {
			in.store(ctx, msgs)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// fetch runs one pull request, bounded by fetchWait, and collects its
// messages. Expiry and an empty stream are not errors.
func (in *Ingest) fetch(ctx context.Context, pull func(context.Context) (jetstream.MessageBatch, error)) ([]jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, fetchWait)
	defer cancel()
	batch, err := pull(fctx)
	if err != nil {
		return nil, fmt.Errorf("auditingest: fetch: %w", err)
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoMessages) {
		return msgs, fmt.Errorf("auditingest: fetch: %w", err)
	}
	return msgs, nil
}

// store decodes msgs, terminates the malformed ones and inserts the rest in
// one transaction, then acks them (or naks them all if the insert failed).
func (in *Ingest) store(ctx context.Context, msgs []jetstream.Msg) {
	events := make([]store.AuditEvent, 0, len(msgs))
	good := make([]jetstream.Msg, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		ev, err := decode(m.Subject(), m.Data())
		if err != nil {
			in.rejected.Inc()
			in.log.Warn("malformed audit message terminated", "subject", m.Subject(), "err", err)
			if err := m.TermWithReason(err.Error()); err != nil {
				in.log.Warn("cannot terminate audit message", "err", err)
			}
			continue
		}
		good = append(good, m)
		if !seen[ev.ID] { // a batch can hold a redelivery of its own message
			seen[ev.ID] = true
			events = append(events, ev)
		}
	}
	if len(events) == 0 {
		return
	}
	var inserted int
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	err := in.cfg.Store.Tx(cctx, actor, func(tx store.Tx) error {
		var err error
		inserted, err = tx.InsertAuditEvents(cctx, events)
		return err
	})
	cancel()
	if err != nil {
		in.failed.Inc()
		in.log.Warn("audit insert failed; batch will be redelivered", "events", len(events), "err", err)
		for _, m := range good {
			_ = m.NakWithDelay(retryDelay)
		}
		return
	}
	in.stored.Add(float64(inserted))
	for _, m := range good {
		if err := m.Ack(); err != nil {
			// The insert is idempotent: a lost ack only costs a redelivery.
			in.log.Debug("audit ack failed", "err", err)
		}
	}
}

// decode parses one message into a storable event. The tenant comes from the
// subject the gateway published on; an event whose body names another tenant
// is refused, since storing it under either would misfile it.
func decode(subject string, data []byte) (store.AuditEvent, error) {
	if len(data) > maxMsgSize {
		return store.AuditEvent{}, fmt.Errorf("%d bytes exceeds %d", len(data), maxMsgSize)
	}
	tenant, err := tenantOf(subject)
	if err != nil {
		return store.AuditEvent{}, err
	}
	var ev audit.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return store.AuditEvent{}, fmt.Errorf("not an audit event: %w", err)
	}
	if err := ev.Validate(); err != nil {
		return store.AuditEvent{}, err
	}
	if !eventIDPattern.MatchString(ev.ID) {
		return store.AuditEvent{}, errors.New("malformed event id")
	}
	if ev.Tenant != tenant {
		return store.AuditEvent{}, fmt.Errorf("event for tenant %q published on subject %q", ev.Tenant, subject)
	}
	ev.Time = ev.Time.UTC()
	// Store our own encoding, not the publisher's bytes: only known fields,
	// so nothing a gateway smuggles in extra fields ends up in the trail.
	canon, err := json.Marshal(ev)
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("re-encode: %w", err)
	}
	return store.AuditEvent{
		ID: ev.ID, Time: ev.Time, TenantID: tenant,
		UserID: ev.UserID, Tool: ev.Tool, Decision: string(ev.Decision), Event: canon,
	}, nil
}

// tenantOf extracts the tenant from portcullis.audit.<tenant>|_global.
func tenantOf(subject string) (string, error) {
	tok, ok := strings.CutPrefix(subject, audit.SubjectPrefix)
	switch {
	case !ok || strings.Contains(tok, "."):
		return "", fmt.Errorf("unexpected subject %q", subject)
	case tok == audit.GlobalSubjectToken:
		return "", nil
	case !bundle.ValidTenantID(tok):
		return "", fmt.Errorf("subject %q does not name a valid tenant", subject)
	}
	return tok, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
