-- Portcullis control-plane schema: configuration resources, approvals, keys,
-- the transactional outbox and fleet state. Row-level security is added in
-- 000003_rls so the whole access model reads in one file.

-- Who the current transaction runs as. store.Tx sets both with
-- set_config(..., true) (transaction-local). current_setting(..., true) is NULL
-- when never set and '' after a transaction that set it ended, so both mean
-- "not set"; a tenant id is never empty (CHECK on tenants.id).
CREATE FUNCTION portcullis_is_platform() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('portcullis.platform', true), '') = 'on'
$$;

CREATE FUNCTION portcullis_tenant() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('portcullis.tenant_id', true), '')
$$;

CREATE TABLE tenants (
    id                 text PRIMARY KEY CHECK (id ~ '^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$'),
    name               text NOT NULL,
    delegation_enabled boolean NOT NULL DEFAULT false,
    revision           bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text NOT NULL DEFAULT ''
);
CREATE INDEX tenants_page ON tenants (created_at, id);

-- Tool sources and tools are platform-owned (no tenant_id).
CREATE TABLE tool_sources (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    revision   bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    spec       jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT ''
);
CREATE INDEX tool_sources_page ON tool_sources (created_at, id);

CREATE TABLE tools (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-zA-Z0-9_.-]{1,64}$'),
    revision   bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    spec       jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT ''
);
CREATE INDEX tools_page ON tools (created_at, id);

-- Scoped resources: tenant_id NULL is a global (platform) row. Names are unique
-- per scope; coalesce folds NULL into '' (never a tenant id) so two global rows
-- cannot share a name either.
CREATE TABLE access_rules (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  text REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    revision   bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    spec       jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX access_rules_scope_name ON access_rules ((coalesce(tenant_id, '')), name);
CREATE INDEX access_rules_page ON access_rules ((coalesce(tenant_id, '')), created_at, id);

CREATE TABLE policies (LIKE access_rules INCLUDING ALL);
ALTER TABLE policies ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

CREATE TABLE hooks (LIKE access_rules INCLUDING ALL);
ALTER TABLE hooks ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

CREATE TABLE masking_rules (LIKE access_rules INCLUDING ALL);
ALTER TABLE masking_rules ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

CREATE TABLE approvals (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id       text NOT NULL,
    tool          text NOT NULL,
    args_hash     text NOT NULL,
    arguments     jsonb,
    policy_name   text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'consumed')),
    min_approvals int NOT NULL DEFAULT 1 CHECK (min_approvals BETWEEN 1 AND 10),
    decisions     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(decisions) = 'array'),
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz,
    consumed_at   timestamptz
);
CREATE INDEX approvals_page ON approvals (tenant_id, created_at DESC, id DESC);
CREATE INDEX approvals_pending ON approvals (tenant_id, user_id, tool, args_hash) WHERE status IN ('pending', 'approved');

-- Secrets are sealed with the master key (AES-256-GCM, aad = kid); public_key
-- is set for bundle signing keys only (public, so stored in clear).
CREATE TABLE signing_keys (
    kid           text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('backend_hmac', 'bundle_ed25519')),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retiring', 'revoked')),
    secret_sealed bytea NOT NULL,
    public_key    bytea,
    not_after     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL DEFAULT ''
);
CREATE INDEX signing_keys_kind ON signing_keys (kind, created_at);

-- One row per scope ('global' or 'tenant/<id>'): the last revision handed out.
-- Writers bump it with INSERT .. ON CONFLICT DO UPDATE; the row lock they hold
-- until commit orders concurrent writers of one scope.
CREATE TABLE scope_revisions (
    scope    text PRIMARY KEY CHECK (scope = 'global' OR scope ~ '^tenant/[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$'),
    revision bigint NOT NULL CHECK (revision > 0)
);

-- Transactional outbox: one row per committed scope revision, drained by the relay.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    scope        text NOT NULL,
    revision     bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished ON outbox (scope, revision) WHERE published_at IS NULL;

CREATE TABLE bundle_revisions (
    scope        text NOT NULL,
    revision     bigint NOT NULL,
    content_hash text NOT NULL,
    built_at     timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    PRIMARY KEY (scope, revision)
);

CREATE TABLE gateways (
    id         text PRIMARY KEY,
    hostname   text NOT NULL DEFAULT '',
    version    text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    revisions  jsonb NOT NULL DEFAULT '{}'
);

-- Stored responses for Idempotency-Key. tenant_id is the acting tenant (NULL
-- for platform actors) so row-level security keeps tenants' keys apart.
CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    tenant_id    text,
    request_hash text NOT NULL,
    status       int NOT NULL,
    body         bytea NOT NULL,
    location     text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
