package policy

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// autoPolicy is an approval_required policy on tool "t" that always fires
// (request.tool equal t) and auto-approves when auto holds.
func autoPolicy(name string, prio int, auto *Group) Policy {
	p := policyWith(name, ApprovalRequired, prio, and(cond("request.tool", OpEqual, "t")))
	p.Approval.AutoApprove = auto
	return p
}

func TestAutoApproveValidate(t *testing.T) {
	const f = "approval.auto_approve"
	eleven := make([]Condition, 11)
	for i := range eleven {
		eleven[i] = cond("args.a", OpEqual, "x")
	}
	small := cond("args.amount", OpLT, 100.0)
	cases := []struct {
		name  string
		scope ScopeKind
		auto  *Group
		rego  bool
		want  []string
	}{
		{"valid", Global, and(small), false, nil},
		{"valid tenant", Tenant, and(small), false, nil},
		{"valid nested", Global, &Group{Op: GroupOr, Conditions: []Condition{small},
			Groups: []Group{{Op: GroupAnd, Conditions: []Condition{cond("user.roles", OpContains, "finance")}}}}, false, nil},
		{"ten conditions", Global, &Group{Op: GroupOr, Conditions: eleven[:10]}, false, nil},
		{"eleven conditions", Global, &Group{Op: GroupOr, Conditions: eleven}, false, []string{f}},
		{"empty group", Global, &Group{Op: GroupAnd}, false, []string{f}},
		{"bad op", Global, &Group{Op: "xor", Conditions: []Condition{small}}, false, []string{f + ".op"}},
		{"two levels", Global, &Group{Op: GroupAnd, Groups: []Group{{Op: GroupOr,
			Groups: []Group{{Op: GroupAnd, Conditions: []Condition{small}}}}}}, false, []string{f, f + ".groups[0].groups"}},
		{"unknown attribute", Global, and(cond("user.name", OpEqual, "x")), false, []string{f + ".conditions[0].attribute"}},
		{"unknown operator", Global, and(cond("args.a", "eq", "x")), false, []string{f + ".conditions[0].operator"}},
		{"operator for another kind", Global, and(cond("user.roles", OpGT, 1.0)), false, []string{f + ".conditions[0].operator"}},
		{"bad value", Global, and(cond("args.amount", OpLT, "100")), false, []string{f + ".conditions[0].value"}},
		{"nested bad value", Global, &Group{Op: GroupAnd, Groups: []Group{{Op: GroupOr,
			Conditions: []Condition{small, cond("request.ip", OpCIDR, "nonsense")}}}}, false, []string{f + ".groups[0].conditions[1].value"}},
		{"with raw rego", Global, and(small), true, []string{f}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := autoPolicy("auto", 1, c.auto)
			if c.rego {
				p.Match, p.Rego = nil, goodRego
			}
			expect(t, p.Validate(c.scope), c.want...)
		})
	}
	// The match tree's problems keep their own field.
	p := autoPolicy("auto", 1, and(small))
	p.Match = &Group{Op: GroupAnd}
	expect(t, p.Validate(Global), "match")
	// auto_approve belongs to approval, which only approval_required has.
	p = autoPolicy("auto", 1, and(small))
	p.Effect = Deny
	expect(t, p.Validate(Global), "approval")
}

// TestAutoApproveCompiled: through the compiled Rego, auto-approval holds
// only when the conditions are definitely true; false and unknown (missing
// attribute, wrong type) leave the approval required.
func TestAutoApproveCompiled(t *testing.T) {
	small := cond("args.amount", OpLT, 100.0)
	kp := cond("request.country", OpEqual, "KP") // unknown: no country in the input
	cases := []struct {
		name string
		auto *Group
		in   Input
		want bool
	}{
		{"true", and(small), withArgs(map[string]any{"amount": 5.0}), true},
		{"false", and(small), withArgs(map[string]any{"amount": 500.0}), false},
		{"unknown: missing", and(small), withArgs(nil), false},
		{"unknown: wrong type", and(small), withArgs(map[string]any{"amount": "5"}), false},
		{"not_equal on missing", and(cond("request.country", OpNotEqual, "KP")), withArgs(nil), false},
		{"true and unknown", and(small, kp), withArgs(map[string]any{"amount": 5.0}), false},
		{"true or unknown", &Group{Op: GroupOr, Conditions: []Condition{kp, small}}, withArgs(map[string]any{"amount": 5.0}), true},
		{"(false or unknown) and true", &Group{Op: GroupAnd, Conditions: []Condition{small},
			Groups: []Group{{Op: GroupOr, Conditions: []Condition{cond("args.amount", OpGT, 1000.0), kp}}}}, withArgs(map[string]any{"amount": 5.0}), false},
		{"(true or unknown) and true", &Group{Op: GroupAnd, Conditions: []Condition{small},
			Groups: []Group{{Op: GroupOr, Conditions: []Condition{cond("args.amount", OpGT, 1.0), kp}}}}, withArgs(map[string]any{"amount": 5.0}), true},
		{"no auto-approve", nil, withArgs(map[string]any{"amount": 5.0}), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := decide(t, PolicySet{Global: []Ref{{ID: "a", Policy: autoPolicy("auto", 1, c.auto)}}}, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != ApprovalRequired || d.Policy != "auto" {
				t.Fatalf("got %s by %q, want approval_required by auto", d.Effect, d.Policy)
			}
			if d.AutoApproved() != c.want || d.Matched[0].AutoApproved != c.want {
				t.Fatalf("auto-approved %v (match %v), want %v", d.AutoApproved(), d.Matched[0].AutoApproved, c.want)
			}
			checkDecisionShape(t, d)
		})
	}
}

