"""Each rule each aggregate guards: refused commands name their rule (or field) and record nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest

from ledger.domain import (
    CommandReceipt,
    Facility,
    IdentityKey,
    Invalid,
    LedgerError,
    NotFound,
    Person,
    Provenance,
    RuleViolation,
    StockCard,
    Transfer,
    VaccineLot,
)
from ledger.domain.identity import normalise_id_number
from ledger.domain.person import LOCAL_TZ
from ledger.policies.vaccines import check_series

#: 10:00 in Hanoi on 15 Nov 2021, under the Sep 2021 series policy.
NOW = datetime(2021, 11, 15, 3, 0, tzinfo=UTC)
PROV = Provenance(actor="t", org="o", source="app")
ADDRESS = {"line": "1 Trang Tien", "province_code": "01", "district_code": "001", "ward_code": "00001"}


def at(moment: datetime) -> Provenance:
    """Provenance of a fact that happened at `moment` (a backlog entry when before NOW)."""
    return Provenance(actor="t", org="o", source="app", occurred_at=moment)


def state_of(aggregate) -> dict:
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


@contextmanager
def refused(
    *aggregates, error: type[LedgerError] = RuleViolation, rule: str | None = None, field: str | None = None
) -> Iterator[pytest.ExceptionInfo]:
    """Expect the block to raise `error` (with `rule` or `field`) and to leave every aggregate untouched."""
    before = [(a.version, len(a.pending_events), state_of(a)) for a in aggregates]
    with pytest.raises(error) as info:
        yield info
    if rule is not None:
        assert info.value.rule == rule
    if field is not None:
        assert info.value.field == field
    assert [(a.version, len(a.pending_events), state_of(a)) for a in aggregates] == before


def new_card(on_hand: int = 0) -> StockCard:
    card = StockCard.open(lot_id=uuid4(), facility_id=uuid4(), prov=PROV)
    if on_hand:
        card.receive(quantity=on_hand, prov=PROV)
    return card


def new_lot(expiry: date = date(2022, 3, 31)) -> VaccineLot:
    return VaccineLot.register(
        vaccine="pfizer", manufacturer="Pfizer", lot_number="fk1234", expiry=expiry, doses_per_vial=6, prov=PROV
    )


def new_person(**details) -> Person:
    base = {"full_name": "Nguyen Van A", "date_of_birth": date(1990, 5, 17), "sex": "male", "address": ADDRESS}
    return Person.register(
        person_id=uuid4(), id_type="cccd", id_number="001090012345", details={**base, **details}, prov=PROV, now=NOW
    )


def screen(person: Person, when: datetime = NOW, *, vitals=None, answers=None, outcome=None, minutes=None) -> UUID:
    screening_id, _ = person.screen(
        facility_id=uuid4(), vitals=vitals or {}, answers=answers or {}, outcome=outcome,
        observation_minutes=minutes, prov=at(when), now=NOW,
    )
    return screening_id


def administer(person: Person, vaccine: str, when: datetime = NOW, *, kind=None, override=None, screening_id=None):
    return person.administer_dose(
        vaccine=vaccine, lot_id=uuid4(), lot_number="FK1234", facility_id=uuid4(), screening_id=screening_id,
        kind=kind, interval_override=override, prov=at(when), now=NOW,
    )


def vaccinate(person: Person, vaccine: str, when: datetime = NOW, **kwargs) -> UUID:
    """Screen (eligible) and give a dose at `when`."""
    screen(person, when)
    return administer(person, vaccine, when, **kwargs)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


# == Provenance ===================================================================================


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"actor": ""}, "actor"),
        ({"org": ""}, "org"),
        ({"source": "fax"}, "source"),
        ({"occurred_at": datetime(2021, 11, 1, 9, 0)}, "occurred_at"),
    ],
)
def test_provenance_is_validated(kwargs, field):
    """Every fact names an actor, an org, a known channel, and an aware business time if any."""
    with pytest.raises(Invalid) as info:
        Provenance(**{"actor": "t", "org": "o", "source": "app", **kwargs})
    assert info.value.field == field


def test_provenance_business_time_defaults_to_now():
    """Without `occurred_at` a fact happened when it is recorded."""
    assert PROV.when(NOW) == NOW
    assert at(days_ago(3)).when(NOW) == days_ago(3)


# == Facility and VaccineLot ==========================================================================


def test_facility_code_is_its_natural_key():
    """A facility's id comes from its code, case-insensitively, so a repeat registration finds the first."""
    facility = Facility.register(
        code="vp-01", name=" Tram Y Te ", kind="vaccination_point", province_code="01", district_code="001",
        ward_code="00001", parent=None, prov=PROV,
    )
    assert facility.id == Facility.create_id("VP-01")
    assert (facility.code, facility.name) == ("VP-01", "Tram Y Te")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"code": "x"}, "code"),
        ({"name": "  "}, "name"),
        ({"kind": "hospital"}, "kind"),
        ({"province_code": "1"}, "province_code"),
        ({"district_code": "01"}, "district_code"),
        ({"ward_code": "1"}, "ward_code"),
    ],
)
def test_facility_registration_is_validated(kwargs, field):
    """Malformed facility registrations are refused naming the field."""
    args = {"code": "VP-01", "name": "Tram", "kind": "vaccination_point", "province_code": "01",
            "district_code": None, "ward_code": None, "parent": None, "prov": PROV}
    with pytest.raises(Invalid) as info:
        Facility.register(**{**args, **kwargs})
    assert info.value.field == field


def test_lot_id_is_manufacturer_and_lot_number():
    """The lot's id is its manufacturer and lot number, normalised, and the lot number is stored upper-case."""
    lot = new_lot()
    assert lot.id == VaccineLot.create_id(" pfizer ", "FK1234 ")
    assert lot.lot_number == "FK1234"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vaccine": "sinovac"}, "vaccine"),
        ({"manufacturer": ""}, "manufacturer"),
        ({"lot_number": ""}, "lot_number"),
        ({"expiry": "2022-01-01"}, "expiry"),
        ({"doses_per_vial": 0}, "doses_per_vial"),
        ({"doses_per_vial": 21}, "doses_per_vial"),
    ],
)
def test_lot_registration_is_validated(kwargs, field):
    """Malformed lot registrations are refused naming the field."""
    args = {"vaccine": "pfizer", "manufacturer": "Pfizer", "lot_number": "FK1", "expiry": date(2022, 1, 1),
            "doses_per_vial": 6, "prov": PROV}
    with pytest.raises(Invalid) as info:
        VaccineLot.register(**{**args, **kwargs})
    assert info.value.field == field


def test_lot_recalled_twice_is_refused():
    """A lot is recalled once; a second recall is `lot_already_recalled` and records nothing."""
    lot = new_lot()
    lot.recall(reason="quality_defect", note=None, prov=PROV)
    assert lot.recalled
    with refused(lot, rule="lot_already_recalled"):
        lot.recall(reason="regulatory_order", note=None, prov=PROV)


def test_lot_recall_reason_is_from_the_closed_set():
    """A recall needs a known reason."""
    lot = new_lot()
    with refused(lot, error=Invalid, field="reason"):
        lot.recall(reason="bored", note=None, prov=PROV)


def test_recalled_lot_is_not_usable():
    """No dose may be given from a recalled lot, even before its expiry."""
    lot = new_lot()
    lot.check_usable(date(2022, 1, 1))
    lot.recall(reason="cold_chain_failure", note="fridge failed", prov=PROV)
    with pytest.raises(RuleViolation) as info:
        lot.check_usable(date(2022, 1, 1))
    assert info.value.rule == "lot_recalled"


