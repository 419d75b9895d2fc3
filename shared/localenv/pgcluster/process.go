package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDirEnv overrides the PostgreSQL binary directory (must contain initdb and postgres).
const BinDirEnv = "PORTCULLIS_PG_BINDIR"

// FindBinDir locates the directory holding initdb and postgres: $PORTCULLIS_PG_BINDIR, then
// `pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin, then $PATH.
func FindBinDir() (string, error) {
	var candidates []string
	if d := os.Getenv(BinDirEnv); d != "" {
		candidates = append(candidates, d)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, versionedBinDirs()...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, d := range candidates {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("pgcluster: PostgreSQL server binaries (initdb, postgres) not found; " +
		"install them (apt-get install -y postgresql-15) or set " + BinDirEnv)
}

// versionedBinDirs returns /usr/lib/postgresql/<v>/bin, newest major version first.
func versionedBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	return dirs
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// postgresCredential returns the ids of the `postgres` OS user when running as root (initdb and
// postgres refuse to run as root), nil otherwise (run as the current user).
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a 'postgres' OS user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("pgcluster: postgres user ids: %w", err)
	}
	// Groups: empty clears root's supplementary groups in the child.
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// ensureDir creates the data directory with the mode postgres demands (0700) and, as root,
// hands it to the postgres user. Parents must be traversable by that user.
func (c *Cluster) ensureDir() error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: create %s: %w", c.dir, err)
	}
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("pgcluster: chmod %s: %w", c.dir, err)
	}
	if c.cred == nil {
		return nil
	}
	if err := c.ensureTraversable(filepath.Dir(c.dir)); err != nil {
		return err
	}
	// The tree may hold files from an earlier run as another user; hand all of it over.
	return filepath.Walk(c.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", p, err)
		}
		return nil
	})
}

// ensureTraversable lets the postgres user reach dir: root-owned private parents (t.TempDir()
// makes 0700 ones) get the search bit for others. Search only: names stay unlistable.
func (c *Cluster) ensureTraversable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("pgcluster: the postgres user cannot reach %s: %w", d, err)
			}
			c.logger.Debug("granted search permission so postgres can reach its data dir", "dir", d)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

func (c *Cluster) initialised() bool {
	_, err := os.Stat(filepath.Join(c.dir, "PG_VERSION"))
	return err == nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	cmd.Dir = c.dir
	// A predictable environment: no inherited PG* variables, C locale messages.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "LANG=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

func (c *Cluster) initdb(ctx context.Context) error {
	start := time.Now()
	// -N: no fsync of the new files (a crash during initdb just means run it again).
	cmd := c.command(ctx, "initdb", "-D", c.dir, "-U", Superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "-N")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: initdb %s: %w\n%s", c.dir, err, trimOutput(out))
	}
	// Only local connections, and only over loopback TCP or the private socket inside Dir.
	hba := "# Written by pgcluster: trust on loopback and on the private socket only.\n" +
		"local all all trust\n" +
		"host all all 127.0.0.1/32 trust\n"
	if err := c.writeOwned(filepath.Join(c.dir, "pg_hba.conf"), hba); err != nil {
		return err
	}
	conf := filepath.Join(c.dir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = f.WriteString("\ninclude_if_exists = 'pgcluster.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: append include to %s: %w", conf, err)
	}
	c.logger.Info("initialised postgres cluster", "dir", c.dir, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// writeConfig writes the per-start settings (port and fsync can change between runs).
func (c *Cluster) writeConfig(fsync bool) error {
	onOff := map[bool]string{true: "on", false: "off"}
	conf := fmt.Sprintf(`# Written by pgcluster on every start; edit Options instead.
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
fsync = %s
synchronous_commit = %s
full_page_writes = %s
max_connections = 200
shared_buffers = '64MB'
logging_collector = off
log_min_messages = warning
TimeZone = 'UTC'
`, c.port, strings.ReplaceAll(c.dir, "'", "''"), onOff[fsync], onOff[fsync], onOff[fsync])
	return c.writeOwned(filepath.Join(c.dir, "pgcluster.conf"), conf)
}

func (c *Cluster) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", path, err)
	}
	if c.cred != nil {
		if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s: %w", path, err)
		}
	}
	return nil
}

// clearStalePID deals with postmaster.pid left behind by an earlier run. If the recorded process
// is a live postgres (an earlier dev run still serving this Dir), it is shut down (fast) so this
// run can start it with its own settings; if the process is gone, or the pid now belongs to an
// unrelated process, the file is removed. We never signal a pid that is not a postgres.
func (c *Cluster) clearStalePID(ctx context.Context) error {
	pidFile := filepath.Join(c.dir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !isPostgres(pid) {
		c.logger.Warn("removing stale postmaster.pid", "dir", c.dir, "pid", first)
		if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pgcluster: remove stale pid file: %w", err)
		}
		return nil
	}
	c.logger.Warn("a postgres from an earlier run is serving this data dir; stopping it", "dir", c.dir, "pid", pid)
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		return fmt.Errorf("pgcluster: stop earlier postgres (pid %d): %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	for {
		if _, err := os.Stat(pidFile); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: earlier postgres (pid %d) did not stop: %w", pid, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func isPostgres(pid int) bool {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false
	}
	name := strings.TrimSpace(string(comm))
	return name == "postgres" || name == "postmaster"
}

// startPostmaster runs postgres as a child in its own process group (so a terminal Ctrl-C does
// not reach it before its clients are stopped) that receives SIGINT if this process dies.
func (c *Cluster) startPostmaster(ctx context.Context) error {
	logPath := filepath.Join(c.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pgcluster: open %s: %w", logPath, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	if c.cred != nil {
		_ = os.Chown(logPath, int(c.cred.Uid), int(c.cred.Gid))
	}
	cmd := c.command(context.Background(), "postgres", "-D", c.dir)
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
	cmd.Stdout, cmd.Stderr = logFile, logFile
	c.cmd = cmd
	c.done = make(chan struct{})
	if err := startLocked(cmd, c.done); err != nil {
		return fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	if err := c.waitReady(ctx); err != nil {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		<-c.done
		return fmt.Errorf("%w\n%s", err, tail(logPath))
	}
	c.logger.Info("postgres started", "addr", fmt.Sprintf("127.0.0.1:%d", c.port), "dir", c.dir)
	return nil
}

// waitReady polls until the server accepts a connection (what `pg_ctl start -w` waits for).
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, c.SuperuserDSN("postgres"))
		cancelAttempt()
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%w (%v)", errExitedEarly, c.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: postgres not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "server log (" + path + "):\n" + string(bytes.Join(lines, []byte("\n")))
}

// startLocked starts cmd and waits for it on a goroutine locked to its OS thread, closing done
// when it exits. The parent-death signal fires when the *thread* that forked the child exits,
// not the process (golang/go#27505); the Go runtime ends a thread when a goroutine locked to it
// exits, so keeping the forking goroutine locked and alive for the child's whole life makes the
// signal mean exactly "this process died".
func startLocked(cmd *exec.Cmd, done chan struct{}) error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine, after the child
		if err := cmd.Start(); err != nil {
			started <- err
			close(done)
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(done)
	}()
	return <-started
}
