package model

// Validation of rate limits and network rules. CIDRs are held to one
// spelling (no host bits, no IPv6 zone) so that what an admin reads back is
// exactly what the gateway matches.

import (
	"fmt"
	"net/netip"
	"strings"
)

// Limits of rate limits and network rules (admin API contract).
const (
	MinRequestsPerMinute = 1
	MaxRequestsPerMinute = 100000
	MaxBurst             = 100000
	MaxCIDRs             = 1000 // entries in one allow or block list
)

// Validate checks a rate limit.
func (r RateLimit) Validate() error {
	var p Problems
	CheckName(&p, "name", r.Name)
	CheckToolPatterns(&p, "tools", r.Tools, 0)
	switch r.Per {
	case PerTenant, PerUser, PerTool:
	default:
		p.Add("per", "must be tenant, user or tool")
	}
	if r.RequestsPerMinute < MinRequestsPerMinute || r.RequestsPerMinute > MaxRequestsPerMinute {
		p.Add("requests_per_minute", "must be between %d and %d", MinRequestsPerMinute, MaxRequestsPerMinute)
	}
	if r.Burst < 0 || r.Burst > MaxBurst {
		p.Add("burst", "must be 0 (same as requests_per_minute) or between 1 and %d", MaxBurst)
	}
	return p.Err()
}

// Validate checks a network rule.
func (n NetworkRule) Validate() error {
	var p Problems
	CheckName(&p, "name", n.Name)
	if len(n.Allow) == 0 && len(n.Block) == 0 {
		p.Add("allow", "at least one of allow or block is required")
	}
	checkCIDRs(&p, "allow", n.Allow)
	checkCIDRs(&p, "block", n.Block)
	return p.Err()
}

func checkCIDRs(p *Problems, field string, list []string) {
	if len(list) > MaxCIDRs {
		p.Add(field, "at most %d entries", MaxCIDRs)
		return
	}
	for i, s := range list {
		if msg := CIDRProblem(s); msg != "" {
			p.Add(fmt.Sprintf("%s[%d]", field, i), "%s", msg)
		}
	}
}

// CIDRProblem returns "" when s is an IPv4 or IPv6 CIDR without host bits
// ("10.0.0.0/8", "2001:db8::/32") or a single address ("203.0.113.7"), else
// what is wrong with it.
func CIDRProblem(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > 64 || strings.ContainsAny(s, "% \t") {
		return fmt.Sprintf("%q is not a CIDR (such as 10.0.0.0/8 or 2001:db8::/32) or an IP address", truncate(s))
	}
	if !strings.Contains(s, "/") {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Sprintf("%q is not a CIDR (such as 10.0.0.0/8 or 2001:db8::/32) or an IP address", truncate(s))
		}
		return ""
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Sprintf("%q is not a CIDR (such as 10.0.0.0/8 or 2001:db8::/32) or an IP address", truncate(s))
	}
	if m := pfx.Masked(); m != pfx {
		return fmt.Sprintf("%q has host bits set: did you mean %s?", s, m)
	}
	return ""
}

// ParseCIDR parses what CIDRProblem accepts into a prefix, a single address
// becoming a /32 or /128. IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) are
// turned into their IPv4 form, so they match the (unmapped) client addresses
// the gateway compares them with.
func ParseCIDR(s string) (netip.Prefix, error) {
	if msg := CIDRProblem(s); msg != "" {
		return netip.Prefix{}, fmt.Errorf("%s", msg)
	}
	var pfx netip.Prefix
	if !strings.Contains(s, "/") {
		a, _ := netip.ParseAddr(s)
		pfx = netip.PrefixFrom(a, a.BitLen())
	} else {
		pfx, _ = netip.ParsePrefix(s)
	}
	if a := pfx.Addr(); a.Is4In6() {
		bits := pfx.Bits() - 96
		if bits < 0 {
			// Wider than the mapped range: it also covers non-mapped IPv6
			// space, which an unmapped IPv4 client address never is in.
			return pfx, nil
		}
		return netip.PrefixFrom(a.Unmap(), bits).Masked(), nil
	}
	return pfx, nil
}
