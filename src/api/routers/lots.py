"""Vaccine lots: registration, reads and recalls."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from ..deps import LedgerDep, ProvenanceDep, occurred
from ..errors import problem_responses
from ..schemas import LotChanged, LotOut, LotRecall, LotRegistration
from ._common import LOCATION_HEADER, answer, arguments

PREFIX = "/v1/lots"
router = APIRouter(prefix=PREFIX, tags=["lots"])


@router.post(
    "",
    status_code=201,
    response_model=LotChanged,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)},
)
def register_lot(body: LotRegistration, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Register a lot; manufacturer + lot number identify it (`lot_exists` if registered)."""
    result = ledger.register_lot(**arguments(body), prov=prov)
    return answer(LotChanged, result, f"{PREFIX}/{result.ids['lot_id']}")


@router.get("/{lot_id}", response_model=LotOut, responses=problem_responses(404, 422, 503))
def get_lot(lot_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """A lot, from the write model."""
    lot = ledger.lot(lot_id)
    return {
        "lot_id": lot.id, "vaccine": lot.vaccine, "manufacturer": lot.manufacturer, "lot_number": lot.lot_number,
        "expiry": lot.expiry, "doses_per_vial": lot.doses_per_vial, "recalled": lot.recalled, "version": lot.version,
    }


@router.post("/{lot_id}/recall", response_model=LotChanged, responses=problem_responses(404, 409, 422, 503))
def recall_lot(lot_id: UUID, body: LotRecall, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Recall a lot: no dose may be given from it afterwards (`lot_already_recalled`)."""
    return answer(LotChanged, ledger.recall_lot(lot_id=lot_id, **arguments(body), prov=occurred(prov, body.occurred_at)))
