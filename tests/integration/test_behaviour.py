"""The ledger's behaviour, the same on SQLite and PostgreSQL: supply chain, vaccination, identity,
idempotency, refusals that write nothing, and projections that agree with the write model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from integration_scenarios import (
    COUNTERS,
    identity_correction,
    ledger_facility,
    merge_and_revert,
    on_hand,
    refused,
    rejected,
    supply_chain,
    vaccination_flow,
)

from ledger.application import Ledger
from ledger.domain import Invalid, NotFound
from ledger.settings import Settings

# -- tests ---------------------------------------------------------------------------------------------------


def test_supply_chain(world, prov):
    """Receipts, transfers (with a discrepancy and a cancellation), adjustments, counts and reversals move stock exactly."""
    supply_chain(world, prov)


def test_vaccination_flow(world, prov):
    """The vaccination flow consumes one dose per dose; a void gives it back and a lot correction moves it."""
    vaccination_flow(world, prov)


def test_identity_correction_keeps_one_person_per_id_number(world, prov):
    """After an id number is corrected, the new number finds the person and the old one is free for another."""
    identity_correction(world, prov)


def test_merge_and_revert(world, prov, runtime):
    """A merge makes the survivor answer for the duplicate's number and doses; a revert undoes both, in projections too."""
    merge_and_revert(world, prov, runtime)


def test_idempotency_survives_a_new_ledger_instance(store: Settings, world, prov):
    """A repeated client_ref returns the first result and writes nothing, also from a fresh Ledger (a new process)."""
    ledger = world.ledger
    details = {"full_name": "Dang Van G", "date_of_birth": world.ledger.person(world.person_id).date_of_birth,
               "sex": "male", "address": world.ledger.person(world.person_id).address}

    def register(app: Ledger, **overrides: Any):
        return app.register_person(id_type="cccd", id_number="079055555501",
                                   details={**details, **overrides}, prov=prov("reg-g-1"))

    first = register(ledger)
    assert not first.replayed
    head = ledger.head()
    again = register(ledger)
    assert again.replayed and again.ids == first.ids and ledger.head() == head
    assert again.position == first.position

    receipt = ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=7, prov=prov("po-77"))
    stock = on_hand(ledger, world.lot_id, world.point_id)
    head = ledger.head()

    other = Ledger(store)
    try:
        replay = register(other)
        # The first answer's position (the stock receipt was recorded after it), not the head.
        assert replay.replayed and replay.ids == first.ids and replay.position == first.position < head
        replay = other.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=7, prov=prov("po-77"))
        assert replay.replayed and replay.ids == receipt.ids and replay.position == receipt.position
        assert other.head() == head and on_hand(other, world.lot_id, world.point_id) == stock
        refused(other, "client_ref_reused", lambda: register(other, full_name="Someone Else"))
        refused(other, "client_ref_reused", lambda: other.receive_stock(
            lot_id=world.lot_id, facility_id=world.point_id, quantity=8, prov=prov("po-77")))
    finally:
        other.close()
    # The same client_ref from another organisation is another command.
    fresh = ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=7,
                                 prov=prov("po-77", org="other-org"))
    assert not fresh.replayed and fresh.ids != receipt.ids
    assert on_hand(ledger, world.lot_id, world.point_id) == stock + 7


