// Package devissuer is a minimal OIDC token issuer for `make run`, demos and tests. It signs
// RS256 access tokens with Frontegg-style claims (tenantId, roles, permissions, email) and
// publishes its discovery document and JWKS, so the real JWT validation path can be exercised
// end to end without an external identity provider.
//
// It is NOT an identity provider: it authenticates nobody. Its /token endpoint mints whatever
// is asked for, so it only answers loopback clients and Start only binds loopback addresses.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Claim names, Frontegg-style (the defaults of the gateway's and control plane's issuer config).
const (
	ClaimTenantID    = "tenantId"
	ClaimRoles       = "roles"
	ClaimPermissions = "permissions"
	ClaimEmail       = "email"
)

// DefaultTTL is the lifetime of a token whose Claims.TTL is zero.
const DefaultTTL = time.Hour

// MaxTTL bounds requested lifetimes (make run mints 12 h admin tokens).
const MaxTTL = 7 * 24 * time.Hour

// Claims describes a token to mint.
type Claims struct {
	Subject     string
	Email       string
	TenantID    string
	Roles       []string
	Permissions []string
	Audience    []string
	ACR         string        // authentication context class, for step-up tests
	AuthTime    time.Time     // zero means now
	TTL         time.Duration // zero means DefaultTTL
	// Extra claims are added as is; they cannot override the registered claims above.
	Extra map[string]any
}

// Option configures New.
type Option func(*Issuer) error

// WithKeyFile loads the RSA signing key from a PEM file, creating the file (0600) with a new key
// if it does not exist, so tokens stay valid across restarts.
func WithKeyFile(path string) Option {
	return func(i *Issuer) error {
		key, err := loadOrCreateKey(path)
		if err != nil {
			return err
		}
		i.rsaKey = key
		return nil
	}
}

// WithKey uses the given RSA key.
func WithKey(key *rsa.PrivateKey) Option {
	return func(i *Issuer) error { i.rsaKey = key; return nil }
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(i *Issuer) error { i.logger = l; return nil }
}

// WithClock sets the time source (tests).
func WithClock(now func() time.Time) Option {
	return func(i *Issuer) error { i.now = now; return nil }
}

// Issuer mints tokens and serves the OIDC metadata needed to validate them.
type Issuer struct {
	mu        sync.RWMutex
	issuerURL string

	rsaKey  *rsa.PrivateKey
	signKey jwk.Key
	pubSet  jwk.Set
	logger  *slog.Logger
	now     func() time.Time

	srv *http.Server
	ln  net.Listener
}

// New creates an issuer. issuerURL is the `iss` of minted tokens and the base of the metadata
// URLs; it may be empty when Start will be used, which then sets it from the listen address.
func New(issuerURL string, opts ...Option) (*Issuer, error) {
	i := &Issuer{issuerURL: issuerURL, logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		if err := o(i); err != nil {
			return nil, err
		}
	}
	if i.rsaKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("devissuer: generate key: %w", err)
		}
		i.rsaKey = k
	}
	if err := i.initKeys(); err != nil {
		return nil, err
	}
	return i, nil
}

func (i *Issuer) initKeys() error {
	priv, err := jwk.FromRaw(i.rsaKey)
	if err != nil {
		return fmt.Errorf("devissuer: %w", err)
	}
	kid, err := keyID(&i.rsaKey.PublicKey)
	if err != nil {
		return err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := priv.Set(k, v); err != nil {
			return fmt.Errorf("devissuer: %w", err)
		}
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return fmt.Errorf("devissuer: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return fmt.Errorf("devissuer: %w", err)
	}
	i.signKey, i.pubSet = priv, set
	return nil
}

// keyID is a stable id derived from the public key (so a reloaded key keeps its kid).
func keyID(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12]), nil
}

// URL is the issuer URL (`iss`).
func (i *Issuer) URL() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.issuerURL
}

// JWKSURL is where the public keys are served.
func (i *Issuer) JWKSURL() string { return i.URL() + "/jwks.json" }

// PublicKeys returns the JWKS (public keys only).
func (i *Issuer) PublicKeys() jwk.Set { return i.pubSet }

// Mint signs a token for c.
func (i *Issuer) Mint(c Claims) (string, error) {
	iss := i.URL()
	if iss == "" {
		return "", errors.New("devissuer: issuer URL not set (pass it to New or call Start)")
	}
	if c.Subject == "" {
		return "", errors.New("devissuer: subject is required")
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > MaxTTL {
		return "", fmt.Errorf("devissuer: ttl must be in (0, %s]", MaxTTL)
	}
	now := i.now().Truncate(time.Second)
	authTime := c.AuthTime
	if authTime.IsZero() {
		authTime = now
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	b := jwt.NewBuilder()
	for k, v := range c.Extra {
		b = b.Claim(k, v)
	}
	b = b.Issuer(iss).Subject(c.Subject).IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).
		JwtID(base64.RawURLEncoding.EncodeToString(jti)).Claim("auth_time", authTime.Unix())
	if len(c.Audience) > 0 {
		b = b.Audience(c.Audience)
	}
	if c.TenantID != "" {
		b = b.Claim(ClaimTenantID, c.TenantID)
	}
	if c.Email != "" {
		b = b.Claim(ClaimEmail, c.Email)
	}
	if c.ACR != "" {
		b = b.Claim("acr", c.ACR)
	}
	b = b.Claim(ClaimRoles, nonNil(c.Roles)).Claim(ClaimPermissions, nonNil(c.Permissions))
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, i.signKey, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return string(signed), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Start serves Handler on addr, which must be a loopback address (e.g. 127.0.0.1:9000 or
// 127.0.0.1:0). If the issuer URL is empty it becomes http://<listen address>. It returns the
// issuer URL.
func (i *Issuer) Start(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("devissuer: refusing to listen on non-loopback address %q: it mints tokens for anyone", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("devissuer: %w", err)
	}
	i.mu.Lock()
	if i.issuerURL == "" {
		i.issuerURL = "http://" + ln.Addr().String()
	}
	i.ln = ln
	i.srv = &http.Server{Handler: i.Handler(), ReadHeaderTimeout: 5 * time.Second}
	srv := i.srv
	i.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			i.logger.Error("devissuer stopped", "err", err)
		}
	}()
	i.logger.Info("dev OIDC issuer listening", "issuer", i.URL())
	return i.URL(), nil
}

// Close stops the server started by Start.
func (i *Issuer) Close() error {
	i.mu.Lock()
	srv := i.srv
	i.srv = nil
	i.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// loadOrCreateKey reads a PKCS#8 (or PKCS#1) RSA key, or writes a fresh one atomically.
func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return parseKey(b, path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	return key, nil
}

func parseKey(b []byte, path string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("devissuer: %s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("devissuer: %s: not an RSA key", path)
	}
	if rk.N.BitLen() < 2048 {
		return nil, fmt.Errorf("devissuer: %s: RSA key shorter than 2048 bits", path)
	}
	return rk, nil
}
