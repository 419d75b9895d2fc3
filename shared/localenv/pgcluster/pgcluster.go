// Package pgcluster runs a real, local PostgreSQL cluster from the binaries installed on the
// machine (initdb + postgres), for tests and for `make run`. It never talks to a shared or
// remote server: the cluster listens on 127.0.0.1 only, with trust authentication, so it must
// only ever hold throwaway or development data.
//
// The postmaster runs as a direct child of the calling process (not daemonised by pg_ctl) with
// a parent-death signal, so a test binary or dev process that is killed takes its cluster with
// it instead of leaking a server that holds a port and a data directory.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Superuser is the bootstrap superuser created by initdb. Only setup code uses it; applications
// connect as the role passed to CreateDatabase.
const Superuser = "postgres"

// Default timeouts. Starting includes crash recovery after an unclean stop, which can take a
// few seconds on a slow disk.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// Options configures Start.
type Options struct {
	// Dir is the data directory. Empty means a fresh temporary directory, removed by Stop.
	// A Dir that already holds a cluster (PG_VERSION present) is reused as is.
	Dir string
	// Port is the TCP port on 127.0.0.1. 0 picks a free port.
	Port int
	// Fsync keeps fsync on. Off by default: tests and dev data are disposable, and fsync off
	// makes initdb and every commit several times faster.
	Fsync bool
	// Logger receives progress messages. Nil means slog.Default().
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL cluster.
type Cluster struct {
	dir       string
	removeDir bool
	port      int
	bindir    string
	logger    *slog.Logger
	cred      *syscall.Credential // non-nil when running as root: the postgres user's ids

	cmd     *exec.Cmd
	done    chan struct{} // closed when the postmaster exits
	mu      sync.Mutex
	stopped bool
}

// Start initialises the cluster if needed and starts it, returning once it accepts connections.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	bindir, err := FindBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bindir: bindir, logger: logger, cred: cred, dir: o.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "pgcluster-"); err != nil {
			return nil, fmt.Errorf("pgcluster: temp dir: %w", err)
		}
		c.removeDir = true
	} else if c.dir, err = filepath.Abs(c.dir); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := c.start(ctx, o); err != nil {
		if c.removeDir {
			_ = os.RemoveAll(c.dir)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, o Options) error {
	if err := c.ensureDir(); err != nil {
		return err
	}
	if !c.initialised() {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	}
	if err := c.clearStalePID(ctx); err != nil {
		return err
	}
	if o.Port != 0 {
		c.port = o.Port
		if err := c.writeConfig(o.Fsync); err != nil {
			return err
		}
		return c.startPostmaster(ctx)
	}
	// A free port can be taken by someone else (another test binary's cluster) before postgres
	// binds it; postgres then exits at once, and another port is tried.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if err = c.writeConfig(o.Fsync); err != nil {
			return err
		}
		if err = c.startPostmaster(ctx); !errors.Is(err, errExitedEarly) {
			return err
		}
		c.logger.Warn("postgres exited during start-up; retrying on another port", "err", err)
	}
	return err
}

// errExitedEarly marks a postmaster that exited before accepting connections.
var errExitedEarly = errors.New("pgcluster: postgres exited during start-up")

// Dir is the data directory.
func (c *Cluster) Dir() string { return c.dir }

// Port is the TCP port the cluster listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// SuperuserDSN is a connection string for the bootstrap superuser on database db.
func (c *Cluster) SuperuserDSN(db string) string { return c.dsn(Superuser, db) }

func (c *Cluster) dsn(user, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name owned by role owner, creating owner first if it does not
// exist (LOGIN NOSUPERUSER NOBYPASSRLS, so row-level security applies to it). It returns a DSN
// that connects as owner. An existing database of that name is an error (use EnsureDatabase to
// accept it).
func (c *Cluster) CreateDatabase(ctx context.Context, name, owner string) (string, error) {
	return c.createDatabase(ctx, name, owner, false)
}

// EnsureDatabase is CreateDatabase that accepts an existing database (for persistent dev
// clusters).
func (c *Cluster) EnsureDatabase(ctx context.Context, name, owner string) (string, error) {
	return c.createDatabase(ctx, name, owner, true)
}

func (c *Cluster) createDatabase(ctx context.Context, name, owner string, allowExisting bool) (string, error) {
	if name == "" || owner == "" {
		return "", errors.New("pgcluster: database name and owner are required")
	}
	conn, err := pgx.Connect(ctx, c.SuperuserDSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgcluster: connect as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := ensureRole(ctx, conn, owner); err != nil {
		return "", err
	}
	q := fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{owner}.Sanitize())
	if _, err := conn.Exec(ctx, q); err != nil {
		if !(allowExisting && pgCode(err) == "42P04") { // duplicate_database
			return "", fmt.Errorf("pgcluster: create database %q: %w", name, err)
		}
	}
	return c.dsn(owner, name), nil
}

// ensureRole creates a non-superuser login role unless it exists. Concurrent callers (parallel
// test binaries share nothing, but parallel tests in one binary share a cluster) may race; the
// loser sees duplicate_object or a unique violation on pg_authid, which both mean "exists".
func ensureRole(ctx context.Context, conn *pgx.Conn, role string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
		return fmt.Errorf("pgcluster: look up role %q: %w", role, err)
	}
	if exists {
		return nil
	}
	q := fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE", pgx.Identifier{role}.Sanitize())
	if _, err := conn.Exec(ctx, q); err != nil {
		if code := pgCode(err); code == "42710" || code == "23505" {
			return nil
		}
		return fmt.Errorf("pgcluster: create role %q: %w", role, err)
	}
	return nil
}

// DropDatabase drops database name, disconnecting any remaining sessions. A missing database is
// not an error.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.SuperuserDSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: connect as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	q := fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", pgx.Identifier{name}.Sanitize())
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("pgcluster: drop database %q: %w", name, err)
	}
	return nil
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Stop shuts the cluster down with a fast shutdown (what `pg_ctl stop -m fast` does: SIGINT,
// sessions are disconnected, a checkpoint is written), escalating to an immediate shutdown if
// ctx ends first. A temporary data directory is removed. Stop is idempotent.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	err := c.signalAndWait(ctx)
	if c.removeDir {
		if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
			err = fmt.Errorf("pgcluster: remove %s: %w", c.dir, rmErr)
		}
	}
	return err
}

func (c *Cluster) signalAndWait(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
		c.logger.Debug("postgres stopped", "dir", c.dir)
		return nil
	case <-ctx.Done():
	}
	// Immediate shutdown: no checkpoint, crash recovery on the next start. Then be sure.
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	return fmt.Errorf("pgcluster: fast shutdown did not finish in time: %w", ctx.Err())
}

// Done is closed when the postmaster exits (for whatever reason).
func (c *Cluster) Done() <-chan struct{} { return c.done }

// String identifies the cluster in logs.
func (c *Cluster) String() string {
	return fmt.Sprintf("postgres 127.0.0.1:%d (%s)", c.port, c.dir)
}

// freePort asks the kernel for a free port on 127.0.0.1. Someone else could take it before
// postgres binds it; startPostmaster reports that clearly rather than retrying forever.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	const max = 4000
	if len(s) > max {
		s = "..." + s[len(s)-max:]
	}
	return s
}
