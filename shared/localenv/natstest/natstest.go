// Package natstest gives a test its own embedded JetStream server with a temporary store.
package natstest

import (
	"log/slog"
	"os"
	"testing"

	"github.com/portcullis/portcullis/shared/localenv/natsserver"
)

// New starts an embedded nats-server with JetStream on a free 127.0.0.1 port and a store in
// t.TempDir(). It is shut down when the test ends (Restart keeps the same URL and store, for
// outage tests). Only server errors are logged (to stderr): the server is chatty otherwise.
func New(t testing.TB) *natsserver.Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}
