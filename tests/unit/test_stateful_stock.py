"""A stateful property test of vaccine stock: cards at three facilities for two lots, and transfers between them.

Random sequences of receipts, adjustments, counts, reversals, transfers (received with
random discrepancies, or cancelled), doses and voided doses run against the aggregates
and against a plain-dict model. After every step: stock is never negative, every card
equals the model, doses are conserved (computed from the events alone), and replaying
each aggregate's events rebuilds it. A command the model predicts to be refused must be
refused, with the predicted rule or field, and change nothing.
"""

from __future__ import annotations

import copy
from functools import reduce
from itertools import count
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.domain import Invalid, LedgerError, Provenance, RuleViolation, StockCard, Transfer
from ledger.domain.codes import (
    ADJUSTMENT_REASONS,
    NEGATIVE_ADJUSTMENT_REASONS,
    POSITIVE_ADJUSTMENT_REASONS,
    TRANSFER_DISCREPANCY_REASONS,
)
from ledger.mapper import PlainJSONMapper

PROV = Provenance(actor="t", org="o", source="app")
FACILITIES = ("national", "province", "district")
LOTS = ("lot-a", "lot-b")
CARDS = [(f, lot) for f in FACILITIES for lot in LOTS]

cards = st.sampled_from(CARDS)
quantities = st.integers(min_value=1, max_value=40)


def snapshot(aggregate) -> tuple:
    state = copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})
    return aggregate.version, len(aggregate.pending_events), state


def expect_refusal(aggregate, error: type[LedgerError], attr: str, value: str, command) -> None:
    """Run `command`; it must raise `error` with `attr` == `value` and leave `aggregate` untouched."""
    before = snapshot(aggregate)
    event(f"refused: {value}")
    with pytest.raises(error) as info:
        command()
    assert getattr(info.value, attr) == value
    assert snapshot(aggregate) == before


