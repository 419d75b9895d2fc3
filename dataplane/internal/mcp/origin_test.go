package mcp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrigin(t *testing.T) {
	tests := []struct {
		name    string
		host    string
		origins []string // Origin header values; none = header absent
		strict  bool
		want    bool
	}{
		{name: "no Origin (non-browser client)", host: "gw.example.com", want: true},
		{name: "allow-listed", host: "gw.example.com", origins: []string{"https://app.example.com"}, want: true},
		{name: "allow-listed, explicit default port", host: "gw.example.com", origins: []string{"https://app.example.com:443"}, want: true},
		{name: "allow-listed, different case", host: "gw.example.com", origins: []string{"HTTPS://App.Example.COM"}, want: true},
		{name: "allow-listed host, other scheme", host: "gw.example.com", origins: []string{"http://app.example.com"}, want: false},
		{name: "allow-listed host, other port", host: "gw.example.com", origins: []string{"https://app.example.com:8443"}, want: false},
		{name: "suffix of an allowed host", host: "gw.example.com", origins: []string{"https://evilapp.example.com"}, want: false},
		{name: "allowed host as subdomain of attacker", host: "gw.example.com", origins: []string{"https://app.example.com.evil.net"}, want: false},
		{name: "foreign", host: "gw.example.com", origins: []string{"https://evil.example.net"}, want: false},
		{name: "null origin (sandboxed iframe, file://)", host: "gw.example.com", origins: []string{"null"}, want: false},
		{name: "garbage", host: "gw.example.com", origins: []string{"::::"}, want: false},
		{name: "with path", host: "gw.example.com", origins: []string{"https://app.example.com/x"}, want: false},
		{name: "with credentials", host: "gw.example.com", origins: []string{"https://user@app.example.com"}, want: false},
		{name: "non-http scheme", host: "gw.example.com", origins: []string{"chrome-extension://abc"}, want: false},
		{name: "two Origin headers", host: "gw.example.com", origins: []string{"https://app.example.com", "https://evil.example.net"}, want: false},
		{name: "same host", host: "gw.example.com", origins: []string{"https://gw.example.com"}, want: true},
		{name: "same host and port", host: "localhost:8080", origins: []string{"http://localhost:8080"}, want: true},
		{name: "same host, other port", host: "localhost:8080", origins: []string{"http://localhost:9999"}, want: false},
		{name: "same host without port, origin on odd port", host: "gw.example.com", origins: []string{"https://gw.example.com:8443"}, want: false},
		{name: "same host refused when strict", host: "gw.example.com", origins: []string{"https://gw.example.com"}, strict: true, want: false},
		{name: "allow-listed still fine when strict", host: "gw.example.com", origins: []string{"https://app.example.com"}, strict: true, want: true},
		{name: "IPv6 same host", host: "[::1]:8080", origins: []string{"http://[::1]:8080"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newOriginPolicy([]string{"https://app.example.com"}, !tt.strict)
			require.NoError(t, err)
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.Host = tt.host
			for _, o := range tt.origins {
				r.Header.Add("Origin", o)
			}
			assert.Equal(t, tt.want, p.permits(r))
		})
	}
}

// TestOriginEnforced: a refused origin gets 403 before anything else happens, for
// every HTTP method, including initialize (no session is issued).
func TestOriginEnforced(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		req := httptest.NewRequest(method, "http://gw.example.com/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://evil.example.net")
		rec := httptest.NewRecorder()
		env.http.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusForbidden, rec.Code, method)
		assert.Empty(t, rec.Header().Get(HeaderSessionID))
	}
	rec := env.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, map[string]string{"Origin": "https://app.example.com"})
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestCORS(t *testing.T) {
	env := newTestEnv(t, nil)
	preflight := func(origin string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodOptions, "http://gw.example.com/mcp", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-session-id")
		rec := httptest.NewRecorder()
		// No principal: browsers send no credentials on a preflight.
		req.Header.Set(hdrTestSubject, "-")
		env.http.ServeHTTP(rec, req)
		return rec
	}

	rec := preflight("https://app.example.com")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "https://app.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Mcp-Session-Id")
	assert.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "Authorization")
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Credentials"))

	rec = preflight("https://evil.example.net")
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))

	// The actual request: the session header must be readable by the page's script.
	rec = env.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, map[string]string{"Origin": "https://app.example.com"})
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "https://app.example.com", rec.Header().Get("Access-Control-Allow-Origin"))
	assert.Contains(t, rec.Header().Get("Access-Control-Expose-Headers"), "Mcp-Session-Id")
	assert.Contains(t, rec.Header().Values("Vary"), "Origin")

	// Without an Origin there is nothing to allow.
	rec = env.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`, nil)
	assert.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))

	// OPTIONS that is not a preflight is just an unsupported method.
	req := httptest.NewRequest(http.MethodOptions, "http://gw.example.com/mcp", nil)
	plain := httptest.NewRecorder()
	env.http.ServeHTTP(plain, req)
	assert.Equal(t, http.StatusMethodNotAllowed, plain.Code)
}