def test_refused_and_invalid_commands_write_nothing(world, prov):
    """Every refused, invalid or not-found command leaves the log exactly as it was."""
    ledger, lot, vp, wh = world.ledger, world.lot_id, world.point_id, world.warehouse_id
    refused(ledger, "facility_code_exists", lambda: ledger.register_facility(
        code=f"wh-{world.tag}", name="again", kind="provincial_warehouse", province_code="01", prov=prov()))
    refused(ledger, "lot_exists", lambda: world.register_lot(f"FA{world.tag}"))
    refused(ledger, "one_person_per_id_number", lambda: world.register_person(
        id_number=ledger.person(world.person_id).id_number))
    refused(ledger, "vaccination_not_registered", lambda: ledger.approve_vaccination(
        person_id=world.person_id, province_code="01", district_code="001", prov=prov()))
    refused(ledger, "stock_never_negative", lambda: ledger.adjust_stock(
        lot_id=lot, facility_id=vp, quantity=101, direction="out", reason="lost", prov=prov()))
    lab = ledger_facility(ledger, world, prov)
    refused(ledger, "facility_holds_no_stock", lambda: ledger.receive_stock(
        lot_id=lot, facility_id=lab, quantity=1, prov=prov()))
    rejected(ledger, NotFound, lambda: ledger.void_dose(
        person_id=world.person_id, dose_id=UUID(int=1), reason="duplicate", prov=prov()))
    rejected(ledger, NotFound, lambda: ledger.cancel_transfer(transfer_id=UUID(int=2), reason="x", prov=prov()))
    rejected(ledger, Invalid, lambda: ledger.receive_stock(
        lot_id=UUID(int=3), facility_id=wh, quantity=1, prov=prov()))
    rejected(ledger, Invalid, lambda: ledger.receive_stock(lot_id=lot, facility_id=wh, quantity=0, prov=prov()))
    rejected(ledger, Invalid, lambda: ledger.register_person(
        id_type="cccd", id_number="123", details={}, prov=prov()))
    ledger.recall_lot(lot_id=lot, reason="quality_defect", prov=prov())
    refused(ledger, "lot_already_recalled", lambda: ledger.recall_lot(lot_id=lot, reason="other", prov=prov()))
    refused(ledger, "lot_recalled", lambda: ledger.administer_dose(
        person_id=world.person_id, lot_id=lot, facility_id=vp, screening_id=world.screening_id, prov=prov()))


def test_projections_agree_with_the_write_model(world, prov, runtime):
    """After catching up, every stock level equals its card's on hand and balances its movements, and every
    person's history holds exactly their doses."""
    supply_chain(world, prov)
    flow = vaccination_flow(world, prov)
    identity_correction(world, prov)
    merge_and_revert(world, prov)
    ledger = world.ledger
    status = {s["name"]: s for s in runtime.status()}
    assert all(s["lag"] > 0 for s in status.values())
    runtime.engine.catch_up()
    assert all(s["lag"] == 0 for s in runtime.status())

    levels = runtime.db.query("SELECT * FROM stock_levels ORDER BY card_id")
    assert len(levels) == 3  # lot 1 at the warehouse and the point, lot 2 at the point
    for row in levels:
        card = ledger.stock_card(UUID(row["lot_id"]), UUID(row["facility_id"]))
        assert row["on_hand"] == card.on_hand, row
        assert row["on_hand"] == (
            row["received"] + row["transferred_in"] + row["returned"] + row["adjusted_in"] - row["adjusted_out"]
            + row["count_difference"] + row["reversed"] - row["dispatched"] - row["administered"]
        ), row
    by_card = {(r["lot_id"], r["facility_id"]): r for r in levels}
    warehouse = by_card[(str(world.lot_id), str(world.warehouse_id))]
    assert {c: warehouse[c] for c in COUNTERS} == {
        "received": 1000, "transferred_in": 0, "returned": 50, "adjusted_in": 0, "adjusted_out": 0,
        "count_difference": 0, "reversed": 0, "dispatched": 250, "administered": 0}
    point = by_card[(str(world.lot_id), str(world.point_id))]
    assert {c: point[c] for c in COUNTERS} == {
        "received": 100, "transferred_in": 190, "returned": 0, "adjusted_in": 3, "adjusted_out": 5,
        "count_difference": -8, "reversed": 5, "dispatched": 0,
        "administered": 2}  # people a, b, c and the merged duplicate; b's was voided and c's moved to lot 2
    lines = {(r["transfer_id"], r["status"], r["dispatched"], r["received"], r["discrepancy_reason"])
             for r in runtime.db.query("SELECT * FROM stock_transfer_lines")}
    assert len(lines) == 2 and {line[1] for line in lines} == {"received", "cancelled"}

    people = runtime.db.query("SELECT * FROM vh_people ORDER BY person_id")
    assert people
    for row in people:
        person = ledger.person(UUID(row["person_id"]))
        assert (row["birth_year"], row["sex"]) == (person.date_of_birth.year, person.sex)
        assert row["merged_into"] == (str(person.merged_into) if person.merged_into else None)
        history = runtime.vaccination_history.history(UUID(row["person_id"]))
        own = {d["dose_id"]: d for d in history["doses"] if d["recorded_on_person_id"] == row["person_id"]}
        expected = {k: d for k, d in person.doses.items() if "origin_person_id" not in d}
        assert set(own) == set(expected)
        for dose_id, dose in own.items():
            assert dose["lot_id"] == expected[dose_id]["lot_id"]
            assert dose["voided"] == expected[dose_id]["voided"]
            assert dose["administered_at"] == datetime.fromisoformat(
                expected[dose_id]["administered_at"]).astimezone(UTC).isoformat()
        assert history["series"]["valid_doses"] == sum(not d["voided"] for d in person.doses.values())
    voided = runtime.vaccination_history.history(flow["b"])["doses"][0]
    assert voided["voided"] and voided["dose_number"] is None and voided["void_reason"] == "entered_in_error"
    corrected = runtime.vaccination_history.history(flow["c"])["doses"][0]
    assert corrected["corrected"] and corrected["lot_id"] == str(flow["lot2"])