def test_lot_is_usable_on_its_expiry_day_and_not_after():
    """A lot expires at the end of its expiry day."""
    lot = new_lot(expiry=date(2022, 3, 31))
    lot.check_usable(date(2022, 3, 31))
    with pytest.raises(RuleViolation) as info:
        lot.check_usable(date(2022, 4, 1))
    assert info.value.rule == "lot_expired"


def test_expiry_extension_must_extend():
    """The regulator may extend expiry, never shorten it; the extension makes the lot usable again."""
    lot = new_lot(expiry=date(2022, 3, 31))
    with refused(lot, rule="expiry_extension_must_extend"):
        lot.extend_expiry(expiry=date(2022, 3, 31), document="123/QLD", prov=PROV)
    with refused(lot, error=Invalid, field="document"):
        lot.extend_expiry(expiry=date(2022, 6, 30), document="", prov=PROV)
    lot.extend_expiry(expiry=date(2022, 6, 30), document="123/QLD", prov=PROV)
    lot.check_usable(date(2022, 5, 1))


# == StockCard ======================================================================================


def test_administering_from_an_empty_card_is_refused_and_records_nothing():
    """Stock on hand never goes negative: a dose from an empty card is `stock_never_negative`."""
    card = new_card()
    with refused(card, rule="stock_never_negative") as info:
        card.administer(dose_id=uuid4(), person_id=uuid4(), prov=PROV)
    assert info.value.details["on_hand"] == 0


def test_dispatching_more_than_on_hand_is_refused():
    """A dispatch larger than the stock on hand is `stock_never_negative`."""
    card = new_card(10)
    with refused(card, rule="stock_never_negative"):
        card.dispatch(quantity=11, transfer_id=uuid4(), prov=PROV)
    card.dispatch(quantity=10, transfer_id=uuid4(), prov=PROV)
    assert card.on_hand == 0


def test_removing_more_than_on_hand_is_refused():
    """An adjustment out larger than the stock on hand is `stock_never_negative`."""
    card = new_card(5)
    with refused(card, rule="stock_never_negative"):
        card.adjust(quantity=6, direction="out", reason="damaged", note=None, prov=PROV)


@pytest.mark.parametrize("reason", ["found", "count_correction"])
def test_increases_need_an_increasing_reason(reason):
    """`found` and `count_correction` may add stock."""
    card = new_card(5)
    card.adjust(quantity=3, direction="in", reason=reason, note=None, prov=PROV)
    assert card.on_hand == 8


@pytest.mark.parametrize(
    "reason", ["damaged", "expired", "lost", "stolen", "open_vial_limit", "cold_chain_failure", "vvm_discard",
               "count_correction"],
)
def test_decreases_need_a_decreasing_reason(reason):
    """Every reason but `found` may remove stock."""
    card = new_card(5)
    card.adjust(quantity=2, direction="out", reason=reason, note=None, prov=PROV)
    assert card.on_hand == 3


@pytest.mark.parametrize(
    ("direction", "reason", "field"),
    [
        ("in", "damaged", "reason"),
        ("in", "stolen", "reason"),
        ("out", "found", "reason"),
        ("out", "misplaced", "reason"),
        ("sideways", "found", "direction"),
    ],
)
def test_adjustment_reason_must_match_direction(direction, reason, field):
    """Damaged stock cannot increase on hand and found stock cannot decrease it."""
    card = new_card(5)
    with refused(card, error=Invalid, field=field):
        card.adjust(quantity=1, direction=direction, reason=reason, note=None, prov=PROV)


@pytest.mark.parametrize("quantity", [0, -1, True, 2.5, "3", 10_000_001])
def test_quantities_are_whole_positive_numbers(quantity):
    """Receipts, adjustments and dispatches take a positive whole number of doses."""
    card = new_card(5)
    with refused(card, error=Invalid, field="quantity"):
        card.receive(quantity=quantity, prov=PROV)
    with refused(card, error=Invalid, field="quantity"):
        card.adjust(quantity=quantity, direction="in", reason="found", note=None, prov=PROV)
    with refused(card, error=Invalid, field="quantity"):
        card.dispatch(quantity=quantity, transfer_id=uuid4(), prov=PROV)


def test_count_derives_the_difference():
    """A physical count records what was counted; the difference to on hand is derived."""
    card = new_card(10)
    card.collect_events()
    card.count(counted=7, prov=PROV)
    card.count(counted=12, prov=PROV)
    short, extra = card.collect_events()
    assert (short.counted, short.difference) == (7, -3)
    assert (extra.counted, extra.difference) == (12, 5)
    assert card.on_hand == 12


@pytest.mark.parametrize("counted", [-1, True, 1.0])
def test_count_must_be_a_whole_number(counted):
    """A count is zero or more whole doses."""
    card = new_card(10)
    with refused(card, error=Invalid, field="counted"):
        card.count(counted=counted, prov=PROV)


def test_reversing_a_receipt_takes_its_doses_back_once_only():
    """A receipt is reversed by a new event that references it; a second reversal is `movement_already_reversed`."""
    card = new_card()
    movement = card.receive(quantity=10, prov=PROV, supplier_ref="PO-1")
    card.collect_events()
    reversal = card.reverse(movement_id=movement, reason="entered twice", prov=PROV)
    [event] = card.collect_events()
    assert (event.reverses, event.delta, event.movement_id) == (movement, -10, reversal)
    assert card.on_hand == 0
    with refused(card, rule="movement_already_reversed"):
        card.reverse(movement_id=movement, reason="again", prov=PROV)


def test_reversing_an_adjustment_and_a_count_undoes_them():
    """Reversal undoes an adjustment out and a count by their recorded deltas."""
    card = new_card(10)
    out = card.adjust(quantity=4, direction="out", reason="damaged", note=None, prov=PROV)
    counted = card.count(counted=5, prov=PROV)
    card.reverse(movement_id=counted, reason="miscount", prov=PROV)
    assert card.on_hand == 6
    card.reverse(movement_id=out, reason="not damaged", prov=PROV)
    assert card.on_hand == 10


def test_reversing_a_receipt_cannot_make_stock_negative():
    """A receipt whose doses were already used cannot be reversed: `stock_never_negative`."""
    card = new_card()
    movement = card.receive(quantity=2, prov=PROV)
    card.administer(dose_id=uuid4(), person_id=uuid4(), prov=PROV)
    with refused(card, rule="stock_never_negative"):
        card.reverse(movement_id=movement, reason="wrong supplier", prov=PROV)


def test_reversing_a_count_cannot_make_stock_negative():
    """A count that found extra doses cannot be reversed once those doses are gone."""
    card = new_card(2)
    counted = card.count(counted=5, prov=PROV)
    card.adjust(quantity=4, direction="out", reason="expired", note=None, prov=PROV)
    with refused(card, rule="stock_never_negative"):
        card.reverse(movement_id=counted, reason="miscount", prov=PROV)


def test_only_receipts_adjustments_and_counts_are_reversible():
    """Dispatches, transfer receipts, reversals and unknown ids are `movement_not_reversible`."""
    card = new_card(10)
    transfer_receipt = card.receive(quantity=3, transfer_id=uuid4(), prov=PROV)
    receipt = card.receive(quantity=3, prov=PROV)
    reversal = card.reverse(movement_id=receipt, reason="duplicate", prov=PROV)
    for movement_id in (transfer_receipt, reversal, uuid4()):
        with refused(card, rule="movement_not_reversible"):
            card.reverse(movement_id=movement_id, reason="try", prov=PROV)


