package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/portcullis/portcullis/shared/model"
)

// Ref is one stored policy: its ID (the bundle entry's) and its spec.
type Ref struct {
	ID     string
	Policy Policy
}

// PolicySet is what applies to the calls of one tenant: the global policies
// and that tenant's delegated ones.
type PolicySet struct {
	Global []Ref
	Tenant []Ref
	// DelegationEnabled is the tenant's delegation flag: without it, Tenant
	// is ignored (not even compiled).
	DelegationEnabled bool
}

// Compile prepares a policy set for evaluation. It is CompileScope for each
// scope and NewCompiled; a gateway holding many tenants compiles the global
// layer once and each tenant's layer on its own instead.
func Compile(set PolicySet) (*Compiled, error) {
	global, err := CompileScope(Global, set.Global)
	if err != nil {
		return nil, err
	}
	var tenant *Layer
	if set.DelegationEnabled {
		if tenant, err = CompileScope(Tenant, set.Tenant); err != nil {
			return nil, err
		}
	}
	return NewCompiled(global, tenant, set.DelegationEnabled), nil
}

// Compiled is a policy set ready to evaluate: immutable and safe for
// concurrent use.
type Compiled struct {
	global     *Layer
	tenant     *Layer
	delegation bool
}

// NewCompiled combines a compiled global layer with one tenant's layer
// (nil: the tenant has none). It is cheap: a gateway may call it per request
// with the layers it holds. A nil global layer means no global policies.
func NewCompiled(global, tenant *Layer, delegationEnabled bool) *Compiled {
	return &Compiled{global: global, tenant: tenant, delegation: delegationEnabled}
}

// Layer is the compiled policies of one scope: one prepared query for all
// structured policies, one per raw Rego module.
type Layer struct {
	scope      ScopeKind
	structured []Match // index = the number the generated rules put in "matched"
	query      *rego.PreparedEvalQuery
	raw        []rawPolicy
	tools      toolFilter
	source     string
	ignored    []Ignored
}

// rawPolicy is a global policy written in Rego.
type rawPolicy struct {
	meta  Match
	tools []string
	query rego.PreparedEvalQuery
}

// Ignored is a policy CompileScope left out on purpose, with why: the
// gateway logs them (a tenant bundle carrying them was built wrongly).
type Ignored struct {
	ID, Name, Reason string
}

// Scope returns the layer's scope.
func (l *Layer) Scope() ScopeKind { return l.scope }

// Len returns how many policies the layer evaluates.
func (l *Layer) Len() int {
	if l == nil {
		return 0
	}
	return len(l.structured) + len(l.raw)
}

// Ignored lists the policies left out of the layer on purpose.
func (l *Layer) Ignored() []Ignored { return l.ignored }

// Source returns the generated Rego module of the structured policies
// (for debugging and for the admin API's "explain").
func (l *Layer) Source() string { return l.source }

