"""Routes of venues and check-ins, single and bulk, and exposure candidates.

A single check-in is an ordinary command (`Idempotency-Key` makes it idempotent, and names its id).
A bulk upload is NDJSON, one check-in per line, checked row by row by the same rules; the answer is
a report per row (200 even when some rows are refused: the good ones are appended). Exposure
candidates read the `checkins` projection and the `testing` projection's case register.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio
from fastapi import APIRouter, Query, Request, Response

from ledger.commands.checkins import parse_ndjson
from ledger.domain import Invalid

from ..deps import CheckInsFresh, LedgerDep, ProvenanceDep, RuntimeDep
from ..errors import problem_responses
from ..permissions import Principal
from ..schemas.checkins import (
    BulkReportOut,
    CheckInBody,
    CheckInOut,
    CheckInRecorded,
    ExposureCandidatesOut,
    VenueQrOut,
)
from ._common import LOCATION_HEADER, answer, scoped_case

router = APIRouter(tags=["check-ins"])

CHECKINS = "/v1/check-ins"
#: Rows one bulk request may carry: larger files go through `ledger checkins import` or several requests.
BULK_MAX_LINES = 200_000
_READ = problem_responses(404, 422, 503)
#: The schema of one line of a bulk upload (OpenAPI has no NDJSON type: each line is one such object).
NDJSON_ROW = {
    "type": "object", "additionalProperties": False, "required": ["person_id", "checked_in_at", "mode"],
    "description": "One check-in per line; `venue_id` or `qr` (exactly one). Unknown fields are ignored by the "
                   "rules but documented as closed.",
    "properties": {
        "venue_id": {"type": "string", "format": "uuid"},
        "qr": {"type": "string", "maxLength": 200, "description": "`NHDL-VENUE:1:<code>`"},
        "person_id": {"type": "string", "format": "uuid"},
        "checked_in_at": {"type": "string", "format": "date-time", "description": "With a time zone."},
        "mode": {"type": "string", "enum": ["citizen_scan", "staff_scan"]},
        "client_ref": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "The sender's reference of the row: the check-in's idempotency key."},
    },
}
def _provinces(principal: Principal) -> frozenset[str] | None:
    """A scoped caller's reach for bulk rows (the permission table cannot see NDJSON bodies)."""
    if principal.role == "provincial":
        return frozenset({principal.scope["province_code"]})
    codes = principal.scope.get("province_codes") if principal.scope else None
    return frozenset(codes) if codes else None


@router.get("/v1/venues/{venue_id}/qr", response_model=VenueQrOut, responses=_READ)
def venue_qr(venue_id: UUID, ledger: LedgerDep) -> dict[str, str]:
    """The payload of the venue's QR code (`NHDL-VENUE:1:<code>`): derived from its code, stable, no secret."""
    return ledger.venue_qr(venue_id)


@router.post(CHECKINS, status_code=201, response_model=CheckInRecorded,
             responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)})
def check_in(body: CheckInBody, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """One check-in at a registered venue (409 `checkin_at_registered_venue` otherwise) by a registered person."""
    result = ledger.check_in(venue_id=body.venue_id, qr=body.qr, person_id=body.person_id,
                             checked_in_at=body.checked_in_at, mode=body.mode, prov=prov)
    return answer(CheckInRecorded, result, f"{CHECKINS}/{result.ids['checkin_id']}")


@router.get(CHECKINS + "/{checkin_id}", response_model=CheckInOut, responses=_READ)
def get_checkin(checkin_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """One check-in, from the log."""
    return ledger.checkin(checkin_id).as_dict()


@router.post(
    CHECKINS + "/bulk", response_model=BulkReportOut, responses=problem_responses(409, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": NDJSON_ROW}}}},
)
async def bulk_check_in(
    request: Request, ledger: LedgerDep, prov: ProvenanceDep,
    rows: Annotated[str, Query(pattern="^(all|problems)$", description="`problems`: report only the rows "
                               "not accepted.")] = "all",
) -> dict[str, Any]:
    """Many check-ins, NDJSON: each row checked as one check-in is; good rows appended in large transactions;
    a report per row (accepted / duplicate / refused with the field or rule). Re-sending adds nothing."""
    body = await request.body()
    lines = body.splitlines()
    if len(lines) > BULK_MAX_LINES:
        raise Invalid("body", f"at most {BULK_MAX_LINES} lines per request", max_lines=BULK_MAX_LINES)
    provinces = _provinces(request.state.principal)
    report = await anyio.to_thread.run_sync(
        lambda: ledger.import_checkins(parse_ndjson(lines), prov=prov, provinces=provinces))
    out = report.as_dict()
    if rows == "problems":
        out["rows"] = [r for r in out["rows"] if r["status"] != "accepted"]
    return out


@router.get("/v1/cases/{case_id}/exposure-candidates", response_model=ExposureCandidatesOut, responses=_READ)
def exposure_candidates(
    case_id: UUID, request: Request, runtime: RuntimeDep, fresh: CheckInsFresh
) -> dict[str, Any]:
    """The people checked in at the same venue within 60 minutes (inclusive) before or after one of the case
    person's check-ins during the infectious period, per person (the case person excluded)."""
    scoped_case(request, runtime, case_id)
    return runtime.checkins.exposure_candidates(case_id)
