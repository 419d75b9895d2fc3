// Package server assembles the gateway: configuration → NATS connection
// (reconnecting forever) → bundle store (JetStream KV, snapshot file,
// heartbeats) → audit publisher → forwarder → request pipeline (layers 3–7) → MCP transport →
// authentication (layer 2) → one http.Server with TLS (layer 1).
// cmd/portcullis-gateway and the in-process e2e tests both start a gateway
// through New and Run, so they run exactly the same thing.
//
// Endpoints: /mcp (MCP, authenticated), /.well-known/oauth-protected-resource
// and …/mcp (RFC 9728 metadata, public), /healthz (liveness: the process
// serves HTTP), /readyz (ready only once the bundle store holds a complete
// configuration: the first full sync, or the snapshot file when NATS was
// unreachable at boot), /metrics (Prometheus, the gateway's own registry).
// /mcp answers 503 until ready, so a gateway never serves a partial
// configuration (an empty tool list would look like "no access").
//
// Shutdown order (on ctx cancel): stop accepting and let in-flight requests
// finish (http.Server.Shutdown, bounded by ShutdownTimeout; request contexts
// are not cancelled, so a slow tool call completes), then stop the bundle
// store (watch, heartbeats), the pipeline and the forwarder, flush the
// audit queue (bounded), then drain NATS. The store outlives HTTP so a call finishing during the drain still
// sees bundle updates and the fleet still sees the gateway.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portcullis/portcullis/dataplane/internal/auditpub"
	"github.com/portcullis/portcullis/dataplane/internal/authn"
	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/config"
	"github.com/portcullis/portcullis/dataplane/internal/forward"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/dataplane/internal/ratelimit"
	sharedauthn "github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/seal"
	"github.com/portcullis/portcullis/shared/serve"
)

const (
	natsDrain  = 5 * time.Second
	auditFlush = 5 * time.Second // queued audit events get this long to reach NATS at shutdown
)

// Server is one gateway process.
type Server struct {
	cfg       config.Config
	log       *slog.Logger
	publicURL string
	ln        *serve.Listener
	nc        *nats.Conn
	store     *bundlestore.NATS
	pipe      *pipeline.Pipeline
	fleet     *ratelimit.Fleet // live replica count: rate-limit budgets are split by it
	fwd       *forward.Forwarder
	http      *http.Server

	closers []func() // undo stack for New's partial failures and Run's end
}

// New builds everything and binds the listen address (so Addr and URL are
// known before Run), but serves nothing yet. NATS being down is not an
// error: the connection retries forever and the store falls back to its
// snapshot file. When cfg.Listen and cfg.PublicURL both use port 0, the
// public URL gets the port actually bound (in-process tests).
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
	if err := s.listen(); err != nil {
		return nil, err
	}
	sealer, err := seal.New(cfg.BundleSealKey)
	if err != nil {
		return nil, fmt.Errorf("bundle seal key: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := s.openBundles(sealer, reg); err != nil {
		return nil, err
	}
	tools, err := s.buildPipeline(sealer, reg)
	if err != nil {
		return nil, err
	}
	handler, err := s.buildHandler(ctx, tools, reg)
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout/WriteTimeout: the MCP handler bounds body reads
		// (BodyReadTimeout) and tool calls (RequestTimeout) itself, and a
		// server-wide write deadline would cut long SSE answers.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		TLSConfig:      s.ln.TLSConfig(), // nil with plain HTTP
	}
	return s, nil
}

// listen loads the certificates and binds the address.
func (s *Server) listen() error {
	ln, err := serve.Listen(s.cfg.Listen, s.cfg.TLSCertFiles, s.cfg.TLSKeyFiles, s.log)
	if err != nil {
		return err
	}
	s.ln = ln
	s.closers = append(s.closers, func() { _ = ln.Close() })
	s.publicURL = resolvePublicURL(s.cfg.PublicURL, ln.Addr())
	return nil
}

// resolvePublicURL replaces port 0 in publicURL by the bound port.
func resolvePublicURL(publicURL string, addr net.Addr) string {
	publicURL = strings.TrimRight(publicURL, "/")
	u, err := url.Parse(publicURL)
	if err != nil || u.Port() != "0" {
		return publicURL
	}
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return publicURL
	}
	u.Host = net.JoinHostPort(u.Hostname(), fmt.Sprint(tcp.Port))
	return u.String()
}

// openBundles connects to NATS and creates the bundle store.
func (s *Server) openBundles(sealer *seal.Sealer, reg prometheus.Registerer) error {
	keys, err := bundlestore.LoadKeySet(s.cfg.BundleKeysFile)
	if err != nil {
		return err
	}
	nc, err := bundlestore.Connect(s.cfg.NATSURL, "portcullis-gateway "+s.cfg.GatewayID, s.log)
	if err != nil {
		return err
	}
	s.nc = nc
	s.closers = append(s.closers, func() { drain(nc) })
	s.store, err = bundlestore.New(bundlestore.Config{
		NC: nc, Keys: keys, Sealer: sealer, SnapshotPath: s.cfg.SnapshotFile, BootTimeout: s.cfg.BootTimeout,
		GatewayID: s.cfg.GatewayID, Version: s.cfg.Version, HeartbeatInterval: s.cfg.HeartbeatInterval,
		Logger: s.log, Metrics: reg,
	})
	return err
}

