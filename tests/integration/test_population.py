"""Reference population on a real store (SQLite and PostgreSQL): one area recorded and revised, a bulk load
that is all or nothing and names each bad row, and the risk map preferring it to registered residents."""

from __future__ import annotations

import pytest

from ledger.domain import Invalid, RuleViolation
from ledger.domain.population import AreaPopulation, check_figures

PROVINCE, DISTRICT, WARD = "01", "001", "00001"  # the seeded world (tests/conftest.py)


def _row(**changes) -> dict:
    row = {"area_level": "ward", "area_code": WARD, "province_code": PROVINCE, "year": 2021, "total": 10_000,
           "aged_18_plus": 7_000, "aged_50_plus": 2_000, "data_source": "GSO 2021 estimate"}
    return {**row, **changes}


def test_record_revise_and_unchanged(ledger, prov):
    first = ledger.record_population(**_row(), prov=prov())
    assert first.ids["outcome"] == "recorded"
    assert ledger.record_population(**_row(), prov=prov()).ids["outcome"] == "unchanged"
    again = ledger.record_population(**_row(total=10_200), prov=prov())
    assert again.ids == {"population_id": first.ids["population_id"], "outcome": "revised"}
    with pytest.raises(RuleViolation) as refused:
        ledger.record_population(**_row(province_code="79"), prov=prov())
    assert refused.value.rule == "population_area_moved"


@pytest.mark.parametrize(("changes", "field"), [
    ({"area_level": "hamlet"}, "area_level"),
    ({"area_code": "1"}, "area_code"),
    ({"area_level": "province", "area_code": "79"}, "area_code"),
    ({"province_code": "1"}, "province_code"),
    ({"year": 1900}, "year"),
    ({"total": 0}, "total"),
    ({"total": -1}, "total"),
    ({"total": 10.5}, "total"),
    ({"aged_18_plus": 10_001}, "aged_18_plus"),
    ({"aged_50_plus": 7_001}, "aged_50_plus"),
    ({"data_source": " "}, "data_source"),
])
def test_each_invalid_field_is_named_and_nothing_is_written(ledger, prov, changes, field):
    head = ledger.head()
    with pytest.raises(Invalid) as refused:
        ledger.record_population(**_row(**changes), prov=prov())
    assert refused.value.field == field
    assert ledger.head() == head


def test_bulk_load_is_all_or_nothing_and_names_every_bad_row(ledger, prov):
    rows = [_row(area_code=f"{i:05d}") for i in range(1, 6)]
    rows[1]["total"] = -5
    rows[3].pop("data_source")
    rows.append(_row(area_code="00001"))
    head = ledger.head()
    with pytest.raises(Invalid) as refused:
        ledger.load_population(rows=rows, prov=prov())
    assert refused.value.field == "rows[1].total"
    assert [(b["row"], b["field"]) for b in refused.value.details["rows"]] == [
        (1, "total"), (3, "data_source"), (5, "area_code")]
    assert ledger.head() == head
    good = [_row(area_code=f"{i:05d}") for i in range(1, 6)]
    assert ledger.load_population(rows=good, prov=prov()).ids == {
        "rows": "5", "recorded": "5", "revised": "0", "unchanged": "0"}
    good[0]["total"] = 12_000
    assert ledger.load_population(rows=good, prov=prov()).ids == {
        "rows": "5", "recorded": "0", "revised": "1", "unchanged": "4"}


def test_figures_must_nest():
    check_figures(10, 10, 10)
    with pytest.raises(Invalid):
        check_figures(10, 11, 0)
    with pytest.raises(Invalid):
        check_figures(True, 0, 0)
    assert AreaPopulation.create_id("ward", WARD, 2021) != AreaPopulation.create_id("ward", WARD, 2022)


def test_risk_map_prefers_the_reference_population(world, prov, runtime):
    ledger = world.ledger
    week = "2021-W50"
    runtime.engine.catch_up()
    registered = runtime.risk_map.assessment("ward", WARD, week)
    assert registered["denominator_source"] == "registered" and registered["reference"] is None
    ledger.record_population(**_row(year=2020, total=5_000, aged_18_plus=4_000, aged_50_plus=1_000), prov=prov())
    ledger.record_population(**_row(year=2022), prov=prov())  # not yet in 2021
    ledger.record_population(**_row(area_level="district", area_code=DISTRICT, total=250_000,
                                    aged_18_plus=180_000, aged_50_plus=60_000), prov=prov())
    runtime.engine.catch_up()
    ward = runtime.risk_map.assessment("ward", WARD, week)
    assert ward["denominator_source"] == "reference"
    assert ward["reference"] == {"year": 2020, "data_source": "GSO 2021 estimate"}
    assert ward["population"] == 5_000 and ward["registered_residents"] == registered["population"]
    assert ward["coverage"]["dose1_18plus"]["denominator"] == 4_000
    assert ward["coverage"]["full_50plus"]["denominator"] == 1_000
    [district] = runtime.risk_map.risk_map("district", week)
    # No case: level 1 even with low coverage; Dec 2021 is under 4800.
    assert district["population"] == 250_000 and district["level"] == 1 and district["policy_id"] == "4800/QĐ-BYT"
    ledger.record_population(**_row(year=2020, total=6_000, aged_18_plus=4_000, aged_50_plus=1_000), prov=prov())
    runtime.engine.catch_up()
    assert runtime.risk_map.assessment("ward", WARD, week)["population"] == 6_000
    live = runtime.engine.digest("risk_map")
    assert runtime.engine.rebuild("risk_map") == live


def test_cli_loads_a_csv_or_json_file_all_or_nothing(store, tmp_path, capsys):
    """`ledger population load FILE`: a CSV (numbers read as integers) or a JSON list; a bad row refuses all."""
    import argparse
    import json

    from ledger.cli import cmd_population_load

    csv_file = tmp_path / "wards.csv"
    csv_file.write_text("area_level,area_code,province_code,year,total,aged_18_plus,aged_50_plus,data_source\n"
                        "ward,00001,01,2021,10000,7000,2000,GSO 2021\n"
                        "district,001,01,2021,250000,180000,60000,GSO 2021\n")
    args = argparse.Namespace(file=str(csv_file), actor="tester", org="MOH")
    assert cmd_population_load(store, args) == 0
    assert "recorded=2" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([_row(area_code="00002"), _row(area_code="00003", total="many")]))
    assert cmd_population_load(store, argparse.Namespace(file=str(bad), actor="tester", org="MOH")) == 1
    err = capsys.readouterr().err
    assert "row 1: total" in err
    good = tmp_path / "good.json"
    good.write_text(json.dumps([_row(area_code="00002")]))
    assert cmd_population_load(store, argparse.Namespace(file=str(good), actor="tester", org="MOH")) == 0
    assert "recorded=1" in capsys.readouterr().out
