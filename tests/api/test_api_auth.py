"""Authentication and authorisation through HTTP: every route is protected, each role gets what it
may and 403 otherwise, and a refused call changes nothing and reveals nothing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.permissions import PUBLIC
from conftest import CLI, PROBLEM, Api, bearer, issue_token
from ledger.application import Ledger

#: Which roles may call each route (when the request is within their scope). Written out here on
#: purpose, apart from api.permissions: a change to who may do what must change both.
ALLOWED: dict[str, set[str]] = {
    "register_facility": {"provincial", "national_operator"},
    "get_facility": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "register_lot": {"national_operator"},
    "get_lot": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "recall_lot": {"national_operator"},
    "receive_stock": {"warehouse_clerk", "provincial", "national_operator"},
    "adjust_stock": {"warehouse_clerk", "provincial", "national_operator"},
    "count_stock": {"warehouse_clerk", "vaccinator", "provincial", "national_operator"},
    "reverse_movement": {"warehouse_clerk", "provincial", "national_operator"},
    "list_stock_levels": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "stock_totals": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "get_stock_card": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "dispatch_transfer": {"warehouse_clerk", "provincial", "national_operator"},
    "receive_transfer": {"warehouse_clerk", "provincial", "national_operator"},
    "cancel_transfer": {"warehouse_clerk", "provincial", "national_operator"},
    "get_transfer": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "register_person": {"vaccinator", "provincial", "national_operator"},
    "find_person": {"vaccinator", "provincial", "national_operator", "auditor"},
    "get_person": {"vaccinator", "provincial", "national_operator", "auditor", "citizen"},
    "correct_person": {"vaccinator", "provincial", "national_operator"},
    "verify_identity": {"vaccinator", "provincial", "national_operator"},
    "merge_people": {"provincial", "national_operator"},
    "revert_merge": {"provincial", "national_operator"},
    "register_for_vaccination": {"vaccinator", "provincial", "national_operator", "citizen"},
    "approve_vaccination": {"provincial", "national_operator"},
    "screen": {"vaccinator", "national_operator"},
    "administer_dose": {"vaccinator", "national_operator"},
    "complete_observation": {"vaccinator", "national_operator"},
    "void_dose": {"vaccinator", "provincial", "national_operator"},
    "correct_dose": {"vaccinator", "provincial", "national_operator"},
    "report_adverse_event": {"vaccinator", "provincial", "national_operator"},
    "classify_adverse_event": {"provincial", "national_operator"},
    "vaccination_history": {"vaccinator", "provincial", "national_operator", "auditor", "citizen"},
    "projection_status": {"provincial", "national_operator", "auditor"},
    "person_access_log": {"provincial", "national_operator", "auditor", "citizen"},
    "token_access_log": {"national_operator", "auditor"},
    "break_glass": {"provincial"},
    "break_glass_review": {"national_operator", "auditor"},
    # testing and cases
    "collect_sample": {"lab", "provincial", "national_operator"},
    "receive_sample": {"lab", "provincial", "national_operator"},
    "record_result": {"lab", "provincial", "national_operator"},
    "correct_result": {"lab", "provincial", "national_operator"},
    "reject_result": {"lab", "provincial", "national_operator"},
    "get_sample": {"lab", "provincial", "national_operator", "auditor"},
    "person_test_results": {"lab", "provincial", "national_operator", "auditor", "citizen"},
    "pools_awaiting_retest": {"lab", "provincial", "national_operator", "auditor"},
    "list_cases": {"provincial", "national_operator", "auditor"},
    "get_case": {"provincial", "national_operator", "auditor"},
    # tracing
    "record_contact": {"provincial", "national_operator"},
    "case_contacts": {"provincial", "national_operator", "auditor"},
    "order_quarantine": {"provincial", "national_operator"},
    "follow_up_quarantine": {"provincial", "national_operator"},
    "release_quarantine": {"provincial", "national_operator"},
    "person_tracing": {"provincial", "national_operator", "auditor", "citizen"},
    "quarantine_register": {"provincial", "national_operator", "auditor"},
    "declare_health": {"provincial", "national_operator", "citizen"},
    "health_declarations": {"provincial", "national_operator", "auditor", "citizen"},
    # venues and check-ins
    "venue_qr": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor", "citizen"},
    "check_in": {"provincial", "national_operator", "citizen"},
    "get_checkin": {"provincial", "national_operator", "auditor"},
    "bulk_check_in": {"provincial", "national_operator", "integrator"},
    "import_backlog": {"vaccinator", "provincial", "national_operator"},
    "exposure_candidates": {"provincial", "national_operator", "auditor"},
    # risk map
    "risk_map": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "risk_level_changes": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "area_risk": {"vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor"},
    "record_population": {"provincial", "national_operator"},
    "load_population": {"provincial", "national_operator"},
}
ROLES = ("vaccinator", "warehouse_clerk", "lab", "provincial", "national_operator", "auditor", "integrator",
         "citizen")
#: Routes whose facility is the source of the seeded transfer (the warehouse); the others act at the point.
AT_WAREHOUSE = {"dispatch_transfer", "cancel_transfer"}
#: Routes that act at the lab (samples are taken, received and tested there).
AT_LAB = {"collect_sample", "receive_sample"}


def operations(api: Api) -> list[tuple[str, str, str]]:
    """(method, path template, route name) of every operation in the OpenAPI document."""
    return [(method.upper(), path, op["operationId"]) for path, ops in api.client.app.openapi()["paths"].items()
            for method, op in ops.items()]


@pytest.fixture
def world(api, seeded) -> dict[str, Any]:
    """The seeded chain, a dose at the point, and a lab (the only facility a lab token may name)."""
    dose = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    lab = api.post("/v1/facilities", {"code": "LAB-01", "name": "Provincial CDC lab", "kind": "lab",
                                      "province_code": "01"}, expect=201)["ids"]["facility_id"]
    # A sample taken and tested positive at the lab: its person is a case.
    sample = api.post("/v1/samples", {"barcode": "AUTH-0001", "method": "rt_pcr", "subject_ids": [seeded.person_id],
                                      "facility_id": lab}, expect=201)["ids"]["sample_id"]
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": lab}, expect=200)
    case_id = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 20.0},
                       expect=200)["ids"]["case_id"]
    # A venue and a check-in there.
    venue = api.post("/v1/facilities", {"code": "CAFE-01", "name": "Cafe", "kind": "venue", "province_code": "01"},
                     expect=201)["ids"]["facility_id"]
    checkin = api.post("/v1/check-ins", {"venue_id": venue, "person_id": seeded.person_id, "mode": "staff_scan",
                                         "checked_in_at": "2021-08-01T10:00:00+07:00"}, expect=201)["ids"]["checkin_id"]
    return {"seed": seeded, "dose_id": dose["ids"]["dose_id"], "lab_id": lab, "sample_id": sample,
            "case_id": case_id, "venue_id": venue, "checkin_id": checkin}


def scope_for(role: str, world: dict[str, Any], facility_id: str) -> dict[str, Any]:
    seed = world["seed"]
    return {
        "vaccinator": {"facility_id": seed.point_id},
        "warehouse_clerk": {"facility_id": seed.point_id if facility_id == world["lab_id"] else facility_id},
        "lab": {"facility_id": world["lab_id"]},
        "provincial": {"province_code": "01"},
        "integrator": {"event_types": ["ledger.person.DoseAdministered"]},
        "citizen": {"person_id": seed.person_id},
    }.get(role, {})


def request_for(name: str, path: str, world: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """(path, body, facility) of a request within scope for every role allowed on route `name`."""
    seed = world["seed"]
    facility = seed.warehouse_id if name in AT_WAREHOUSE else world["lab_id"] if name in AT_LAB else seed.point_id
    values = {"person_id": seed.person_id, "facility_id": facility, "lot_id": seed.lot_id,
              "transfer_id": seed.transfer_id, "dose_id": world["dose_id"], "aefi_id": str(uuid.uuid4()),
              "sample_id": world["sample_id"], "case_id": world["case_id"], "area_level": "ward",
              "area_code": "00001", "order_id": str(uuid.uuid4()), "venue_id": world.get("venue_id", ""),
              "checkin_id": world.get("checkin_id", "")}
    filled = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], path)
    body = {"facility_id": facility, "source_id": facility, "province_code": "01", "lab_id": facility}
    if name == "check_in":
        body = {"venue_id": world.get("venue_id"), "person_id": seed.person_id, "mode": "citizen_scan",
                "checked_in_at": "2021-08-01T10:00:00+07:00"}
    return filled, body, facility


def test_every_route_is_in_the_expected_table(api):
    """The test's table and the app agree on which routes exist (a new route needs a line in both)."""
    names = {name for _, _, name in operations(api)} - PUBLIC
    assert names == set(ALLOWED)


