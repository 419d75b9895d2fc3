package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	masterKey = bytes.Repeat([]byte{1}, 32)
	sealKey   = bytes.Repeat([]byte{2}, 32)
)

// validEnv is a complete, valid environment; cases change one variable.
func validEnv() map[string]string {
	return map[string]string{
		EnvDatabaseURL:   "postgres://portcullis:s3cret@127.0.0.1:5432/portcullis?sslmode=disable",
		EnvIssuers:       `[{"issuer":"http://127.0.0.1:9000","audiences":["portcullis-admin"]}]`,
		EnvMasterKey:     base64.StdEncoding.EncodeToString(masterKey),
		EnvBundleSealKey: base64.RawURLEncoding.EncodeToString(sealKey),
		EnvInsecureHTTP:  "true",
	}
}

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvDefaults(t *testing.T) {
	c, err := FromEnv(getenv(validEnv()))
	require.NoError(t, err)
	require.NoError(t, c.Verify())
	assert.Equal(t, "127.0.0.1:8080", c.Listen)
	assert.Equal(t, 10, c.DBMaxConns)
	assert.Equal(t, "", c.NATSURL)
	assert.Equal(t, "127.0.0.1:4222", c.NATSListen)
	assert.Equal(t, "./.data/nats", c.NATSDir)
	assert.Equal(t, 1, c.NATSReplicas)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Equal(t, masterKey, c.MasterKey)
	assert.Equal(t, sealKey, c.BundleSealKey)
	require.Len(t, c.Issuers, 1)
	assert.Equal(t, "http://127.0.0.1:9000", c.Issuers[0].Issuer)
	assert.Equal(t, []string{"portcullis-admin"}, c.Issuers[0].Audiences)
	assert.False(t, c.WebhookAllowPrivate, "webhooks reach only public addresses unless allowed")
}

func TestFromEnvOverrides(t *testing.T) {
	env := validEnv()
	env[EnvListen] = "[::1]:0"
	env[EnvDBMaxConns] = "25"
	env[EnvNATSURL] = "nats://nats-0:4222,nats://nats-1:4222"
	env[EnvNATSListen] = "127.0.0.1:14222"
	env[EnvNATSDir] = "/var/lib/portcullis/nats"
	env[EnvNATSReplicas] = "3"
	env[EnvLogLevel] = "debug"
	env[EnvWebhookAllowPrivate] = "true"
	env[EnvIssuers] = `[{"issuer":"https://idp.example.com","audiences":["a","b"],"jwks_url":"https://idp.example.com/jwks",
		"tenant_claim":"tid","roles_claim":"r","permissions_claim":"p","email_claim":"mail","algorithms":["RS256"]}]`
	c, err := FromEnv(getenv(env))
	require.NoError(t, err)
	require.NoError(t, c.Verify())
	assert.Equal(t, "[::1]:0", c.Listen)
	assert.Equal(t, 25, c.DBMaxConns)
	assert.Equal(t, "nats://nats-0:4222,nats://nats-1:4222", c.NATSURL)
	assert.Equal(t, "127.0.0.1:14222", c.NATSListen)
	assert.Equal(t, "/var/lib/portcullis/nats", c.NATSDir)
	assert.Equal(t, 3, c.NATSReplicas)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
	assert.True(t, c.WebhookAllowPrivate)
	require.Len(t, c.Issuers, 1)
	is := c.Issuers[0]
	assert.Equal(t, "https://idp.example.com/jwks", is.JWKSURL)
	assert.Equal(t, "tid", is.TenantClaim)
	assert.Equal(t, "r", is.RolesClaim)
	assert.Equal(t, "p", is.PermissionsClaim)
	assert.Equal(t, "mail", is.EmailClaim)
	assert.Equal(t, []string{"RS256"}, is.Algorithms)
}

