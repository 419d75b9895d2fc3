DROP TRIGGER IF EXISTS approvals_webhook ON approvals;
DROP FUNCTION IF EXISTS portcullis_approval_webhook();
DROP TABLE IF EXISTS webhook_deliveries;
ALTER TABLE approvals
    DROP COLUMN IF EXISTS policy_scope,
    DROP COLUMN IF EXISTS requester_email,
    DROP COLUMN IF EXISTS approver_roles,
    DROP COLUMN IF EXISTS approver_emails,
    DROP COLUMN IF EXISTS webhook_url;
