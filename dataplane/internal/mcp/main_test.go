package mcp

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves goroutines behind: the SDK clients, the
// test servers and the handler's timeouts must all be cleaned up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
