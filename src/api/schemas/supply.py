"""Schemas of the supply chain: stock movements, stock reads and transfers."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictStr

from .common import (
    AdjustmentDirection,
    AdjustmentReason,
    CommandBody,
    CommandResponse,
    Count,
    DiscrepancyReason,
    Note,
    Quantity,
    Reason,
    RequestModel,
    ResponseModel,
    TotalsBy,
)

# -- stock movements --------------------------------------------------------------------------------


class StockReceipt(CommandBody):
    """Doses arrived from a supplier (transfers are received through `/v1/transfers`)."""

    lot_id: UUID
    facility_id: UUID
    quantity: Quantity
    supplier_ref: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class StockAdjustment(CommandBody):
    """On hand changed for a reason: `in` with found/count_correction, `out` with the others."""

    lot_id: UUID
    facility_id: UUID
    quantity: Quantity
    direction: AdjustmentDirection
    reason: AdjustmentReason
    note: Note | None = None


class StockCount(CommandBody):
    """A physical count; on hand becomes `counted`."""

    lot_id: UUID
    facility_id: UUID
    counted: Count


class MovementReversal(CommandBody):
    """Undo a receipt, adjustment or count on a stock card."""

    lot_id: UUID
    facility_id: UUID
    movement_id: UUID
    reason: Reason


class MovementIds(ResponseModel):
    stock_card_id: UUID
    movement_id: UUID


class MovementRecorded(CommandResponse):
    ids: MovementIds


class CountIds(MovementIds):
    difference: int = Field(description="Counted minus on hand before the count.")


class CountRecorded(CommandResponse):
    ids: CountIds


class CardMovement(ResponseModel):
    movement_id: UUID
    kind: str
    delta: int
    reversed: bool


class StockCardOut(ResponseModel):
    """One lot at one facility, from the write model (always current)."""

    stock_card_id: UUID
    lot_id: UUID
    facility_id: UUID
    on_hand: int
    movements: list[CardMovement] = Field(description="Receipts, adjustments and counts that may be reversed.")
    version: int


class StockLevel(ResponseModel):
    """A stock card as the `stock` projection holds it."""

    card_id: str
    lot_id: str
    facility_id: str
    on_hand: int
    received: int
    transferred_in: int
    dispatched: int
    returned: int
    administered: int
    adjusted_in: int
    adjusted_out: int
    count_difference: int
    reversed: int
    in_transit_in: int
    in_transit_out: int
    vaccine: str
    lot_number: str
    manufacturer: str
    expiry: date
    recalled: bool
    facility_code: str
    facility_name: str
    facility_kind: str
    province_code: str
    district_code: str | None
    ward_code: str | None
    adjusted_by_reason: dict[str, dict[str, int]]


class StockPage(ResponseModel):
    """One page of stock levels; pass `next` as `after` for the following page (null at the end)."""

    items: list[StockLevel]
    next: str | None


class StockTotal(ResponseModel):
    """Sums over the stock cards of one group (the group's keys are `province_code` and/or `vaccine`)."""

    province_code: str | None = None
    vaccine: str | None = None
    on_hand: int
    received: int
    transferred_in: int
    dispatched: int
    returned: int
    administered: int
    adjusted_in: int
    adjusted_out: int
    count_difference: int
    reversed: int
    stock_cards: int
    in_transit: int


class StockTotals(ResponseModel):
    by: TotalsBy
    items: list[StockTotal]


# -- transfers ---------------------------------------------------------------------------------------

DocumentNumber = Annotated[
    StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./_-]{1,63}$", description="Dispatch document number.")
]


class TransferLine(RequestModel):
    lot_id: UUID
    quantity: Quantity


class TransferDispatch(CommandBody):
    """Dispatch stock from a source to a destination; it is in transit until received."""

    document_number: DocumentNumber
    source_id: UUID
    destination_id: UUID
    lines: Annotated[list[TransferLine], Field(min_length=1, max_length=500)]


class ReceiptLine(RequestModel):
    """A lot whose received quantity differs from the dispatched one."""

    lot_id: UUID
    quantity: Count
    discrepancy_reason: DiscrepancyReason | None = None


class TransferReceipt(CommandBody):
    """Receive a transfer; lines not named arrived in full."""

    lines: Annotated[list[ReceiptLine], Field(max_length=500)] | None = None


class TransferCancellation(CommandBody):
    """Cancel a transfer in transit; its stock goes back to the source."""

    reason: Reason


class TransferIds(ResponseModel):
    transfer_id: UUID


class TransferChanged(CommandResponse):
    ids: TransferIds


class TransferLineOut(ResponseModel):
    lot_id: UUID
    quantity: int


class TransferReceiptLineOut(ResponseModel):
    lot_id: UUID
    dispatched: int
    received: int
    discrepancy_reason: str | None


class TransferOut(ResponseModel):
    """A transfer as the write model holds it."""

    transfer_id: UUID
    document_number: str
    source_id: UUID
    destination_id: UUID
    status: str = Field(description="in_transit, received or cancelled.")
    lines: list[TransferLineOut]
    received: list[TransferReceiptLineOut] | None = Field(description="What arrived, once received.")
    version: int
