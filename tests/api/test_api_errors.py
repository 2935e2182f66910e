"""Error mapping: every error class answers its RFC 9457 problem, and bad input never answers 500."""

from __future__ import annotations

import uuid
from uuid import UUID

import eventsourcing.persistence as es
import psycopg
import pytest

from ledger.domain import Conflict

PROBLEM = "application/problem+json"
FACILITY = {"code": "VP-01", "name": "Point", "kind": "vaccination_point", "province_code": "01"}


def _problem(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    doc = r.json()
    assert doc["status"] == status and doc["title"] and doc["type"]
    return doc


def test_provenance_comes_from_the_token_and_headers_cannot_override_it(api):
    """The token's subject and org become the event's actor and org (an X-Actor or X-Org a caller sends is
    ignored); X-Source and Idempotency-Key become its source and client_ref."""
    headers = {**api.token(subject="importer-3", org="HCDC"), "X-Source": "import", "X-Actor": "someone-else",
               "X-Org": "MOH"}
    r = api.post("/v1/facilities", FACILITY, expect=201, key="import-row-17", headers=headers)
    [event] = api.ledger.events.get(UUID(r["ids"]["facility_id"]))
    assert (event.actor, event.org, event.source, event.client_ref) == ("importer-3", "HCDC", "import", "import-row-17")
    assert event.occurred_at is None


def test_occurred_at_is_recorded_as_business_time(api, seeded):
    """A body's `occurred_at` is kept on the event as given, apart from its recording time."""
    r = api.post("/v1/stock/receipts", {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "quantity": 5,
                                        "occurred_at": "2021-09-01T09:30:00+07:00"}, expect=201)
    events = list(api.ledger.events.get(UUID(r["ids"]["stock_card_id"])))
    assert events[-1].occurred_at.isoformat() == "2021-09-01T09:30:00+07:00"
    assert events[-1].timestamp.year >= 2025


def test_unknown_header_values_are_422(api):
    """An X-Source outside the closed set and an overlong Idempotency-Key are 422 naming the header."""
    api.refused("/v1/facilities", FACILITY, status=422, field="X-Source", headers={"X-Source": "fax"})
    api.refused("/v1/facilities", FACILITY, status=422, field="Idempotency-Key",
                headers={"Idempotency-Key": "k" * 201})


@pytest.mark.parametrize("payload", [b'{"code": "VP-01",', b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000])
def test_malformed_json_is_422(api, payload):
    """A body that is not JSON (truncated, not UTF-8, nested too deep) is 422 on the body, as problem+json."""
    r = api.client.post("/v1/facilities", content=payload, headers={"content-type": "application/json"})
    doc = _problem(r, 422)
    assert doc["field"] == "body" and doc["errors"][0]["type"] == "json_invalid"
    assert doc["type"].endswith("/invalid")


@pytest.mark.parametrize("payload", [b"[]", b"null", b'"text"', b"42"])
def test_body_that_is_not_an_object_is_422(api, payload):
    """A JSON body that is not an object is 422 on the body."""
    r = api.client.post("/v1/facilities", content=payload, headers={"content-type": "application/json"})
    assert _problem(r, 422)["field"] == "body"


def test_non_json_content_is_422(api):
    """A form-encoded body where JSON is expected is 422, not 415 or 500."""
    r = api.client.post("/v1/facilities", content=b"code=VP-01", headers={"content-type": "text/plain"})
    assert _problem(r, 422)["field"] == "body"


def test_validation_problem_lists_every_error(api):
    """A body with several bad fields reports the first as `field` and all of them in `errors`."""
    r = api.client.post("/v1/lots", json={"vaccine": "x", "manufacturer": "", "lot_number": "L",
                                          "expiry": "never", "doses_per_vial": True})
    doc = _problem(r, 422)
    fields = [e["field"] for e in doc["errors"]]
    assert doc["field"] == fields[0] == "vaccine"
    assert set(fields) == {"vaccine", "manufacturer", "expiry", "doses_per_vial"}
    assert all(e["message"] and e["type"] for e in doc["errors"])


def test_naive_datetime_is_422(api, seeded):
    """An `occurred_at` without a time zone is 422 naming it."""
    doc = api.refused("/v1/stock/receipts", {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id,
                                             "quantity": 1, "occurred_at": "2021-09-01T09:30:00"},
                      status=422, field="occurred_at")
    assert doc["errors"][0]["type"] == "timezone_aware"


def test_lost_race_is_409_concurrent_modification(api, monkeypatch):
    """A command that keeps losing the race to concurrent writers is 409 `concurrent_modification`."""

    def always_conflicts(**kwargs):
        raise Conflict(command="register_facility")

    monkeypatch.setattr(api.ledger, "register_facility", always_conflicts)
    doc = api.refused("/v1/facilities", FACILITY, status=409, rule="concurrent_modification")
    assert doc["command"] == "register_facility"


@pytest.mark.parametrize("error", [
    es.OperationalError("connection lost"),
    es.InterfaceError("connection closed"),
    psycopg.OperationalError("server closed the connection unexpectedly"),
    psycopg.InterfaceError("the connection is closed"),
])
def test_store_errors_are_503_with_retry_after(api, monkeypatch, error):
    """Operational and interface errors of the store are 503 `store_unavailable` with Retry-After."""

    def unavailable(*args, **kwargs):
        raise error

    monkeypatch.setattr(api.ledger, "register_facility", unavailable)
    monkeypatch.setattr(api.ledger, "facility", unavailable)
    doc = _problem(api.client.post("/v1/facilities", json=FACILITY), 503)
    assert doc["type"].endswith("/store_unavailable")
    r = api.client.get(f"/v1/facilities/{uuid.uuid4()}")
    _problem(r, 503)
    assert int(r.headers["retry-after"]) > 0
    assert "connection" not in doc.get("detail", ""), "store internals leak to the client"


def test_projection_that_does_not_catch_up_is_503_projection_lagging(make_client):
    """A read whose projection does not reach `min_position` in time is 503 `projection_lagging`."""
    client = make_client(run_projections_in_process=False, read_wait_seconds=0.05)
    written = client.post("/v1/facilities", json={**FACILITY, "kind": "national_warehouse"})
    assert written.status_code == 201, written.text
    position = written.json()["position"]
    for path in ("/v1/stock", "/v1/stock/totals?by=vaccine", f"/v1/people/{uuid.uuid4()}/vaccination-history"):
        sep = "&" if "?" in path else "?"
        r = client.get(f"{path}{sep}min_position={position}")
        doc = _problem(r, 503)
        assert doc["type"].endswith("/projection_lagging") and doc["min_position"] == position
        assert r.headers["retry-after"] == "1"
    assert client.get("/v1/stock").status_code == 200, "without min_position a read answers at once"
    assert _problem(client.get("/v1/stock?min_position=-1"), 422)["field"] == "min_position"


def test_unknown_route_and_method_are_problems(api):
    """An unknown path is a 404 problem and a wrong method a 405 problem with Allow."""
    assert _problem(api.client.get("/v1/nothing-here"), 404)["type"] == "about:blank"
    r = api.client.delete("/v1/facilities")
    _problem(r, 405)
    assert "POST" in r.headers["allow"]


def test_unexpected_error_is_a_bare_500_problem(make_client, monkeypatch):
    """A bug answers a 500 problem that tells the client nothing of the internals."""
    client = make_client(raise_server_exceptions=False)
    ledger = client.app.state.ledger

    def broken(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ledger, "register_facility", broken)
    r = client.post("/v1/facilities", json=FACILITY)
    doc = _problem(r, 500)
    assert "secret" not in r.text and doc["type"].endswith("/internal_error")
