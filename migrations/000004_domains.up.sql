-- Custom domains: hostnames the gateways answer on, the platform's own
-- (tenant_id NULL) or a tenant's (mcp.customer.com). Platform-owned: only the
-- platform writes them, and every write bumps the GLOBAL scope, since every
-- gateway needs every domain to route a request by its Host. A tenant actor
-- reads its own tenant's domains, never another's nor the platform's.
--
-- The API validates hostnames strictly (shared/model HostnameProblem); the
-- CHECK is the backstop for the one spelling gateways match on: lower-case
-- LDH labels, at least two, no trailing dot, no port.
CREATE TABLE domains (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    hostname             text NOT NULL UNIQUE CHECK (length(hostname) <= 253
                             AND hostname ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$'),
    -- Deleting a tenant deletes its domains (the store also bumps the global
    -- scope then, so gateways stop routing them).
    tenant_id            text REFERENCES tenants (id) ON DELETE CASCADE,
    authorization_server text NOT NULL DEFAULT '' CHECK (length(authorization_server) <= 2048),
    revision             bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text NOT NULL DEFAULT ''
);
CREATE INDEX domains_page ON domains (created_at, id);
CREATE INDEX domains_tenant ON domains (tenant_id, created_at, id);

-- Read: platform, or the tenant its own rows. Write: platform only. The FOR
-- ALL policy also grants the platform its reads; permissive policies are OR-ed.
ALTER TABLE domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE domains FORCE ROW LEVEL SECURITY;
CREATE POLICY domains_read ON domains FOR SELECT
    USING (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY domains_write ON domains FOR ALL
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());
