// Package config is the control plane's configuration: one struct, its
// defaults, and the single place where every PORTCULLIS_* environment variable
// (and DATABASE_URL, NATS_URL) is bound to a field. Nothing else in the control
// plane reads the environment, so this file is the complete list of knobs.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/envcheck"
	"github.com/portcullis/portcullis/shared/seal"
	"github.com/portcullis/portcullis/shared/strictjson"
)

// Environment variable names (CONTRACTS.md). Kept as constants so tests and
// error messages name exactly what an operator sets.
const (
	EnvListen        = "PORTCULLIS_LISTEN"
	EnvDatabaseURL   = "DATABASE_URL"
	EnvDBMaxConns    = "PORTCULLIS_DB_MAX_CONNS"
	EnvNATSURL       = "NATS_URL"
	EnvNATSListen    = "PORTCULLIS_NATS_LISTEN"
	EnvNATSDir       = "PORTCULLIS_NATS_DIR"
	EnvNATSReplicas  = "PORTCULLIS_NATS_REPLICAS"
	EnvIssuers       = "PORTCULLIS_ISSUERS"
	EnvMasterKey     = "PORTCULLIS_MASTER_KEY"
	EnvBundleSealKey = "PORTCULLIS_BUNDLE_SEAL_KEY"
	EnvLogLevel      = "PORTCULLIS_LOG_LEVEL"
	EnvTLSCertFile   = "PORTCULLIS_TLS_CERT_FILE"
	EnvTLSKeyFile    = "PORTCULLIS_TLS_KEY_FILE"
	EnvInsecureHTTP  = "PORTCULLIS_INSECURE_HTTP"
	EnvPublicURL     = "PORTCULLIS_PUBLIC_URL"
	// EnvWebhookAllowPrivate lets approval webhooks reach loopback and
	// private addresses (development and tests only).
	EnvWebhookAllowPrivate = "PORTCULLIS_WEBHOOK_ALLOW_PRIVATE"
)

// Config is everything the control plane needs to start.
type Config struct {
	// Listen is the admin API address. Port 0 picks a free port. With TLS
	// any address is accepted; plain HTTP only on loopback (see InsecureHTTP).
	Listen string
	// TLSCertFiles / TLSKeyFiles are same-length lists of PEM files (comma-
	// separated in the environment); SNI picks the certificate by hostname,
	// the first is the default. Renewed files are reloaded in place.
	TLSCertFiles []string
	TLSKeyFiles  []string
	// InsecureHTTP serves plain HTTP: only when set explicitly, and only on a
	// loopback Listen address, where no bearer token crosses the network.
	InsecureHTTP bool
	// PublicURL is the admin API's base URL as people and gateways reach it
	// (scheme://host[:port], e.g. https://admin.example.com): approval
	// answers point agents at PublicURL + the approval's API path. Empty:
	// they carry the path alone. https, or http on a loopback host.
	PublicURL string
	// WebhookAllowPrivate lets approval webhooks connect to loopback,
	// private and link-local addresses; off, only public addresses are
	// dialled (webhook URLs come from admins, tenant admins included).
	WebhookAllowPrivate bool
	// DatabaseURL is the Postgres DSN (required).
	DatabaseURL string
	// DBMaxConns bounds the store's pool. The relay holds two more dedicated
	// connections (LISTEN and the publisher lock) outside the pool.
	DBMaxConns int
	// NATSURL is an external NATS with JetStream; empty starts an embedded
	// nats-server on NATSListen storing JetStream data in NATSDir.
	NATSURL    string
	NATSListen string
	NATSDir    string
	// NATSReplicas is the replica count of the bundle bucket and audit stream
	// (1 for a single server; 3 on a clustered JetStream).
	NATSReplicas int
	// Issuers are the admin token issuers.
	Issuers []authn.IssuerConfig
	// MasterKey seals secrets at rest in Postgres; BundleSealKey seals
	// backend secrets inside bundles. Both are 32 bytes.
	MasterKey     []byte
	BundleSealKey []byte
	LogLevel      slog.Level

	// Not bound to the environment: sane fixed values tests may shorten.
	ShutdownTimeout    time.Duration // HTTP drain on shutdown
	CertReloadInterval time.Duration // how often TLS files are checked for renewal
	RelayPollInterval  time.Duration // relay wakes this often even without NOTIFY
	AuditMaxAge        time.Duration // audit stream retention in JetStream (Postgres keeps the copy)
}