def test_reversal_needs_a_reason():
    """A reversal without a reason is refused naming the field."""
    card = new_card()
    movement = card.receive(quantity=3, prov=PROV)
    with refused(card, error=Invalid, field="reason"):
        card.reverse(movement_id=movement, reason="  ", prov=PROV)


def test_administer_and_reverse_consumption_move_one_dose():
    """A dose takes one from the card and voiding it gives that one back."""
    card = new_card(1)
    dose_id = uuid4()
    card.administer(dose_id=dose_id, person_id=uuid4(), prov=PROV)
    assert card.on_hand == 0
    card.reverse_consumption(dose_id=dose_id, reason="entered_in_error", prov=PROV)
    assert card.on_hand == 1


def test_stock_card_id_is_lot_and_facility():
    """One card per lot and facility: its id is derived from both."""
    lot_id, facility_id = uuid4(), uuid4()
    card = StockCard.open(lot_id=lot_id, facility_id=facility_id, prov=PROV)
    assert card.id == StockCard.create_id(lot_id, facility_id)
    assert card.id != StockCard.create_id(facility_id, lot_id)


# == Transfer ===========================================================================================


def new_transfer(*quantities: int) -> Transfer:
    lines = [{"lot_id": uuid4(), "quantity": q} for q in quantities or (10,)]
    return Transfer.dispatch(
        document_number="PX-2021/001", source_id=uuid4(), destination_id=uuid4(), lines=lines, prov=PROV
    )


def test_transfer_received_in_full():
    """Lines not named in the receipt arrived in full, without a discrepancy reason."""
    transfer = new_transfer(10, 5)
    lines = transfer.receive(lines=[], prov=PROV)
    assert [(line["received"], line["discrepancy_reason"]) for line in lines] == [(10, None), (5, None)]
    assert transfer.status == "received"


def test_transfer_discrepancy_needs_a_reason():
    """Receiving less than dispatched needs a discrepancy reason from the closed set."""
    transfer = new_transfer(10)
    lot = transfer.lines[0]["lot_id"]
    with refused(transfer, error=Invalid, field="lines[0].discrepancy_reason"):
        transfer.receive(lines=[{"lot_id": lot, "quantity": 8}], prov=PROV)
    with refused(transfer, error=Invalid, field="lines[0].discrepancy_reason"):
        transfer.receive(lines=[{"lot_id": lot, "quantity": 8, "discrepancy_reason": "found"}], prov=PROV)
    assert transfer.received is None
    [line] = transfer.receive(lines=[{"lot_id": lot, "quantity": 8, "discrepancy_reason": "damaged"}], prov=PROV)
    assert line == {"lot_id": lot, "dispatched": 10, "received": 8, "discrepancy_reason": "damaged"}
    assert transfer.received == [line]


def test_a_reason_without_a_discrepancy_is_dropped():
    """A reason given for a line that arrived in full is not recorded."""
    transfer = new_transfer(10)
    lot = transfer.lines[0]["lot_id"]
    [line] = transfer.receive(lines=[{"lot_id": lot, "quantity": 10, "discrepancy_reason": "damaged"}], prov=PROV)
    assert line["discrepancy_reason"] is None


def test_receiving_more_than_dispatched_is_refused():
    """More cannot arrive than left: `received_exceeds_dispatched`."""
    transfer = new_transfer(10)
    lot = transfer.lines[0]["lot_id"]
    with refused(transfer, rule="received_exceeds_dispatched"):
        transfer.receive(lines=[{"lot_id": lot, "quantity": 11}], prov=PROV)


@pytest.mark.parametrize("quantity", [-1, True, "10"])
def test_received_quantity_is_a_whole_number(quantity):
    """A received quantity is zero or more whole doses."""
    transfer = new_transfer(10)
    lot = transfer.lines[0]["lot_id"]
    with refused(transfer, error=Invalid, field="lines[0].quantity"):
        transfer.receive(lines=[{"lot_id": lot, "quantity": quantity, "discrepancy_reason": "lost"}], prov=PROV)


def test_receiving_a_lot_not_on_the_transfer_is_refused():
    """A receipt may only name lots that were dispatched."""
    transfer = new_transfer(10)
    with refused(transfer, error=Invalid, field="lines[0].lot_id"):
        transfer.receive(lines=[{"lot_id": str(uuid4()), "quantity": 1}], prov=PROV)


def test_a_lot_named_twice_in_a_receipt_is_refused():
    """Two receipt lines for one lot would leave one of them unread: the second is refused by its index."""
    transfer = new_transfer(10, 5)
    lot = transfer.lines[0]["lot_id"]
    with refused(transfer, error=Invalid, field="lines[1].lot_id"):
        transfer.receive(lines=[{"lot_id": lot, "quantity": 9, "discrepancy_reason": "damaged"},
                                {"lot_id": lot, "quantity": 10}], prov=PROV)


def test_cancel_only_in_transit():
    """A transfer is cancelled only while in transit; a received one cannot be, nor received once cancelled."""
    received = new_transfer(10)
    received.receive(lines=[], prov=PROV)
    with refused(received, rule="transfer_not_in_transit"):
        received.cancel(reason="wrong destination", prov=PROV)
    with refused(received, rule="transfer_not_in_transit"):
        received.receive(lines=[], prov=PROV)
    cancelled = new_transfer(10)
    cancelled.cancel(reason="wrong destination", prov=PROV)
    assert cancelled.status == "cancelled"
    with refused(cancelled, rule="transfer_not_in_transit"):
        cancelled.receive(lines=[], prov=PROV)
    with refused(cancelled, rule="transfer_not_in_transit"):
        cancelled.cancel(reason="again", prov=PROV)


def test_cancel_needs_a_reason():
    """Cancelling without a reason is refused naming the field."""
    transfer = new_transfer(10)
    with refused(transfer, error=Invalid, field="reason"):
        transfer.cancel(reason=" ", prov=PROV)


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ("10 doses", "lines"),
        ([{"quantity": 1}], "lines[0].lot_id"),
        ([{"lot_id": "a", "quantity": 0}], "lines[0].quantity"),
        ([{"lot_id": "a", "quantity": 1}, {"lot_id": "a", "quantity": 2}], "lines[1].lot_id"),
    ],
)
def test_transfer_lines_are_validated(lines, field):
    """A transfer needs lines, each lot once, with positive quantities."""
    with pytest.raises(Invalid) as info:
        Transfer.dispatch(document_number="PX-1", source_id=uuid4(), destination_id=uuid4(), lines=lines, prov=PROV)
    assert info.value.field == field


def test_transfer_to_the_same_location_is_refused():
    """Source and destination of a transfer differ."""
    place = uuid4()
    with pytest.raises(RuleViolation) as info:
        Transfer.dispatch(
            document_number="PX-1", source_id=place, destination_id=place, lines=[{"lot_id": "a", "quantity": 1}],
            prov=PROV,
        )
    assert info.value.rule == "transfer_to_same_location"


def test_transfer_document_number_is_its_natural_key():
    """The transfer's id comes from its document number, case-insensitively."""
    transfer = new_transfer(1)
    assert transfer.id == Transfer.create_id("px-2021/001")
    with pytest.raises(Invalid) as info:
        Transfer.dispatch(document_number="no spaces", source_id=uuid4(), destination_id=uuid4(),
                          lines=[{"lot_id": "a", "quantity": 1}], prov=PROV)
    assert info.value.field == "document_number"


# == IdentityKey and CommandReceipt =======================================================================


