package bundlestore

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: Run must
// stop its watch, fallback and heartbeat goroutines and the NATS watcher.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