// CompileScope compiles the policies of one scope. Disabled policies are
// skipped. In the tenant scope, allow policies and raw Rego are ignored
// (listed in Ignored): tenants can only add restrictions, and the gateway
// enforces that again whatever the control plane let through. Every other
// policy must pass Validate for its scope, or CompileScope fails: a policy
// the gateway cannot enforce as written must not be silently dropped, so the
// caller keeps its last good layer.
func CompileScope(scope ScopeKind, refs []Ref) (*Layer, error) {
	if scope != Global && scope != Tenant {
		return nil, fmt.Errorf("policy: unknown scope %s", scope)
	}
	l := &Layer{scope: scope}
	gen := newGenerator()
	var errs []error
	for _, r := range refs {
		p := r.Policy
		if !p.Enabled {
			continue
		}
		if reason := tenantRefusal(scope, p); reason != "" {
			l.ignored = append(l.ignored, Ignored{ID: r.ID, Name: p.Name, Reason: reason})
			continue
		}
		if err := l.add(gen, r); err != nil {
			errs = append(errs, fmt.Errorf("policy %q (%s): %w", truncate(p.Name), truncate(r.ID), err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("policy: compile %s policies: %w", scope, errors.Join(errs...))
	}
	if len(l.structured) > 0 {
		l.source = gen.source()
		query := matchedQuery
		if gen.auto {
			query += "; " + autoApprovedQuery
		}
		q, err := prepare(query, "policies.rego", l.source, generatedCapabilities(), false)
		if err != nil {
			// The generator's output failed to compile: a bug here, not in
			// the policies, which validated.
			return nil, fmt.Errorf("policy: compile %s policies: generated Rego: %w", scope, err)
		}
		l.query = &q
	}
	return l, nil
}

// tenantRefusal says why a tenant policy is ignored, or "".
func tenantRefusal(scope ScopeKind, p Policy) string {
	switch {
	case scope != Tenant:
		return ""
	case p.Rego != "":
		return "raw Rego is only allowed in global policies"
	case p.Effect == Allow:
		return "tenant policies can only add restrictions (effect allow)"
	}
	return ""
}

func (l *Layer) add(gen *generator, r Ref) error {
	p := r.Policy
	if err := p.Validate(l.scope); err != nil {
		return err
	}
	meta := Match{ID: r.ID, Policy: p.Name, Scope: l.scope, Effect: p.Effect, Priority: p.Priority,
		StepUp: p.StepUp, Approval: p.Approval, Masking: p.Masking}
	l.tools.add(p.Tools)
	if p.Rego != "" {
		q, err := prepareRaw(p.Rego)
		if err != nil {
			return err
		}
		l.raw = append(l.raw, rawPolicy{meta: meta, tools: p.Tools, query: q})
		return nil
	}
	if err := gen.policy(len(l.structured), p); err != nil {
		return err
	}
	l.structured = append(l.structured, meta)
	return nil
}

// prepareRaw compiles a raw module on its own (so two modules may share a
// package) and prepares the query of its decision rule. Builtin errors are
// strict: an error in an admin's Rego fails the evaluation, which the
// gateway turns into a refusal, instead of quietly making the rule
// undefined (which would mean "does not apply", i.e. allow).
func prepareRaw(src string) (rego.PreparedEvalQuery, error) {
	mod, err := ast.ParseModuleWithOpts("policy.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return rego.PreparedEvalQuery{}, err
	}
	query := mod.Package.Path.String() + "." + RegoDecisionRule
	return prepare(query, "policy.rego", src, RegoCapabilities(), true)
}

// generatedBuiltins are the builtins the generated module calls, directly
// or through the compiler's rewriting (assign, eq, internal.member_2 for
// "in", the comparison and arithmetic operators). Compiling it with only
// these is defence in depth and keeps each layer small: the compiler's type
// environment holds one entry per available builtin, per layer, which
// dominates the memory of a tenant layer.
var generatedBuiltins = []string{
	"assign", "eq", "equal", "neq", "gt", "gte", "lt", "lte", "plus", "mul",
	"internal.member_2", "count", "is_string", "is_number", "is_boolean", "is_array",
	"contains", "startswith", "endswith", "regex.match", "glob.match",
	"time.parse_rfc3339_ns", "time.clock", "time.weekday", "net.cidr_contains_matches",
}

// generatedCapabilities is RegoCapabilities narrowed to generatedBuiltins.
func generatedCapabilities() *ast.Capabilities {
	caps := RegoCapabilities()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		return !slices.Contains(generatedBuiltins, b.Name)
	})
	return caps
}

// prepare compiles one module with the restricted capabilities and prepares
// a query on it. The context only bounds the compilation, which does no I/O.
func prepare(query, file, src string, caps *ast.Capabilities, strict bool) (rego.PreparedEvalQuery, error) {
	r := rego.New(
		rego.Query(query),
		rego.Module(file, src),
		rego.Capabilities(caps),
		rego.SetRegoVersion(ast.RegoV1),
		rego.StrictBuiltinErrors(strict),
	)
	return r.PrepareForEval(context.Background())
}

// toolFilter answers "could any policy of the layer apply to this tool?"
// without evaluating Rego, with model.MatchTool (the same function the
// generated glob checks are tested against).
type toolFilter struct {
	all      bool
	exact    map[string]bool
	patterns []string
}

func (f *toolFilter) add(tools []string) {
	for _, t := range tools {
		switch {
		case t == "*":
			f.all = true
		case strings.Contains(t, "*"):
			f.patterns = append(f.patterns, t)
		default:
			if f.exact == nil {
				f.exact = map[string]bool{}
			}
			f.exact[t] = true
		}
	}
}

func (f *toolFilter) match(tool string) bool {
	if f.all || f.exact[tool] {
		return true
	}
	for _, p := range f.patterns {
		if model.MatchTool(p, tool) {
			return true
		}
	}
	return false
}
