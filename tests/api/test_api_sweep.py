"""No input answers 500: every route, fed junk bodies, junk fields, junk ids and junk queries.

The sweep starts from a valid body for every POST route (a catalogue that must cover
every POST route the OpenAPI document lists), then replaces each field, at every depth,
with values of the wrong type, out of range, empty, huge or null, drops it, or replaces
the whole body. Some mutations are still valid and succeed; that is fine. The only
thing asserted is that nothing answers 5xx.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JUNK_VALUES: list[Any] = [
    None, "", " ", "x" * 5000, "😷\u0000", -1, 0, 2**31, 10**30, -(10**30), 1.5, 1e308, True, False, [], {},
    [None, 1, "a"], {"nested": {"deeper": [1, {}]}}, "2021-02-30", "not-a-uuid", "00000000-0000-0000-0000-000000000000",
    "2021-09-01T09:30:00", "9999-12-31T23:59:59+14:00",
]
JUNK_BODIES: list[Any] = [{}, [], None, "text", 0, 10**30, True, [{}], {"unexpected": 1}, {"": None}]
RAW_BODIES: list[bytes] = [b"{", b"\xff\xfe\x00", b'{"a": NaN}', b'{"a": Infinity}', b"[" * 5000 + b"]" * 5000,
                           b'{"a": 1, "a": 2}', b"\x00"]
JUNK_IDS = ["not-a-uuid", str(uuid.UUID(int=0)), "1" * 200, "%00", "..", "null"]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _catalogue(api, s) -> tuple[dict[str, str], dict[str, Any]]:
    """Path values and a valid body for every POST route, in the state seeded by `seed_chain`."""
    dose = api.dose(s.person_id, s.lot_id, s.point_id)["ids"]["dose_id"]
    aefi = api.post(f"/v1/people/{s.person_id}/adverse-events", {
        "dose_id": dose, "severity": "common", "symptoms": ["fever"], "onset_at": _now()}, expect=201)["ids"]["aefi_id"]
    other = api.register_person("001090000099")
    # testing: a lab, and a sample taken there, received and resulted
    lab = api.post("/v1/facilities", {"code": "LAB-99", "name": "Lab", "kind": "lab", "province_code": "01"},
                   expect=201)["ids"]["facility_id"]
    sample = api.post("/v1/samples", {"barcode": "SW-0001", "method": "rt_pcr", "subject_ids": [other],
                                      "facility_id": lab}, expect=201)["ids"]["sample_id"]
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": lab}, expect=200)
    api.post(f"/v1/samples/{sample}/result", {"result": "negative"}, expect=200)
    # check-ins: a venue and a check-in there
    venue = api.post("/v1/facilities", {"code": "CAFE-99", "name": "Cafe", "kind": "venue", "province_code": "01"},
                     expect=201)["ids"]["facility_id"]
    checkin = api.post("/v1/check-ins", {"venue_id": venue, "person_id": other, "checked_in_at": _now(),
                                         "mode": "citizen_scan"}, expect=201)["ids"]["checkin_id"]
    path_values = {"venue_id": venue, "checkin_id": checkin, "facility_id": s.point_id, "lot_id": s.lot_id, "transfer_id": s.transfer_id,
                   "person_id": s.person_id, "dose_id": dose, "aefi_id": aefi, "sample_id": sample,
                   "case_id": str(uuid.uuid4()), "area_level": "ward", "area_code": "00001",
                   "order_id": str(uuid.uuid4())}
    where = {"lot_id": s.lot_id, "facility_id": s.warehouse_id}
    people = "/v1/people/{person_id}"
    bodies = {
        "/v1/facilities": {"code": "VP-99", "name": "N", "kind": "vaccination_point", "province_code": "01",
                           "district_code": "001", "ward_code": "00001", "parent_code": "NW-01"},
        "/v1/lots": {"vaccine": "pfizer", "manufacturer": "P", "lot_number": "L9", "expiry": "2099-01-01",
                     "doses_per_vial": 6},
        "/v1/lots/{lot_id}/recall": {"reason": "other", "note": "n", "occurred_at": _now()},
        "/v1/stock/receipts": {**where, "quantity": 1, "supplier_ref": "PO", "occurred_at": _now()},
        "/v1/stock/adjustments": {**where, "quantity": 1, "direction": "out", "reason": "damaged", "note": "n"},
        "/v1/stock/counts": {**where, "counted": 5},
        "/v1/stock/reversals": {**where, "movement_id": str(uuid.uuid4()), "reason": "r"},
        "/v1/transfers": {"document_number": "PX-9", "source_id": s.warehouse_id, "destination_id": s.point_id,
                          "lines": [{"lot_id": s.lot_id, "quantity": 1}]},
        "/v1/transfers/{transfer_id}/receipt": {"lines": [{"lot_id": s.lot_id, "quantity": 1,
                                                           "discrepancy_reason": "lost"}]},
        "/v1/transfers/{transfer_id}/cancellation": {"reason": "r"},
        "/v1/people": {"id_type": "cccd", "id_number": "001090000077", "full_name": "A", "date_of_birth": "1990-01-01",
                       "sex": "male", "phone": "0912345678",
                       "address": {"line": "l", "province_code": "01", "district_code": "001", "ward_code": "00001"}},
        f"{people}/corrections": {"reason": "duplicate_person", "changes": {
            "full_name": "B", "date_of_birth": "1990-01-02", "sex": "female", "id_type": "cccd",
            "id_number": "001090000088"}},
        f"{people}/verifications": {"result": "mismatch", "register_ref": "R", "mismatched_fields": ["sex"]},
        f"{people}/merge": {"into_person_id": other, "reason": "dup"},
        f"{people}/merge-reversal": {},
        f"{people}/break-glass": {"reason": "patient unconscious at the emergency ward", "hours": 1},
        f"{people}/vaccination-registration": {"priority_group": "g", "preferred_facility_id": s.point_id},
        f"{people}/vaccination-approval": {"province_code": "01", "district_code": "001",
                                           "district_facility_id": s.point_id},
        f"{people}/screenings": {"facility_id": s.point_id, "vitals": {
            "temperature_c": 36.5, "pulse_per_min": 70, "systolic_mmhg": 120, "diastolic_mmhg": 80,
            "respiration_per_min": 16}, "answers": {"acute_illness": False}, "outcome": "eligible",
            "observation_minutes": 30},
        f"{people}/doses": {"lot_id": s.lot_id, "facility_id": s.point_id, "screening_id": s.screening_id,
                            "kind": "primary", "interval_override": {"reason": "outbreak_response", "note": "n"}},
        f"{people}/doses/{{dose_id}}/observation": {"minutes": 30, "reactions": ["x"]},
        f"{people}/doses/{{dose_id}}/void": {"reason": "duplicate", "note": "n"},
        f"{people}/doses/{{dose_id}}/correction": {"reason": "wrong_lot", "administered_at": _now(), "lot_id": s.lot_id},
        f"{people}/adverse-events": {"dose_id": dose, "severity": "common", "symptoms": ["x"], "onset_at": _now()},
        f"{people}/adverse-events/{{aefi_id}}/classification": {"causality": "coincidental", "note": "n"},
        # testing
        "/v1/samples": {"barcode": "SW-0002", "method": "rt_pcr", "subject_ids": [s.person_id, other],
                        "facility_id": lab, "pool_kind": "household", "symptom_onset": "2021-09-01",
                        "epi_link": {"kind": "declared", "ref": "r"}, "occurred_at": _now()},
        "/v1/samples/{sample_id}/receipt": {"lab_id": lab, "occurred_at": _now()},
        "/v1/samples/{sample_id}/result": {"result": "positive", "ct_value": 21.5, "occurred_at": _now()},
        "/v1/samples/{sample_id}/result-correction": {"result": "positive", "ct_value": 22.5,
                                                      "reason": "transcription_error", "occurred_at": _now()},
        "/v1/samples/{sample_id}/result-rejection": {"reason": "contaminated", "occurred_at": _now()},
        # tracing
        people + "/contacts": {"source_person_id": other, "level": "F1", "proximity": "within_2m", "masked": True,
                               "duration_minutes": 20, "exposed_at": _now()},
        people + "/quarantine-orders": {"level": "F1", "ends_on": "2026-12-01", "override_reason": "provincial"},
        people + "/quarantine-orders/{order_id}/follow-ups": {"day": "2026-11-22", "symptoms": ["cough"],
                                                              "temperature_c": 37.0, "note": "ok"},
        people + "/quarantine-orders/{order_id}/release": {"released_on": "2026-11-22", "reason": "completed"},
        people + "/health-declarations": {"kind": "entry", "symptoms": ["fever"],
                                          "travel": [{"country": "KR", "place": "Seoul", "from": "2026-11-10",
                                                      "to": "2026-11-20"}],
                                          "contact_history": [{"kind": "suspected_case", "on": "2026-11-11"}],
                                          "entry": {"port_of_entry": "Noi Bai", "from_country": "KR",
                                                    "flight": "VN417", "arrival_on": "2026-11-21"}},
        # check-ins
        "/v1/check-ins": {"qr": "NHDL-VENUE:1:CAFE-99", "person_id": s.person_id, "checked_in_at": _now(),
                          "mode": "staff_scan"},
        "/v1/check-ins/bulk": {"venue_id": venue, "person_id": s.person_id, "checked_in_at": _now(),
                               "mode": "citizen_scan", "client_ref": "sweep-1"},
        # backlog imports (one NDJSON line; the sweep sends it as JSON, which is one line of NDJSON)
        "/v1/imports/backlog": {"command": "screen", "ref": "sweep-row-1", "person": {"id_type": "cccd",
                                "id_number": "001090000099"}, "facility_id": s.point_id,
                                "vitals": {"temperature_c": 36.6}, "occurred_at": _now()},
        # risk map
        "/v1/population": {"area_level": "ward", "area_code": "00001", "province_code": "01", "year": 2021,
                           "total": 100, "aged_18_plus": 80, "aged_50_plus": 20, "data_source": "GSO"},
        "/v1/population/bulk": {"rows": [{"area_level": "district", "area_code": "001", "province_code": "01",
                                          "year": 2021, "total": 100, "aged_18_plus": 80, "aged_50_plus": 20,
                                          "data_source": "GSO"}]},
    }
    return path_values, bodies


def _mutations(body: Any) -> Iterator[Any]:
    """`body` with one field (at any depth) replaced by each junk value, or removed."""
    if isinstance(body, dict):
        for key, value in body.items():
            for junk in JUNK_VALUES:
                yield {**body, key: junk}
            yield {k: v for k, v in body.items() if k != key}
            for inner in _mutations(value):
                yield {**body, key: inner}
    elif isinstance(body, list) and body:
        for inner in _mutations(body[0]):
            yield [inner, *copy.deepcopy(body[1:])]
        yield body * 600


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _operations(client, method: str) -> dict[str, dict]:
    return {path: ops[method] for path, ops in client.app.openapi()["paths"].items() if method in ops}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sweep(request, make_api, seeder):
    """A seeded API on SQLite, then on PostgreSQL (whose types refuse more: NUL in text, integer widths)."""
    store = {} if request.param == "sqlite" else {"database_url": request.getfixturevalue("fresh_pg_url")}
    api = make_api(raise_server_exceptions=False, **store)
    seed = seeder(api)
    path_values, bodies = _catalogue(api, seed)
    return api, path_values, bodies


def test_every_post_route_has_a_sweep_body(sweep):
    """The sweep's catalogue covers every POST route in the OpenAPI document (new routes must be added)."""
    api, _, bodies = sweep
    assert set(_operations(api.client, "post")) == set(bodies)


