"""Idempotency through `Idempotency-Key`: a repeat answers the first result and writes nothing."""

from __future__ import annotations


def test_repeated_receipt_replays_the_first_result(api, seeded):
    """The same key and body answer the same ids with `replayed: true`, and the log does not grow."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "quantity": 10}
    first = api.post("/v1/stock/receipts", body, expect=201, key="rcpt-1")
    assert first["replayed"] is False
    head = api.head()
    again = api.post("/v1/stock/receipts", body, expect=201, key="rcpt-1")
    assert again["ids"] == first["ids"] and again["replayed"] is True
    assert api.head() == head
    card = api.get(f"/v1/stock/cards/{seeded.lot_id}/{seeded.warehouse_id}")
    assert card["on_hand"] == seeded.received - seeded.transferred + 10


def test_repeated_dose_is_recorded_once(api, seeded):
    """A dose sent twice with one key is one dose and one unit of stock."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.point_id}
    first = api.post(f"/v1/people/{seeded.person_id}/doses", body, expect=201, key="dose-1")
    again = api.post(f"/v1/people/{seeded.person_id}/doses", body, expect=201, key="dose-1")
    assert again["ids"] == first["ids"] and again["replayed"] is True
    assert again["position"] == first["position"]  # reading after it finds the dose, like the first answer
    assert len(api.get(f"/v1/people/{seeded.person_id}")["doses"]) == 1
    assert api.get(f"/v1/stock/cards/{seeded.lot_id}/{seeded.point_id}")["on_hand"] == seeded.transferred - 1


def test_repeated_registration_replays_the_location(api):
    """A repeated registration answers the same id and Location."""
    body = {"code": "VP-01", "name": "Point", "kind": "vaccination_point", "province_code": "01"}
    first = api.client.post("/v1/facilities", json=body, headers={"Idempotency-Key": "fac-1"})
    again = api.client.post("/v1/facilities", json=body, headers={"Idempotency-Key": "fac-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["ids"] == first.json()["ids"] and again.json()["replayed"] is True
    assert again.headers["location"] == first.headers["location"]


def test_key_reused_for_other_content_is_409(api, seeded):
    """The same key with a different body, or for another command, is 409 `client_ref_reused`."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "quantity": 10}
    api.post("/v1/stock/receipts", body, expect=201, key="k-1")
    doc = api.refused("/v1/stock/receipts", {**body, "quantity": 11}, status=409, rule="client_ref_reused",
                      headers={"Idempotency-Key": "k-1"})
    assert doc["command"] == "receive_stock"
    api.refused("/v1/stock/counts", {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "counted": 3},
                status=409, rule="client_ref_reused", headers={"Idempotency-Key": "k-1"})


def test_key_reused_with_another_business_time_is_409(api, seeded):
    """The same key and body saying the fact happened at another time is another fact: 409, not a replay."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "quantity": 10,
            "occurred_at": "2021-08-02T09:00:00+07:00"}
    api.post("/v1/stock/receipts", body, expect=201, key="k-at")
    again = api.post("/v1/stock/receipts", {**body, "occurred_at": "2021-08-02T02:00:00Z"}, expect=201, key="k-at")
    assert again["replayed"] is True  # the same moment, written another way
    doc = api.refused("/v1/stock/receipts", {**body, "occurred_at": "2021-08-03T09:00:00+07:00"}, status=409,
                      rule="client_ref_reused", headers={"Idempotency-Key": "k-at"})
    assert doc["occurred_at"] == "2021-08-02T02:00:00+00:00"


def test_keys_belong_to_one_organisation(api, seeded):
    """Two organisations may use the same key: each gets its own record."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id, "quantity": 10}
    first = api.post("/v1/stock/receipts", body, expect=201, key="k-1")
    other = api.post("/v1/stock/receipts", body, expect=201, key="k-1", headers=api.token(org="NW-01"))
    assert other["replayed"] is False and other["ids"]["movement_id"] != first["ids"]["movement_id"]


def test_refused_command_with_a_key_can_be_retried(api, seeded):
    """A refused command records no receipt, so the same key works once the cause is fixed."""
    body = {"lot_id": seeded.lot_id, "facility_id": seeded.point_id, "quantity": seeded.transferred + 5,
            "direction": "out", "reason": "expired"}
    api.refused("/v1/stock/adjustments", body, status=409, rule="stock_never_negative",
                headers={"Idempotency-Key": "adj-1"})
    api.post("/v1/stock/receipts", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id, "quantity": 5},
             expect=201)
    done = api.post("/v1/stock/adjustments", body, expect=201, key="adj-1")
    assert done["replayed"] is False
