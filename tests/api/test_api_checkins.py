"""Venues, check-ins and exposure candidates through HTTP: the QR payload, a check-in by QR, the refusals
(409 with the rule's name, 422 with the field, nothing written), idempotency, a bulk NDJSON upload with its
per-row report and re-send, scopes (a citizen checks itself in, a provincial department's bulk rows), and
the exposure candidates of a case read back with `min_position`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson


def _venue(api, code: str, province: str = "01") -> str:
    return api.post("/v1/facilities", {"code": code, "name": f"Cafe {code}", "kind": "venue",
                                       "province_code": province}, expect=201)["ids"]["facility_id"]


def _ndjson(rows: list) -> bytes:
    return b"\n".join(orjson.dumps(r) if not isinstance(r, bytes) else r for r in rows) + b"\n"


def _bulk(api, lines: list, *, expect: int = 200, headers: dict | None = None, **params) -> dict:
    r = api.client.post("/v1/check-ins/bulk", content=_ndjson(lines), params=params or None,
                        headers={"Content-Type": "application/x-ndjson", **(headers or {})})
    assert r.status_code == expect, r.text
    return r.json()


def test_check_in_by_qr_and_refusals(api):
    venue = _venue(api, "cafe-01")
    qr = api.get(f"/v1/venues/{venue}/qr")
    assert qr == {"venue_id": venue, "code": "CAFE-01", "name": "Cafe cafe-01", "qr": "NHDL-VENUE:1:CAFE-01"}
    person = api.register_person()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    body = {"qr": qr["qr"], "person_id": person, "checked_in_at": at.isoformat(), "mode": "citizen_scan"}
    r = api.client.post("/v1/check-ins", json=body, headers={"Idempotency-Key": "scan-0001"})
    assert r.status_code == 201, r.text
    checkin_id = r.json()["ids"]["checkin_id"]
    assert r.headers["location"] == f"/v1/check-ins/{checkin_id}"
    again = api.post("/v1/check-ins", body, expect=201, key="scan-0001")
    assert again["replayed"] is True and again["ids"]["checkin_id"] == checkin_id
    got = api.get(f"/v1/check-ins/{checkin_id}")
    assert got["venue_id"] == venue and got["person_id"] == person and got["mode"] == "citizen_scan"

    point = api.post("/v1/facilities", {"code": "VP-01", "name": "Point", "kind": "vaccination_point",
                                        "province_code": "01"}, expect=201)["ids"]["facility_id"]
    for venue_ref in ({"venue_id": point}, {"qr": "NHDL-VENUE:1:NOWHERE"},
                      {"venue_id": "00000000-0000-0000-0000-000000000007"}):
        api.refused("/v1/check-ins", {**body, "qr": None, **venue_ref}, status=409,
                    rule="checkin_at_registered_venue")
    api.refused("/v1/check-ins", {**body, "venue_id": venue}, status=422)
    api.refused("/v1/check-ins", {**body, "mode": "walk_in"}, status=422, field="mode")
    api.refused("/v1/check-ins", {**body, "qr": "http://x"}, status=422, field="qr")
    api.refused("/v1/check-ins", {**body, "checked_in_at": "2021-08-01T10:00:00"}, status=422,
                field="checked_in_at")
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    api.refused("/v1/check-ins", {**body, "checked_in_at": future}, status=422, field="checked_in_at")
    api.refused("/v1/check-ins", {**body, "person_id": "00000000-0000-0000-0000-000000000009"}, status=422,
                field="person_id")


def test_citizen_checks_itself_in_only(api):
    venue = _venue(api, "cafe-02")
    me, other = api.register_person("001090000011"), api.register_person("001090000012")
    headers = api.token(subject="citizen-11", org="citizen", role="citizen", scope={"person_id": me})
    body = {"venue_id": venue, "person_id": me, "checked_in_at": datetime.now(UTC).isoformat(),
            "mode": "citizen_scan"}
    api.post("/v1/check-ins", body, expect=201, headers=headers)
    api.post("/v1/check-ins", {**body, "person_id": other}, expect=403, headers=headers)
    api.get_as(f"/v1/cases/{venue}/exposure-candidates", headers, expect=403)


def test_bulk_upload_report_and_resend(api):
    venue, far = _venue(api, "cafe-03"), _venue(api, "cafe-79", "79")
    people = [api.register_person(f"0010900000{20 + i}") for i in range(3)]
    at = datetime(2021, 8, 10, 9, 0, tzinfo=UTC)
    rows = [{"venue_id": venue, "person_id": p, "checked_in_at": (at + timedelta(minutes=i)).isoformat(),
             "mode": "staff_scan", "client_ref": f"row-{i}"} for i, p in enumerate(people)]
    upload = [rows[0], b"{not json", rows[1], {**rows[2], "client_ref": "row-x", "venue_id": "nope"}, rows[2],
              {**rows[0], "client_ref": "row-9", "mode": None}, [1, 2]]
    report = _bulk(api, upload)
    assert (report["accepted"], report["duplicate"], report["refused"]) == (3, 0, 4)
    assert [(r["line"], r["status"]) for r in report["rows"]] == [
        (1, "accepted"), (2, "refused"), (3, "accepted"), (4, "refused"), (5, "accepted"), (6, "refused"),
        (7, "refused")]
    assert report["rows"][1]["field"] == "line" and report["rows"][3]["field"] == "venue_id"
    assert report["rows"][5]["field"] == "mode" and report["rows"][6]["field"] == "row"
    head = api.head()
    again = _bulk(api, upload, rows="problems")
    assert (again["accepted"], again["duplicate"], again["refused"]) == (0, 3, 4) and api.head() == head
    assert [r["line"] for r in again["rows"]] == [1, 2, 3, 4, 5, 6, 7]
    api.get(f"/v1/check-ins/{report['rows'][0]['checkin_id']}")

    # A provincial department's rows at a venue of another province are refused, the others appended.
    headers = api.token(subject="prov-01", org="SYT-01", role="provincial", scope={"province_code": "01"})
    mixed = [{**rows[0], "client_ref": "p-1"}, {**rows[1], "client_ref": "p-2", "venue_id": far}]
    report = _bulk(api, mixed, headers=headers)
    assert [r["status"] for r in report["rows"]] == ["accepted", "refused"]
    assert report["rows"][1]["rule"] == "checkin_venue_in_caller_scope"


def test_exposure_candidates_of_a_case(api):
    labs = {kind: api.post("/v1/facilities", {"code": code, "name": code, "kind": kind, "province_code": "01",
                                              **({"district_code": "001"} if kind != "lab" else {})},
                           expect=201)["ids"]["facility_id"]
            for code, kind in (("LAB-01", "lab"), ("DC-01", "district_centre"))}
    venue = _venue(api, "cafe-04")
    case_person = api.register_person("001090000031")
    near, far = api.register_person("001090000032"), api.register_person("001090000033")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    rows = [(case_person, at), (near, at + timedelta(minutes=60)), (far, at + timedelta(minutes=61))]
    _bulk(api, [{"venue_id": venue, "person_id": p, "checked_in_at": t.isoformat(), "mode": "citizen_scan"}
                for p, t in rows])
    sample = api.post("/v1/samples", {"barcode": "EXP-0001", "method": "rt_pcr", "subject_ids": [case_person],
                                      "facility_id": labs["district_centre"]}, expect=201)["ids"]["sample_id"]
    api.post(f"/v1/samples/{sample}/receipt", {"lab_id": labs["lab"]}, expect=200)
    confirmed = api.post(f"/v1/samples/{sample}/result", {"result": "positive", "ct_value": 20.0}, expect=200)
    case_id = confirmed["ids"]["case_id"]
    answer = api.get(f"/v1/cases/{case_id}/exposure-candidates", min_position=confirmed["position"])
    assert answer["person_id"] == case_person and answer["case_checkins"] == 1 and answer["window_minutes"] == 60
    [candidate] = answer["candidates"]
    assert candidate["person_id"] == near
    [encounter] = candidate["encounters"]
    assert encounter["gap_minutes"] == 60.0 and encounter["venue_code"] == "CAFE-04"
    api.get("/v1/cases/00000000-0000-0000-0000-000000000001/exposure-candidates", expect=404)
    other = api.token(subject="prov-79", org="SYT-79", role="provincial", scope={"province_code": "79"})
    api.get_as(f"/v1/cases/{case_id}/exposure-candidates", other, expect=403)
