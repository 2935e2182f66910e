-- The event store of the Ledger application, exactly as eventsourcing 9.5.6 expects it
-- (application name "Ledger", schema public; the app runs with CREATE_TABLE=n).
-- tests/integration/test_migrations.py proves this matches the library's own DDL.

-- The library inserts through unnest() of this composite type; without it every insert fails.
CREATE TYPE stored_event_uuid AS (
    originator_id uuid,
    originator_version bigint,
    topic text,
    state bytea
);

CREATE TABLE ledger_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    -- The global position. Gaps after rolled-back inserts are normal and permanent.
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);

CREATE UNIQUE INDEX ledger_events_notification_id_idx ON ledger_events (notification_id ASC);

-- Projections and integrator feeds read by topic; without this a rare topic scans the log.
CREATE INDEX ledger_events_topic_notification_id_idx ON ledger_events (topic, notification_id);

CREATE TABLE ledger_snapshots (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    PRIMARY KEY (originator_id, originator_version)
) WITH (
    autovacuum_enabled = true,
    autovacuum_vacuum_threshold = 100000000,
    autovacuum_vacuum_scale_factor = 0.5,
    autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.01
);
