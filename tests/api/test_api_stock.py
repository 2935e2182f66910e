"""Stock through HTTP: movements on cards, the card read, and the `stock` projection's levels and totals."""

from __future__ import annotations

import uuid


def _card(api, lot_id, facility_id):
    return api.get(f"/v1/stock/cards/{lot_id}/{facility_id}")


def test_receipt_adjustment_count_and_reversal(api, seeded):
    """Each movement answers 201 with a later position, and the card's on hand follows them."""
    where = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id}
    start = seeded.received - seeded.transferred
    assert _card(api, **where)["on_hand"] == start
    r = api.client.post("/v1/stock/receipts", json={**where, "quantity": 50, "supplier_ref": "PO-7"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert r.headers["location"] == f"/v1/stock/cards/{seeded.lot_id}/{seeded.warehouse_id}"
    assert receipt["position"] > seeded.position
    adjustment = api.post("/v1/stock/adjustments", {**where, "quantity": 5, "direction": "out", "reason": "damaged"},
                          expect=201)
    assert adjustment["position"] > receipt["position"]
    count = api.post("/v1/stock/counts", {**where, "counted": start + 40}, expect=201)
    assert count["ids"]["difference"] == -5
    assert count["position"] > adjustment["position"]
    card = _card(api, **where)
    assert card["on_hand"] == start + 40
    reversal = api.post("/v1/stock/reversals", {**where, "movement_id": receipt["ids"]["movement_id"],
                                                "reason": "entered twice"}, expect=201)
    assert reversal["position"] > count["position"]
    card = _card(api, **where)
    assert card["on_hand"] == start - 10
    reversed_ = {m["movement_id"]: m["reversed"] for m in card["movements"]}
    assert reversed_[receipt["ids"]["movement_id"]] is True


def test_taking_more_than_on_hand_is_stock_never_negative(api, seeded):
    """Removing more doses than the card holds is 409 `stock_never_negative` and writes nothing."""
    doc = api.refused("/v1/stock/adjustments", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id,
                                                "quantity": seeded.transferred + 1, "direction": "out", "reason": "lost"},
                      status=409, rule="stock_never_negative")
    assert doc["on_hand"] == seeded.transferred


def test_reversing_twice_is_movement_already_reversed(api, seeded):
    """A movement may be reversed once; the second reversal is 409 `movement_already_reversed`."""
    where = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id}
    movement = api.post("/v1/stock/adjustments", {**where, "quantity": 3, "direction": "in", "reason": "found"},
                        expect=201)["ids"]["movement_id"]
    body = {**where, "movement_id": movement, "reason": "not found after all"}
    api.post("/v1/stock/reversals", body, expect=201)
    api.refused("/v1/stock/reversals", body, status=409, rule="movement_already_reversed")
    api.refused("/v1/stock/reversals", {**body, "movement_id": str(uuid.uuid4())}, status=409,
                rule="movement_not_reversible")


def test_reversal_on_a_card_that_does_not_exist_is_404(api, seeded):
    """Reversing on a lot/facility pair that never held stock is 404 for the stock card."""
    doc = api.refused("/v1/stock/reversals", {"lot_id": seeded.lot_id, "facility_id": str(uuid.uuid4()),
                                              "movement_id": str(uuid.uuid4()), "reason": "x"}, status=404)
    assert doc["kind"] == "stock card"


def test_stock_movement_refusals(api, seeded):
    """Wrong direction for a reason, an unknown lot, and a facility that holds no stock are refused by name."""
    where = {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id}
    api.refused("/v1/stock/adjustments", {**where, "quantity": 1, "direction": "in", "reason": "damaged"},
                status=422, field="reason")
    api.refused("/v1/stock/adjustments", {**where, "quantity": 1, "direction": "sideways", "reason": "found"},
                status=422, field="direction")
    api.refused("/v1/stock/receipts", {**where, "lot_id": str(uuid.uuid4()), "quantity": 1}, status=422,
                field="lot_id")
    api.refused("/v1/stock/receipts", {**where, "quantity": 0}, status=422, field="quantity")
    api.refused("/v1/stock/counts", {**where, "counted": -1}, status=422, field="counted")
    lab = api.post("/v1/facilities", {"code": "LAB-1", "name": "Lab", "kind": "lab", "province_code": "01"},
                   expect=201)["ids"]["facility_id"]
    api.refused("/v1/stock/receipts", {**where, "facility_id": lab, "quantity": 1}, status=409,
                rule="facility_holds_no_stock")


def test_unknown_stock_card_is_404(api, seeded):
    """Reading the card of a lot at a facility that never held it is 404."""
    assert api.get(f"/v1/stock/cards/{seeded.lot_id}/{uuid.uuid4()}", expect=404)["kind"] == "stock card"


