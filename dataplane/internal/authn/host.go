package authn

import (
	"net"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/model"
)

// Route is what the gateway serves on the host a request arrived on.
type Route struct {
	// Host is the request's host, lower-case, without a port.
	Host string
	// BaseURL is scheme://host[:port] as agents reach it here: PUBLIC_URL on
	// the default host.
	BaseURL string
	// Resource is the resource URL on this host: BaseURL + "/mcp", the
	// audience tokens must carry.
	Resource string
	// TenantID is the tenant owning the custom domain ("" on the default
	// host and on platform domains): only its tokens are accepted.
	TenantID string
	// AuthorizationServer is the domain's advertised issuer ("" = default).
	AuthorizationServer string
	// Default is true on PUBLIC_URL's host.
	Default bool
}

// router maps Host headers to Routes. The custom domains come from the
// global bundle; the index is rebuilt when the global bundle changes and
// swapped atomically, so lookups take no lock.
type router struct {
	public     *url.URL
	publicHost string
	// The default host's Route, the same for every request: built once.
	publicBase, publicResource string
	bundles                    bundlestore.Source // nil: the default host only
	index                      atomic.Pointer[domainIndex]
}

type domainIndex struct {
	global *bundle.Bundle // the bundle the index was built from
	byHost map[string]model.Domain
}

func newRouter(public *url.URL, bundles bundlestore.Source) *router {
	base := strings.TrimRight(public.String(), "/")
	return &router{
		public: public, publicHost: strings.ToLower(public.Hostname()),
		publicBase: base, publicResource: base + "/mcp", bundles: bundles,
	}
}

// route returns the Route for a Host header, or false when the gateway does
// not serve that host.
func (rt *router) route(hostHeader string) (Route, bool) {
	host, port, ok := splitHost(hostHeader)
	if !ok {
		return Route{}, false
	}
	if host == rt.publicHost {
		return Route{Host: host, BaseURL: rt.publicBase, Resource: rt.publicResource, Default: true}, true
	}
	d, ok := rt.domains()[host]
	if !ok {
		return Route{}, false
	}
	// The port the client used is part of the URL it knows us by (and so of
	// the resource it asked a token for); the scheme's default is dropped as
	// clients canonicalise it away.
	hostPort := hostForURL(host)
	if port != "" && !(rt.public.Scheme == "https" && port == "443") && !(rt.public.Scheme == "http" && port == "80") {
		hostPort = net.JoinHostPort(host, port)
	}
	base := rt.public.Scheme + "://" + hostPort
	return Route{
		Host: host, BaseURL: base, Resource: base + "/mcp",
		TenantID: d.TenantID, AuthorizationServer: d.AuthorizationServer,
	}, true
}

// domains returns the custom domains of the current global bundle by
// hostname.
func (rt *router) domains() map[string]model.Domain {
	if rt.bundles == nil {
		return nil
	}
	g := rt.bundles.Current().Global()
	if idx := rt.index.Load(); idx != nil && idx.global == g {
		return idx.byHost
	}
	idx := &domainIndex{global: g, byHost: map[string]model.Domain{}}
	if g != nil && g.Global != nil {
		for _, e := range g.Global.Domains {
			h := strings.ToLower(strings.TrimSuffix(e.Spec.Hostname, "."))
			if _, dup := idx.byHost[h]; !dup && h != "" {
				idx.byHost[h] = e.Spec
			}
		}
	}
	rt.index.Store(idx)
	return idx.byHost
}

// splitHost parses a Host header into a lower-case host and a port. It
// accepts DNS names and IP literals only: anything else cannot be a domain
// the gateway serves.
func splitHost(h string) (host, port string, ok bool) {
	if h == "" || len(h) > 260 {
		return "", "", false
	}
	host = h
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		host = h[1 : len(h)-1] // an IPv6 literal without a port
	} else if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		var err error
		if host, port, err = net.SplitHostPort(h); err != nil {
			return "", "", false
		}
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if net.ParseIP(host) != nil {
		return host, port, true
	}
	if host == "" || len(host) > 253 {
		return "", "", false
	}
	for _, r := range host {
		if !(r == '-' || r == '.' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9')) {
			return "", "", false
		}
	}
	return host, port, true
}

func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
