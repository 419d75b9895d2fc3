package policyeval

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDeny(t *testing.T) {
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, pol("big-refunds", policy.Deny, 100, "orders.refund"))}
	})
	err := e.call(user("acme"), "orders.refund", 500)
	require.NotNil(t, err)
	assert.Equal(t, pipeline.CodeDenied, err.Code)
	assert.Equal(t, `Denied by policy "big-refunds"`, err.Message)
	assert.Equal(t, pipeline.DeniedData{Kind: "policy", Name: "big-refunds", Scope: "global"}, err.Data)
	assert.Zero(t, err.HTTPStatus)
	assert.Zero(t, e.backend.count(), "a denied call never reaches the backend")
	ev := e.audit.last(t)
	assert.Equal(t, audit.DecisionDeny, ev.Decision)
	assert.Equal(t, &audit.DecidedBy{Kind: "policy", Name: "big-refunds", Scope: "global"}, ev.DecidedBy)
	assert.Equal(t, "policy_denied", ev.Error)

	// Below the threshold, and on another tool: allowed.
	require.Nil(t, e.call(user("acme"), "orders.refund", 50))
	require.Nil(t, e.call(user("acme"), "orders.create", 500))
	assert.Equal(t, 2, e.backend.count())
	ev = e.audit.last(t)
	assert.Equal(t, audit.DecisionAllow, ev.Decision)
	assert.Equal(t, "access_rule", ev.DecidedBy.Kind, "no policy fired: access control's decision stands")
}

func TestTenantDenyNeedsDelegation(t *testing.T) {
	for _, delegation := range []bool{true, false} {
		e := newEnv(t, nil, func(url string) []*bundle.Bundle {
			return []*bundle.Bundle{
				globalBundle(t, 1, url),
				tenantBundle("acme", 1, delegation, pol("acme-no-big-orders", policy.Deny, 10, "orders.create")),
			}
		})
		err := e.call(user("acme"), "orders.create", 500)
		if !delegation {
			assert.Nil(t, err, "delegation off: the tenant's policies do not count")
			continue
		}
		require.NotNil(t, err)
		assert.Equal(t, `Denied by policy "acme-no-big-orders"`, err.Message)
		assert.Equal(t, &audit.DecidedBy{Kind: "policy", Name: "acme-no-big-orders", Scope: "tenant/acme"}, e.audit.last(t).DecidedBy)
		// Another tenant is not affected by acme's policy.
		assert.Nil(t, e.call(user("globex"), "orders.create", 500))
	}
}

// TestGlobalDenyFinal: a tenant bundle crafted to widen access (an allow of
// top priority, raw Rego allowing everything) cannot lift a global deny,
// step-up or approval.
func TestGlobalDenyFinal(t *testing.T) {
	allow := pol("tenant-allows-all", policy.Allow, -1, "*")
	allow.Priority = policy.MaxPriority
	rego := policy.Policy{Name: "tenant-rego", Tools: []string{"*"}, Effect: policy.Deny, Enabled: true, Priority: policy.MaxPriority,
		Rego: "package portcullis.custom\ndecision := \"allow\"\n"}
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{
			globalBundle(t, 1, url, pol("no-refunds", policy.Deny, -1, "orders.refund"),
				stepUpPol("mfa-orders", policy.StepUpRule{ACRValues: []string{"mfa"}}, "orders.create")),
			tenantBundle("acme", 1, true, allow, rego),
		}
	})
	err := e.call(user("acme"), "orders.refund", 1)
	require.NotNil(t, err)
	assert.Equal(t, `Denied by policy "no-refunds"`, err.Message)
	err = e.call(user("acme"), "orders.create", 1)
	require.NotNil(t, err)
	assert.Equal(t, http.StatusUnauthorized, err.HTTPStatus, "the global step-up stands")
	assert.Zero(t, e.backend.count())
}

