package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/seal"
)

// Bucket is the KV bucket holding one signed bundle per scope (CONTRACTS.md).
const Bucket = "portcullis-bundles"

// Defaults for Config.
const (
	DefaultBootTimeout       = 10 * time.Second
	DefaultHeartbeatInterval = 10 * time.Second
)

// natsTimeout bounds each NATS request the store makes, so a hung server
// shows up as an error and a retry, never a stuck watch.
const natsTimeout = 5 * time.Second

// gatewayIDPattern is what the control plane accepts as a gateway id
// (controlplane/internal/fleet); checking it here turns a misconfiguration
// into a start-up error instead of heartbeats silently refused.
var gatewayIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// Config configures a NATS store.
type Config struct {
	// NC is the connection to NATS, owned by the caller. Create it with
	// Connect (or with nats.RetryOnFailedConnect and unlimited reconnects) so
	// that the gateway starts, and keeps serving, while NATS is down.
	NC *nats.Conn
	// Keys are the bundle-signing public keys the gateway trusts (ParseJWKS,
	// LoadKeySet). Required.
	Keys bundle.KeySet
	// Sealer, when set, opens the backend keys of every accepted global bundle
	// right away, so a seal-key mismatch is logged when the bundle arrives
	// rather than on the first forwarded request.
	Sealer *seal.Sealer
	// Bucket defaults to Bucket.
	Bucket string
	// SnapshotPath is the snapshot file; empty disables it.
	SnapshotPath string
	// BootTimeout is how long Run waits for the first full sync from NATS
	// before loading SnapshotPath; 0 means DefaultBootTimeout.
	BootTimeout time.Duration

	// Heartbeats (store.Gateway JSON on HeartbeatSubject). GatewayID is
	// required; Hostname defaults to os.Hostname; StartedAt to New's time.
	GatewayID         string
	Hostname          string
	Version           string
	StartedAt         time.Time
	HeartbeatInterval time.Duration // 0 means DefaultHeartbeatInterval

	Logger *slog.Logger
	// Metrics registers the store's metrics; nil leaves them unregistered.
	Metrics prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NATS is the Source fed by the JetStream KV bucket. Create it with New, run
// it with Run.
//
// Goroutines: Run starts three and waits for them. The watch goroutine and
// the boot-fallback goroutine are the only writers; they serialise on mu,
// which guards staged and dirty. The heartbeat goroutine only reads Current.
// Readers never lock.
type NATS struct {
	cfg       Config
	js        jetstream.JetStream
	log       *slog.Logger
	m         *metrics
	started   time.Time
	current   atomic.Pointer[Snapshot]
	listeners listeners

	ready     atomic.Bool
	readyCh   chan struct{} // closed when ready becomes true
	stale     atomic.Bool
	live      atomic.Bool  // the watch is synced and NATS connected
	lastLive  atomic.Int64 // unix nanos when live was last true (0: never)
	running   atomic.Bool
	heartbeat chan struct{} // nudges the heartbeat goroutine after a change

	// ignoredDeletes remembers the KV revision of the last delete ignored per
	// key, so a resync does not report the same delete again. Owned by the
	// watch goroutine.
	ignoredDeletes map[string]uint64

	mu sync.Mutex
	// staged is the latest accepted state. During the first sync it runs
	// ahead of current: a partial configuration (global rules without the
	// tenant bundles that narrow them) is never published. While staged is
	// not current no reader has it, and acceptLocked changes it in place.
	staged *Snapshot
	dirty  bool // staged holds changes the snapshot file does not
}

var _ Source = (*NATS)(nil)

// New checks cfg and registers the metrics. It does no I/O.
func New(cfg Config) (*NATS, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.NC)
	if err != nil {
		return nil, fmt.Errorf("bundlestore: jetstream: %w", err)
	}
	s := &NATS{
		cfg: cfg, js: js, started: cfg.Now(),
		log:       cfg.Logger.With("component", "bundlestore"),
		readyCh:   make(chan struct{}),
		heartbeat: make(chan struct{}, 1),
		staged:    &Snapshot{},

		ignoredDeletes: map[string]uint64{},
	}
	s.current.Store(s.staged)
	s.m, err = newMetrics(cfg.Metrics, s.syncAge, boolGauge(&s.stale), boolGauge(&s.ready))
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (c *Config) defaults() error {
	switch {
	case c.NC == nil:
		return errors.New("bundlestore: NC is required")
	case len(c.Keys) == 0:
		return errors.New("bundlestore: Keys (bundle-signing public keys) are required")
	case !gatewayIDPattern.MatchString(c.GatewayID):
		return fmt.Errorf("bundlestore: gateway id %q must match %s", c.GatewayID, gatewayIDPattern)
	case len(c.Version) > 64 || !printable(c.Version):
		return errors.New("bundlestore: version must be at most 64 printable characters")
	}
	if c.Bucket == "" {
		c.Bucket = Bucket
	}
	if c.BootTimeout <= 0 {
		c.BootTimeout = DefaultBootTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if len(c.Hostname) > 253 || !printable(c.Hostname) {
		return errors.New("bundlestore: hostname must be at most 253 printable characters")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = c.Now()
	}
	return nil
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

func boolGauge(b *atomic.Bool) func() float64 {
	return func() float64 {
		if b.Load() {
			return 1
		}
		return 0
	}
}

// Current implements Source.
func (s *NATS) Current() *Snapshot { return s.current.Load() }

// OnChange implements Source.
func (s *NATS) OnChange(fn func(*Snapshot)) func() { return s.listeners.add(fn) }

// Ready implements Source: true after the first full sync with NATS, or after
// a snapshot file was loaded because NATS was not reachable in time. Once
// true it stays true: losing NATS later does not empty the configuration.
func (s *NATS) Ready() bool { return s.ready.Load() }

// Stale reports whether the configuration came from the snapshot file and has
// not yet been confirmed by a full sync with NATS.
func (s *NATS) Stale() bool { return s.stale.Load() }

// WaitReady blocks until Ready or ctx ends.
func (s *NATS) WaitReady(ctx context.Context) error {
	select {
	case <-s.readyCh:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bundlestore: not ready: %w", ctx.Err())
	}
}

// Run loads the bundles, watches for changes and sends heartbeats until ctx
// is cancelled; then it stops its goroutines, waits for them and returns nil.
// NATS errors are logged and retried: Run never gives up on its own. It may
// be called once.
func (s *NATS) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("bundlestore: Run called twice")
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.watchLoop(ctx) })
	wg.Go(func() { s.bootFallback(ctx) })
	wg.Go(func() { s.heartbeatLoop(ctx) })
	wg.Wait()
	s.live.Store(false)
	return nil
}

// syncAge feeds portcullis_gateway_bundle_sync_age_seconds.
func (s *NATS) syncAge() float64 {
	if s.live.Load() {
		return 0
	}
	since := s.started
	if n := s.lastLive.Load(); n != 0 {
		since = time.Unix(0, n)
	}
	return s.cfg.Now().Sub(since).Seconds()
}

func (s *NATS) setLive(live bool) {
	if s.live.Swap(live) || live {
		// Leaving or staying in the live state: remember when we last were.
		s.lastLive.Store(s.cfg.Now().UnixNano())
	}
}

// LoadKeySet reads the bundle-signing public keys from a JWKS file (the
// document GET /v1/bundle-signing-keys serves).
func LoadKeySet(path string) (bundle.KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bundlestore: signing keys: %w", err)
	}
	return bundle.ParseJWKS(data)
}

// Connect opens a NATS connection suited to the gateway: it returns at once
// even when the server is down (RetryOnFailedConnect) and reconnects forever,
// so the store can fall back to its snapshot file and catch up later.
func Connect(url, name string, logger *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "nats")
	base := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("NATS disconnected; serving the last good bundles", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { logger.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("bundlestore: connect %s: %w", url, err)
	}
	return nc, nil
}
