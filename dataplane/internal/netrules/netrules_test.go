package netrules

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

func rule(name string, allow, block []string) bundle.Entry[model.NetworkRule] {
	return bundle.Entry[model.NetworkRule]{ID: "id-" + name, Spec: model.NetworkRule{Name: name, Allow: allow, Block: block, Enabled: true}}
}

func TestCheck(t *testing.T) {
	office := rule("office", []string{"203.0.113.0/24", "2001:db8:1::/48"}, nil)
	blockOne := rule("block-one", nil, []string{"203.0.113.66", "2001:db8:1::bad"})
	both := rule("both", []string{"203.0.113.0/24"}, []string{"203.0.113.128/25"})
	disabled := rule("disabled", nil, []string{"0.0.0.0/0", "::/0"})
	disabled.Spec.Enabled = false
	corrupt := rule("corrupt", nil, []string{"not-a-cidr"})

	cases := []struct {
		name   string
		global []bundle.Entry[model.NetworkRule]
		tenant []bundle.Entry[model.NetworkRule]
		addr   string // "" = unknown
		refuse string // refusing rule name, "" = passes
	}{
		{"no rules", nil, nil, "198.51.100.1", ""},
		{"allow-list inside", []bundle.Entry[model.NetworkRule]{office}, nil, "203.0.113.10", ""},
		{"allow-list outside", []bundle.Entry[model.NetworkRule]{office}, nil, "198.51.100.1", "office"},
		{"allow-list ipv6 inside", []bundle.Entry[model.NetworkRule]{office}, nil, "2001:db8:1:2::5", ""},
		{"allow-list ipv6 outside", []bundle.Entry[model.NetworkRule]{office}, nil, "2001:db8:2::5", "office"},
		{"ipv4-mapped ipv6 matches ipv4 prefix", []bundle.Entry[model.NetworkRule]{office}, nil, "::ffff:203.0.113.10", ""},
		{"unknown address with an allow list", []bundle.Entry[model.NetworkRule]{office}, nil, "", "office"},
		{"unknown address with a block list only", []bundle.Entry[model.NetworkRule]{blockOne}, nil, "", ""},
		{"block-list hit", []bundle.Entry[model.NetworkRule]{blockOne}, nil, "203.0.113.66", "block-one"},
		{"block-list ipv6 hit", []bundle.Entry[model.NetworkRule]{blockOne}, nil, "2001:db8:1::bad", "block-one"},
		{"block-list miss", []bundle.Entry[model.NetworkRule]{blockOne}, nil, "203.0.113.67", ""},
		{"block wins within a rule", []bundle.Entry[model.NetworkRule]{both}, nil, "203.0.113.200", "both"},
		{"allowed part of a rule", []bundle.Entry[model.NetworkRule]{both}, nil, "203.0.113.5", ""},
		{"block wins across rules", []bundle.Entry[model.NetworkRule]{office, blockOne}, nil, "203.0.113.66", "block-one"},
		{"tenant rule restricts further", []bundle.Entry[model.NetworkRule]{office}, []bundle.Entry[model.NetworkRule]{blockOne}, "203.0.113.66", "block-one"},
		{"tenant allow cannot widen global", []bundle.Entry[model.NetworkRule]{office}, []bundle.Entry[model.NetworkRule]{rule("wide", []string{"0.0.0.0/0"}, nil)}, "198.51.100.1", "office"},
		{"tenant allow-list alone", nil, []bundle.Entry[model.NetworkRule]{office}, "198.51.100.1", "office"},
		{"disabled rule ignored", []bundle.Entry[model.NetworkRule]{disabled}, nil, "198.51.100.1", ""},
		{"corrupt rule fails closed", []bundle.Entry[model.NetworkRule]{corrupt}, nil, "198.51.100.1", "corrupt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var addr netip.Addr
			if c.addr != "" {
				addr = netip.MustParseAddr(c.addr)
			}
			got := Check(addr, Compile(model.GlobalScope, c.global), Compile(model.TenantScope("a"), c.tenant))
			switch {
			case c.refuse == "" && got != nil:
				t.Fatalf("refused by %q, want passed", got.Name)
			case c.refuse != "" && (got == nil || got.Name != c.refuse):
				t.Fatalf("got %+v, want refused by %q", got, c.refuse)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string // "" = unknown
	}{
		{"direct peer", "198.51.100.7:4000", nil, trusted, "198.51.100.7"},
		{"direct ipv6 peer", "[2001:db8::7]:4000", nil, trusted, "2001:db8::7"},
		{"mapped peer is unmapped", "[::ffff:198.51.100.7]:4000", nil, trusted, "198.51.100.7"},
		{"spoofed XFF from an untrusted peer is ignored", "198.51.100.7:4000", []string{"203.0.113.1"}, trusted, "198.51.100.7"},
		{"no trusted proxies configured: XFF ignored", "10.0.0.2:4000", []string{"203.0.113.1"}, nil, "10.0.0.2"},
		{"trusted proxy: last hop", "10.0.0.2:4000", []string{"203.0.113.1"}, trusted, "203.0.113.1"},
		{"client-written entries left of the proxy's are ignored", "10.0.0.2:4000", []string{"1.1.1.1, 203.0.113.1"}, trusted, "203.0.113.1"},
		{"chain of trusted proxies", "10.0.0.2:4000", []string{"6.6.6.6, 203.0.113.1, 10.1.1.1", "fd00::3"}, trusted, "203.0.113.1"},
		{"ipv6 client behind proxy", "[fd00::1]:4000", []string{"2001:db8::42"}, trusted, "2001:db8::42"},
		{"malformed entry stops at last vouched address", "10.0.0.2:4000", []string{"203.0.113.1, garbage"}, trusted, "10.0.0.2"},
		{"entry with port", "10.0.0.2:4000", []string{"203.0.113.1:5555"}, trusted, "203.0.113.1"},
		{"trusted proxy without XFF", "10.0.0.2:4000", nil, trusted, "10.0.0.2"},
		{"unparseable remote", "nonsense", []string{"203.0.113.1"}, trusted, ""},
		{"all hops trusted", "10.0.0.2:4000", []string{"10.9.9.9"}, trusted, "10.9.9.9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			r.RemoteAddr = c.remote
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := ClientIP(r, c.trusted)
			if c.want == "" {
				if got.IsValid() {
					t.Fatalf("got %s, want unknown", got)
				}
				return
			}
			if got != netip.MustParseAddr(c.want) {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	// A flood of XFF entries is bounded: only the last maxForwardedHops are examined.
	r := httptest.NewRequest("POST", "/mcp", nil)
	r.RemoteAddr = "10.0.0.2:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.9, "+strings.Repeat("10.0.0.1, ", 1000)+"10.0.0.1")
	if got := ClientIP(r, trusted); got != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("got %s", got)
	}
}

func TestCache(t *testing.T) {
	var c Cache
	g1 := &bundle.Bundle{Scope: model.GlobalScope, Global: &bundle.Global{NetworkRules: []bundle.Entry[model.NetworkRule]{rule("g", nil, []string{"198.51.100.0/24"})}}}
	if s := c.Global(g1); len(s) != 1 || &c.Global(g1)[0] != &s[0] {
		t.Fatal("the global set is not memoised per bundle")
	}
	g2 := &bundle.Bundle{Scope: model.GlobalScope, Global: &bundle.Global{}}
	if c.Global(g2) != nil {
		t.Fatal("a bundle without rules must give none")
	}
	t1 := &bundle.Bundle{Scope: model.TenantScope("a"), Tenant: &bundle.Tenant{NetworkRules: []bundle.Entry[model.NetworkRule]{rule("t", []string{"203.0.113.0/24"}, nil)}}}
	if s := c.Tenant("a", t1); len(s) != 1 || s[0].Scope != model.TenantScope("a") {
		t.Fatalf("tenant set %+v", s)
	}
	if c.Tenant("a", &bundle.Bundle{Scope: model.TenantScope("a"), Tenant: &bundle.Tenant{}}) != nil {
		t.Fatal("removed tenant rules still apply")
	}
	if _, ok := c.tenants.Load("a"); ok {
		t.Fatal("a tenant without rules keeps a cache entry")
	}
	if c.Tenant("b", nil) != nil {
		t.Fatal("a tenant without a bundle has no rules")
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil || len(got) != 2 || got[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.1/8"}); err == nil {
		t.Fatal("host bits accepted")
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.2:1", "203.0.113.1, [2001:db8::1]:80, ::ffff:1.2.3.4")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := httptest.NewRequest("POST", "/mcp", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		a := ClientIP(r, trusted)
		if a.Is4In6() || a.Zone() != "" {
			t.Fatalf("unnormalised address %s", a)
		}
		peer := parseAddr(hostOf(remote))
		if !contains(trusted, peer) && a != peer {
			t.Fatalf("an untrusted peer %s got address %s from XFF", peer, a)
		}
	})
}