// TestAutoApproveOnlyWhenMatched: auto-approve conditions never make a
// policy fire, and a policy for another tool is not auto-approved.
func TestAutoApproveOnlyWhenMatched(t *testing.T) {
	yes := and(cond("args.amount", OpLT, 100.0))
	off := autoPolicy("off", 1, yes)
	off.Match = and(cond("request.tool", OpEqual, "other"))
	other := autoPolicy("other-tool", 1, yes)
	other.Tools = []string{"u"}
	in := withArgs(map[string]any{"amount": 5.0})
	d, err := decide(t, PolicySet{Global: []Ref{{ID: "1", Policy: off}, {ID: "2", Policy: other}}}, in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Effect != Allow || len(d.Matched) != 0 || d.AutoApproved() {
		t.Fatalf("got %+v", d)
	}
}

// TestAutoApproveMerge: every approval_required policy that fired must
// auto-approve; a tenant's auto-approve never waives a global approval, and
// what the other policies demand still applies.
func TestAutoApproveMerge(t *testing.T) {
	yes := and(cond("args.amount", OpLT, 100.0))
	no := and(cond("args.amount", OpGT, 100.0))
	stepUp := policyWith("su", StepUp, 1, and(cond("request.tool", OpEqual, "t")))
	mask := policyWith("mk", Mask, 1, and(cond("request.tool", OpEqual, "t")))
	deny := policyWith("dn", Deny, 1, and(cond("request.tool", OpEqual, "t")))
	cases := []struct {
		name           string
		global, tenant []Policy
		deleg          bool
		wantEffect     Effect
		wantAuto       bool
		wantRest       Effect // WithoutApprovals().Effect when wantAuto
		wantRestPolicy string
	}{
		{"global auto", []Policy{autoPolicy("g", 1, yes)}, nil, false, ApprovalRequired, true, Allow, ""},
		{"global not auto", []Policy{autoPolicy("g", 1, no)}, nil, false, ApprovalRequired, false, "", ""},
		{"tenant auto", nil, []Policy{autoPolicy("t", 1, yes)}, true, ApprovalRequired, true, Allow, ""},
		{"tenant auto cannot waive global", []Policy{autoPolicy("g", 1, nil)}, []Policy{autoPolicy("t", 5, yes)}, true, ApprovalRequired, false, "", ""},
		{"tenant auto cannot waive global (false)", []Policy{autoPolicy("g", 1, no)}, []Policy{autoPolicy("t", 5, yes)}, true, ApprovalRequired, false, "", ""},
		{"global auto, tenant not", []Policy{autoPolicy("g", 5, yes)}, []Policy{autoPolicy("t", 1, nil)}, true, ApprovalRequired, false, "", ""},
		{"both auto", []Policy{autoPolicy("g", 1, yes)}, []Policy{autoPolicy("t", 1, yes)}, true, ApprovalRequired, true, Allow, ""},
		{"two global, one auto", []Policy{autoPolicy("g1", 5, yes), autoPolicy("g2", 1, no)}, nil, false, ApprovalRequired, false, "", ""},
		{"tenant without delegation does not count", []Policy{autoPolicy("g", 1, yes)}, []Policy{autoPolicy("t", 1, nil)}, false, ApprovalRequired, true, Allow, ""},
		{"global step_up still applies", []Policy{autoPolicy("g", 1, yes), stepUp}, nil, false, ApprovalRequired, true, StepUp, "su"},
		{"tenant auto keeps global step_up", []Policy{stepUp}, []Policy{autoPolicy("t", 9, yes)}, true, ApprovalRequired, true, StepUp, "su"},
		{"global auto keeps tenant step_up", []Policy{autoPolicy("g", 1, yes)}, []Policy{stepUp}, true, ApprovalRequired, true, StepUp, "su"},
		{"mask with auto", []Policy{autoPolicy("g", 1, yes), mask}, nil, false, ApprovalRequired, true, Allow, ""},
		{"deny wins", []Policy{autoPolicy("g", 1, yes)}, []Policy{deny}, true, Deny, false, "", ""},
	}
	in := withArgs(map[string]any{"amount": 5.0})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := PolicySet{DelegationEnabled: c.deleg}
			for i, p := range c.global {
				set.Global = append(set.Global, Ref{ID: fmt.Sprintf("g%d", i), Policy: p})
			}
			for i, p := range c.tenant {
				set.Tenant = append(set.Tenant, Ref{ID: fmt.Sprintf("t%d", i), Policy: p})
			}
			d, err := decide(t, set, in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != c.wantEffect || d.AutoApproved() != c.wantAuto {
				t.Fatalf("got %s auto-approved %v, want %s %v (%+v)", d.Effect, d.AutoApproved(), c.wantEffect, c.wantAuto, d)
			}
			if !c.wantAuto {
				return
			}
			rest := d.WithoutApprovals()
			if rest.Effect != c.wantRest || rest.Policy != c.wantRestPolicy {
				t.Fatalf("without approvals: %s by %q, want %s by %q", rest.Effect, rest.Policy, c.wantRest, c.wantRestPolicy)
			}
			checkDecisionShape(t, rest)
			if strings.Join(rest.Masking, ",") != strings.Join(d.Masking, ",") {
				t.Fatalf("masking %v, want %v", rest.Masking, d.Masking)
			}
			for _, m := range rest.Matched {
				if m.Effect == ApprovalRequired {
					t.Fatalf("an approval policy is left: %+v", m)
				}
			}
		})
	}
}

