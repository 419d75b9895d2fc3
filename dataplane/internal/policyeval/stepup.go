package policyeval

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/dataplane/internal/mcp"
	"github.com/portcullis/portcullis/dataplane/internal/pipeline"
	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/policy"
)

// authTimeSkew tolerates an auth_time slightly in the future (clock skew
// between the issuer and the gateway), as token validation does for iat.
const authTimeSkew = time.Minute

// StepUpData is the data of a CodeStepUpRequired error: what the agent's
// user must re-authenticate with (the same as the WWW-Authenticate header).
type StepUpData struct {
	Kind      string   `json:"kind"` // "step_up"
	Policy    string   `json:"policy"`
	Scope     string   `json:"scope"`
	ACRValues []string `json:"acr_values,omitempty"`
	MaxAge    int      `json:"max_age,omitempty"`
}

// stepUp lets the call through when the token satisfies every step-up
// policy that fired, and answers the RFC 9470 challenge otherwise.
func (l *Layer) stepUp(r *pipeline.Request, d policy.Decision, now time.Time) error {
	rules := d.StepUpRules()
	if len(rules) == 0 && d.StepUp != nil {
		rules = []policy.StepUpRule{*d.StepUp}
	}
	by := decidedBy(r, d)
	if len(rules) > 0 && satisfiesAll(r.Principal, rules, now) {
		record(r, audit.DecisionAllow, by, "")
		return nil
	}
	acr, maxAge := demand(rules, d.StepUp)
	meta := r.Info.ResourceMetadata
	if meta == "" {
		meta = l.metadata
	}
	record(r, audit.DecisionStepUp, by, errStepUpRequired)
	return &mcp.Error{
		Code:       CodeStepUpRequired,
		Message:    stepUpMessage(d.Policy, acr, maxAge),
		Data:       StepUpData{Kind: "step_up", Policy: by.Name, Scope: by.Scope, ACRValues: acr, MaxAge: maxAge},
		HTTPStatus: http.StatusUnauthorized,
		Header:     http.Header{"Www-Authenticate": {Challenge(acr, maxAge, meta)}},
	}
}

// satisfiesAll reports whether the token meets every rule: its acr is one
// of the rule's acr_values (when it lists any), and its auth_time is at
// most max_age seconds old (when it sets one). A rule with neither demands
// nothing the token can show, so it is never satisfied.
func satisfiesAll(p authn.Principal, rules []policy.StepUpRule, now time.Time) bool {
	for _, rule := range rules {
		if len(rule.ACRValues) == 0 && rule.MaxAgeSec <= 0 {
			return false
		}
		if len(rule.ACRValues) > 0 && (p.ACR == "" || !slices.Contains(rule.ACRValues, p.ACR)) {
			return false
		}
		if rule.MaxAgeSec > 0 && !recent(p.AuthTime, time.Duration(rule.MaxAgeSec)*time.Second, now) {
			return false
		}
	}
	return true
}

// recent: the user authenticated within maxAge of now (an unknown
// auth_time is not recent).
func recent(authTime time.Time, maxAge time.Duration, now time.Time) bool {
	if authTime.IsZero() || authTime.After(now.Add(authTimeSkew)) {
		return false
	}
	return now.Sub(authTime) <= maxAge
}

// demand is what the challenge asks for so that one new token satisfies
// every rule: the acr values every rule accepts (the deciding rule's when
// they have none in common) and the smallest max_age.
func demand(rules []policy.StepUpRule, deciding *policy.StepUpRule) (acr []string, maxAge int) {
	first := true
	for _, rule := range rules {
		if rule.MaxAgeSec > 0 && (maxAge == 0 || rule.MaxAgeSec < maxAge) {
			maxAge = rule.MaxAgeSec
		}
		if len(rule.ACRValues) == 0 {
			continue
		}
		if first {
			acr, first = slices.Clone(rule.ACRValues), false
			continue
		}
		acr = slices.DeleteFunc(acr, func(v string) bool { return !slices.Contains(rule.ACRValues, v) })
	}
	if !first && len(acr) == 0 && deciding != nil {
		acr = slices.Clone(deciding.ACRValues)
	}
	return safeValues(acr), maxAge
}

// safeValues keeps the values that can sit in a quoted header parameter
// (validation already demands printable ASCII without spaces, quotes or
// backslashes; a crafted bundle must not inject header syntax anyway).
func safeValues(vs []string) []string {
	return slices.DeleteFunc(vs, func(v string) bool {
		return v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' })
	})
}

// Challenge is the WWW-Authenticate value of a step-up (RFC 9470 §3, with
// RFC 9728's resource_metadata).
func Challenge(acr []string, maxAge int, resourceMetadata string) string {
	var b strings.Builder
	b.WriteString(`Bearer error="insufficient_user_authentication"`)
	b.WriteString(`, error_description="A stronger or more recent authentication is required"`)
	if len(acr) > 0 {
		fmt.Fprintf(&b, `, acr_values="%s"`, strings.Join(acr, " "))
	}
	if maxAge > 0 {
		fmt.Fprintf(&b, `, max_age=%d`, maxAge)
	}
	if resourceMetadata != "" && !strings.ContainsAny(resourceMetadata, "\"\\\r\n") {
		fmt.Fprintf(&b, `, resource_metadata="%s"`, resourceMetadata)
	}
	return b.String()
}

// stepUpMessage is the readable JSON-RPC message.
func stepUpMessage(name string, acr []string, maxAge int) string {
	var need []string
	if len(acr) > 0 {
		need = append(need, "authentication level (acr) "+strings.Join(acr, " or "))
	}
	if maxAge > 0 {
		need = append(need, fmt.Sprintf("having signed in within the last %d seconds", maxAge))
	}
	msg := "Step-up authentication required by policy " + quote(name) + ": sign in again"
	if len(need) > 0 {
		msg += " with " + strings.Join(need, " and ")
	}
	return msg + ", then retry with the new token"
}
