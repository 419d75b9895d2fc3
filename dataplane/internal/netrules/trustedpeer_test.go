package netrules

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestFromTrustedProxy: only the connection's peer counts; no header makes
// a request look as if a trusted proxy sent it.
func TestFromTrustedProxy(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name, remote string
		trusted      []netip.Prefix
		want         bool
	}{
		{"trusted ipv4 peer", "10.1.2.3:443", trusted, true},
		{"trusted ipv6 peer", "[fd00::1]:443", trusted, true},
		{"mapped trusted peer", "[::ffff:10.1.2.3]:443", trusted, true},
		{"untrusted peer", "198.51.100.7:443", trusted, false},
		{"no trusted proxies configured", "10.1.2.3:443", nil, false},
		{"unparseable peer", "nonsense", trusted, false},
		{"empty peer", "", trusted, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/mcp", nil)
			r.RemoteAddr = c.remote
			r.Header.Set("X-Forwarded-For", "10.9.9.9") // a trusted-looking hop never makes the peer trusted
			if got := FromTrustedProxy(r, c.trusted); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}
