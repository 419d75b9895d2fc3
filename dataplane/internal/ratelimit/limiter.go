package ratelimit

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the buckets one Limiter keeps (about 100 bytes each).
const DefaultMaxKeys = 100_000

// shardCount is the number of independently locked parts of the bucket map:
// calls on different keys rarely wait for each other, and no lock is global.
const shardCount = 64

// maxKeyLen bounds a bucket key kept verbatim; longer keys (a very long user
// id) are replaced by their SHA-256 so one caller cannot make buckets large.
const maxKeyLen = 256

// Config configures a Limiter.
type Config struct {
	// MaxKeys bounds the number of buckets held; the least recently used one
	// is dropped beyond it. 0 means DefaultMaxKeys.
	MaxKeys int
	// Replicas returns the number of live gateway replicas the budget of
	// every limit is split by (Fleet.Replicas). nil or a value below 1 means 1.
	Replicas func() int
	// Now is the clock (tests use a fake one). nil means time.Now.
	Now func() time.Time
}

// Rate is what one bucket enforces: PerMinute calls per minute on average,
// at most Burst at once after an idle period (Burst 0 means PerMinute).
type Rate struct {
	PerMinute int
	Burst     int
}

// Limiter holds the token buckets. It is safe for concurrent use.
//
// Buckets use GCRA (the generic cell rate algorithm), the integer form of a
// token bucket: each bucket stores one time, the theoretical arrival time
// (TAT) of the next call, so admission is exact arithmetic on nanoseconds
// with no floating-point drift, and a bucket whose TAT has passed is the
// same as a full one (dropping it loses nothing).
type Limiter struct {
	shards   [shardCount]shard
	seed     maphash.Seed
	replicas func() int
	now      func() time.Time
}

type shard struct {
	mu    sync.Mutex
	max   int
	byKey map[string]*list.Element // of *bucket
	lru   list.List                // front: most recently used
}

type bucket struct {
	key string
	tat time.Time
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	maxKeys := cfg.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	perShard := max(1, (maxKeys+shardCount-1)/shardCount)
	l := &Limiter{seed: maphash.MakeSeed(), replicas: cfg.Replicas, now: cfg.Now}
	if l.now == nil {
		l.now = time.Now
	}
	for i := range l.shards {
		l.shards[i].max = perShard
		l.shards[i].byKey = make(map[string]*list.Element)
	}
	return l
}

// Replicas is the replica count the budgets are currently split by (≥ 1).
func (l *Limiter) Replicas() int {
	if l.replicas == nil {
		return 1
	}
	return max(1, l.replicas())
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.byKey)
		s.mu.Unlock()
	}
	return n
}

// params returns this replica's share of a rate: the emission interval (time
// between two calls at the sustained rate) and the burst tolerance (how far
// ahead of now the TAT may run). With n replicas each admits PerMinute/n per
// minute and holds Burst/n calls, rounded down but at least one, so that a
// small limit split many ways still lets a call through now and then.
func (l *Limiter) params(r Rate) (interval, tolerance time.Duration) {
	n := l.Replicas()
	per := max(1, r.PerMinute)
	burst := r.Burst
	if burst <= 0 {
		burst = per
	}
	capacity := max(1, burst/n)
	interval = time.Duration(int64(time.Minute) * int64(n) / int64(per))
	return interval, interval * time.Duration(capacity-1)
}

// Take admits one call on the bucket key under rate r, or refuses it and
// says how long until a call would be admitted.
func (l *Limiter) Take(key string, r Rate) (ok bool, retryAfter time.Duration) {
	interval, tolerance := l.params(r)
	key = boundKey(key)
	s := l.shard(key)
	now := l.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.get(key, now)
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	// Admit when the new TAT stays within the tolerance of now.
	if wait := tat.Sub(now) - tolerance; wait > 0 {
		return false, wait
	}
	b.tat = tat.Add(interval)
	return true, 0
}

// Refund gives back a call Take admitted on key (used when a later limit
// refused the same call, so it counts against none).
func (l *Limiter) Refund(key string, r Rate) {
	interval, _ := l.params(r)
	key = boundKey(key)
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byKey[key]; ok {
		b := e.Value.(*bucket)
		b.tat = b.tat.Add(-interval)
	}
}

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%shardCount]
}

// get returns the bucket of key, creating it (full) and evicting the least
// recently used bucket of the shard beyond its bound. Called with s.mu held.
func (s *shard) get(key string, now time.Time) *bucket {
	if e, ok := s.byKey[key]; ok {
		s.lru.MoveToFront(e)
		return e.Value.(*bucket)
	}
	b := &bucket{key: key, tat: now}
	s.byKey[key] = s.lru.PushFront(b)
	for len(s.byKey) > s.max {
		last := s.lru.Back()
		s.lru.Remove(last)
		delete(s.byKey, last.Value.(*bucket).key)
	}
	return b
}

func boundKey(key string) string {
	if len(key) <= maxKeyLen {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}
