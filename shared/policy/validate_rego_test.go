package policy

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

const goodRego = `package portcullis.custom.refunds

default decision := "allow"

decision := "deny" if {
	input.args.amount > 10000
	not "finance" in input.user.roles
}
`

func TestValidateRego(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		wantErr string // substring; "" means valid
	}{
		{"valid", goodRego, ""},
		{"valid root package", "package portcullis.custom\ndecision := \"deny\" if input.tool == \"x\"\n", ""},
		{"valid computed value", "package portcullis.custom\ndecision := d if { d := input.request.platform }\n", ""},
		{"valid uses request time", "package portcullis.custom\ndecision := \"deny\" if time.weekday(input.request.time_ns) == \"Sunday\"\n", ""},
		{"syntax error", "package portcullis.custom\ndecision := \n", "does not parse"},
		{"v0 syntax", "package portcullis.custom\ndecision = \"deny\" { true }\n", "does not parse"},
		{"empty", "", "does not parse"},
		{"wrong package", "package portcullis\ndecision := \"deny\"\n", "package must be portcullis.custom"},
		{"lookalike package", "package portcullis.customer\ndecision := \"deny\"\n", "package must be portcullis.custom"},
		{"no decision", "package portcullis.custom\nallow := true\n", "must define a rule named decision"},
		{"decision function", "package portcullis.custom\ndecision(x) := \"deny\" if x\n", "must not be a function"},
		{"decision set", "package portcullis.custom\ndecision contains \"deny\" if true\n", "complete rule"},
		{"decision object", "package portcullis.custom\ndecision.a := \"deny\"\n", "complete rule"},
		{"not an effect", "package portcullis.custom\ndecision := \"denied\"\n", "not an effect"},
		{"undefined ref", "package portcullis.custom\ndecision := \"deny\" if nothing_here\n", "does not compile"},
		{"conflict type error", "package portcullis.custom\ndecision := \"deny\" if { 1 + \"a\" }\n", "does not compile"},
		{"http.send", "package portcullis.custom\ndecision := \"deny\" if { r := http.send({\"method\":\"GET\",\"url\":\"http://169.254.169.254/\"}); r.status_code == 200 }\n", "does not compile"},
		{"net lookup", "package portcullis.custom\ndecision := \"deny\" if { net.lookup_ip_addr(\"example.com\") }\n", "does not compile"},
		{"time.now_ns", "package portcullis.custom\ndecision := \"deny\" if time.now_ns() > 0\n", "does not compile"},
		{"opa.runtime", "package portcullis.custom\ndecision := \"deny\" if opa.runtime().env.SECRET\n", "does not compile"},
		{"rand", "package portcullis.custom\ndecision := \"deny\" if rand.intn(\"x\", 2) == 1\n", "does not compile"},
		{"uuid", "package portcullis.custom\ndecision := \"deny\" if uuid.rfc4122(\"x\")\n", "does not compile"},
		{"trace", "package portcullis.custom\ndecision := \"deny\" if trace(\"x\")\n", "does not compile"},
		{"json schema remote", "package portcullis.custom\ndecision := \"deny\" if { [ok, _] := json.verify_schema({\"$ref\": \"http://x/\"}); ok }\n", "does not compile"},
		{"cidr expand", "package portcullis.custom\ndecision := \"deny\" if count(net.cidr_expand(\"10.0.0.0/8\")) > 0\n", "does not compile"},
		{"too big", "package portcullis.custom\n#" + strings.Repeat("x", MaxRegoBytes), "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateRego(c.src)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("want error containing %q, got nil", c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("want error containing %q, got %v", c.wantErr, err)
			}
		})
	}
}

// TestUnsafeBuiltinsCoverNondeterministic fails when an OPA upgrade adds a
// builtin OPA itself marks nondeterministic (clock, randomness, network)
// that UnsafeBuiltins does not remove.
func TestUnsafeBuiltinsCoverNondeterministic(t *testing.T) {
	all := map[string]bool{}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		all[b.Name] = true
		if b.Nondeterministic && !contains(UnsafeBuiltins, b.Name) {
			t.Errorf("builtin %s is nondeterministic but not in UnsafeBuiltins", b.Name)
		}
	}
	for _, name := range UnsafeBuiltins {
		if !all[name] {
			t.Errorf("UnsafeBuiltins lists %s, which this OPA version does not have", name)
		}
	}
	caps := RegoCapabilities()
	for _, b := range caps.Builtins {
		if contains(UnsafeBuiltins, b.Name) {
			t.Errorf("RegoCapabilities still holds %s", b.Name)
		}
	}
	if caps.AllowNet == nil || len(caps.AllowNet) != 0 {
		t.Errorf("AllowNet must be empty, not nil: %v", caps.AllowNet)
	}
	// RegoCapabilities must not mutate a shared value.
	if len(RegoCapabilities().Builtins) != len(caps.Builtins) {
		t.Error("RegoCapabilities is not stable across calls")
	}
}