def test_a_lot_recalled_elsewhere_stops_the_next_dose_from_a_ledger_that_kept_it_in_memory(store: Settings, world, prov):
    """Lots and facilities are read from memory, but checked at commit: a recall made through another Ledger
    (another process) makes the next dose fail its read-set check, re-read the lot, and be refused."""
    ledger = world.ledger
    ledger.administer_dose(person_id=world.person_id, lot_id=world.lot_id, facility_id=world.point_id,
                           screening_id=world.screening_id, prov=prov())  # the lot is now held in memory
    other = Ledger(store)
    try:
        other.recall_lot(lot_id=world.lot_id, reason="quality_defect", prov=prov())
    finally:
        other.close()
    person = world.register_person(full_name="Le Van C")
    screening = world.screen(person)
    stock = on_hand(ledger, world.lot_id, world.point_id)
    refused(ledger, "lot_recalled", lambda: ledger.administer_dose(
        person_id=person, lot_id=world.lot_id, facility_id=world.point_id, screening_id=screening, prov=prov()))
    assert ledger.person(person).doses == {}
    assert on_hand(ledger, world.lot_id, world.point_id) == stock


def test_an_insert_whose_read_set_moved_on_writes_nothing(store: Settings, world, prov):
    """The recorder refuses events saved with a stale read set (an aggregate read at an older version)."""
    from ledger.domain import Person
    from ledger.recorders import StaleReadError

    ledger = world.ledger
    lot_version = ledger.lot(world.lot_id).version
    ledger.recall_lot(lot_id=world.lot_id, reason="regulatory_order", prov=prov())
    def person() -> Person:  # a save takes the pending events, so each attempt gets a new aggregate
        return Person.register(
            person_id=UUID(int=7), id_type="none", id_number=None, prov=prov(), now=datetime.now(UTC),
            details={"full_name": "Pham Thi D", "date_of_birth": datetime(1990, 1, 1).date(), "sex": "female",
                     "address": {"province_code": "01"}})

    head = ledger.head()
    with pytest.raises(StaleReadError):
        ledger.save(person(), read_set={world.lot_id: lot_version})
    assert ledger.head() == head
    ledger.save(person(), read_set={world.lot_id: lot_version + 1})
    assert ledger.person(UUID(int=7)).version == 1
