package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/portcullis/portcullis/shared/model"
)

// EvalError is an evaluation that failed: a raw Rego module's builtin error
// or conflict, a cancelled context, an input that cannot be converted. The
// call must be refused; Evaluate's Decision then already says deny.
type EvalError struct {
	Scope  ScopeKind
	Policy string // the raw Rego policy that failed, "" for the structured ones
	Err    error
}

func (e *EvalError) Error() string {
	if e.Policy != "" {
		return fmt.Sprintf("policy: evaluate %s policy %q: %v", e.Scope, e.Policy, e.Err)
	}
	return fmt.Sprintf("policy: evaluate %s policies: %v", e.Scope, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Evaluate decides one call. Global policies are evaluated first; when one
// of them denies, the tenant's are not evaluated at all (a global deny is
// final). On error the Decision is a deny naming what failed (fail closed),
// so a caller that only looks at the Decision still refuses the call.
func (c *Compiled) Evaluate(ctx context.Context, in Input) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return failed(&EvalError{Scope: Global, Err: err})
	}
	doc := &document{in: in}
	global, err := c.global.evaluate(ctx, in.Tool, doc)
	if err != nil {
		return failed(err)
	}
	var tenant []Match
	if c.delegation && !hasDeny(global) {
		if tenant, err = c.tenant.evaluate(ctx, in.Tool, doc); err != nil {
			return failed(err)
		}
	}
	return Merge(global, tenant, c.delegation), nil
}

// document converts the input to OPA's AST once, and only if some layer
// has a policy for the tool: most tools have none, and the conversion is
// most of the cost of an evaluation that finds nothing.
type document struct {
	in    Input
	value ast.Value
	err   error
	done  bool
}

func (d *document) get(scope ScopeKind) (ast.Value, error) {
	if !d.done {
		d.value, d.err = d.in.value()
		d.done = true
	}
	if d.err != nil {
		return nil, &EvalError{Scope: scope, Err: d.err}
	}
	return d.value, nil
}

func failed(err error) (Decision, error) {
	d := Decision{Effect: Deny}
	var ee *EvalError
	if errors.As(err, &ee) {
		d.Scope, d.Policy = ee.Scope, ee.Policy
	}
	return d, err
}

// evaluate returns the layer's policies that fire for the input document.
// A nil layer has none.
func (l *Layer) evaluate(ctx context.Context, tool string, doc *document) ([]Match, error) {
	if l == nil || !l.tools.match(tool) {
		return nil, nil
	}
	v, err := doc.get(l.scope)
	if err != nil {
		return nil, err
	}
	var out []Match
	if l.query != nil {
		rs, err := l.query.Eval(ctx, rego.EvalParsedInput(v))
		if err != nil {
			return nil, &EvalError{Scope: l.scope, Err: err}
		}
		if out, err = l.collect(rs); err != nil {
			return nil, &EvalError{Scope: l.scope, Err: err}
		}
	}
	for i := range l.raw {
		m, ok, err := l.raw[i].evaluate(ctx, tool, v)
		if err != nil {
			return nil, &EvalError{Scope: l.scope, Policy: l.raw[i].meta.Policy, Err: err}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// collect maps the "matched" set (policy indexes) back to the policies, and
// marks those also in the "auto_approved" set (the query's second
// expression, present when some policy of the layer has auto-approve rules).
func (l *Layer) collect(rs rego.ResultSet) ([]Match, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil // cannot happen for a partial set; nothing matched
	}
	ids, err := l.indexes(rs[0].Expressions[0].Value)
	if err != nil {
		return nil, err
	}
	var auto []int
	if len(rs[0].Expressions) > 1 {
		if auto, err = l.indexes(rs[0].Expressions[1].Value); err != nil {
			return nil, err
		}
	}
	out := make([]Match, 0, len(ids))
	for _, i := range ids {
		m := l.structured[i]
		m.AutoApproved = m.Effect == ApprovalRequired && slices.Contains(auto, i)
		out = append(out, m)
	}
	return out, nil
}

// indexes decodes a set of policy indexes.
func (l *Layer) indexes(v any) ([]int, error) {
	ids, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected result %T", v)
	}
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		n, ok := id.(json.Number)
		if !ok {
			return nil, fmt.Errorf("unexpected policy index %v", id)
		}
		i, err := n.Int64()
		if err != nil || i < 0 || int(i) >= len(l.structured) {
			return nil, fmt.Errorf("unexpected policy index %v", id)
		}
		out = append(out, int(i))
	}
	return out, nil
}

// evaluate runs a raw Rego policy when its tools match. An undefined
// decision means the policy does not apply. A decision the policy cannot
// carry out (not an effect, or a restrictive effect other than the policy's
// own, whose step-up, approval or masking settings it lacks) becomes deny:
// what an admin's Rego asks for is never weakened.
func (r *rawPolicy) evaluate(ctx context.Context, tool string, v ast.Value) (Match, bool, error) {
	if !matchesAny(r.tools, tool) {
		return Match{}, false, nil
	}
	rs, err := r.query.Eval(ctx, rego.EvalParsedInput(v))
	if err != nil {
		return Match{}, false, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return Match{}, false, nil
	}
	m := r.meta
	s, _ := rs[0].Expressions[0].Value.(string)
	switch e := Effect(s); {
	case e == Allow || e == Deny:
		m.Effect = e
	case e == r.meta.Effect && ValidEffect(e):
		// the policy's own restrictive effect, with its settings
	default:
		m.Effect = Deny
	}
	if m.Effect != StepUp {
		m.StepUp = nil
	}
	if m.Effect != ApprovalRequired {
		m.Approval = nil
	}
	if m.Effect != Mask {
		m.Masking = nil
	}
	return m, true, nil
}

func matchesAny(patterns []string, tool string) bool {
	for _, p := range patterns {
		if model.MatchTool(p, tool) {
			return true
		}
	}
	return false
}
