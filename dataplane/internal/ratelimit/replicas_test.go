package ratelimit

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/localenv/natstest"
	"github.com/portcullis/portcullis/shared/model"
)

// TestTwoReplicasShareOneBudget: two gateways, each learning the fleet size
// from the heartbeats on a real NATS server, together admit the limit once
// (each half of it), not twice.
func TestTwoReplicasShareOneBudget(t *testing.T) {
	srv := natstest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	clk := newClock()
	limit := Rules{Scope: model.GlobalScope, Entries: []bundle.Entry[model.RateLimit]{
		limitEntry("l", "hundred", model.PerTenant, 100),
	}}
	var limiters []*Limiter
	var fleets []*Fleet
	for range 2 {
		nc, err := nats.Connect(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		f := NewFleet(time.Hour, nil)
		wg.Go(func() { _ = f.Follow(ctx, nc, nil) })
		fleets = append(fleets, f)
		limiters = append(limiters, New(Config{Now: clk.Now, Replicas: f.Replicas}))
	}
	// Both gateways heartbeat (as bundlestore does) until each has heard both.
	pub, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	deadline := time.Now().Add(10 * time.Second)
	for fleets[0].Replicas() != 2 || fleets[1].Replicas() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("fleet sizes %d and %d, want 2", fleets[0].Replicas(), fleets[1].Replicas())
		}
		for _, id := range []string{"gw-1", "gw-2"} {
			data, _ := json.Marshal(bundlestore.Heartbeat{ID: id})
			_ = pub.Publish(bundlestore.HeartbeatSubject, data)
		}
		_ = pub.Flush()
		time.Sleep(10 * time.Millisecond)
	}

	// A load balancer alternating between the two: 300 calls, 100 admitted.
	admitted := 0
	for i := range 300 {
		if limiters[i%2].Allow(Call{Tenant: "acme", User: "u", Tool: "t"}, limit) == nil {
			admitted++
		}
	}
	if admitted != 100 {
		t.Fatalf("the two replicas admitted %d calls, want the limit's 100", admitted)
	}
}

// BenchmarkAllow: one call against a global and a tenant limit, many users.
func BenchmarkAllow(b *testing.B) {
	l := New(Config{})
	sets := []Rules{
		{Scope: model.GlobalScope, Entries: []bundle.Entry[model.RateLimit]{limitEntry("g", "g", model.PerTenant, 100000)}},
		{Scope: model.TenantScope("acme"), Entries: []bundle.Entry[model.RateLimit]{limitEntry("t", "t", model.PerUser, 100000, "orders.*")}},
	}
	users := make([]string, 1000)
	for i := range users {
		users[i] = "user-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(Call{Tenant: "acme", User: users[i%len(users)], Tool: "orders.list"}, sets...)
			i++
		}
	})
}
