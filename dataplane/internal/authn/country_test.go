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

// TestCountryFromTrustedProxyOnly: the configured country header reaches the
// pipeline only when a trusted proxy sent the request, and only as an
// assigned ISO 3166-1 alpha-2 code; anything else is unknown (""), so an
// agent cannot pick the country its policies see.
func TestCountryFromTrustedProxyOnly(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, "acme", publicRes)
	handler := func(header string) http.Handler {
		cfg := f.auth.cfg
		cfg.Registerer = nil
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
		cfg.CountryHeader = header
		auth, err := New(cfg)
		require.NoError(t, err)
		return auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, _ := pipeline.RequestInfoFromContext(r.Context())
			_ = json.NewEncoder(w).Encode(info)
		}))
	}
	cases := []struct {
		name, header, remote string
		values               []string // values of the country header sent
		want                 string
	}{
		{"trusted proxy", "CF-IPCountry", "10.1.2.3:443", []string{"FR"}, "FR"},
		{"trusted proxy, lower case value", "CF-IPCountry", "10.1.2.3:443", []string{" de "}, "DE"},
		{"trusted ipv6 proxy", "CloudFront-Viewer-Country", "[fd00::1]:443", []string{"JP"}, "JP"},
		{"header name in another case", "cf-ipcountry", "10.1.2.3:443", []string{"US"}, "US"},
		{"untrusted peer claims a country", "CF-IPCountry", "198.51.100.7:1234", []string{"FR"}, ""},
		{"untrusted peer with a forwarded-for of a trusted proxy", "CF-IPCountry", "198.51.100.7:1234", []string{"FR"}, ""},
		{"no header configured", "", "10.1.2.3:443", []string{"FR"}, ""},
		{"header absent", "CF-IPCountry", "10.1.2.3:443", nil, ""},
		{"cloudflare unknown", "CF-IPCountry", "10.1.2.3:443", []string{"XX"}, ""},
		{"cloudflare tor", "CF-IPCountry", "10.1.2.3:443", []string{"T1"}, ""},
		{"user-assigned code", "CF-IPCountry", "10.1.2.3:443", []string{"ZZ"}, ""},
		{"alpha-3", "CF-IPCountry", "10.1.2.3:443", []string{"FRA"}, ""},
		{"one letter", "CF-IPCountry", "10.1.2.3:443", []string{"F"}, ""},
		{"not letters", "CF-IPCountry", "10.1.2.3:443", []string{"1\x00"}, ""},
		{"non-ASCII", "CF-IPCountry", "10.1.2.3:443", []string{"ＦＲ"}, ""},
		{"list", "CF-IPCountry", "10.1.2.3:443", []string{"FR,DE"}, ""},
		{"two headers", "CF-IPCountry", "10.1.2.3:443", []string{"FR", "DE"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://gw.localhost/mcp", strings.NewReader(`{}`))
			r.Host = "gw.localhost:8443"
			r.RemoteAddr = c.remote
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("X-Forwarded-For", "10.9.9.9")
			for _, v := range c.values {
				r.Header.Add("CF-IPCountry", v)
				r.Header.Add("CloudFront-Viewer-Country", v)
			}
			w := httptest.NewRecorder()
			handler(c.header).ServeHTTP(w, r)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var got pipeline.RequestInfo
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			require.Equal(t, c.want, got.Country)
		})
	}
}

func TestISO3166List(t *testing.T) {
	require.Len(t, countries, 249, "ISO 3166-1 assigns 249 alpha-2 codes")
	for c := range countries {
		require.Regexp(t, `^[A-Z]{2}$`, c)
	}
}
