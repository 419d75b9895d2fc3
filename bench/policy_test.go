package bench

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/shared/policy"
)

// Policy decision time (issue 4): one Evaluate of a compiled policy set for a
// tools/call, with 1, 10 and 100 policies on the called tool, and with 10,000
// tenants' policy layers loaded (one picked at random per call).
//
// Every benchmark also reports x_baseline: its ns/op divided by the ns/op of
// the baseline, which is Evaluate on an empty policy set (building the input
// document and merging, no Rego), measured once per run.

var benchInput = policy.Input{
	Tool: "orders.create",
	Args: map[string]any{
		"amount":   250.0,
		"currency": "EUR",
		"customer": map[string]any{"id": "c-42", "email": "buyer@example.com"},
		"lines":    []any{map[string]any{"sku": "ABC-1", "qty": 2.0}},
	},
	User: policy.UserAttrs{ID: "u-1", Email: "ann@acme.example", Tenant: "t-0",
		Roles: []string{"support", "orders"}, Permissions: []string{"orders:write"},
		Claims: map[string]any{"plan": "pro", "level": 2.0}},
	Request: policy.RequestAttrs{IP: "203.0.113.9", Country: "FR", UserAgent: "Claude-User/1.0",
		Platform: "claude", Time: time.Date(2026, 12, 4, 16, 32, 20, 0, time.UTC)},
}

// benchPolicy returns the i-th policy of a set: a mix of operators and
// effects, each with two or three conditions, none of which holds for
// benchInput except for every 10th policy (so every rule is evaluated and
// some fire).
func benchPolicy(i int, tool, tag string) policy.Policy {
	amount := 10000.0 + float64(i)
	if i%10 == 9 {
		amount = 100 // fires
	}
	conds := []policy.Condition{
		{Attribute: "args.amount", Operator: policy.OpGT, Value: amount},
		{Attribute: "request.country", Operator: policy.OpInList, Value: []any{"FR", "DE", "IT", tag}},
	}
	switch i % 4 {
	case 0:
		conds = append(conds, policy.Condition{Attribute: "request.time", Operator: policy.OpBetween, Value: []any{"08:00", "20:00"}, TimeZone: "Europe/Paris"})
	case 1:
		conds = append(conds, policy.Condition{Attribute: "request.ip", Operator: policy.OpCIDR, Value: []any{"203.0.113.0/24", "10.0.0.0/8"}})
	case 2:
		conds = append(conds, policy.Condition{Attribute: "args.customer.email", Operator: policy.OpMatches, Value: `@example\.(com|org)$`})
	case 3:
		conds = append(conds, policy.Condition{Attribute: "user.roles", Operator: policy.OpContains, Value: "support"})
	}
	p := policy.Policy{Name: fmt.Sprintf("%s-%d", tag, i), Tools: []string{tool}, Priority: i % 100, Enabled: true,
		Match: &policy.Group{Op: policy.GroupAnd, Conditions: conds}}
	switch i % 3 {
	case 0:
		p.Effect = policy.Deny
	case 1:
		p.Effect, p.StepUp = policy.StepUp, &policy.StepUpRule{ACRValues: []string{"mfa"}, MaxAgeSec: 300}
	case 2:
		p.Effect, p.Approval = policy.ApprovalRequired, &policy.Approval{ApproverRoles: []string{"finance"}, MinApprovals: 1, ExpirySec: 3600}
	}
	return p
}

func benchRefs(n int, tool, tag string) []policy.Ref {
	refs := make([]policy.Ref, n)
	for i := range refs {
		refs[i] = policy.Ref{ID: fmt.Sprintf("%s-%d", tag, i), Policy: benchPolicy(i, tool, tag)}
	}
	return refs
}

var (
	baselineOnce sync.Once
	baselineNs   float64
)

// baseline measures Evaluate on an empty policy set, once per run. It
// times a fixed loop itself: testing.Benchmark cannot run inside a
// benchmark (it waits for the benchmark lock the caller holds).
func baseline(b *testing.B) float64 {
	baselineOnce.Do(func() {
		empty := policy.NewCompiled(nil, nil, false)
		const rounds = 200000
		start := time.Now()
		for range rounds {
			if _, err := empty.Evaluate(context.Background(), benchInput); err != nil {
				b.Fatal(err)
			}
		}
		baselineNs = float64(time.Since(start).Nanoseconds()) / rounds
	})
	if baselineNs <= 0 {
		b.Fatal("baseline not measured")
	}
	return baselineNs
}

// report adds ns/op's ratio to the baseline.
func report(b *testing.B, base float64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x_baseline")
}

func BenchmarkPolicyBaselineEmptySet(b *testing.B) {
	base := baseline(b)
	empty := policy.NewCompiled(nil, nil, false)
	for b.Loop() {
		if _, err := empty.Evaluate(context.Background(), benchInput); err != nil {
			b.Fatal(err)
		}
	}
	report(b, base)
}

// BenchmarkPolicyDecision: n global policies on the called tool, plus as
// many on other tools (which the rule index and the tool filter skip).
func BenchmarkPolicyDecision(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			base := baseline(b)
			refs := append(benchRefs(n, "orders.create", "g"), benchRefs(n, "orders.delete", "other")...)
			c, err := policy.Compile(policy.PolicySet{Global: refs})
			if err != nil {
				b.Fatal(err)
			}
			want, err := c.Evaluate(context.Background(), benchInput)
			if err != nil {
				b.Fatal(err)
			}
			if n >= 10 && len(want.Matched) == 0 {
				b.Fatal("the benchmark set should fire some policies")
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Evaluate(context.Background(), benchInput); err != nil {
					b.Fatal(err)
				}
			}
			report(b, base)
		})
	}
}

// BenchmarkPolicyDecisionTenants: a global layer of 10 policies and 10,000
// tenants with delegation on, each with its own compiled layer of 3
// policies; each call evaluates the global layer and one random tenant's.
func BenchmarkPolicyDecisionTenants(b *testing.B) {
	const tenants, perTenant, globalPolicies = 10000, 3, 10
	base := baseline(b)
	global, err := policy.CompileScope(policy.Global, benchRefs(globalPolicies, "orders.create", "g"))
	if err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	layers := make([]*policy.Layer, tenants)
	for i := range layers {
		// benchPolicy's effects are all restrictions, which tenant policies may add.
		refs := benchRefs(perTenant, "orders.create", fmt.Sprintf("t%d", i))
		if layers[i], err = policy.CompileScope(policy.Tenant, refs); err != nil {
			b.Fatal(err)
		}
	}
	compileTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rng := rand.New(rand.NewSource(1))
	picks := make([]int, 1<<16)
	for i := range picks {
		picks[i] = rng.Intn(tenants)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := policy.NewCompiled(global, layers[picks[i%len(picks)]], true)
		if _, err := c.Evaluate(context.Background(), benchInput); err != nil {
			b.Fatal(err)
		}
		i++
	}
	report(b, base)
	b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "MB_heap_10k_tenants")
	b.ReportMetric(float64(compileTime.Microseconds())/tenants, "us_compile_per_tenant")
}
