"""Samples, results, pools and cases through HTTP: the pool flow to a case, the refusals (409 with the rule's
name, 422 with the field, nothing written), the projection reads with `min_position`, and the scopes of labs
and provincial departments."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def labs(api) -> dict[str, str]:
    """A lab and a district centre in province 01, and a lab in province 79."""
    def facility(code: str, kind: str, province: str, **extra: Any) -> str:
        return api.post("/v1/facilities", {"code": code, "name": code, "kind": kind, "province_code": province,
                                           **extra}, expect=201)["ids"]["facility_id"]

    return {
        "lab": facility("LAB-01", "lab", "01"),
        "centre": facility("DC-01", "district_centre", "01", district_code="001"),
        "other_lab": facility("LAB-79", "lab", "79"),
    }


def _people(api, n: int, first: int = 10) -> list[str]:
    return [api.register_person(f"0010900000{first + i:02d}") for i in range(n)]


def _sample(api, labs, barcode: str, people: list[str], **extra: Any) -> str:
    body = {"barcode": barcode, "method": "rt_pcr", "subject_ids": people, "facility_id": labs["centre"], **extra}
    return api.post("/v1/samples", body, expect=201)["ids"]["sample_id"]


def _result(api, labs, sample_id: str, result: str, **extra: Any) -> dict[str, Any]:
    api.post(f"/v1/samples/{sample_id}/receipt", {"lab_id": labs["lab"]}, expect=200)
    return api.post(f"/v1/samples/{sample_id}/result", {"result": result, **extra}, expect=200)


def test_pool_flow_to_a_case(api, labs):
    """Positive pool -> members await retest -> individual results -> one case, read back from the projection."""
    members = _people(api, 3)
    r = api.client.post("/v1/samples", json={"barcode": "hh-0001", "method": "rt_pcr", "subject_ids": members,
                                             "facility_id": labs["centre"], "pool_kind": "household"})
    assert r.status_code == 201, r.text
    pool = r.json()["ids"]["sample_id"]
    assert r.headers["location"] == f"/v1/samples/{pool}"
    answer = _result(api, labs, pool, "positive", ct_value=32.5)
    assert answer["ids"]["retests_required"] == 3
    page = api.get("/v1/pools/awaiting-retest", min_position=answer["position"])
    assert [p["sample_id"] for p in page["items"]] == [pool] and page["items"][0]["awaiting"] == 3
    assert page["items"][0]["barcode"] == "HH-0001" and page["items"][0]["province_code"] == "01"

    positive = _sample(api, labs, "IND-0001", [members[0]], retest_of=pool, symptom_onset="2026-11-18")
    confirmed = _result(api, labs, positive, "positive", ct_value=21.0)
    assert confirmed["ids"]["case"] == "confirmed"
    case_id = confirmed["ids"]["case_id"]
    last = None
    for i, person in enumerate(members[1:], start=2):
        last = _result(api, labs, _sample(api, labs, f"IND-000{i}", [person], retest_of=pool), "negative")
    assert api.get("/v1/pools/awaiting-retest", min_position=last["position"])["items"] == []

    case = api.get(f"/v1/cases/{case_id}", min_position=last["position"])
    assert case["rule"] == "rt_pcr_positive" and case["policy_id"] == "11042/BYT-DP" and case["status"] == "active"
    assert case["community"] is True and case["ward_code"] == "00001"
    assert case["infectious_from"].startswith("2026-11-15T17:00:00")  # 2 days before onset, local midnight
    assert [e["sample_id"] for e in case["evidence"]] == [positive]
    listed = api.get("/v1/cases", province_code="01", status="active", rule="rt_pcr_positive")
    assert [c["case_id"] for c in listed["items"]] == [case_id] and listed["next"] is None
    assert api.get("/v1/cases", province_code="79")["items"] == []

    results = api.get(f"/v1/people/{members[0]}/test-results")
    assert [s["sample_id"] for s in results["samples"]] == [positive, pool]
    assert results["retests"][0]["status"] == "cleared" and results["cases"][0]["case_id"] == case_id
    reads = api.get(f"/v1/people/{members[0]}/access-log", min_position=api.head())
    assert "person_test_results" in {r["route"] for r in reads["items"]}

    sample = api.get(f"/v1/samples/{pool}")
    assert sample["status"] == "resulted" and sample["ct_value"] == 32.5 and sorted(sample["subject_ids"]) == sorted(
        members)

    corrected = api.post(f"/v1/samples/{positive}/result-correction",
                         {"result": "negative", "reason": "transcription_error"}, expect=200)
    assert corrected["ids"]["case"] == "retracted"
    case = api.get(f"/v1/cases/{case_id}", min_position=corrected["position"])
    assert case["status"] == "retracted" and case["retraction_reason"] == "evidence_corrected"


def test_cases_paginate_by_cursor(api, labs):
    """The case register pages with `after`/`next` and every case appears once."""
    people = _people(api, 5, first=40)
    position = 0
    for i, person in enumerate(people):
        position = _result(api, labs, _sample(api, labs, f"PG-{i:04d}", [person]), "positive", ct_value=20.0)[
            "position"]
    seen, after = [], None
    while True:
        page = api.get("/v1/cases", limit=2, min_position=position, **({"after": after} if after else {}))
        seen += [c["person_id"] for c in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert sorted(seen) == sorted(people)


def test_refusals(api, labs):
    """Every rule answers 409 with its name and every malformed field 422 with the field; nothing is written."""
    people = _people(api, 16, first=60)
    api.refused("/v1/samples", {"barcode": "BIG-0001", "method": "rt_pcr", "subject_ids": people[:11],
                                "facility_id": labs["centre"], "pool_kind": "community"},
                status=409, rule="pool_size_within_policy")
    api.refused("/v1/samples", {"barcode": "BIG-0002", "method": "rt_pcr", "subject_ids": people,
                                "facility_id": labs["centre"], "pool_kind": "household"},
                status=409, rule="pool_size_within_policy")
    _sample(api, labs, "HH-BIG-15", people[:15], pool_kind="household")  # household pools go to 15 (provisional)
    api.refused("/v1/samples", {"barcode": "RA-0001", "method": "rapid_antigen", "subject_ids": people[:2],
                                "facility_id": labs["centre"], "pool_kind": "household"},
                status=409, rule="pooling_not_allowed_for_method")
    api.refused("/v1/samples", {"barcode": "X1", "method": "rt_pcr", "subject_ids": people[:1],
                                "facility_id": labs["centre"]}, status=422, field="barcode")
    api.refused("/v1/samples", {"barcode": "OK-0001", "method": "pcr", "subject_ids": people[:1],
                                "facility_id": labs["centre"]}, status=422, field="method")
    sample = _sample(api, labs, "OK-0001", people[:1])
    api.refused("/v1/samples", {"barcode": "ok-0001", "method": "rt_pcr", "subject_ids": people[1:2],
                                "facility_id": labs["centre"]}, status=409, rule="sample_barcode_exists")
    api.refused(f"/v1/samples/{sample}/result", {"result": "negative"}, status=409, rule="result_requires_lab_receipt")
    api.refused(f"/v1/samples/{sample}/receipt", {"lab_id": labs["centre"]}, status=409,
                rule="receiving_facility_is_a_lab")
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": labs["lab"]}, expect=200)
    api.refused(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 0}, status=422, field="ct_value")
    api.refused(f"/v1/samples/{sample}/result", {"result": "maybe"}, status=422, field="result")
    api.post(f"/v1/samples/{sample}/result", {"result": "negative"}, expect=200)
    api.refused(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 20.0}, status=409,
                rule="one_result_per_sample")
    api.refused(f"/v1/samples/{sample}/result-correction", {"result": "positive", "reason": "because"},
                status=422, field="reason")
    api.post(f"/v1/samples/{sample}/result-rejection", {"reason": "contaminated"}, expect=200)
    api.refused(f"/v1/samples/{sample}/result-rejection", {"reason": "contaminated"}, status=409,
                rule="sample_rejected")
    api.get(f"/v1/samples/{'0' * 8}-0000-0000-0000-{'0' * 12}", expect=404)
    api.get(f"/v1/cases/{'0' * 8}-0000-0000-0000-{'0' * 12}", expect=404)


def test_scopes_of_labs_and_provinces(api, labs):
    """A lab works on samples at its own lab; a provincial department reads its own province's register."""
    person = _people(api, 1, first=90)[0]
    sample = _sample(api, labs, "SC-0001", [person])
    own = api.token(subject="lab-01", org="LAB-01", role="lab", scope={"facility_id": labs["lab"]})
    other = api.token(subject="lab-79", org="LAB-79", role="lab", scope={"facility_id": labs["other_lab"]})
    r = api.client.post(f"/v1/samples/{sample}/receipt", json={"lab_id": labs["lab"]}, headers=other)
    assert r.status_code == 403
    r = api.client.post(f"/v1/samples/{sample}/receipt", json={"lab_id": labs["lab"]}, headers=own)
    assert r.status_code == 200, r.text
    assert api.client.post(f"/v1/samples/{sample}/result", json={"result": "positive", "ct_value": 19.0},
                           headers=other).status_code == 403
    r = api.client.post(f"/v1/samples/{sample}/result", json={"result": "positive", "ct_value": 19.0}, headers=own)
    assert r.status_code == 200, r.text
    case_id, position = r.json()["ids"]["case_id"], r.json()["position"]
    assert api.get_as("/v1/pools/awaiting-retest", own)["items"] == []
    assert api.client.get("/v1/pools/awaiting-retest", params={"lab_id": labs["lab"]},
                          headers=other).status_code == 403

    hanoi = api.token(subject="so-y-te-01", org="SYT-01", role="provincial", scope={"province_code": "01"})
    hcmc = api.token(subject="so-y-te-79", org="SYT-79", role="provincial", scope={"province_code": "79"})
    listed = api.get_as("/v1/cases", hanoi, min_position=position)
    assert [c["case_id"] for c in listed["items"]] == [case_id]
    assert api.get_as("/v1/cases", hcmc)["items"] == []
    assert api.client.get("/v1/cases", params={"province_code": "01"}, headers=hcmc).status_code == 403
    assert api.client.get(f"/v1/cases/{case_id}", headers=hcmc).status_code == 403
    assert api.get_as(f"/v1/cases/{case_id}", hanoi)["case_id"] == case_id
    citizen = api.token(subject="citizen", org="public", role="citizen", scope={"person_id": person})
    mine = api.get_as(f"/v1/people/{person}/test-results", citizen)
    assert mine["cases"][0]["case_id"] == case_id
    assert api.client.get("/v1/cases", headers=citizen).status_code == 403


def test_a_repeated_result_replays_its_first_answer(api, labs):
    """A result sent again with its Idempotency-Key answers the first result (same case id) and writes nothing;
    a change of a result dated in the future is 422 on `occurred_at`."""
    person = _people(api, 1, first=95)[0]
    sample = _sample(api, labs, "ID-0001", [person])
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": labs["lab"]}, expect=200)
    first = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 24.0}, expect=200,
                     key="lab-run-77/1")
    head = api.head()
    again = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 24.0}, expect=200,
                     key="lab-run-77/1")
    assert again["replayed"] is True and again["ids"] == first["ids"] and again["position"] == first["position"]
    assert api.head() == head
    api.refused(f"/v1/samples/{sample}/result-rejection",
                {"reason": "contaminated", "occurred_at": "2099-01-01T00:00:00+07:00"}, status=422, field="occurred_at")
