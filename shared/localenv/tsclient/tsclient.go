// Package tsclient runs the official MCP TypeScript SDK client from Go tests:
// the SDK is installed here once (npm ci from the one committed
// package-lock.json, serialised across test binaries: see installOnce), and
// runner.mjs connects a client through a round-robin balancer, hands it to the
// test's own script, and prints what it observed as JSON for the test to
// assert on.
package tsclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	installTimeout = 5 * time.Minute
	runTimeout     = 60 * time.Second

	// stampName, inside node_modules (so npm ci's own wipe removes it), holds
	// the SHA-256 of the package-lock.json the tree was installed from.
	stampName = ".portcullis-installed"
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
	install.once.Do(func() { install.out, install.err = installOnce(dir()) })
	if install.err != nil {
		t.Fatalf("npm ci in %s: %v: %s", dir(), install.err, install.out)
	}
	return node
}

// installOnce runs npm ci in d unless a complete install of the current
// lockfile is already there. Test binaries of different packages (the
// gateway's mcp package and e2e) need it at the same time under `go test -p N`,
// and two npm ci in one directory delete each other's node_modules, so the
// check and the install happen under an exclusive flock on d, held by every
// process until its check is done; the stamp is written only after npm ci
// succeeds, so a killed or failed install is redone by the next process.
func installOnce(d string) ([]byte, error) {
	lock, err := os.Open(d)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // releases the flock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", d, err)
	}
	lockfile, err := os.ReadFile(filepath.Join(d, "package-lock.json"))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(lockfile)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(d, "node_modules", stampName)
	if got, err := os.ReadFile(stamp); err == nil && string(got) == want {
		return nil, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = d
	if out, err := cmd.CombinedOutput(); err != nil {
		return out, err
	}
	return nil, os.WriteFile(stamp, []byte(want), 0o644)
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
