package policyeval

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/shared/audit"
	"github.com/portcullis/portcullis/shared/authn"
	"github.com/portcullis/portcullis/shared/bundle"
	"github.com/portcullis/portcullis/shared/policy"
)

func withACR(p authn.Principal, acr string, authTime time.Time) authn.Principal {
	p.ACR, p.AuthTime = acr, authTime
	return p
}

func TestStepUp(t *testing.T) {
	e := newEnv(t, nil, func(url string) []*bundle.Bundle {
		return []*bundle.Bundle{
			globalBundle(t, 1, url, stepUpPol("mfa-refunds", policy.StepUpRule{ACRValues: []string{"mfa", "phr"}}, "orders.refund")),
			// acme adds: the sign-in must also be at most 5 minutes old.
			tenantBundle("acme", 1, true, stepUpPol("acme-fresh", policy.StepUpRule{MaxAgeSec: 300}, "orders.refund")),
		}
	})
	globex := user("globex")
	err := e.call(globex, "orders.refund", 5)
	require.NotNil(t, err)
	assert.Equal(t, http.StatusUnauthorized, err.HTTPStatus)
	assert.Equal(t, CodeStepUpRequired, err.Code)
	assert.Equal(t, []string{`Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", acr_values="mfa phr", resource_metadata="` + metadataURL + `"`},
		err.Header.Values("WWW-Authenticate"))
	assert.Equal(t, `Step-up authentication required by policy "mfa-refunds": sign in again with authentication level (acr) mfa or phr, then retry with the new token`, err.Message)
	assert.Equal(t, StepUpData{Kind: "step_up", Policy: "mfa-refunds", Scope: "global", ACRValues: []string{"mfa", "phr"}}, err.Data)
	ev := e.audit.last(t)
	assert.Equal(t, audit.DecisionStepUp, ev.Decision)
	assert.Equal(t, "step_up_required", ev.Error)
	assert.Zero(t, e.backend.count())

	// The wrong acr does not pass; a listed one does.
	require.NotNil(t, e.call(withACR(globex, "pwd", clock), "orders.refund", 5))
	require.Nil(t, e.call(withACR(globex, "phr", time.Time{}), "orders.refund", 5))
	ev = e.audit.last(t)
	assert.Equal(t, audit.DecisionAllow, ev.Decision)
	assert.Equal(t, &audit.DecidedBy{Kind: "policy", Name: "mfa-refunds", Scope: "global"}, ev.DecidedBy)

	// acme's users need both: every step-up rule that fired must hold.
	acme := user("acme")
	cases := []struct {
		name     string
		p        authn.Principal
		pass     bool
		acr      string
		maxAgeIn bool
	}{
		{"mfa, fresh", withACR(acme, "mfa", clock.Add(-4*time.Minute)), true, "", false},
		{"mfa, exactly max_age", withACR(acme, "mfa", clock.Add(-5*time.Minute)), true, "", false},
		{"mfa, stale", withACR(acme, "mfa", clock.Add(-6*time.Minute)), false, "mfa phr", true},
		{"mfa, no auth_time", withACR(acme, "mfa", time.Time{}), false, "mfa phr", true},
		{"mfa, auth_time in the future", withACR(acme, "mfa", clock.Add(time.Hour)), false, "mfa phr", true},
		{"fresh, no acr", withACR(acme, "", clock), false, "mfa phr", true},
	}
	for _, c := range cases {
		err := e.call(c.p, "orders.refund", 5)
		if c.pass {
			assert.Nil(t, err, c.name)
			continue
		}
		if assert.NotNil(t, err, c.name) {
			assert.Equal(t, `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", acr_values="mfa phr", max_age=300, resource_metadata="`+metadataURL+`"`,
				err.Header.Get("WWW-Authenticate"), c.name)
		}
	}
}

func TestStepUpResourceMetadataOfTheHost(t *testing.T) {
	assert.Equal(t, `Bearer error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required", max_age=60`,
		Challenge(nil, 60, ""))
	// Values that would break out of the quoted parameter are dropped.
	acr, _ := demand([]policy.StepUpRule{{ACRValues: []string{`mfa", error="x`, "ok"}}}, nil)
	assert.Equal(t, []string{"ok"}, acr)
	assert.NotContains(t, Challenge(nil, 0, `https://x/"bad`), "resource_metadata")
}

func TestDemand(t *testing.T) {
	acr, maxAge := demand([]policy.StepUpRule{{ACRValues: []string{"mfa", "phr"}, MaxAgeSec: 600}, {ACRValues: []string{"phr", "hwk"}, MaxAgeSec: 60}}, nil)
	assert.Equal(t, []string{"phr"}, acr, "the value both rules accept")
	assert.Equal(t, 60, maxAge, "the strictest max_age")
	deciding := &policy.StepUpRule{ACRValues: []string{"hwk"}}
	acr, _ = demand([]policy.StepUpRule{{ACRValues: []string{"mfa"}}, *deciding}, deciding)
	assert.Equal(t, []string{"hwk"}, acr, "nothing in common: the deciding policy's")
}