def test_identity_key_is_held_by_one_person_at_a_time():
    """A claimed number cannot be reclaimed until released; then another person may claim it."""
    first, second = uuid4(), uuid4()
    key = IdentityKey.claim(id_type="cccd", id_number="001090012345", person_id=first, prov=PROV)
    assert key.id == IdentityKey.create_id("cccd", "001090012345")
    with refused(key, rule="one_person_per_id_number") as info:
        key.reclaim(person_id=second, prov=PROV)
    assert info.value.details["person_id"] == str(first)
    with refused(key, rule="identity_key_not_held"):
        key.release(person_id=second, prov=PROV)
    key.release(person_id=first, prov=PROV)
    assert key.person_id is None
    key.reclaim(person_id=second, prov=PROV)
    assert key.person_id == second
    with refused(key, rule="one_person_per_id_number"):
        key.reclaim(person_id=first, prov=PROV)


@pytest.mark.parametrize(
    ("id_type", "number", "expected"),
    [
        ("cccd", "001 090 012 345", "001090012345"),
        ("cmnd", "123456789", "123456789"),
        ("passport", "c1234567", "C1234567"),
        ("insurance", "dn4010123456789", "DN4010123456789"),
        ("none", None, None),
    ],
)
def test_id_numbers_are_normalised(id_type, number, expected):
    """Id numbers are upper-cased, stripped of spaces and checked against their type's format."""
    assert normalise_id_number(id_type, number) == expected


@pytest.mark.parametrize(
    ("id_type", "number", "field"),
    [
        ("cccd", "12345", "id_number"),
        ("cccd", None, "id_number"),
        ("passport", "AB", "id_number"),
        ("none", "001090012345", "id_number"),
        ("driving_licence", "123", "id_type"),
    ],
)
def test_malformed_id_numbers_are_refused(id_type, number, field):
    """A number that does not fit its type, or a type outside the closed set, is refused naming the field."""
    with pytest.raises(Invalid) as info:
        normalise_id_number(id_type, number)
    assert info.value.field == field


def test_command_receipt_replays_the_same_command():
    """The same command with the same content gets the first result back."""
    prov = Provenance(actor="t", org="o", source="app", client_ref="req-1")
    receipt = CommandReceipt.issue(command="administer", request_digest="abc", result={"dose_id": "x"}, prov=prov)
    assert receipt.id == CommandReceipt.create_id("o", "req-1")
    assert receipt.replay("administer", "abc") == {"dose_id": "x"}


@pytest.mark.parametrize(("command", "digest"), [("administer", "other"), ("void", "abc")])
def test_command_receipt_refuses_a_reused_client_ref(command, digest):
    """A client_ref reused for other content or another command is `client_ref_reused`."""
    prov = Provenance(actor="t", org="o", source="app", client_ref="req-1")
    receipt = CommandReceipt.issue(command="administer", request_digest="abc", result={"dose_id": "x"}, prov=prov)
    with refused(receipt, rule="client_ref_reused") as info:
        receipt.replay(command, digest)
    assert info.value.details["command"] == "administer"


def test_command_receipt_refuses_the_same_command_at_another_business_time():
    """The same command and content under a client_ref, but saying its fact happened at another time,
    is another fact: `client_ref_reused` (as a repeat its time would be lost)."""
    at = datetime(2021, 8, 2, 9, 0, tzinfo=UTC)
    prov = Provenance(actor="t", org="o", source="import", client_ref="row-1", occurred_at=at)
    receipt = CommandReceipt.issue(command="administer", request_digest="abc", result={"dose_id": "x"}, prov=prov)
    assert receipt.replay("administer", "abc", at.astimezone(timezone(timedelta(hours=7)))) == {"dose_id": "x"}
    with refused(receipt, rule="client_ref_reused") as info:
        receipt.replay("administer", "abc", at + timedelta(days=1))
    assert info.value.details["occurred_at"] == "2021-08-02T09:00:00+00:00"
    with refused(receipt, rule="client_ref_reused"):
        receipt.replay("administer", "abc")


# == Person: registration and details ======================================================================


def test_registration_normalises_details():
    """Registration collapses whitespace in the name and keeps the address codes."""
    person = new_person(full_name="  Nguyen   Van  A ")
    assert person.full_name == "Nguyen Van A"
    assert person.address == ADDRESS


@pytest.mark.parametrize(
    ("details", "field"),
    [
        ({"full_name": ""}, "full_name"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"date_of_birth": date(1899, 12, 31)}, "date_of_birth"),
        ({"date_of_birth": date(2021, 11, 16)}, "date_of_birth"),
        ({"date_of_birth": "1990-01-01"}, "date_of_birth"),
        ({"sex": "x"}, "sex"),
        ({"phone": "12ab"}, "phone"),
        ({"address": "Hanoi"}, "address"),
        ({"address": {"province_code": "1"}}, "province_code"),
        ({"address": {"province_code": "01", "line": "x" * 301}}, "address.line"),
    ],
)
def test_registration_details_are_validated(details, field):
    """Malformed details are refused naming the field."""
    with pytest.raises(Invalid) as info:
        new_person(**details)
    assert info.value.field == field


def test_registration_requires_the_core_details():
    """Name, date of birth, sex and address are required."""
    with pytest.raises(Invalid) as info:
        Person.register(person_id=uuid4(), id_type="none", id_number=None,
                        details={"full_name": "A", "sex": "male", "address": ADDRESS}, prov=PROV, now=NOW)
    assert info.value.field == "date_of_birth"


def test_details_correction_records_previous_values():
    """A correction changes only what differs and keeps what it was."""
    person = new_person()
    person.collect_events()
    changed = person.correct_details(changes={"full_name": "Nguyen Van B"}, reason="wrong_name", prov=PROV, now=NOW)
    assert changed == {"full_name": "Nguyen Van B"}
    [event] = person.collect_events()
    assert (event.changes, event.previous, event.reason) == (
        {"full_name": "Nguyen Van B"}, {"full_name": "Nguyen Van A"}, "wrong_name",
    )
    assert person.full_name == "Nguyen Van B"


def test_date_of_birth_correction_updates_the_person():
    """A `wrong_dob` correction changes the date of birth to a date."""
    person = new_person()
    person.correct_details(changes={"date_of_birth": date(1991, 5, 17)}, reason="wrong_dob", prov=PROV, now=NOW)
    assert person.date_of_birth == date(1991, 5, 17)


@pytest.mark.parametrize(
    ("reason", "changes", "field"),
    [
        ("wrong_name", {"date_of_birth": date(1991, 1, 1)}, "changes.date_of_birth"),
        ("wrong_dob", {"full_name": "B"}, "changes.full_name"),
        ("wrong_sex", {"phone": "0912345678"}, "changes.phone"),
        ("contact_update", {"id_number": "001090099999"}, "changes.id_number"),
        ("missing_id", {"sex": "female"}, "changes.sex"),
        ("typo", {"full_name": "B"}, "reason"),
        ("wrong_name", {}, "changes"),
        ("wrong_name", {"full_name": " "}, "full_name"),
        ("wrong_dob", {"date_of_birth": date(2030, 1, 1)}, "date_of_birth"),
        ("contact_update", {"phone": "call me"}, "phone"),
        ("contact_update", {"address": {"province_code": "ha"}}, "province_code"),
    ],
)
def test_details_correction_reason_limits_the_fields(reason, changes, field):
    """Each data-quality reason may change only its own fields, with valid values (422 naming the field)."""
    person = new_person()
    with refused(person, error=Invalid, field=field):
        person.correct_details(changes=changes, reason=reason, prov=PROV, now=NOW)


