package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/e2e/internal/stack"
	"github.com/portcullis/portcullis/shared/localenv/devissuer"
)

// Issue 4's "Must show" for the gateway: policies written through the admin
// API, applied by two gateway replicas, enforced on real MCP calls:
// step-up with the demo issuer, and a human approval that lets the same
// call through exactly once, whichever replica it reaches.

// JSON-RPC codes of the gateway's policy layer (dataplane/internal/policyeval).
const (
	codeStepUpRequired  = -32004
	codeApprovalPending = -32005
)

// rpcReply is a JSON-RPC response as the raw client reads it.
type rpcReply struct {
	Status int
	Header http.Header
	Result struct {
		IsError           bool            `json:"isError"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		Content           []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	Error *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
}

// rawSession is an MCP session over plain HTTP against one replica, so the
// test sees HTTP statuses and headers (a step-up is an HTTP 401).
type rawSession struct {
	t       *testing.T
	client  *http.Client
	url     string
	token   string
	session string
}

func openSession(t *testing.T, s *stack.Stack, g *stack.Gateway, token string) *rawSession {
	t.Helper()
	r := &rawSession{t: t, client: s.GatewayClient(t), url: g.Direct + "/mcp", token: token}
	resp, body := mcpPost(t, r.client, r.url, token, "", initializeBody)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	r.session = resp.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, r.session)
	resp, body = mcpPost(t, r.client, r.url, token, r.session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	return r
}

// call sends tools/call with args and decodes the reply, SSE or JSON.
func (r *rawSession) call(name string, args any) rpcReply {
	r.t.Helper()
	out, err := r.try(name, args)
	require.NoError(r.t, err)
	return out
}

// try is call without assertions, for other goroutines than the test's.
func (r *rawSession) try(name string, args any) (rpcReply, error) {
	params, err := json.Marshal(map[string]any{"name": name, "arguments": args})
	if err != nil {
		return rpcReply{}, err
	}
	resp, body, err := tryMCPPost(r.client, r.url, r.token, r.session,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":`+string(params)+`}`)
	if err != nil {
		return rpcReply{}, err
	}
	out := rpcReply{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(jsonRPCBody(body), &out); err != nil {
		return rpcReply{}, fmt.Errorf("reply %d is not JSON-RPC: %w: %s", resp.StatusCode, err, body)
	}
	return out, nil
}

// jsonRPCBody returns the JSON-RPC message of a JSON or SSE body.
func jsonRPCBody(body []byte) []byte {
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("event:")) && !bytes.HasPrefix(bytes.TrimSpace(body), []byte("data:")) {
		return body
	}
	var data []byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			data = append(data, strings.TrimSpace(line)...)
		}
	}
	return data
}

func (r rpcReply) text() string {
	var b strings.Builder
	for _, c := range r.Result.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

// ok requires a successful tool result and returns its structured content.
func (r rpcReply) ok(t *testing.T) json.RawMessage {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status)
	require.Nil(t, r.Error, "%+v", r.Error)
	require.False(t, r.Result.IsError, "%s", r.text())
	return r.Result.StructuredContent
}

// approvalData is the data of a pending approval error.
type approvalData struct {
	ApprovalID string `json:"approval_id"`
	Status     string `json:"status"`
	CheckURL   string `json:"check_url"`
	ExpiresAt  string `json:"expires_at"`
	Policy     string `json:"policy"`
}

// pending requires a "pending approval" error and returns its data.
func (r rpcReply) pending(t *testing.T) approvalData {
	t.Helper()
	require.NotNil(t, r.Error, "the call went through: %s", r.text())
	require.Equal(t, codeApprovalPending, r.Error.Code, r.Error.Message)
	var d approvalData
	require.NoError(t, json.Unmarshal(r.Error.Data, &d))
	require.NotEmpty(t, d.ApprovalID)
	assert.Equal(t, "pending", d.Status)
	assert.Contains(t, r.Error.Message, "approval "+d.ApprovalID+" is pending")
	return d
}

