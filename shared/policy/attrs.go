package policy

import (
	"net/netip"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Input is everything a policy may look at for one tools/call: the tool and
// its arguments, who calls it, and where from. The gateway fills it from the
// validated token and the HTTP request; the policy layer never reads a clock
// or the network, so the same Input always gets the same Decision.
type Input struct {
	Tool    string
	Args    map[string]any // the decoded JSON arguments of the call
	User    UserAttrs
	Request RequestAttrs
}

// UserAttrs are the caller's identity, from the validated token.
//
// An empty string and a nil slice mean "not known" (the claim was absent):
// such attributes are left out of the document, and a condition on them is
// neither true nor false (see DESIGN.md, "Missing attributes"). A non-nil
// empty slice means "known to hold nothing" (a roles claim that is []).
type UserAttrs struct {
	ID          string
	Email       string
	Tenant      string
	Roles       []string
	Permissions []string
	Claims      map[string]any // every claim of the token, by name
}

// RequestAttrs describe the request itself.
type RequestAttrs struct {
	IP        string    // client IP as the gateway determined it
	Country   string    // from the configured country header (ISO 3166 alpha-2)
	UserAgent string    // the User-Agent header
	Platform  string    // the AI platform / MCP client the gateway recognised
	Time      time.Time // when the gateway received the request; the zero value means unknown
}

// Document returns the input document Rego sees, for both the compiled
// conditions and raw Rego modules (the contract in validate_rego.go):
//
//	{
//	  "tool": "orders.create",
//	  "args": {...},                           // {} when the call has none
//	  "user": {
//	    "id": "u1", "email": "a@example.com", "tenant": "acme",
//	    "roles": ["admin"], "permissions": ["orders:write"],
//	    "claims": {...}                        // {} when none
//	  },
//	  "request": {
//	    "ip": "192.0.2.7", "country": "FR", "user_agent": "...", "platform": "claude",
//	    "time": "2026-12-04T16:32:20.123Z",     // RFC 3339, UTC
//	    "time_ns": 1796402340123000000,         // the same instant, Unix nanoseconds
//	    "weekday": "fri"                        // mon..sun, in UTC
//	  }
//	}
//
// Unknown attributes (see UserAttrs) are absent rather than "" or null. The
// values are normalised so a condition cannot be dodged by spelling: the IP
// is canonical (IPv4-mapped IPv6 unmapped, zone dropped; an unparsable IP is
// left out), the country is upper case, the e-mail lower case. Times of day
// and weekdays in other time zones are computed by the compiled Rego from
// time_ns (time.clock / time.weekday with the condition's zone).
func (in Input) Document() map[string]any {
	args := in.Args
	if args == nil {
		args = map[string]any{}
	}
	return map[string]any{
		"tool":    in.Tool,
		"args":    args,
		"user":    in.User.document(),
		"request": in.Request.document(),
	}
}

func (u UserAttrs) document() map[string]any {
	claims := u.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	doc := map[string]any{"claims": claims}
	putString(doc, "id", u.ID)
	putString(doc, "email", strings.ToLower(u.Email))
	putString(doc, "tenant", u.Tenant)
	putList(doc, "roles", u.Roles)
	putList(doc, "permissions", u.Permissions)
	return doc
}

func (r RequestAttrs) document() map[string]any {
	doc := map[string]any{}
	putString(doc, "ip", canonicalIP(r.IP))
	putString(doc, "country", strings.ToUpper(r.Country))
	putString(doc, "user_agent", r.UserAgent)
	putString(doc, "platform", r.Platform)
	if !r.Time.IsZero() && inNanoRange(r.Time) {
		t := r.Time.UTC()
		doc["time"] = t.Format(time.RFC3339Nano)
		doc["time_ns"] = t.UnixNano()
		doc["weekday"] = Weekdays[(int(t.Weekday())+6)%7] // Weekdays starts on Monday
	}
	return doc
}

// inNanoRange: Unix nanoseconds fit an int64 between 1678 and 2262; outside
// that the time is treated as unknown rather than wrapped around.
func inNanoRange(t time.Time) bool {
	return !t.Before(time.Unix(0, minNanos)) && !t.After(time.Unix(0, maxNanos))
}

const (
	minNanos = -1 << 63
	maxNanos = 1<<63 - 1
)

func putString(doc map[string]any, key, v string) {
	if v != "" {
		doc[key] = v
	}
}

func putList(doc map[string]any, key string, v []string) {
	if v == nil {
		return
	}
	list := make([]any, len(v))
	for i, s := range v {
		list[i] = s
	}
	doc[key] = list
}

// canonicalIP gives one spelling per address, so "::ffff:10.0.0.1",
// "10.0.0.1" and "2001:DB8::1" compare as the addresses they are. It returns
// "" for anything that is not an IP address.
func canonicalIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return a.Unmap().WithZone("").String()
}

// value converts the document to the AST value OPA evaluates, once per
// Evaluate: the global, tenant and raw Rego queries share it.
func (in Input) value() (ast.Value, error) {
	return ast.InterfaceToValue(in.Document())
}
