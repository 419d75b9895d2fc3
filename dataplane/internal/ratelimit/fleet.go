package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
)

// maxFleetIDs bounds the gateway ids a Fleet remembers, so a flood of
// heartbeats with made-up ids cannot grow it without limit. Beyond it new ids
// are not counted (the split stays at the bound: more restrictive, never less).
const maxFleetIDs = 10_000

// maxIDLen bounds one gateway id.
const maxIDLen = 256

// Fleet counts the live gateway replicas from their heartbeats
// (bundlestore.HeartbeatSubject): the distinct ids heard from within the
// last three heartbeat intervals, this gateway's own included, and 1 when it
// has heard none (NATS unreachable: each gateway then admits a whole budget,
// see DESIGN.md). Replicas is one atomic load: the hot path takes no lock.
type Fleet struct {
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // id → when last heard (our clock, not the sender's)

	count atomic.Int64
}

// NewFleet returns a Fleet for gateways heartbeating every interval. now is
// the clock (nil: time.Now).
func NewFleet(interval time.Duration, now func() time.Time) *Fleet {
	if now == nil {
		now = time.Now
	}
	return &Fleet{window: 3 * interval, now: now, seen: map[string]time.Time{}}
}

// Replicas is the number of live gateways, at least 1.
func (f *Fleet) Replicas() int { return int(max(1, f.count.Load())) }

// Observe records a heartbeat of gateway id, heard now.
func (f *Fleet) Observe(id string) {
	if id == "" || len(id) > maxIDLen {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, known := f.seen[id]; known || len(f.seen) < maxFleetIDs {
		f.seen[id] = now
	}
	// Gateways gone quiet are forgotten by the periodic Recount, not here:
	// until then they are still counted, which splits budgets more finely
	// (stricter), never less.
	f.count.Store(int64(len(f.seen)))
}

// Recount forgets gateways not heard from within the window. Follow calls it
// every interval; tests call it after moving their clock.
func (f *Fleet) Recount() {
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recount(now)
}

func (f *Fleet) recount(now time.Time) {
	for id, at := range f.seen {
		if now.Sub(at) > f.window {
			delete(f.seen, id)
		}
	}
	f.count.Store(int64(len(f.seen)))
}

// Follow subscribes to the heartbeats on nc and keeps the count current
// until ctx ends. Messages that are not heartbeats are ignored.
func (f *Fleet) Follow(ctx context.Context, nc *nats.Conn, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sub, err := nc.Subscribe(bundlestore.HeartbeatSubject, func(m *nats.Msg) {
		var hb bundlestore.Heartbeat
		if err := json.Unmarshal(m.Data, &hb); err != nil {
			log.Debug("ignoring a malformed heartbeat", "err", err)
			return
		}
		f.Observe(hb.ID)
	})
	if err != nil {
		return fmt.Errorf("ratelimit: subscribe to heartbeats: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	t := time.NewTicker(max(f.window/3, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			f.Recount()
		}
	}
}