// DefaultConfig returns the defaults of CONTRACTS.md. DatabaseURL, Issuers and
// both keys have no default: Verify reports them missing.
func DefaultConfig() Config {
	return Config{
		Listen:             "127.0.0.1:8080",
		DBMaxConns:         10,
		NATSListen:         "127.0.0.1:4222",
		NATSDir:            "./.data/nats",
		NATSReplicas:       1,
		LogLevel:           slog.LevelInfo,
		ShutdownTimeout:    15 * time.Second,
		CertReloadInterval: time.Minute,
		RelayPollInterval:  2 * time.Second,
		AuditMaxAge:        7 * 24 * time.Hour,
	}
}

// FromEnv returns DefaultConfig overridden by every variable getenv reports
// non-empty. It fails on a value it cannot parse (naming the variable, never
// echoing a key); it does not check completeness, which is Verify's job.
func FromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	integer := func(name string, dst *int) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
				return
			}
			*dst = n
		}
	}
	key := func(name string, dst *[]byte) {
		if v := getenv(name); strings.TrimSpace(v) != "" {
			k, err := seal.ParseKey(v)
			if err != nil {
				// The value is a secret: say what is wrong, not what it was.
				errs = append(errs, fmt.Errorf("%s: want base64 of %d bytes: %w", name, seal.KeySize, err))
				return
			}
			*dst = k
		}
	}

	str(EnvListen, &c.Listen)
	list := func(name string, dst *[]string) {
		for _, p := range strings.Split(getenv(name), ",") {
			if p = strings.TrimSpace(p); p != "" {
				*dst = append(*dst, p)
			}
		}
	}
	list(EnvTLSCertFile, &c.TLSCertFiles)
	list(EnvTLSKeyFile, &c.TLSKeyFiles)
	boolean := func(name string, dst *bool) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
			}
			*dst = b
		}
	}
	boolean(EnvInsecureHTTP, &c.InsecureHTTP)
	boolean(EnvWebhookAllowPrivate, &c.WebhookAllowPrivate)
	str(EnvPublicURL, &c.PublicURL)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	str(EnvDatabaseURL, &c.DatabaseURL)
	integer(EnvDBMaxConns, &c.DBMaxConns)
	str(EnvNATSURL, &c.NATSURL)
	str(EnvNATSListen, &c.NATSListen)
	str(EnvNATSDir, &c.NATSDir)
	integer(EnvNATSReplicas, &c.NATSReplicas)
	key(EnvMasterKey, &c.MasterKey)
	key(EnvBundleSealKey, &c.BundleSealKey)
	if v := strings.TrimSpace(getenv(EnvIssuers)); v != "" {
		iss, err := parseIssuers(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvIssuers, err))
		}
		c.Issuers = iss
	}
	if v := strings.TrimSpace(getenv(EnvLogLevel)); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not debug, info, warn or error", EnvLogLevel, v))
		}
	}
	return c, errors.Join(errs...)
}

// parseIssuers decodes the PORTCULLIS_ISSUERS JSON list strictly: a misspelt
// field ("audience" for "audiences") must fail start-up, not silently accept
// tokens for any audience.
func parseIssuers(v string) ([]authn.IssuerConfig, error) {
	var iss []authn.IssuerConfig
	if err := strictjson.Decode([]byte(v), &iss); err != nil {
		return nil, fmt.Errorf("not a JSON list of issuers: %w", err)
	}
	return iss, nil
}

// Verify reports every problem that would keep the control plane from
// starting safely, joined into one error.
func (c Config) Verify() error {
	var errs []error
	if err := c.verifyTransport(); err != nil {
		errs = append(errs, err)
	}
	if err := verifyPublicURL(c.PublicURL); err != nil {
		errs = append(errs, err)
	}
	if c.DatabaseURL == "" {
		errs = append(errs, fmt.Errorf("%s is required", EnvDatabaseURL))
	}
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		errs = append(errs, fmt.Errorf("%s: %d is outside 1–1000", EnvDBMaxConns, c.DBMaxConns))
	}
	if c.NATSURL == "" {
		// The embedded server has no authentication: anyone reaching it could
		// overwrite bundles (signed, so refused) or forge audit events and
		// heartbeats (not signed). Keep it on loopback.
		if err := verifyLoopback(EnvNATSListen, c.NATSListen); err != nil {
			errs = append(errs, err)
		}
		if c.NATSDir == "" {
			errs = append(errs, fmt.Errorf("%s is required for the embedded NATS server", EnvNATSDir))
		}
	} else if err := envcheck.NATSURL(EnvNATSURL, c.NATSURL); err != nil {
		errs = append(errs, err)
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		errs = append(errs, fmt.Errorf("%s: %d is outside 1–5", EnvNATSReplicas, c.NATSReplicas))
	}
	errs = append(errs, envcheck.Issuers(EnvIssuers, c.Issuers, "no admin can call the API", true)...)
	if len(c.MasterKey) != seal.KeySize {
		errs = append(errs, fmt.Errorf("%s is required: base64 of %d random bytes", EnvMasterKey, seal.KeySize))
	}
	if len(c.BundleSealKey) != seal.KeySize {
		errs = append(errs, fmt.Errorf("%s is required: base64 of %d random bytes", EnvBundleSealKey, seal.KeySize))
	}
	if len(c.MasterKey) == seal.KeySize && bytes.Equal(c.MasterKey, c.BundleSealKey) {
		// Gateways hold the bundle seal key; reusing it as the master key
		// would hand every gateway the key to the database's secrets.
		errs = append(errs, fmt.Errorf("%s and %s must differ", EnvMasterKey, EnvBundleSealKey))
	}
	if c.ShutdownTimeout <= 0 || c.RelayPollInterval <= 0 || c.AuditMaxAge <= 0 || c.CertReloadInterval <= 0 {
		errs = append(errs, errors.New("shutdown timeout, relay poll interval, audit max age and certificate reload interval must be positive"))
	}
	return errors.Join(errs...)
}

