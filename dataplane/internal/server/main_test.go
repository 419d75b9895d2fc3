package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a gateway leaves a goroutine behind after
// Run returned (bundle store, heartbeats, audit workers, certificate watch).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