class StockMachine(RuleBasedStateMachine):
    """Stock cards and transfers against a plain-dict model of on-hand quantities and movements."""

    def __init__(self) -> None:
        super().__init__()
        self.facility_ids = {f: uuid4() for f in FACILITIES}
        self.lot_ids = {lot: uuid4() for lot in LOTS}
        self.cards: dict[tuple[str, str], StockCard] = {
            key: StockCard.open(lot_id=self.lot_ids[key[1]], facility_id=self.facility_ids[key[0]], prov=PROV)
            for key in CARDS
        }
        self.transfers: list[Transfer] = []
        #: every aggregate's events, in order, as the store would hold them
        self.logs: dict[UUID, list] = {}
        self.aggregates: dict[UUID, object] = {}
        self.documents = count(1)
        # -- the model --------------------------------------------------------------------
        self.on_hand = dict.fromkeys(CARDS, 0)
        #: reversible movements: id -> card, delta, reversed
        self.movements: dict[UUID, dict] = {}
        #: movement ids that exist but may not be reversed (transfer receipts, reversals)
        self.irreversible: list[UUID] = []
        #: transfer id -> source, destination, {lot: quantity}, status
        self.shipments: dict[UUID, dict] = {}
        #: dose id -> card it was taken from, whether it was given back
        self.doses: dict[UUID, dict] = {}
        self._collect(*self.cards.values())

    # -- helpers -----------------------------------------------------------------------------

    def _collect(self, *aggregates) -> None:
        for aggregate in aggregates:
            self.aggregates[aggregate.id] = aggregate
            self.logs.setdefault(aggregate.id, []).extend(aggregate.collect_events())

    def _events(self, cls: type) -> list:
        return [e for log in self.logs.values() for e in log if type(e) is cls]

    @initialize(stock=st.lists(st.integers(0, 100), min_size=len(CARDS), max_size=len(CARDS)))
    def opening_stock(self, stock):
        for key, quantity in zip(CARDS, stock, strict=True):
            if quantity:
                self.receive_from_supplier(key, quantity)

    # -- rules: supplier receipts, adjustments, counts, reversals -----------------------------------

    @rule(key=cards, quantity=quantities)
    def receive_from_supplier(self, key, quantity):
        card = self.cards[key]
        movement = card.receive(quantity=quantity, prov=PROV, supplier_ref="PO")
        self.on_hand[key] += quantity
        self.movements[movement] = {"card": key, "delta": quantity, "reversed": False}
        self._collect(card)

    @rule(key=cards, quantity=quantities, direction=st.sampled_from(["in", "out"]),
          reason=st.sampled_from(sorted(ADJUSTMENT_REASONS)))
    def adjust(self, key, quantity, direction, reason):
        card = self.cards[key]
        allowed = POSITIVE_ADJUSTMENT_REASONS if direction == "in" else NEGATIVE_ADJUSTMENT_REASONS

        def command():
            return card.adjust(quantity=quantity, direction=direction, reason=reason, note=None, prov=PROV)

        if reason not in allowed:
            expect_refusal(card, Invalid, "field", "reason", command)
        elif direction == "out" and quantity > self.on_hand[key]:
            expect_refusal(card, RuleViolation, "rule", "stock_never_negative", command)
        else:
            delta = quantity if direction == "in" else -quantity
            movement = command()
            self.on_hand[key] += delta
            self.movements[movement] = {"card": key, "delta": delta, "reversed": False}
            self._collect(card)

    @rule(key=cards, counted=st.integers(min_value=0, max_value=80))
    def count(self, key, counted):
        card = self.cards[key]
        movement = card.count(counted=counted, prov=PROV)
        self.movements[movement] = {"card": key, "delta": counted - self.on_hand[key], "reversed": False}
        self.on_hand[key] = counted
        self._collect(card)

    @rule(data=st.data())
    def reverse(self, data):
        candidates = [*self.movements, *self.irreversible, uuid4()]
        movement_id = data.draw(st.sampled_from(candidates), label="movement")
        own = self.movements[movement_id]["card"] if movement_id in self.movements else None
        key = own if own and data.draw(st.integers(0, 3), label="other card") else data.draw(cards, label="card")
        card = self.cards[key]

        def command():
            return card.reverse(movement_id=movement_id, reason="entered in error", prov=PROV)

        movement = self.movements.get(movement_id)
        if movement is None or movement["card"] != key:
            expect_refusal(card, RuleViolation, "rule", "movement_not_reversible", command)
        elif movement["reversed"]:
            expect_refusal(card, RuleViolation, "rule", "movement_already_reversed", command)
        elif movement["delta"] > self.on_hand[key]:
            expect_refusal(card, RuleViolation, "rule", "stock_never_negative", command)
        else:
            reversal = command()
            self.on_hand[key] -= movement["delta"]
            movement["reversed"] = True
            self.irreversible.append(reversal)
            self._collect(card)

    @precondition(lambda self: any(m["reversed"] for m in self.movements.values()))
    @rule(data=st.data())
    def reverse_again(self, data):
        movement_id = data.draw(st.sampled_from([m for m, v in self.movements.items() if v["reversed"]]))
        card = self.cards[self.movements[movement_id]["card"]]
        expect_refusal(card, RuleViolation, "rule", "movement_already_reversed",
                       lambda: card.reverse(movement_id=movement_id, reason="again", prov=PROV))

    # -- rules: doses ------------------------------------------------------------------------------

    @rule(key=cards)
    def administer(self, key):
        card = self.cards[key]
        dose_id = uuid4()

        def command():
            card.administer(dose_id=dose_id, person_id=uuid4(), prov=PROV)

        if self.on_hand[key] == 0:
            expect_refusal(card, RuleViolation, "rule", "stock_never_negative", command)
            return
        command()
        self.on_hand[key] -= 1
        self.doses[dose_id] = {"card": key, "reversed": False}
        self._collect(card)

    @precondition(lambda self: any(not dose["reversed"] for dose in self.doses.values()))
    @rule(data=st.data())
    def void_dose(self, data):
        given = [d for d, dose in self.doses.items() if not dose["reversed"]]
        dose_id = data.draw(st.sampled_from(given), label="dose")
        dose = self.doses[dose_id]
        card = self.cards[dose["card"]]
        card.reverse_consumption(dose_id=dose_id, reason="entered_in_error", prov=PROV)
        self.on_hand[dose["card"]] += 1
        dose["reversed"] = True
        self._collect(card)

    # -- rules: transfers --------------------------------------------------------------------------

    @rule(source=st.sampled_from(FACILITIES), destination=st.sampled_from(FACILITIES),
          lots=st.lists(st.sampled_from(LOTS), min_size=1, max_size=2, unique=True), data=st.data())
    def dispatch(self, source, destination, lots, data):
        # Mostly what the source holds, sometimes a little more than it has.
        lines = {lot: data.draw(st.integers(1, self.on_hand[(source, lot)] + 2), label=lot) for lot in lots}
        wire = [{"lot_id": self.lot_ids[lot], "quantity": q} for lot, q in lines.items()]
        document = f"PX-{next(self.documents)}"
        if source == destination:
            with pytest.raises(RuleViolation) as info:
                Transfer.dispatch(document_number=document, source_id=self.facility_ids[source],
                                  destination_id=self.facility_ids[destination], lines=wire, prov=PROV)
            assert info.value.rule == "transfer_to_same_location"
            return
        short = [lot for lot, q in lines.items() if q > self.on_hand[(source, lot)]]
        if short:
            # The application checks every line before saving anything; the short card refuses.
            card = self.cards[(source, short[0])]
            expect_refusal(card, RuleViolation, "rule", "stock_never_negative",
                           lambda: card.dispatch(quantity=lines[short[0]], transfer_id=uuid4(), prov=PROV))
            return
        transfer = Transfer.dispatch(document_number=document, source_id=self.facility_ids[source],
                                     destination_id=self.facility_ids[destination], lines=wire, prov=PROV)
        for lot, quantity in lines.items():
            self.cards[(source, lot)].dispatch(quantity=quantity, transfer_id=transfer.id, prov=PROV)
            self.on_hand[(source, lot)] -= quantity
        self.transfers.append(transfer)
        self.shipments[transfer.id] = {"source": source, "destination": destination, "lines": dict(lines),
                                       "status": "in_transit"}
        self._collect(transfer, *(self.cards[(source, lot)] for lot in lines))

    def _pick_transfer(self, data) -> Transfer:
        """Mostly a transfer still in transit, sometimes any."""
        moving = [t for t in self.transfers if self.shipments[t.id]["status"] == "in_transit"]
        pool = moving if moving and data.draw(st.integers(0, 4), label="any transfer") else self.transfers
        return pool[data.draw(st.integers(0, len(pool) - 1), label="transfer")]

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def receive_transfer(self, data):
        transfer = self._pick_transfer(data)
        shipment = self.shipments[transfer.id]
        received: dict[str, dict] = {}
        for lot, dispatched in shipment["lines"].items():
            case = data.draw(st.sampled_from(["unnamed", "full", "short", "short", "short_no_reason", "over"]),
                             label=lot)
            if case == "unnamed":
                continue
            if case == "full":
                quantity = dispatched
            elif case == "over":
                quantity = dispatched + 1
            else:
                quantity = data.draw(st.integers(0, dispatched - 1), label=f"{lot} received")
            reason = (
                data.draw(st.sampled_from(["found", None]), label=f"{lot} bad reason") if case == "short_no_reason"
                else data.draw(st.sampled_from(sorted(TRANSFER_DISCREPANCY_REASONS)), label=f"{lot} reason")
            )
            received[str(self.lot_ids[lot])] = {"quantity": quantity, "discrepancy_reason": reason}

        def command():
            return transfer.receive(lines=[{"lot_id": lot_id, **got} for lot_id, got in received.items()], prov=PROV)

        if shipment["status"] != "in_transit":
            expect_refusal(transfer, RuleViolation, "rule", "transfer_not_in_transit", command)
            return
        for lot, dispatched in shipment["lines"].items():
            got = received.get(str(self.lot_ids[lot]), {"quantity": dispatched, "discrepancy_reason": None})
            if got["quantity"] > dispatched:
                expect_refusal(transfer, RuleViolation, "rule", "received_exceeds_dispatched", command)
                return
            if got["quantity"] < dispatched and got["discrepancy_reason"] not in TRANSFER_DISCREPANCY_REASONS:
                index = list(received).index(str(self.lot_ids[lot]))
                expect_refusal(transfer, Invalid, "field", f"lines[{index}].discrepancy_reason", command)
                return
        lot_names = {str(lot_id): lot for lot, lot_id in self.lot_ids.items()}
        touched = []
        for line in command():
            lot = lot_names[line["lot_id"]]
            assert line["dispatched"] == shipment["lines"][lot]
            if line["received"]:
                key = (shipment["destination"], lot)
                movement = self.cards[key].receive(quantity=line["received"], transfer_id=transfer.id, prov=PROV)
                self.on_hand[key] += line["received"]
                self.irreversible.append(movement)
                touched.append(self.cards[key])
        shipment["status"] = "received"
        event("transfer received")
        self._collect(transfer, *touched)

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def cancel_transfer(self, data):
        transfer = self._pick_transfer(data)
        shipment = self.shipments[transfer.id]

        def command():
            transfer.cancel(reason="truck broke down", prov=PROV)

        if shipment["status"] != "in_transit":
            expect_refusal(transfer, RuleViolation, "rule", "transfer_not_in_transit", command)
            return
        command()
        for lot, quantity in shipment["lines"].items():
            key = (shipment["source"], lot)
            self.cards[key].return_cancelled(quantity=quantity, transfer_id=transfer.id, prov=PROV)
            self.on_hand[key] += quantity
        shipment["status"] = "cancelled"
        event("transfer cancelled")
        self._collect(transfer, *(self.cards[(shipment["source"], lot)] for lot in shipment["lines"]))

    # -- invariants ----------------------------------------------------------------------------------

    @invariant()
    def stock_is_never_negative(self):
        assert all(card.on_hand >= 0 for card in self.cards.values())

    @invariant()
    def cards_equal_the_model(self):
        assert {key: card.on_hand for key, card in self.cards.items()} == self.on_hand
        assert {t.id: t.status for t in self.transfers} == {k: s["status"] for k, s in self.shipments.items()}

    @invariant()
    def nothing_is_left_pending(self):
        assert all(not a.pending_events for a in self.aggregates.values())

    @invariant()
    def doses_are_conserved(self):
        """Computed from the events alone: what came in equals what is on hand, in transit, given or lost."""
        came_in = (
            sum(e.quantity for e in self._events(StockCard.Received) if e.transfer_id is None)
            + sum(e.delta for e in self._events(StockCard.Adjusted))
            + sum(e.difference for e in self._events(StockCard.Counted))
            + sum(e.delta for e in self._events(StockCard.MovementReversed))
        )
        given = len(self._events(StockCard.Administered)) - len(self._events(StockCard.ConsumptionReversed))
        in_transit = sum(line["quantity"] for t in self.transfers if t.status == "in_transit" for line in t.lines)
        lost_in_transit = sum(
            line["dispatched"] - line["received"] for e in self._events(Transfer.Received) for line in e.lines
        )
        on_hand = sum(card.on_hand for card in self.cards.values())
        assert came_in == on_hand + in_transit + given + lost_in_transit
        dispatched = sum(e.quantity for e in self._events(StockCard.Dispatched))
        returned = sum(e.quantity for e in self._events(StockCard.Returned))
        arrived = sum(e.quantity for e in self._events(StockCard.Received) if e.transfer_id is not None)
        assert dispatched == returned + arrived + lost_in_transit + in_transit

    @invariant()
    def replay_rebuilds_every_aggregate(self):
        for aggregate_id, log in self.logs.items():
            rebuilt = reduce(lambda a, e: e.mutate(a), log, None)
            assert vars(rebuilt) == vars(self.aggregates[aggregate_id])

    def teardown(self):
        mapper = PlainJSONMapper()
        for aggregate_id, log in self.logs.items():
            stored = [mapper.to_domain_event(mapper.to_stored_event(e)) for e in log]
            assert [vars(e) for e in stored] == [vars(e) for e in log]
            assert vars(reduce(lambda a, e: e.mutate(a), stored, None)) == vars(self.aggregates[aggregate_id])


StockMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestStockMachine(StockMachine.TestCase):
    """Random stock histories never go negative, conserve doses, replay to the same state and match the model."""
