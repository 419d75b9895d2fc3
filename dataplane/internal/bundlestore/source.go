package bundlestore

import (
	"sync"
	"sync/atomic"
)

// Source is where the request path gets its configuration. Current is the
// hot path: one atomic load, no lock, no allocation. Layers that derive state
// from the bundles (compiled policies, tool indexes) rebuild it in OnChange
// and swap it atomically the same way.
type Source interface {
	// Current returns the configuration to serve now; never nil.
	Current() *Snapshot
	// OnChange registers fn, called with every new Snapshot after it became
	// Current, from the goroutine that applied it, one call at a time. fn must
	// return quickly and must not block on the Source. The returned function
	// unregisters fn.
	OnChange(fn func(*Snapshot)) (remove func())
	// Ready reports whether Current holds a complete configuration (the first
	// full sync, or a snapshot file when NATS was unreachable at boot). The
	// gateway answers no MCP request before it is.
	Ready() bool
}

// listeners is the OnChange registry shared by the implementations.
type listeners struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(*Snapshot)
}

func (l *listeners) add(fn func(*Snapshot)) func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fns == nil {
		l.fns = map[int]func(*Snapshot){}
	}
	id := l.next
	l.next++
	l.fns[id] = fn
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.fns, id)
	}
}

// notify calls every listener outside the lock, so a listener may remove
// itself.
func (l *listeners) notify(s *Snapshot) {
	l.mu.Lock()
	fns := make([]func(*Snapshot), 0, len(l.fns))
	for _, fn := range l.fns {
		fns = append(fns, fn)
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn(s)
	}
}

// Static is a Source holding a Snapshot given by the caller; Set replaces it.
// It is always Ready. Unit tests of the layers above use it with NewSnapshot.
type Static struct {
	cur       atomic.Pointer[Snapshot]
	writeMu   sync.Mutex // orders Set calls so listeners see snapshots in order
	listeners listeners
}

var _ Source = (*Static)(nil)

// NewStatic returns a Static serving s (nil: an empty configuration).
func NewStatic(s *Snapshot) *Static {
	st := &Static{}
	st.cur.Store(orEmpty(s))
	return st
}

// Current implements Source.
func (s *Static) Current() *Snapshot { return s.cur.Load() }

// Ready implements Source: a Static is always complete.
func (s *Static) Ready() bool { return true }

// OnChange implements Source.
func (s *Static) OnChange(fn func(*Snapshot)) func() { return s.listeners.add(fn) }

// Set makes snap current and notifies the listeners.
func (s *Static) Set(snap *Snapshot) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	snap = orEmpty(snap)
	s.cur.Store(snap)
	s.listeners.notify(snap)
}

func orEmpty(s *Snapshot) *Snapshot {
	if s == nil {
		return &Snapshot{}
	}
	return s
}
