package policy

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// spec is a policy in a merge test: its effect, priority, name, and whether
// its condition holds for the test input (request.tool == "t").
type spec struct {
	effect Effect
	prio   int
	name   string
	off    bool // the condition is false: the policy does not fire
}

func (s spec) policy() Policy {
	tool := "t"
	if s.off {
		tool = "other"
	}
	return policyWith(s.name, s.effect, s.prio, and(cond("request.tool", OpEqual, tool)))
}

func refs(prefix string, specs []spec) []Ref {
	out := make([]Ref, len(specs))
	for i, s := range specs {
		out[i] = Ref{ID: fmt.Sprintf("%s%d", prefix, i), Policy: s.policy()}
	}
	return out
}

func g(e Effect, prio int, name string) spec { return spec{effect: e, prio: prio, name: name} }

func gOff(e Effect, prio int, name string) spec {
	return spec{effect: e, prio: prio, name: name, off: true}
}

// TestMergeTable: global vs tenant, each pair of effects, delegation on and
// off, priorities, ties and mask accumulation — through the compiled Rego.
func TestMergeTable(t *testing.T) {
	const on, off = true, false
	type want struct {
		effect  Effect
		policy  string
		scope   ScopeKind
		masking []string
	}
	cases := []struct {
		name   string
		global []spec
		tenant []spec
		deleg  bool
		want   want
	}{
		{"nothing", nil, nil, on, want{Allow, "", Global, nil}},
		{"global allow", []spec{g(Allow, 1, "GA")}, nil, on, want{Allow, "GA", Global, nil}},
		{"global deny", []spec{g(Deny, 1, "GD")}, nil, on, want{Deny, "GD", Global, nil}},
		{"global step_up", []spec{g(StepUp, 1, "GS")}, nil, on, want{StepUp, "GS", Global, nil}},
		{"global approval", []spec{g(ApprovalRequired, 1, "GP")}, nil, on, want{ApprovalRequired, "GP", Global, nil}},
		{"global mask only", []spec{g(Mask, 1, "GM")}, nil, on, want{Allow, "", Global, []string{"mask-GM"}}},
		{"global deny not firing", []spec{gOff(Deny, 1, "GD")}, nil, on, want{Allow, "", Global, nil}},
		{"tenant deny", nil, []spec{g(Deny, 1, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"tenant deny, delegation off", nil, []spec{g(Deny, 1, "TD")}, off, want{Allow, "", Global, nil}},
		{"tenant step_up", nil, []spec{g(StepUp, 1, "TS")}, on, want{StepUp, "TS", Tenant, nil}},
		{"tenant step_up, delegation off", nil, []spec{g(StepUp, 1, "TS")}, off, want{Allow, "", Global, nil}},
		{"tenant approval", nil, []spec{g(ApprovalRequired, 1, "TP")}, on, want{ApprovalRequired, "TP", Tenant, nil}},
		{"tenant mask", nil, []spec{g(Mask, 1, "TM")}, on, want{Allow, "", Global, []string{"mask-TM"}}},
		{"tenant mask, delegation off", nil, []spec{g(Mask, 1, "TM")}, off, want{Allow, "", Global, nil}},
		{"tenant allow is ignored", nil, []spec{g(Allow, 10000, "TA")}, on, want{Allow, "", Global, nil}},
		{"global step_up, tenant allow", []spec{g(StepUp, 1, "GS")}, []spec{g(Allow, 10000, "TA")}, on, want{StepUp, "GS", Global, nil}},
		{"global approval, tenant allow", []spec{g(ApprovalRequired, 1, "GP")}, []spec{g(Allow, 10000, "TA")}, on, want{ApprovalRequired, "GP", Global, nil}},
		{"global deny, tenant allow", []spec{g(Deny, 1, "GD")}, []spec{g(Allow, 10000, "TA")}, on, want{Deny, "GD", Global, nil}},
		{"global allow, tenant deny", []spec{g(Allow, 10000, "GA")}, []spec{g(Deny, 1, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"global allow, tenant deny, delegation off", []spec{g(Allow, 1, "GA")}, []spec{g(Deny, 1, "TD")}, off, want{Allow, "GA", Global, nil}},
		{"global allow, tenant step_up", []spec{g(Allow, 1, "GA")}, []spec{g(StepUp, 1, "TS")}, on, want{StepUp, "TS", Tenant, nil}},
		{"global allow, tenant approval", []spec{g(Allow, 1, "GA")}, []spec{g(ApprovalRequired, 1, "TP")}, on, want{ApprovalRequired, "TP", Tenant, nil}},
		{"global allow, tenant mask", []spec{g(Allow, 1, "GA")}, []spec{g(Mask, 1, "TM")}, on, want{Allow, "GA", Global, []string{"mask-TM"}}},
		{"step_up both, tenant higher priority", []spec{g(StepUp, 1, "GS")}, []spec{g(StepUp, 5, "TS")}, on, want{StepUp, "TS", Tenant, nil}},
		{"step_up both, same priority: global first", []spec{g(StepUp, 5, "ZS")}, []spec{g(StepUp, 5, "AS")}, on, want{StepUp, "ZS", Global, nil}},
		{"global step_up, tenant approval", []spec{g(StepUp, 100, "GS")}, []spec{g(ApprovalRequired, 1, "TP")}, on, want{ApprovalRequired, "TP", Tenant, nil}},
		{"global step_up, tenant deny", []spec{g(StepUp, 100, "GS")}, []spec{g(Deny, 1, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"global step_up, tenant deny, delegation off", []spec{g(StepUp, 1, "GS")}, []spec{g(Deny, 1, "TD")}, off, want{StepUp, "GS", Global, nil}},
		{"global step_up, tenant mask", []spec{g(StepUp, 1, "GS")}, []spec{g(Mask, 1, "TM")}, on, want{StepUp, "GS", Global, []string{"mask-TM"}}},
		{"global approval, tenant step_up", []spec{g(ApprovalRequired, 1, "GP")}, []spec{g(StepUp, 100, "TS")}, on, want{ApprovalRequired, "GP", Global, nil}},
		{"global approval, tenant deny", []spec{g(ApprovalRequired, 100, "GP")}, []spec{g(Deny, 1, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"global approval, tenant deny, delegation off", []spec{g(ApprovalRequired, 1, "GP")}, []spec{g(Deny, 1, "TD")}, off, want{ApprovalRequired, "GP", Global, nil}},
		{"approval both, tenant higher priority", []spec{g(ApprovalRequired, 1, "GP")}, []spec{g(ApprovalRequired, 2, "TP")}, on, want{ApprovalRequired, "TP", Tenant, nil}},
		{"global deny is final over higher tenant deny", []spec{g(Deny, 1, "GD")}, []spec{g(Deny, 10000, "TD")}, on, want{Deny, "GD", Global, nil}},
		{"global deny: tenant masks not evaluated", []spec{g(Deny, 1, "GD")}, []spec{g(Mask, 1, "TM")}, on, want{Deny, "GD", Global, nil}},
		{"global deny keeps global masks", []spec{g(Deny, 1, "GD"), g(Mask, 1, "GM")}, nil, on, want{Deny, "GD", Global, []string{"mask-GM"}}},
		{"global deny off, tenant deny", []spec{gOff(Deny, 1, "GD")}, []spec{g(Deny, 1, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"global deny by priority", []spec{g(Deny, 1, "D1"), g(Deny, 5, "D5")}, nil, on, want{Deny, "D5", Global, nil}},
		{"global deny tie by name", []spec{g(Deny, 5, "B"), g(Deny, 5, "A")}, nil, on, want{Deny, "A", Global, nil}},
		{"effect beats priority", []spec{g(StepUp, 10000, "GS"), g(Deny, 0, "GD")}, nil, on, want{Deny, "GD", Global, nil}},
		{"allow never beats step_up", []spec{g(Allow, 10000, "GA"), g(StepUp, 0, "GS")}, nil, on, want{StepUp, "GS", Global, nil}},
		{"approval beats step_up", []spec{g(StepUp, 10000, "GS"), g(ApprovalRequired, 0, "GP")}, nil, on, want{ApprovalRequired, "GP", Global, nil}},
		{"allow tie by name", []spec{g(Allow, 3, "B"), g(Allow, 3, "A")}, nil, on, want{Allow, "A", Global, nil}},
		{"masks accumulate in precedence order", []spec{g(Mask, 1, "G1"), g(Mask, 9, "G9")}, []spec{g(Mask, 5, "T5")}, on, want{Allow, "", Global, []string{"mask-G9", "mask-T5", "mask-G1"}}},
		{"masks with a block", []spec{g(Mask, 1, "GM"), g(ApprovalRequired, 1, "GP")}, []spec{g(Mask, 1, "TM"), g(StepUp, 1, "TS")}, on, want{ApprovalRequired, "GP", Global, []string{"mask-GM", "mask-TM"}}},
		{"tenant allow with tenant deny", nil, []spec{g(Allow, 10000, "TA"), g(Deny, 0, "TD")}, on, want{Deny, "TD", Tenant, nil}},
		{"tenant step_up and approval", nil, []spec{g(StepUp, 100, "TS"), g(ApprovalRequired, 0, "TP")}, on, want{ApprovalRequired, "TP", Tenant, nil}},
		{"tenant denies by priority", nil, []spec{g(Deny, 1, "T1"), g(Deny, 2, "T2")}, on, want{Deny, "T2", Tenant, nil}},
		{"tenant not firing", []spec{g(StepUp, 1, "GS")}, []spec{gOff(Deny, 1, "TD")}, on, want{StepUp, "GS", Global, nil}},
		{"nothing fires", []spec{gOff(Deny, 1, "GD"), gOff(Mask, 1, "GM")}, []spec{gOff(StepUp, 1, "TS")}, on, want{Allow, "", Global, nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			comp, err := Compile(PolicySet{Global: refs("g", c.global), Tenant: refs("t", c.tenant), DelegationEnabled: c.deleg})
			if err != nil {
				t.Fatal(err)
			}
			d, err := comp.Evaluate(context.Background(), baseInput())
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != c.want.effect || d.Policy != c.want.policy || (d.Policy != "" && d.Scope != c.want.scope) {
				t.Errorf("got %s by %q (%s), want %s by %q (%s)", d.Effect, d.Policy, d.Scope, c.want.effect, c.want.policy, c.want.scope)
			}
			if !slices.Equal(d.Masking, c.want.masking) {
				t.Errorf("masking %v, want %v", d.Masking, c.want.masking)
			}
			checkDecisionShape(t, d)
		})
	}
}

// checkDecisionShape: the deciding policy fired with the decision's effect,
// and the decision carries exactly the settings that effect needs.
func checkDecisionShape(t *testing.T, d Decision) {
	t.Helper()
	if d.Effect == Mask || !ValidEffect(d.Effect) {
		t.Fatalf("decision effect %q", d.Effect)
	}
	if d.Policy != "" {
		i := slices.IndexFunc(d.Matched, func(m Match) bool { return m.ID == d.PolicyID })
		if i < 0 || d.Matched[i].Effect != d.Effect || d.Matched[i].Policy != d.Policy || d.Matched[i].Scope != d.Scope {
			t.Errorf("decision by %q (%s) is not a matched policy with effect %s: %+v", d.Policy, d.PolicyID, d.Effect, d.Matched)
		}
	} else if d.Effect != Allow {
		t.Errorf("a %s decision must name its policy", d.Effect)
	}
	if (d.Effect == StepUp) != (d.StepUp != nil) {
		t.Errorf("effect %s with step_up %v", d.Effect, d.StepUp)
	}
	if (d.Effect == ApprovalRequired) != (d.Approval != nil) {
		t.Errorf("effect %s with approval %v", d.Effect, d.Approval)
	}
}

// TestStepUpRulesListsAll: the gateway must check a stepped-up token
// against every step_up policy that fired, not only the deciding one.
func TestStepUpRulesListsAll(t *testing.T) {
	gs := policyWith("GS", StepUp, 5, and(cond("request.tool", OpEqual, "t")))
	ts := policyWith("TS", StepUp, 1, and(cond("request.tool", OpEqual, "t")))
	ts.StepUp = &StepUpRule{ACRValues: []string{"phr"}, MaxAgeSec: 60}
	comp, err := Compile(PolicySet{Global: []Ref{{ID: "g", Policy: gs}}, Tenant: []Ref{{ID: "t", Policy: ts}}, DelegationEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := comp.Evaluate(context.Background(), baseInput())
	if err != nil {
		t.Fatal(err)
	}
	rules := d.StepUpRules()
	if d.Policy != "GS" || len(rules) != 2 || rules[1].MaxAgeSec != 60 {
		t.Fatalf("decision %q, rules %+v", d.Policy, rules)
	}
}

// TestMergeDistrustsScopes: Merge treats its arguments by position, whatever
// their Scope fields say, and drops tenant allows on its own.
func TestMergeDistrustsScopes(t *testing.T) {
	forged := []Match{{ID: "t1", Policy: "forged", Scope: Global, Effect: Allow, Priority: 10000}}
	global := []Match{{ID: "g1", Policy: "GS", Effect: StepUp, Priority: 0, StepUp: &StepUpRule{MaxAgeSec: 1}}}
	d := Merge(global, forged, true)
	if d.Effect != StepUp || d.Policy != "GS" || len(d.Matched) != 1 {
		t.Fatalf("got %+v", d)
	}
	d = Merge(nil, []Match{{ID: "t2", Policy: "TD", Scope: Global, Effect: Deny}}, true)
	if d.Scope != Tenant {
		t.Fatalf("tenant match reported as %s", d.Scope)
	}
	d = Merge(nil, []Match{{ID: "t3", Policy: "weird", Effect: "explode"}}, true)
	if d.Effect != Allow || len(d.Matched) != 0 {
		t.Fatalf("unknown tenant effect kept: %+v", d)
	}
}

// TestTenantCannotWidenProperty is the randomized property of the issue:
// for random global and tenant policy sets, adding the tenant's policies
// never makes the global decision weaker, never changes a global deny, and
// never removes masking. Tenant sets include allows and raw Rego, which a
// bad bundle might carry. Conditions are true, false or unknown.
func TestTenantCannotWidenProperty(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	rng := rand.New(rand.NewSource(20261204))
	effects := []Effect{Allow, Deny, StepUp, ApprovalRequired, Mask}
	conds := []Condition{
		cond("request.tool", OpEqual, "t"),                          // true
		cond("request.tool", OpEqual, "other"),                      // false
		cond("request.country", OpEqual, "KP"),                      // unknown: no country
		cond("args.amount", OpGT, 100.0),                            // true (amount 500)
		cond("args.amount", OpLT, 100.0),                            // false
		cond("args.amount", OpEqual, "x"),                           // unknown: type mismatch
		tzc(cond("request.time", OpAfter, "17:00"), "Europe/Paris"), // true
	}
	randomSet := func(prefix string, tenant bool) []Ref {
		var out []Ref
		for i := range rng.Intn(6) {
			e := effects[rng.Intn(len(effects))]
			var grp *Group
			if rng.Intn(3) == 0 {
				grp = &Group{Op: GroupOr, Conditions: []Condition{conds[rng.Intn(len(conds))], conds[rng.Intn(len(conds))]}}
			} else {
				grp = and(conds[rng.Intn(len(conds))])
			}
			p := policyWith(fmt.Sprintf("%s%d", prefix, rng.Intn(4)), e, rng.Intn(3), grp)
			if tenant && rng.Intn(10) == 0 { // a bundle that should never have been built
				p.Match, p.Rego = nil, "package portcullis.custom\ndecision := \"allow\"\n"
			}
			p.Enabled = rng.Intn(10) != 0
			out = append(out, Ref{ID: fmt.Sprintf("%s-%d", prefix, i), Policy: p})
		}
		return out
	}
	in := withArgs(map[string]any{"amount": 500.0})
	for i := range n {
		globalRefs, tenantRefs, deleg := randomSet("G", false), randomSet("T", true), rng.Intn(4) != 0
		alone, both := aloneAndMerged(t, i, globalRefs, tenantRefs, deleg, in)
		fail := func(msg string) {
			t.Fatalf("case %d (delegation %v): %s\nglobal only: %+v\nwith tenant: %+v\nglobal: %+v\ntenant: %+v",
				i, deleg, msg, alone, both, globalRefs, tenantRefs)
		}
		switch {
		case rank(both.Effect) < rank(alone.Effect):
			fail("tenant policies weakened the decision")
		case alone.Effect == Deny && (both.Policy != alone.Policy || both.Scope != Global || both.PolicyID != alone.PolicyID):
			fail("a global deny is final")
		case !deleg && (both.Effect != alone.Effect || both.PolicyID != alone.PolicyID || !slices.Equal(both.Masking, alone.Masking)):
			fail("without delegation, tenant policies must not count")
		case both.Scope == Tenant && rank(both.Effect) == 0:
			fail("a tenant policy decided allow")
		}
		for _, m := range alone.Masking {
			if !slices.Contains(both.Masking, m) {
				fail("tenant policies removed masking")
			}
		}
		for _, m := range both.Matched {
			if m.Scope == Tenant && m.Effect == Allow {
				fail("a tenant allow was matched")
			}
		}
		checkDecisionShape(t, both)
	}
}

// aloneAndMerged compiles case i's global and tenant policies and evaluates in
// under the global layer alone and under both layers merged (delegation on or
// off), for the properties that compare the two decisions.
func aloneAndMerged(t *testing.T, i int, globalRefs, tenantRefs []Ref, delegation bool, in Input) (alone, both Decision) {
	t.Helper()
	global, err := CompileScope(Global, globalRefs)
	if err != nil {
		t.Fatalf("case %d: %v", i, err)
	}
	tenant, err := CompileScope(Tenant, tenantRefs)
	if err != nil {
		t.Fatalf("case %d: %v", i, err)
	}
	alone, err = NewCompiled(global, nil, false).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	both, err = NewCompiled(global, tenant, delegation).Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return alone, both
}
