// Package bundle defines the bundle: the compiled, self-contained configuration
// of one scope that the control plane signs and every gateway verifies before
// enforcing it. It holds the format, its signing (Sign), its verification
// (Verify) and the replacement rule (Accept); it does no I/O.
//
// # Scopes and KV keys
//
// A scope is "global" (tools, global access rules, policies, hooks, masking
// rules, backend HMAC keys) or "tenant/<id>" (one tenant's delegated access
// rules, policies and masking rules). Each scope has one key in the JetStream
// KV bucket "portcullis-bundles": "global" or "tenant.<id>" (KeyFor,
// ScopeFromKey). Tenant ids match ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$, which also
// keeps them legal inside a KV key.
//
// # Format
//
// The KV value is a compact JWS (RFC 7515):
//
//	BASE64URL(protected) "." BASE64URL(payload) "." BASE64URL(signature)
//
// protected header: {"alg":"EdDSA","kid":"<signing key id>","typ":"portcullis-bundle+jws"}
//
// payload: the JSON of Bundle:
//
//	{"scope":"tenant/acme","revision":42,"built_at":"2026-12-04T15:00:00Z",
//	 "content_hash":"<64 hex>","deleted":true?,
//	 "global":{"tools":[{"id":"<uuid>","spec":{...model.Tool}}],"access_rules":[...],
//	           "policies":[...],"hooks":[...],"masking_rules":[...],
//	           "backend_keys":[{"kid":"k1","status":"active","created_at":"...","sealed":"<base64>"}],
//	           "domains":[...]?,"rate_limits":[...]?,"network_rules":[...]?}
//	 | "tenant":{"tenant":{...model.Tenant},"access_rules":[...],"policies":[...],"masking_rules":[...],
//	           "rate_limits":[...]?,"network_rules":[...]?}}
//
// Fields marked ? are omitted when empty, so adding them did not change the
// bytes (or content hash) of a bundle that has none.
//
// Backend HMAC secrets travel sealed (package seal, AES-256-GCM, key
// PORTCULLIS_BUNDLE_SEAL_KEY, additional data = the kid): reading the bucket
// does not reveal them; SigningKeys opens them on the gateway (active and
// retiring keys sign, revoked or expired ones never). A tenant that is deleted gets a tombstone: a signed
// bundle with "deleted": true and a higher revision, so removal is ordered and
// authenticated like any other change.
//
// # Content hash
//
// content_hash is the lowercase hex SHA-256 of the canonical JSON of
// {"scope","revision","deleted","global","tenant"} (built_at and the hash
// itself are excluded). Canonical JSON is Go's encoding/json output for these
// types: struct fields in declaration order, map keys sorted, no whitespace,
// <, > and & escaped as \u003c, \u003e, \u0026. That output is deterministic;
// the verifier decodes with UseNumber so numbers inside free-form values (tool
// schemas, condition values) re-encode byte for byte. The hash identifies a
// configuration (fleet reports, duplicate detection); the signature, which
// covers the whole payload, is what makes it trustworthy.
//
// # Signing
//
// The control plane signs with its Ed25519 key (stored sealed in Postgres);
// its public keys are served as a JWKS (PublicJWKS) at
// GET /v1/bundle-signing-keys and configured on gateways out of band
// (ParseJWKS → KeySet). During a signing-key rotation the KeySet holds both
// keys. KeyID gives an RFC 7638 thumbprint to use as kid.
//
// # Invariants a gateway applies
//
//  1. Reject a bad signature: Verify accepts only alg EdDSA (never none, HS*,
//     RS*, even if some key would match), a kid in the configured KeySet, the
//     typ above, a recomputed content hash equal to content_hash, a scope equal
//     to the scope of the KV key the value was read from (a tenant A bundle
//     written under tenant B's key is refused), a positive revision, and
//     content matching the scope.
//  2. Reject an older revision: Accept(current, next) allows only a strictly
//     higher revision. The same revision with the same hash is ErrDuplicate (a
//     redelivery: ignore it); the same revision with another hash is ErrStale.
//  3. Keep the last good bundle: a bundle refused by Verify or Accept never
//     replaces what the gateway serves, and losing NATS or the control plane
//     never empties it. The gateway logs the refusal and reports the revisions
//     it has applied in its heartbeats.
//  4. Unknown payload fields are refused, so gateways are upgraded before the
//     control plane starts emitting a newer format.
package bundle
