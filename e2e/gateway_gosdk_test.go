package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
)

type customerList struct {
	Items []struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"items"`
}

// TestGatewayGoSDK is issue 3's "Must show" with the official Go SDK
// client: users of two tenants and two roles list and call the demo
// backend's tools through two gateway replicas over TLS, every session
// alternating between the replicas; a viewer cannot tell an admin tool
// from a tool that does not exist; a tenant never sees another's data.
func TestGatewayGoSDK(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	tests := []struct {
		tenant, role string
		want         []string
	}{
		{stack.TenantAcme, stack.RoleAdmin, stack.AllTools()},
		{stack.TenantAcme, stack.RoleViewer, stack.ReadTools},
		{stack.TenantGlobex, stack.RoleAdmin, stack.AllTools()},
		{stack.TenantGlobex, stack.RoleViewer, stack.ReadTools},
	}
	for _, tt := range tests {
		t.Run(tt.tenant+"/"+tt.role, func(t *testing.T) {
			rr := newRoundRobin(t, s, s.UserToken(t, tt.tenant, tt.role), s.Gateways...)
			cs := connectGoSDK(t, s, rr)
			assert.Equal(t, "portcullis", cs.InitializeResult().ServerInfo.Name)

			names := toolNames(t, cs)
			slices.Sort(names)
			assert.Equal(t, tt.want, names)

			var customers customerList
			require.NoError(t, json.Unmarshal(mustCall(t, cs, "customers.list", nil), &customers))
			require.NotEmpty(t, customers.Items)
			for _, c := range customers.Items {
				assert.True(t, strings.HasSuffix(c.Email, "@"+tt.tenant+".example.com"), "%s sees %s", tt.tenant, c.Email)
			}
			got := mustCall(t, cs, "customers.get", map[string]any{"customer_id": customers.Items[0].ID})
			assert.Contains(t, string(got), customers.Items[0].Email)
			mustCall(t, cs, "orders.list", map[string]any{"limit": 5})

			if tt.role == stack.RoleAdmin {
				order := mustCall(t, cs, "orders.create", map[string]any{"body": map[string]any{
					"customer_id": customers.Items[0].ID, "amount": 12.5, "currency": "EUR",
				}})
				assert.Contains(t, string(order), customers.Items[0].ID)
				// Arguments are validated against the tool's schema before
				// anything is forwarded: the backend never sees them.
				before := len(s.Backend.Received())
				res, rpcErr := callTool(t, cs, "orders.create", map[string]any{"body": map[string]any{"amount": -1}})
				if rpcErr == nil {
					assert.True(t, res.IsError, "invalid arguments are refused: %s", resultText(res))
				}
				assert.Len(t, s.Backend.Received(), before, "invalid arguments reached the backend")
			} else {
				assertInvisible(t, cs, stack.WriteTools...)
			}

			served := rr.servedBy()
			for _, g := range s.Gateways {
				assert.Positive(t, served[g.ID], "replica %s served requests of the session (%v)", g.ID, served)
			}
		})
	}

	t.Run("tenant isolation", func(t *testing.T) {
		acme := connectGoSDK(t, s, newRoundRobin(t, s, s.UserToken(t, stack.TenantAcme, stack.RoleAdmin), s.Gateways...))
		globex := connectGoSDK(t, s, newRoundRobin(t, s, s.UserToken(t, stack.TenantGlobex, stack.RoleAdmin), s.Gateways...))
		var theirs customerList
		require.NoError(t, json.Unmarshal(mustCall(t, globex, "customers.list", nil), &theirs))
		require.NotEmpty(t, theirs.Items)
		for _, c := range theirs.Items {
			// Acme asks for globex's customer by id: the backend scopes by
			// the signed tenant, so it does not exist for acme.
			res, rpcErr := callTool(t, acme, "customers.get", map[string]any{"customer_id": c.ID})
			require.Nil(t, rpcErr)
			assert.True(t, res.IsError, "acme read globex's customer %s: %s", c.ID, resultText(res))
			assert.NotContains(t, resultText(res), c.Email)
			// Nor may acme change it.
			res, rpcErr = callTool(t, acme, "customers.update", map[string]any{"customer_id": c.ID, "body": map[string]any{"phone": "+1 555 0000"}})
			require.Nil(t, rpcErr)
			assert.True(t, res.IsError, "acme updated globex's customer %s", c.ID)
		}
		all := mustCall(t, acme, "customers.list", nil)
		assert.NotContains(t, string(all), stack.TenantGlobex)
		again := mustCall(t, globex, "customers.get", map[string]any{"customer_id": theirs.Items[0].ID})
		assert.NotContains(t, string(again), "+1 555 0000", "globex's data is unchanged")
	})

	t.Run("session moves between replicas", func(t *testing.T) {
		gw1, gw2 := s.Gateways[0], s.Gateways[1]
		rr := newRoundRobin(t, s, s.UserToken(t, stack.TenantAcme, stack.RoleViewer), gw1)
		cs := connectGoSDK(t, s, rr)
		assert.Equal(t, stack.ReadTools, sorted(toolNames(t, cs)))
		id := cs.ID()
		require.NotEmpty(t, id)

		rr.route(gw2) // gateway 1 is gone from the balancer's pool
		mustCall(t, cs, "orders.list", nil)
		assert.Equal(t, stack.ReadTools, sorted(toolNames(t, cs)))
		assertInvisible(t, cs, "orders.refund")
		assert.Equal(t, id, cs.ID(), "same session")
		assert.Positive(t, rr.servedBy()[gw2.ID], "gateway 2 continued the session")

		rr.route(gw1)
		mustCall(t, cs, "customers.list", nil)
	})
}

// assertInvisible checks that calling each of tools fails exactly as
// calling a tool that does not exist does (same code, same message but
// for the name): the caller learns nothing about tools it is not granted.
func assertInvisible(t *testing.T, cs *sdk.ClientSession, tools ...string) {
	t.Helper()
	const ghost = "no.such.tool"
	_, want := callTool(t, cs, ghost, map[string]any{})
	require.NotNil(t, want, "calling a tool that does not exist must fail")
	for _, name := range tools {
		res, got := callTool(t, cs, name, map[string]any{})
		if !assert.NotNil(t, got, "%s must be refused, got a result: %+v", name, res) {
			continue
		}
		assert.Equal(t, want.Code, got.Code, name)
		assert.Equal(t, strings.ReplaceAll(want.Message, ghost, name), got.Message, name)
		assert.Equal(t, string(want.Data), string(got.Data), name)
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
