-- Projection "risk_map": the community cases the epidemic risk map counts, one row per case, from
-- Person.CaseConfirmed / Person.CaseRetracted. Rates, coverage and levels are computed per area and ISO
-- week at query time (see src/projections/risk_map.py). Portable: PostgreSQL and SQLite alike.

CREATE TABLE risk_cases (
    case_id text PRIMARY KEY,
    person_id text NOT NULL,
    province_code text,
    district_code text,
    ward_code text,
    -- Local day (Asia/Ho_Chi_Minh, UTC+7) of confirmed_at and its ISO week ('2021-W50').
    confirmed_on date NOT NULL,
    iso_week text NOT NULL,
    -- False when the person was under an active quarantine order when confirmed.
    community boolean NOT NULL,
    -- active | retracted
    status text NOT NULL
);
CREATE INDEX risk_cases_week_idx ON risk_cases (iso_week);

-- Reference population per area and year (AreaPopulation events), the denominators the risk map prefers
-- to registered residents.
CREATE TABLE risk_population (
    population_id text PRIMARY KEY,
    area_level text NOT NULL,
    area_code text NOT NULL,
    year integer NOT NULL,
    province_code text NOT NULL,
    total bigint NOT NULL,
    aged_18_plus bigint NOT NULL,
    aged_50_plus bigint NOT NULL,
    data_source text NOT NULL
);
CREATE UNIQUE INDEX risk_population_area_idx ON risk_population (area_level, area_code, year);
