-- Rate limits and network (IP allow/block) rules: scoped resources exactly
-- like access_rules and masking_rules (000001, 000003): tenant_id NULL is a
-- global row, names are unique per scope, a tenant admin writes its own rows
-- and reads its own plus the global ones (global limits and network rules
-- apply to its users). Tenant rows only ever restrict further: the gateway
-- enforces global and tenant rules together.
CREATE TABLE rate_limits (LIKE access_rules INCLUDING ALL);
ALTER TABLE rate_limits ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

CREATE TABLE network_rules (LIKE access_rules INCLUDING ALL);
ALTER TABLE network_rules ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['rate_limits', 'network_rules'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY %1$s_read ON %1$I FOR SELECT
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant()
                   OR (tenant_id IS NULL AND portcullis_tenant() IS NOT NULL))$p$, t);
        EXECUTE format($p$CREATE POLICY %1$s_insert ON %1$I FOR INSERT
            WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
        EXECUTE format($p$CREATE POLICY %1$s_update ON %1$I FOR UPDATE
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant())
            WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
        EXECUTE format($p$CREATE POLICY %1$s_delete ON %1$I FOR DELETE
            USING (portcullis_is_platform() OR tenant_id = portcullis_tenant())$p$, t);
    END LOOP;
END
$$;
