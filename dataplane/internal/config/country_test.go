package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCountryHeader(t *testing.T) {
	if d := DefaultConfig(); d.CountryHeader != "" {
		t.Fatalf("default country header %q, want none", d.CountryHeader)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		header  string
		proxies []netip.Prefix
		want    string // substring of Verify's error; "" = valid
	}{
		{"unset", "", nil, ""},
		{"cloudflare behind a trusted proxy", "CF-IPCountry", proxies, ""},
		{"cloudfront behind a trusted proxy", "CloudFront-Viewer-Country", proxies, ""},
		{"no trusted proxy to read it from", "CF-IPCountry", nil, EnvTrustedProxies},
		{"not a header name", "CF IPCountry", proxies, "not an HTTP header name"},
		{"header injection", "X-Country\r\nX-Evil", proxies, "not an HTTP header name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := validEnv()
			e[EnvCountryHeader] = c.header
			cfg, err := FromEnv(env(e))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CountryHeader != strings.TrimSpace(c.header) {
				t.Fatalf("CountryHeader %q, want %q", cfg.CountryHeader, c.header)
			}
			cfg.TrustedProxies = c.proxies
			err = cfg.Verify()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
