"""Scenarios shared by the integration tests: each drives the Ledger through one area and asserts the
write model as it goes, so a later check of the projections has known numbers to compare with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.domain import Invalid, LedgerError, NotFound, RuleViolation
from projections.runtime import ProjectionRuntime

COUNTERS = ("received", "transferred_in", "returned", "adjusted_in", "adjusted_out", "count_difference",
            "reversed", "dispatched", "administered")


def refused(ledger: Ledger, rule: str, call: Callable[[], Any]) -> RuleViolation:
    """Run a command that must be refused under `rule`, and check that it wrote nothing."""
    before = ledger.head()
    with pytest.raises(RuleViolation) as info:
        call()
    assert info.value.rule == rule, info.value.message
    assert ledger.head() == before, f"refused command ({rule}) wrote events"
    return info.value


def rejected(ledger: Ledger, error: type[LedgerError], call: Callable[[], Any]) -> LedgerError:
    """Run a command that must fail with `error` (Invalid, NotFound), and check that it wrote nothing."""
    before = ledger.head()
    with pytest.raises(error) as info:
        call()
    assert ledger.head() == before
    return info.value


def on_hand(ledger: Ledger, lot_id: UUID, facility_id: UUID) -> int:
    return ledger.stock_card(lot_id, facility_id).on_hand


# -- scenarios (each asserts the write model as it goes; reused by the projection tests) -------------------


def supply_chain(world: Any, prov: Callable) -> dict[str, UUID]:
    """Receive, dispatch, receive with a discrepancy, cancel, adjust, count and reverse, with refusals."""
    ledger, lot, wh, vp = world.ledger, world.lot_id, world.warehouse_id, world.point_id
    assert on_hand(ledger, lot, wh) == 1000 and on_hand(ledger, lot, vp) == 100

    refused(ledger, "stock_never_negative", lambda: ledger.dispatch_transfer(
        document_number="T-BIG", source_id=wh, destination_id=vp, lines=[{"lot_id": lot, "quantity": 1001}],
        prov=prov()))
    refused(ledger, "transfer_to_same_location", lambda: ledger.dispatch_transfer(
        document_number="T-SELF", source_id=wh, destination_id=wh, lines=[{"lot_id": lot, "quantity": 1}],
        prov=prov()))
    t1 = UUID(ledger.dispatch_transfer(document_number="T-1", source_id=wh, destination_id=vp,
                                       lines=[{"lot_id": str(lot), "quantity": 200}], prov=prov()).ids["transfer_id"])
    assert on_hand(ledger, lot, wh) == 800
    refused(ledger, "transfer_document_exists", lambda: ledger.dispatch_transfer(
        document_number="t-1", source_id=wh, destination_id=vp, lines=[{"lot_id": lot, "quantity": 1}], prov=prov()))
    refused(ledger, "received_exceeds_dispatched", lambda: ledger.receive_transfer(
        transfer_id=t1, lines=[{"lot_id": str(lot), "quantity": 201}], prov=prov()))
    rejected(ledger, Invalid, lambda: ledger.receive_transfer(
        transfer_id=t1, lines=[{"lot_id": str(lot), "quantity": 190}], prov=prov()))  # a shortfall needs a reason

    ledger.receive_transfer(transfer_id=t1, lines=[{"lot_id": str(lot), "quantity": 190, "discrepancy_reason": "damaged"}],
                            prov=prov())
    assert on_hand(ledger, lot, vp) == 290
    assert ledger.transfer(t1).status == "received"
    refused(ledger, "transfer_not_in_transit", lambda: ledger.receive_transfer(transfer_id=t1, prov=prov()))
    refused(ledger, "transfer_not_in_transit", lambda: ledger.cancel_transfer(transfer_id=t1, reason="x", prov=prov()))

    t2 = UUID(ledger.dispatch_transfer(document_number="T-2", source_id=wh, destination_id=vp,
                                       lines=[{"lot_id": str(lot), "quantity": 50}], prov=prov()).ids["transfer_id"])
    assert on_hand(ledger, lot, wh) == 750
    ledger.cancel_transfer(transfer_id=t2, reason="truck broke down", prov=prov())
    assert on_hand(ledger, lot, wh) == 800 and on_hand(ledger, lot, vp) == 290

    ledger.adjust_stock(lot_id=lot, facility_id=vp, quantity=5, direction="out", reason="damaged", prov=prov())
    found = UUID(ledger.adjust_stock(lot_id=lot, facility_id=vp, quantity=3, direction="in", reason="found",
                                     prov=prov()).ids["movement_id"])
    assert on_hand(ledger, lot, vp) == 288
    refused(ledger, "stock_never_negative", lambda: ledger.adjust_stock(
        lot_id=lot, facility_id=vp, quantity=289, direction="out", reason="lost", prov=prov()))

    counted = ledger.count_stock(lot_id=lot, facility_id=vp, counted=280, prov=prov())
    assert counted.ids["difference"] == -8 and on_hand(ledger, lot, vp) == 280

    ledger.reverse_movement(lot_id=lot, facility_id=vp, movement_id=found, reason="miscounted", prov=prov())
    assert on_hand(ledger, lot, vp) == 277
    refused(ledger, "movement_already_reversed", lambda: ledger.reverse_movement(
        lot_id=lot, facility_id=vp, movement_id=found, reason="again", prov=prov()))
    refused(ledger, "movement_not_reversible", lambda: ledger.reverse_movement(
        lot_id=lot, facility_id=vp, movement_id=UUID(int=7), reason="unknown", prov=prov()))
    ledger.reverse_movement(lot_id=lot, facility_id=vp, movement_id=UUID(counted.ids["movement_id"]),
                            reason="count was wrong", prov=prov())
    assert on_hand(ledger, lot, vp) == 285 and on_hand(ledger, lot, wh) == 800
    return {"t1": t1, "t2": t2}


def vaccination_flow(world: Any, prov: Callable) -> dict[str, UUID]:
    """Register, approve, screen, dose, observe, report an AEFI; void a dose and correct another's date and lot."""
    ledger, lot, vp, wh = world.ledger, world.lot_id, world.point_id, world.warehouse_id
    lot2 = world.register_lot(f"FB{world.tag}")
    ledger.receive_stock(lot_id=lot2, facility_id=vp, quantity=10, prov=prov())
    moderna = world.register_lot(f"MX{world.tag}", vaccine="moderna")
    start = on_hand(ledger, lot, vp)

    a = world.person_id
    ledger.register_for_vaccination(person_id=a, priority_group="health_worker", preferred_facility_id=vp, prov=prov())
    refused(ledger, "already_registered_for_vaccination", lambda: ledger.register_for_vaccination(person_id=a, prov=prov()))
    ledger.approve_vaccination(person_id=a, province_code="01", district_code="001", prov=prov())
    refused(ledger, "vaccination_already_approved", lambda: ledger.approve_vaccination(
        person_id=a, province_code="01", district_code="001", prov=prov()))
    refused(ledger, "facility_does_not_vaccinate", lambda: ledger.administer_dose(
        person_id=a, lot_id=lot, facility_id=wh, screening_id=world.screening_id, prov=prov()))
    dose_a = UUID(ledger.administer_dose(person_id=a, lot_id=lot, facility_id=vp, screening_id=world.screening_id,
                                         prov=prov()).ids["dose_id"])
    assert on_hand(ledger, lot, vp) == start - 1
    assert ledger.person(a).doses[str(dose_a)]["lot_id"] == str(lot)
    refused(ledger, "screening_already_used", lambda: ledger.administer_dose(
        person_id=a, lot_id=lot, facility_id=vp, screening_id=world.screening_id, prov=prov()))
    refused(ledger, "screening_required", lambda: ledger.administer_dose(
        person_id=a, lot_id=lot, facility_id=vp, prov=prov()))
    ledger.complete_observation(person_id=a, dose_id=dose_a, minutes=30, reactions=["sore arm"], prov=prov())
    refused(ledger, "observation_already_completed", lambda: ledger.complete_observation(
        person_id=a, dose_id=dose_a, minutes=30, prov=prov()))
    refused(ledger, "aefi_before_dose", lambda: ledger.report_adverse_event(
        person_id=a, dose_id=dose_a, severity="common", symptoms=["fever"],
        onset_at=datetime.now(UTC) - timedelta(days=1), prov=prov()))
    aefi = UUID(ledger.report_adverse_event(person_id=a, dose_id=dose_a, severity="serious", symptoms=["anaphylaxis"],
                                            onset_at=datetime.now(UTC), prov=prov()).ids["aefi_id"])
    ledger.classify_adverse_event(person_id=a, aefi_id=aefi, causality="vaccine_product_related", prov=prov())
    assert ledger.person(a).aefis[str(aefi)] == {"dose_id": str(dose_a), "severity": "serious",
                                                  "causality": "vaccine_product_related"}

    # A dose entered in error is voided, and its dose goes back on the card.
    b = world.register_person(full_name="Tran Thi B")
    dose_b = UUID(ledger.administer_dose(person_id=b, lot_id=lot, facility_id=vp, screening_id=world.screen(b),
                                         prov=prov()).ids["dose_id"])
    assert on_hand(ledger, lot, vp) == start - 2
    ledger.void_dose(person_id=b, dose_id=dose_b, reason="entered_in_error", prov=prov())
    assert on_hand(ledger, lot, vp) == start - 1
    assert ledger.person(b).doses[str(dose_b)]["voided"]
    refused(ledger, "dose_already_voided", lambda: ledger.void_dose(
        person_id=b, dose_id=dose_b, reason="duplicate", prov=prov()))

    # A dose recorded against the wrong lot moves between cards; a wrong date is corrected in place.
    c = world.register_person(full_name="Le Van C")
    dose_c = UUID(ledger.administer_dose(person_id=c, lot_id=lot, facility_id=vp, screening_id=world.screen(c),
                                         prov=prov()).ids["dose_id"])
    assert on_hand(ledger, lot, vp) == start - 2
    refused(ledger, "corrected_lot_is_another_vaccine", lambda: ledger.correct_dose(
        person_id=c, dose_id=dose_c, reason="wrong_lot", lot_id=moderna, prov=prov()))
    ledger.correct_dose(person_id=c, dose_id=dose_c, reason="wrong_lot", lot_id=lot2, prov=prov())
    assert on_hand(ledger, lot, vp) == start - 1 and on_hand(ledger, lot2, vp) == 9
    earlier = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    ledger.correct_dose(person_id=c, dose_id=dose_c, reason="wrong_date", administered_at=earlier, prov=prov())
    assert on_hand(ledger, lot, vp) == start - 1 and on_hand(ledger, lot2, vp) == 9
    dose = ledger.person(c).doses[str(dose_c)]
    assert dose["lot_id"] == str(lot2) and dose["administered_at"] == earlier.isoformat()
    refused(ledger, "correction_changes_nothing", lambda: ledger.correct_dose(
        person_id=c, dose_id=dose_c, reason="wrong_lot", lot_id=lot2, prov=prov()))
    return {"a": a, "b": b, "c": c, "dose_a": dose_a, "dose_b": dose_b, "dose_c": dose_c, "lot2": lot2}