func (s *Server) buildPipeline(sealer *seal.Sealer, reg prometheus.Registerer) (mcp.Tools, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	audit, err := auditpub.New(auditpub.Config{JS: js, Logger: s.log, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), auditFlush)
		defer cancel()
		if err := audit.Close(ctx); err != nil {
			s.log.Warn("audit events left unpublished at shutdown", "err", err)
		}
	})
	fwd, err := forward.New(forward.Config{Logger: s.log.With("component", "forward"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	s.fwd = fwd
	s.closers = append(s.closers, fwd.Close)
	s.fleet = ratelimit.NewFleet(s.cfg.HeartbeatInterval, nil)
	pipe, err := pipeline.New(pipeline.Config{
		Source: s.store, Backend: fwd, Sealer: sealer, GatewayID: s.cfg.GatewayID, Audit: audit,
		RateLimiter: ratelimit.New(ratelimit.Config{Replicas: s.fleet.Replicas}),
		Logger:      s.log.With("component", "pipeline"), Registerer: reg,
		Policies: s.policyLayer(),
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	s.pipe = pipe
	s.closers = append(s.closers, pipe.Close)
	return pipe, nil
}

// buildHandler composes the MCP transport, authentication and the mux.
func (s *Server) buildHandler(ctx context.Context, tools mcp.Tools, reg *prometheus.Registry) (http.Handler, error) {
	issuers := s.cfg.WithResourceAudience(s.cfg.Issuers)
	validator, err := sharedauthn.New(ctx, sharedauthn.Config{Issuers: issuers, Logger: s.log.With("component", "jwt")})
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	servers := make([]string, 0, len(issuers))
	for _, is := range issuers {
		servers = append(servers, is.Issuer)
	}
	auth, err := authn.New(authn.Config{
		PublicURL: s.publicURL, Validator: validator, Bundles: s.store, AuthorizationServers: servers,
		TrustedProxies: s.cfg.TrustedProxies, CountryHeader: s.cfg.CountryHeader, Logger: s.log, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	transport, err := mcp.New(mcp.Config{
		Tools: tools, SessionKeys: s.cfg.SessionKeys, AllowedOrigins: s.cfg.AllowedOrigins,
		ServerName: "portcullis", ServerVersion: s.cfg.Version,
		Logger: s.log.With("component", "mcp"), Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.readyGate(auth.Middleware(withResourceMetadata(auth, transport))))
	mux.Handle(authn.MetadataPath, auth.MetadataHandler())
	mux.Handle(authn.MetadataPath+"/mcp", auth.MetadataHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
	})
	return mux, nil
}

// readyGate answers 503 until the bundle store is ready.
func (s *Server) readyGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.store.Ready() {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "not_ready", "error_description": "configuration not loaded yet"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.store.Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "stale": s.store.Stale()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Addr is the address the gateway listens on (the real port when
// cfg.Listen asked for port 0).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the gateway's public base URL (PUBLIC_URL, with port 0 resolved);
// the MCP endpoint is URL() + "/mcp".
func (s *Server) URL() string { return s.publicURL }

// ResourceURL is the token audience on the default host: URL() + "/mcp".
func (s *Server) ResourceURL() string { return s.publicURL + "/mcp" }

// Ready reports whether the gateway holds a complete configuration.
func (s *Server) Ready() bool { return s.store.Ready() }

// WaitReady blocks until Ready or ctx ends.
func (s *Server) WaitReady(ctx context.Context) error { return s.store.WaitReady(ctx) }

// Run serves until ctx is cancelled, then shuts down in the order of the
// package comment. It returns nil after a clean shutdown and the serving
// error otherwise. Run must be called once.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	// Background work gets its own context: it stops after HTTP drained.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.store.Run(bgCtx); err != nil {
			s.log.Error("bundle store stopped", "err", err)
		}
	})
	wg.Go(func() {
		if err := s.fleet.Follow(bgCtx, s.nc, s.log.With("component", "ratelimit")); err != nil {
			s.log.Error("not following the fleet's heartbeats: rate limits are not split between replicas", "err", err)
		}
	})
	s.log.Info("gateway listening", "addr", s.Addr(), "url", s.URL(), "config", s.cfg)
	err := s.ln.Serve(ctx, s.http, serve.Options{
		ShutdownTimeout: s.cfg.ShutdownTimeout, CertReloadInterval: s.cfg.CertReloadInterval,
		Name: "gateway", Logger: s.log,
	})
	stopBackground()
	wg.Wait()
	s.log.Info("gateway stopped")
	return err
}

// close undoes New in reverse order.
func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// drain drains the NATS connection, bounded by natsDrain.
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
