// Package server assembles the control plane: migrations, the Postgres store,
// NATS (embedded or external), admin token validation, the REST API, the
// bundle relay, audit ingestion, fleet heartbeats, approvals (gateway checks
// and webhooks, approvalsvc) and store maintenance, behind one http.Server.
// cmd/portcullis-controlplane and the e2e tests both start the control plane
// through New and Run, so they run exactly the same thing.
//
// Readiness: /readyz reports the database only. Writes go to Postgres and
// reach NATS through the outbox, so the API keeps accepting them while NATS
// is down; taking the pod out of the load balancer then would turn a NATS
// outage into an admin outage for no gain. NATS health shows in the relay's
// metrics (publish errors, outbox lag) instead. /healthz is liveness.
//
// Shutdown order (on ctx cancel): stop accepting and drain HTTP (bounded by
// ShutdownTimeout), then stop the workers (relay, audit ingest, fleet), then
// drain and close NATS (and stop the embedded server), then close the pool.
// The workers outlive HTTP so a write accepted during the drain is still
// published if NATS is up; if not, its outbox row waits for the next start.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portcullis/portcullis/controlplane/internal/api"
	"github.com/portcullis/portcullis/controlplane/internal/approvalsvc"
	"github.com/portcullis/portcullis/controlplane/internal/auditingest"
	"github.com/portcullis/portcullis/controlplane/internal/config"
	"github.com/portcullis/portcullis/controlplane/internal/fleet"
	"github.com/portcullis/portcullis/controlplane/internal/relay"
	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/migrations"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natsserver"
	"github.com/portcullis/portcullis/shared/seal"
	"github.com/portcullis/portcullis/shared/serve"
)

const (
	startTimeout = 60 * time.Second // migrations, first connections, JWKS discovery
	dbTimeout    = 10 * time.Second
	natsDrain    = 5 * time.Second
)

// worker is a background loop that runs until its context ends.
type worker interface {
	Run(ctx context.Context) error
}

// Server is one control-plane process.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	store   *store.Store
	embed   *natsserver.Server // nil with an external NATS
	nc      *nats.Conn
	http    *http.Server
	ln      *serve.Listener
	workers map[string]worker

	closers []func() // undo stack for New's partial failures and Run's end
}

// New starts everything except serving: it migrates the database, connects
// the store and NATS (starting the embedded server when cfg.NATSURL is
// empty), builds the API and the workers, and binds the listen address, so
// Addr is known before Run. A NATS that is down is not an error (the client
// reconnects forever); a database that is down is.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *Server, err error) {
	if err := cfg.Verify(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: logger}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	if err := migrations.Up(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if err := s.openStore(ctx); err != nil {
		return nil, err
	}
	if err := s.connectNATS(); err != nil {
		return nil, err
	}
	validator, err := authn.New(ctx, authn.Config{Issuers: cfg.Issuers})
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.buildWorkers(reg); err != nil {
		return nil, err
	}
	handler := api.New(api.Config{}, api.Deps{
		Store:      s.store,
		Auth:       validator,
		Logger:     logger,
		Metrics:    reg,
		Ready:      s.ready,
		BundleKeys: s.bundleKeys,
	})
	return s, s.listen(handler)
}

