-- Row-level security. The application connects as the (non-superuser) owner
-- of these tables; FORCE makes the owner subject to the policies too. Every
-- store transaction sets, transaction-locally:
--   portcullis.platform  = 'on'   for platform admins and system workers
--   portcullis.tenant_id = '<id>' for a tenant admin
-- A session that sets neither sees and writes nothing.
--
-- Access model:
--   tenants                          read: platform, or the tenant itself; write: platform only
--                                    (a tenant must never enable its own delegation)
--   access_rules, masking_rules      read: platform, own tenant rows, global rows (the global rules
--                                    apply to the tenant's users; the API decides what to show);
--                                    write: platform, or own tenant rows (never global rows)
--   policies                         as above, but a tenant may write only while its tenant has
--                                    delegation_enabled
--   hooks                            read: platform or own tenant rows (hook code may embed
--                                    secrets; global hooks are not shown to tenants);
--                                    write: platform only
--   approvals                        read/write: platform or own tenant
--   audit_events                     read: platform or own tenant; insert/delete: platform;
--                                    no UPDATE policy at all: the trail is append-only
--   idempotency_keys                 read/write: platform or own tenant (tenant_id = acting tenant)
--   scope_revisions                  read/write: platform, or a tenant's own 'tenant/<id>' row
--   outbox                           insert: platform, or a tenant for its own scope;
--                                    read/update/delete: platform (the relay)
--   tools                            read: any actor (platform or tenant); write: platform
--   tool_sources, signing_keys,      platform only (sources carry backend headers, keys are
--   bundle_revisions, gateways       secrets, the rest is fleet/relay state)

-- tenants
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_read ON tenants FOR SELECT
    USING (portcullis_is_platform() OR id = portcullis_tenant());
CREATE POLICY tenants_insert ON tenants FOR INSERT WITH CHECK (portcullis_is_platform());
CREATE POLICY tenants_update ON tenants FOR UPDATE
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());
CREATE POLICY tenants_delete ON tenants FOR DELETE USING (portcullis_is_platform());

-- access_rules, masking_rules: tenants write their own rows, read global ones.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['access_rules', 'masking_rules', 'policies'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %1$s_read ON %1$I FOR SELECT
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant()
                   OR (tenant_id IS NULL AND portcullis_tenant() IS NOT NULL))$p$, t);
        EXECUTE format($p$CREATE POLICY %1$s_update ON %1$I FOR UPDATE
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant())
            WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
        EXECUTE format($p$CREATE POLICY %1$s_delete ON %1$I FOR DELETE
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
    END LOOP;
END
$$;
CREATE POLICY access_rules_insert ON access_rules FOR INSERT
    WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY masking_rules_insert ON masking_rules FOR INSERT
    WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant());
-- Tenant policies exist only under delegation: the handler rejects them first,
-- this is the backstop. Policies are permissive (OR-ed), so the delegation
-- condition is added as a RESTRICTIVE policy that every write must also pass.
CREATE POLICY policies_insert ON policies FOR INSERT
    WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY policies_delegation_insert ON policies AS RESTRICTIVE FOR INSERT
    WITH CHECK (portcullis_is_platform() OR EXISTS (
        SELECT 1 FROM tenants t WHERE t.id = policies.tenant_id AND t.delegation_enabled));
CREATE POLICY policies_delegation_update ON policies AS RESTRICTIVE FOR UPDATE
    USING (true)
    WITH CHECK (portcullis_is_platform() OR EXISTS (
        SELECT 1 FROM tenants t WHERE t.id = policies.tenant_id AND t.delegation_enabled));

-- hooks: platform writes; tenants read only their own.
ALTER TABLE hooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE hooks FORCE ROW LEVEL SECURITY;
CREATE POLICY hooks_read ON hooks FOR SELECT
    USING (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY hooks_write ON hooks FOR ALL
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());

-- approvals, idempotency_keys: own tenant or platform.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['approvals', 'idempotency_keys'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %1$s_tenant ON %1$I FOR ALL
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant())
            WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
    END LOOP;
END
$$;

-- audit_events: append-only (no UPDATE policy, so UPDATE matches no row for anyone).
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_read ON audit_events FOR SELECT
    USING (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY audit_events_insert ON audit_events FOR INSERT WITH CHECK (portcullis_is_platform());
CREATE POLICY audit_events_delete ON audit_events FOR DELETE USING (portcullis_is_platform());

-- scope_revisions: a tenant transaction bumps only its own scope.
ALTER TABLE scope_revisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE scope_revisions FORCE ROW LEVEL SECURITY;
CREATE POLICY scope_revisions_actor ON scope_revisions FOR ALL
    USING (portcullis_is_platform() OR scope = 'tenant/' || portcullis_tenant())
    WITH CHECK (portcullis_is_platform() OR scope = 'tenant/' || portcullis_tenant());

-- outbox: tenants enqueue for their own scope; only the relay reads it.
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_enqueue ON outbox FOR INSERT
    WITH CHECK (portcullis_is_platform() OR scope = 'tenant/' || portcullis_tenant());
CREATE POLICY outbox_relay ON outbox FOR ALL
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());

-- tools: readable by every actor, written by the platform.
ALTER TABLE tools ENABLE ROW LEVEL SECURITY;
ALTER TABLE tools FORCE ROW LEVEL SECURITY;
CREATE POLICY tools_read ON tools FOR SELECT
    USING (portcullis_is_platform() OR portcullis_tenant() IS NOT NULL);
CREATE POLICY tools_write ON tools FOR ALL
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());

-- Platform-only tables.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tool_sources', 'signing_keys', 'bundle_revisions', 'gateways'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %1$s_platform ON %1$I FOR ALL
            USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform())$p$, t);
    END LOOP;
END
$$;