@pytest.mark.parametrize(
    ("reason", "changes"),
    [
        ("wrong_name", {"full_name": "Nguyen Van A"}),
        ("wrong_name", {"full_name": "  Nguyen  Van   A "}),
        ("wrong_dob", {"date_of_birth": date(1990, 5, 17)}),
        ("contact_update", {"address": ADDRESS, "phone": None}),
        ("duplicate_person", {"id_type": "cccd", "id_number": "001090012345"}),
    ],
)
def test_correction_that_changes_nothing_is_refused(reason, changes):
    """A correction whose values equal the current ones is `correction_changes_nothing`."""
    person = new_person()
    with refused(person, rule="correction_changes_nothing"):
        person.correct_details(changes=changes, reason=reason, prov=PROV, now=NOW)


def test_id_correction_changes_the_id():
    """`invalid_id_format` may change the id type and number (validated by the caller)."""
    person = new_person()
    changed = person.correct_details(
        changes={"id_type": "cccd", "id_number": "001090099999"}, reason="invalid_id_format", prov=PROV, now=NOW
    )
    assert changed == {"id_number": "001090099999"}
    assert person.id_number == "001090099999"


def test_identity_verification():
    """Only a mismatch names mismatched fields, and the result comes from the closed set."""
    person = new_person()
    person.record_verification(result="mismatch", register_ref="R1", mismatched_fields=["full_name"], prov=PROV)
    assert person.verification == "mismatch"
    with refused(person, error=Invalid, field="mismatched_fields"):
        person.record_verification(result="match", register_ref="R1", mismatched_fields=["full_name"], prov=PROV)
    with refused(person, error=Invalid, field="result"):
        person.record_verification(result="maybe", register_ref=None, mismatched_fields=[], prov=PROV)


# == Person: registration for vaccination ==================================================================


def test_vaccination_registration_then_approval():
    """A person registers for vaccination once and is approved once, by their own province."""
    person = new_person()
    with refused(person, rule="vaccination_not_registered"):
        person.approve_vaccination(province_code="01", district_code="001", district_facility_id=None, prov=PROV)
    person.register_for_vaccination(priority_group="health_worker", preferred_facility_id=None, prov=PROV)
    with refused(person, rule="already_registered_for_vaccination"):
        person.register_for_vaccination(priority_group=None, preferred_facility_id=None, prov=PROV)
    with refused(person, rule="approval_outside_province"):
        person.approve_vaccination(province_code="79", district_code="760", district_facility_id=None, prov=PROV)
    person.approve_vaccination(province_code="01", district_code="001", district_facility_id=None, prov=PROV)
    assert (person.vaccination_status, person.allocated_district) == ("approved", "001")
    with refused(person, rule="vaccination_already_approved"):
        person.approve_vaccination(province_code="01", district_code="001", district_facility_id=None, prov=PROV)


# == Person: screening =====================================================================================


def test_screening_outcome_defaults_to_the_derived_one():
    """Without an ordered outcome the screening takes the derived one, and 30 minutes of observation."""
    person = new_person()
    person.collect_events()
    _, outcome = person.screen(facility_id=uuid4(), vitals={"temperature_c": 37.8}, answers={}, outcome=None,
                               observation_minutes=None, prov=PROV, now=NOW)
    assert outcome == "caution"
    [event] = person.collect_events()
    assert (event.derived_outcome, event.triggers, event.observation_minutes) == ("caution", ["temperature"], 30)
    assert event.policy_id == "3802-qd-byt-2021"


def test_screening_outcome_too_lax_is_refused():
    """A doctor may not order `eligible` when a fever requires at least `caution`."""
    person = new_person()
    with refused(person, rule="screening_outcome_too_lax") as info:
        screen(person, vitals={"temperature_c": 38.0}, outcome="eligible")
    assert info.value.details["derived_outcome"] == "caution"
    assert info.value.details["triggers"] == ["temperature"]


def test_a_stricter_screening_outcome_is_allowed():
    """A doctor may order a stricter outcome than the vitals require."""
    person = new_person()
    screen(person, outcome="delay")
    assert next(iter(person.screenings.values()))["outcome"] == "delay"


def test_screening_input_is_validated():
    """Unknown outcomes, observation times other than 30/60 minutes and future screenings are refused."""
    person = new_person()
    with refused(person, error=Invalid, field="outcome"):
        screen(person, outcome="fine")
    with refused(person, error=Invalid, field="observation_minutes"):
        screen(person, minutes=45)
    with refused(person, error=Invalid, field="occurred_at"):
        screen(person, NOW + timedelta(minutes=6))
    screen(person, NOW + timedelta(minutes=4), minutes=60)


def test_dose_without_screening_is_refused():
    """A dose needs a screening before it: `screening_required`."""
    person = new_person()
    with refused(person, rule="screening_required"):
        administer(person, "pfizer")


def test_dose_needs_a_screening_before_it_not_after():
    """A screening recorded after the dose's time does not count for it."""
    person = new_person()
    screen(person, NOW)
    with refused(person, rule="screening_required"):
        administer(person, "pfizer", NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    ("answers", "outcome"),
    [
        ({"acute_illness": True}, "delay"),
        ({"contraindication": True}, "contraindicated"),
        ({"needs_hospital": True}, "refer_to_hospital"),
    ],
)
def test_screening_outcome_forbids_dose(answers, outcome):
    """After a delay, referral or contraindication no dose may be given: `screening_outcome_forbids_dose`."""
    person = new_person()
    screen(person, answers=answers)
    with refused(person, rule="screening_outcome_forbids_dose") as info:
        administer(person, "pfizer")
    assert info.value.details["outcome"] == outcome


def test_caution_allows_a_dose():
    """A `caution` screening allows a dose (given at a hospital-backed point)."""
    person = new_person()
    screen(person, vitals={"pulse_per_min": 110})
    administer(person, "pfizer")
    assert len(person.doses) == 1


def test_screening_expires_after_24_hours():
    """A dose more than 24 hours after its screening is `screening_expired`; exactly 24 hours is fine."""
    person = new_person()
    screened_at = days_ago(3)
    screen(person, screened_at)
    with refused(person, rule="screening_expired"):
        administer(person, "pfizer", screened_at + timedelta(hours=24, seconds=1))
    administer(person, "pfizer", screened_at + timedelta(hours=24))


def test_a_dose_before_its_named_screening_is_refused():
    """A screening named explicitly must precede its dose."""
    person = new_person()
    screening_id = screen(person, days_ago(1))
    with refused(person, rule="screening_expired"):
        administer(person, "pfizer", days_ago(2), screening_id=screening_id)


def test_screening_reused_is_refused():
    """A screening serves one dose: naming it again is `screening_already_used`."""
    person = new_person()
    screening_id = screen(person, days_ago(30))
    administer(person, "pfizer", days_ago(30), screening_id=screening_id)
    with refused(person, rule="screening_already_used"):
        administer(person, "pfizer", days_ago(30) + timedelta(hours=1), screening_id=screening_id)
    with refused(person, rule="screening_required"):
        administer(person, "pfizer", NOW)


def test_an_unknown_screening_is_invalid_input():
    """Naming (in the body) a screening the person does not have is 422 on `screening_id`."""
    person = new_person()
    with refused(person, error=Invalid) as info:
        administer(person, "pfizer", screening_id=uuid4())
    assert info.value.field == "screening_id"


def test_the_latest_unused_screening_is_used():
    """Without a screening id, the dose uses the latest unused screening before it."""
    person = new_person()
    screen(person, NOW - timedelta(hours=5))
    latest = screen(person, NOW - timedelta(hours=1))
    person.collect_events()
    administer(person, "pfizer")
    [event] = person.collect_events()
    assert event.screening_id == latest


# == Person: doses and the series ==========================================================================


