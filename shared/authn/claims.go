package authn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkClaims enforces iss, aud, exp (required), nbf and iat with skew.
// The token's aud must contain one of audiences.
func (v *Validator) checkClaims(ic IssuerConfig, audiences []string, claims map[string]any, now time.Time) error {
	if claims["iss"] != ic.Issuer {
		return invalid("issuer mismatch")
	}
	aud, ok := audience(claims["aud"])
	if !ok || !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(audiences, a) }) {
		return invalid("audience mismatch")
	}
	skew := v.cfg.Skew
	exp, ok, err := numericDate(claims, "exp")
	switch {
	case err != nil:
		return err
	case !ok:
		return invalid("missing exp")
	case !now.Before(exp.Add(skew)):
		return invalid("expired")
	}
	nbf, ok, err := numericDate(claims, "nbf")
	switch {
	case err != nil:
		return err
	case ok && now.Add(skew).Before(nbf):
		return invalid("not valid yet")
	}
	iat, ok, err := numericDate(claims, "iat")
	switch {
	case err != nil:
		return err
	case ok && now.Add(skew).Before(iat):
		return invalid("issued in the future")
	}
	return nil
}

// numericDate reads an RFC 7519 NumericDate claim.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	raw, present := claims[name]
	if !present {
		return time.Time{}, false, nil
	}
	f, ok := raw.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e12 {
		return time.Time{}, false, invalid(fmt.Sprintf("%s is not a NumericDate", name))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// principal maps the verified claims onto a Principal.
func principal(ic IssuerConfig, claims map[string]any) (Principal, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Principal{}, invalid("missing sub")
	}
	p := Principal{
		Issuer:  ic.Issuer,
		Subject: sub,
		Claims:  claims,
	}
	p.TenantID = stringClaim(claim(claims, ic.TenantClaim))
	p.Email = stringClaim(claim(claims, ic.EmailClaim))
	p.ACR, _ = claims["acr"].(string)
	if at, ok, err := numericDate(claims, "auth_time"); err == nil && ok {
		p.AuthTime = at
	}
	var ok bool
	if p.Roles, ok = stringList(claim(claims, ic.RolesClaim)); !ok {
		return Principal{}, invalid("roles claim is neither a string nor a list of strings")
	}
	if p.Permissions, ok = stringList(claim(claims, ic.PermissionsClaim)); !ok {
		return Principal{}, invalid("permissions claim is neither a string nor a list of strings")
	}
	return p, nil
}

// claim returns claims[name], or for a dotted name with no literal match the
// value at that path through nested objects.
func claim(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// stringClaim renders a scalar claim as a string (a numeric tenant id is
// still an id); other shapes give "".
func stringClaim(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return ""
	}
}

// stringList reads an absent claim (empty), a space-separated string, or an
// array of strings. ok is false for any other shape.
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string:
		return strings.Fields(x), true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	default:
		return nil, false
	}
}

// audience reads aud: one string (taken whole, spaces and all) or an array of
// strings (RFC 7519 §4.1.3).
func audience(v any) ([]string, bool) {
	if s, ok := v.(string); ok {
		return []string{s}, true
	}
	if _, ok := v.([]any); !ok {
		return nil, false
	}
	return stringList(v)
}
