// Package auditpub publishes the gateway's audit events (DESIGN.md, layer 7) to
// JetStream, where the control plane's ingest stores them in Postgres.
//
// The request path must never wait for NATS, so Record only puts the event on a
// bounded in-memory queue; background workers publish it on
// audit.Subject(tenant) with Nats-Msg-Id set to the event id (the stream drops a
// duplicate within its window, the ingest stores an id once). When the queue is
// full — NATS down long enough, or a burst beyond what the workers keep up
// with — new events are dropped, counted in a metric and logged (at most once
// per dropLogInterval), rather than slowing or failing requests. A failed
// publish is retried with backoff until it succeeds or the publisher stops.
// Close flushes what is queued within its context's deadline.
//
// Delivery is therefore at least once between Record and the stream while the
// process lives, and bounded loss (counted) under prolonged outages or a crash.
package auditpub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/promreg"
)

// Defaults for Config.
const (
	DefaultQueueSize      = 10_000
	DefaultWorkers        = 2
	DefaultPublishTimeout = 5 * time.Second
	dropLogInterval       = 10 * time.Second
	minRetry, maxRetry    = 100 * time.Millisecond, 5 * time.Second
)

// Config configures a Publisher.
type Config struct {
	// JS publishes the events. Required. The stream PORTCULLIS_AUDIT capturing
	// audit.SubjectPrefix + ">" is the control plane's to create.
	JS jetstream.JetStream
	// QueueSize bounds the events waiting to be published; default 10,000
	// (a few MB).
	QueueSize int
	// Workers publish concurrently; each waits for its acknowledgement, so
	// throughput is about Workers / round-trip time. Default 2.
	Workers int
	// PublishTimeout bounds one publish attempt. Default 5 s.
	PublishTimeout time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer // nil: metrics are not exported
}

// Publisher queues and publishes audit events. Create it with New, which
// starts its workers; stop it with Close.
type Publisher struct {
	js      jetstream.JetStream
	queue   chan audit.Event
	timeout time.Duration
	log     *slog.Logger

	closed   atomic.Bool
	stop     chan struct{}      // closed by Close: workers drain the queue, then exit
	runCtx   context.Context    // cancelled when Close gives up flushing
	cancel   context.CancelFunc // cancels runCtx
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	lastDrop atomic.Int64 // unix nanos of the last drop log line

	published prometheus.Counter
	dropped   prometheus.Counter
	errors    prometheus.Counter
	queueLen  prometheus.GaugeFunc
}

// New checks cfg, registers the metrics and starts the workers.
func New(cfg Config) (*Publisher, error) {
	if cfg.JS == nil {
		return nil, errors.New("auditpub: JS is required")
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{
		js: cfg.JS, queue: make(chan audit.Event, cfg.QueueSize), timeout: cfg.PublishTimeout,
		log: cfg.Logger.With("component", "auditpub"), stop: make(chan struct{}),
	}
	if err := p.registerMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	p.runCtx, p.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		p.wg.Add(1)
		go p.work()
	}
	return p, nil
}

func (p *Publisher) registerMetrics(reg prometheus.Registerer) error {
	p.published = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_gateway_audit_published_total",
		Help: "Audit events acknowledged by JetStream.",
	})
	p.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_gateway_audit_dropped_total",
		Help: "Audit events dropped: queue full, invalid, or still queued when the gateway stopped.",
	})
	p.errors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_gateway_audit_publish_errors_total",
		Help: "Failed publish attempts (each is retried).",
	})
	p.queueLen = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "portcullis_gateway_audit_queue_length",
		Help: "Audit events waiting to be published.",
	}, func() float64 { return float64(len(p.queue)) })
	if err := promreg.RegisterAll(reg, p.published, p.dropped, p.errors, p.queueLen); err != nil {
		return fmt.Errorf("auditpub: register metrics: %w", err)
	}
	return nil
}

// Record queues ev for publishing. It never blocks: with the queue full, or
// after Close, the event is dropped and counted.
func (p *Publisher) Record(ev audit.Event) {
	if p.closed.Load() {
		p.drop("publisher closed", ev)
		return
	}
	select {
	case p.queue <- ev:
	default:
		p.drop("queue full", ev)
	}
}

// drop counts a lost event and logs it, at most once per dropLogInterval so a
// long outage does not flood the log.
func (p *Publisher) drop(reason string, ev audit.Event) {
	p.dropped.Inc()
	now := time.Now().UnixNano()
	last := p.lastDrop.Load()
	if now-last >= int64(dropLogInterval) && p.lastDrop.CompareAndSwap(last, now) {
		p.log.Warn("audit events dropped (see portcullis_gateway_audit_dropped_total)",
			"reason", reason, "event_id", ev.ID, "tenant", ev.Tenant)
	}
}

// Close stops accepting events and publishes the queued ones until ctx ends;
// what is left then is counted as dropped and ctx's error returned. Safe to
// call more than once.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	close(p.stop)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.cancel() // abort in-flight publishes and retries
		<-done
	}
	p.cancel()
	if left := len(p.queue); left > 0 {
		p.dropped.Add(float64(left))
		p.log.Warn("audit events not published before stop", "count", left)
	}
	return err
}

// work publishes queued events until Close; then it drains the queue and
// exits.
func (p *Publisher) work() {
	defer p.wg.Done()
	for {
		select {
		case ev := <-p.queue:
			p.publish(ev)
		case <-p.stop:
			for {
				select {
				case ev := <-p.queue:
					p.publish(ev)
				default:
					return
				}
				if p.runCtx.Err() != nil {
					return
				}
			}
		}
	}
}

// publish sends one event, retrying with backoff until it is acknowledged or
// the publisher gives up (runCtx cancelled).
func (p *Publisher) publish(ev audit.Event) {
	msg, err := message(ev)
	if err != nil {
		p.dropped.Inc()
		p.log.Error("audit event not publishable; dropped", "event_id", ev.ID, "err", err)
		return
	}
	delay := minRetry
	for {
		ctx, cancel := context.WithTimeout(p.runCtx, p.timeout)
		_, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID))
		cancel()
		if err == nil {
			p.published.Inc()
			return
		}
		p.errors.Inc()
		if p.runCtx.Err() != nil {
			p.dropped.Inc()
			return
		}
		p.log.Warn("audit publish failed; retrying", "event_id", ev.ID, "in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-p.runCtx.Done():
			p.dropped.Inc()
			return
		}
		delay = min(2*delay, maxRetry)
	}
}

// message encodes ev for the ingest: an event it accepts (Validate), on the
// subject of the event's own tenant, which the ingest requires to match.
func message(ev audit.Event) (*nats.Msg, error) {
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(audit.Subject(ev.Tenant))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	return msg, nil
}