def test_every_route_but_health_answers_401_without_a_token(api, world):
    """No token, a malformed one, a forged one and an unknown one are all 401 alike, and write nothing."""
    real = api.client.headers["Authorization"].split()[1]
    grant_hex = real.split("_")[1]
    forged = f"lgr_{grant_hex}_{'A' * 43}"
    unknown = f"lgr_{uuid.uuid4().hex}_{real.split('_', 2)[2]}"
    before = api.head()
    for method, template, name in operations(api):
        path, body, _ = request_for(name, template, world)
        for headers in ({"Authorization": ""}, {"Authorization": "Basic b3A6cHc="}, bearer("not-a-token"),
                        bearer(forged), bearer(unknown)):
            r = api.client.request(method, path, json=body if method == "POST" else None, headers=headers)
            if name in PUBLIC:
                assert r.status_code == 200, (name, r.text)
                continue
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.headers["content-type"].startswith(PROBLEM)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["type"].endswith("/unauthenticated")
    assert api.head() == before


def test_openapi_declares_bearer_security_on_every_protected_operation(api):
    spec = api.client.app.openapi()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, ops in spec["paths"].items():
        for op in ops.values():
            if op["operationId"] in PUBLIC:
                assert "security" not in op
            else:
                assert op["security"] == [{"bearer": []}], path
                assert {"401", "403"} <= set(op["responses"]), path


