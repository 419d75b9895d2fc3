// Package policyeval is the gateway's policy layer (request path layer 4):
// it implements pipeline.Policies with the compiled policies of the global
// bundle and of the caller's tenant bundle (shared/policy), and turns the
// merged decision into what the agent sees:
//
//   - allow: the call goes on (mask policies add their rule names to the
//     request for the masking layer);
//   - deny: JSON-RPC error CodeDenied naming the policy;
//   - step_up: passes when the token's acr / auth_time satisfy every step-up
//     policy that fired, else HTTP 401 with an RFC 9470 challenge
//     (WWW-Authenticate: Bearer error="insufficient_user_authentication",
//     acr_values, max_age, resource_metadata) and a readable JSON-RPC error;
//   - approval_required: a confirmation the pipeline runs last, after hooks
//     and schema validation, which asks the control plane (package
//     approvals) to consume an approval for this exact call: consumed →
//     the call goes on; pending → an error with the approval id, expiry and
//     where to check; denied → refused; no answer → refused (fail closed).
//
// Any evaluation or compilation failure refuses the call. Compiled layers
// are cached per bundle (bundles are immutable, so the bundle pointer is the
// key): the global layer once per global bundle, shared by every tenant,
// and one layer per tenant bundle that has delegated policies, in a
// bounded cache.
package policyeval
