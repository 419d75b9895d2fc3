// Package tsclient runs the official MCP TypeScript SDK client from Go tests:
// the SDK is installed here once (npm ci from the one committed
// package-lock.json), and runner.mjs connects a client through a round-robin
// balancer, hands it to the test's own script, and prints what it observed
// as JSON for the test to assert on.
package tsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

const (
	installTimeout = 5 * time.Minute
	runTimeout     = 60 * time.Second
)

var install struct {
	once sync.Once
	err  error
	out  []byte
}

// dir is this package's source directory: package.json, the lockfile,
// runner.mjs and node_modules live there, whichever package's test runs.
func dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Ready makes sure the TypeScript SDK is installed (once per test binary) and
// returns the node binary. Only a machine without node skips; a failed
// install fails the test, because "works with the official TypeScript
// client" is a requirement.
func Ready(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the TypeScript SDK client test")
	}
	d := dir()
	if _, err := os.Stat(filepath.Join(d, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err == nil {
		return node
	}
	install.once.Do(func() {
		npm, err := exec.LookPath("npm")
		if err != nil {
			install.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = d
		install.out, install.err = cmd.CombinedOutput()
	})
	if install.err != nil {
		t.Fatalf("npm ci in %s: %v: %s", d, install.err, install.out)
	}
	return node
}

// Run runs script (a path relative to the test's directory, whose default
// export drives the connected client; see runner.mjs) with opts as JSON and
// env added to the environment, and returns what it printed. A script that
// cannot run fails the test; whether the client succeeded is in the output
// (its "ok" and "error" fields) for the test to assert.
func Run(t testing.TB, script string, opts any, env ...string) []byte {
	t.Helper()
	node := Ready(t)
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatalf("tsclient: %v", err)
	}
	arg, err := json.Marshal(opts)
	if err != nil {
		t.Fatalf("tsclient: options: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "runner.mjs", abs, string(arg))
	cmd.Dir = dir()
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v: %s", script, err, stderr.String())
	}
	return stdout
}