def identity_correction(world: Any, prov: Callable) -> dict[str, UUID]:
    """Correct an id number: one person per number, found by the new one, the old one free for another."""
    ledger = world.ledger
    n1, n2 = "079012345601", "079012345602"
    p1 = world.register_person(id_number=n1, full_name="Pham Van D")
    assert ledger.find_person("cccd", n1) == p1
    ledger.correct_person(person_id=p1, changes={"id_number": n2}, reason="invalid_id_format", prov=prov())
    assert ledger.person(p1).id_number == n2
    assert ledger.find_person("cccd", n2) == p1
    rejected(ledger, NotFound, lambda: ledger.find_person("cccd", n1))

    p2 = world.register_person(id_number=n1, full_name="Hoang Thi E")
    assert p2 != p1 and ledger.find_person("cccd", n1) == p2
    refused(ledger, "one_person_per_id_number", lambda: world.register_person(id_number=n2))
    refused(ledger, "one_person_per_id_number", lambda: ledger.correct_person(
        person_id=p2, changes={"id_number": n2}, reason="invalid_id_format", prov=prov()))
    refused(ledger, "correction_changes_nothing", lambda: ledger.correct_person(
        person_id=p1, changes={"id_number": n2}, reason="invalid_id_format", prov=prov()))
    assert ledger.find_person("cccd", n1) == p2 and ledger.find_person("cccd", n2) == p1
    return {"p1": p1, "p2": p2}


