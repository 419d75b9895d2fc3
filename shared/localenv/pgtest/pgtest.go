// Package pgtest gives tests a real PostgreSQL database: one throwaway cluster per test binary
// (started in a temp dir, ~1 s) and a fresh, uniquely named database per test, owned by the
// non-superuser role "portcullis" so row-level security applies exactly as in production.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.NewDatabase(t) // dropped when the test ends
//		...
//	}
//
// NewDatabase also works without Main: the cluster is then started lazily on first use and is
// never stopped explicitly. That is not a leak: the postmaster gets SIGINT from the kernel when
// the test binary exits (parent-death signal), and the next lazy start removes data dirs left by
// binaries that are no longer running. Main is still preferred: it stops the cluster cleanly
// and removes the directory immediately.
//
// The cluster is process-wide state by necessity (tests in one binary share it); it is guarded
// by a mutex and started at most once.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/shared/localenv/pgcluster"
)

// Owner is the role that owns every test database and that the returned DSNs connect as.
const Owner = "portcullis"

const dirPrefix = "portcullis-pgtest-"

var state struct {
	mu      sync.Mutex
	cluster *pgcluster.Cluster
	root    string // temp dir holding owner.pid and data/
	err     error  // a failed start is remembered: every test fails fast with it
	counter atomic.Int64
}

// Main starts the cluster, runs the tests and stops the cluster, then exits with the tests'
// code. Call it from TestMain.
func Main(m *testing.M) {
	if _, err := cluster(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// NewDatabase creates a fresh database owned by role "portcullis", drops it when the test ends,
// and returns a DSN (sslmode=disable) that connects as that non-superuser.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c, err := cluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := databaseName(t.Name(), state.counter.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn, err := c.CreateDatabase(ctx, name, Owner)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dsn
}

// Cluster returns the shared cluster (starting it if needed), for tests that need the
// superuser, e.g. to inspect roles. Application code under test must use NewDatabase's DSN.
func Cluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	c, err := cluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return c
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName derives a readable, unique, valid identifier (≤ 63 bytes) from the test name.
func databaseName(testName string, n int64) string {
	base := unsafeChars.ReplaceAllString(strings.ToLower(testName), "_")
	if len(base) > 36 {
		base = base[:36]
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("t_%s_%d_%s", strings.Trim(base, "_"), n, hex.EncodeToString(rnd[:]))
}

func cluster() (*pgcluster.Cluster, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.cluster != nil || state.err != nil {
		return state.cluster, state.err
	}
	state.cluster, state.root, state.err = start()
	return state.cluster, state.err
}

func start() (*pgcluster.Cluster, string, error) {
	sweepStaleDirs()
	root, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(root, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		_ = os.RemoveAll(root)
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := pgcluster.Start(ctx, pgcluster.Options{Dir: filepath.Join(root, "data"), Logger: logger})
	if err != nil {
		_ = os.RemoveAll(root)
		return nil, "", err
	}
	return c, root, nil
}

func stop() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.cluster == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := state.cluster.Stop(ctx)
	if rmErr := os.RemoveAll(state.root); err == nil {
		err = rmErr
	}
	state.cluster = nil
	return err
}

// sweepStaleDirs removes data dirs of test binaries that are gone (lazy mode, or killed runs).
// A dir whose owner is still alive, or that has no readable owner yet, is left alone.
func sweepStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if st, err := os.Stat(filepath.Join(d, "data", "postmaster.pid")); err == nil && time.Since(st.ModTime()) < 10*time.Second {
			continue // its postmaster may still be shutting down after the parent-death signal
		}
		_ = os.RemoveAll(d)
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
