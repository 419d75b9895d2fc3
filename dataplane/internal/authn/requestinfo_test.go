package authn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
)

// TestRequestInfoForThePipeline: an authenticated request reaches the next
// handler with the client address and user agent for the pipeline (network
// rules, audit); X-Forwarded-For counts only from a trusted proxy.
func TestRequestInfoForThePipeline(t *testing.T) {
	f := newFixture(t)
	cfg := f.auth.cfg
	cfg.Registerer = nil
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	auth, err := New(cfg)
	require.NoError(t, err)
	h := auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := pipeline.RequestInfoFromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		_ = json.NewEncoder(w).Encode(info)
	}))
	tok := f.mint(t, "acme", publicRes)
	cases := []struct {
		name, remote, xff, ua string
		want                  pipeline.RequestInfo
	}{
		{"direct client", "198.51.100.7:1234", "", "claude-code/1.0", pipeline.RequestInfo{ClientIP: "198.51.100.7", UserAgent: "claude-code/1.0"}},
		{"spoofed header from an untrusted peer", "198.51.100.7:1234", "203.0.113.1", "", pipeline.RequestInfo{ClientIP: "198.51.100.7"}},
		{"behind a trusted proxy", "10.1.2.3:1234", "203.0.113.1", "", pipeline.RequestInfo{ClientIP: "203.0.113.1"}},
		{"ipv6 client", "[2001:db8::7]:1234", "", "", pipeline.RequestInfo{ClientIP: "2001:db8::7"}},
		{"long user agent is clipped", "198.51.100.7:1", "", strings.Repeat("a", 5000), pipeline.RequestInfo{ClientIP: "198.51.100.7", UserAgent: strings.Repeat("a", maxUserAgent)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://gw.localhost/mcp", strings.NewReader(`{}`))
			r.Host = "gw.localhost:8443"
			r.RemoteAddr = c.remote
			r.Header.Set("Authorization", "Bearer "+tok)
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			r.Header.Set("User-Agent", c.ua)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got pipeline.RequestInfo
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			require.Equal(t, c.want, got)
		})
	}
}