def test_first_dose_is_primary_number_one_with_the_policy_in_force():
    """A first dose defaults to kind `primary`, number 1, under the policy of its day."""
    person = new_person()
    person.collect_events()
    vaccinate(person, "pfizer", days_ago(10))
    event = person.collect_events()[-1]
    assert (event.kind, event.dose_number, event.policy_id, event.interval_override) == (
        "primary", 1, "7820-byt-dp-2021-09-20", None,
    )
    assert event.administered_at == days_ago(10)


def test_dose_after_a_complete_series_defaults_to_booster():
    """Once the primary series is complete, the next dose defaults to a booster."""
    person = new_person()
    vaccinate(person, "janssen", datetime(2021, 4, 1, 3, tzinfo=UTC))
    person.collect_events()
    vaccinate(person, "pfizer", days_ago(1))
    assert person.collect_events()[-1].kind == "booster"


def test_dose_in_the_future_is_refused():
    """A dose cannot be recorded as given more than a few minutes from now."""
    person = new_person()
    screen(person)
    with refused(person, error=Invalid, field="occurred_at"):
        administer(person, "pfizer", NOW + timedelta(minutes=10))


def test_dose_interval_is_refused_with_its_rule_and_earliest_day():
    """Pfizer dose 2 after 20 days is `dose_interval`, naming the earliest day, and records nothing."""
    person = new_person()
    first = days_ago(30)
    vaccinate(person, "pfizer", first)
    screen(person, first + timedelta(days=20))
    with refused(person, rule="dose_interval") as info:
        administer(person, "pfizer", first + timedelta(days=20))
    assert info.value.details["earliest"] == (first + timedelta(days=21)).astimezone(LOCAL_TZ).date().isoformat()
    administer(person, "pfizer", first + timedelta(days=21))


def test_interval_override_allows_an_early_dose_and_is_recorded():
    """With an override reason, an early dose is accepted and the override is recorded with it."""
    person = new_person()
    first = days_ago(30)
    vaccinate(person, "pfizer", first)
    person.collect_events()
    vaccinate(person, "pfizer", first + timedelta(days=10),
              override={"reason": "outbreak_response", "note": "HCMC campaign"})
    event = person.collect_events()[-1]
    assert event.interval_override == {"reason": "outbreak_response", "note": "HCMC campaign"}
    assert check_series(person.dose_facts()) == []


@pytest.mark.parametrize("override", [{"reason": "impatient"}, {}, "yes"])
def test_interval_override_needs_a_known_reason(override):
    """An override without a reason from the closed set is refused naming the field."""
    person = new_person()
    screen(person)
    field = "interval_override" if override == "yes" else "interval_override.reason"
    with refused(person, error=Invalid, field=field):
        administer(person, "pfizer", override=override)


def test_vaccine_mixing_is_refused():
    """Vero Cell followed by Pfizer is `vaccine_mixing_not_allowed`."""
    person = new_person()
    vaccinate(person, "vero_cell", days_ago(60))
    screen(person)
    with refused(person, rule="vaccine_mixing_not_allowed"):
        administer(person, "pfizer")


def test_astrazeneca_then_pfizer_is_accepted():
    """AstraZeneca followed by Pfizer after 28 days completes the series under 7820."""
    person = new_person()
    vaccinate(person, "astrazeneca", days_ago(40))
    vaccinate(person, "pfizer", days_ago(12))
    assert check_series(person.dose_facts()) == []


def test_booster_before_primary_complete_is_refused():
    """A booster on an incomplete series is `primary_series_incomplete`."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(200))
    screen(person)
    with refused(person, rule="primary_series_incomplete"):
        administer(person, "pfizer", kind="booster")


def test_dose_kind_is_from_the_closed_set():
    """A dose kind outside primary/booster/additional is refused naming the field."""
    person = new_person()
    screen(person)
    with refused(person, error=Invalid, field="kind"):
        administer(person, "pfizer", kind="extra")


def test_late_entered_dose_is_numbered_by_date():
    """A backlog dose dated before a dose on file becomes dose 1 and keeps both intervals."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(10))
    person.collect_events()
    vaccinate(person, "pfizer", days_ago(40), kind="primary")
    assert person.collect_events()[-1].dose_number == 1
    assert check_series(person.dose_facts()) == []


def test_late_entered_dose_too_close_to_the_later_dose_is_refused():
    """A backlog dose that fits after its earlier neighbour but is too close to its later one is refused."""
    person = new_person()
    vaccinate(person, "abdala", days_ago(60))
    vaccinate(person, "abdala", days_ago(32))
    screen(person, days_ago(40))
    with refused(person, rule="dose_interval"):
        administer(person, "abdala", days_ago(40))


def test_late_entered_dose_that_breaks_mixing_with_the_later_dose_is_refused():
    """A backlog Vero Cell dose before a Pfizer dose on file would make that Pfizer dose an illegal mix."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(10))
    screen(person, days_ago(60))
    with refused(person, rule="vaccine_mixing_not_allowed"):
        administer(person, "vero_cell", days_ago(60), kind="primary")
    assert check_series(person.dose_facts()) == []


def test_late_entered_primary_dose_beyond_a_complete_series_is_refused():
    """A backlog primary dose before a complete series on file would make a third primary dose."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(40))
    vaccinate(person, "pfizer", days_ago(10))
    screen(person, days_ago(70))
    with refused(person, rule="primary_series_already_complete"):
        administer(person, "pfizer", days_ago(70), kind="primary")
    assert check_series(person.dose_facts()) == []


def test_void_dose_twice_is_refused():
    """A dose is voided once: again is `dose_already_voided`; the void returns the dose for the stock."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    voided = person.void_dose(dose_id=dose_id, reason="entered_in_error", note=None, prov=PROV)
    assert voided["dose_id"] == str(dose_id)
    assert person.dose(dose_id)["voided"]
    assert person.dose_facts() == []
    with refused(person, rule="dose_already_voided"):
        person.void_dose(dose_id=dose_id, reason="duplicate", note=None, prov=PROV)


def test_void_needs_a_known_reason_and_dose():
    """Voiding needs a reason from the closed set and a dose of this person."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    with refused(person, error=Invalid, field="reason"):
        person.void_dose(dose_id=dose_id, reason="regret", note=None, prov=PROV)
    with refused(person, error=NotFound):
        person.void_dose(dose_id=uuid4(), reason="duplicate", note=None, prov=PROV)


