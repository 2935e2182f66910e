"""The risk map and the reference population through HTTP: a case moves a ward's level and shows up in the
week's changes, a loaded population replaces registered residents as the denominator, refusals (422 with the
field, each bad row of a bulk load, nothing written) and provincial scopes."""

from __future__ import annotations

from typing import Any

import pytest

WARD = "00001"


def _row(**changes: Any) -> dict[str, Any]:
    return {"area_level": "ward", "area_code": WARD, "province_code": "01", "year": 2026, "total": 10_000,
            "aged_18_plus": 7_000, "aged_50_plus": 2_000, "data_source": "GSO 2026 estimate", **changes}


@pytest.fixture
def case_week(api) -> tuple[str, int]:
    """A person of ward 00001 confirmed a case by a positive RT-PCR today; (ISO week, position)."""
    lab = api.post("/v1/facilities", {"code": "LAB-01", "name": "Lab", "kind": "lab", "province_code": "01"},
                   expect=201)["ids"]["facility_id"]
    person = api.register_person("001090000011")
    sample = api.post("/v1/samples", {"barcode": "RM-0001", "method": "rt_pcr", "subject_ids": [person],
                                      "facility_id": lab}, expect=201)["ids"]["sample_id"]
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": lab}, expect=200)
    answer = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 20.0}, expect=200)
    case = api.get(f"/v1/cases/{answer['ids']['case_id']}", min_position=answer["position"])
    return case["iso_week"], answer["position"]


def test_a_case_colours_its_ward_and_is_explained(api, case_week):
    week, position = case_week
    page = api.get("/v1/risk-map", level="ward", week=week, min_position=position)
    [ward] = page["areas"]
    assert ward["area_code"] == WARD and ward["cases"] == 1 and ward["denominator_source"] == "registered"
    assert ward["population"] == ward["registered_residents"] == 1
    assert ward["cases_per_100k"] == "100000.00" and ward["level"] == 4 and ward["colour"] == "red"
    assert ward["policy_id"] == "218/QĐ-BYT"
    assert {p["policy_id"] for p in ward["by_policy"]} == {"4800/QĐ-BYT", "218/QĐ-BYT"}
    assert ward["coverage"]["dose1_18plus"] == {"numerator": 0, "denominator": 1, "share": "0.0000",
                                                "measures": ward["coverage"]["dose1_18plus"]["measures"]}
    changes = api.get("/v1/risk-map/changes", level="ward", week=week)["changes"]
    assert changes == [{"area_level": "ward", "area_code": WARD, "week": week, "previous_level": 1,
                        "level": 4, "policy_id": "218/QĐ-BYT"}]
    assert api.get("/v1/risk-map/province/01", week=week)["cases"] == 1

    loaded = api.post("/v1/population", _row(), expect=200)
    assert loaded["ids"]["outcome"] == "recorded"
    ward = api.get(f"/v1/risk-map/ward/{WARD}", week=week, min_position=loaded["position"])
    assert ward["denominator_source"] == "reference" and ward["population"] == 10_000
    assert ward["reference"] == {"year": 2026, "data_source": "GSO 2026 estimate"}
    assert ward["cases_per_100k"] == "10.00" and ward["band_label"] == "< 20" and ward["level"] == 2


def test_refusals_name_the_field_or_every_bad_row_and_write_nothing(api):
    before = api.head()
    r = api.client.post("/v1/population", json=_row(aged_50_plus=9_000))
    assert r.status_code == 422 and r.json()["field"] == "aged_50_plus"
    rows = [_row(area_code="00002"), _row(area_code="00003", total=5), _row(area_code="00004", data_source=" ")]
    r = api.client.post("/v1/population/bulk", json={"rows": rows})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "rows[1].aged_18_plus"
    assert [(b["row"], b["field"]) for b in problem["rows"]] == [(1, "aged_18_plus"), (2, "data_source")]
    assert api.head() == before
    assert api.client.get("/v1/risk-map", params={"level": "ward", "week": "2021-W53"}).status_code == 422
    assert api.client.get("/v1/risk-map", params={"level": "hamlet", "week": "2021-W50"}).status_code == 422
    # The coverage counters serve 2020-2030 only (projections.vaccination_history.COVERAGE_YEARS).
    r = api.client.get("/v1/risk-map", params={"level": "ward", "week": "2019-W10"})
    assert r.status_code == 422 and r.json()["field"] == "week"
    loaded = api.post("/v1/population/bulk", {"rows": rows[:1]}, expect=200)
    assert loaded["ids"] == {"rows": "1", "recorded": "1", "revised": "0", "unchanged": "0"}


def test_provincial_callers_stay_in_their_province(api, case_week):
    week, _ = case_week
    hanoi = api.token(subject="hn", org="HN-CDC", role="provincial", scope={"province_code": "01"})
    hcm = api.token(subject="hcm", org="HCDC", role="provincial", scope={"province_code": "79"})
    before = api.head()
    assert api.client.post("/v1/population", json=_row(), headers=hcm).status_code == 403
    assert api.client.post("/v1/population/bulk", json={"rows": [_row()]}, headers=hcm).status_code == 403
    assert api.client.get(f"/v1/risk-map/ward/{WARD}", params={"week": week}, headers=hcm).status_code == 403
    r = api.client.get("/v1/risk-map", params={"level": "ward", "week": week, "province_code": "01"}, headers=hcm)
    assert r.status_code == 403
    assert api.client.get("/v1/risk-map", params={"level": "ward", "week": week}, headers=hcm).json()["areas"] == []
    assert api.head() == before
    assert api.client.post("/v1/population", json=_row(), headers=hanoi).status_code == 200
    assert api.client.get(f"/v1/risk-map/ward/{WARD}", params={"week": week}, headers=hanoi).status_code == 200
