package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/shared/localenv/demobackend"
)

const (
	seedTimeout    = 30 * time.Second
	maxProblemSize = 8 << 10
)

// The seeded policies the banner demonstrates.
const (
	stepUpPolicy      = "refunds-need-mfa"
	approvalPolicy    = "acme-big-orders-need-approval"
	approvalThreshold = 100
)

// readTools are the demo tools that only read; viewers get these.
var readTools = []string{"orders.list", "orders.get", "customers.list", "customers.get"}

// seedStep is one idempotent admin API call: 2xx means created, 409 means already there.
type seedStep struct {
	what   string
	method string
	path   string
	body   any
}

// seedSteps are the demo platform. The tool source is the demo backend's own OpenAPI document
// (one document: what the backend serves is what is imported), served in-process at backendURL.
func seedSteps(backendURL string) []seedStep {
	return []seedStep{
		{"tenant acme (delegation enabled)", http.MethodPost, "/v1/tenants",
			map[string]any{"id": "acme", "name": "Acme Corp", "delegation_enabled": true}},
		{"tenant globex (delegation disabled)", http.MethodPost, "/v1/tenants",
			map[string]any{"id": "globex", "name": "Globex Inc", "delegation_enabled": false}},
		{"tool source demo-orders (OpenAPI import)", http.MethodPost, "/v1/tool-sources",
			map[string]any{"name": "demo-orders", "base_url": backendURL, "timeout_ms": 3000,
				"document": json.RawMessage(demobackend.OpenAPI())}},
		{"access rule: role admin → all tools", http.MethodPost, "/v1/access-rules",
			map[string]any{"name": "admins-all-tools", "tools": []string{"*"}, "roles": []string{"admin"}, "enabled": true}},
		{"access rule: role viewer → read tools", http.MethodPost, "/v1/access-rules",
			map[string]any{"name": "viewers-read-tools", "tools": readTools, "roles": []string{"viewer"}, "enabled": true}},
		{"global policy: deny refunds over 1000", http.MethodPost, "/v1/policies",
			map[string]any{
				"name":        "deny-large-refunds",
				"description": "Agents may not refund more than 1000 in one call; a human does that.",
				"tools":       []string{"orders.refund"},
				"match": map[string]any{"op": "and", "conditions": []map[string]any{
					{"attribute": "args.body.amount", "operator": "gt", "value": 1000},
				}},
				"effect": "deny", "priority": 100, "enabled": true,
			}},
		{"global policy: refunds need MFA (step-up)", http.MethodPost, "/v1/policies",
			map[string]any{
				"name":        stepUpPolicy,
				"description": "Refunds need a recent sign-in with MFA (acr mfa); the agent is told to re-authenticate.",
				"tools":       []string{"orders.refund"},
				"match": map[string]any{"op": "and", "conditions": []map[string]any{
					{"attribute": "args.body.amount", "operator": "gte", "value": 0},
				}},
				"effect": "step_up", "priority": 50, "enabled": true,
				"step_up": map[string]any{"acr_values": []string{stepUpACR}},
			}},
		{"global policy: acme orders over 100 need approval", http.MethodPost, "/v1/policies",
			map[string]any{
				"name":        approvalPolicy,
				"description": "At acme, an order over 100 waits for a tenant admin's approval; the approved call then passes once.",
				"tools":       []string{"orders.create"},
				"match": map[string]any{"op": "and", "conditions": []map[string]any{
					{"attribute": "user.tenant", "operator": "equal", "value": "acme"},
					{"attribute": "args.body.amount", "operator": "gt", "value": approvalThreshold},
				}},
				"effect": "approval_required", "priority": 50, "enabled": true,
				// Approvers decide through the admin API as tenant admins
				// (ACME_TOKEN); the requester may never approve its own call.
				"approval": map[string]any{"approver_roles": []string{"tenant-admin"}, "min_approvals": 1, "expiry_sec": 3600},
			}},
		{"custom domain " + demoDomain + " (tenant acme)", http.MethodPost, "/v1/domains",
			map[string]any{"hostname": demoDomain, "tenant_id": "acme"}},
	}
}

// seed runs every step, reporting each outcome; a failed step is reported with its
// problem+json and the next one still runs (a half-seeded demo is still useful).
func seed(ctx context.Context, client *http.Client, adminURL, token, backendURL string, out io.Writer) {
	fmt.Fprintln(out, "\nSeeding the demo platform:")
	for _, s := range seedSteps(backendURL) {
		status, body, err := call(ctx, client, adminURL, token, s)
		switch {
		case err != nil:
			fmt.Fprintf(out, "  ✗ %s: %v\n", s.what, err)
		case status >= 200 && status < 300:
			fmt.Fprintf(out, "  ✓ %s: created\n", s.what)
		case status == http.StatusConflict:
			fmt.Fprintf(out, "  = %s: already seeded\n", s.what)
		default:
			fmt.Fprintf(out, "  ✗ %s: %s %s → HTTP %d\n%s\n", s.what, s.method, s.path, status, indent(body))
		}
	}
}

func call(ctx context.Context, client *http.Client, baseURL, token string, s seedStep) (int, []byte, error) {
	payload, err := json.Marshal(s.body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, s.method, baseURL+s.path, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProblemSize))
	return resp.StatusCode, body, err
}

// indent pretty-prints a JSON body (a problem document) for the terminal.
func indent(body []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, body, "      ", "  ") == nil {
		return "      " + buf.String()
	}
	return "      " + string(body)
}
