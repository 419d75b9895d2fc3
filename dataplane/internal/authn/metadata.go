package authn

import (
	"encoding/json"
	"net/http"
)

// MetadataPath is where the protected-resource metadata is served (RFC 9728
// §3). MetadataPath + "/mcp", the form with the resource's path appended
// (§3.1), serves the same document.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Metadata is the RFC 9728 protected-resource metadata document.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Metadata returns the document for route.
func (a *Authenticator) Metadata(route Route) Metadata {
	servers := a.cfg.AuthorizationServers
	if route.AuthorizationServer != "" {
		servers = []string{route.AuthorizationServer}
	}
	return Metadata{
		Resource:               route.Resource,
		AuthorizationServers:   servers,
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        a.cfg.ScopesSupported,
		ResourceName:           a.cfg.ResourceName,
	}
}

// MetadataHandler serves the metadata of the request's host: public, no
// token, readable from any origin (browser-based agents fetch it before
// they have a token).
func (a *Authenticator) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := a.Route(r)
		if !ok {
			a.count(outcomeUnknownHost)
			writeError(w, r, http.StatusMisdirectedRequest, "misdirected_request", "this gateway does not serve that host")
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET")
			h.Set("Access-Control-Allow-Headers", "Mcp-Protocol-Version")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			writeError(w, r, http.StatusMethodNotAllowed, "method_not_allowed", "use GET")
			return
		}
		h.Set("Content-Type", "application/json")
		// Short: domains and their issuers change through the admin API.
		h.Set("Cache-Control", "public, max-age=60")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_ = json.NewEncoder(w).Encode(a.Metadata(route))
		}
	})
}
