-- Projection "testing": samples and their results, results per person, pools awaiting retest, and the
-- case register. Portable: applied to PostgreSQL and to the SQLite projections file alike.

-- Facilities, for the province of a sample's collection point (filters and provincial scopes).
CREATE TABLE test_facilities (
    facility_id text PRIMARY KEY,
    kind text NOT NULL,
    province_code text NOT NULL,
    district_code text
);

CREATE TABLE test_samples (
    sample_id text PRIMARY KEY,
    barcode text NOT NULL,
    method text NOT NULL,
    -- NULL for one person's sample; 'community' or 'household' for a pool.
    pool_kind text,
    pool_size integer NOT NULL,
    facility_id text NOT NULL,
    province_code text,
    -- UTC, ISO 8601; and the calendar day in Vietnam (UTC+7).
    collected_at text NOT NULL,
    collected_on date NOT NULL,
    pool_policy_id text NOT NULL,
    retest_of text,
    lab_id text,
    received_at text,
    -- collected | received | resulted | rejected
    status text NOT NULL,
    result text,
    -- As recorded (text, so digests are exact on both stores).
    ct_value text,
    resulted_at text,
    corrections integer NOT NULL,
    rejection_reason text
);
CREATE INDEX test_samples_status_idx ON test_samples (status);

-- Who each sample names: one row per person per sample (a pool has several).
CREATE TABLE test_subjects (
    person_id text NOT NULL,
    sample_id text NOT NULL,
    PRIMARY KEY (person_id, sample_id)
);
CREATE INDEX test_subjects_sample_idx ON test_subjects (sample_id);

-- Members of positive pools, pending until an individual result (or a change of the pool's result) clears them.
CREATE TABLE test_retests (
    pool_sample_id text NOT NULL,
    person_id text NOT NULL,
    pool_kind text NOT NULL,
    required_at text NOT NULL,
    -- pending | cleared
    status text NOT NULL,
    cleared_at text,
    cleared_by_sample_id text,
    clear_reason text,
    PRIMARY KEY (pool_sample_id, person_id)
);
CREATE INDEX test_retests_status_idx ON test_retests (status, pool_sample_id);
CREATE INDEX test_retests_person_idx ON test_retests (person_id);

-- The case register (F0). Read by other projections' queries (exposures): keep these columns.
CREATE TABLE cases (
    case_id text PRIMARY KEY,
    person_id text NOT NULL,
    rule text NOT NULL,
    policy_id text NOT NULL,
    -- UTC, ISO 8601.
    confirmed_at text NOT NULL,
    -- Calendar day in Vietnam (UTC+7), and its ISO week ('2021-W35').
    confirmed_on date NOT NULL,
    iso_week text NOT NULL,
    community boolean NOT NULL,
    province_code text,
    district_code text,
    ward_code text,
    infectious_from text NOT NULL,
    -- active | retracted
    status text NOT NULL,
    -- JSON list of {sample_id, method, result, ct_value, collected_at}.
    evidence text NOT NULL,
    -- JSON {kind, ref} or NULL.
    epi_link text,
    retracted_at text,
    retraction_reason text
);
CREATE INDEX cases_person_idx ON cases (person_id);
CREATE INDEX cases_area_idx ON cases (province_code, district_code, ward_code, confirmed_on);
CREATE INDEX cases_confirmed_on_idx ON cases (confirmed_on);
