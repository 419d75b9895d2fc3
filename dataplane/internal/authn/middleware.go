package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/dataplane/internal/bundlestore"
	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/netrules"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	sharedauthn "github.com/portcullis/portcullis/shared/authn"
)

// TokenValidator checks a bearer token for one audience; *authn.Validator of
// shared/authn implements it.
type TokenValidator interface {
	ValidateAudience(ctx context.Context, raw, audience string) (sharedauthn.Principal, error)
}

// Config configures an Authenticator.
type Config struct {
	// PublicURL is the default gateway URL (scheme://host[:port]). Required.
	PublicURL string
	// Validator validates tokens. Required.
	Validator TokenValidator
	// Bundles supplies the custom domains (global bundle); nil serves the
	// default host only.
	Bundles bundlestore.Source
	// AuthorizationServers are advertised in the protected-resource metadata
	// on hosts whose domain names none. Required (the configured issuers).
	AuthorizationServers []string
	// ResourceName is the human-readable name in the metadata.
	ResourceName string
	// ScopesSupported, when set, is advertised in the metadata.
	ScopesSupported []string
	Logger          *slog.Logger
	// TrustedProxies are the load balancers and proxies in front of the
	// gateway whose X-Forwarded-For is believed (netrules.ClientIP); empty:
	// the client address is the connection's peer, whatever headers say.
	TrustedProxies []netip.Prefix
	// CountryHeader names the header a trusted proxy (CDN, load balancer)
	// sets to the client's country, e.g. CF-IPCountry or
	// CloudFront-Viewer-Country; empty: the country is unknown. It is read
	// only on requests whose peer is in TrustedProxies.
	CountryHeader string
	// Registerer receives the layer's metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// Authenticator is the authentication middleware and the metadata endpoint.
type Authenticator struct {
	cfg     Config
	router  *router
	log     *slog.Logger
	metrics *metrics
}

// New checks cfg and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" {
		return nil, fmt.Errorf("authn: PublicURL %q is not scheme://host[:port]", cfg.PublicURL)
	}
	if cfg.Validator == nil {
		return nil, errors.New("authn: Validator is required")
	}
	if len(cfg.AuthorizationServers) == 0 {
		return nil, errors.New("authn: AuthorizationServers is required")
	}
	if cfg.ResourceName == "" {
		cfg.ResourceName = "Portcullis MCP gateway"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("authn: register metrics: %w", err)
	}
	return &Authenticator{
		cfg: cfg, router: newRouter(u, cfg.Bundles), metrics: m,
		log: cfg.Logger.With("component", "authn"),
	}, nil
}

// Route returns what the gateway serves on r's Host, or false when it does
// not serve that host.
func (a *Authenticator) Route(r *http.Request) (Route, bool) { return a.router.route(r.Host) }

// Middleware authenticates every request before next (the MCP handler); see
// the package comment for the decisions.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := a.Route(r)
		if !ok {
			a.count(outcomeUnknownHost)
			a.log.Info("request for a host the gateway does not serve", "host", truncate(r.Host, 128))
			writeError(w, r, http.StatusMisdirectedRequest, "misdirected_request", "this gateway does not serve that host")
			return
		}
		if mcp.IsPreflight(r) {
			a.count(outcomePreflight)
			next.ServeHTTP(w, r)
			return
		}
		raw, present := bearerToken(r)
		if !present {
			a.count(outcomeNoToken)
			a.challenge(w, r, route, "")
			return
		}
		p, err := a.cfg.Validator.ValidateAudience(r.Context(), raw, route.Resource)
		if err != nil {
			a.rejectToken(w, r, route, err)
			return
		}
		if route.TenantID != "" && p.TenantID != route.TenantID {
			a.count(outcomeWrongTenant)
			a.log.Warn("token of another tenant on a tenant domain",
				"host", route.Host, "domain_tenant", route.TenantID, "token_tenant", p.TenantID, "sub", p.Subject)
			writeError(w, r, http.StatusForbidden, "forbidden", "this token is not valid for this domain")
			return
		}
		a.count(outcomeOK)
		ctx := mcp.ContextWithPrincipal(r.Context(), p)
		ctx = pipeline.ContextWithRequestInfo(ctx, a.requestInfo(r))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// maxUserAgent bounds the user agent kept for the audit trail and policies.
const maxUserAgent = 256

// requestInfo is what the pipeline learns about the HTTP request: the client
// address (network rules, policies, audit), the user agent and the country.
func (a *Authenticator) requestInfo(r *http.Request) pipeline.RequestInfo {
	info := pipeline.RequestInfo{
		UserAgent: strings.ToValidUTF8(truncate(r.UserAgent(), maxUserAgent), ""),
		Country:   a.country(r),
	}
	if ip := netrules.ClientIP(r, a.cfg.TrustedProxies); ip.IsValid() {
		info.ClientIP = ip.String()
	}
	return info
}

func (a *Authenticator) rejectToken(w http.ResponseWriter, r *http.Request, route Route, err error) {
	reason := err.Error()
	if errors.Is(err, sharedauthn.ErrKeysUnavailable) {
		// An issuer outage, not an attack: worth an operator's attention.
		a.count(outcomeKeysUnavailable)
		a.log.Warn("token not checked: issuer keys unavailable", "host", route.Host, "err", reason)
	} else {
		a.count(outcomeInvalidToken)
		a.log.Info("invalid token", "host", route.Host, "reason", reason)
	}
	a.challenge(w, r, route, "invalid_token")
}

// challenge answers 401 with the RFC 9728 pointer to the metadata; errCode
// is RFC 6750's error ("" when no token was sent).
func (a *Authenticator) challenge(w http.ResponseWriter, r *http.Request, route Route, errCode string) {
	v := fmt.Sprintf(`Bearer resource_metadata=%q`, route.BaseURL+MetadataPath)
	if errCode != "" {
		v += fmt.Sprintf(`, error=%q`, errCode)
	}
	w.Header().Set("WWW-Authenticate", v)
	code, desc := "unauthorized", "a bearer token is required"
	if errCode != "" {
		code, desc = errCode, "the bearer token is not valid here"
	}
	writeError(w, r, http.StatusUnauthorized, code, desc)
}

func (a *Authenticator) count(outcome string) { a.metrics.requests.WithLabelValues(outcome).Inc() }

// bearerToken returns the token of the Authorization header. present is
// true whenever an Authorization header was sent, even one that is not a
// well-formed Bearer credential (it is then returned as is and fails
// validation, which answers error="invalid_token").
func bearerToken(r *http.Request) (token string, present bool) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", false
	case 1:
	default:
		return "", true // ambiguous: refuse rather than pick one
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// writeError writes the small JSON error body of the layer. Browser agents
// need the CORS headers to read the challenge; the body holds nothing
// secret, so any origin may read it.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