// TLS reports whether the admin API serves TLS (certificates are configured).
func (c Config) TLS() bool { return len(c.TLSCertFiles) > 0 }

// verifyTransport: TLS on any address, or plain HTTP when explicitly enabled
// and bound to loopback.
func (c Config) verifyTransport() error {
	switch {
	case len(c.TLSCertFiles) != len(c.TLSKeyFiles):
		return fmt.Errorf("%s and %s must list the same number of files (%d and %d)", EnvTLSCertFile, EnvTLSKeyFile, len(c.TLSCertFiles), len(c.TLSKeyFiles))
	case c.TLS() && c.InsecureHTTP:
		return fmt.Errorf("%s=true and TLS certificates are both set; choose one", EnvInsecureHTTP)
	case c.TLS():
		return verifyHostPort(EnvListen, c.Listen)
	case !c.InsecureHTTP:
		if err := verifyHostPort(EnvListen, c.Listen); err != nil {
			return err
		}
		return fmt.Errorf("%s and %s are required (or %s=true with a loopback %s for plain HTTP)", EnvTLSCertFile, EnvTLSKeyFile, EnvInsecureHTTP, EnvListen)
	}
	return verifyLoopback(EnvListen, c.Listen)
}

// verifyPublicURL accepts "" or scheme://host[:port] without path, query
// or credentials: https anywhere, http only on a loopback host (a URL shown
// to agents must not send admins' tokens over the network in clear).
func verifyPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%s: %q is not scheme://host[:port]", EnvPublicURL, raw)
	case strings.Trim(u.Path, "/") != "":
		return fmt.Errorf("%s: %q has a path; the admin API is served at the root", EnvPublicURL, raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s: %q must be https (http only on 127.0.0.1, ::1 or localhost)", EnvPublicURL, raw)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func verifyHostPort(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port: %v", name, addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s: %q has no valid port", name, addr)
	}
	return nil
}

// verifyLoopback accepts host:port where host is a loopback IP or
// "localhost". An empty host means every interface and is refused.
func verifyLoopback(name, addr string) error {
	if err := verifyHostPort(name, addr); err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(addr); isLoopbackHost(host) {
		return nil
	}
	return fmt.Errorf("%s: %q is not a loopback address; plain, unauthenticated traffic is only allowed on 127.0.0.1, ::1 or localhost", name, addr)
}

// LogValue keeps the keys out of logs when the config is logged.
func (c Config) LogValue() slog.Value {
	issuers := make([]string, 0, len(c.Issuers))
	for _, is := range c.Issuers {
		issuers = append(issuers, is.Issuer)
	}
	nats := redactDSN(c.NATSURL)
	if c.NATSURL == "" {
		nats = "embedded on " + c.NATSListen
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("public_url", c.PublicURL),
		slog.Bool("tls", c.TLS()),
		slog.String("database", redactDSN(c.DatabaseURL)),
		slog.Int("db_max_conns", c.DBMaxConns),
		slog.String("nats", nats),
		slog.Any("issuers", issuers),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// redactDSN drops the password from a URL-form DSN. A key=value DSN may
// carry password=... anywhere, so it is not logged at all.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	switch {
	case err != nil || u.Scheme == "":
		return "(not a URL; not logged)"
	case u.User == nil:
		return dsn
	default:
		return u.Redacted()
	}
}
