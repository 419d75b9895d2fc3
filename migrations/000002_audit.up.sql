-- Audit events, partitioned by month on time. The primary key includes time
-- (required for a partitioned table) and makes ingestion idempotent: the
-- control plane inserts with ON CONFLICT DO NOTHING, so an event redelivered by
-- JetStream is stored once. A DEFAULT partition catches events outside the
-- monthly partitions (clock skew, late delivery) so an insert never fails.
CREATE TABLE audit_events (
    id        text NOT NULL,
    time      timestamptz NOT NULL,
    tenant_id text,
    user_id   text NOT NULL DEFAULT '',
    tool      text NOT NULL DEFAULT '',
    decision  text NOT NULL DEFAULT '',
    event     jsonb NOT NULL,
    PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);

CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, time DESC, id DESC);
CREATE INDEX audit_events_time ON audit_events (time DESC, id DESC);
CREATE INDEX audit_events_tool ON audit_events (tool);
CREATE INDEX audit_events_user ON audit_events (user_id);

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
ALTER TABLE audit_events_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events_default FORCE ROW LEVEL SECURITY;

-- portcullis_ensure_audit_partitions creates the monthly partitions from the
-- previous month to months_ahead months from now (UTC) and returns how many it
-- created. Safe to call concurrently and repeatedly (advisory lock, skips
-- existing partitions).
--
-- Row-level security is checked on the parent only when a query goes through
-- it; a partition queried by name is checked against its own settings. So
-- every partition has RLS enabled and forced with no policy at all: through
-- audit_events the parent's policies apply, by name nobody reads or writes.
-- Rows already sitting in the DEFAULT partition for a new month are moved into
-- it first, since Postgres refuses to attach a range the DEFAULT partition has
-- rows for; the move goes through the parent as the platform, with the
-- caller's setting restored afterwards.
CREATE FUNCTION portcullis_ensure_audit_partitions(months_ahead int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date - interval '1 month';
    caller      text := coalesce(current_setting('portcullis.platform', true), '');
    lo          timestamptz;
    hi          timestamptz;
    part        text;
    created     int := 0;
BEGIN
    IF months_ahead < 0 OR months_ahead > 36 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 36, got %', months_ahead;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('portcullis_ensure_audit_partitions'));
    FOR i IN 0 .. months_ahead + 1 LOOP
        lo := ((first_month + make_interval(months => i))::timestamp) AT TIME ZONE 'UTC';
        hi := ((first_month + make_interval(months => i + 1))::timestamp) AT TIME ZONE 'UTC';
        part := format('audit_events_y%sm%s', to_char(lo AT TIME ZONE 'UTC', 'YYYY'),
                       to_char(lo AT TIME ZONE 'UTC', 'MM'));
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
        PERFORM set_config('portcullis.platform', 'on', true);
        EXECUTE format('WITH moved AS (DELETE FROM audit_events WHERE time >= %L AND time < %L RETURNING *)
                        INSERT INTO %I SELECT * FROM moved', lo, hi, part);
        PERFORM set_config('portcullis.platform', caller, true);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;

SELECT portcullis_ensure_audit_partitions(3);
