-- Projection "vaccination_history": each person's doses and series status.
CREATE TABLE vh_people (
    person_id text PRIMARY KEY,
    full_name text NOT NULL,
    date_of_birth date NOT NULL,
    sex text NOT NULL,
    province_code text,
    district_code text,
    ward_code text,
    verification text,
    -- Set while this record is merged into another; that record's history includes these doses.
    merged_into text,
    series_status text NOT NULL,
    primary_doses_given integer NOT NULL,
    primary_doses_required integer NOT NULL,
    primary_completed_on date,
    next_dose_kind text,
    next_dose_earliest date,
    policy_id text,
    valid_doses integer NOT NULL
);
CREATE INDEX vh_people_merged_into_idx ON vh_people (merged_into);

CREATE TABLE vh_doses (
    dose_id text PRIMARY KEY,
    person_id text NOT NULL,
    vaccine text NOT NULL,
    lot_id text NOT NULL,
    lot_number text NOT NULL,
    facility_id text NOT NULL,
    -- UTC, ISO 8601.
    administered_at text NOT NULL,
    -- Calendar day in Vietnam (UTC+7), the day the series rules count.
    administered_on date NOT NULL,
    kind text NOT NULL,
    -- Position among the person's valid doses (null when voided); recomputed on corrections.
    dose_number integer,
    interval_override_reason text,
    voided boolean NOT NULL,
    void_reason text,
    corrected boolean NOT NULL,
    observation_minutes integer
);
CREATE INDEX vh_doses_person_id_idx ON vh_doses (person_id);
