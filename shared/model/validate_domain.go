package model

// Validation of custom domains. A domain's hostname is matched against the
// Host header and the TLS SNI name of every gateway request and becomes part
// of the token audience (https://<hostname>/mcp), so it must have exactly one
// spelling: lower-case ASCII, no trailing dot, no port, internationalised
// names as IDNA A-labels. Anything looser would let two spellings of one
// name route (or authenticate) differently.

import (
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// Hostname limits (RFC 1035, section 2.3.4).
const (
	MaxHostnameLen = 253
	MaxLabelLen    = 63
)

// Validate checks a domain.
func (d Domain) Validate() error {
	var p Problems
	if msg := HostnameProblem(d.Hostname); msg != "" {
		p.Add("hostname", "%s", msg)
	}
	if d.TenantID != "" && !ValidTenantID(d.TenantID) {
		p.Add("tenant_id", "must match ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$ (or be absent for a platform domain)")
	}
	if d.AuthorizationServer != "" {
		CheckIssuerURL(&p, "authorization_server", d.AuthorizationServer)
	}
	return p.Err()
}

// HostnameProblem returns "" when host is a hostname a Domain may carry, else
// what is wrong with it: a lower-case DNS name of at most 253 characters and
// at least two labels, each 1–63 of a-z, 0-9 and '-' (not at either end),
// with internationalised labels written as valid IDNA A-labels ("xn--...").
// Ports, IP literals, a trailing dot and wildcards are refused with a message
// saying so, since those are the likely mistakes.
func HostnameProblem(host string) string {
	switch {
	case host == "":
		return "is required"
	case len(host) > MaxHostnameLen:
		return fmt.Sprintf("longer than %d characters", MaxHostnameLen)
	case isIPLiteral(host):
		return "must be a DNS name, not an IP address"
	case strings.Contains(host, ":"):
		return "must not include a port (or a scheme): give the bare hostname"
	case strings.Contains(host, "*"):
		return "wildcards are not supported: register each hostname"
	case strings.HasSuffix(host, "."):
		return "must not end with a dot"
	case strings.ContainsFunc(host, func(r rune) bool { return r > 0x7e || r < 0x21 }):
		return "must be printable ASCII: write internationalised names as IDNA A-labels (xn--...)"
	case strings.ToLower(host) != host:
		return "must be lower-case"
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "must have at least two labels (such as mcp.example.com)"
	}
	for _, l := range labels {
		if msg := labelProblem(l); msg != "" {
			return fmt.Sprintf("label %q: %s", truncate(l), msg)
		}
	}
	// No top-level domain is all digits; a name ending in one (10.1, 1.2.3.999)
	// reads as an IP address to some resolvers and URL parsers.
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "the last label must not be all digits (it reads as an IP address)"
	}
	return ""
}

// isIPLiteral reports whether host is an IPv4 or IPv6 address, bracketed or not.
func isIPLiteral(host string) bool {
	h := host
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end > 0 {
			h = h[1:end]
		}
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// labelProblem checks one label of a lower-case ASCII hostname.
func labelProblem(l string) string {
	switch {
	case l == "":
		return "empty label (two dots in a row, or a leading dot)"
	case len(l) > MaxLabelLen:
		return fmt.Sprintf("longer than %d characters", MaxLabelLen)
	case strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return "only a-z, 0-9 and '-' are allowed"
	case l[0] == '-' || l[len(l)-1] == '-':
		return "must not start or end with '-'"
	case len(l) >= 4 && l[2:4] == "--" && !strings.HasPrefix(l, "xn--"):
		// RFC 5891, section 4.2.3.1: such labels are reserved for encodings.
		return "'--' in the third and fourth positions is reserved for IDNA (xn--)"
	case strings.HasPrefix(l, "xn--"):
		return aLabelProblem(l)
	}
	return ""
}

// aLabelProblem checks that an "xn--" label is the canonical A-label of a
// valid internationalised label: it decodes, and encoding the result again
// gives the same label back.
func aLabelProblem(l string) string {
	u, err := idna.Registration.ToUnicode(l)
	if err != nil || u == l {
		return "is not a valid IDNA A-label"
	}
	a, err := idna.Registration.ToASCII(u)
	if err != nil || a != l {
		return "is not the canonical IDNA A-label of its name"
	}
	return ""
}

// CheckIssuerURL records a problem unless raw is an OAuth issuer identifier
// a gateway may advertise (RFC 8414, section 2): an https URL (http only to a
// loopback address, for development) without user info, query or fragment.
func CheckIssuerURL(p *Problems, field, raw string) {
	u, ok := checkHTTPSURL(p, field, raw)
	if !ok {
		return
	}
	if u.RawQuery != "" || u.ForceQuery {
		p.Add(field, "must not have a query")
	}
}
