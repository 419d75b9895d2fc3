// Package config is the gateway's configuration: one struct, its defaults,
// and the single place where every environment variable the gateway reads
// (PORTCULLIS_*, NATS_URL; CONTRACTS.md "Gateway") is bound to a field.
// Nothing else in the data plane reads the environment.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/envcheck"
	"github.com/portcullis/portcullis/shared/model"
	"github.com/portcullis/portcullis/shared/seal"
)

// Environment variable names (CONTRACTS.md), as constants so tests and
// error messages name exactly what an operator sets.
const (
	EnvListen         = "PORTCULLIS_LISTEN"
	EnvPublicURL      = "PORTCULLIS_PUBLIC_URL"
	EnvTLSCertFile    = "PORTCULLIS_TLS_CERT_FILE"
	EnvTLSKeyFile     = "PORTCULLIS_TLS_KEY_FILE"
	EnvInsecureHTTP   = "PORTCULLIS_INSECURE_HTTP"
	EnvNATSURL        = "NATS_URL"
	EnvBundleKeysFile = "PORTCULLIS_BUNDLE_KEYS_FILE"
	EnvBundleSealKey  = "PORTCULLIS_BUNDLE_SEAL_KEY"
	EnvSnapshotFile   = "PORTCULLIS_SNAPSHOT_FILE"
	EnvGatewayID      = "PORTCULLIS_GATEWAY_ID"
	EnvSessionKeys    = "PORTCULLIS_SESSION_KEYS"
	EnvIssuers        = "PORTCULLIS_ISSUERS"
	EnvAllowedOrigins = "PORTCULLIS_ALLOWED_ORIGINS"
	EnvLogLevel       = "PORTCULLIS_LOG_LEVEL"
	// EnvTrustedProxies: comma-separated CIDRs (or addresses) of the load
	// balancers in front of the gateway, whose X-Forwarded-For is believed
	// for the client address (network rules, policies, audit).
	EnvTrustedProxies = "PORTCULLIS_TRUSTED_PROXIES"
	// EnvCountryHeader names the header a trusted proxy sets to the client's
	// ISO 3166-1 alpha-2 country (CF-IPCountry, CloudFront-Viewer-Country);
	// read only from PORTCULLIS_TRUSTED_PROXIES peers. Unset: no country.
	EnvCountryHeader = "PORTCULLIS_COUNTRY_HEADER"
)

// headerNamePattern is an HTTP field name (RFC 9110 token).
var headerNamePattern = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")

// gatewayIDPattern is what the control plane's fleet accepts (and
// bundlestore checks again).
var gatewayIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// IssuerConfig is one trusted token issuer (PORTCULLIS_ISSUERS entry).
type IssuerConfig = authn.IssuerConfig