// TestFromEnvParseErrors: a value that does not parse fails FromEnv and the
// error names the variable without echoing a secret.
func TestFromEnvParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, key, value string
	}{
		{"max conns not a number", EnvDBMaxConns, "ten"},
		{"replicas not a number", EnvNATSReplicas, "3x"},
		{"log level unknown", EnvLogLevel, "loud"},
		{"webhook allow-private not a boolean", EnvWebhookAllowPrivate, "sometimes"},
		{"issuers not JSON", EnvIssuers, `{issuer:`},
		{"issuers an object, not a list", EnvIssuers, `{"issuer":"http://127.0.0.1:9000"}`},
		{"issuers unknown field (typo)", EnvIssuers, `[{"issuer":"http://127.0.0.1:9000","audience":["x"]}]`},
		{"issuers trailing data", EnvIssuers, `[] []`},
		{"issuers trailing bracket", EnvIssuers, `[]]`},
		{"master key not base64", EnvMasterKey, "not base64 !!!"},
		{"master key too short", EnvMasterKey, base64.StdEncoding.EncodeToString([]byte("short-secret-value"))},
		{"seal key too long", EnvBundleSealKey, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 48))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := validEnv()
			env[tc.key] = tc.value
			_, err := FromEnv(getenv(env))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.key)
			if strings.Contains(tc.key, "KEY") {
				assert.NotContains(t, err.Error(), tc.value, "a key must never be echoed")
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"listen on all interfaces", func(c *Config) { c.Listen = ":8080" }, EnvListen},
		{"listen on 0.0.0.0", func(c *Config) { c.Listen = "0.0.0.0:8080" }, "not a loopback"},
		{"listen on a public address", func(c *Config) { c.Listen = "203.0.113.7:8080" }, "not a loopback"},
		{"listen on a hostname", func(c *Config) { c.Listen = "example.com:8080" }, "not a loopback"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, EnvListen},
		{"listen port out of range", func(c *Config) { c.Listen = "127.0.0.1:70000" }, EnvListen},
		{"no database", func(c *Config) { c.DatabaseURL = "" }, EnvDatabaseURL},
		{"zero max conns", func(c *Config) { c.DBMaxConns = 0 }, EnvDBMaxConns},
		{"embedded nats on all interfaces", func(c *Config) { c.NATSListen = "0.0.0.0:4222" }, EnvNATSListen},
		{"embedded nats without dir", func(c *Config) { c.NATSDir = "" }, EnvNATSDir},
		{"nats url bad scheme", func(c *Config) { c.NATSURL = "http://nats:4222" }, EnvNATSURL},
		{"nats url without host", func(c *Config) { c.NATSURL = "nats://" }, EnvNATSURL},
		{"replicas zero", func(c *Config) { c.NATSReplicas = 0 }, EnvNATSReplicas},
		{"no issuers", func(c *Config) { c.Issuers = nil }, EnvIssuers},
		{"issuer not a URL", func(c *Config) { c.Issuers[0].Issuer = "idp" }, "not an http(s) URL"},
		{"issuer without audiences", func(c *Config) { c.Issuers[0].Audiences = nil }, "audiences is required"},
		{"issuer twice", func(c *Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "listed twice"},
		{"no master key", func(c *Config) { c.MasterKey = nil }, EnvMasterKey},
		{"no seal key", func(c *Config) { c.BundleSealKey = nil }, EnvBundleSealKey},
		{"same key twice", func(c *Config) { c.BundleSealKey = c.MasterKey }, "must differ"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "must be positive"},
		{"plain HTTP without opting in", func(c *Config) { c.InsecureHTTP = false }, EnvInsecureHTTP},
		{"TLS and plain HTTP both", func(c *Config) { c.TLSCertFiles, c.TLSKeyFiles = []string{"c.pem"}, []string{"k.pem"} }, "choose one"},
		{"TLS lists of different lengths", func(c *Config) {
			c.InsecureHTTP = false
			c.TLSCertFiles, c.TLSKeyFiles = []string{"a.pem", "b.pem"}, []string{"a-key.pem"}
		}, "same number"},
		{"TLS listen without port", func(c *Config) {
			c.InsecureHTTP, c.Listen = false, "0.0.0.0"
			c.TLSCertFiles, c.TLSKeyFiles = []string{"c.pem"}, []string{"k.pem"}
		}, EnvListen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(getenv(validEnv()))
			require.NoError(t, err)
			tc.change(&c)
			err = c.Verify()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestVerifyAcceptsLoopbackForms(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8080", "127.1.2.3:0", "[::1]:8080", "localhost:8080"} {
		t.Run(addr, func(t *testing.T) {
			c, err := FromEnv(getenv(validEnv()))
			require.NoError(t, err)
			c.Listen = addr
			require.NoError(t, c.Verify())
		})
	}
}

func TestTLSFromEnv(t *testing.T) {
	env := validEnv()
	delete(env, EnvInsecureHTTP)
	env[EnvListen] = "0.0.0.0:8443"
	env[EnvTLSCertFile] = "/tls/a.pem, /tls/b.pem"
	env[EnvTLSKeyFile] = "/tls/a-key.pem,/tls/b-key.pem"
	c, err := FromEnv(getenv(env))
	require.NoError(t, err)
	require.NoError(t, c.Verify(), "with TLS any address is fine")
	assert.True(t, c.TLS())
	assert.False(t, c.InsecureHTTP)
	assert.Equal(t, []string{"/tls/a.pem", "/tls/b.pem"}, c.TLSCertFiles)
	assert.Equal(t, []string{"/tls/a-key.pem", "/tls/b-key.pem"}, c.TLSKeyFiles)

	env[EnvInsecureHTTP] = "maybe"
	_, err = FromEnv(getenv(env))
	require.ErrorContains(t, err, EnvInsecureHTTP)
}

// TestLogValueHidesSecrets: logging the config never shows a key or the
// database password.
func TestLogValueHidesSecrets(t *testing.T) {
	for _, dsn := range []string{
		"postgres://portcullis:s3cret@127.0.0.1:5432/portcullis",
		"host=127.0.0.1 user=portcullis password=s3cret dbname=portcullis",
	} {
		env := validEnv()
		env[EnvDatabaseURL] = dsn
		c, err := FromEnv(getenv(env))
		require.NoError(t, err)
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
		out := buf.String()
		assert.NotContains(t, out, "s3cret")
		assert.NotContains(t, out, base64.StdEncoding.EncodeToString(masterKey))
		assert.NotContains(t, out, fmt.Sprint(masterKey))
		assert.Contains(t, out, "127.0.0.1:9000")
	}
}
