package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	c, err := FromEnv(env(map[string]string{EnvTrustedProxies: "10.0.0.0/8, 192.0.2.1 ,fd00::/8"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("fd00::/8")}
	if len(c.TrustedProxies) != len(want) {
		t.Fatalf("got %v", c.TrustedProxies)
	}
	for i := range want {
		if c.TrustedProxies[i] != want[i] {
			t.Fatalf("got %v, want %v", c.TrustedProxies, want)
		}
	}
	if d := DefaultConfig(); len(d.TrustedProxies) != 0 {
		t.Fatal("no proxy may be trusted by default")
	}
	for _, bad := range []string{"10.0.0.1/8", "proxy.internal", "10.0.0.0/40"} {
		_, err := FromEnv(env(map[string]string{EnvTrustedProxies: bad}))
		if err == nil || !strings.Contains(err.Error(), EnvTrustedProxies) {
			t.Errorf("%q: %v, want an error naming %s", bad, err, EnvTrustedProxies)
		}
	}
}
