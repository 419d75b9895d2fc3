package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/portcullis/portcullis/shared/model"
)

// Raw Rego contract (global policies only).
//
// A platform admin may attach a Rego v1 module to a global policy instead of
// a condition tree. The module:
//
//   - declares a package under portcullis.custom ("package portcullis.custom"
//     or "package portcullis.custom.<name>"); the gateway loads each policy's
//     module on its own, so two policies may use the same package name;
//   - defines a complete rule named decision (not a function, not a partial
//     set or object) whose value is one of the effect strings "allow", "deny",
//     "step_up", "approval_required", "mask"; an undefined decision means the
//     policy does not apply to this call;
//   - reads only its input:
//
//     {
//       "tool":    "<tool name>",
//       "args":    { ... tool arguments ... },
//       "user":    {"id", "email", "tenant", "roles", "permissions", "claims"},
//       "request": {"ip", "country", "user_agent", "platform",
//                   "time" (RFC 3339), "time_ns" (unix ns), "weekday" (mon..sun, UTC)}
//     }
//
// The request time is in the input, so rules never need the clock. The
// step_up, approval and masking settings a decision may need are the
// policy's own (its step_up, approval and masking fields): Effect names the
// restrictive effect the module may return besides allow and deny.
//
// The builtins in UnsafeBuiltins are removed from the capabilities the module
// is compiled with, so a module calling one does not compile; the gateway
// prepares its queries with the same RegoCapabilities.

// MaxRegoBytes bounds a raw Rego module.
const MaxRegoBytes = 100 << 10

// RegoPackage is the package every raw Rego module lives under.
const RegoPackage = "portcullis.custom"

// RegoDecisionRule is the rule the gateway queries.
const RegoDecisionRule = "decision"

// UnsafeBuiltins are the OPA builtins raw Rego may not call: they reach the
// network or the host (http.send, net.lookup_ip_addr, opa.runtime), read the
// clock or randomness, which would make the same call decide differently on
// two gateways (time.now_ns, rand.intn, uuid.rfc4122, io.jwt.encode_sign*,
// io.jwt.decode_verify, which checks exp against the clock), may fetch remote
// JSON Schema references (json.verify_schema, json.match_schema), can produce
// unbounded output (net.cidr_expand), or write to the gateway's logs (trace).
// A test keeps this list a superset of what OPA marks nondeterministic.
var UnsafeBuiltins = []string{
	"http.send",
	"net.lookup_ip_addr",
	"opa.runtime",
	"time.now_ns",
	"rand.intn",
	"uuid.rfc4122",
	"io.jwt.decode_verify",
	"io.jwt.encode_sign",
	"io.jwt.encode_sign_raw",
	"json.verify_schema",
	"json.match_schema",
	"net.cidr_expand",
	"trace",
}

// RegoCapabilities returns the capabilities raw Rego is compiled and
// evaluated with: this OPA version's, minus UnsafeBuiltins, with no network
// access at all (an empty AllowNet; nil would allow every host). A new value
// each call, as callers may keep and modify it.
func RegoCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool {
		return slices.Contains(UnsafeBuiltins, b.Name)
	})
	caps.AllowNet = []string{}
	return caps
}

// ValidateRego parses and compiles a raw Rego module against the contract
// above and returns nil or a model.ValidationError (field "" = the module).
func ValidateRego(src string) error {
	var pr model.Problems
	if len(src) > MaxRegoBytes {
		pr.Add("", "longer than %d bytes", MaxRegoBytes)
		return pr.Err()
	}
	caps := RegoCapabilities()
	mod, err := ast.ParseModuleWithOpts("policy.rego", src, ast.ParserOptions{
		RegoVersion:  ast.RegoV1,
		Capabilities: caps,
	})
	if err != nil {
		pr.Add("", "does not parse: %s", regoErrors(err))
		return pr.Err()
	}
	if mod == nil {
		pr.Add("", "is empty")
		return pr.Err()
	}
	checkRegoPackage(&pr, mod)
	checkDecisionRule(&pr, mod)
	compiler := ast.NewCompiler().WithCapabilities(caps)
	compiler.Compile(map[string]*ast.Module{"policy.rego": mod})
	if compiler.Failed() {
		pr.Add("", "does not compile: %s", regoErrors(compiler.Errors))
	}
	return pr.Err()
}

func checkRegoPackage(pr *model.Problems, mod *ast.Module) {
	pkg := strings.TrimPrefix(mod.Package.Path.String(), "data.")
	if pkg != RegoPackage && !strings.HasPrefix(pkg, RegoPackage+".") {
		pr.Add("", "package must be %s or under it (is %s)", RegoPackage, truncate(pkg))
	}
}

// checkDecisionRule requires a complete rule named decision and refuses
// constant values that are not effects (a typo like "denied" would otherwise
// be found only when a call is evaluated).
func checkDecisionRule(pr *model.Problems, mod *ast.Module) {
	found := false
	for _, r := range mod.Rules {
		ref := r.Head.Ref()
		if len(ref) == 0 || !ref[0].Equal(ast.VarTerm(RegoDecisionRule)) {
			continue
		}
		found = true
		switch {
		case len(ref) > 1 || r.Head.Key != nil:
			pr.Add("", "rule %s must be a complete rule (decision := ...), not a partial set or object", RegoDecisionRule)
		case len(r.Head.Args) > 0:
			pr.Add("", "rule %s must not be a function", RegoDecisionRule)
		case r.Head.Value != nil:
			if s, ok := r.Head.Value.Value.(ast.String); ok && !ValidEffect(Effect(s)) {
				pr.Add("", "rule %s at line %d yields %q, which is not an effect", RegoDecisionRule, r.Location.Row, truncate(string(s)))
			}
		}
	}
	if !found {
		pr.Add("", "must define a rule named %s", RegoDecisionRule)
	}
}

// regoErrors turns OPA errors into one short message: at most three of
// them, with line numbers, so a syntax error reads like an editor's.
func regoErrors(err error) string {
	var errs ast.Errors
	switch e := err.(type) {
	case ast.Errors:
		errs = e
	default:
		return truncateLong(err.Error())
	}
	msgs := make([]string, 0, 3)
	for i, e := range errs {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-3))
			break
		}
		if e.Location != nil {
			msgs = append(msgs, fmt.Sprintf("line %d: %s", e.Location.Row, e.Message))
		} else {
			msgs = append(msgs, e.Message)
		}
	}
	return truncateLong(strings.Join(msgs, "; "))
}

func truncateLong(s string) string {
	const max = 1000
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max]) + "…"
}