// Config is everything a gateway needs to start.
type Config struct {
	// Listen is the address served (TLS unless InsecureHTTP). Port 0 picks
	// a free port.
	Listen string
	// PublicURL is the platform's default gateway URL as agents reach it
	// (scheme://host[:port], no path). Its host is the default host; the
	// resource URL (token audience) there is PublicURL + "/mcp".
	PublicURL string
	// TLSCertFiles / TLSKeyFiles are same-length lists of PEM files; SNI
	// picks the certificate by hostname, the first is the default.
	TLSCertFiles []string
	TLSKeyFiles  []string
	// InsecureHTTP serves plain HTTP. Only accepted with a loopback Listen
	// address (local development, or TLS terminated by a sidecar).
	InsecureHTTP bool
	// NATSURL is the NATS server (JetStream) the bundles come from.
	NATSURL string
	// BundleKeysFile is the JWKS of the bundle-signing public keys (the
	// document GET /v1/bundle-signing-keys serves).
	BundleKeysFile string
	// BundleSealKey opens backend secrets inside bundles (32 bytes, the
	// control plane's PORTCULLIS_BUNDLE_SEAL_KEY).
	BundleSealKey []byte
	// SnapshotFile keeps the last good bundles for starts without NATS;
	// empty disables it.
	SnapshotFile string
	// GatewayID names this replica in heartbeats (GET /v1/fleet); default
	// the hostname.
	GatewayID string
	// SessionKeys sign MCP session tokens; every replica holds the same.
	SessionKeys [][]byte
	// Issuers are the trusted token issuers. Their audiences are not used
	// by the gateway: the audience is the resource URL of each request's
	// host. FromEnv fills in PublicURL + "/mcp" where none is given, which
	// shared/authn requires.
	Issuers []authn.IssuerConfig
	// AllowedOrigins are browser origins allowed to call /mcp.
	AllowedOrigins []string
	LogLevel       slog.Level
	// TrustedProxies are the proxies whose X-Forwarded-For is believed;
	// empty (the default): the client address is the connection's peer.
	TrustedProxies []netip.Prefix
	// CountryHeader is the header holding the client's country, set by a
	// trusted proxy; empty (the default): the country is unknown. Requests
	// not coming from TrustedProxies never have a country, whatever they send.
	CountryHeader string

	// Not bound to the environment: fixed values tests may shorten.
	ShutdownTimeout    time.Duration // time in-flight requests get to finish
	CertReloadInterval time.Duration // how often certificate files are checked for renewal
	BootTimeout        time.Duration // wait for NATS before starting from the snapshot file
	HeartbeatInterval  time.Duration
	Version            string // reported in heartbeats and initialize
}

// DefaultConfig returns the defaults of CONTRACTS.md. Keys, issuers and
// certificates have no default: Verify reports them missing.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Listen:             "127.0.0.1:8443",
		PublicURL:          "https://127.0.0.1:8443",
		NATSURL:            "nats://127.0.0.1:4222",
		GatewayID:          sanitizeID(host),
		LogLevel:           slog.LevelInfo,
		ShutdownTimeout:    30 * time.Second,
		CertReloadInterval: time.Minute,
		BootTimeout:        10 * time.Second,
		HeartbeatInterval:  10 * time.Second,
		Version:            "dev",
	}
}

// sanitizeID turns a hostname into a valid gateway id ("gateway" if nothing
// is left).
func sanitizeID(host string) string {
	id := strings.Map(func(r rune) rune {
		if r < 128 && (r == '_' || r == '.' || r == ':' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			return r
		}
		return -1
	}, host)
	id = strings.TrimLeft(id, "_.:-")
	if len(id) > 128 {
		id = id[:128]
	}
	if id == "" {
		return "gateway"
	}
	return id
}

// FromEnv returns DefaultConfig overridden by every variable getenv reports
// non-empty. It fails on a value it cannot parse (naming the variable, never
// echoing a secret); completeness is Verify's job.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	list := func(name string, dst *[]string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = splitList(v)
		}
	}
	str(EnvListen, &c.Listen)
	str(EnvPublicURL, &c.PublicURL)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	list(EnvTLSCertFile, &c.TLSCertFiles)
	list(EnvTLSKeyFile, &c.TLSKeyFiles)
	if v := strings.TrimSpace(getenv(EnvInsecureHTTP)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", EnvInsecureHTTP, v))
		}
		c.InsecureHTTP = b
	}
	str(EnvNATSURL, &c.NATSURL)
	str(EnvBundleKeysFile, &c.BundleKeysFile)
	if v := getenv(EnvBundleSealKey); strings.TrimSpace(v) != "" {
		k, err := seal.ParseKey(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: want base64 of %d bytes: %w", EnvBundleSealKey, seal.KeySize, err))
		}
		c.BundleSealKey = k
	}
	str(EnvSnapshotFile, &c.SnapshotFile)
	str(EnvGatewayID, &c.GatewayID)
	if v := getenv(EnvSessionKeys); strings.TrimSpace(v) != "" {
		keys, err := mcp.ParseSessionKeys(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvSessionKeys, err))
		}
		c.SessionKeys = keys
	}
	if v := strings.TrimSpace(getenv(EnvIssuers)); v != "" {
		iss, err := parseIssuers(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvIssuers, err))
		}
		c.Issuers = iss
	}
	list(EnvAllowedOrigins, &c.AllowedOrigins)
	if v := strings.TrimSpace(getenv(EnvTrustedProxies)); v != "" {
		proxies, err := parseTrustedProxies(splitList(v))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvTrustedProxies, err))
		}
		c.TrustedProxies = proxies
	}
	str(EnvCountryHeader, &c.CountryHeader)
	if v := strings.TrimSpace(getenv(EnvLogLevel)); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not debug, info, warn or error", EnvLogLevel, v))
		}
	}
	c.Issuers = c.WithResourceAudience(c.Issuers)
	return c, errors.Join(errs...)
}