@pytest.mark.parametrize("role", ROLES)
def test_role_by_route_matrix(api, world, role):
    """Each role, within its scope, gets past authorisation exactly on the routes it is allowed (any answer
    but 401/403: 2xx, or 404/409/422 from the domain), and 403 on every other route."""
    tokens: dict[str, dict[str, str]] = {}
    for method, template, name in operations(api):
        if name in PUBLIC:
            continue
        path, body, facility = request_for(name, template, world)
        scope = scope_for(role, world, facility)
        key = repr(sorted(scope.items()))
        if key not in tokens:
            tokens[key] = api.token(subject=f"{role}-1", org="TEST", role=role, scope=scope)
        r = api.client.request(method, path, json=body if method == "POST" else None, headers=tokens[key])
        if role in ALLOWED[name]:
            assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.status_code, r.text)
            assert r.json()["type"].endswith("/forbidden")


def test_scope_is_enforced_and_reveals_nothing(api, world):
    """A vaccinator at another point, a clerk at another warehouse, a department of another province and a
    citizen asking for someone else are all 403, also for records that do not exist, and write nothing."""
    seed = world["seed"]
    other_point = api.post("/v1/facilities", {"code": "VP-02", "name": "Other point", "kind": "vaccination_point",
                                              "province_code": "79"}, expect=201)["ids"]["facility_id"]
    other = api.register_person(id_number="079090000002", address={"province_code": "79"})
    vaccinator = api.token(subject="nurse-2", org="VP-02", role="vaccinator", scope={"facility_id": other_point})
    clerk = api.token(subject="clerk-2", org="VP-02", role="warehouse_clerk", scope={"facility_id": other_point})
    hcm = api.token(subject="hcdc", org="HCDC", role="provincial", scope={"province_code": "79"})
    citizen = api.token(subject="citizen-2", org="citizens", role="citizen", scope={"person_id": other})
    before = api.head()
    dose = {"lot_id": seed.lot_id, "facility_id": seed.point_id}
    checks = [
        (vaccinator, "POST", f"/v1/people/{seed.person_id}/doses", dose),
        (vaccinator, "POST", f"/v1/people/{seed.person_id}/doses/{world['dose_id']}/void", {"reason": "duplicate"}),
        (clerk, "POST", "/v1/stock/receipts", {"lot_id": seed.lot_id, "facility_id": seed.point_id, "quantity": 5}),
        (clerk, "POST", f"/v1/transfers/{seed.transfer_id}/receipt", {}),
        (hcm, "POST", f"/v1/people/{seed.person_id}/vaccination-approval",
         {"province_code": "01", "district_code": "001"}),
        (hcm, "GET", f"/v1/people/{seed.person_id}", None),
        (hcm, "GET", f"/v1/people/{uuid.uuid4()}", None),
        (citizen, "GET", f"/v1/people/{seed.person_id}/vaccination-history", None),
        (citizen, "GET", f"/v1/people/{uuid.uuid4()}/vaccination-history", None),
        (citizen, "POST", f"/v1/people/{seed.person_id}/vaccination-registration", {}),
    ]
    for headers, method, path, body in checks:
        r = api.client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403, (method, path, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)
        assert seed.person_id not in r.text
    assert api.head() == before
    # ... while the same callers act within their own scope.
    assert api.client.get(f"/v1/people/{other}/vaccination-history", headers=citizen).status_code == 200
    assert api.client.get(f"/v1/people/{other}", headers=hcm).status_code == 200