def merge_and_revert(world: Any, prov: Callable, runtime: ProjectionRuntime | None = None) -> dict[str, UUID]:
    """Merge a duplicate (bringing its dose) into a survivor, then revert the merge."""
    ledger = world.ledger
    n3 = "079099999903"
    survivor = world.register_person(full_name="Vu Van F")
    duplicate = world.register_person(id_number=n3, full_name="Vu Van F.")
    dose = UUID(ledger.administer_dose(person_id=duplicate, lot_id=world.lot_id, facility_id=world.point_id,
                                       screening_id=world.screen(duplicate), prov=prov()).ids["dose_id"])
    refused(ledger, "merge_into_self", lambda: ledger.merge_people(
        duplicate_id=survivor, into_id=survivor, reason="same", prov=prov()))
    refused(ledger, "not_merged", lambda: ledger.revert_merge(duplicate_id=duplicate, prov=prov()))

    ledger.merge_people(duplicate_id=duplicate, into_id=survivor, reason="same person, typo in name", prov=prov())
    assert ledger.find_person("cccd", n3) == survivor
    assert str(dose) in ledger.person(survivor).doses
    refused(ledger, "person_merged", lambda: world.screen(duplicate))
    refused(ledger, "person_merged", lambda: ledger.merge_people(
        duplicate_id=duplicate, into_id=survivor, reason="again", prov=prov()))
    if runtime is not None:
        runtime.engine.catch_up()
        history = runtime.vaccination_history.history(survivor)
        assert history["merged_records"] == [str(duplicate)]
        assert [d["dose_id"] for d in history["doses"]] == [str(dose)]
        assert history["series"]["valid_doses"] == 1

    ledger.revert_merge(duplicate_id=duplicate, prov=prov())
    assert ledger.find_person("cccd", n3) == duplicate
    assert str(dose) not in ledger.person(survivor).doses
    assert ledger.person(duplicate).merged_into is None
    refused(ledger, "not_merged", lambda: ledger.revert_merge(duplicate_id=duplicate, prov=prov()))
    if runtime is not None:
        runtime.engine.catch_up()
        history = runtime.vaccination_history.history(survivor)
        assert history["merged_records"] == [] and history["doses"] == []
        assert history["series"]["valid_doses"] == 0
    return {"survivor": survivor, "duplicate": duplicate, "merged_dose": dose}


