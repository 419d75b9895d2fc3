// Package fleet records gateway heartbeats. Each gateway publishes a JSON
// store.Gateway on portcullis.fleet.heartbeat every few seconds; the control
// plane validates it and upserts the gateways table, which GET /v1/fleet
// reads. Heartbeats are plain NATS (not JetStream): a lost one is replaced by
// the next, so there is nothing to redeliver.
//
// Anyone who can publish on the subject can write a row, so every field is
// checked and bounded, and last_seen is the control plane's clock, never the
// sender's.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/promreg"
	"github.com/portcullis/portcullis/shared/strictjson"
)

// Subject is where gateways publish heartbeats (CONTRACTS.md).
const Subject = "portcullis.fleet.heartbeat"

// queueGroup makes several control-plane replicas share the heartbeats
// instead of each writing every one.
const queueGroup = "portcullis-controlplane"

const (
	maxMsgSize   = 1 << 20 // a gateway holding many tenants reports many revisions
	maxRevisions = 20000
	maxHostname  = 253
	maxVersion   = 64
	maxClockSkew = 5 * time.Minute
	dbTimeout    = 5 * time.Second
	pending      = 1024 // buffered heartbeats; beyond that NATS drops (the next one comes soon)
)

var gatewayIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

var actor = store.Actor{Subject: "system:fleet", Platform: true}

// Config configures a Recorder.
type Config struct {
	NC      *nats.Conn
	Store   store.TxRunner
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Recorder subscribes to heartbeats and stores them.
type Recorder struct {
	cfg      Config
	log      *slog.Logger
	recorded prometheus.Counter
	rejected prometheus.Counter
}

// New checks cfg and registers the metrics; it does no I/O.
func New(cfg Config) (*Recorder, error) {
	if cfg.NC == nil || cfg.Store == nil {
		return nil, errors.New("fleet: NC and Store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Recorder{
		cfg: cfg,
		log: cfg.Logger.With("component", "fleet"),
		recorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_fleet_heartbeats_total",
			Help: "Gateway heartbeats recorded.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "portcullis_fleet_heartbeats_rejected_total",
			Help: "Heartbeats refused as malformed or failed to store.",
		}),
	}
	if err := promreg.RegisterAll(cfg.Metrics, r.recorded, r.rejected); err != nil {
		return nil, fmt.Errorf("fleet: register metrics: %w", err)
	}
	return r, nil
}

// Run records heartbeats until ctx is cancelled, then unsubscribes and
// returns nil. The subscription survives NATS reconnects (nats.go resubscribes).
func (r *Recorder) Run(ctx context.Context) error {
	ch := make(chan *nats.Msg, pending)
	sub, err := r.cfg.NC.ChanQueueSubscribe(Subject, queueGroup, ch)
	if err != nil {
		return fmt.Errorf("fleet: subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			r.handle(ctx, m.Data)
		}
	}
}

func (r *Recorder) handle(ctx context.Context, data []byte) {
	g, err := Parse(data, r.cfg.Now())
	if err != nil {
		r.rejected.Inc()
		r.log.Warn("heartbeat refused", "err", err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	err = r.cfg.Store.Tx(cctx, actor, func(tx store.Tx) error { return tx.UpsertGateway(cctx, g) })
	if err != nil {
		r.rejected.Inc()
		r.log.Warn("heartbeat not stored", "gateway", g.ID, "err", err)
		return
	}
	r.recorded.Inc()
}

// Parse decodes and validates one heartbeat received at now. LastSeen is set
// to now whatever the sender said.
func Parse(data []byte, now time.Time) (store.Gateway, error) {
	if len(data) > maxMsgSize {
		return store.Gateway{}, fmt.Errorf("heartbeat of %d bytes exceeds %d", len(data), maxMsgSize)
	}
	var g store.Gateway
	if err := strictjson.Decode(data, &g); err != nil {
		return store.Gateway{}, fmt.Errorf("heartbeat does not decode: %w", err)
	}
	switch {
	case !gatewayIDPattern.MatchString(g.ID):
		return store.Gateway{}, errors.New("gateway id is missing or malformed")
	case len(g.Hostname) > maxHostname || !printable(g.Hostname):
		return store.Gateway{}, errors.New("hostname is too long or not printable")
	case len(g.Version) > maxVersion || !printable(g.Version):
		return store.Gateway{}, errors.New("version is too long or not printable")
	case g.StartedAt.IsZero() || g.StartedAt.After(now.Add(maxClockSkew)):
		return store.Gateway{}, errors.New("started_at is missing or in the future")
	case len(g.Revisions) > maxRevisions:
		return store.Gateway{}, fmt.Errorf("%d revisions exceeds %d", len(g.Revisions), maxRevisions)
	}
	for scope, rev := range g.Revisions {
		if err := bundle.ValidateScope(model.Scope(scope)); err != nil {
			return store.Gateway{}, fmt.Errorf("revisions: %w", err)
		}
		if rev < 0 {
			return store.Gateway{}, fmt.Errorf("revisions: negative revision for %q", scope)
		}
	}
	if g.Revisions == nil {
		g.Revisions = map[string]int64{}
	}
	g.StartedAt = g.StartedAt.UTC()
	g.LastSeen = now.UTC()
	return g, nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