def test_a_voided_dose_no_longer_counts_for_the_series():
    """After voiding dose 2, a new dose 2 is due by the interval from dose 1 again."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(60))
    second = vaccinate(person, "pfizer", days_ago(30))
    person.void_dose(dose_id=second, reason="duplicate", note=None, prov=PROV)
    vaccinate(person, "pfizer", days_ago(1))
    assert len(person.dose_facts()) == 2


def test_correct_dose_date_rechecks_the_series():
    """Moving dose 2 to 10 days after dose 1 is `dose_interval`; moving it to 25 days is accepted."""
    person = new_person()
    first = days_ago(60)
    vaccinate(person, "pfizer", first)
    second = vaccinate(person, "pfizer", days_ago(30))
    with refused(person, rule="dose_interval"):
        person.correct_dose(dose_id=second, administered_at=first + timedelta(days=10), lot=None, reason="wrong_date",
                            prov=PROV, now=NOW)
    person.collect_events()
    before = person.correct_dose(dose_id=second, administered_at=first + timedelta(days=25), lot=None,
                                 reason="wrong_date", prov=PROV, now=NOW)
    [event] = person.collect_events()
    assert event.previous == {"administered_at": before["administered_at"]}
    assert person.dose(second)["administered_at"] == (first + timedelta(days=25)).isoformat()
    assert person.dose(second)["changed"]


def test_correct_dose_to_before_the_first_dose_is_checked_too():
    """Moving dose 2 before dose 1 swaps their order and is checked as such."""
    person = new_person()
    vaccinate(person, "pfizer", days_ago(60))
    second = vaccinate(person, "pfizer", days_ago(30))
    with refused(person, rule="dose_interval"):
        person.correct_dose(dose_id=second, administered_at=days_ago(70), lot=None, reason="wrong_date",
                            prov=PROV, now=NOW)
    person.correct_dose(dose_id=second, administered_at=days_ago(90), lot=None, reason="wrong_date",
                        prov=PROV, now=NOW)
    assert check_series(person.dose_facts()) == []


def test_correct_dose_lot():
    """A wrong lot is corrected with its id and number, keeping the previous ones."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    lot_id = uuid4()
    person.collect_events()
    before = person.correct_dose(dose_id=dose_id, administered_at=None, lot=(lot_id, "FK9999"), reason="wrong_lot",
                                 prov=PROV, now=NOW)
    [event] = person.collect_events()
    assert event.changes == {"lot_id": str(lot_id), "lot_number": "FK9999"}
    assert event.previous == {"lot_id": before["lot_id"], "lot_number": "FK1234"}


def test_correction_of_a_dose_that_changes_nothing_is_refused():
    """Correcting a dose to its current date and lot is `correction_changes_nothing`."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    dose = person.dose(dose_id)
    with refused(person, rule="correction_changes_nothing"):
        person.correct_dose(dose_id=dose_id, administered_at=days_ago(1), lot=(UUID(dose["lot_id"]), "X"),
                            reason="wrong_date", prov=PROV, now=NOW)
    with refused(person, rule="correction_changes_nothing"):
        person.correct_dose(dose_id=dose_id, administered_at=None, lot=None, reason="data_entry_error",
                            prov=PROV, now=NOW)


def test_correct_dose_input_is_validated():
    """Dose corrections need a known reason, an aware date not in the future, and a valid dose."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    with refused(person, error=Invalid, field="reason"):
        person.correct_dose(dose_id=dose_id, administered_at=days_ago(2), lot=None, reason="oops", prov=PROV, now=NOW)
    with refused(person, error=Invalid, field="administered_at"):
        person.correct_dose(dose_id=dose_id, administered_at=datetime(2021, 11, 1, 9), lot=None, reason="wrong_date",
                            prov=PROV, now=NOW)
    with refused(person, error=Invalid, field="administered_at"):
        person.correct_dose(dose_id=dose_id, administered_at=NOW + timedelta(hours=1), lot=None,
                            reason="wrong_date", prov=PROV, now=NOW)
    person.void_dose(dose_id=dose_id, reason="duplicate", note=None, prov=PROV)
    with refused(person, rule="dose_voided"):
        person.correct_dose(dose_id=dose_id, administered_at=days_ago(2), lot=None, reason="wrong_date",
                            prov=PROV, now=NOW)


def test_observation_is_completed_once_with_the_ordered_minutes():
    """Observation records the minutes the screening doctor ordered, once, and not for a voided dose."""
    person = new_person()
    screen(person, days_ago(1), minutes=60)
    dose_id = administer(person, "pfizer", days_ago(1))
    person.collect_events()
    person.complete_observation(dose_id=dose_id, minutes=45, reactions=["sore arm"], prov=PROV)
    [event] = person.collect_events()
    assert (event.minutes, event.ordered_minutes) == (45, 60)
    with refused(person, rule="observation_already_completed"):
        person.complete_observation(dose_id=dose_id, minutes=60, reactions=[], prov=PROV)
    other = vaccinate(person, "pfizer", NOW, override={"reason": "clinical_indication"})
    with refused(person, error=Invalid, field="minutes"):
        person.complete_observation(dose_id=other, minutes=-1, reactions=[], prov=PROV)
    with refused(person, error=Invalid, field="reactions"):
        person.complete_observation(dose_id=other, minutes=30, reactions="none", prov=PROV)
    person.void_dose(dose_id=other, reason="entered_in_error", note=None, prov=PROV)
    with refused(person, rule="dose_voided"):
        person.complete_observation(dose_id=other, minutes=30, reactions=[], prov=PROV)


# == Person: adverse events ================================================================================


def test_serious_aefi_gets_investigation_and_council_due_dates():
    """A serious AEFI must be investigated within 24 hours and reach the council within 5 days."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    person.collect_events()
    aefi_id = person.report_adverse_event(dose_id=dose_id, severity="serious", symptoms=["anaphylaxis"],
                                          onset_at=days_ago(1) + timedelta(minutes=10), prov=PROV, now=NOW)
    [event] = person.collect_events()
    assert event.aefi_id == aefi_id
    assert event.investigation_due == NOW + timedelta(hours=24)
    assert event.council_due == NOW + timedelta(days=5)
    assert person.aefis[str(aefi_id)] == {"dose_id": str(dose_id), "severity": "serious"}


def test_serious_aefi_due_dates_run_from_when_it_was_reported():
    """A backlog report counts its deadlines from its business time."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(3))
    person.collect_events()
    person.report_adverse_event(dose_id=dose_id, severity="serious", symptoms=["seizure"],
                                onset_at=days_ago(3) + timedelta(hours=2), prov=at(days_ago(2)), now=NOW)
    [event] = person.collect_events()
    assert event.investigation_due == days_ago(1)
    assert event.council_due == days_ago(2) + timedelta(days=5)


def test_common_aefi_has_no_due_dates():
    """A common reaction is recorded without deadlines."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    person.collect_events()
    person.report_adverse_event(dose_id=dose_id, severity="common", symptoms=["fever"],
                                onset_at=days_ago(1) + timedelta(hours=6), prov=PROV, now=NOW)
    [event] = person.collect_events()
    assert (event.investigation_due, event.council_due) == (None, None)


def test_aefi_reports_are_validated():
    """An AEFI needs a known severity, symptoms, an aware onset after the dose and not in the future."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    ok = days_ago(1) + timedelta(hours=1)
    cases = [
        ({"severity": "mild"}, Invalid, "field", "severity"),
        ({"symptoms": []}, Invalid, "field", "symptoms"),
        ({"onset_at": datetime(2021, 11, 14, 12)}, Invalid, "field", "onset_at"),
        ({"onset_at": NOW + timedelta(hours=1)}, Invalid, "field", "onset_at"),
        ({"onset_at": days_ago(2)}, RuleViolation, "rule", "aefi_before_dose"),
    ]
    for kwargs, error, attr, value in cases:
        args = {"dose_id": dose_id, "severity": "common", "symptoms": ["fever"], "onset_at": ok, **kwargs}
        with refused(person, error=error, **{attr: value}):
            person.report_adverse_event(**args, prov=PROV, now=NOW)
    with refused(person, error=Invalid, field="dose_id"):
        person.report_adverse_event(dose_id=uuid4(), severity="common", symptoms=["fever"], onset_at=ok, prov=PROV,
                                    now=NOW)


def test_aefi_classification():
    """An AEFI is classified with a WHO causality class; unknown AEFIs and classes are refused."""
    person = new_person()
    dose_id = vaccinate(person, "pfizer", days_ago(1))
    aefi_id = person.report_adverse_event(dose_id=dose_id, severity="serious", symptoms=["myocarditis"],
                                          onset_at=days_ago(1) + timedelta(days=0.5), prov=PROV, now=NOW)
    with refused(person, error=Invalid, field="causality"):
        person.classify_adverse_event(aefi_id=aefi_id, causality="bad luck", note=None, prov=PROV)
    with refused(person, error=NotFound):
        person.classify_adverse_event(aefi_id=uuid4(), causality="coincidental", note=None, prov=PROV)
    person.classify_adverse_event(aefi_id=aefi_id, causality="vaccine_product_related", note=None, prov=PROV)
    assert person.aefis[str(aefi_id)]["causality"] == "vaccine_product_related"


