-- Approvals requested by gateways (controlplane/internal/approvalsvc) carry
-- the flow settings of the policy that asked for them, and their webhook
-- notifications go through a durable queue.
--
-- The flow settings are copied onto the approval when it is created, so that a
-- later edit of the policy does not change who may decide an approval already
-- pending nor where its decision is announced.
ALTER TABLE approvals
    ADD COLUMN policy_scope    text   NOT NULL DEFAULT '' CHECK (policy_scope IN ('', 'global', 'tenant')),
    ADD COLUMN requester_email text   NOT NULL DEFAULT '' CHECK (length(requester_email) <= 256),
    ADD COLUMN approver_roles  text[] NOT NULL DEFAULT '{}' CHECK (cardinality(approver_roles) <= 50),
    ADD COLUMN approver_emails text[] NOT NULL DEFAULT '{}' CHECK (cardinality(approver_emails) <= 50),
    ADD COLUMN webhook_url     text   NOT NULL DEFAULT '' CHECK (length(webhook_url) <= 2048);

-- One row per notification to send. Rows are written by a trigger on
-- approvals, so the notification commits (or rolls back) with the change it
-- announces, whichever code path made it (the gateway check, the admin API's
-- approve/deny). A worker claims due rows (FOR UPDATE SKIP LOCKED, so control
-- plane replicas share the queue), POSTs them signed, and records the outcome:
-- delivered_at on a 2xx, otherwise attempts + 1 and a later next_attempt_at,
-- until failed_at after the last attempt.
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    approval_id     uuid NOT NULL,
    event           text NOT NULL CHECK (event IN ('approval.created', 'approval.approved', 'approval.denied')),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    payload         jsonb NOT NULL,
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    failed_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_approval ON webhook_deliveries (approval_id, created_at);

-- Insert: whoever changes an approval (platform, or the approval's own tenant
-- through the trigger). Read/update/delete: platform only (the worker).
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_insert ON webhook_deliveries FOR INSERT
    WITH CHECK (portcullis_is_platform() OR tenant_id = portcullis_tenant());
CREATE POLICY webhook_deliveries_platform ON webhook_deliveries FOR ALL
    USING (portcullis_is_platform()) WITH CHECK (portcullis_is_platform());

-- The event payload: {"id", "type", "time", "approval": {...}}. The id is the
-- delivery's, so receivers can drop duplicates (delivery is at least once).
CREATE FUNCTION portcullis_approval_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ev  text;
    did uuid := gen_random_uuid();
BEGIN
    IF NEW.webhook_url = '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        ev := 'approval.created';
    ELSIF OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('approved', 'denied') THEN
        ev := 'approval.' || NEW.status;
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (id, tenant_id, approval_id, event, url, payload)
    VALUES (did, NEW.tenant_id, NEW.id, ev, NEW.webhook_url, jsonb_build_object(
        'id', did, 'type', ev, 'time', now(),
        'approval', jsonb_build_object(
            'id', NEW.id, 'tenant_id', NEW.tenant_id, 'user_id', NEW.user_id,
            'user_email', NEW.requester_email, 'tool', NEW.tool, 'args_hash', NEW.args_hash,
            'arguments', NEW.arguments, 'policy_name', NEW.policy_name, 'policy_scope', NEW.policy_scope,
            'status', NEW.status, 'min_approvals', NEW.min_approvals, 'decisions', NEW.decisions,
            'approver_roles', to_jsonb(NEW.approver_roles), 'approver_emails', to_jsonb(NEW.approver_emails),
            'expires_at', NEW.expires_at, 'created_at', NEW.created_at, 'decided_at', NEW.decided_at)));
    RETURN NULL;
END
$$;

CREATE TRIGGER approvals_webhook AFTER INSERT OR UPDATE OF status ON approvals
    FOR EACH ROW EXECUTE FUNCTION portcullis_approval_webhook();
