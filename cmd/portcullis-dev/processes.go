package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

const stopTimeout = 30 * time.Second

// stopStack stops what was started, last first: the control plane before the issuer before
// Postgres, so nothing loses its database while still serving.
type stopStack struct {
	mu     sync.Mutex
	items  []stopItem
	exited chan error
}

type stopItem struct {
	name string
	stop func(context.Context) error
}

func (s *stopStack) push(name string, stop func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items = append(s.items, stopItem{name, stop})
}

func (s *stopStack) stopAll(logger *slog.Logger) {
	s.mu.Lock()
	items := s.items
	s.items = nil
	s.mu.Unlock()
	for i := len(items) - 1; i >= 0; i-- {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		if err := items[i].stop(ctx); err != nil {
			logger.Error("stop failed", "component", items[i].name, "err", err)
		} else {
			logger.Info("stopped", "component", items[i].name)
		}
		cancel()
	}
}

func (s *stopStack) exitedChan() chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited == nil {
		s.exited = make(chan error, 8)
	}
	return s.exited
}

// childExited delivers the first unexpected exit of a component.
func (s *stopStack) childExited() <-chan error { return s.exitedChan() }

func (s *stopStack) notifyExit(name string, err error) {
	select {
	case s.exitedChan() <- fmt.Errorf("%s exited: %v", name, err):
	default:
	}
}

// child is a component run as a separate process.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid after done is closed
}

// startChild runs bin in its own process group (a terminal Ctrl-C reaches only us; we then stop
// children in order) with a parent-death signal (if we are killed, it does not linger).
func startChild(name, bin string, args, env []string, dir string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	out := &prefixWriter{prefix: "[" + name + "] ", w: os.Stderr}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the forking OS thread ends (golang/go#27505); locking this
		// goroutine to its thread for the child's whole life makes it mean "we died".
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		c.err = cmd.Wait()
		out.flush()
		close(c.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return c, nil
}

// stop asks the child to shut down gracefully (SIGTERM) and kills it if ctx ends first.
func (c *child) stop(ctx context.Context) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s; killed", c.name, stopTimeout)
	}
}

// prefixWriter prefixes each line of a child's output with its name.
type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// goBuild builds pkg into out from the repository root, with a clear error if it does not build.
func goBuild(ctx context.Context, root, pkg, out string) error {
	goBin := os.Getenv("GO")
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot build %s (%v):\n%s", pkg, err, bytes.TrimSpace(b))
	}
	return nil
}

var errChildExited = errors.New("exited before it was ready")
