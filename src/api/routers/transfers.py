"""Transfers between facilities: dispatch, receipt (with discrepancies) and cancellation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from ..deps import LedgerDep, ProvenanceDep, occurred
from ..errors import problem_responses
from ..schemas import TransferCancellation, TransferChanged, TransferDispatch, TransferOut, TransferReceipt
from ._common import LOCATION_HEADER, answer, arguments

PREFIX = "/v1/transfers"
router = APIRouter(prefix=PREFIX, tags=["transfers"])


@router.post(
    "",
    status_code=201,
    response_model=TransferChanged,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)},
)
def dispatch_transfer(
    body: TransferDispatch, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Stock leaves the source for the destination; it is in transit until received or cancelled."""
    result = ledger.dispatch_transfer(**arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(TransferChanged, result, f"{PREFIX}/{result.ids['transfer_id']}")


@router.post("/{transfer_id}/receipt", response_model=TransferChanged, responses=problem_responses(404, 409, 422, 503))
def receive_transfer(transfer_id: UUID, body: TransferReceipt, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """The destination receives the transfer; `lines` name only lots whose quantity differs (with a reason)."""
    return answer(TransferChanged, ledger.receive_transfer(transfer_id=transfer_id, **arguments(body), prov=occurred(prov, body.occurred_at)))


@router.post(
    "/{transfer_id}/cancellation", response_model=TransferChanged, responses=problem_responses(404, 409, 422, 503)
)
def cancel_transfer(
    transfer_id: UUID, body: TransferCancellation, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Cancel a transfer in transit; its stock goes back to the source (`transfer_not_in_transit` otherwise)."""
    return answer(TransferChanged, ledger.cancel_transfer(transfer_id=transfer_id, **arguments(body), prov=occurred(prov, body.occurred_at)))


@router.get("/{transfer_id}", response_model=TransferOut, responses=problem_responses(404, 422, 503))
def get_transfer(transfer_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """A transfer, from the write model."""
    t = ledger.transfer(transfer_id)
    return {
        "transfer_id": t.id, "document_number": t.document_number, "source_id": t.source_id,
        "destination_id": t.destination_id, "status": t.status, "lines": t.lines, "received": t.received,
        "version": t.version,
    }
