package authn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// IssuerConfig is one trusted token issuer (Frontegg or any OIDC provider).
type IssuerConfig struct {
	// Issuer must equal the token's iss exactly.
	Issuer string `json:"issuer"`
	// JWKSURL is where the issuer's keys are; empty means OIDC discovery at
	// Issuer + "/.well-known/openid-configuration".
	JWKSURL string `json:"jwks_url,omitempty"`
	// Audiences: a token is accepted when its aud contains one of them
	// (at the gateway, its resource URL, RFC 8707). Required.
	Audiences []string `json:"audiences"`
	// Algorithms is the signature allow-list; default DefaultAlgorithms.
	// HS* and none are refused: a JWKS publishes public keys, and a shared
	// secret would let every party that can verify also mint tokens.
	Algorithms []string `json:"algorithms,omitempty"`
	// Claim names (a dotted name such as "realm_access.roles" reaches into
	// nested objects when no claim has the literal name).
	TenantClaim      string `json:"tenant_claim,omitempty"`      // default "tenantId"
	RolesClaim       string `json:"roles_claim,omitempty"`       // default "roles"
	PermissionsClaim string `json:"permissions_claim,omitempty"` // default "permissions"
	EmailClaim       string `json:"email_claim,omitempty"`       // default "email"
}

// Config configures a Validator.
type Config struct {
	Issuers []IssuerConfig
	// Skew is the clock tolerance on exp, nbf and iat; default 30s.
	Skew time.Duration
	// MinRefreshInterval is the least time between two fetches of one
	// issuer's JWKS, so tokens with made-up kids cannot make us hammer the
	// issuer; default 10s.
	MinRefreshInterval time.Duration
	// MaxKeyAge is how long a fetched JWKS is used before it is fetched again
	// on the next validation (so a key the issuer removed stops being
	// accepted); default 15m. A failed refresh keeps the keys already held.
	MaxKeyAge time.Duration
	// FetchTimeout bounds one discovery or JWKS fetch; default 5s.
	FetchTimeout time.Duration
	HTTPClient   *http.Client     // default: a client with a 10s timeout
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // default slog.Default()
}

// DefaultAlgorithms are the asymmetric algorithms accepted unless an issuer
// lists its own.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}

// supportedAlgorithms are the algorithms an issuer may list.
var supportedAlgorithms = append(slices.Clone(DefaultAlgorithms), "ES512")

const (
	defaultSkew               = 30 * time.Second
	defaultMinRefreshInterval = 10 * time.Second
	defaultMaxKeyAge          = 15 * time.Minute
	defaultFetchTimeout       = 5 * time.Second
	defaultTenantClaim        = "tenantId"
	defaultRolesClaim         = "roles"
	defaultPermissionsClaim   = "permissions"
	defaultEmailClaim         = "email"
)

// withDefaults returns cfg with defaults filled in, or an error describing the
// first invalid setting.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Issuers) == 0 {
		return cfg, errors.New("authn: no issuers configured")
	}
	setDefault(&cfg.Skew, defaultSkew)
	setDefault(&cfg.MinRefreshInterval, defaultMinRefreshInterval)
	setDefault(&cfg.MaxKeyAge, defaultMaxKeyAge)
	setDefault(&cfg.FetchTimeout, defaultFetchTimeout)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 2 * defaultFetchTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	issuers := make([]IssuerConfig, len(cfg.Issuers))
	seen := map[string]bool{}
	for i, ic := range cfg.Issuers {
		ic, err := ic.withDefaults()
		if err != nil {
			return cfg, err
		}
		if seen[ic.Issuer] {
			return cfg, fmt.Errorf("authn: issuer %q configured twice", ic.Issuer)
		}
		seen[ic.Issuer] = true
		issuers[i] = ic
	}
	cfg.Issuers = issuers
	return cfg, nil
}

func (ic IssuerConfig) withDefaults() (IssuerConfig, error) {
	if ic.Issuer == "" {
		return ic, errors.New("authn: issuer without a name")
	}
	if err := checkURL(ic.Issuer); err != nil {
		return ic, fmt.Errorf("authn: issuer %q: %w", ic.Issuer, err)
	}
	if ic.JWKSURL != "" {
		if err := checkURL(ic.JWKSURL); err != nil {
			return ic, fmt.Errorf("authn: issuer %q jwks_url: %w", ic.Issuer, err)
		}
	}
	if len(ic.Audiences) == 0 || slices.Contains(ic.Audiences, "") {
		return ic, fmt.Errorf("authn: issuer %q: audiences required (and non-empty)", ic.Issuer)
	}
	if len(ic.Algorithms) == 0 {
		ic.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	for _, a := range ic.Algorithms {
		if strings.HasPrefix(strings.ToUpper(a), "HS") || strings.EqualFold(a, "none") {
			return ic, fmt.Errorf("authn: issuer %q: algorithm %q is never accepted", ic.Issuer, a)
		}
		if !slices.Contains(supportedAlgorithms, a) {
			return ic, fmt.Errorf("authn: issuer %q: unsupported algorithm %q", ic.Issuer, a)
		}
	}
	setDefault(&ic.TenantClaim, defaultTenantClaim)
	setDefault(&ic.RolesClaim, defaultRolesClaim)
	setDefault(&ic.PermissionsClaim, defaultPermissionsClaim)
	setDefault(&ic.EmailClaim, defaultEmailClaim)
	return ic, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
