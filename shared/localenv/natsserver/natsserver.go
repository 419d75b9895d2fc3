// Package natsserver runs an embedded nats-server with JetStream, for tests, for `make run` and
// for the control plane when no NATS_URL is configured. The server can be shut down and
// restarted on the same address with the same store, which is how tests simulate a NATS outage.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

const readyTimeout = 30 * time.Second

// Options configures Start.
type Options struct {
	// Host to listen on; empty means 127.0.0.1.
	Host string
	// Port to listen on; 0 picks a free port once, which Restart then reuses.
	Port int
	// StoreDir is the JetStream store directory; empty means a temp dir, removed by Close.
	StoreDir string
	// Logger receives the server's log; nil means slog.Default(). Notices are logged at Debug
	// level (the server is chatty), warnings and errors as such.
	Logger *slog.Logger
}

// Server is an embedded nats-server. Its methods are safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	host        string
	port        int
	storeDir    string
	removeStore bool
	logger      *slog.Logger
	ns          *server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(o Options) (*Server, error) {
	s := &Server{host: o.Host, port: o.Port, storeDir: o.StoreDir, logger: o.Logger}
	if s.host == "" {
		s.host = "127.0.0.1"
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.storeDir == "" {
		d, err := os.MkdirTemp("", "natsserver-")
		if err != nil {
			return nil, fmt.Errorf("natsserver: temp store: %w", err)
		}
		s.storeDir, s.removeStore = d, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		if s.removeStore {
			_ = os.RemoveAll(s.storeDir)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) startLocked() error {
	opts := &server.Options{
		ServerName: "portcullis-embedded",
		Host:       s.host,
		Port:       s.port,
		JetStream:  true,
		StoreDir:   s.storeDir,
		NoSigs:     true, // the embedding process owns signal handling
		// Keep memory modest on small machines; the store is file-backed.
		JetStreamMaxMemory: 256 << 20,
		MaxPayload:         8 << 20, // bundles can be large
	}
	if s.port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("natsserver: %w", err)
	}
	ns.SetLogger(slogAdapter{s.logger}, false, false)
	go ns.Start()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		return fmt.Errorf("natsserver: not ready on %s:%d within %s", s.host, s.port, readyTimeout)
	}
	if s.port == 0 {
		addr, ok := ns.Addr().(*net.TCPAddr)
		if !ok {
			ns.Shutdown()
			return errors.New("natsserver: cannot determine listen port")
		}
		s.port = addr.Port
	}
	s.ns = ns
	s.logger.Debug("nats-server started", "url", s.urlLocked(), "store", s.storeDir)
	return nil
}

// URL is the client URL, e.g. nats://127.0.0.1:4222. It stays the same across Restart.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Server) urlLocked() string {
	return (&url.URL{Scheme: "nats", Host: net.JoinHostPort(s.host, strconv.Itoa(s.port))}).String()
}

// StoreDir is the JetStream store directory.
func (s *Server) StoreDir() string { return s.storeDir }

// Shutdown stops the server and waits for it, keeping the store so that Restart brings back
// the same streams and KV buckets. Idempotent.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ns == nil {
		return
	}
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	s.ns = nil
}

// Restart starts the server again on the same address and store (after Shutdown, or as a
// stop-then-start if it is running). The port may be briefly unavailable after a shutdown, so
// binding is retried for a few seconds.
func (s *Server) Restart() error {
	s.Shutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.startLocked(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Running reports whether the server is up and accepting connections.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ns != nil && s.ns.Running()
}

// Close shuts the server down and removes the store if Start created it.
func (s *Server) Close() {
	s.Shutdown()
	if s.removeStore {
		_ = os.RemoveAll(s.storeDir)
	}
}

// slogAdapter routes nats-server logging to slog. Fatalf must not exit the process: an
// embedded server's fatal error is reported to the embedder as an error log instead.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) {
	a.l.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (a slogAdapter) Warnf(format string, v ...any) { a.l.Warn("nats: " + fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any) {
	a.l.Error("nats fatal: " + fmt.Sprintf(format, v...))
}
func (a slogAdapter) Errorf(format string, v ...any) { a.l.Error("nats: " + fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any) { a.l.Debug("nats: " + fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any) {}