// backendPosts counts the requests the demo backend received on path.
func backendPosts(s *stack.Stack, path string) int {
	n := 0
	for _, c := range s.Backend.Received() {
		if c.Method == http.MethodPost && c.Target == path {
			n++
		}
	}
	return n
}

func TestPolicies(t *testing.T) {
	s := stack.Start(t, stack.Options{Gateways: 2})
	admin := s.PlatformAdminToken(t)
	for _, p := range []map[string]any{
		{
			"name": "refunds-need-mfa", "tools": []string{"orders.refund"}, "effect": "step_up", "priority": 10, "enabled": true,
			"match": map[string]any{"op": "and", "conditions": []any{
				map[string]any{"attribute": "args.body.amount", "operator": "gte", "value": 0},
			}},
			"step_up": map[string]any{"acr_values": []string{"mfa"}},
		},
		{
			"name": "big-orders-need-approval", "tools": []string{"orders.create"}, "effect": "approval_required", "priority": 10, "enabled": true,
			"match": map[string]any{"op": "and", "conditions": []any{
				map[string]any{"attribute": "args.body.amount", "operator": "gt", "value": 100},
			}},
			"approval": map[string]any{"approver_roles": []string{"tenant-admin"}, "min_approvals": 1, "expiry_sec": 900},
		},
	} {
		r := s.Do(t, http.MethodPost, "/v1/policies", admin, p)
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	s.WaitApplied(t)

	g1, g2 := s.Gateways[0], s.Gateways[1]
	alice := s.Mint(t, devissuer.Claims{Subject: "alice@acme", Email: "alice@acme.test", TenantID: stack.TenantAcme,
		Roles: []string{stack.RoleAdmin}, Audience: []string{s.ResourceURL()}})
	on1, on2 := openSession(t, s, g1, alice), openSession(t, s, g2, alice)

	var customers customerList
	require.NoError(t, json.Unmarshal(on1.call("customers.list", map[string]any{}).ok(t), &customers))
	require.NotEmpty(t, customers.Items)
	customer := customers.Items[0].ID
	var order struct {
		ID string `json:"id"`
	}
	// A small order needs no approval.
	require.NoError(t, json.Unmarshal(on1.call("orders.create", map[string]any{"body": map[string]any{
		"customer_id": customer, "amount": 20, "currency": "EUR"}}).ok(t), &order))
	require.NotEmpty(t, order.ID)

	t.Run("step-up", func(t *testing.T) {
		refund := map[string]any{"order_id": order.ID, "body": map[string]any{"amount": 5}}
		path := "/v1/orders/" + order.ID + "/refund"
		before := backendPosts(s, path)
		for _, on := range []*rawSession{on1, on2} {
			r := on.call("orders.refund", refund)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			assert.Equal(t, []string{`Bearer error="insufficient_user_authentication", ` +
				`error_description="A stronger or more recent authentication is required", acr_values="mfa", ` +
				`resource_metadata="` + s.PublicURL + `/.well-known/oauth-protected-resource"`}, r.Header.Values("WWW-Authenticate"))
			require.NotNil(t, r.Error)
			assert.Equal(t, codeStepUpRequired, r.Error.Code)
			assert.Equal(t, `Step-up authentication required by policy "refunds-need-mfa": sign in again with `+
				`authentication level (acr) mfa, then retry with the new token`, r.Error.Message)
		}
		assert.Equal(t, before, backendPosts(s, path), "nothing reached the backend")

		// The user signs in again with MFA (the demo issuer mints acr=mfa)
		// and retries in the same session with the stronger token.
		stepped := s.Mint(t, devissuer.Claims{Subject: "alice@acme", Email: "alice@acme.test", TenantID: stack.TenantAcme,
			Roles: []string{stack.RoleAdmin}, Audience: []string{s.ResourceURL()}, ACR: "mfa"})
		for i, on := range []*rawSession{on1, on2} {
			strong := *on
			strong.token = stepped
			strong.call("orders.refund", refund).ok(t)
			assert.Equal(t, before+i+1, backendPosts(s, path))
		}
	})

	t.Run("approval through two gateways", func(t *testing.T) {
		big := map[string]any{"body": map[string]any{"customer_id": customer, "amount": 500, "currency": "EUR"}}
		before := backendPosts(s, "/v1/orders")

		first := on1.call("orders.create", big).pending(t)
		assert.Equal(t, "big-orders-need-approval", first.Policy)
		assert.Contains(t, first.CheckURL, "/v1/tenants/acme/approvals/"+first.ApprovalID)
		assert.NotEmpty(t, first.ExpiresAt)
		// The other replica finds the same pending approval.
		assert.Equal(t, first.ApprovalID, on2.call("orders.create", big).pending(t).ApprovalID)
		assert.Equal(t, before, backendPosts(s, "/v1/orders"))

		// The requester cannot approve its own call; a tenant admin can.
		self := s.Mint(t, devissuer.Claims{Subject: "alice@acme", Email: "alice@acme.test", TenantID: stack.TenantAcme,
			Roles: []string{"tenant-admin"}, Audience: []string{stack.AdminAudience}})
		approvePath := "/v1/tenants/acme/approvals/" + first.ApprovalID + "/approve"
		assert.Equal(t, http.StatusForbidden, s.Do(t, http.MethodPost, approvePath, self, map[string]any{}).Status)
		r := s.Do(t, http.MethodPost, approvePath, s.TenantAdminToken(t, stack.TenantAcme), map[string]any{"comment": "ok"})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

		// A different call (other arguments) does not use the approval.
		other := map[string]any{"body": map[string]any{"customer_id": customer, "amount": 501, "currency": "EUR"}}
		assert.NotEqual(t, first.ApprovalID, on2.call("orders.create", other).pending(t).ApprovalID)

		// The same call by the same user through the other gateway passes, once.
		on2.call("orders.create", big).ok(t)
		assert.Equal(t, before+1, backendPosts(s, "/v1/orders"))
		again := on1.call("orders.create", big).pending(t)
		assert.NotEqual(t, first.ApprovalID, again.ApprovalID, "the second identical call needs a new approval")
		assert.Equal(t, before+1, backendPosts(s, "/v1/orders"))
	})

	t.Run("concurrent double consume", func(t *testing.T) {
		call := map[string]any{"body": map[string]any{"customer_id": customer, "amount": 777, "currency": "USD"}}
		p := on1.call("orders.create", call).pending(t)
		r := s.Do(t, http.MethodPost, "/v1/tenants/acme/approvals/"+p.ApprovalID+"/approve", s.TenantAdminToken(t, stack.TenantAcme), map[string]any{})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		before := backendPosts(s, "/v1/orders")

		const perGateway = 3
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			passed, waiting int
		)
		gate := make(chan struct{})
		for _, g := range []*stack.Gateway{g1, g2} {
			for range perGateway {
				on := openSession(t, s, g, alice)
				wg.Go(func() {
					<-gate
					reply, err := on.try("orders.create", call)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil:
						t.Errorf("call: %v", err)
					case reply.Error == nil && !reply.Result.IsError:
						passed++
					case reply.Error != nil && reply.Error.Code == codeApprovalPending:
						waiting++
					default:
						t.Errorf("unexpected reply: %d %+v %s", reply.Status, reply.Error, reply.text())
					}
				})
			}
		}
		close(gate)
		wg.Wait()
		assert.Equal(t, 1, passed, "exactly one of the racing calls uses the approval")
		assert.Equal(t, 2*perGateway-1, waiting, fmt.Sprintf("the others are pending again (passed %d)", passed))
		assert.Equal(t, before+1, backendPosts(s, "/v1/orders"), "the backend got the call once")
	})
}
