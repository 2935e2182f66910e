"""Transfers through HTTP: dispatch, receipt with discrepancies, cancellation, and their refusals."""

from __future__ import annotations

import uuid


def _dispatch(api, seeded, quantity=30, number="PX-0100"):
    return api.post("/v1/transfers", {"document_number": number, "source_id": seeded.warehouse_id,
                                      "destination_id": seeded.point_id,
                                      "lines": [{"lot_id": seeded.lot_id, "quantity": quantity}]}, expect=201)


def _on_hand(api, lot_id, facility_id):
    return api.get(f"/v1/stock/cards/{lot_id}/{facility_id}")["on_hand"]


def test_dispatch_then_read_the_transfer(api, seeded):
    """A dispatch answers 201 with a Location; the transfer reads as in transit and stock left the source."""
    r = api.client.post("/v1/transfers", json={
        "document_number": "px-0100", "source_id": seeded.warehouse_id, "destination_id": seeded.point_id,
        "lines": [{"lot_id": seeded.lot_id, "quantity": 30}], "occurred_at": "2026-01-05T08:00:00+07:00",
    })
    assert r.status_code == 201, r.text
    transfer_id = r.json()["ids"]["transfer_id"]
    assert r.headers["location"] == f"/v1/transfers/{transfer_id}"
    assert api.get(r.headers["location"]) == {
        "transfer_id": transfer_id, "document_number": "PX-0100", "source_id": seeded.warehouse_id,
        "destination_id": seeded.point_id, "status": "in_transit",
        "lines": [{"lot_id": seeded.lot_id, "quantity": 30}], "received": None, "version": 1,
    }
    assert _on_hand(api, seeded.lot_id, seeded.warehouse_id) == seeded.received - seeded.transferred - 30


def test_receipt_with_a_discrepancy(api, seeded):
    """A receipt naming a shorter quantity with a reason adds only what arrived to the destination."""
    dispatched = _dispatch(api, seeded)
    transfer_id = dispatched["ids"]["transfer_id"]
    received = api.post(f"/v1/transfers/{transfer_id}/receipt", {
        "lines": [{"lot_id": seeded.lot_id, "quantity": 28, "discrepancy_reason": "damaged"}],
    }, expect=200)
    assert received["ids"] == {"transfer_id": transfer_id}
    assert received["position"] > dispatched["position"]
    transfer = api.get(f"/v1/transfers/{transfer_id}")
    assert transfer["status"] == "received"
    assert transfer["received"] == [{"lot_id": seeded.lot_id, "dispatched": 30, "received": 28,
                                     "discrepancy_reason": "damaged"}]
    assert _on_hand(api, seeded.lot_id, seeded.point_id) == seeded.transferred + 28


def test_receipt_refusals(api, seeded):
    """Short without a reason is 422, more than dispatched is 409, and a second receipt is `transfer_not_in_transit`."""
    transfer_id = _dispatch(api, seeded)["ids"]["transfer_id"]
    path = f"/v1/transfers/{transfer_id}/receipt"
    api.refused(path, {"lines": [{"lot_id": seeded.lot_id, "quantity": 28}]}, status=422,
                field="lines[0].discrepancy_reason")
    api.refused(path, {"lines": [{"lot_id": seeded.lot_id, "quantity": 31}]}, status=409,
                rule="received_exceeds_dispatched")
    api.refused(path, {"lines": [{"lot_id": str(uuid.uuid4()), "quantity": 1}]}, status=422, field="lines[0].lot_id")
    api.refused(path, {"lines": [{"lot_id": seeded.lot_id, "quantity": 1, "discrepancy_reason": "eaten"}]},
                status=422, field="lines[0].discrepancy_reason")
    api.post(path, {}, expect=200)
    api.refused(path, {}, status=409, rule="transfer_not_in_transit")
    api.refused(f"/v1/transfers/{transfer_id}/cancellation", {"reason": "too late"}, status=409,
                rule="transfer_not_in_transit")


def test_cancellation_returns_stock_to_the_source(api, seeded):
    """Cancelling in transit answers 200 and puts the dispatched doses back at the source."""
    before = _on_hand(api, seeded.lot_id, seeded.warehouse_id)
    transfer_id = _dispatch(api, seeded, quantity=40)["ids"]["transfer_id"]
    assert _on_hand(api, seeded.lot_id, seeded.warehouse_id) == before - 40
    api.post(f"/v1/transfers/{transfer_id}/cancellation", {"reason": "truck broke down"}, expect=200)
    assert api.get(f"/v1/transfers/{transfer_id}")["status"] == "cancelled"
    assert _on_hand(api, seeded.lot_id, seeded.warehouse_id) == before
    api.refused(f"/v1/transfers/{transfer_id}/receipt", {}, status=409, rule="transfer_not_in_transit")


def test_dispatch_refusals(api, seeded):
    """Over-dispatching, a reused document, the same location twice and a duplicate lot line are refused by name."""
    body = {"document_number": "PX-0200", "source_id": seeded.point_id, "destination_id": seeded.warehouse_id,
            "lines": [{"lot_id": seeded.lot_id, "quantity": seeded.transferred + 1}]}
    api.refused("/v1/transfers", body, status=409, rule="stock_never_negative")
    api.refused("/v1/transfers", {**body, "document_number": "px-0001"}, status=409, rule="transfer_document_exists")
    api.refused("/v1/transfers", {**body, "destination_id": seeded.point_id}, status=409,
                rule="transfer_to_same_location")
    line = {"lot_id": seeded.lot_id, "quantity": 1}
    api.refused("/v1/transfers", {**body, "lines": [line, line]}, status=422, field="lines[1].lot_id")
    api.refused("/v1/transfers", {**body, "lines": []}, status=422, field="lines")
    api.refused("/v1/transfers", {**body, "lines": [{"lot_id": seeded.lot_id, "quantity": -1}]}, status=422,
                field="lines[0].quantity")
    api.refused("/v1/transfers", {**body, "source_id": str(uuid.uuid4())}, status=422, field="source_id")


def test_unknown_transfer_is_404(api):
    """An unknown transfer id is 404 for reads, receipts and cancellations."""
    missing = uuid.uuid4()
    assert api.get(f"/v1/transfers/{missing}", expect=404)["kind"] == "transfer"
    api.refused(f"/v1/transfers/{missing}/receipt", {}, status=404)
    api.refused(f"/v1/transfers/{missing}/cancellation", {"reason": "x"}, status=404)
