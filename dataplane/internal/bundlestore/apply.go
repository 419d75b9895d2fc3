package bundlestore

import (
	"errors"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// applyLocked verifies a value read from KV key and stages it. It reports
// whether staged changed. The caller holds mu.
//
// The scope comes from the key, never from the value: Verify then refuses a
// bundle whose signed scope differs, so a valid tenant A bundle written under
// tenant B's key cannot become B's configuration.
func (s *NATS) applyLocked(key string, raw []byte, source string) bool {
	scope, err := bundle.ScopeFromKey(key)
	if err != nil {
		s.reject(reasonBadKey, key, "", source, err)
		return false
	}
	b, err := bundle.Verify(raw, s.cfg.Keys, scope)
	if err != nil {
		s.reject(reasonInvalid, key, scope, source, err)
		return false
	}
	return s.acceptLocked(b, raw, source)
}

// acceptLocked stages a verified bundle if bundle.Accept allows it to replace
// what is held for its scope. The caller holds mu.
func (s *NATS) acceptLocked(b *bundle.Bundle, raw []byte, source string) bool {
	err := bundle.Accept(s.staged.bundleFor(b.Scope), b)
	switch {
	case errors.Is(err, bundle.ErrDuplicate):
		s.m.duplicates.Inc()
		return false
	case errors.Is(err, bundle.ErrStale):
		s.reject(reasonStale, bundle.KeyFor(b.Scope), b.Scope, source, err)
		return false
	case errors.Is(err, bundle.ErrScope):
		s.reject(reasonScope, bundle.KeyFor(b.Scope), b.Scope, source, err)
		return false
	case err != nil:
		s.reject(reasonInvalid, bundle.KeyFor(b.Scope), b.Scope, source, err)
		return false
	}
	prev := s.staged.Revision(b.Scope)
	if s.staged == s.current.Load() {
		// Published: readers hold it, so stage on a copy. An unpublished
		// staged (the first sync, a snapshot file) is ours to change in place.
		s.staged = s.staged.clone()
	}
	s.staged.set(b, raw)
	s.dirty = true
	s.m.applied.WithLabelValues(source).Inc()
	s.m.revision.WithLabelValues(string(b.Scope)).Set(float64(b.Revision))
	s.log.Info("bundle applied", "scope", b.Scope, "revision", b.Revision, "previous", prev,
		"content_hash", b.ContentHash, "deleted", b.Deleted, "source", source)
	if b.Scope == model.GlobalScope && s.cfg.Sealer != nil {
		// Unseal now, once, so a seal-key mismatch is reported when the
		// bundle arrives; requests then find the keys already open.
		if _, err := s.staged.BackendSigner(s.cfg.Sealer, s.cfg.Now()); err != nil {
			s.m.backendKeys.Inc()
			s.log.Error("global bundle applied but its backend keys cannot be used; forwarding will fail",
				"revision", b.Revision, "err", err)
		}
	}
	return true
}

// reject logs and counts a refused bundle. The held bundle is untouched.
func (s *NATS) reject(reason, key string, scope model.Scope, source string, err error) {
	s.m.rejected.WithLabelValues(reason).Inc()
	s.log.Warn("bundle rejected; keeping the last good one", "reason", reason, "key", key,
		"scope", scope, "held_revision", s.staged.Revision(scope), "source", source, "err", err)
}

// publishLocked makes staged current and tells the listeners and the
// heartbeat. The caller holds mu, which keeps listeners in order.
func (s *NATS) publishLocked() {
	s.current.Store(s.staged)
	s.listeners.notify(s.staged)
	select {
	case s.heartbeat <- struct{}{}:
	default:
	}
}

// writeFileLocked writes the snapshot file if staged holds changes it does
// not. A failure is logged and retried on the next change: the file only
// matters for the next boot without NATS.
func (s *NATS) writeFileLocked() {
	if s.cfg.SnapshotPath == "" || !s.dirty {
		return
	}
	if err := writeSnapshotFile(s.cfg.SnapshotPath, s.staged, s.cfg.Now()); err != nil {
		s.m.snapshotFile.WithLabelValues("write", "error").Inc()
		s.log.Error("cannot write the snapshot file", "path", s.cfg.SnapshotPath, "err", err)
		return
	}
	s.dirty = false
	s.m.snapshotFile.WithLabelValues("write", "ok").Inc()
}
