DO $$
DECLARE
    t text;
    p record;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'access_rules', 'masking_rules', 'policies', 'hooks',
        'approvals', 'idempotency_keys', 'audit_events', 'scope_revisions', 'outbox', 'tools',
        'tool_sources', 'signing_keys', 'bundle_revisions', 'gateways'] LOOP
        FOR p IN SELECT policyname FROM pg_policies WHERE schemaname = current_schema() AND tablename = t LOOP
            EXECUTE format('DROP POLICY %I ON %I', p.policyname, t);
        END LOOP;
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
