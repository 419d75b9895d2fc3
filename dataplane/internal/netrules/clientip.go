package netrules

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are examined:
// a legitimate chain of proxies is short, and a client can send thousands.
const maxForwardedHops = 32

// ClientIP returns the address a request comes from. It is the
// connection's peer (r.RemoteAddr), unless that peer is inside one of
// trusted (the load balancers and proxies in front of the gateway): then
// X-Forwarded-For is read from the right — each trusted proxy appends the
// address it received the request from — and the first address that is not
// itself a trusted proxy is the client. Entries further left were written by
// the client and are never believed, so a client cannot choose its address by
// sending the header. A malformed entry stops the walk at the last address a
// trusted proxy vouched for. The zero Addr means the peer address is unknown.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(hostOf(r.RemoteAddr))
	if !peer.IsValid() || !contains(trusted, peer) {
		return peer
	}
	hops := forwardedFor(r.Header.Values("X-Forwarded-For"))
	client := peer
	for i := len(hops) - 1; i >= 0 && len(hops)-i <= maxForwardedHops; i-- {
		a := parseAddr(hops[i])
		if !a.IsValid() {
			break
		}
		client = a
		if !contains(trusted, a) {
			break
		}
	}
	return client
}

// FromTrustedProxy reports whether the connection's peer is one of trusted:
// only then may headers that a proxy sets (X-Forwarded-For, a geo-IP country
// header) be believed, since any other client can send them too. It reads
// the peer exactly as ClientIP does.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	peer := parseAddr(hostOf(r.RemoteAddr))
	return peer.IsValid() && contains(trusted, peer)
}

// forwardedFor splits every X-Forwarded-For header (proxies may add a
// header each or extend one) into its entries, in order.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(part))
		}
	}
	return out
}

// hostOf strips the port of a host:port (RemoteAddr is always one, but a
// test or a unix socket may give a bare host).
func hostOf(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return hostport
}

// parseAddr parses an address as a client may appear: IPv4, IPv6, bracketed
// IPv6 with or without a port, IPv4 with a port. IPv4-mapped IPv6 addresses
// are unmapped and zones dropped, so one client has one spelling.
func parseAddr(s string) netip.Addr {
	if len(s) == 0 || len(s) > 64 {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil {
				return netip.Addr{}
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone("")
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies parses a list of CIDRs or addresses (the gateway's
// trusted-proxy configuration).
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
