package authn

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// FuzzSplitHost: the Host header is attacker-controlled. Whatever it holds,
// splitHost must not panic, and what it accepts must be a plain lower-case
// DNS name or an IP literal: never something that could smuggle a path,
// user info or a second host into the resource URL built from it.
func FuzzSplitHost(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.com.:8443", "[::1]:443", "[::1]", "127.0.0.1", "a@b", "a/b", "", ":", "[", "x:y:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		host, _, ok := splitHost(h)
		if !ok {
			return
		}
		if net.ParseIP(host) != nil {
			return
		}
		if host == "" || strings.ToLower(host) != host || strings.ContainsAny(host, "/@?#[]\\ :") {
			t.Fatalf("splitHost(%q) accepted %q", h, host)
		}
	})
}

// FuzzBearerToken: any Authorization header value parses without panic, and
// a token is only returned from the Bearer scheme.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "Basic abc", "Bearer", "", " "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := &http.Request{Header: http.Header{"Authorization": {v}}}
		tok, present := bearerToken(r)
		if !present {
			t.Fatal("a header was sent")
		}
		if tok != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "bearer ") {
			t.Fatalf("token %q from a non-Bearer header %q", tok, v)
		}
	})
}
