"""Routes of contacts, quarantine orders (follow-up, release, the register) and health declarations.

Writes go to the person in the ledger; reads come from the `tracing` projection. A person's tracing
record and declarations are logged reads. The register narrows itself to a provincial caller's province.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from ..deps import CaseTracingFresh, LedgerDep, ProvenanceDep, ReadsDep, RuntimeDep, TracingFresh, occurred
from ..errors import problem_responses
from ..schemas.tracing import (
    CaseContactsOut,
    ContactRecording,
    DeclarationsOut,
    FollowUp,
    HealthDeclaration,
    PersonTracingOut,
    QuarantineOrdering,
    RegisterPage,
    Release,
    TracingChanged,
)
from ._common import LOCATION_HEADER, answer, scoped_case, scoped_province

router = APIRouter(tags=["tracing"])

PERSON = "/v1/people/{person_id}"
_CHANGE = problem_responses(404, 409, 422, 503)
_CREATE = {201: {"headers": LOCATION_HEADER}, **_CHANGE}
_READ = problem_responses(404, 422, 503)


@router.post(PERSON + "/contacts", status_code=201, response_model=TracingChanged, responses=_CREATE)
def record_contact(person_id: UUID, body: ContactRecording, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Record the person as an F1 of a case or an F2 of an F1 (rules in docs/domain.md)."""
    result = ledger.record_contact(
        person_id=person_id, source_person_id=body.source_person_id, level=body.level, proximity=body.proximity,
        masked=body.masked, duration_minutes=body.duration_minutes, exposed_at=body.exposed_at,
        checkin_id=body.checkin_id, prov=occurred(prov, body.occurred_at))
    return answer(TracingChanged, result, f"/v1/people/{person_id}/quarantine-orders")


@router.get("/v1/cases/{case_id}/contacts", response_model=CaseContactsOut, responses=_READ)
def case_contacts(case_id: UUID, request: Request, runtime: RuntimeDep, fresh: CaseTracingFresh) -> dict[str, Any]:
    """The recorded contacts (F1 and F2) of a case: its exposures (a provincial department reads the
    cases of its province)."""
    scoped_case(request, runtime, case_id)
    return {"case_id": str(case_id), "contacts": runtime.tracing.contacts_of_case(case_id)}


@router.post(PERSON + "/quarantine-orders", status_code=201, response_model=TracingChanged, responses=_CREATE)
def order_quarantine(person_id: UUID, body: QuarantineOrdering, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Order quarantine under the policy in force on the identification day; its terms are stored."""
    result = ledger.order_quarantine(person_id=person_id, level=body.level, ends_on=body.ends_on,
                                     override_reason=body.override_reason, prov=occurred(prov, body.occurred_at))
    return answer(TracingChanged, result, f"/v1/people/{person_id}/quarantine-orders")


@router.post(PERSON + "/quarantine-orders/{order_id}/follow-ups", response_model=TracingChanged, responses=_CHANGE)
def follow_up_quarantine(person_id: UUID, order_id: UUID, body: FollowUp, ledger: LedgerDep,
                         prov: ProvenanceDep) -> Response:
    """A day's check: symptoms, temperature, optionally the sample taken."""
    return answer(TracingChanged, ledger.follow_up_quarantine(
        person_id=person_id, order_id=order_id, day=body.day, symptoms=list(body.symptoms),
        temperature_c=body.temperature_c, sample_id=body.sample_id, note=body.note,
        prov=occurred(prov, body.occurred_at)))


@router.post(PERSON + "/quarantine-orders/{order_id}/release", response_model=TracingChanged, responses=_CHANGE)
def release_quarantine(person_id: UUID, order_id: UUID, body: Release, ledger: LedgerDep,
                       prov: ProvenanceDep) -> Response:
    """Release the person from the order (once)."""
    return answer(TracingChanged, ledger.release_quarantine(
        person_id=person_id, order_id=order_id, released_on=body.released_on, reason=body.reason,
        prov=occurred(prov, body.occurred_at)))


@router.get(PERSON + "/quarantine-orders", response_model=PersonTracingOut, responses=_READ)
def person_tracing(person_id: UUID, runtime: RuntimeDep, ledger: LedgerDep, fresh: TracingFresh,
                   reads: ReadsDep) -> dict[str, Any]:
    """The person's contacts and quarantine orders. The read is logged."""
    ledger.person(person_id)  # 404 for an unknown person
    out = {"person_id": str(person_id), "contacts": runtime.tracing.contacts_of_person(person_id),
           "orders": runtime.tracing.orders_of_person(person_id)}
    reads.log(person_id)
    return out


@router.get("/v1/quarantine-orders", response_model=RegisterPage, responses=problem_responses(403, 422, 503))
def quarantine_register(
    request: Request, runtime: RuntimeDep, fresh: TracingFresh, on: date,
    province_code: Annotated[str | None, Query(pattern=r"^[0-9]{2}$")] = None,
    after: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Active orders with a test or the release due on `on` (a provincial caller sees its province)."""
    items, nxt = runtime.tracing.register(on=on, province_code=scoped_province(request, province_code), after=after,
                                          limit=limit)
    return {"items": items, "next": nxt}


@router.post(PERSON + "/health-declarations", status_code=201, response_model=TracingChanged, responses=_CREATE)
def declare_health(person_id: UUID, body: HealthDeclaration, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """A domestic or entry health declaration (a citizen files their own)."""
    result = ledger.declare_health(
        person_id=person_id, kind=body.kind, symptoms=list(body.symptoms),
        travel=[{"country": t.country, "place": t.place, "from": t.from_, "to": t.to} for t in body.travel],
        contact_history=[c.model_dump() for c in body.contact_history],
        entry=body.entry.model_dump() if body.entry else None, prov=occurred(prov, body.occurred_at))
    return answer(TracingChanged, result, f"/v1/people/{person_id}/health-declarations")


@router.get(PERSON + "/health-declarations", response_model=DeclarationsOut, responses=_READ)
def health_declarations(person_id: UUID, runtime: RuntimeDep, ledger: LedgerDep, fresh: TracingFresh,
                        reads: ReadsDep) -> dict[str, Any]:
    """The person's declarations, oldest first. The read is logged."""
    ledger.person(person_id)
    out = {"person_id": str(person_id), "declarations": runtime.tracing.declarations_of_person(person_id)}
    reads.log(person_id)
    return out
