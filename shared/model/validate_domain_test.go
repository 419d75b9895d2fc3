package model

import (
	"strings"
	"testing"
)

func TestDomainValidate(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 4 labels of 63 plus 3 dots: 255 characters, cut to 253 and 254 below.
	long := strings.Join([]string{label63, label63, label63, label63}, ".")
	cases := []struct {
		name string
		in   Domain
		want []string
	}{
		{"platform domain", Domain{Hostname: "mcp.example.com"}, nil},
		{"tenant domain", Domain{Hostname: "mcp.customer.com", TenantID: "acme", AuthorizationServer: "https://login.customer.com"}, nil},
		{"two labels", Domain{Hostname: "example.com"}, nil},
		{"digits and hyphens", Domain{Hostname: "mcp-1.eu-west-2.example.com"}, nil},
		{"idna a-label", Domain{Hostname: "mcp.xn--bcher-kva.example"}, nil},
		{"max length", Domain{Hostname: long[:MaxHostnameLen-3] + ".io"}, nil},
		{"max label", Domain{Hostname: label63 + ".example.com"}, nil},
		{"auth server on loopback http", Domain{Hostname: "mcp.localhost", AuthorizationServer: "http://127.0.0.1:9000"}, nil},
		{"auth server with path", Domain{Hostname: "mcp.example.com", AuthorizationServer: "https://idp.example.com/tenants/acme"}, nil},

		{"empty", Domain{}, []string{"hostname"}},
		{"too long", Domain{Hostname: long}, []string{"hostname"}},
		{"one over", Domain{Hostname: long[:MaxHostnameLen-2] + ".io"}, []string{"hostname"}},
		{"label too long", Domain{Hostname: label63 + "a.example.com"}, []string{"hostname"}},
		{"single label", Domain{Hostname: "localhost"}, []string{"hostname"}},
		{"upper case", Domain{Hostname: "MCP.Example.com"}, []string{"hostname"}},
		{"port", Domain{Hostname: "mcp.example.com:8443"}, []string{"hostname"}},
		{"scheme", Domain{Hostname: "https://mcp.example.com"}, []string{"hostname"}},
		{"ipv4", Domain{Hostname: "10.0.0.1"}, []string{"hostname"}},
		{"ipv6", Domain{Hostname: "::1"}, []string{"hostname"}},
		{"bracketed ipv6", Domain{Hostname: "[2001:db8::1]"}, []string{"hostname"}},
		{"numeric tld", Domain{Hostname: "1.2.3.999"}, []string{"hostname"}},
		{"short ipv4 form", Domain{Hostname: "127.1"}, []string{"hostname"}},
		{"trailing dot", Domain{Hostname: "mcp.example.com."}, []string{"hostname"}},
		{"leading dot", Domain{Hostname: ".example.com"}, []string{"hostname"}},
		{"empty label", Domain{Hostname: "mcp..example.com"}, []string{"hostname"}},
		{"wildcard", Domain{Hostname: "*.example.com"}, []string{"hostname"}},
		{"underscore", Domain{Hostname: "mcp_1.example.com"}, []string{"hostname"}},
		{"leading hyphen", Domain{Hostname: "-mcp.example.com"}, []string{"hostname"}},
		{"trailing hyphen", Domain{Hostname: "mcp-.example.com"}, []string{"hostname"}},
		{"reserved hyphens", Domain{Hostname: "ab--cd.example.com"}, []string{"hostname"}},
		{"bogus a-label", Domain{Hostname: "xn--a.example.com"}, []string{"hostname"}},
		{"a-label of a disallowed name", Domain{Hostname: "xn--a-ecp.example.com"}, []string{"hostname"}},
		{"unicode", Domain{Hostname: "bücher.example"}, []string{"hostname"}},
		{"space", Domain{Hostname: "mcp example.com"}, []string{"hostname"}},
		{"path", Domain{Hostname: "mcp.example.com/mcp"}, []string{"hostname"}},
		{"user info", Domain{Hostname: "user@mcp.example.com"}, []string{"hostname"}},
		{"nul", Domain{Hostname: "mcp.example.com\x00.evil"}, []string{"hostname"}},
		{"bad tenant", Domain{Hostname: "mcp.example.com", TenantID: "../etc"}, []string{"tenant_id"}},
		{"http auth server", Domain{Hostname: "mcp.example.com", AuthorizationServer: "http://idp.example.com"}, []string{"authorization_server"}},
		{"relative auth server", Domain{Hostname: "mcp.example.com", AuthorizationServer: "/login"}, []string{"authorization_server"}},
		{"auth server with query", Domain{Hostname: "mcp.example.com", AuthorizationServer: "https://idp.example.com/?tenant=a"}, []string{"authorization_server"}},
		{"auth server with fragment", Domain{Hostname: "mcp.example.com", AuthorizationServer: "https://idp.example.com/#x"}, []string{"authorization_server"}},
		{"auth server with credentials", Domain{Hostname: "mcp.example.com", AuthorizationServer: "https://u:p@idp.example.com"}, []string{"authorization_server"}},
		{"auth server not a url scheme", Domain{Hostname: "mcp.example.com", AuthorizationServer: "javascript:alert(1)"}, []string{"authorization_server"}},
		{"everything wrong", Domain{Hostname: "*", TenantID: "a b", AuthorizationServer: "ftp://x"}, []string{"hostname", "tenant_id", "authorization_server"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

// TestHostnameMessages: the likely mistakes get a message that names them.
func TestHostnameMessages(t *testing.T) {
	cases := map[string]string{
		"mcp.example.com:443": "port",
		"192.0.2.1":           "IP address",
		"mcp.example.com.":    "dot",
		"*.example.com":       "wildcard",
		"MCP.example.com":     "lower-case",
		"bücher.example":      "A-labels",
		"localhost":           "two labels",
	}
	for host, want := range cases {
		if msg := HostnameProblem(host); !strings.Contains(msg, want) {
			t.Errorf("HostnameProblem(%q) = %q, want it to mention %q", host, msg, want)
		}
	}
}

// FuzzHostnameProblem: any string is accepted or refused without panicking,
// and an accepted one is in the one canonical spelling the gateway matches.
func FuzzHostnameProblem(f *testing.F) {
	for _, s := range []string{"mcp.example.com", "xn--bcher-kva.example", "[::1]", "a..b", "-", "xn--", "a.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if HostnameProblem(s) != "" {
			return
		}
		if len(s) > MaxHostnameLen || strings.ToLower(s) != s || strings.ContainsAny(s, ":*/[] ") ||
			strings.HasSuffix(s, ".") || !strings.Contains(s, ".") {
			t.Fatalf("accepted %q", s)
		}
	})
}
