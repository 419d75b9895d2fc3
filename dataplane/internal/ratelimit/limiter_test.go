package ratelimit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// admits calls Take n times at the current instant and counts admissions.
func admits(l *Limiter, key string, r Rate, n int) int {
	got := 0
	for range n {
		if ok, _ := l.Take(key, r); ok {
			got++
		}
	}
	return got
}

// TestExactAdmitsPerWindow: an idle bucket admits exactly its burst at
// once, then exactly PerMinute per minute.
func TestExactAdmitsPerWindow(t *testing.T) {
	cases := []struct {
		name      string
		rate      Rate
		replicas  int
		burst     int // admitted at once from idle
		perMinute int // admitted over the next minute, one call per step
		step      time.Duration
	}{
		{"60 rpm, burst = rpm", Rate{PerMinute: 60}, 1, 60, 60, time.Second},
		{"60 rpm, burst 5", Rate{PerMinute: 60, Burst: 5}, 1, 5, 60, time.Second},
		{"7 rpm, burst 2 (uneven interval)", Rate{PerMinute: 7, Burst: 2}, 1, 2, 7, time.Second},
		{"100000 rpm", Rate{PerMinute: 100000, Burst: 10}, 1, 10, 100000, time.Millisecond},
		{"60 rpm split by 3", Rate{PerMinute: 60}, 3, 20, 20, time.Second},
		{"60 rpm burst 10 split by 4", Rate{PerMinute: 60, Burst: 10}, 4, 2, 15, time.Second},
		{"2 rpm split by 5: at least one call held", Rate{PerMinute: 2}, 5, 1, 0, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			l := New(Config{Now: clk.Now, Replicas: func() int { return c.replicas }})
			if got := admits(l, "k", c.rate, c.burst+50); got != c.burst {
				t.Fatalf("from idle: %d admitted, want %d", got, c.burst)
			}
			// Over the next minute, calls every step: exactly the sustained share.
			got := 0
			steps := int(time.Minute / c.step)
			for range steps {
				clk.Add(c.step)
				got += admits(l, "k", c.rate, 3)
			}
			if got != c.perMinute {
				t.Fatalf("over one minute: %d admitted, want %d", got, c.perMinute)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	clk := newClock()
	l := New(Config{Now: clk.Now})
	r := Rate{PerMinute: 6, Burst: 2} // one call every 10s
	if admits(l, "k", r, 2) != 2 {
		t.Fatal("burst not admitted")
	}
	ok, wait := l.Take("k", r)
	if ok || wait != 10*time.Second {
		t.Fatalf("third call: ok=%v wait=%v, want refused for 10s", ok, wait)
	}
	clk.Add(4 * time.Second)
	if ok, wait = l.Take("k", r); ok || wait != 6*time.Second {
		t.Fatalf("4s later: ok=%v wait=%v, want refused for 6s", ok, wait)
	}
	clk.Add(6 * time.Second)
	if ok, _ = l.Take("k", r); !ok {
		t.Fatal("refused once the retry-after passed")
	}
	ref := &Refusal{RetryAfter: 1500 * time.Millisecond}
	if ref.RetryAfterSeconds() != 2 || (&Refusal{RetryAfter: time.Nanosecond}).RetryAfterSeconds() != 1 {
		t.Fatal("RetryAfterSeconds must round up")
	}
}

// TestReplicaChange: the split follows the live replica count call by call.
func TestReplicaChange(t *testing.T) {
	clk := newClock()
	n := 1
	l := New(Config{Now: clk.Now, Replicas: func() int { return n }})
	r := Rate{PerMinute: 60, Burst: 60}
	n = 2 // scale out before the first call: half the budget here
	if got := admits(l, "k", r, 100); got != 30 {
		t.Fatalf("with 2 replicas: %d admitted, want 30", got)
	}
	n = 0 // no heartbeat heard: treated as 1
	if l.Replicas() != 1 {
		t.Fatalf("Replicas() = %d with a count of 0", l.Replicas())
	}
}

func limitEntry(id, name, per string, rpm int, tools ...string) bundle.Entry[model.RateLimit] {
	return bundle.Entry[model.RateLimit]{ID: id, Spec: model.RateLimit{Name: name, Per: per, RequestsPerMinute: rpm, Tools: tools, Enabled: true}}
}

// TestKeysIsolated: per-tenant, per-user and per-tool limits count apart
// exactly what they should.
func TestKeysIsolated(t *testing.T) {
	calls := []Call{
		{Tenant: "a", User: "u1", Tool: "orders.list"},
		{Tenant: "a", User: "u2", Tool: "orders.list"},
		{Tenant: "a", User: "u1", Tool: "orders.get"},
		{Tenant: "b", User: "u1", Tool: "orders.list"},
	}
	cases := []struct {
		per  string
		want []bool // second call of each, after the first call of calls[0] used the only token
	}{
		// After calls[0] took its bucket's only token, which of calls[1:] still pass?
		{model.PerTenant, []bool{false, false, true}},
		{model.PerUser, []bool{true, false, true}},
		{model.PerTool, []bool{false, true, true}},
	}
	for _, c := range cases {
		t.Run(c.per, func(t *testing.T) {
			l := New(Config{Now: newClock().Now})
			set := Rules{Scope: model.GlobalScope, Entries: []bundle.Entry[model.RateLimit]{limitEntry("l1", "one", c.per, 1)}}
			set.Entries[0].Spec.Burst = 1
			if ref := l.Allow(calls[0], set); ref != nil {
				t.Fatalf("first call refused: %+v", ref)
			}
			for i, call := range calls[1:] {
				if got := l.Allow(call, set) == nil; got != c.want[i] {
					t.Errorf("call %+v admitted=%v, want %v", call, got, c.want[i])
				}
			}
		})
	}
}

// TestAllowGlobalAndTenant: every applicable limit of both scopes counts; a
// refusal names the limit and refunds the others; disabled limits and limits
// on other tools do not count.
func TestAllowGlobalAndTenant(t *testing.T) {
	l := New(Config{Now: newClock().Now})
	global := Rules{Scope: model.GlobalScope, Entries: []bundle.Entry[model.RateLimit]{
		limitEntry("g1", "global-tenant", model.PerTenant, 3),
		limitEntry("g2", "refunds-only", model.PerTenant, 1, "refunds.*"),
	}}
	disabled := limitEntry("t0", "off", model.PerUser, 1)
	disabled.Spec.Enabled = false
	tenant := Rules{Scope: model.TenantScope("a"), Entries: []bundle.Entry[model.RateLimit]{disabled, limitEntry("t1", "tenant-user", model.PerUser, 2)}}
	u1 := Call{Tenant: "a", User: "u1", Tool: "orders.list"}
	u2 := Call{Tenant: "a", User: "u2", Tool: "orders.list"}

	for i := range 2 {
		if ref := l.Allow(u1, global, tenant); ref != nil {
			t.Fatalf("call %d refused: %+v", i, ref)
		}
	}
	ref := l.Allow(u1, global, tenant)
	if ref == nil || ref.Name != "tenant-user" || ref.Scope != model.TenantScope("a") || ref.ID != "t1" {
		t.Fatalf("third call of u1: %+v, want refused by the tenant's per-user limit", ref)
	}
	// The refused call was refunded to the global limit: u2 still gets the
	// third and last call of the tenant's global budget.
	if ref := l.Allow(u2, global, tenant); ref != nil {
		t.Fatalf("u2 refused: %+v", ref)
	}
	if ref := l.Allow(u2, global, tenant); ref == nil || ref.Name != "global-tenant" || ref.Scope != model.GlobalScope {
		t.Fatalf("fourth call of tenant a: %+v, want refused by the global limit", ref)
	}
	// Another tenant has its own global budget.
	if ref := l.Allow(Call{Tenant: "b", User: "u1", Tool: "orders.list"}, global); ref != nil {
		t.Fatalf("tenant b refused: %+v", ref)
	}
}

// TestBoundedMemory: buckets beyond MaxKeys are dropped least recently used
// first, and a dropped bucket comes back full.
func TestBoundedMemory(t *testing.T) {
	clk := newClock()
	l := New(Config{Now: clk.Now, MaxKeys: shardCount * 4})
	r := Rate{PerMinute: 1, Burst: 1}
	for i := range 10_000 {
		l.Take(fmt.Sprintf("user-%d", i), r)
	}
	if n := l.Len(); n > shardCount*4 {
		t.Fatalf("%d buckets held, bound %d", n, shardCount*4)
	}
	// A recent key is still limited; the very first was evicted and is full again.
	if ok, _ := l.Take("user-9999", r); ok {
		t.Fatal("the most recent bucket was dropped")
	}
	if ok, _ := l.Take("user-0", r); !ok {
		t.Fatal("the least recently used bucket was not dropped")
	}
	// Huge keys are hashed, not stored verbatim.
	l.Take(strings.Repeat("x", 1<<20), r)
	for i := range l.shards {
		for k := range l.shards[i].byKey {
			if len(k) > maxKeyLen {
				t.Fatalf("a %d-byte key is held", len(k))
			}
		}
	}
	if ok, _ := l.Take(strings.Repeat("x", 1<<20), r); ok {
		t.Fatal("a hashed key lost its bucket")
	}
}

func TestKeyUnknownPerCountsPerUser(t *testing.T) {
	c := Call{Tenant: "a", User: "u", Tool: "t"}
	if Key(model.GlobalScope, "id", "region", c) != Key(model.GlobalScope, "id", model.PerUser, c) {
		t.Fatal("an unknown per must count per user")
	}
	if Key(model.GlobalScope, "id", model.PerTenant, c) == Key(model.TenantScope("a"), "id", model.PerTenant, c) {
		t.Fatal("scopes share a key")
	}
}

// TestConcurrentTakes: under -race, concurrent callers on one key never
// admit more than the bucket holds.
func TestConcurrentTakes(t *testing.T) {
	l := New(Config{Now: newClock().Now})
	r := Rate{PerMinute: 100, Burst: 100}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 8 {
		wg.Go(func() {
			n := admits(l, "shared", r, 50)
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 100 {
		t.Fatalf("%d admitted concurrently, want exactly 100", total)
	}
}

func TestFleetCount(t *testing.T) {
	clk := newClock()
	f := NewFleet(10*time.Second, clk.Now)
	if f.Replicas() != 1 {
		t.Fatal("an empty fleet must count 1")
	}
	f.Observe("gw-1")
	f.Observe("gw-2")
	f.Observe("gw-2")
	f.Observe("")
	if got := f.Replicas(); got != 2 {
		t.Fatalf("Replicas() = %d, want 2", got)
	}
	clk.Add(20 * time.Second)
	f.Observe("gw-1")
	clk.Add(11 * time.Second) // gw-2 last heard 31s ago: beyond 3 intervals
	f.Recount()
	if got := f.Replicas(); got != 1 {
		t.Fatalf("after gw-2 went quiet: %d, want 1", got)
	}
	clk.Add(time.Hour)
	f.Recount()
	if got := f.Replicas(); got != 1 {
		t.Fatalf("no heartbeat at all: %d, want the fallback 1", got)
	}
	for i := range maxFleetIDs + 10 {
		f.Observe(fmt.Sprintf("forged-%d", i))
	}
	if got := f.Replicas(); got != maxFleetIDs {
		t.Fatalf("ids beyond the bound were counted: %d", got)
	}
}

// TestFleetFollowsHeartbeats: with a real NATS server, heartbeats on the
// fleet subject (and nothing else) are counted.
func TestFleetFollowsHeartbeats(t *testing.T) {
	srv := natstest.New(t)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	f := NewFleet(time.Hour, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Follow(ctx, nc, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// Publish until the subscription is live and both ids are counted.
	deadline := time.Now().Add(10 * time.Second)
	for f.Replicas() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("heartbeats not counted: %d", f.Replicas())
		}
		for _, id := range []string{"gw-a", "gw-b"} {
			data, _ := json.Marshal(bundlestore.Heartbeat{ID: id})
			if err := nc.Publish(bundlestore.HeartbeatSubject, data); err != nil {
				t.Fatal(err)
			}
		}
		_ = nc.Publish(bundlestore.HeartbeatSubject, []byte("not json"))
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
