"""Stock: movements on stock cards (write model) and stock levels and totals (the `stock` projection)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from ..deps import LedgerDep, ProvenanceDep, StockRead, occurred
from ..errors import problem_responses
from ..schemas import (
    CountRecorded,
    MovementRecorded,
    MovementReversal,
    StockAdjustment,
    StockCardOut,
    StockCount,
    StockPage,
    StockReceipt,
    StockTotals,
)
from ..schemas.common import TotalsBy, VaccineCode
from ._common import LOCATION_HEADER, answer, arguments

PREFIX = "/v1/stock"
router = APIRouter(prefix=PREFIX, tags=["stock"])

_MOVEMENT_RESPONSES = {201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)}


def _card_url(lot_id: UUID, facility_id: UUID) -> str:
    return f"{PREFIX}/cards/{lot_id}/{facility_id}"


@router.post("/receipts", status_code=201, response_model=MovementRecorded, responses=_MOVEMENT_RESPONSES)
def receive_stock(body: StockReceipt, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Doses arrive from a supplier at a stock-holding facility."""
    result = ledger.receive_stock(**arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(MovementRecorded, result, _card_url(body.lot_id, body.facility_id))


@router.post("/adjustments", status_code=201, response_model=MovementRecorded, responses=_MOVEMENT_RESPONSES)
def adjust_stock(body: StockAdjustment, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """On hand goes up (found, count_correction) or down (damaged, expired, ...); never below zero."""
    result = ledger.adjust_stock(**arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(MovementRecorded, result, _card_url(body.lot_id, body.facility_id))


@router.post("/counts", status_code=201, response_model=CountRecorded, responses=_MOVEMENT_RESPONSES)
def count_stock(body: StockCount, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """A physical count sets on hand; the answer's `difference` is counted minus on hand before."""
    result = ledger.count_stock(**arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(CountRecorded, result, _card_url(body.lot_id, body.facility_id))


@router.post(
    "/reversals",
    status_code=201,
    response_model=MovementRecorded,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(404, 409, 422, 503)},
)
def reverse_movement(
    body: MovementReversal, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Undo a receipt, adjustment or count by a new movement (`movement_already_reversed` on a repeat)."""
    result = ledger.reverse_movement(**arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(MovementRecorded, result, _card_url(body.lot_id, body.facility_id))


@router.get("", response_model=StockPage, responses=problem_responses(422, 503))
def list_stock_levels(
    stock: StockRead,
    facility_id: UUID | None = None,
    lot_id: UUID | None = None,
    province_code: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
    vaccine: VaccineCode | None = None,
    after: Annotated[str | None, Query(min_length=1, max_length=100, description="The `next` of the previous "
                                       "page (opaque).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Stock per lot per facility (on hand, received, issued, administered, in transit...), a page at a time."""
    items, next_cursor = stock.levels(
        facility_id=facility_id, lot_id=lot_id, province_code=province_code,
        vaccine=str(vaccine) if vaccine is not None else None, after=after, limit=limit,
    )
    return {"items": items, "next": next_cursor}


@router.get("/totals", response_model=StockTotals, responses=problem_responses(422, 503))
def stock_totals(stock: StockRead, by: TotalsBy) -> dict[str, Any]:
    """Sums of every stock counter per province, per vaccine, or per both; in transit counted at the destination."""
    return {"by": by, "items": stock.totals(str(by))}


@router.get("/cards/{lot_id}/{facility_id}", response_model=StockCardOut, responses=problem_responses(404, 422, 503))
def get_stock_card(lot_id: UUID, facility_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """One lot at one facility, from the write model: on hand now, and the movements that may be reversed."""
    card = ledger.stock_card(lot_id, facility_id)
    return {
        "stock_card_id": card.id, "lot_id": card.lot_id, "facility_id": card.facility_id, "on_hand": card.on_hand,
        "movements": [
            {"movement_id": mid, "kind": m["kind"], "delta": m["delta"], "reversed": bool(m.get("reversed"))}
            for mid, m in card.movements.items()
        ],
        "version": card.version,
    }