def test_no_post_answers_500_for_junk(sweep):
    """Every POST route, fed junk bodies, mutated fields, raw bytes and junk ids, answers below 500."""
    api, path_values, bodies = sweep
    failures: list[str] = []
    statuses: dict[int, int] = {}
    sent = 0

    def send(path: str, **kw: Any) -> None:
        nonlocal sent
        sent += 1
        r = api.client.post(path, **kw)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        if r.status_code >= 500:
            failures.append(f"POST {path} {str(kw)[:300]} -> {r.status_code} {r.text[:300]}")

    for template, body in bodies.items():
        path = _fill(template, path_values)
        for junk in [*JUNK_BODIES, *_mutations(body)]:
            send(path, json=junk)
        for raw in RAW_BODIES:
            send(path, content=raw, headers={"content-type": "application/json"})
        for name in re.findall(r"\{(\w+)\}", template):
            for junk_id in [*JUNK_IDS, str(uuid.uuid4())]:
                send(_fill(template, {**path_values, name: junk_id}), json=body)
        send(path, json=body, headers={"X-Actor": "", "X-Org": "x" * 10_000, "X-Source": "?"})
    assert sent > 1000
    assert {201, 404, 409, 422} <= set(statuses), f"the sweep did not reach the domain: {statuses}"
    assert not failures, "\n".join(failures[:20])


