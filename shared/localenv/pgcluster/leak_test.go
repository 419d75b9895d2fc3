package pgcluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/localenv/pgcluster"
)

const helperEnv = "PGCLUSTER_LEAK_HELPER_DIR"

// TestPostmasterDiesWithParent kills (SIGKILL, no cleanup possible) a process that started a
// cluster and checks that the postmaster does not outlive it.
func TestPostmasterDiesWithParent(t *testing.T) {
	if dir := os.Getenv(helperEnv); dir != "" {
		runHelper(dir)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPostmasterDiesWithParent$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "READY" {
			ready = true
			break
		}
	}
	require.True(t, ready, "helper did not start its cluster")

	pid := postmasterPID(t, dir)
	require.True(t, alive(pid), "postmaster must be running while its parent lives")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	for alive(pid) {
		select {
		case <-ctx.Done():
			t.Fatalf("postmaster %d outlived its parent", pid)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func runHelper(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgcluster.Start(ctx, pgcluster.Options{Dir: dir}); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	fmt.Println("READY")
	select {} // wait to be killed
}

func postmasterPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	require.NoError(t, err)
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	require.NoError(t, err)
	return pid
}

// alive is true for a running process; a zombie (exited, not yet reaped: in a container whose
// init does not reap, an orphan stays one) counts as dead.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}
