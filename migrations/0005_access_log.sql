-- Projection "access_log": every read of a person's record, and every break-the-glass opening.
-- Portable: applied to PostgreSQL and to the SQLite projections file alike.
CREATE TABLE access_reads (
    access_id text PRIMARY KEY,
    position bigint NOT NULL,
    person_id text NOT NULL,
    grant_id text NOT NULL,
    actor text NOT NULL,
    org text NOT NULL,
    role text NOT NULL,
    route text NOT NULL,
    purpose text NOT NULL,
    break_glass_id text,
    read_at text NOT NULL
);
CREATE INDEX access_reads_person_idx ON access_reads (person_id, position);
CREATE INDEX access_reads_grant_idx ON access_reads (grant_id, position);

CREATE TABLE access_break_glass (
    position bigint PRIMARY KEY,
    break_glass_id text NOT NULL,
    person_id text NOT NULL,
    grant_id text NOT NULL,
    actor text NOT NULL,
    org text NOT NULL,
    role text NOT NULL,
    reason text NOT NULL,
    opened_at text NOT NULL,
    expires_at text NOT NULL
);
CREATE INDEX access_break_glass_person_idx ON access_break_glass (person_id);
