package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPublicURL: PORTCULLIS_PUBLIC_URL is optional; when set it must be an
// https base URL, or http on a loopback host only.
func TestPublicURL(t *testing.T) {
	cases := []struct {
		value, want string // want: the parsed PublicURL
		err         string // substring of Verify's error; "" = valid
	}{
		{"", "", ""},
		{"https://admin.example.com", "https://admin.example.com", ""},
		{"https://admin.example.com/", "https://admin.example.com", ""},
		{"https://127.0.0.1:8080", "https://127.0.0.1:8080", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"http://[::1]:8080", "http://[::1]:8080", ""},
		{"http://localhost:8080", "http://localhost:8080", ""},
		{"http://admin.example.com", "http://admin.example.com", "must be https"},
		{"http://10.0.0.1:8080", "http://10.0.0.1:8080", "must be https"},
		{"ftp://admin.example.com", "ftp://admin.example.com", "must be https"},
		{"https://admin.example.com/api", "https://admin.example.com/api", "has a path"},
		{"https://admin.example.com?x=1", "https://admin.example.com?x=1", "not scheme://host"},
		{"https://user:pw@admin.example.com", "https://user:pw@admin.example.com", "not scheme://host"},
		{"admin.example.com", "admin.example.com", "not scheme://host"},
		{"https://", "https:", "not scheme://host"},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			env := validEnv()
			env[EnvPublicURL] = c.value
			cfg, err := FromEnv(getenv(env))
			require.NoError(t, err)
			assert.Equal(t, c.want, cfg.PublicURL)
			err = cfg.Verify()
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), EnvPublicURL)
			assert.True(t, strings.Contains(err.Error(), c.err), "%v, want %q", err, c.err)
		})
	}
}
