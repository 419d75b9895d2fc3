package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func regoPolicy(name string, e Effect, src string) Policy {
	p := policyWith(name, e, 1, nil)
	p.Rego = src
	return p
}

func decide(t *testing.T, set PolicySet, in Input) (Decision, error) {
	t.Helper()
	c, err := Compile(set)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return c.Evaluate(context.Background(), in)
}

// TestRawRego: global policies written in Rego, evaluated each in its own
// package with strict builtin errors.
func TestRawRego(t *testing.T) {
	const refunds = `package portcullis.custom.refunds

default decision := "allow"

decision := "deny" if {
	input.args.amount > 10000
	not "finance" in input.user.roles
}
`
	cases := []struct {
		name       string
		policies   []Policy
		in         Input
		wantEffect Effect
		wantPolicy string
		wantErr    bool
	}{
		{"denies by argument", []Policy{regoPolicy("refunds", Deny, refunds)},
			Input{Tool: "t", Args: map[string]any{"amount": 20000.0}, User: UserAttrs{Roles: []string{"support"}}, Request: RequestAttrs{Time: now}}, Deny, "refunds", false},
		{"allows small amounts", []Policy{regoPolicy("refunds", Deny, refunds)},
			withArgs(map[string]any{"amount": 5.0}), Allow, "refunds", false},
		{"finance may", []Policy{regoPolicy("refunds", Deny, refunds)},
			Input{Tool: "t", Args: map[string]any{"amount": 20000.0}, User: UserAttrs{Roles: []string{"finance"}}, Request: RequestAttrs{Time: now}}, Allow, "refunds", false},
		{"other tool is not evaluated", []Policy{regoPolicy("refunds", Deny, refunds)},
			Input{Tool: "u", Args: map[string]any{"amount": 20000.0}}, Allow, "", false},
		{"undefined decision does not apply", []Policy{regoPolicy("sometimes", Deny, "package portcullis.custom\ndecision := \"deny\" if input.args.x == 1\n")},
			withArgs(nil), Allow, "", false},
		{"reads the request time", []Policy{regoPolicy("fridays", Deny, "package portcullis.custom\ndecision := \"deny\" if time.weekday(input.request.time_ns) == \"Friday\"\n")},
			baseInput(), Deny, "fridays", false},
		{"builtin error fails closed", []Policy{regoPolicy("numbers", Deny, "package portcullis.custom\ndecision := \"deny\" if to_number(input.args.x) > 5\n")},
			withArgs(map[string]any{"x": "abc"}), Deny, "numbers", true},
		{"conflict fails closed", []Policy{regoPolicy("conflict", Deny, "package portcullis.custom\ndecision := \"deny\" if input.args.a\ndecision := \"allow\" if input.args.b\n")},
			withArgs(map[string]any{"a": true, "b": true}), Deny, "conflict", true},
		{"own restrictive effect", []Policy{regoPolicy("su", StepUp, "package portcullis.custom\ndecision := \"step_up\"\n")},
			baseInput(), StepUp, "su", false},
		{"restrictive effect it cannot carry becomes deny", []Policy{regoPolicy("su", StepUp, "package portcullis.custom\ndecision := \"approval_required\"\n")},
			baseInput(), Deny, "su", false},
		{"not an effect becomes deny", []Policy{regoPolicy("odd", Deny, "package portcullis.custom\ndecision := input.args.d\n")},
			withArgs(map[string]any{"d": "denied"}), Deny, "odd", false},
		{"non-string decision becomes deny", []Policy{regoPolicy("odd", Deny, "package portcullis.custom\ndecision := input.args.d\n")},
			withArgs(map[string]any{"d": 7.0}), Deny, "odd", false},
		{"two modules share a package", []Policy{
			regoPolicy("a", Deny, "package portcullis.custom\ndecision := \"allow\"\n"),
			regoPolicy("b", Deny, "package portcullis.custom\ndecision := \"deny\" if input.args.x\n"),
		}, withArgs(map[string]any{"x": true}), Deny, "b", false},
		{"mixed with structured", []Policy{
			regoPolicy("a", Deny, "package portcullis.custom\ndecision := \"allow\"\n"),
			policyWith("s", StepUp, 1, and(cond("args.x", OpIs, true))),
		}, withArgs(map[string]any{"x": true}), StepUp, "s", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var set PolicySet
			for i, p := range c.policies {
				set.Global = append(set.Global, Ref{ID: string(rune('a' + i)), Policy: p})
			}
			d, err := decide(t, set, c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			var ee *EvalError
			if err != nil && (!errors.As(err, &ee) || ee.Policy != c.wantPolicy) {
				t.Fatalf("error %v does not name policy %q", err, c.wantPolicy)
			}
			if d.Effect != c.wantEffect || d.Policy != c.wantPolicy {
				t.Fatalf("got %s by %q, want %s by %q", d.Effect, d.Policy, c.wantEffect, c.wantPolicy)
			}
			if err == nil {
				checkDecisionShape(t, d)
			}
		})
	}
}