func (s *Server) openStore(ctx context.Context) error {
	sealer, err := seal.New(s.cfg.MasterKey)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	st, err := store.Open(ctx, s.cfg.DatabaseURL, store.Options{
		MaxConns: int32(s.cfg.DBMaxConns), Sealer: sealer, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.store = st
	s.closers = append(s.closers, st.Close)
	// Create the bundle signing key now (it is made on first use) so the
	// JWKS endpoint never serves an empty key set and a wrong master key
	// fails the start instead of the first publish.
	if _, _, err := st.BundleSigningKey(ctx); err != nil {
		return fmt.Errorf("bundle signing key: %w", err)
	}
	return nil
}

// connectNATS starts the embedded server if needed and connects to it or
// to cfg.NATSURL, reconnecting forever.
func (s *Server) connectNATS() error {
	url := s.cfg.NATSURL
	if url == "" {
		host, port, err := net.SplitHostPort(s.cfg.NATSListen)
		if err != nil {
			return fmt.Errorf("nats listen: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("nats listen port: %w", err)
		}
		ns, err := natsserver.Start(natsserver.Options{Host: host, Port: p, StoreDir: s.cfg.NATSDir, Logger: s.log})
		if err != nil {
			return err
		}
		s.embed = ns
		s.closers = append(s.closers, ns.Shutdown)
		url = ns.URL()
	}
	log := s.log.With("component", "nats")
	nc, err := nats.Connect(url,
		nats.Name("portcullis-controlplane"),
		nats.RetryOnFailedConnect(true), // start even if NATS is not up yet
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(5*time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close/Drain
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("nats error", "err", err) }),
	)
	if err != nil {
		return fmt.Errorf("nats connect: %w", err)
	}
	s.nc = nc
	// Drain (not Close) so in-flight acks and the heartbeat subscription
	// finish cleanly; it is bounded by natsDrain.
	s.closers = append(s.closers, func() { drain(nc) })
	return nil
}

func drain(nc *nats.Conn) {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-done:
	case <-time.After(natsDrain):
		nc.Close()
	}
}

func (s *Server) buildWorkers(reg prometheus.Registerer) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	rl, err := relay.New(relay.Config{
		DSN: s.cfg.DatabaseURL, Store: s.store, JS: js, SealKey: s.cfg.BundleSealKey,
		Replicas: s.cfg.NATSReplicas, PollInterval: s.cfg.RelayPollInterval, Logger: s.log, Metrics: reg,
	})
	if err != nil {
		return err
	}
	in, err := auditingest.New(auditingest.Config{
		JS: js, Store: s.store, Replicas: s.cfg.NATSReplicas, MaxAge: s.cfg.AuditMaxAge, Logger: s.log, Metrics: reg,
	})
	if err != nil {
		return err
	}
	fl, err := fleet.New(fleet.Config{NC: s.nc, Store: s.store, Logger: s.log, Metrics: reg})
	if err != nil {
		return err
	}
	notifier, err := approvalsvc.NewNotifier(approvalsvc.NotifierConfig{
		Store: s.store, AllowPrivateAddresses: s.cfg.WebhookAllowPrivate, Logger: s.log, Metrics: reg,
	})
	if err != nil {
		return err
	}
	approvals, err := approvalsvc.New(approvalsvc.Config{
		NC: s.nc, Store: s.store, PublicURL: s.cfg.PublicURL, Wake: notifier.Wake, Logger: s.log, Metrics: reg,
	})
	if err != nil {
		return err
	}
	s.workers = map[string]worker{
		"relay": rl, "auditingest": in, "fleet": fl,
		"maintenance": &maintenance{store: s.store, log: s.log.With("component", "maintenance"), interval: time.Hour},
		"approvals":   approvals, "approval-webhooks": notifier,
	}
	return nil
}

func (s *Server) listen(handler http.Handler) error {
	ln, err := serve.Listen(s.cfg.Listen, s.cfg.TLSCertFiles, s.cfg.TLSKeyFiles, s.log)
	if err != nil {
		return err
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           handler,
		TLSConfig:         ln.TLSConfig(), // nil with plain HTTP
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second, // OpenAPI imports can be a few MB
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return nil
}

// ready is /readyz: the database answers (see the package comment for why
// NATS is not part of it).
func (s *Server) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	return s.store.Ping(ctx)
}

// bundleKeys is the public JWKS served at GET /v1/bundle-signing-keys.
func (s *Server) bundleKeys(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	keys, err := s.store.BundlePublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	return bundle.PublicJWKS(keys...)
}

// Addr is the address the API listens on (the real port when cfg.Listen
// asked for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the API's base URL, e.g. https://127.0.0.1:8080 (http:// when
// serving plain HTTP).
func (s *Server) URL() string {
	if s.ln.TLS() {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// NATSURL is the NATS server the control plane uses (the embedded one's
// address when it started one).
func (s *Server) NATSURL() string {
	if s.embed != nil {
		return s.embed.URL()
	}
	return s.cfg.NATSURL
}

// NATSConnected reports whether the NATS client is currently connected.
func (s *Server) NATSConnected() bool { return s.nc.IsConnected() }

// Run serves until ctx is cancelled, then shuts down in the order described
// in the package comment. It returns nil after a clean shutdown and the
// serving error otherwise. Run must be called once.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	// The workers get their own context: they stop after HTTP has drained,
	// not when ctx is cancelled.
	workCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var wg sync.WaitGroup
	for name, w := range s.workers {
		wg.Go(func() {
			if err := w.Run(workCtx); err != nil {
				s.log.Error("worker stopped", "worker", name, "err", err)
			}
		})
	}
	s.log.Info("control plane listening", "addr", s.Addr(), "nats", s.NATSURL(), "config", s.cfg)
	err := s.ln.Serve(ctx, s.http, serve.Options{
		ShutdownTimeout: s.cfg.ShutdownTimeout, CertReloadInterval: s.cfg.CertReloadInterval,
		Name: "control plane", Logger: s.log,
	})
	stopWorkers()
	wg.Wait()
	s.log.Info("control plane stopped")
	return err
}

// close undoes New in reverse order: NATS client, embedded server, pool.
func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}
