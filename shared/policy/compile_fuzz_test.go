package policy

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// FuzzCompileEvaluate: for any policy validation accepts, Compile succeeds
// (the compiler handles exactly what validation accepts), and evaluating it
// on any input never panics, never errors for structured conditions, and
// never lets an allow fire where the same policy as a deny would not.
func FuzzCompileEvaluate(f *testing.F) {
	seeds := []struct {
		policy, args, tool, ip, country, email string
		unix                                   int64
	}{
		{`{"name":"n","tools":["*"],"effect":"deny","enabled":true,"match":{"op":"and","conditions":[{"attribute":"args.a","operator":"gt","value":1}]}}`,
			`{"a":2}`, "t", "10.0.0.1", "FR", "a@b.c", 1796401940},
		{`{"name":"n","tools":["a.*"],"effect":"step_up","enabled":true,"step_up":{"acr_values":["mfa"],"max_age":60},"match":{"op":"or","groups":[{"op":"and","conditions":[{"attribute":"request.time","operator":"between","value":["09:00","17:00"],"time_zone":"Europe/Paris"}]}]}}`,
			`{}`, "a.b", "::1", "", "", 0},
		{`{"name":"n","tools":["x"],"effect":"approval_required","enabled":true,"approval":{"approver_emails":["a@b.c"],"min_approvals":1,"expiry_sec":300},"match":{"op":"and","conditions":[{"attribute":"request.ip","operator":"cidr","value":["10.0.0.0/8"]}]}}`,
			`null`, "x", "10.1.1.1", "", "", -1},
		{`{"name":"n","tools":["x"],"effect":"deny","enabled":true,"rego":"package portcullis.custom\ndecision := \"deny\" if input.args.x > 1\n"}`,
			`{"x":"2"}`, "x", "", "", "", 1},
		{`{"name":"n","tools":["x*"],"effect":"mask","enabled":true,"masking":["pii"],"match":{"op":"and","conditions":[{"attribute":"args.a[0].b","operator":"in_list","value":[1,"a",true]}]}}`,
			`{"a":[{"b":true}]}`, "xy", "", "", "", 1 << 40},
		{`{"name":"n","tools":["*"],"effect":"deny","enabled":true,"match":{"op":"and","conditions":[{"attribute":"args.d","operator":"after","value":"2026-01-01T00:00:00Z"},{"attribute":"request.weekday","operator":"in_list","value":["sat"],"time_zone":"Asia/Tokyo"},{"attribute":"user.email","operator":"ends_with","value":"@X.com"}]}}`,
			`{"d":"2027-01-01T00:00:00Z"}`, "t", "", "", "Q@x.COM", 1796401940},
	}
	for _, s := range seeds {
		f.Add([]byte(s.policy), []byte(s.args), s.tool, s.ip, s.country, s.email, s.unix)
	}
	f.Fuzz(func(t *testing.T, policyJSON, argsJSON []byte, tool, ip, country, email string, unix int64) {
		var p Policy
		if err := json.Unmarshal(policyJSON, &p); err != nil {
			return
		}
		var args map[string]any
		_ = json.Unmarshal(argsJSON, &args)
		in := Input{
			Tool:    tool,
			Args:    args,
			User:    UserAttrs{Email: email, Roles: []string{"r"}, Claims: map[string]any{"level": 3.0}},
			Request: RequestAttrs{IP: ip, Country: country, Time: time.Unix(unix, 0)},
		}
		p.Enabled = true
		for _, scope := range []ScopeKind{Global, Tenant} {
			if p.Validate(scope) != nil {
				continue
			}
			l, err := CompileScope(scope, []Ref{{ID: "1", Policy: p}})
			if err != nil {
				t.Fatalf("validated in scope %s but does not compile: %v", scope, err)
			}
			set := NewCompiled(nil, l, true)
			if scope == Global {
				set = NewCompiled(l, nil, false)
			}
			d, err := set.Evaluate(context.Background(), in)
			if err != nil {
				if p.Rego == "" {
					t.Fatalf("structured policy failed to evaluate: %v", err)
				}
				if d.Effect != Deny {
					t.Fatalf("an error must come with a deny, got %s", d.Effect)
				}
				continue
			}
			if p.Rego == "" && p.Effect != Allow && scope == Global {
				checkAllowImpliesRestriction(t, p, in, len(d.Matched) == 1)
			}
		}
	})
}

