// Package serve runs a plane's HTTP server and process the same way in both
// planes: Listen binds the address with the certificates of shared/tlsconfig
// (or for plain HTTP), Serve serves until the context ends and then lets
// in-flight requests finish within a deadline, and Main is the process entry
// (configuration from the environment, JSON logs, stop on SIGINT/SIGTERM).
//
// It listens on sockets and reads the environment, an exception to shared/'s
// no-I/O rule like shared/authn and shared/tlsconfig: a gateway and the
// control plane must bind, serve TLS and shut down identically (the Helm
// chart's probes and termination grace rely on it), and the code is small.
// What each plane serves, and its http.Server timeouts, stay in the plane.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/portcullis/portcullis/shared/tlsconfig"
)

// Listener is a bound TCP address and, when it serves TLS, the certificates
// served on it.
type Listener struct {
	ln    net.Listener
	certs *tlsconfig.Certificates // nil: plain HTTP
}

// Listen loads the certificate/key pairs (none: plain HTTP) and binds addr.
// Loading first means a bad certificate fails the start before the port is
// taken. The certificates log through logger with component=tls.
func Listen(addr string, certFiles, keyFiles []string, logger *slog.Logger) (*Listener, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Listener{}
	if len(certFiles) > 0 || len(keyFiles) > 0 {
		pairs, err := tlsconfig.Pairs(certFiles, keyFiles)
		if err != nil {
			return nil, err
		}
		if l.certs, err = tlsconfig.Load(pairs, logger.With("component", "tls")); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	l.ln = ln
	return l, nil
}

// Addr is the bound address (the real port when addr asked for port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// TLS reports whether the listener serves TLS.
func (l *Listener) TLS() bool { return l.certs != nil }

// TLSConfig is the http.Server TLS configuration serving the certificates,
// nil for plain HTTP.
func (l *Listener) TLSConfig() *tls.Config {
	if l.certs == nil {
		return nil
	}
	return tlsconfig.ServerConfig(l.certs)
}

// Close releases the address; for a listener that is never served.
func (l *Listener) Close() error { return l.ln.Close() }

// Options bound how Serve runs.
type Options struct {
	// ShutdownTimeout is how long in-flight requests get to finish once ctx
	// ends; the remaining connections are then closed.
	ShutdownTimeout time.Duration
	// CertReloadInterval is how often the certificate files are checked for
	// renewal (ignored for plain HTTP).
	CertReloadInterval time.Duration
	// Name says who shuts down in the logs, e.g. "gateway".
	Name   string
	Logger *slog.Logger
}

// Serve serves srv on the listener (TLS when it has certificates: set
// srv.TLSConfig from TLSConfig) until ctx ends or serving fails, then shuts
// srv down: it stops accepting and lets in-flight requests finish, bounded by
// opts.ShutdownTimeout. Request contexts are not cancelled by ctx, so a slow
// request completes if the deadline allows. Serve returns nil after a
// shutdown asked for by ctx and the serving error otherwise. It closes the
// listener and must be called once.
func (l *Listener) Serve(ctx context.Context, srv *http.Server, opts Options) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The reload watch stops once HTTP has drained, not when ctx ends.
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWatch()
	if l.certs != nil {
		wg.Go(func() { l.certs.Watch(watchCtx, opts.CertReloadInterval) })
	}
	serveErr := make(chan error, 1)
	go func() {
		if l.certs != nil {
			serveErr <- srv.ServeTLS(l.ln, "", "") // certificates come from TLSConfig
			return
		}
		serveErr <- srv.Serve(l.ln)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("http: %w", err)
	}
	logger.Info(opts.Name + " shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		logger.Warn("in-flight requests cut short", "err", serr)
		_ = srv.Close()
	}
	return err
}