// WithResourceAudience returns issuers with ResourceURL() as the audience of
// those that list none. shared/authn insists on audiences (a control plane
// must never accept any); the gateway checks the per-host resource URL
// instead, so for it the list only documents the default.
func (c Config) WithResourceAudience(issuers []authn.IssuerConfig) []authn.IssuerConfig {
	out := make([]authn.IssuerConfig, len(issuers))
	for i, is := range issuers {
		if len(is.Audiences) == 0 {
			is.Audiences = []string{c.ResourceURL()}
		}
		out[i] = is
	}
	return out
}

// ResourceURL is the resource URL (token audience) on the default host.
func (c Config) ResourceURL() string { return strings.TrimRight(c.PublicURL, "/") + "/mcp" }

// TLS reports whether the gateway serves TLS (certificates are configured).
func (c Config) TLS() bool { return len(c.TLSCertFiles) > 0 }

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseTrustedProxies parses CIDRs without host bits or single addresses.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := model.ParseCIDR(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parseIssuers decodes PORTCULLIS_ISSUERS strictly: a misspelt field must
// fail start-up, not silently change what is accepted.
func parseIssuers(v string) ([]authn.IssuerConfig, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(v)))
	dec.DisallowUnknownFields()
	var iss []authn.IssuerConfig
	if err := dec.Decode(&iss); err != nil {
		return nil, fmt.Errorf("not a JSON list of issuers: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON list")
	}
	return iss, nil
}

// Verify reports every problem that would keep the gateway from starting
// safely, joined into one error.
func (c Config) Verify() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(c.verifyTransport())
	add(c.verifyPublicURL())
	if c.NATSURL == "" {
		add(fmt.Errorf("%s is required", EnvNATSURL))
	} else {
		add(envcheck.NATSURL(EnvNATSURL, c.NATSURL))
	}
	if c.BundleKeysFile == "" {
		add(fmt.Errorf("%s is required: the JWKS of the bundle-signing keys (GET /v1/bundle-signing-keys)", EnvBundleKeysFile))
	}
	if len(c.BundleSealKey) != seal.KeySize {
		add(fmt.Errorf("%s is required: base64 of %d bytes, the control plane's", EnvBundleSealKey, seal.KeySize))
	}
	if !gatewayIDPattern.MatchString(c.GatewayID) {
		add(fmt.Errorf("%s: %q must match %s", EnvGatewayID, c.GatewayID, gatewayIDPattern))
	}
	if len(c.SessionKeys) == 0 {
		add(fmt.Errorf("%s is required: comma-separated base64 keys of at least %d bytes, the same on every replica", EnvSessionKeys, mcp.MinSessionKeyLen))
	}
	for i, k := range c.SessionKeys {
		if len(k) < mcp.MinSessionKeyLen {
			add(fmt.Errorf("%s: key %d is shorter than %d bytes", EnvSessionKeys, i, mcp.MinSessionKeyLen))
		}
	}
	errs = append(errs, envcheck.Issuers(EnvIssuers, c.Issuers, "no agent can call the gateway", false)...)
	add(c.verifyCountryHeader())
	if c.ShutdownTimeout <= 0 || c.CertReloadInterval <= 0 || c.BootTimeout <= 0 || c.HeartbeatInterval <= 0 {
		add(errors.New("shutdown timeout, certificate reload interval, boot timeout and heartbeat interval must be positive"))
	}
	return errors.Join(errs...)
}

