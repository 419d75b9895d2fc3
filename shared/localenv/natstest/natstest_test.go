package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/natstest"
)

// TestKVSurvivesRestart is the outage scenario other packages rely on: data written before a
// Shutdown is there after Restart, on the same URL, and a client reconnects by itself.
func TestKVSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := natstest.New(t)
	url := srv.URL()
	require.True(t, srv.Running())

	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectBufSize(-1)) // no buffering: a publish during the outage fails at once
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "test-bucket", History: 5})
	require.NoError(t, err)
	rev, err := kv.Put(ctx, "global", []byte("v1"))
	require.NoError(t, err)

	srv.Shutdown()
	require.False(t, srv.Running())
	waitStatus(ctx, t, nc, func(s nats.Status) bool { return s != nats.CONNECTED })
	_, err = kv.Put(ctx, "global", []byte("lost?"))
	require.Error(t, err, "writes must fail while the server is down")

	require.NoError(t, srv.Restart())
	require.True(t, srv.Running())
	require.Equal(t, url, srv.URL(), "Restart must keep the address")

	// The old connection reconnects on its own; wait for it without a fixed sleep.
	waitStatus(ctx, t, nc, func(s nats.Status) bool { return s == nats.CONNECTED })
	entry, err := kv.Get(ctx, "global")
	require.NoError(t, err)
	require.Equal(t, "v1", string(entry.Value()))
	require.Equal(t, rev, entry.Revision())

	rev2, err := kv.Put(ctx, "global", []byte("v2"))
	require.NoError(t, err)
	require.Greater(t, rev2, rev)
}

func TestServersAreIndependent(t *testing.T) {
	a, b := natstest.New(t), natstest.New(t)
	require.NotEqual(t, a.URL(), b.URL())
	require.NotEqual(t, a.StoreDir(), b.StoreDir())
}

// waitStatus polls the client's connection status (no fixed sleeps: the client notices a
// dropped connection asynchronously).
func waitStatus(ctx context.Context, t *testing.T, nc *nats.Conn, ok func(nats.Status) bool) {
	t.Helper()
	for !ok(nc.Status()) {
		select {
		case <-ctx.Done():
			t.Fatalf("connection status stuck at %v", nc.Status())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
