package policy

import (
	"cmp"
	"slices"
)

// Match is one policy that fired for a call.
type Match struct {
	ID       string
	Policy   string // name
	Scope    ScopeKind
	Effect   Effect
	Priority int
	StepUp   *StepUpRule // with Effect step_up
	Approval *Approval   // with Effect approval_required
	Masking  []string    // with Effect mask
	// AutoApproved: an approval_required policy whose auto-approve
	// conditions are definitely true for this call.
	AutoApproved bool
}

// Decision is the merged outcome of every policy that applies to a call.
type Decision struct {
	// Effect is allow, step_up, approval_required or deny; never mask, which
	// only adds to Masking.
	Effect Effect
	// Policy, PolicyID and Scope name the policy that made the decision, for
	// the audit trail and the agent's error message. Policy is "" when no
	// blocking or allow policy matched (the default allow).
	Policy   string
	PolicyID string
	Scope    ScopeKind
	StepUp   *StepUpRule // the deciding policy's, when Effect is step_up
	Approval *Approval   // the deciding policy's, when Effect is approval_required
	// Masking lists the masking rule names of every mask policy that fired,
	// without duplicates, in precedence order.
	Masking []string
	// Matched is every policy that fired, most restrictive first (the
	// decision's order): the audit trail records them all.
	Matched []Match
}

// StepUpRules returns the step-up rule of every step_up policy that fired.
// A caller that lets a stepped-up token through must check it against all
// of them: checking only the deciding policy's rule would let a weaker
// global rule hide a stricter tenant one.
func (d Decision) StepUpRules() []StepUpRule {
	var out []StepUpRule
	for _, m := range d.Matched {
		if m.Effect == StepUp && m.StepUp != nil {
			out = append(out, *m.StepUp)
		}
	}
	return out
}

// AutoApproved reports whether the approval this decision requires is
// waived: Effect is approval_required and every approval_required policy
// that fired (not only the deciding one) has auto-approve conditions that
// are definitely true for the call. One approval policy without them — a
// global one, say, next to a tenant's auto-approving one — and the call
// needs its approval as usual. What still applies once the approval is
// waived is WithoutApprovals.
func (d Decision) AutoApproved() bool {
	if d.Effect != ApprovalRequired {
		return false
	}
	n := 0
	for _, m := range d.Matched {
		if m.Effect != ApprovalRequired {
			continue
		}
		if !m.AutoApproved {
			return false
		}
		n++
	}
	return n > 0
}

// WithoutApprovals is the decision of the other policies that fired, as if
// no approval_required policy had: what an auto-approved call must still
// satisfy (a step_up policy a waived approval outranked), so auto-approval
// never lowers a call below what the remaining policies demand. With
// nothing left it is allow with no policy named.
func (d Decision) WithoutApprovals() Decision {
	rest := make([]Match, 0, len(d.Matched))
	for _, m := range d.Matched {
		if m.Effect != ApprovalRequired {
			rest = append(rest, m)
		}
	}
	return decideSorted(rest) // mask matches are in rest: Masking is the same
}

// Blocks reports whether the call may not proceed as is.
func (d Decision) Blocks() bool { return d.Effect != Allow }

// rank orders the blocking effects: deny > approval_required > step_up >
// allow. Mask is not ranked: it never decides.
func rank(e Effect) int {
	switch e {
	case Deny:
		return 3
	case ApprovalRequired:
		return 2
	case StepUp:
		return 1
	}
	return 0
}

// precedes reports whether a outranks b for the decision: the more
// restrictive effect, then the higher priority, then global before tenant,
// then the name, then the ID (so the order is total and the same on every
// gateway).
func precedes(a, b Match) int {
	if c := cmp.Compare(rank(b.Effect), rank(a.Effect)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Scope, b.Scope); c != 0 { // Global (0) before Tenant (1)
		return c
	}
	if c := cmp.Compare(a.Policy, b.Policy); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Merge combines the policies that fired into one decision (DESIGN.md,
// "Merge invariants"):
//
//   - a global deny is final: tenant matches are not considered at all;
//   - tenant matches count only when delegation is enabled, and only as
//     restrictions: a tenant allow is dropped, whatever the bundle says;
//   - otherwise the most restrictive effect wins, ties broken by precedes;
//   - mask matches never decide, they accumulate masking rule names;
//   - nothing matched (or only masks) → allow with no policy named.
//
// Merge does not trust its arguments' Scope fields: global is global and
// tenant is tenant, whatever they say.
func Merge(global, tenant []Match, delegationEnabled bool) Decision {
	all := make([]Match, 0, len(global)+len(tenant))
	for _, m := range global {
		m.Scope = Global
		all = append(all, m)
	}
	if delegationEnabled && !hasDeny(global) {
		for _, m := range tenant {
			m.Scope = Tenant
			if m.Effect == Allow || !ValidEffect(m.Effect) {
				continue
			}
			all = append(all, m)
		}
	}
	slices.SortStableFunc(all, precedes)
	return decideSorted(all)
}

// decideSorted is the decision of matches already filtered and sorted by precedes.
func decideSorted(all []Match) Decision {
	d := Decision{Effect: Allow, Matched: all}
	decided := false
	for _, m := range all {
		if m.Effect == Mask {
			d.Masking = appendNew(d.Masking, m.Masking)
			continue
		}
		if !decided {
			decided = true
			d.Effect, d.Policy, d.PolicyID, d.Scope = m.Effect, m.Policy, m.ID, m.Scope
			d.StepUp, d.Approval = m.StepUp, m.Approval
		}
	}
	if len(d.Matched) == 0 {
		d.Matched = nil
	}
	return d
}

func hasDeny(ms []Match) bool {
	return slices.ContainsFunc(ms, func(m Match) bool { return m.Effect == Deny })
}

func appendNew(dst, names []string) []string {
	for _, n := range names {
		if !slices.Contains(dst, n) {
			dst = append(dst, n)
		}
	}
	return dst
}
