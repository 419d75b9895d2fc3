package relay

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

func (e *env) createDomain(t *testing.T, d model.Domain) string {
	t.Helper()
	var id string
	e.tx(t, func(tx store.Tx) error {
		rec, err := tx.CreateDomain(context.Background(), d)
		id = rec.ID
		return err
	})
	return id
}

// TestDomainsInGlobalBundle: a created domain, platform or tenant, reaches
// gateways in the signed global bundle, sorted by hostname; deleting its
// tenant republishes the global bundle without it.
func TestDomainsInGlobalBundle(t *testing.T) {
	noLeaks(t)
	e := newEnv(t)
	start(t, e.newRelay(t, nil))

	e.createTenant(t, "acme")
	tenantDomain := e.createDomain(t, model.Domain{Hostname: "mcp.acme.test", TenantID: "acme", AuthorizationServer: "https://login.acme.test"})
	platformDomain := e.createDomain(t, model.Domain{Hostname: "gateway.platform.test"})

	gb, raw := e.waitBundle(t, model.GlobalScope, e.scopeRevision(t, model.GlobalScope))
	require.NotNil(t, gb.Global)
	assert.Equal(t, []bundle.Entry[model.Domain]{
		{ID: platformDomain, Spec: model.Domain{Hostname: "gateway.platform.test"}},
		{ID: tenantDomain, Spec: model.Domain{Hostname: "mcp.acme.test", TenantID: "acme", AuthorizationServer: "https://login.acme.test"}},
	}, gb.Global.Domains)
	assert.Contains(t, decodedPayload(t, raw), `"hostname":"mcp.acme.test"`, "the domain is inside the signed payload")

	// The tenant's bundle does not carry domains: gateways route by the global one.
	tb, tenantRaw := e.waitBundle(t, model.TenantScope("acme"), e.scopeRevision(t, model.TenantScope("acme")))
	require.NotNil(t, tb.Tenant)
	assert.NotContains(t, decodedPayload(t, tenantRaw), "mcp.acme.test")

	before := gb.Revision
	e.tx(t, func(tx store.Tx) error { return tx.DeleteTenant(context.Background(), "acme", 0) })
	want := e.scopeRevision(t, model.GlobalScope)
	require.Greater(t, want, before, "deleting a tenant with a domain must bump the global scope")
	gb, _ = e.waitBundle(t, model.GlobalScope, want)
	assert.Equal(t, []bundle.Entry[model.Domain]{{ID: platformDomain, Spec: model.Domain{Hostname: "gateway.platform.test"}}}, gb.Global.Domains)
}

// TestBuildSortsDomains: domains are ordered by hostname whatever order the
// snapshot lists them in, so the content hash is stable.
func TestBuildSortsDomains(t *testing.T) {
	sealer, err := seal.New(sealKey)
	require.NoError(t, err)
	recs := []store.DomainRecord{
		{ID: "1", Domain: model.Domain{Hostname: "z.example.test"}},
		{ID: "2", Domain: model.Domain{Hostname: "a.example.test", TenantID: "acme"}},
		{ID: "3", Domain: model.Domain{Hostname: "m.example.test"}},
	}
	hash := func(ds []store.DomainRecord) (string, []string) {
		b, err := build(store.Snapshot{Scope: model.GlobalScope, Revision: 3, Resources: map[store.Kind][]store.Record{}, Domains: ds}, sealer)
		require.NoError(t, err)
		h, err := bundle.ComputeContentHash(b)
		require.NoError(t, err)
		var hosts []string
		for _, d := range b.Global.Domains {
			hosts = append(hosts, d.Spec.Hostname)
		}
		return h, hosts
	}
	h1, hosts := hash(recs)
	h2, _ := hash([]store.DomainRecord{recs[2], recs[0], recs[1]})
	assert.Equal(t, h1, h2)
	assert.Equal(t, "a.example.test,m.example.test,z.example.test", strings.Join(hosts, ","))
	h3, _ := hash(recs[:2])
	assert.NotEqual(t, h1, h3, "removing a domain changes the content hash")
}