// TestRawRegoUnsafeBuiltinsRefused: a module that reaches the network or
// the clock does not compile, whatever the bundle says.
func TestRawRegoUnsafeBuiltinsRefused(t *testing.T) {
	for name, src := range map[string]string{
		"http.send":  "package portcullis.custom\ndecision := \"deny\" if { r := http.send({\"method\": \"GET\", \"url\": \"http://169.254.169.254/\"}); r.status_code == 200 }\n",
		"lookup":     "package portcullis.custom\ndecision := \"deny\" if net.lookup_ip_addr(\"example.com\")\n",
		"now":        "package portcullis.custom\ndecision := \"deny\" if time.now_ns() > 0\n",
		"opa.runtim": "package portcullis.custom\ndecision := \"deny\" if opa.runtime().env.X\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: regoPolicy("net", Deny, src)}}})
			if err == nil {
				t.Fatal("compiled a module with an unsafe builtin")
			}
			// And even without validation in front, the capabilities refuse it.
			if _, err := prepareRaw(src); err == nil || !strings.Contains(err.Error(), "undefined function") {
				t.Fatalf("prepareRaw: %v", err)
			}
		})
	}
}

// TestTenantBundleCannotCarryAllowOrRego: a tenant layer ignores allow
// policies and raw Rego even when a bad bundle carries them.
func TestTenantBundleCannotCarryAllowOrRego(t *testing.T) {
	tenantRego := regoPolicy("tr", Deny, "package portcullis.custom\ndecision := \"allow\"\n")
	tenantAllow := policyWith("ta", Allow, 10000, and(cond("request.tool", OpEqual, "t")))
	globalStepUp := policyWith("gs", StepUp, 1, and(cond("request.tool", OpEqual, "t")))
	l, err := CompileScope(Tenant, []Ref{{ID: "1", Policy: tenantRego}, {ID: "2", Policy: tenantAllow}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 0 || len(l.Ignored()) != 2 {
		t.Fatalf("len %d, ignored %+v", l.Len(), l.Ignored())
	}
	global, err := CompileScope(Global, []Ref{{ID: "3", Policy: globalStepUp}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewCompiled(global, l, true).Evaluate(context.Background(), baseInput())
	if err != nil || d.Effect != StepUp || d.Policy != "gs" {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// TestEvaluateCancelled: a cancelled evaluation is an error and a deny.
func TestEvaluateCancelled(t *testing.T) {
	c, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: policyWith("p", Allow, 1, and(cond("args.x", OpEqual, "y")))}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := c.Evaluate(ctx, withArgs(map[string]any{"x": "y"}))
	if err == nil || d.Effect != Deny {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// TestNilLayers: no policies at all is the default allow.
func TestNilLayers(t *testing.T) {
	d, err := NewCompiled(nil, nil, true).Evaluate(context.Background(), baseInput())
	if err != nil || d.Effect != Allow || d.Policy != "" || d.Blocks() {
		t.Fatalf("got %+v, %v", d, err)
	}
}
