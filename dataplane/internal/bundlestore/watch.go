package bundlestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	errNotConnected  = errors.New("NATS is not connected")
	errReconnected   = errors.New("NATS reconnected; resyncing")
	errWatcherClosed = errors.New("bundle watch closed")
)

// watchLoop owns the KV watch. Each session reads every key (the last value
// per key), then follows changes; a session ends when the connection comes
// back after an outage or the watch fails, and the next one starts over
// with a full read. Bundles already held come back as duplicates and are
// skipped, so a resync costs one verification per scope and nothing else.
// Restarting on reconnect, rather than trusting the ordered consumer to
// resume, makes catching up after an outage of any length one code path.
func (s *NATS) watchLoop(ctx context.Context) {
	status := s.cfg.NC.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer s.cfg.NC.RemoveStatusListener(status)
	bo := newBackoff(100*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		drainStatus(status)
		start := time.Now()
		err := s.watchSession(ctx, status)
		s.setLive(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			bo.reset()
		}
		d := bo.next()
		if errors.Is(err, errReconnected) {
			d = 0
		}
		if !errors.Is(err, errNotConnected) && !errors.Is(err, errReconnected) {
			s.log.Warn("bundle watch failed; retrying", "err", err, "in", d)
		}
		waitRetry(ctx, status, d)
	}
}

// watchSession runs one watch until it fails or ctx ends.
func (s *NATS) watchSession(ctx context.Context, status <-chan nats.Status) error {
	if !s.cfg.NC.IsConnected() {
		return errNotConnected
	}
	cctx, cancel := context.WithTimeout(ctx, natsTimeout)
	kv, err := s.js.KeyValue(cctx, s.cfg.Bucket)
	cancel()
	if err != nil {
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			// The control plane creates the bucket; until then there is
			// nothing to sync, and no configuration to be ready with.
			return fmt.Errorf("bucket %q does not exist yet: %w", s.cfg.Bucket, err)
		}
		return fmt.Errorf("open bucket %q: %w", s.cfg.Bucket, err)
	}
	// The watch's context must outlive this call's timeouts: it carries the
	// subscription. Stop ends it.
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch %q: %w", s.cfg.Bucket, err)
	}
	defer stopWatcher(w)
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st := <-status:
			if st == nats.CONNECTED {
				return errReconnected
			}
			if st == nats.CLOSED {
				return errors.New("NATS connection closed")
			}
			s.setLive(false) // keep serving; the CONNECTED event restarts the watch
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return errWatcherClosed
			case e == nil:
				s.synced(time.Since(started))
			default:
				s.handleEntry(e)
			}
		}
	}
}

// stopWatcher unsubscribes and drains the updates channel until the client
// closes it: the watcher's callback blocks on a full channel, and left
// blocked it would leak its goroutine.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	timeout := time.NewTimer(natsTimeout)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-timeout.C:
			return
		}
	}
}

func drainStatus(ch <-chan nats.Status) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitRetry sleeps d, or less if the connection comes back.
func waitRetry(ctx context.Context, status <-chan nats.Status, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			return
		case st := <-status:
			if st == nats.CONNECTED {
				return
			}
		}
	}
}

// handleEntry applies one KV entry. Deletes and purges are ignored: only a
// signed tombstone removes a tenant (DESIGN.md).
func (s *NATS) handleEntry(e jetstream.KeyValueEntry) {
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		if s.ignoredDeletes[e.Key()] == e.Revision() {
			return // the same delete again, read by a resync
		}
		s.ignoredDeletes[e.Key()] = e.Revision()
		s.m.deletesIgnored.Inc()
		s.log.Warn("KV delete ignored: only a signed tombstone removes a scope; keeping the last good bundle",
			"key", e.Key(), "op", op.String(), "kv_revision", e.Revision())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.applyLocked(e.Key(), e.Value(), sourceNATS) {
		return
	}
	if s.ready.Load() {
		s.publishLocked()
		s.writeFileLocked()
	}
}

// synced marks the end of the initial read of a session: staged now holds
// every scope, and becomes current.
func (s *NATS) synced(took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current.Load() != s.staged {
		s.publishLocked()
	}
	s.writeFileLocked()
	wasStale := s.stale.Swap(false)
	s.setLive(true)
	s.m.syncs.Inc()
	if !s.ready.Load() || wasStale {
		s.log.Info("bundles synced from NATS", "scopes", len(s.staged.heldMap()), "took", took, "was_stale", wasStale)
	}
	s.markReady()
}

func (s *NATS) markReady() {
	if !s.ready.Swap(true) {
		close(s.readyCh)
	}
}

// bootFallback loads the snapshot file if the first sync has not finished
// within BootTimeout.
func (s *NATS) bootFallback(ctx context.Context) {
	if s.cfg.SnapshotPath == "" {
		return
	}
	t := time.NewTimer(s.cfg.BootTimeout)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-s.readyCh:
		return
	case <-t.C:
	}
	s.loadSnapshotFile()
}

func (s *NATS) loadSnapshotFile() {
	path := s.cfg.SnapshotPath
	entries, err := readSnapshotFile(path, s.cfg.Keys)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.m.snapshotFile.WithLabelValues("load", "missing").Inc()
		s.log.Warn("NATS unreachable at boot and no snapshot file; waiting for NATS", "path", path)
		return
	case err != nil:
		s.m.snapshotFile.WithLabelValues("load", "rejected").Inc()
		s.log.Error("snapshot file refused; waiting for NATS", "path", path, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready.Load() {
		return // NATS won the race
	}
	for _, e := range entries {
		s.acceptLocked(e.b, e.raw, sourceFile)
	}
	s.publishLocked()
	s.stale.Store(true)
	s.markReady()
	s.m.snapshotFile.WithLabelValues("load", "ok").Inc()
	s.log.Warn("NATS unreachable at boot: serving bundles from the snapshot file until it is back",
		"path", path, "scopes", len(entries))
}
