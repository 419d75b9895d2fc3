DROP TABLE IF EXISTS idempotency_keys, gateways, bundle_revisions, outbox, scope_revisions,
    signing_keys, approvals, masking_rules, hooks, policies, access_rules, tools, tool_sources,
    tenants;
DROP FUNCTION IF EXISTS portcullis_tenant();
DROP FUNCTION IF EXISTS portcullis_is_platform();
