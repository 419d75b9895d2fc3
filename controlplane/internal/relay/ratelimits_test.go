package relay

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func (e *env) createSpec(t *testing.T, kind store.Kind, tenantID, name string, spec any) string {
	t.Helper()
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	var id string
	e.tx(t, func(tx store.Tx) error {
		rec, err := tx.CreateResource(context.Background(), kind, tenantID, name, raw)
		id = rec.ID
		return err
	})
	return id
}

// TestRateLimitsAndNetworkRulesInBundles: global and tenant rate limits and
// network rules reach gateways inside the signed bundle of their scope.
func TestRateLimitsAndNetworkRulesInBundles(t *testing.T) {
	noLeaks(t)
	e := newEnv(t)
	start(t, e.newRelay(t, nil))
	e.createTenant(t, "acme")

	gLimit := model.RateLimit{Name: "global-rpm", Per: model.PerTenant, RequestsPerMinute: 600, Enabled: true}
	gRule := model.NetworkRule{Name: "no-tor", Block: []string{"198.51.100.0/24"}, Enabled: true}
	tLimit := model.RateLimit{Name: "acme-user", Tools: []string{"orders.*"}, Per: model.PerUser, RequestsPerMinute: 10, Burst: 2, Enabled: true}
	tRule := model.NetworkRule{Name: "office", Allow: []string{"203.0.113.0/24", "2001:db8::/32"}, Enabled: true}
	gLimitID := e.createSpec(t, store.KindRateLimit, "", gLimit.Name, gLimit)
	gRuleID := e.createSpec(t, store.KindNetworkRule, "", gRule.Name, gRule)
	tLimitID := e.createSpec(t, store.KindRateLimit, "acme", tLimit.Name, tLimit)
	tRuleID := e.createSpec(t, store.KindNetworkRule, "acme", tRule.Name, tRule)

	gb, raw := e.waitBundle(t, model.GlobalScope, e.scopeRevision(t, model.GlobalScope))
	require.NotNil(t, gb.Global)
	assert.Equal(t, []bundle.Entry[model.RateLimit]{{ID: gLimitID, Spec: gLimit}}, gb.Global.RateLimits)
	assert.Equal(t, []bundle.Entry[model.NetworkRule]{{ID: gRuleID, Spec: gRule}}, gb.Global.NetworkRules)
	assert.Contains(t, decodedPayload(t, raw), `"rate_limits":[`)
	assert.NotContains(t, decodedPayload(t, raw), "acme-user", "a tenant's limit stays out of the global bundle")

	tb, traw := e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))
	require.NotNil(t, tb.Tenant)
	assert.Equal(t, []bundle.Entry[model.RateLimit]{{ID: tLimitID, Spec: tLimit}}, tb.Tenant.RateLimits)
	assert.Equal(t, []bundle.Entry[model.NetworkRule]{{ID: tRuleID, Spec: tRule}}, tb.Tenant.NetworkRules)
	assert.Contains(t, decodedPayload(t, traw), `"network_rules":[`)
}

// TestEmptyRateLimitsKeepTheHash: a scope without rate limits or network
// rules builds the same bytes as before those fields existed (omitempty), so
// existing bundles keep their content hash.
func TestEmptyRateLimitsKeepTheHash(t *testing.T) {
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	for _, snap := range []store.Snapshot{
		{Scope: model.GlobalScope, Revision: 2, Resources: map[store.Kind][]store.Record{
			store.KindRateLimit: {}, store.KindNetworkRule: {},
		}},
		{Scope: model.TenantScope("acme"), Revision: 2, Tenant: &store.TenantRecord{Tenant: model.Tenant{ID: "acme", Name: "Acme"}},
			Resources: map[store.Kind][]store.Record{store.KindRateLimit: {}, store.KindNetworkRule: {}}},
	} {
		b, err := build(snap, sealer)
		require.NoError(t, err)
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		assert.NotContains(t, string(raw), "rate_limits")
		assert.NotContains(t, string(raw), "network_rules")
	}
	_, err = build(store.Snapshot{Scope: model.GlobalScope, Revision: 1, Resources: map[store.Kind][]store.Record{
		store.KindRateLimit: {{ID: "x", Spec: json.RawMessage(`{"requests_per_minute":"many"}`)}},
	}}, sealer)
	assert.Error(t, err, "a limit that does not decode must fail the build")
}
