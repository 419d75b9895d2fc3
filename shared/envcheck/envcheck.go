// Package envcheck holds the configuration checks both planes apply to the
// same kinds of settings (NATS URLs, token issuers), so a value one plane
// accepts the other does not refuse, and neither echoes a credential back in
// its error. Pure functions: no I/O.
package envcheck

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/shared/authn"
)

// NATSURL checks a comma-separated list of NATS server URLs given in the
// variable env. A bad entry is not echoed: it may carry credentials
// (nats://user:pass@host).
func NATSURL(env, raw string) error {
	for _, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			return fmt.Errorf("%s: an entry is not a NATS URL (nats://host:port)", env)
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%s: scheme %q, want nats, tls, ws or wss", env, u.Scheme)
		}
	}
	return nil
}

// Issuers checks the token issuers given in the variable env: at least one,
// each an http(s) URL, none twice. who names what the issuers authenticate
// for the error ("no admin can call the API"). With requireAudiences every
// issuer must list its audiences (the gateway computes them per host instead).
func Issuers(env string, iss []authn.IssuerConfig, who string, requireAudiences bool) []error {
	if len(iss) == 0 {
		return []error{fmt.Errorf("%s is required: without an issuer %s", env, who)}
	}
	var errs []error
	seen := make(map[string]bool, len(iss))
	for i, is := range iss {
		u, err := url.Parse(is.Issuer)
		switch {
		case is.Issuer == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			errs = append(errs, fmt.Errorf("%s[%d]: issuer %q is not an http(s) URL", env, i, is.Issuer))
		case seen[is.Issuer]:
			errs = append(errs, fmt.Errorf("%s[%d]: issuer %q is listed twice", env, i, is.Issuer))
		}
		seen[is.Issuer] = true
		if requireAudiences && len(is.Audiences) == 0 {
			errs = append(errs, fmt.Errorf("%s[%d]: audiences is required (a token for another service must not be accepted)", env, i))
		}
	}
	return errs
}
