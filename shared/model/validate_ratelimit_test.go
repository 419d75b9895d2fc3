package model

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestRateLimitValidate(t *testing.T) {
	ok := RateLimit{Name: "orders", Tools: []string{"orders.*"}, Per: PerUser, RequestsPerMinute: 60, Enabled: true}
	with := func(f func(*RateLimit)) RateLimit { r := ok; f(&r); return r }
	cases := []struct {
		name string
		in   RateLimit
		want []string
	}{
		{"valid", ok, nil},
		{"all tools", with(func(r *RateLimit) { r.Tools = nil }), nil},
		{"per tenant", with(func(r *RateLimit) { r.Per = PerTenant }), nil},
		{"per tool", with(func(r *RateLimit) { r.Per = PerTool }), nil},
		{"min rpm", with(func(r *RateLimit) { r.RequestsPerMinute = 1 }), nil},
		{"max rpm", with(func(r *RateLimit) { r.RequestsPerMinute = MaxRequestsPerMinute }), nil},
		{"burst", with(func(r *RateLimit) { r.Burst = 10 }), nil},
		{"disabled", with(func(r *RateLimit) { r.Enabled = false }), nil},

		{"empty", RateLimit{}, []string{"name", "per", "requests_per_minute"}},
		{"rpm zero", with(func(r *RateLimit) { r.RequestsPerMinute = 0 }), []string{"requests_per_minute"}},
		{"rpm negative", with(func(r *RateLimit) { r.RequestsPerMinute = -5 }), []string{"requests_per_minute"}},
		{"rpm too high", with(func(r *RateLimit) { r.RequestsPerMinute = MaxRequestsPerMinute + 1 }), []string{"requests_per_minute"}},
		{"unknown per", with(func(r *RateLimit) { r.Per = "ip" }), []string{"per"}},
		{"per case", with(func(r *RateLimit) { r.Per = "User" }), []string{"per"}},
		{"negative burst", with(func(r *RateLimit) { r.Burst = -1 }), []string{"burst"}},
		{"burst too high", with(func(r *RateLimit) { r.Burst = MaxBurst + 1 }), []string{"burst"}},
		{"bad pattern", with(func(r *RateLimit) { r.Tools = []string{"orders/[a"} }), []string{"tools[0]"}},
		{"name spaces", with(func(r *RateLimit) { r.Name = " x" }), []string{"name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestRateLimitAppliesTo(t *testing.T) {
	cases := []struct {
		limit RateLimit
		tool  string
		want  bool
	}{
		{RateLimit{Enabled: true}, "orders.list", true},
		{RateLimit{Enabled: false}, "orders.list", false},
		{RateLimit{Enabled: true, Tools: []string{"orders.*"}}, "orders.list", true},
		{RateLimit{Enabled: true, Tools: []string{"orders.*"}}, "refunds.create", false},
		{RateLimit{Enabled: true, Tools: []string{"a", "refunds.create"}}, "refunds.create", true},
	}
	for i, c := range cases {
		if got := c.limit.AppliesTo(c.tool); got != c.want {
			t.Errorf("case %d: AppliesTo(%q) = %v", i, c.tool, got)
		}
	}
	if (RateLimit{RequestsPerMinute: 60}).Capacity() != 60 || (RateLimit{RequestsPerMinute: 60, Burst: 5}).Capacity() != 5 {
		t.Fatal("Capacity")
	}
}

func TestNetworkRuleValidate(t *testing.T) {
	many := make([]string, MaxCIDRs+1)
	for i := range many {
		many[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
	}
	cases := []struct {
		name string
		in   NetworkRule
		want []string
	}{
		{"allow v4", NetworkRule{Name: "office", Allow: []string{"203.0.113.0/24"}}, nil},
		{"block v6", NetworkRule{Name: "b", Block: []string{"2001:db8::/32"}}, nil},
		{"single addresses", NetworkRule{Name: "b", Allow: []string{"203.0.113.7", "2001:db8::1"}}, nil},
		{"both", NetworkRule{Name: "b", Allow: []string{"0.0.0.0/0", "::/0"}, Block: []string{"198.51.100.0/24"}}, nil},
		{"max entries", NetworkRule{Name: "b", Block: many[:MaxCIDRs]}, nil},

		{"empty", NetworkRule{}, []string{"name", "allow"}},
		{"no lists", NetworkRule{Name: "x"}, []string{"allow"}},
		{"invalid cidr", NetworkRule{Name: "x", Allow: []string{"10.0.0.0/33"}}, []string{"allow[0]"}},
		{"garbage", NetworkRule{Name: "x", Block: []string{"10.0.0.0/8", "office"}}, []string{"block[1]"}},
		{"host bits", NetworkRule{Name: "x", Allow: []string{"10.0.0.1/8"}}, []string{"allow[0]"}},
		{"zone", NetworkRule{Name: "x", Allow: []string{"fe80::1%eth0"}}, []string{"allow[0]"}},
		{"empty entry", NetworkRule{Name: "x", Block: []string{""}}, []string{"block[0]"}},
		{"hostname", NetworkRule{Name: "x", Block: []string{"example.com"}}, []string{"block[0]"}},
		{"too many", NetworkRule{Name: "x", Block: many}, []string{"block"}},
		{"huge entry", NetworkRule{Name: "x", Block: []string{strings.Repeat("1", 10000)}}, []string{"block[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, c.in.Validate(), c.want...) })
	}
}

func TestParseCIDR(t *testing.T) {
	cases := []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"203.0.113.7", "203.0.113.7/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"::/0", "::/0"},
	}
	for _, c := range cases {
		got, err := ParseCIDR(c.in)
		if err != nil || got != netip.MustParsePrefix(c.want) {
			t.Errorf("ParseCIDR(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := ParseCIDR("10.0.0.1/8"); err == nil {
		t.Error("host bits accepted")
	}
}