def ledger_facility(ledger: Ledger, world: Any, prov: Callable) -> UUID:
    """A lab: a facility that holds no stock."""
    return UUID(ledger.register_facility(code=f"LAB-{world.tag}", name="Lab", kind="lab", province_code="01",
                                         prov=prov()).ids["facility_id"])


def access_reads(world: Any, prov: Callable) -> None:
    """Reads of a record logged by two tokens, a break-the-glass opening, a lapse and a reopening."""
    ledger = world.ledger
    _, nurse = ledger.issue_token(subject="nurse-1", org="VP", role="vaccinator",
                                  scope={"facility_id": str(world.point_id)}, prov=prov())
    _, hcm = ledger.issue_token(subject="hcdc", org="CDC-HCM", role="provincial", scope={"province_code": "79"},
                                prov=prov())
    nurse_grant, hcm_grant = ledger.authenticate(nurse), ledger.authenticate(hcm)
    for purpose in ("vaccination", "care"):
        ledger.record_read(person_id=world.person_id, grant_id=nurse_grant.id, role="vaccinator",
                           route="get_person", purpose=purpose, prov=prov())
    opened = ledger.break_glass(person_id=world.person_id, grant_id=hcm_grant.id, role="provincial",
                                reason="patient unconscious in HCMC", hours=1, prov=prov())
    glass_id = UUID(opened.ids["break_glass_id"])
    ledger.record_read(person_id=world.person_id, grant_id=hcm_grant.id, role="provincial", route="get_person",
                       purpose="care", break_glass_id=glass_id, prov=prov())
    assert ledger.open_glass(hcm_grant.id, world.person_id) is not None
    refused(ledger, "break_glass_already_open", lambda: ledger.break_glass(
        person_id=world.person_id, grant_id=hcm_grant.id, role="provincial", reason="still unconscious there",
        prov=prov()))
    real_clock = ledger.clock
    later = real_clock() + timedelta(hours=2)
    ledger.clock = lambda: later
    try:
        assert ledger.open_glass(hcm_grant.id, world.person_id) is None
        ledger.break_glass(person_id=world.person_id, grant_id=hcm_grant.id, role="provincial",
                           reason="readmitted after two hours", hours=1, prov=prov())
    finally:
        ledger.clock = real_clock
