package config

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	sealKey    = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	sessionKey = base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func validEnv() map[string]string {
	return map[string]string{
		EnvListen:         "0.0.0.0:8443",
		EnvPublicURL:      "https://mcp.example.com/",
		EnvTLSCertFile:    "/tls/a.pem, /tls/b.pem",
		EnvTLSKeyFile:     "/tls/a-key.pem,/tls/b-key.pem",
		EnvNATSURL:        "nats://nats:4222",
		EnvBundleKeysFile: "/etc/portcullis/bundle-keys.json",
		EnvBundleSealKey:  sealKey,
		EnvSnapshotFile:   "/var/lib/portcullis/snapshot.json",
		EnvGatewayID:      "gw-1",
		EnvSessionKeys:    sessionKey + "," + sessionKey,
		EnvIssuers:        `[{"issuer":"https://idp.example.com"},{"issuer":"https://other.example","audiences":["x"]}]`,
		EnvAllowedOrigins: "https://app.example.com, https://inspector.example",
		EnvLogLevel:       "debug",
	}
}

func TestDefaults(t *testing.T) {
	c := DefaultConfig()
	assert.Equal(t, "127.0.0.1:8443", c.Listen)
	assert.Equal(t, "https://127.0.0.1:8443", c.PublicURL)
	assert.Equal(t, "https://127.0.0.1:8443/mcp", c.ResourceURL())
	assert.False(t, c.InsecureHTTP)
	assert.Equal(t, slog.LevelInfo, c.LogLevel)
	assert.Regexp(t, gatewayIDPattern, c.GatewayID)
	assert.Error(t, c.Verify(), "keys, issuers and certificates have no default")
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(validEnv()))
	require.NoError(t, err)
	require.NoError(t, c.Verify())
	assert.Equal(t, "https://mcp.example.com", c.PublicURL, "trailing slash dropped")
	assert.Equal(t, []string{"/tls/a.pem", "/tls/b.pem"}, c.TLSCertFiles)
	assert.Equal(t, []string{"/tls/a-key.pem", "/tls/b-key.pem"}, c.TLSKeyFiles)
	assert.Len(t, c.BundleSealKey, 32)
	assert.Len(t, c.SessionKeys, 2)
	assert.Equal(t, []string{"https://mcp.example.com/mcp"}, c.Issuers[0].Audiences, "resource URL filled in")
	assert.Equal(t, []string{"x"}, c.Issuers[1].Audiences)
	assert.Equal(t, []string{"https://app.example.com", "https://inspector.example"}, c.AllowedOrigins)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
	assert.Equal(t, "gw-1", c.GatewayID)

	// Secrets never reach the logs.
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("cfg", "config", c)
	assert.NotContains(t, sb.String(), sealKey)
	assert.NotContains(t, sb.String(), sessionKey)
}

func TestFromEnvParseErrors(t *testing.T) {
	tests := []struct{ name, key, value string }{
		{"insecure not a bool", EnvInsecureHTTP, "yes please"},
		{"seal key short", EnvBundleSealKey, base64.StdEncoding.EncodeToString([]byte("short"))},
		{"session key short", EnvSessionKeys, base64.StdEncoding.EncodeToString([]byte("short"))},
		{"issuers not JSON", EnvIssuers, "https://idp.example"},
		{"issuers misspelt field", EnvIssuers, `[{"issuer":"https://idp.example","audience":["x"]}]`},
		{"log level", EnvLogLevel, "loud"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEnv()
			e[tc.key] = tc.value
			_, err := FromEnv(env(e))
			require.ErrorContains(t, err, tc.key)
			if tc.key == EnvBundleSealKey || tc.key == EnvSessionKeys {
				assert.NotContains(t, err.Error(), tc.value, "secret not echoed")
			}
		})
	}
}

func TestVerify(t *testing.T) {
	base := func(t *testing.T) Config {
		c, err := FromEnv(env(validEnv()))
		require.NoError(t, err)
		return c
	}
	plain := func(c *Config) { c.TLSCertFiles, c.TLSKeyFiles = nil, nil }
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" = valid
	}{
		{"TLS on every interface", func(c *Config) {}, ""},
		{"plain HTTP without opting in", func(c *Config) { plain(c); c.Listen = "127.0.0.1:8443" }, EnvInsecureHTTP},
		{"plain HTTP opted in on all interfaces", func(c *Config) { plain(c); c.InsecureHTTP = true }, "not a loopback"},
		{"plain HTTP opted in on a public IP", func(c *Config) { plain(c); c.InsecureHTTP = true; c.Listen = "203.0.113.7:80" }, "not a loopback"},
		{"plain HTTP on an empty host", func(c *Config) { plain(c); c.InsecureHTTP = true; c.Listen = ":8443" }, "not a loopback"},
		{"plain HTTP opted in on loopback", func(c *Config) {
			plain(c)
			c.InsecureHTTP, c.Listen, c.PublicURL = true, "127.0.0.1:0", "http://127.0.0.1:8443"
		}, ""},
		{"plain HTTP on ::1", func(c *Config) { plain(c); c.InsecureHTTP, c.Listen = true, "[::1]:8443" }, ""},
		{"plain HTTP on localhost", func(c *Config) { plain(c); c.InsecureHTTP, c.Listen = true, "localhost:8443" }, ""},
		{"TLS and insecure both", func(c *Config) { c.InsecureHTTP = true }, "choose one"},
		{"cert and key lists differ", func(c *Config) { c.TLSKeyFiles = c.TLSKeyFiles[:1] }, "same number"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, EnvListen},
		{"public URL http without insecure", func(c *Config) { c.PublicURL = "http://mcp.example.com" }, EnvPublicURL},
		{"public URL with a path", func(c *Config) { c.PublicURL = "https://mcp.example.com/gw" }, "path"},
		{"public URL relative", func(c *Config) { c.PublicURL = "mcp.example.com" }, EnvPublicURL},
		{"public URL with query", func(c *Config) { c.PublicURL = "https://mcp.example.com?x=1" }, EnvPublicURL},
		{"no NATS", func(c *Config) { c.NATSURL = "" }, EnvNATSURL},
		{"NATS http", func(c *Config) { c.NATSURL = "http://nats:4222" }, EnvNATSURL},
		{"no bundle keys", func(c *Config) { c.BundleKeysFile = "" }, EnvBundleKeysFile},
		{"no seal key", func(c *Config) { c.BundleSealKey = nil }, EnvBundleSealKey},
		{"bad gateway id", func(c *Config) { c.GatewayID = "gw 1" }, EnvGatewayID},
		{"no session keys", func(c *Config) { c.SessionKeys = nil }, EnvSessionKeys},
		{"short session key", func(c *Config) { c.SessionKeys = [][]byte{[]byte("x")} }, EnvSessionKeys},
		{"no issuers", func(c *Config) { c.Issuers = nil }, EnvIssuers},
		{"issuer not a URL", func(c *Config) { c.Issuers[0].Issuer = "idp" }, EnvIssuers},
		{"issuer twice", func(c *Config) { c.Issuers[1].Issuer = c.Issuers[0].Issuer }, "twice"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base(t)
			tc.mutate(&c)
			err := c.Verify()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSanitizeID(t *testing.T) {
	for in, want := range map[string]string{
		"gw-1.example.com": "gw-1.example.com",
		"-weird host!":     "weirdhost",
		"":                 "gateway",
		"ünïcode":          "ncode",
	} {
		assert.Equal(t, want, sanitizeID(in), in)
	}
}