// effective is what the gateway lets happen: an auto-approved decision is
// whatever the other policies decide.
func effective(d Decision) Effect {
	if d.AutoApproved() {
		return d.WithoutApprovals().Effect
	}
	return d.Effect
}

// TestAutoApproveTenantCannotWidenProperty: with random auto-approve
// conditions (true, false, unknown) on random global and tenant policies,
// adding the tenant's policies never weakens what the gateway does, and a
// global approval that is not auto-approved alone never becomes
// auto-approved with the tenant's.
func TestAutoApproveTenantCannotWidenProperty(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	rng := rand.New(rand.NewSource(4))
	effects := []Effect{Deny, StepUp, ApprovalRequired, ApprovalRequired, Mask}
	conds := []Condition{
		cond("args.amount", OpGT, 100.0),       // true (amount 500)
		cond("args.amount", OpLT, 100.0),       // false
		cond("request.country", OpEqual, "KP"), // unknown
		cond("request.tool", OpEqual, "other"), // false
	}
	randomSet := func(prefix string) []Ref {
		var out []Ref
		for i := range rng.Intn(5) {
			p := policyWith(fmt.Sprintf("%s%d", prefix, rng.Intn(3)), effects[rng.Intn(len(effects))], rng.Intn(3),
				and(conds[[]int{0, 0, 2, 3}[rng.Intn(4)]]))
			if p.Effect == ApprovalRequired && rng.Intn(4) != 0 {
				p.Approval.AutoApprove = &Group{Op: []string{GroupAnd, GroupOr}[rng.Intn(2)],
					Conditions: []Condition{conds[rng.Intn(len(conds))], conds[rng.Intn(len(conds))]}}
			}
			out = append(out, Ref{ID: fmt.Sprintf("%s-%d", prefix, i), Policy: p})
		}
		return out
	}
	in := withArgs(map[string]any{"amount": 500.0})
	for i := range n {
		globalRefs, tenantRefs := randomSet("G"), randomSet("T")
		alone, both := aloneAndMerged(t, i, globalRefs, tenantRefs, true, in)
		if rank(effective(both)) < rank(effective(alone)) {
			t.Fatalf("case %d: tenant policies weakened %s to %s\nalone: %+v\nboth: %+v", i, effective(alone), effective(both), alone, both)
		}
		if alone.Effect == ApprovalRequired && !alone.AutoApproved() && both.AutoApproved() {
			t.Fatalf("case %d: a tenant auto-approve waived a global approval\nalone: %+v\nboth: %+v", i, alone, both)
		}
	}
}
