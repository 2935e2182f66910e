"""The access log of people's records, and break-the-glass openings with their review list."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from ..deps import AccessLogFresh, LedgerDep, ProvenanceDep, RuntimeDep
from ..errors import problem_responses
from ..schemas.access import AccessReads, BreakGlassOpened, BreakGlassOpenings, BreakGlassRequest
from ._common import LOCATION_HEADER, answer

router = APIRouter(tags=["access"])
Limit = Annotated[int, Query(ge=1, le=5000, description="At most this many, newest first.")]


@router.get("/v1/people/{person_id}/access-log", response_model=AccessReads, responses=problem_responses(422, 503))
def person_access_log(person_id: UUID, runtime: RuntimeDep, fresh: AccessLogFresh, limit: Limit = 500) -> dict[str, Any]:
    """Who read this person's record: when, through which route, for which purpose (a citizen sees their own)."""
    return {"items": runtime.access_log.reads(person_id=person_id, limit=limit)}


@router.get("/v1/access-log", response_model=AccessReads, responses=problem_responses(422, 503))
def token_access_log(grant_id: UUID, runtime: RuntimeDep, fresh: AccessLogFresh, limit: Limit = 500) -> dict[str, Any]:
    """Every read of a person's record made with one token (`grant_id`), for auditors."""
    return {"items": runtime.access_log.reads(grant_id=grant_id, limit=limit)}


@router.post("/v1/people/{person_id}/break-glass", status_code=201, response_model=BreakGlassOpened,
             responses={201: {"headers": LOCATION_HEADER}, **problem_responses(404, 409, 422, 503)})
def break_glass(
    person_id: UUID, body: BreakGlassRequest, ledger: LedgerDep, prov: ProvenanceDep, request: Request
) -> Response:
    """Open a person's record outside the token's scope, for a few hours (3 by default), with a written
    reason. Every opening is recorded, every read under it is logged with it, and it shows in the review list."""
    p = request.state.principal
    result = ledger.break_glass(person_id=person_id, grant_id=p.grant_id, role=p.role, reason=body.reason,
                                hours=body.hours, prov=prov)
    return answer(BreakGlassOpened, result, f"/v1/people/{person_id}")


@router.get("/v1/break-glass", response_model=BreakGlassOpenings, responses=problem_responses(422, 503))
def break_glass_review(runtime: RuntimeDep, fresh: AccessLogFresh, limit: Limit = 500) -> dict[str, Any]:
    """Break-the-glass openings, newest first, for review."""
    return {"items": runtime.access_log.openings(limit=limit)}
