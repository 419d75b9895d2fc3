package natsserver_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/natsserver"
)

func TestStartWithTempStoreAndClose(t *testing.T) {
	s, err := natsserver.Start(natsserver.Options{})
	require.NoError(t, err)
	store := s.StoreDir()
	require.DirExists(t, store)

	nc, err := nats.Connect(s.URL())
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	require.NoError(t, err, "JetStream must be enabled")
	nc.Close()

	s.Close()
	require.False(t, s.Running())
	_, err = os.Stat(store)
	require.ErrorIs(t, err, os.ErrNotExist, "Close removes a store it created")
}

func TestFixedPortAndRestartWhileRunning(t *testing.T) {
	s, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	require.NoError(t, err)
	defer s.Shutdown()
	url := s.URL()
	require.NoError(t, s.Restart(), "Restart of a running server is a stop-then-start")
	require.Equal(t, url, s.URL())
	require.True(t, s.Running())
	s.Shutdown()
	s.Shutdown() // idempotent
}
