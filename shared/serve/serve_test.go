package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/shared/localenv/devca"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// started is a Listener being served by Serve in the background.
type started struct {
	l      *Listener
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{} // closed when Serve returned
	err    error         // Serve's result, once done
}

func start(t *testing.T, l *Listener, h http.Handler, shutdownTimeout time.Duration) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, TLSConfig: l.TLSConfig(), ErrorLog: log.New(io.Discard, "", 0)}
	s := &started{l: l, srv: srv, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = l.Serve(ctx, srv, Options{ShutdownTimeout: shutdownTimeout, CertReloadInterval: time.Hour, Name: "test"})
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	<-s.done
	return s.err
}

func client(roots *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: roots, DisableKeepAlives: true}}
}

func TestServePlainHTTPUntilCancelled(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil, nil)
	require.NoError(t, err)
	require.False(t, l.TLS())
	require.Nil(t, l.TLSConfig())
	s := start(t, l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), time.Minute)

	url := "http://" + l.Addr().String() + "/"
	res, err := client(nil).Get(url)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, "ok", string(body))

	require.NoError(t, s.stop(t), "a shutdown asked for by ctx is not an error")
	_, err = client(nil).Get(url)
	require.Error(t, err, "the address must be released after Serve")
}

func TestServeTLSWithLoadedCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, err := devca.EnsureCA(dir)
	require.NoError(t, err)
	cert, key, err := ca.Issue([]string{"localhost", "127.0.0.1"}, dir, "server")
	require.NoError(t, err)

	l, err := Listen("127.0.0.1:0", []string{cert}, []string{key}, nil)
	require.NoError(t, err)
	require.True(t, l.TLS())
	start(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}), time.Minute)

	res, err := client(&tls.Config{RootCAs: ca.CertPool(), ServerName: "localhost"}).Get("https://" + l.Addr().String() + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NotNil(t, res.TLS)
	require.GreaterOrEqual(t, res.TLS.Version, uint16(tls.VersionTLS12))

	// Plain HTTP on the TLS port is refused, never served.
	plain, err := client(nil).Get("http://" + l.Addr().String() + "/")
	if err == nil {
		plain.Body.Close()
		require.Equal(t, http.StatusBadRequest, plain.StatusCode)
	}
}

func TestServeLetsInFlightRequestsFinish(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil, nil)
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	s := start(t, l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "finished")
	}), time.Minute)
	shuttingDown := make(chan struct{})
	s.srv.RegisterOnShutdown(func() { close(shuttingDown) })

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := client(nil).Get("http://" + l.Addr().String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- result{string(b), err}
	}()
	<-entered
	s.cancel()
	<-shuttingDown
	close(release)
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, "finished", r.body, "the request in flight at shutdown completes")
	<-s.done
	require.NoError(t, s.err)
}

func TestServeCutsRequestsShortAfterTheTimeout(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil, nil)
	require.NoError(t, err)
	entered := make(chan struct{})
	s := start(t, l, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // only the forced close ends it
	}), time.Nanosecond)

	got := make(chan error, 1)
	go func() {
		res, err := client(nil).Get("http://" + l.Addr().String() + "/")
		if err == nil {
			res.Body.Close()
		}
		got <- err
	}()
	<-entered
	require.NoError(t, s.stop(t))
	require.Error(t, <-got, "the connection is closed once the shutdown deadline passes")
}

func TestServeReturnsTheServingError(t *testing.T) {
	l, err := Listen("127.0.0.1:0", nil, nil, nil)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	err = l.Serve(context.Background(), &http.Server{ErrorLog: log.New(io.Discard, "", 0)}, Options{ShutdownTimeout: time.Second})
	require.Error(t, err)
	require.ErrorIs(t, err, net.ErrClosed)
	require.ErrorContains(t, err, "http: ")
}

func TestListenRefuses(t *testing.T) {
	dir := t.TempDir()
	ca, err := devca.EnsureCA(dir)
	require.NoError(t, err)
	cert, key, err := ca.Issue([]string{"localhost"}, dir, "server")
	require.NoError(t, err)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	tests := []struct {
		name       string
		addr       string
		cert, keys []string
	}{
		{"more certificates than keys", "127.0.0.1:0", []string{cert, cert}, []string{key}},
		{"keys without certificates", "127.0.0.1:0", nil, []string{key}},
		{"missing certificate file", "127.0.0.1:0", []string{filepath.Join(dir, "nope.pem")}, []string{key}},
		{"key for another certificate", "127.0.0.1:0", []string{cert}, []string{filepath.Join(dir, "ca-key.pem")}},
		{"address in use", busy.Addr().String(), nil, nil},
		{"bad address", "127.0.0.1:notaport", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Listen(tt.addr, tt.cert, tt.keys, nil)
			if err == nil {
				_ = l.Close()
			}
			require.Error(t, err)
		})
	}
}

var errBoom = errors.New("boom")