def test_stock_levels_show_on_hand_after_min_position(api, seeded):
    """GET /v1/stock?min_position=<a write's position> shows that write's effect on hand."""
    r = api.post("/v1/stock/adjustments", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id, "quantity": 7,
                                           "direction": "out", "reason": "cold_chain_failure"}, expect=201)
    page = api.get("/v1/stock", min_position=r["position"], facility_id=seeded.point_id)
    assert page["next"] is None
    [level] = page["items"]
    assert level["on_hand"] == seeded.transferred - 7
    assert level["transferred_in"] == seeded.transferred and level["adjusted_out"] == 7
    assert level["adjusted_by_reason"] == {"cold_chain_failure": {"in": 0, "out": 7}}
    assert level["vaccine"] == "pfizer" and level["facility_code"] == "VP-01" and level["expiry"] == "2099-12-31"
    [warehouse] = api.get("/v1/stock", min_position=r["position"], facility_id=seeded.warehouse_id)["items"]
    assert warehouse["on_hand"] == seeded.received - seeded.transferred and warehouse["dispatched"] == seeded.transferred


def test_stock_levels_filter_by_province_vaccine_and_lot(api, seeded):
    """Filters narrow the levels; a vaccine nobody holds gives an empty page."""
    head = api.head()
    assert len(api.get("/v1/stock", min_position=head, province_code="01")["items"]) == 2
    assert len(api.get("/v1/stock", min_position=head, lot_id=seeded.lot_id)["items"]) == 2
    assert api.get("/v1/stock", min_position=head, vaccine="moderna")["items"] == []
    assert api.get("/v1/stock", min_position=head, province_code="79")["items"] == []
    assert api.get("/v1/stock", expect=422, province_code="1")["field"] == "province_code"
    assert api.get("/v1/stock", expect=422, vaccine="water")["field"] == "vaccine"


def test_stock_pagination_cursor_walks_every_card_once(api, seeded):
    """With `limit`, `next` leads page by page through every card exactly once, then is null."""
    lots = [api.post("/v1/lots", {"vaccine": "moderna", "manufacturer": "Moderna", "lot_number": f"MX{n}",
                                  "expiry": "2099-06-30", "doses_per_vial": 10}, expect=201)["ids"]["lot_id"]
            for n in range(5)]
    for lot_id in lots:
        last = api.post("/v1/stock/receipts", {"lot_id": lot_id, "facility_id": seeded.warehouse_id, "quantity": 10},
                        expect=201)
    seen, after, pages = [], None, 0
    while True:
        params = {"min_position": last["position"], "limit": 3, **({"after": after} if after else {})}
        page = api.get("/v1/stock", **params)
        pages += 1
        assert len(page["items"]) <= 3
        seen += [item["card_id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert api.get("/v1/stock", expect=422, limit=1001)["field"] == "limit"
    assert api.get("/v1/stock", expect=422, limit=0)["field"] == "limit"


def test_stock_totals_by_province_and_by_vaccine(api, seeded):
    """Totals sum every card per province, per vaccine and per both; in transit counts at the destination."""
    hcmc_id = api.post("/v1/facilities", {"code": "PW-79", "name": "HCMC warehouse", "kind": "provincial_warehouse",
                                          "province_code": "79"}, expect=201)["ids"]["facility_id"]
    moderna = api.post("/v1/lots", {"vaccine": "moderna", "manufacturer": "Moderna", "lot_number": "M1",
                                    "expiry": "2099-06-30", "doses_per_vial": 10}, expect=201)["ids"]["lot_id"]
    api.post("/v1/stock/receipts", {"lot_id": moderna, "facility_id": hcmc_id, "quantity": 40}, expect=201)
    last = api.post("/v1/transfers", {"document_number": "PX-0002", "source_id": seeded.warehouse_id,
                                      "destination_id": hcmc_id, "lines": [{"lot_id": seeded.lot_id, "quantity": 25}]},
                    expect=201)
    by_province = api.get("/v1/stock/totals", by="province", min_position=last["position"])
    assert by_province["by"] == "province"
    rows = {row["province_code"]: row for row in by_province["items"]}
    assert rows["01"]["on_hand"] == seeded.received - 25 and rows["01"]["stock_cards"] == 2
    assert rows["79"]["on_hand"] == 40 and rows["79"]["in_transit"] == 25
    by_vaccine = {row["vaccine"]: row for row in api.get("/v1/stock/totals", by="vaccine")["items"]}
    assert by_vaccine["pfizer"]["on_hand"] == seeded.received - 25 and by_vaccine["moderna"]["on_hand"] == 40
    both = api.get("/v1/stock/totals", by="province_vaccine")["items"]
    assert {(r["province_code"], r["vaccine"]) for r in both} == {("01", "pfizer"), ("79", "moderna")}
    assert api.get("/v1/stock/totals", expect=422, by="district")["field"] == "by"
    assert api.get("/v1/stock/totals", expect=422)["field"] == "by"