// verifyTransport: TLS with any address, or plain HTTP when explicitly
// enabled and bound to loopback, where nothing off the machine can see the
// bearer tokens.
func (c Config) verifyTransport() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port: %v", EnvListen, c.Listen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s: %q has no valid port", EnvListen, c.Listen)
	}
	switch {
	case len(c.TLSCertFiles) != len(c.TLSKeyFiles):
		return fmt.Errorf("%s and %s must list the same number of files (%d and %d)", EnvTLSCertFile, EnvTLSKeyFile, len(c.TLSCertFiles), len(c.TLSKeyFiles))
	case c.TLS() && c.InsecureHTTP:
		return fmt.Errorf("%s=true and TLS certificates are both set; choose one", EnvInsecureHTTP)
	case c.TLS():
		return nil
	case !c.InsecureHTTP:
		return fmt.Errorf("%s and %s are required (or %s=true on a loopback %s for plain HTTP)", EnvTLSCertFile, EnvTLSKeyFile, EnvInsecureHTTP, EnvListen)
	case !isLoopback(host):
		return fmt.Errorf("%s: %q is not a loopback address; plain HTTP (%s=true) is only allowed on 127.0.0.1, ::1 or localhost", EnvListen, c.Listen, EnvInsecureHTTP)
	}
	return nil
}

// IsLoopback reports whether host (no port) is a loopback IP or "localhost".
// An empty host (every interface) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) verifyPublicURL() error {
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%s: %q is not scheme://host[:port]", EnvPublicURL, c.PublicURL)
	case strings.Trim(u.Path, "/") != "":
		return fmt.Errorf("%s: %q has a path; the gateway serves /mcp at the root", EnvPublicURL, c.PublicURL)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && c.InsecureHTTP:
		return nil
	default:
		return fmt.Errorf("%s: %q must be https (http only with %s=true)", EnvPublicURL, c.PublicURL, EnvInsecureHTTP)
	}
}

// verifyCountryHeader: a valid field name, and trusted proxies to read it
// from (without them it would never be read, which is surely not what the
// operator meant).
func (c Config) verifyCountryHeader() error {
	switch {
	case c.CountryHeader == "":
		return nil
	case !headerNamePattern.MatchString(c.CountryHeader):
		return fmt.Errorf("%s: %q is not an HTTP header name", EnvCountryHeader, c.CountryHeader)
	case len(c.TrustedProxies) == 0:
		return fmt.Errorf("%s is set but %s is empty: the country header is only believed from trusted proxies", EnvCountryHeader, EnvTrustedProxies)
	}
	return nil
}

// LogValue keeps secrets (seal key, session keys) out of logs.
func (c Config) LogValue() slog.Value {
	issuers := make([]string, 0, len(c.Issuers))
	for _, is := range c.Issuers {
		issuers = append(issuers, is.Issuer)
	}
	nats := "(not a URL; not logged)"
	if u, err := url.Parse(c.NATSURL); err == nil {
		nats = u.Redacted()
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("public_url", c.PublicURL),
		slog.Bool("tls", c.TLS()),
		slog.Int("certificates", len(c.TLSCertFiles)),
		slog.String("nats", nats),
		slog.String("gateway_id", c.GatewayID),
		slog.String("snapshot_file", c.SnapshotFile),
		slog.Any("issuers", issuers),
		slog.Any("allowed_origins", c.AllowedOrigins),
		slog.String("log_level", c.LogLevel.String()),
		slog.Int("trusted_proxies", len(c.TrustedProxies)),
		slog.String("country_header", c.CountryHeader),
	)
}
