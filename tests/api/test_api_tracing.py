"""Contacts, quarantine orders, follow-ups, releases, the register and health declarations through HTTP:
409 with the rule's name and 422 with the field (nothing written), projection reads with `min_position`,
and who may do what (provincial in its province, citizens their own declarations and record)."""

from __future__ import annotations

import uuid

import pytest

WHEN = "2022-03-01T03:00:00+00:00"


@pytest.fixture
def case(api) -> dict[str, str]:
    """A case confirmed on 1 Mar 2022 (762/BYT-DP in force) and two people to trace."""
    def facility(code: str, kind: str, **extra) -> str:
        return api.post("/v1/facilities", {"code": code, "name": code, "kind": kind, "province_code": "01",
                                           **extra}, expect=201)["ids"]["facility_id"]

    lab, centre = facility("LAB-01", "lab"), facility("DC-01", "district_centre", district_code="001")
    f0, f1, f2 = (api.register_person(f"00109000002{i}") for i in range(3))
    sample = api.post("/v1/samples", {"barcode": "TR-0001", "method": "rt_pcr", "subject_ids": [f0],
                                      "facility_id": centre, "occurred_at": WHEN}, expect=201)["ids"]["sample_id"]
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": lab, "occurred_at": WHEN}, expect=200)
    ids = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "occurred_at": WHEN}, expect=200)["ids"]
    return {"f0": f0, "f1": f1, "f2": f2, "case_id": ids["case_id"]}


def test_contact_to_order_to_release(api, case):
    f0, f1, f2 = case["f0"], case["f1"], case["f2"]
    contact = {"source_person_id": f0, "level": "F1", "proximity": "within_2m", "masked": True,
               "duration_minutes": 5, "exposed_at": "2022-03-01T01:00:00+00:00", "occurred_at": WHEN}
    api.refused(f"/v1/people/{f1}/contacts", contact, status=409, rule="contact_not_close")
    api.refused(f"/v1/people/{f1}/contacts", {**contact, "proximity": "far"}, status=422)
    api.refused(f"/v1/people/{f1}/contacts", {**contact, "source_person_id": f2, "duration_minutes": 30},
                status=409,
                rule="source_not_case_or_contact")
    r = api.post(f"/v1/people/{f1}/contacts", {**contact, "duration_minutes": 30}, expect=201)
    api.post(f"/v1/people/{f2}/contacts", {"source_person_id": f1, "level": "F2", "proximity": "physical",
                                           "exposed_at": "2022-03-01T02:00:00+00:00", "occurred_at": WHEN},
             expect=201)
    exposures = api.get(f"/v1/cases/{case['case_id']}/contacts", min_position=r["position"] + 1)
    assert [c["person_id"] for c in exposures["contacts"]] == [f1, f2]

    api.refused(f"/v1/people/{f1}/quarantine-orders", {"level": "F1", "ends_on": "2022-02-01",
                                                       "override_reason": "court order"},
                status=409, rule="quarantine_end_before_start")
    api.refused(f"/v1/people/{f2}/quarantine-orders", {"level": "F2"}, status=409, rule="no_quarantine_for_level")
    ordered = api.post(f"/v1/people/{f1}/quarantine-orders", {"level": "F1"}, expect=201)
    order = ordered["ids"]["order_id"]
    assert ordered["ids"]["policy_id"] == "762/BYT-DP"
    base = f"/v1/people/{f1}/quarantine-orders/{order}"
    checked = api.post(base + "/follow-ups", {"day": "2022-03-03", "symptoms": ["cough"], "temperature_c": 37.1},
                       expect=200)
    api.refused(base + "/follow-ups", {"day": "2022-03-03", "symptoms": ["hiccups"]}, status=422)
    register = api.get("/v1/quarantine-orders", on="2022-03-07", province_code="01",
                       min_position=checked["position"])
    [due] = register["items"]
    assert due["order_id"] == order and due["test_due"] and due["release_due"] and due["follow_ups"] == 1
    released = api.post(base + "/release", {"released_on": "2022-03-08", "reason": "completed"}, expect=200)
    api.refused(base + "/release", {"released_on": "2022-03-09", "reason": "completed"}, status=409,
                rule="quarantine_already_released")
    mine = api.get(f"/v1/people/{f1}/quarantine-orders", min_position=released["position"])
    assert mine["orders"][0]["status"] == "released" and mine["orders"][0]["test_days"] == ["2022-03-07"]
    assert mine["contacts"][0]["case_id"] == case["case_id"]


def test_declarations_and_scopes(api, case):
    f1 = case["f1"]
    citizen = api.token(subject="citizen", org="public", role="citizen", scope={"person_id": f1})
    other = api.token(subject="citizen2", org="public", role="citizen", scope={"person_id": case["f2"]})
    hcmc = api.token(subject="so-y-te-79", org="SYT-79", role="provincial", scope={"province_code": "79"})
    hanoi = api.token(subject="so-y-te-01", org="SYT-01", role="provincial", scope={"province_code": "01"})
    body = {"kind": "entry", "symptoms": ["fever"], "travel": [{"country": "KR", "from": "2026-11-10",
                                                                 "to": "2026-11-20"}],
            "entry": {"port_of_entry": "Noi Bai", "from_country": "KR", "flight": "VN417",
                      "arrival_on": "2026-11-21"}}
    r = api.client.post(f"/v1/people/{f1}/health-declarations", json=body, headers=citizen)
    assert r.status_code == 201, r.text
    assert api.client.post(f"/v1/people/{f1}/health-declarations", json=body, headers=other).status_code == 403
    api.refused(f"/v1/people/{f1}/health-declarations", {"kind": "entry", "symptoms": []}, status=422,
                field="entry")
    mine = api.get_as(f"/v1/people/{f1}/health-declarations", citizen, min_position=r.json()["position"])
    assert mine["declarations"][0]["entry"]["flight"] == "VN417"
    assert mine["declarations"][0]["travel"][0]["from"] == "2026-11-10"
    assert api.client.get(f"/v1/people/{f1}/quarantine-orders", headers=hcmc).status_code == 403
    assert api.client.get("/v1/quarantine-orders", params={"on": "2022-03-07", "province_code": "01"},
                          headers=hcmc).status_code == 403
    assert api.get_as("/v1/quarantine-orders", hanoi, on="2022-03-07")["items"] == []
    # A case's contacts: 403 outside the caller's province (whether or not the case exists), 404 unknown.
    contacts = f"/v1/cases/{case['case_id']}/contacts"
    assert api.client.get(contacts, headers=hcmc).status_code == 403
    assert api.client.get(f"/v1/cases/{uuid.uuid4()}/contacts", headers=hcmc).status_code == 403
    assert api.get_as(contacts, hanoi)["case_id"] == case["case_id"]
    assert api.client.get(f"/v1/cases/{uuid.uuid4()}/contacts").status_code == 404
    assert api.client.post(f"/v1/people/{f1}/quarantine-orders", json={"level": "F1"},
                           headers=citizen).status_code == 403
