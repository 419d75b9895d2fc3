package backendsig

import (
	"container/heap"
	"sync"
	"time"
)

// MemoryReplayCache is an in-process ReplayCache: bounded, expiring, safe for
// concurrent use. Behind several backend replicas it only catches replays that
// land on the same replica; a shared store (Redis SET NX PX) catches all.
type MemoryReplayCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	until   map[string]time.Time
	byUntil expiryHeap
}

// NewMemoryReplayCache returns a cache holding at most max ids, each for at
// least ttl (and at least until the time the verifier asks, which is when the
// request's timestamp leaves the window). max should exceed the number of
// requests a backend receives in twice the window; when full, the id closest
// to expiry is forgotten first, which is the one least likely to be replayed
// in time.
func NewMemoryReplayCache(max int, ttl time.Duration) *MemoryReplayCache {
	if max < 1 {
		max = 1
	}
	return &MemoryReplayCache{max: max, ttl: ttl, until: make(map[string]time.Time)}
}

// Remember implements ReplayCache.
func (c *MemoryReplayCache) Remember(id string, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if _, seen := c.until[id]; seen {
		return false
	}
	if floor := now.Add(c.ttl); until.Before(floor) {
		until = floor
	}
	for len(c.until) >= c.max {
		c.evict()
	}
	c.until[id] = until
	heap.Push(&c.byUntil, expiry{id: id, until: until})
	return true
}

// Len returns how many ids are remembered.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.until)
}

func (c *MemoryReplayCache) expire(now time.Time) {
	for len(c.byUntil) > 0 && !c.byUntil[0].until.After(now) {
		c.evict()
	}
}

func (c *MemoryReplayCache) evict() {
	e := heap.Pop(&c.byUntil).(expiry)
	delete(c.until, e.id)
}

type expiry struct {
	id    string
	until time.Time
}

// expiryHeap is a min-heap on until. Every id in the map has exactly one
// entry: ids are only added when absent and removed together with their entry.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
