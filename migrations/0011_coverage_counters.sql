-- Projection "vaccination_history" keeps the risk map's coverage as counters per area, so a
-- national risk map sums about a thousand rows per ward instead of scanning every person and dose.
--
-- The counters count people (records not merged into another) by: their area; the first ISO year
-- in which they are 18+ and 50+ by year of birth (clamped to the years the counters serve, see
-- projections.vaccination_history.COVERAGE_YEARS); the Monday of the week of their first valid dose
-- and of the week their primary series completed. vh_people keeps the first valid dose's day and
-- what each record is counted under, so a change moves a few counts instead of a scan.
-- Its rows are emptied and its position reset: the engine rebuilds it from position 0.
-- Portable: applied to PostgreSQL and to the SQLite projections file alike.
DELETE FROM vh_doses;
DELETE FROM vh_people;
ALTER TABLE vh_people ADD COLUMN first_dose_on date;
ALTER TABLE vh_people ADD COLUMN counted_as text;
-- Three counters, each with only the dimensions its measure needs (so a national map sums about 750
-- rows per ward): residents by age; first doses by age (18+) and week; completed series by age (50+) and
-- week. '' stands for a missing area code.
CREATE TABLE vh_residents (
    province_code text NOT NULL,
    district_code text NOT NULL,
    ward_code text NOT NULL,
    adult_from integer NOT NULL,
    older_from integer NOT NULL,
    people bigint NOT NULL,
    PRIMARY KEY (province_code, district_code, ward_code, adult_from, older_from)
);
CREATE TABLE vh_first_doses (
    province_code text NOT NULL,
    district_code text NOT NULL,
    ward_code text NOT NULL,
    adult_from integer NOT NULL,
    week date NOT NULL,
    people bigint NOT NULL,
    PRIMARY KEY (province_code, district_code, ward_code, adult_from, week)
);
CREATE TABLE vh_completions (
    province_code text NOT NULL,
    district_code text NOT NULL,
    ward_code text NOT NULL,
    older_from integer NOT NULL,
    week date NOT NULL,
    people bigint NOT NULL,
    PRIMARY KEY (province_code, district_code, ward_code, older_from, week)
);
UPDATE projection_positions SET position = 0 WHERE name = 'vaccination_history';