// checkAllowImpliesRestriction: the same conditions as an allow policy may
// fire only when they fire as a restriction (unknown counts against the
// caller, never for it).
func checkAllowImpliesRestriction(t *testing.T, p Policy, in Input, restrictionFired bool) {
	t.Helper()
	p.Effect, p.StepUp, p.Approval, p.Masking = Allow, nil, nil, nil
	c, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: p}}})
	if err != nil {
		t.Fatalf("as allow: %v", err)
	}
	d, err := c.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatalf("as allow: %v", err)
	}
	if len(d.Matched) == 1 && !restrictionFired {
		t.Fatalf("conditions held for an allow but not for a restriction")
	}
}

// FuzzConditionEvaluate builds one condition from the fuzzer's choices, so
// most inputs pass validation and reach the compiler and OPA: whatever the
// operator, constant and attribute value, a validated condition compiles,
// evaluates without error, and an allow never fires where a deny does not.
func FuzzConditionEvaluate(f *testing.F) {
	f.Add(uint8(0), uint8(0), []byte(`"a"`), []byte(`"a"`), "", "10.0.0.1", int64(1796401940))
	f.Add(uint8(5), uint8(15), []byte(`["10.0.0.0/8"]`), []byte(`"10.1.2.3"`), "", "10.1.2.3", int64(0))
	f.Add(uint8(6), uint8(11), []byte(`["22:00","06:00"]`), []byte(`1`), "Asia/Tokyo", "", int64(1796401940))
	f.Add(uint8(0), uint8(11), []byte(`["2026-01-01T00:00:00Z","2027-01-01T00:00:00Z"]`), []byte(`"2026-05-01T00:00:00+02:00"`), "", "", int64(1))
	f.Add(uint8(7), uint8(2), []byte(`["sat","sun"]`), []byte(`null`), "Europe/Paris", "", int64(-62135596800))
	f.Add(uint8(3), uint8(2), []byte(`["admin"]`), []byte(`[]`), "", "", int64(1))
	attrs := []string{"args.x", "args.a[0].b", "user.email", "user.roles", "user.claims.c", "request.ip", "request.time", "request.weekday", "request.country"}
	f.Fuzz(func(t *testing.T, attr, op uint8, valueJSON, argJSON []byte, zone, ip string, unix int64) {
		var value, arg any
		if json.Unmarshal(valueJSON, &value) != nil || json.Unmarshal(argJSON, &arg) != nil {
			return
		}
		c := Condition{Attribute: attrs[int(attr)%len(attrs)], Operator: allOperators[int(op)%len(allOperators)], Value: value, TimeZone: zone}
		p := policyWith("p", Deny, 1, and(c))
		if p.Validate(Global) != nil {
			return
		}
		s, _ := arg.(string)
		roles, _ := arg.([]any)
		var roleNames []string
		for _, r := range roles {
			if rs, ok := r.(string); ok {
				roleNames = append(roleNames, rs)
			}
		}
		in := Input{
			Tool:    "t",
			Args:    map[string]any{"x": arg, "a": []any{map[string]any{"b": arg}}},
			User:    UserAttrs{Email: s, Roles: roleNames, Claims: map[string]any{"c": arg}},
			Request: RequestAttrs{IP: ip, Country: s, Time: time.Unix(unix, 0)},
		}
		comp, err := Compile(PolicySet{Global: []Ref{{ID: "1", Policy: p}}})
		if err != nil {
			t.Fatalf("validated but does not compile: %v", err)
		}
		d, err := comp.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatalf("evaluate: %v", err)
		}
		checkAllowImpliesRestriction(t, p, in, len(d.Matched) == 1)
	})
}
