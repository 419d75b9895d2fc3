package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/template"
)

// bannerInfo is everything the banner shows.
type bannerInfo struct {
	adminURL, issuerURL, dsn string
	caFile                   string   // the dev CA certificate clients trust
	mcpURL                   string   // the gateways' MCP URL (shared public URL)
	domainMCPURL             string   // the demo custom domain's MCP URL
	gateways                 []string // each replica's MCP URL (the public host name, its own port)
	backendURL               string
	tokens                   demoTokens
	ids                      demoIDs // the acme order and customer of the policy commands
}

// protocolVersion is the MCP version the curl examples speak.
const protocolVersion = "2025-06-18"

var bannerTemplate = template.Must(template.New("banner").Parse(`
{{.Line}}
Portcullis is running (Ctrl-C stops everything).

  MCP endpoints     {{.Gateways}}   (two gateways; the same tokens work on both)
  Custom domain     {{.DomainMCPURL}}   (tenant acme only)
  Admin API         {{.AdminURL}}   (health: /healthz, readiness: /readyz)
  Dev OIDC issuer   {{.IssuerURL}}   (JWKS: {{.IssuerURL}}/jwks.json, POST {{.IssuerURL}}/token)
  Demo backend      {{.BackendURL}}   (OpenAPI: {{.BackendURL}}/openapi.json; every other request must be signed)
  Postgres          {{.DSN}}
  Dev CA            {{.CAFile}}

Everything serves TLS from the dev CA. Trust it (development machines only):
  curl:         export CA={{.CAFile}}; curl --cacert $CA ...
  Node (MCP Inspector, Claude Code, the TypeScript SDK):
                export NODE_EXTRA_CA_CERTS={{.CAFile}}
  system-wide (Debian/Ubuntu):
                sudo cp {{.CAFile}} /usr/local/share/ca-certificates/portcullis-dev.crt && sudo update-ca-certificates

Agent tokens for the gateways (audience {{.MCPURL}}, valid 12 h):
{{- range .Agents}}
  # {{.Who}}
  export {{.Env}}={{.Token}}
{{- end}}
  # alice on the custom domain {{.DomainMCPURL}}
  export ALICE_DOMAIN={{.DomainToken}}
  # alice after a step-up sign-in (acr {{.ACR}})
  export ALICE_MFA={{.AliceMFA}}

Admin API tokens (valid 12 h):
  export TOKEN={{.PlatformAdmin}}
  export ACME_TOKEN={{.AcmeAdmin}}

MCP over curl (initialize, then tools/list in the session it returns):
  SID=$(curl -s --cacert $CA -D - -o /dev/null {{.MCPURL}} \
    -H "Authorization: Bearer $ALICE" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"{{.Proto}}","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    | awk 'tolower($1)=="mcp-session-id:" {print $2}' | tr -d '\r')
  curl -s --cacert $CA {{.MCPURL}} -H "Authorization: Bearer $ALICE" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: {{.Proto}}' \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
  (with $BOB, a viewer, tools/list shows only the read tools; a session started on one port continues on the other)

Policies (global): {{.StepUpPolicy}} (step-up on orders.refund), {{.ApprovalPolicy}}
(orders.create over {{.Threshold}} at acme waits for a tenant admin), deny-large-refunds (refunds over 1000).
In the session above ($SID), with this helper (extra arguments go to curl):
  call() { curl -s --cacert $CA {{.MCPURL}} -H "Authorization: Bearer $1" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: {{.Proto}}' \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -w '\n→ HTTP %{http_code}\n' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}" "${@:4}"; }
  # step-up: 401 + WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="{{.ACR}}"; then passes with the MFA token
  call "$ALICE" orders.refund '{"order_id":"{{.Order}}","body":{"amount":5}}' -i
  call "$ALICE_MFA" orders.refund '{"order_id":"{{.Order}}","body":{"amount":5}}'
  # approval: pending, with the approval id and where to check it
  call "$ALICE" orders.create '{"body":{"customer_id":"{{.Customer}}","amount":500}}'
  # a tenant admin of acme (dana, not alice: nobody approves their own call) approves it
  curl -s --cacert $CA -X POST -H "Authorization: Bearer $ACME_TOKEN" {{.AdminURL}}/v1/tenants/acme/approvals/<approval id>/approve
  # the same call now passes, once; a third identical call is pending again
  call "$ALICE" orders.create '{"body":{"customer_id":"{{.Customer}}","amount":500}}'
  curl -s --cacert $CA -H "Authorization: Bearer $ACME_TOKEN" '{{.AdminURL}}/v1/tenants/acme/approvals?status=pending'

MCP Inspector:
  NODE_EXTRA_CA_CERTS={{.CAFile}} npx @modelcontextprotocol/inspector
  → Transport Type: Streamable HTTP, URL: {{.MCPURL}},
    Authentication → header "Authorization", value "Bearer <paste $ALICE>", then Connect.

Claude Code:
  export NODE_EXTRA_CA_CERTS={{.CAFile}}
  claude mcp add --transport http portcullis {{.MCPURL}} --header "Authorization: Bearer $ALICE"

Admin API:
  curl --cacert $CA -H "Authorization: Bearer $TOKEN" {{.AdminURL}}/v1/tenants
  curl --cacert $CA -H "Authorization: Bearer $TOKEN" {{.AdminURL}}/v1/tool-sources
  curl --cacert $CA -H "Authorization: Bearer $TOKEN" {{.AdminURL}}/v1/access-rules
  curl --cacert $CA -H "Authorization: Bearer $TOKEN" {{.AdminURL}}/v1/fleet
  curl --cacert $CA -H "Authorization: Bearer $ACME_TOKEN" {{.AdminURL}}/v1/tenants/acme
  curl --cacert $CA -H "Authorization: Bearer $ACME_TOKEN" {{.AdminURL}}/v1/tenants/globex    # 403/404: not acme's
  curl --cacert $CA {{.AdminURL}}/v1/bundle-signing-keys

Mint another token (e.g. a gateway token for dave, viewer at globex):
  curl -s -X POST {{.IssuerURL}}/token -d sub=dave -d tenant=globex -d roles=viewer -d audience={{.MCPURL}} -d ttl=1h
{{.Line}}
`))

// printBanner tells the user what is running and how to call it.
func printBanner(out io.Writer, b bannerInfo) {
	type agent struct{ Env, Who, Token string }
	var agents []agent
	for _, a := range b.tokens.agents {
		agents = append(agents, agent{a.env, a.who, a.token})
	}
	err := bannerTemplate.Execute(out, map[string]any{
		"Line": strings.Repeat("─", 78), "MCPURL": b.mcpURL, "DomainMCPURL": b.domainMCPURL,
		"Gateways": strings.Join(b.gateways, ", "), "AdminURL": b.adminURL, "IssuerURL": b.issuerURL,
		"BackendURL": b.backendURL, "DSN": b.dsn, "CAFile": b.caFile, "Agents": agents,
		"DomainToken": b.tokens.domainToken, "PlatformAdmin": b.tokens.platformAdmin,
		"AcmeAdmin": b.tokens.acmeAdmin, "Proto": protocolVersion,
		"AliceMFA": b.tokens.aliceMFA, "ACR": stepUpACR, "StepUpPolicy": stepUpPolicy, "ApprovalPolicy": approvalPolicy,
		"Threshold": approvalThreshold, "Order": b.ids.order, "Customer": b.ids.customer,
	})
	if err != nil { // a bug in the template: say so rather than print half a banner silently
		fmt.Fprintln(out, "portcullis-dev: banner:", err)
	}
}

// redactDSN hides a password in a DATABASE_URL given by the user.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