// TestEvaluationErrorRefuses: a raw Rego policy that fails at run time
// (conflicting decisions), or policies that do not compile, refuse the
// call; missing never means allow.
func TestEvaluationErrorRefuses(t *testing.T) {
	conflict := policy.Policy{Name: "conflicting", Tools: []string{"orders.create"}, Effect: policy.Deny, Enabled: true,
		Rego: "package portcullis.custom\ndecision := \"deny\" if input.args.body.amount > 1\ndecision := \"allow\" if input.args.body.amount > 2\n"}
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, conflict)}
	})
	err := e.call(user("acme"), "orders.create", 5)
	require.NotNil(t, err)
	assert.Equal(t, pipeline.CodeDenied, err.Code)
	assert.Contains(t, err.Message, "could not be evaluated")
	ev := e.audit.last(t)
	assert.Equal(t, audit.DecisionError, ev.Decision)
	assert.Equal(t, "policy_evaluation_failed", ev.Error)
	assert.Equal(t, "conflicting", ev.DecidedBy.Name)
	require.Nil(t, e.call(user("acme"), "orders.create", 1), "no conflict below 2")

	// A bundle whose deny does not compile (invalid regex), with no earlier
	// good layer: every call it could govern is refused.
	bad := pol("bad-regex", policy.Deny, 0, "orders.create")
	bad.Match.Conditions[0] = policy.Condition{Attribute: "user.email", Operator: "matches", Value: "(["}
	e2 := newEnv(t, nil, func(url string) []*bundle.Bundle { return []*bundle.Bundle{globalBundle(t, 1, url, bad)} })
	err = e2.call(user("acme"), "orders.create", 1)
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "could not be evaluated")
	assert.Zero(t, e2.backend.count())

	// Arguments that are not an object are not evaluated "without them".
	e3 := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, pol("p", policy.Deny, 100, "orders.create"))}
	})
	err = e3.callArgs(user("acme"), "orders.create", []byte(`[1]`))
	require.NotNil(t, err)
	assert.Contains(t, err.Message, "could not be evaluated")
}

// TestKeepsLastGoodLayer: a new global bundle whose policies do not compile
// keeps the previous policies enforced.
func TestKeepsLastGoodLayer(t *testing.T) {
	var url string
	e := newEnv(t, nil, func(u string) []*bundle.Bundle {
		url = u
		return []*bundle.Bundle{globalBundle(t, 1, u, pol("no-big", policy.Deny, 100, "orders.create"))}
	})
	require.NotNil(t, e.call(user("acme"), "orders.create", 500))
	bad := pol("bad-regex", policy.Deny, 0, "orders.refund")
	bad.Match.Conditions[0] = policy.Condition{Attribute: "user.email", Operator: "matches", Value: "(["}
	e.set(globalBundle(t, 2, url, pol("no-big", policy.Deny, 100, "orders.create"), bad))
	err := e.call(user("acme"), "orders.create", 500)
	require.NotNil(t, err)
	assert.Equal(t, `Denied by policy "no-big"`, err.Message)
}

func TestMaskingNamesPassedOn(t *testing.T) {
	m1 := pol("mask-pii", policy.Mask, -1, "orders.*")
	m1.Masking = []string{"emails", "phones"}
	m2 := pol("mask-cards", policy.Mask, -1, "orders.create")
	m2.Masking = []string{"cards", "emails"}
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, m1), tenantBundle("acme", 1, true, m2)}
	})
	require.Nil(t, e.call(user("acme"), "orders.create", 5))
	assert.ElementsMatch(t, []string{"emails", "phones", "cards"}, e.masks.names)
	require.Nil(t, e.call(user("acme"), "orders.refund", 5))
	assert.ElementsMatch(t, []string{"emails", "phones"}, e.masks.names)
}

// TestPlatformCondition: a condition on request.platform sees the platform
// the pipeline derived once for the request, the same the audit event names
// (the test client's user agent is claude-code).
func TestPlatformCondition(t *testing.T) {
	onPlatform := func(name, platform string) policy.Policy {
		p := pol(name, policy.Deny, 0, "orders.refund")
		p.Match.Conditions = []policy.Condition{{Attribute: "request.platform", Operator: policy.OpEqual, Value: platform}}
		return p
	}
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{globalBundle(t, 1, url, onPlatform("no-chatgpt", "chatgpt"))}
	})
	require.Nil(t, e.call(user("acme"), "orders.refund", 5), "another platform's policy does not fire")
	assert.Equal(t, "claude", e.audit.last(t).Platform)

	e.set(globalBundle(t, 2, e.backend.URL, onPlatform("no-claude", "claude")))
	err := e.call(user("acme"), "orders.refund", 5)
	require.NotNil(t, err)
	assert.Equal(t, `Denied by policy "no-claude"`, err.Message)
	ev := e.audit.last(t)
	assert.Equal(t, "claude", ev.Platform)
	assert.Equal(t, &audit.DecidedBy{Kind: "policy", Name: "no-claude", Scope: "global"}, ev.DecidedBy)
}
