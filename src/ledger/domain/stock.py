"""Stock cards: the quantity of one lot at one location, in doses, never below zero.

Every movement carries a `movement_id`; a wrong movement is never edited but reversed
by a new event that references it. Doses consume stock through `administer`, and a
voided dose gives its stock back through `reverse_consumption`.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import (
    ADJUSTMENT_REASONS,
    NEGATIVE_ADJUSTMENT_REASONS,
    POSITIVE_ADJUSTMENT_REASONS,
    require_code,
)
from .errors import Invalid, RuleViolation


def positive_quantity(field: str, quantity: object) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= 10_000_000:
        raise Invalid(field, f"{field} must be a whole number of doses between 1 and 10,000,000")
    return quantity


class StockCard(LedgerAggregate):
    """On hand of one vaccine lot at one facility."""

    TOPIC = "ledger.stock.StockCard"

    class Opened(LedgerAggregate.Created, Stamped):
        """A stock card was opened for a lot at a facility."""

        TOPIC = "ledger.stock.Opened"
        lot_id: UUID
        facility_id: UUID

    class Received(Stamped):
        """Doses arrived from a supplier (`transfer_id` is None) or at the end of a transfer."""

        TOPIC = "ledger.stock.Received"
        movement_id: UUID
        quantity: int
        transfer_id: UUID | None
        supplier_ref: str | None

        def apply(self, card: StockCard) -> None:
            card.on_hand += self.quantity
            if self.transfer_id is None:
                card.movements[str(self.movement_id)] = {"kind": "received", "delta": self.quantity}

    class Dispatched(Stamped):
        """Doses left this location on a transfer."""

        TOPIC = "ledger.stock.Dispatched"
        movement_id: UUID
        quantity: int
        transfer_id: UUID

        def apply(self, card: StockCard) -> None:
            card.on_hand -= self.quantity

    class Returned(Stamped):
        """Doses of a cancelled transfer came back to the source location."""

        TOPIC = "ledger.stock.Returned"
        movement_id: UUID
        quantity: int
        transfer_id: UUID

        def apply(self, card: StockCard) -> None:
            card.on_hand += self.quantity

    class Adjusted(Stamped):
        """On hand changed for a reason from the closed set (damaged, expired, found, ...)."""

        TOPIC = "ledger.stock.Adjusted"
        movement_id: UUID
        delta: int
        reason: str
        note: str | None

        def apply(self, card: StockCard) -> None:
            card.on_hand += self.delta
            card.movements[str(self.movement_id)] = {"kind": "adjusted", "delta": self.delta}

    class Counted(Stamped):
        """A physical count; `difference` = counted - on hand before the count."""

        TOPIC = "ledger.stock.Counted"
        movement_id: UUID
        counted: int
        difference: int

        def apply(self, card: StockCard) -> None:
            card.on_hand = self.counted
            card.movements[str(self.movement_id)] = {"kind": "counted", "delta": self.difference}

    class MovementReversed(Stamped):
        """A receipt, adjustment or count was cancelled; `delta` undoes its effect."""

        TOPIC = "ledger.stock.MovementReversed"
        movement_id: UUID
        reverses: UUID
        delta: int
        reason: str

        def apply(self, card: StockCard) -> None:
            card.on_hand += self.delta
            card.movements[str(self.reverses)]["reversed"] = True

    class Administered(Stamped):
        """One dose was given from this card to a person."""

        TOPIC = "ledger.stock.Administered"
        dose_id: UUID
        person_id: UUID

        def apply(self, card: StockCard) -> None:
            card.on_hand -= 1

    class ConsumptionReversed(Stamped):
        """A voided dose (or one moved to another lot) gave its dose back."""

        TOPIC = "ledger.stock.ConsumptionReversed"
        dose_id: UUID
        reason: str

        def apply(self, card: StockCard) -> None:
            card.on_hand += 1

    def __init__(self, lot_id: UUID, facility_id: UUID) -> None:
        self.lot_id = lot_id
        self.facility_id = facility_id
        self.on_hand = 0
        #: movement id -> {"kind", "delta", "reversed"?}: what a reversal may undo.
        self.movements: dict[str, dict] = {}

    @staticmethod
    def create_id(lot_id: UUID, facility_id: UUID) -> UUID:
        return natural_id("stock", str(lot_id), str(facility_id))

    @classmethod
    def open(cls, *, lot_id: UUID, facility_id: UUID, prov: Provenance) -> StockCard:
        return cls._create(
            cls.Opened, id=cls.create_id(lot_id, facility_id), lot_id=lot_id, facility_id=facility_id, **prov.fields()
        )

    def _take(self, quantity: int, what: str) -> None:
        if quantity > self.on_hand:
            raise RuleViolation(
                "stock_never_negative",
                f"{what} {quantity} exceeds the {self.on_hand} on hand",
                on_hand=self.on_hand,
                lot_id=str(self.lot_id),
                facility_id=str(self.facility_id),
            )

    def receive(
        self, *, quantity: int, prov: Provenance, transfer_id: UUID | None = None, supplier_ref: str | None = None
    ) -> UUID:
        positive_quantity("quantity", quantity)
        movement_id = uuid4()
        self._record(
            self.Received, prov, movement_id=movement_id, quantity=quantity, transfer_id=transfer_id,
            supplier_ref=supplier_ref,
        )
        return movement_id

    def dispatch(self, *, quantity: int, transfer_id: UUID, prov: Provenance) -> None:
        positive_quantity("quantity", quantity)
        self._take(quantity, "dispatching")
        self._record(self.Dispatched, prov, movement_id=uuid4(), quantity=quantity, transfer_id=transfer_id)

    def return_cancelled(self, *, quantity: int, transfer_id: UUID, prov: Provenance) -> None:
        self._record(self.Returned, prov, movement_id=uuid4(), quantity=quantity, transfer_id=transfer_id)

    def adjust(self, *, quantity: int, direction: str, reason: str, note: str | None, prov: Provenance) -> UUID:
        positive_quantity("quantity", quantity)
        require_code("reason", reason, ADJUSTMENT_REASONS)
        if direction == "in":
            if reason not in POSITIVE_ADJUSTMENT_REASONS:
                raise Invalid("reason", f"an increase needs one of {sorted(POSITIVE_ADJUSTMENT_REASONS)}")
            delta = quantity
        elif direction == "out":
            if reason not in NEGATIVE_ADJUSTMENT_REASONS:
                raise Invalid("reason", f"a decrease needs one of {sorted(NEGATIVE_ADJUSTMENT_REASONS)}")
            self._take(quantity, "removing")
            delta = -quantity
        else:
            raise Invalid("direction", "direction must be 'in' or 'out'")
        movement_id = uuid4()
        self._record(self.Adjusted, prov, movement_id=movement_id, delta=delta, reason=reason, note=note)
        return movement_id

    def count(self, *, counted: int, prov: Provenance) -> UUID:
        if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
            raise Invalid("counted", "counted must be a whole number of doses, zero or more")
        movement_id = uuid4()
        self._record(self.Counted, prov, movement_id=movement_id, counted=counted, difference=counted - self.on_hand)
        return movement_id

    def reverse(self, *, movement_id: UUID, reason: str, prov: Provenance) -> UUID:
        """Undo a receipt, adjustment or count by a new event that references it."""
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason", "a reason is required to reverse a movement")
        movement = self.movements.get(str(movement_id))
        if movement is None:
            raise RuleViolation(
                "movement_not_reversible",
                f"movement {movement_id} is not a receipt, adjustment or count on this stock card",
            )
        if movement.get("reversed"):
            raise RuleViolation("movement_already_reversed", f"movement {movement_id} was already reversed")
        delta = -movement["delta"]
        if delta < 0:
            self._take(-delta, "reversing")
        new_id = uuid4()
        self._record(
            self.MovementReversed, prov, movement_id=new_id, reverses=movement_id, delta=delta, reason=reason.strip()
        )
        return new_id

    def administer(self, *, dose_id: UUID, person_id: UUID, prov: Provenance) -> None:
        self._take(1, "administering")
        self._record(self.Administered, prov, dose_id=dose_id, person_id=person_id)

    def reverse_consumption(self, *, dose_id: UUID, reason: str, prov: Provenance) -> None:
        self._record(self.ConsumptionReversed, prov, dose_id=dose_id, reason=reason)