# == Person: merges ========================================================================================


def merged_pair() -> tuple[Person, Person, UUID, UUID]:
    """A duplicate with one valid and one voided dose, merged into a survivor with none."""
    duplicate, survivor = new_person(), new_person(full_name="Nguyen Van A.")
    kept = vaccinate(duplicate, "pfizer", days_ago(40))
    voided = vaccinate(duplicate, "pfizer", days_ago(10))
    duplicate.void_dose(dose_id=voided, reason="duplicate", note=None, prov=PROV)
    duplicate.merge_into(survivor, reason="same person, two records", prov=PROV)
    return duplicate, survivor, kept, voided


def test_merge_brings_valid_doses_to_the_survivor():
    """The survivor absorbs the duplicate's valid doses (not voided ones), marked with their origin."""
    duplicate, survivor, kept, voided = merged_pair()
    assert duplicate.merged_into == survivor.id
    assert set(survivor.doses) == {str(kept)}
    assert survivor.doses[str(kept)]["origin_person_id"] == str(duplicate.id)
    assert [d.dose_id for d in survivor.dose_facts()] == [str(kept)]
    assert type(duplicate.collect_events()[-1]) is Person.MergedInto
    assert type(survivor.collect_events()[-1]) is Person.MergeAbsorbed


def test_merged_survivor_continues_the_series():
    """The survivor's next dose is checked against the absorbed doses."""
    duplicate, survivor, kept, _ = merged_pair()
    screen(survivor, days_ago(35))
    with refused(survivor, rule="dose_interval"):
        administer(survivor, "pfizer", days_ago(35))
    vaccinate(survivor, "pfizer", days_ago(19))
    assert survivor.dose_facts()[0].dose_id == str(kept)


MERGED_COMMANDS = {
    "screen": lambda p: screen(p),
    "administer": lambda p: administer(p, "pfizer"),
    "correct_details": lambda p: p.correct_details(changes={"full_name": "B"}, reason="wrong_name", prov=PROV,
                                                   now=NOW),
    "record_verification": lambda p: p.record_verification(result="match", register_ref=None, mismatched_fields=[],
                                                           prov=PROV),
    "register_for_vaccination": lambda p: p.register_for_vaccination(priority_group=None, preferred_facility_id=None,
                                                                     prov=PROV),
    "approve_vaccination": lambda p: p.approve_vaccination(province_code="01", district_code="001",
                                                           district_facility_id=None, prov=PROV),
    "void_dose": lambda p: p.void_dose(dose_id=UUID(next(iter(p.doses))), reason="duplicate", note=None, prov=PROV),
    "correct_dose": lambda p: p.correct_dose(dose_id=UUID(next(iter(p.doses))), administered_at=days_ago(41),
                                             lot=None, reason="wrong_date", prov=PROV, now=NOW),
    "complete_observation": lambda p: p.complete_observation(dose_id=UUID(next(iter(p.doses))), minutes=30,
                                                             reactions=[], prov=PROV),
    "merge_into": lambda p: p.merge_into(new_person(), reason="again", prov=PROV),
}


@pytest.mark.parametrize("command", sorted(MERGED_COMMANDS))
def test_merged_person_refuses_commands(command):
    """A record merged into another refuses commands with `person_merged`, naming the survivor."""
    duplicate, survivor, _, _ = merged_pair()
    with refused(duplicate, rule="person_merged") as info:
        MERGED_COMMANDS[command](duplicate)
    assert info.value.details["merged_into"] == str(survivor.id)


def test_merge_rules():
    """A record is not merged into itself or into a merged record, and a merge needs a reason."""
    duplicate, survivor, _, _ = merged_pair()
    other = new_person()
    with refused(other, rule="merge_into_self"):
        other.merge_into(other, reason="x", prov=PROV)
    with refused(other, duplicate, rule="person_merged"):
        other.merge_into(duplicate, reason="x", prov=PROV)
    with refused(other, survivor, error=Invalid, field="reason"):
        other.merge_into(survivor, reason=" ", prov=PROV)


def test_revert_merge_restores_both_records():
    """Reverting a merge makes the duplicate active again and takes its doses off the survivor."""
    duplicate, survivor, kept, _ = merged_pair()
    vaccinate(survivor, "pfizer", days_ago(19))
    duplicate.revert_merge(survivor, prov=PROV)
    assert duplicate.merged_into is None
    assert str(kept) not in survivor.doses
    assert len(survivor.doses) == 1
    assert str(kept) in duplicate.doses
    screen(duplicate)


def test_revert_merge_of_records_not_merged_is_refused():
    """Only a record merged into this survivor can be reverted: `not_merged`."""
    duplicate, survivor, _, _ = merged_pair()
    other = new_person()
    with refused(other, survivor, rule="not_merged"):
        other.revert_merge(survivor, prov=PROV)
    with refused(duplicate, other, rule="not_merged"):
        duplicate.revert_merge(other, prov=PROV)


def test_revert_blocked_after_survivor_voided_an_absorbed_dose():
    """Once the survivor voided a dose brought by the merge, the revert is `merge_revert_blocked`."""
    duplicate, survivor, kept, _ = merged_pair()
    survivor.void_dose(dose_id=kept, reason="duplicate", note=None, prov=PROV)
    with refused(duplicate, survivor, rule="merge_revert_blocked"):
        duplicate.revert_merge(survivor, prov=PROV)


def test_revert_blocked_after_survivor_corrected_an_absorbed_dose():
    """Once the survivor corrected a dose brought by the merge, the revert is `merge_revert_blocked`."""
    duplicate, survivor, kept, _ = merged_pair()
    survivor.correct_dose(dose_id=kept, administered_at=None, lot=(uuid4(), "FK7"), reason="wrong_lot", prov=PROV,
                          now=NOW)
    with refused(duplicate, survivor, rule="merge_revert_blocked"):
        duplicate.revert_merge(survivor, prov=PROV)


def test_dose_corrected_before_the_merge_does_not_block_the_revert():
    """A correction the duplicate made to its own dose before the merge is no change since the merge."""
    duplicate, survivor = new_person(), new_person()
    dose_id = vaccinate(duplicate, "pfizer", days_ago(40))
    duplicate.correct_dose(dose_id=dose_id, administered_at=None, lot=(uuid4(), "FK7"), reason="wrong_lot", prov=PROV,
                           now=NOW)
    duplicate.merge_into(survivor, reason="same person", prov=PROV)
    duplicate.revert_merge(survivor, prov=PROV)
    assert survivor.doses == {}
    assert duplicate.dose(dose_id)["lot_number"] == "FK7"


def test_revert_blocked_while_the_survivor_is_itself_merged():
    """If the survivor was since merged into a third record, that merge must be reverted first."""
    duplicate, survivor, kept, _ = merged_pair()
    third = new_person()
    survivor.merge_into(third, reason="same person again", prov=PROV)
    assert str(kept) in third.doses
    with refused(duplicate, survivor, rule="person_merged"):
        duplicate.revert_merge(survivor, prov=PROV)
    survivor.revert_merge(third, prov=PROV)
    duplicate.revert_merge(survivor, prov=PROV)
    assert str(kept) not in survivor.doses and str(kept) not in third.doses
