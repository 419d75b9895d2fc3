package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
)

// printBanner tells the user what is running and how to call it.
func printBanner(out io.Writer, adminURL, issuerURL, dsn string, t demoTokens) {
	line := strings.Repeat("─", 78)
	fmt.Fprintf(out, `
%[1]s
Portcullis is running (Ctrl-C stops everything).

  Admin API         %[2]s   (health: %[2]s/healthz, readiness: %[2]s/readyz)
  Dev OIDC issuer   %[3]s   (JWKS: %[3]s/jwks.json, POST %[3]s/token)
  Postgres          %[4]s

Platform-admin token (valid 12 h):
  export TOKEN=%[5]s

Tenant-admin token for tenant acme (valid 12 h):
  export ACME_TOKEN=%[6]s

Try:
  curl -H "Authorization: Bearer $TOKEN" %[2]s/v1/tenants
  curl -H "Authorization: Bearer $TOKEN" %[2]s/v1/tool-sources
  curl -H "Authorization: Bearer $TOKEN" %[2]s/v1/access-rules
  curl -H "Authorization: Bearer $TOKEN" %[2]s/v1/policies
  curl -H "Authorization: Bearer $ACME_TOKEN" %[2]s/v1/tenants/acme
  curl -H "Authorization: Bearer $ACME_TOKEN" %[2]s/v1/tenants/globex    # 403/404: not acme's
  curl %[2]s/v1/bundle-signing-keys

Mint another token:
  curl -s -X POST %[3]s/token -d sub=bob -d tenant=acme -d roles=tenant-admin -d audience=portcullis-admin -d ttl=1h
%[1]s
`, line, adminURL, issuerURL, redactDSN(dsn), t.platformAdmin, t.acmeAdmin)
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
