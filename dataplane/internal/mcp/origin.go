package mcp

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originPolicy decides whether a browser-sent Origin may talk to the endpoint. The MCP
// spec requires servers to validate Origin to stop DNS-rebinding attacks from web pages.
// Requests without an Origin header (every non-browser agent, the official SDK clients
// among them) are not affected.
type originPolicy struct {
	allowed  map[string]bool // normalised "scheme://host[:port]"
	sameHost bool
}

func newOriginPolicy(allowed []string, sameHost bool) (*originPolicy, error) {
	p := &originPolicy{allowed: make(map[string]bool, len(allowed)), sameHost: sameHost}
	for _, o := range allowed {
		n, ok := normaliseOrigin(o)
		if !ok {
			return nil, fmt.Errorf("mcp: allowed origin %q is not scheme://host[:port]", o)
		}
		p.allowed[n] = true
	}
	return p, nil
}

// permits reports whether r may proceed. "null" and unparsable origins are refused.
func (p *originPolicy) permits(r *http.Request) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return true
	}
	if len(values) > 1 {
		return false
	}
	n, ok := normaliseOrigin(values[0])
	if !ok {
		return false
	}
	if p.allowed[n] {
		return true
	}
	return p.sameHost && sameHost(n, r.Host)
}

// normaliseOrigin lowercases scheme and host and drops the scheme's default port.
func normaliseOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" || port == defaultPort(scheme) {
		return scheme + "://" + hostForURL(host), true
	}
	return scheme + "://" + net.JoinHostPort(host, port), true
}

// sameHost compares a normalised origin with the request's Host header. When Host has
// no port the origin must use its scheme's default port; TLS is often terminated in
// front of the gateway, so the request's own scheme says nothing reliable.
func sameHost(normalisedOrigin, requestHost string) bool {
	u, err := url.Parse(normalisedOrigin)
	if err != nil {
		return false
	}
	host, port, err := net.SplitHostPort(requestHost)
	if err != nil {
		host, port = requestHost, ""
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" || host != u.Hostname() {
		return false
	}
	originPort := u.Port()
	if originPort == "" {
		originPort = defaultPort(u.Scheme)
	}
	if port == "" {
		return originPort == defaultPort(u.Scheme)
	}
	return port == originPort
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// CORS lets browser-based MCP clients on allowed origins (an inspector, a web agent)
// use the endpoint. Only origins that passed the origin policy get these headers.
// Credentials are bearer tokens in Authorization, never cookies, so
// Access-Control-Allow-Credentials is not needed and not sent.
const (
	corsAllowMethods  = "POST, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
	corsExposeHeaders = "Mcp-Session-Id, WWW-Authenticate"
	corsMaxAge        = "600"
)

// setCORSHeaders adds the response headers for a permitted cross-origin request.
func setCORSHeaders(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	w.Header().Add("Vary", "Origin")
	if origin == "" {
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// IsPreflight reports whether r is a CORS preflight request. The
// authentication layer lets exactly these through without a token, so it
// uses this test too: the two layers cannot disagree about what a preflight is.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// servePreflight answers a preflight of a permitted origin. It needs no principal:
// browsers never send credentials on a preflight, so the authentication layer in front
// must let it through too.
func servePreflight(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Methods", corsAllowMethods)
	w.Header().Set("Access-Control-Allow-Headers", corsAllowHeaders)
	w.Header().Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}
