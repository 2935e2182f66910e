"""The `risk_map` projection on a real store (SQLite and PostgreSQL): community cases counted per area and
ISO week (retractions drop them), registered residents as denominators, coverage from the vaccination events
(voids count), levels under each policy version, week-on-week changes, and rebuild == incremental digest."""

from __future__ import annotations

from fractions import Fraction
from uuid import UUID

import pytest

from ledger.policies.risk import POLICY_4800
from projections.risk_map import parse_week, previous_week

PROVINCE, DISTRICT, WARD = "01", "001", "00001"  # the seeded world (tests/conftest.py)


def _case(world, lab, prov, person: UUID, barcode: str) -> UUID:
    ledger = world.ledger
    sample = UUID(ledger.collect_sample(barcode=barcode, method="rt_pcr", subject_ids=[person],
                                        facility_id=lab["centre"], prov=prov()).ids["sample_id"])
    ledger.receive_sample(sample_id=sample, lab_id=lab["lab"], prov=prov())
    assert ledger.record_result(sample_id=sample, result="positive", ct_value=21.0, prov=prov()).ids["case"] == "confirmed"
    return sample


def test_cases_coverage_levels_changes_and_rebuild(world, lab, prov, runtime):
    ledger = world.ledger
    people = [world.register_person() for _ in range(3)]
    dose = ledger.administer_dose(person_id=world.person_id, lot_id=world.lot_id, facility_id=world.point_id,
                                  screening_id=world.screening_id, prov=prov()).ids["dose_id"]
    _case(world, lab, prov, people[0], "RISK-01")
    retracted = _case(world, lab, prov, people[1], "RISK-02")
    ledger.correct_result(sample_id=retracted, result="negative", reason="transcription_error", prov=prov())
    runtime.engine.catch_up()

    [row] = runtime.db.query("SELECT iso_week FROM risk_cases WHERE status = 'active'")
    week = row["iso_week"]
    [ward] = runtime.risk_map.risk_map("ward", week)
    population = ward["population"]
    assert population >= 4 and ward["area_code"] == WARD and ward["province_code"] == PROVINCE
    assert ward["cases"] == 1 and ward["denominator_source"] == "registered"
    rate = Fraction(100_000, population)
    assert ward["cases_per_100k"] == f"{float(rate):.2f}"
    assert ward["coverage"]["dose1_18plus"]["numerator"] == 1
    assert ward["coverage"]["dose1_18plus"]["denominator"] == population  # everyone born 1980: 18+, not 50+
    assert ward["coverage"]["full_50plus"]["denominator"] == 0
    # Both national versions are assessed; today (after 27 Jan 2022) 218 is the one in force.
    assert {a["policy_id"] for a in ward["by_policy"]} == {"4800/QĐ-BYT", "218/QĐ-BYT"}
    by = {a["policy_id"]: a for a in ward["by_policy"]}
    assert by["4800/QĐ-BYT"]["level"] == POLICY_4800.level(rate, False) == 4  # ≥ 150, low coverage
    assert ward["policy_id"] == "218/QĐ-BYT" and ward["level"] == by["218/QĐ-BYT"]["level"]

    assert runtime.risk_map.risk_map("district", week)[0]["cases"] == 1
    assert runtime.risk_map.assessment("province", PROVINCE, week)["cases"] == 1
    empty = runtime.risk_map.assessment("ward", "99999", week)
    assert empty["level"] is None and empty["population"] == 0 and empty["denominator_source"] is None

    # A week before: the same residents, no case; coverage counted as of that Sunday (the dose came later).
    before = runtime.risk_map.assessment("ward", WARD, previous_week(week))
    assert before["cases"] == 0 and before["level"] == 1
    assert before["coverage"]["dose1_18plus"]["numerator"] == 0
    [change] = runtime.risk_map.changes("ward", week)
    assert change["area_code"] == WARD and change["previous_level"] == 1 and change["level"] == ward["level"]

    # A voided dose no longer covers anyone.
    ledger.void_dose(person_id=world.person_id, dose_id=UUID(dose), reason="entered_in_error", prov=prov())
    runtime.engine.catch_up()
    assert runtime.risk_map.assessment("ward", WARD, week)["coverage"]["dose1_18plus"]["numerator"] == 0

    live = runtime.engine.digest("risk_map")
    assert runtime.engine.rebuild("risk_map") == live
    assert runtime.engine.digest("risk_map") == live


def test_batches_of_one_give_the_rebuilt_rows(world, lab, prov, runtime):
    runtime.engine.batch_size = 1
    people = [world.register_person() for _ in range(2)]
    sample = _case(world, lab, prov, people[0], "RISK-B1")
    runtime.engine.catch_up()
    world.ledger.correct_result(sample_id=sample, result="negative", reason="transcription_error", prov=prov())
    _case(world, lab, prov, people[1], "RISK-B2")
    runtime.engine.catch_up()
    live = runtime.engine.digest("risk_map")
    assert runtime.engine.rebuild("risk_map") == live


def test_parse_week_refuses_what_is_not_an_iso_week():
    assert str(parse_week("2021-W50")[0]) == "2021-12-13"
    assert previous_week("2022-W01") == "2021-W52"
    for bad in ("2021-50", "2021-W54", "2021-W00", "2021-W53"):
        with pytest.raises(ValueError):
            parse_week(bad)