def test_revocation_counts_from_the_next_request(api, world):
    """A revoked token is refused at once, and the revocation is an event naming who revoked it."""
    token = issue_token(api.ledger, subject="nurse-9", org="VP-01", role="vaccinator",
                        scope={"facility_id": world["seed"].point_id})
    path = f"/v1/facilities/{world['seed'].point_id}"
    assert api.client.get(path, headers=bearer(token)).status_code == 200
    grant_id = uuid.UUID(token.split("_")[1])

    api.ledger.revoke_token(grant_id=grant_id, reason="tablet lost", prov=CLI)
    r = api.client.get(path, headers=bearer(token))
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated")
    [grant] = [g for g in api.ledger.grants() if g["grant_id"] == str(grant_id)]
    assert (grant["revoked_by"], grant["revoke_reason"], grant["issued_by"]) == ("test-admin", "tablet lost",
                                                                                   "test-admin")


def test_a_revocation_elsewhere_refuses_the_next_write_at_once(api, world):
    """Grants are cached for plain reads, but a token revoked by another process (another Ledger on the
    same store) cannot write even once more: its grant is in the command's read set. The refused write
    answers 401, writes nothing, and from then on reads are refused too."""
    token = issue_token(api.ledger, subject="ops-7", org="MOH")
    path = f"/v1/facilities/{world['seed'].point_id}"
    assert api.client.get(path, headers=bearer(token)).status_code == 200  # the grant is now cached
    elsewhere = Ledger(api.ledger.settings)
    try:
        elsewhere.revoke_token(grant_id=uuid.UUID(token.split("_")[1]), reason="left the service", prov=CLI)
    finally:
        elsewhere.close()
    head = api.head()
    r = api.client.post("/v1/facilities", json={"code": "LAB-77", "name": "Late lab", "kind": "lab",
                                                "province_code": "01"}, headers=bearer(token))
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthenticated"), r.text
    assert api.head() == head
    assert api.client.get(path, headers=bearer(token)).status_code == 401


def test_an_expired_token_is_refused(api, world):
    """A token past its expiry answers 401 like any other unusable token."""
    ledger = api.ledger
    token = issue_token(ledger, subject="temp-1", org="MOH", expires_at=datetime.now(UTC) + timedelta(hours=1))
    path = f"/v1/facilities/{world['seed'].point_id}"
    assert api.client.get(path, headers=bearer(token)).status_code == 200
    later = datetime.now(UTC) + timedelta(hours=2)
    ledger.clock = lambda: later
    assert api.client.get(path, headers=bearer(token)).status_code == 401


def test_only_a_hash_of_the_token_is_stored(api):
    """The token's secret appears nowhere in the log: the grant keeps its SHA-256."""
    token = issue_token(api.ledger, subject="svc-import", org="MOH")
    secret = token.split("_", 2)[2]
    stored = api.ledger.recorder.select_rows(0, api.head(), ["ledger.access.Issued"], 1000)
    assert stored and not any(secret.encode() in row[4] for row in stored)
