DROP FUNCTION IF EXISTS portcullis_ensure_audit_partitions(int);
DROP TABLE IF EXISTS audit_events;
