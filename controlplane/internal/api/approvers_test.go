package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/portcullis/portcullis/controlplane/internal/store"
)

// TestApproversStoredOnApproval: who may decide an approval is fixed when
// the gateway's check creates it. Editing the policy, deleting it, or a
// same-named policy in the tenant's scope changes nothing.
func TestApproversStoredOnApproval(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	p := env.platformToken()
	env.create(p, "/v1/tools", toolBody("orders.list"))
	pol := policyBody("needs-approval", "approval_required")
	pol["approval"] = map[string]any{"approver_roles": []string{"finance"}, "approver_emails": []string{"cfo@example.test"}, "min_approvals": 1, "expiry_sec": 3600}
	created := env.must(req{method: "POST", path: "/v1/policies", token: p, body: pol}, http.StatusCreated)
	loc := created.header.Get("Location")

	// Three approvals requested while the policy names finance and the CFO.
	a1 := env.gatewayApproval(tenantA, "agent-user", "01", []string{"finance"}, []string{"cfo@example.test"})
	a2 := env.gatewayApproval(tenantA, "agent-user", "02", []string{"finance"}, []string{"cfo@example.test"})
	a3 := env.gatewayApproval(tenantA, "agent-user", "03", []string{"finance"}, []string{"cfo@example.test"})
	approve := func(a store.Approval, token string, want int) {
		t.Helper()
		env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a.ID + "/approve", token: token}, want)
	}

	// The policy now names ops instead: the approvals keep their approvers.
	pol["approval"] = map[string]any{"approver_roles": []string{"ops"}, "min_approvals": 1, "expiry_sec": 3600}
	env.must(req{method: "PUT", path: loc, token: p, body: pol}, http.StatusOK)
	approve(a1, env.token("op", tenantA, "tenant-admin", "ops"), http.StatusForbidden)
	approve(a1, env.token("fin", tenantA, "tenant-admin", "finance"), http.StatusOK)

	// A same-named tenant policy naming interns does not add approvers.
	tpol := policyBody("needs-approval", "approval_required")
	tpol["approval"] = map[string]any{"approver_roles": []string{"intern"}, "min_approvals": 1, "expiry_sec": 3600}
	env.create(p, "/v1/tenants/ta/policies", tpol)
	approve(a2, env.token("int", tenantA, "tenant-admin", "intern"), http.StatusForbidden)

	// Deleted: before, a deleted policy left the decision to any admin.
	env.must(req{method: "DELETE", path: loc, token: p}, http.StatusNoContent)
	approve(a3, env.tenantToken(tenantA), http.StatusForbidden)
	approve(a3, env.token("ops2", tenantA, "tenant-admin", "ops"), http.StatusForbidden)
	approve(a3, env.token("cfo", tenantA, "tenant-admin"), http.StatusOK) // e-mail cfo@example.test
	approve(a2, env.token("fin", tenantA, "tenant-admin", "finance"), http.StatusOK)
}

// TestApproversDefaultForGatewayRow: a row the gateway created without
// approver lists (the flow defaults) is decided by the route's admins,
// whatever a policy of the same name says today.
func TestApproversDefaultForGatewayRow(t *testing.T) {
	env := newEnv(t)
	env.seedTenant(tenantA, true)
	p := env.platformToken()
	env.create(p, "/v1/tools", toolBody("orders.list"))
	pol := policyBody("needs-approval", "approval_required")
	pol["approval"] = map[string]any{"approver_roles": []string{"finance"}, "min_approvals": 1, "expiry_sec": 3600}
	env.create(p, "/v1/policies", pol)
	a := env.gatewayApproval(tenantA, "agent-user", "04", nil, nil)
	env.must(req{method: "POST", path: "/v1/tenants/ta/approvals/" + a.ID + "/approve", token: env.tenantToken(tenantA)}, http.StatusOK)
}

// gatewayApproval creates a pending approval the way the gateway's check
// does (store.CheckApproval), with the policy's approvers copied onto it.
func (env *env) gatewayApproval(tenant, user, hashByte string, roles, emails []string) store.Approval {
	env.t.Helper()
	outcome, a, err := env.store.CheckApproval(context.Background(), store.ApprovalCheck{
		TenantID: tenant, UserID: user, UserEmail: user + "@example.test", Tool: "orders.list",
		ArgsHash: strings.Repeat(hashByte, 32), PolicyName: "needs-approval", PolicyScope: "global",
		ApproverRoles: roles, ApproverEmails: emails, MinApprovals: 1, Expiry: time.Hour,
	})
	require.NoError(env.t, err)
	require.Equal(env.t, store.CheckCreated, outcome)
	return a
}