def test_no_get_answers_500_for_junk(sweep):
    """Every GET route, fed junk ids and junk query values, answers below 500."""
    api, path_values, _ = sweep
    failures = []
    for template, op in _operations(api.client, "get").items():
        queries = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        ids = re.findall(r"\{(\w+)\}", template)
        variants = [_fill(template, path_values)]
        variants += [_fill(template, {**path_values, name: junk}) for name in ids for junk in JUNK_IDS]
        for path in variants:
            # Every junk value fails validation or is a position already reached, so no read waits.
            params_list = [{}] + [{q: junk} for q in queries
                                  for junk in ("", "x" * 500, "-1", "1e400", "[]", "null", str(2**64), "0")]
            for params in params_list:
                r = api.client.get(path, params=params)
                if r.status_code >= 500:
                    failures.append(f"GET {path} {params} -> {r.status_code} {r.text[:300]}")
    assert not failures, "\n".join(failures[:20])


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_post_answers_500_for_arbitrary_json(sweep, data):
    """Arbitrary JSON, alone or merged into a valid body, never makes a POST route answer 500."""
    api, path_values, bodies = sweep
    template = data.draw(st.sampled_from(sorted(bodies)))
    body = bodies[template]
    junk = data.draw(st.one_of(
        _json,
        st.dictionaries(st.sampled_from(sorted(body) or ["x"]), _json, max_size=3).map(lambda d: {**body, **d}),
    ))
    r = api.client.post(_fill(template, path_values), json=junk)
    assert r.status_code < 500, f"{template} {junk!r} -> {r.status_code} {r.text[:500]}"
