package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/localenv/tsclient"
)

type tsCall struct {
	Name       string          `json:"name"`
	IsError    bool            `json:"isError"`
	Structured json.RawMessage `json:"structured"`
	Text       string          `json:"text"`
	Code       *int            `json:"code"`
	Message    string          `json:"message"`
}

type tsReport struct {
	OK              bool     `json:"ok"`
	Error           string   `json:"error"`
	SessionID       string   `json:"sessionId"`
	ProtocolVersion string   `json:"protocolVersion"`
	ServerName      string   `json:"serverName"`
	Tools           []string `json:"tools"`
	Calls           []tsCall `json:"calls"`
	Requests        []struct {
		Method  string `json:"method"`
		Host    string `json:"host"`
		Status  int    `json:"status"`
		Session bool   `json:"session"`
	} `json:"requests"`
}

// runTSClient runs testdata/tsclient.mjs against the replicas with token.
func runTSClient(t *testing.T, s *stack.Stack, token string, calls []map[string]any) tsReport {
	t.Helper()
	var endpoints []string
	for _, g := range s.Gateways {
		endpoints = append(endpoints, g.Direct+"/mcp")
	}
	stdout := tsclient.Run(t, "testdata/tsclient.mjs",
		map[string]any{"endpoints": endpoints, "clientName": "e2e-ts-sdk", "token": token, "calls": calls},
		"NODE_EXTRA_CA_CERTS="+s.CA.CertFile)
	var rep tsReport
	require.NoError(t, json.Unmarshal(stdout, &rep), "output: %s", stdout)
	require.True(t, rep.OK, "client failed: %s\nrequests: %+v", rep.Error, rep.Requests)
	return rep
}

// TestGatewayTypeScriptSDK is issue 3's "Must show" with the official
// TypeScript SDK client: users of two tenants and two roles list and call
// tools through both replicas over TLS, one session alternating between
// them on every request.
func TestGatewayTypeScriptSDK(t *testing.T) {
	tsclient.Ready(t)
	s := stack.Start(t, stack.Options{Gateways: 2})
	tests := []struct {
		tenant, role string
		want         []string
	}{
		{stack.TenantAcme, stack.RoleViewer, stack.ReadTools},
		{stack.TenantGlobex, stack.RoleAdmin, stack.AllTools()},
	}
	for _, tt := range tests {
		t.Run(tt.tenant+"/"+tt.role, func(t *testing.T) {
			rep := runTSClient(t, s, s.UserToken(t, tt.tenant, tt.role), []map[string]any{
				{"name": "customers.list"},
				{"name": "orders.list", "arguments": map[string]any{"limit": 3}},
				{"name": "orders.refund", "arguments": map[string]any{"order_id": "ord_none", "body": map[string]any{"amount": 1}}},
				{"name": "no.such.tool"},
			})
			assert.Equal(t, "present", rep.SessionID)
			assert.Equal(t, "portcullis", rep.ServerName)
			assert.Equal(t, tt.want, sorted(rep.Tools))
			require.Len(t, rep.Calls, 4)

			list := rep.Calls[0]
			require.False(t, list.IsError, "%+v", list)
			require.Nil(t, list.Code, "%+v", list)
			var customers customerList
			require.NoError(t, json.Unmarshal(list.Structured, &customers))
			require.NotEmpty(t, customers.Items)
			for _, c := range customers.Items {
				assert.True(t, strings.HasSuffix(c.Email, "@"+tt.tenant+".example.com"), c.Email)
			}
			assert.False(t, rep.Calls[1].IsError, "%+v", rep.Calls[1])
			assert.Nil(t, rep.Calls[1].Code, "%+v", rep.Calls[1])

			refund, ghost := rep.Calls[2], rep.Calls[3]
			require.NotNil(t, ghost.Code, "a tool that does not exist is a protocol error: %+v", ghost)
			if tt.role == stack.RoleViewer {
				require.NotNil(t, refund.Code, "a viewer cannot call orders.refund: %+v", refund)
				assert.Equal(t, *ghost.Code, *refund.Code)
				assert.Equal(t, strings.ReplaceAll(ghost.Message, "no.such.tool", "orders.refund"), refund.Message)
			} else {
				// Forwarded: the backend has no such order, an isError result.
				assert.Nil(t, refund.Code, "%+v", refund)
				assert.True(t, refund.IsError, "%+v", refund)
			}

			hosts := map[string]bool{}
			for _, r := range rep.Requests {
				assert.Less(t, r.Status, 500, "%+v", r)
				if r.Method == "POST" && r.Session && r.Status == 200 {
					hosts[r.Host] = true
				}
			}
			var want []string
			for _, g := range s.Gateways {
				want = append(want, strings.TrimPrefix(g.Direct, "https://"))
			}
			got := make([]string, 0, len(hosts))
			for h := range hosts {
				got = append(got, h)
			}
			slices.Sort(got)
			slices.Sort(want)
			assert.Equal(t, want, got, "both replicas served requests of the one session")
		})
	}
}
