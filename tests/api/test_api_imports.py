"""Backlog imports through HTTP: an NDJSON and a CSV upload with their per-row reports, the rows read back
through the vaccination history with `min_position`, a re-send that adds nothing, and the caller's
permission applied row by row (a vaccinator's rows at another point refused in the report)."""

from __future__ import annotations

import orjson

ADDRESS = {"line": "3 Lý Thường Kiệt", "province_code": "01", "district_code": "001", "ward_code": "00001"}


def _rows(seed, n: int, point: str | None = None) -> list[dict]:
    number = f"0010880{n:05d}"
    doc = {"id_type": "cccd", "id_number": number}
    at = f"2021-08-0{n % 9 + 1}T08:0"
    point = point or seed.point_id
    return [
        {"command": "register_person", "ref": f"HN-{n}-reg", "id_type": "cccd", "id_number": number,
         "full_name": f"Lê Thị {n}", "date_of_birth": "1968-02-03", "sex": "female", "address": ADDRESS,
         "occurred_at": at + "0:00+07:00"},
        {"command": "screen", "ref": f"HN-{n}-scr", "person": doc, "facility_id": point,
         "vitals": {"temperature_c": 36.5}, "occurred_at": at + "1:00+07:00"},
        {"command": "administer_dose", "ref": f"HN-{n}-dose", "person": doc, "lot_id": seed.lot_id,
         "facility_id": point, "occurred_at": at + "2:00+07:00"},
    ]


def _upload(api, body: bytes, *, content_type: str = "application/x-ndjson", expect: int = 200,
            headers: dict | None = None, **params) -> dict:
    r = api.client.post("/v1/imports/backlog", content=body, params=params or None,
                        headers={"Content-Type": content_type, **(headers or {})})
    assert r.status_code == expect, r.text
    return r.json()


def test_ndjson_backlog_report_history_and_resend(api, seeded):
    rows = _rows(seeded, 1) + _rows(seeded, 2) + [{**_rows(seeded, 3)[1], "facility_id": seeded.warehouse_id}]
    body = b"\n".join(orjson.dumps(r) for r in rows) + b"\n{oops\n"
    report = _upload(api, body)
    assert (report["accepted"], report["duplicate"], report["refused"]) == (6, 0, 2)
    assert [(r["line"], r["status"]) for r in report["rows"]][:6] == [(i, "accepted") for i in range(1, 7)]
    refused = report["rows"][6]
    assert (refused["line"], refused["status"], refused["ref"], refused["command"], refused["field"]) == (
        7, "refused", "HN-3-scr", "screen", "person")
    assert refused["message"] == "person with id number cccd:001088000003 not found"
    assert report["rows"][7]["field"] == "line"
    person_id = report["rows"][0]["ids"]["person_id"]
    history = api.get(f"/v1/people/{person_id}/vaccination-history", min_position=report["position"])
    assert [(d["dose_id"], d["facility_id"]) for d in history["doses"]] == [
        (report["rows"][2]["ids"]["dose_id"], seeded.point_id)]
    assert history["doses"][0]["administered_at"].startswith("2021-08-02T01:02")

    head = api.head()
    again = _upload(api, body, rows="problems")
    assert (again["accepted"], again["duplicate"], again["refused"]) == (0, 6, 2)
    assert [r["line"] for r in again["rows"]] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert again["rows"][2]["ids"] == report["rows"][2]["ids"]
    assert api.head() == head


def test_csv_backlog(api, seeded):
    lines = [
        "command,ref,id_type,id_number,full_name,date_of_birth,sex,address.province_code,person.id_type,"
        "person.id_number,facility_id,vitals.temperature_c,lot_id,occurred_at",
        "register_person,C-1,cccd,001090000777,Phạm Văn D,1959-09-09,male,01,,,,,,2021-09-01T08:00:00+07:00",
        f"screen,C-2,,,,,,,cccd,001090000777,{seeded.point_id},38.2,,2021-09-01T08:01:00+07:00",
        f"administer_dose,C-3,,,,,,,cccd,001090000777,{seeded.point_id},,{seeded.lot_id},2021-09-01T08:02:00+07:00",
    ]
    report = _upload(api, "\n".join(lines).encode(), content_type="text/csv")
    # 38.2 °C makes the screening `caution`, which still allows the dose.
    assert [(r["line"], r["status"]) for r in report["rows"]] == [(2, "accepted"), (3, "accepted"), (4, "accepted")]
    assert _upload(api, b"\xff\xfe", content_type="text/csv", expect=422)["field"] == "body"


def test_rows_are_checked_against_the_callers_permission(api, seeded):
    other = api.post("/v1/facilities", {"code": "VP-02", "name": "Ward 2 vaccination point",
                                        "kind": "vaccination_point", "province_code": "01"},
                     expect=201)["ids"]["facility_id"]
    api.post("/v1/stock/receipts", {"lot_id": seeded.lot_id, "facility_id": other, "quantity": 10}, expect=201)
    nurse = api.token(subject="nurse-1", org="VP-01", role="vaccinator", scope={"facility_id": seeded.point_id})
    rows = _rows(seeded, 4) + _rows(seeded, 5, point=other)
    report = _upload(api, b"\n".join(orjson.dumps(r) for r in rows), headers=nurse)
    assert [(r["status"], r.get("rule")) for r in report["rows"]] == [("accepted", None)] * 4 + [
        ("refused", "row_in_caller_scope")] * 2
    citizen = api.token(subject="c-1", org="citizen", role="citizen", scope={"person_id": seeded.person_id})
    _upload(api, orjson.dumps(rows[0]), headers=citizen, expect=403)
