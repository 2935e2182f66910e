-- Projection "tracing": contacts per case and per person, the quarantine register with its test days,
-- and health declarations. Portable: applied to PostgreSQL and to the SQLite projections file alike.

-- Each person's province (from their registered or corrected address), for provincial filters.
CREATE TABLE trace_people (
    person_id text PRIMARY KEY,
    province_code text
);

CREATE TABLE trace_contacts (
    contact_id text PRIMARY KEY,
    person_id text NOT NULL,
    -- F1 | F2
    level text NOT NULL,
    case_id text NOT NULL,
    source_person_id text NOT NULL,
    proximity text NOT NULL,
    masked boolean,
    duration_minutes integer,
    -- UTC, ISO 8601
    exposed_at text NOT NULL,
    identified_at text NOT NULL,
    checkin_id text
);
CREATE INDEX trace_contacts_case_idx ON trace_contacts (case_id);
CREATE INDEX trace_contacts_person_idx ON trace_contacts (person_id);

CREATE TABLE quarantine_orders (
    order_id text PRIMARY KEY,
    person_id text NOT NULL,
    province_code text,
    -- F0 | F1 | F2
    level text NOT NULL,
    basis_ref text NOT NULL,
    policy_id text NOT NULL,
    -- JSON: the vaccination and recovery facts the policy used
    basis text NOT NULL,
    starts_on date NOT NULL,
    ends_on date NOT NULL,
    monitoring_ends_on date NOT NULL,
    setting text NOT NULL,
    provisional boolean NOT NULL,
    -- active | released
    status text NOT NULL,
    released_on date,
    release_reason text,
    follow_ups integer NOT NULL,
    last_follow_up_on date,
    ordered_at text NOT NULL
);
CREATE INDEX quarantine_orders_person_idx ON quarantine_orders (person_id);
CREATE INDEX quarantine_orders_due_idx ON quarantine_orders (status, ends_on);

-- One row per test day of an order (the register's "due tests on a day").
CREATE TABLE quarantine_test_days (
    order_id text NOT NULL,
    test_on date NOT NULL,
    PRIMARY KEY (order_id, test_on)
);
CREATE INDEX quarantine_test_days_on_idx ON quarantine_test_days (test_on);

CREATE TABLE health_declarations (
    declaration_id text PRIMARY KEY,
    person_id text NOT NULL,
    -- domestic | entry
    kind text NOT NULL,
    declared_at text NOT NULL,
    -- JSON
    symptoms text NOT NULL,
    travel text NOT NULL,
    contact_history text NOT NULL,
    entry text
);
CREATE INDEX health_declarations_person_idx ON health_declarations (person_id);
