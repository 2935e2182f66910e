-- Projection "checkins": venues and check-ins, indexed for exposure candidates. Portable: applied to
-- PostgreSQL and to the SQLite projections file alike.

-- Facilities of kind 'venue', for the venue's name, code and area in exposure answers and provincial scopes.
CREATE TABLE checkin_venues (
    venue_id text PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    province_code text NOT NULL,
    district_code text,
    ward_code text
);

CREATE TABLE checkins (
    checkin_id text PRIMARY KEY,
    venue_id text NOT NULL,
    person_id text NOT NULL,
    -- UTC, ISO 8601 with '+00:00' (projections.base.utc_text): compares and sorts as text.
    checked_in_at text NOT NULL,
    -- citizen_scan | staff_scan
    mode text NOT NULL,
    org text NOT NULL,
    source text NOT NULL
);
-- Who else was at a venue around a moment (exposure candidates), and a person's own check-ins.
CREATE INDEX checkins_venue_time_idx ON checkins (venue_id, checked_in_at);
CREATE INDEX checkins_person_time_idx ON checkins (person_id, checked_in_at);
