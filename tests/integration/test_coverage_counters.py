"""The coverage counters of `vaccination_history`, which the risk map sums, equal what the
person and dose rows say, after every kind of change that moves a person between them (a dose, a void, a
date correction, a move, a corrected birth year, a merge and its revert), in batches of one and rebuilt."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from projections.vaccination_history import COVERAGE_YEARS

# The per-person truth the counters replace: residents per ward, and per ISO year and week the people
# 18+ / 50+ by year of birth, with a first valid dose / a complete primary series by the week's Sunday.
TRUTH = """
SELECT p.ward_code AS code, COUNT(*) AS total,
  SUM(CASE WHEN %(y)s - p.birth_year >= 18 THEN 1 ELSE 0 END) AS adults,
  SUM(CASE WHEN %(y)s - p.birth_year >= 18 AND p.first_dose_on <= %(sunday)s THEN 1 ELSE 0 END) AS adults_dose1,
  SUM(CASE WHEN %(y)s - p.birth_year >= 50 THEN 1 ELSE 0 END) AS older,
  SUM(CASE WHEN %(y)s - p.birth_year >= 50 AND p.primary_completed_on <= %(sunday)s THEN 1 ELSE 0 END) AS older_full,
  SUM(CASE WHEN p.primary_completed_on <= %(sunday)s THEN 1 ELSE 0 END) AS everyone_full
FROM vh_people p
LEFT JOIN (SELECT COALESCE(m.merged_into, m.person_id) AS owner, MIN(d.administered_on) AS first_dose_on
           FROM vh_doses d JOIN vh_people m ON m.person_id = d.person_id WHERE d.voided = %(no)s
           GROUP BY COALESCE(m.merged_into, m.person_id)) f ON f.owner = p.person_id
WHERE p.merged_into IS NULL AND p.ward_code IS NOT NULL GROUP BY p.ward_code
"""
KEYS = ("total", "adults", "adults_dose1", "older", "older_full", "everyone_full")


def _agree(runtime, weeks) -> None:
    runtime.engine.catch_up()
    for week in weeks:
        monday = datetime.strptime(week + "-1", "%G-W%V-%u").date()
        truth = {r["code"]: {k: int(r[k]) for k in KEYS} for r in runtime.db.query(
            TRUTH.replace("%(y)s", "%s", 3).replace("%(y)s", "%s").replace("%(sunday)s", "%s").replace("%(no)s", "%s"),
            _params(int(week[:4]), monday + timedelta(days=6)))}
        counted = {code: {k: int(r[k]) for k in KEYS}
                   for code, r in runtime.risk_map._residents("ward", week, None, None).items()}
        assert counted == truth, week


def _params(year: int, sunday: date) -> list:
    # In the order the placeholders appear in TRUTH.
    return [year, year, sunday, year, year, sunday, sunday, False]


def test_counters_follow_every_change_in_batches_of_one_and_rebuilt(world, prov, runtime):
    ledger = world.ledger
    runtime.engine.batch_size = 1
    weeks = ["2021-W30", "2021-W40", "2022-W02", "2026-W47"]

    def dose(person: UUID, at: datetime) -> UUID:
        screening = world.screen(person, at=at - timedelta(minutes=10))
        return UUID(ledger.administer_dose(person_id=person, lot_id=world.lot_id, facility_id=world.point_id,
                                           screening_id=screening, prov=prov(occurred_at=at)).ids["dose_id"])

    a, b, c, dup = (world.register_person() for _ in range(4))
    first = dose(a, datetime(2021, 7, 30, 3, tzinfo=UTC))
    dose(a, datetime(2021, 8, 25, 3, tzinfo=UTC))
    mistaken = dose(b, datetime(2021, 10, 5, 3, tzinfo=UTC))
    dose(dup, datetime(2021, 7, 28, 3, tzinfo=UTC))
    _agree(runtime, weeks)

    ledger.void_dose(person_id=b, dose_id=mistaken, reason="entered_in_error", prov=prov())
    ledger.correct_dose(person_id=a, dose_id=first, reason="wrong_date",
                        administered_at=datetime(2021, 7, 20, 3, tzinfo=UTC), prov=prov())
    ledger.correct_person(person_id=c, changes={"address": {"line": "9 Cat Linh", "province_code": "01",
                                                            "district_code": "006", "ward_code": "00178"}},
                          reason="contact_update", prov=prov())
    ledger.correct_person(person_id=b, changes={"date_of_birth": date(2005, 2, 1)}, reason="wrong_dob", prov=prov())
    _agree(runtime, weeks)

    ledger.merge_people(duplicate_id=dup, into_id=c, reason="same person", prov=prov())
    _agree(runtime, weeks)
    ledger.revert_merge(duplicate_id=dup, prov=prov())
    _agree(runtime, weeks)

    live = runtime.engine.digest("vaccination_history")
    assert runtime.engine.rebuild("vaccination_history") == live
    _agree(runtime, weeks)
    for table in ("vh_residents", "vh_first_doses", "vh_completions"):
        assert not runtime.db.query(f"SELECT * FROM {table} WHERE people <= 0")


def test_a_year_outside_the_counters_is_refused(runtime):
    first, last = COVERAGE_YEARS
    for year in (first - 1, last + 1):
        try:
            runtime.risk_map.risk_map("ward", f"{year}-W10")
        except ValueError as e:
            assert str(year) in str(e)
        else:
            raise AssertionError(f"{year} was answered")


def test_many_count_changes_at_once_add_up_and_drop_the_rows_that_fall_to_zero(runtime):
    """`Tx.add_counts` with more changes than a batch of live tailing makes (PostgreSQL merges those
    through a staging table): counts add up, new keys appear, and a count that falls to zero is deleted,
    as with a few changes at a time. Rolled back at the end."""
    from projections.db import COPY_UPSERT_MIN_ROWS
    from projections.vaccination_history import COUNTERS

    key, weeks = COUNTERS["vh_first_doses"], [date(2021, 8, 2) + timedelta(weeks=w) for w in range(30)]
    first = {("01", "001", f"{w:05d}", 2021, weeks[w % 30]): 2 for w in range(3 * COPY_UPSERT_MIN_ROWS)}
    second = {k: (-2 if i % 3 == 0 else 1) for i, k in enumerate(first)}
    second |= {("02", "002", "00002", 2030, week): 5 for week in weeks}

    class RollBack(Exception):
        pass

    with pytest.raises(RollBack), runtime.db.transaction() as tx:
        tx.add_counts("vh_first_doses", key, "people", first)
        tx.add_counts("vh_first_doses", key, "people", second)
        rows = {tuple(r[c] for c in key): r["people"] for r in tx.fetch("SELECT * FROM vh_first_doses")}
        expected = {k: first.get(k, 0) + second.get(k, 0) for k in first | second}
        assert rows == {k: n for k, n in expected.items() if n}
        assert len(rows) == len(expected) - COPY_UPSERT_MIN_ROWS  # every third of the first keys fell to zero
        raise RollBack
