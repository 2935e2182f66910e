"""Routes of samples, results, pooled tests and confirmed cases.

Writes go to the ledger (a result decides the cases of the people in the sample in the same
transaction); lists read the `testing` projection. Lists narrow themselves to a scoped caller's
reach (a provincial department sees its province, a lab the pools it received), since the
permission table sees only path and body, not query filters.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from ..auth import Forbidden
from ..deps import LedgerDep, ProvenanceDep, ReadsDep, RuntimeDep, TestingFresh, occurred
from ..errors import problem_responses
from ..permissions import Principal
from ..schemas.testing import (
    CaseOut,
    CaseRule,
    CasesPage,
    CaseStatus,
    PersonTestResultsOut,
    PoolsPage,
    ResultCorrection,
    ResultRecording,
    ResultRejection,
    SampleChanged,
    SampleCollection,
    SampleOut,
    SampleReceipt,
)
from ._common import LOCATION_HEADER, answer, scoped_case, scoped_province

router = APIRouter(tags=["testing"])

SAMPLES = "/v1/samples"
_CHANGE = problem_responses(404, 409, 422, 503)
_READ = problem_responses(404, 422, 503)
Cursor = Annotated[str | None, Query(min_length=1, max_length=100, description="The `next` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=1000)]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$")]


def _sample_url(sample_id: str) -> str:
    return f"{SAMPLES}/{sample_id}"


@router.post(SAMPLES, status_code=201, response_model=SampleChanged,
             responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)})
def collect_sample(body: SampleCollection, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """A sample from one person, or a pool (`pool_kind`, size within the pool policy in force; RT-PCR only)."""
    result = ledger.collect_sample(
        barcode=body.barcode, method=body.method, subject_ids=body.subject_ids, facility_id=body.facility_id,
        pool_kind=body.pool_kind, symptom_onset=body.symptom_onset, retest_of=body.retest_of,
        epi_link=body.epi_link.model_dump() if body.epi_link else None, prov=occurred(prov, body.occurred_at),
    )
    return answer(SampleChanged, result, _sample_url(result.ids["sample_id"]))


@router.post(SAMPLES + "/{sample_id}/receipt", response_model=SampleChanged, responses=_CHANGE)
def receive_sample(sample_id: UUID, body: SampleReceipt, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """A lab (a facility of kind `lab`) receives the sample."""
    return answer(SampleChanged, ledger.receive_sample(sample_id=sample_id, lab_id=body.lab_id,
                                                       prov=occurred(prov, body.occurred_at)))


@router.post(SAMPLES + "/{sample_id}/result", response_model=SampleChanged, responses=_CHANGE)
def record_result(sample_id: UUID, body: ResultRecording, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """The receiving lab records the result; a person becomes a case (F0) here when a rule of the case
    definition in force is met, and a positive pool's members await an individual retest."""
    return answer(SampleChanged, ledger.record_result(sample_id=sample_id, result=body.result,
                                                      ct_value=body.ct_value, prov=occurred(prov, body.occurred_at)))


@router.post(SAMPLES + "/{sample_id}/result-correction", response_model=SampleChanged, responses=_CHANGE)
def correct_result(sample_id: UUID, body: ResultCorrection, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Correct a result; a case it confirmed is retracted unless another rule still holds."""
    return answer(SampleChanged, ledger.correct_result(
        sample_id=sample_id, result=body.result, ct_value=body.ct_value, reason=body.reason,
        prov=occurred(prov, body.occurred_at),
    ))


@router.post(SAMPLES + "/{sample_id}/result-rejection", response_model=SampleChanged, responses=_CHANGE)
def reject_result(sample_id: UUID, body: ResultRejection, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Reject a result: it counts for no one, and the sample takes no other (take a new sample)."""
    return answer(SampleChanged, ledger.reject_result(sample_id=sample_id, reason=body.reason,
                                                      prov=occurred(prov, body.occurred_at)))


@router.get(SAMPLES + "/{sample_id}", response_model=SampleOut, responses=_READ)
def get_sample(sample_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """One sample from the write model: its subjects, lab receipt and current result."""
    s = ledger.sample(sample_id)
    return {
        "sample_id": s.id, "barcode": s.barcode, "method": s.method, "subject_ids": s.subject_ids,
        "pool_kind": s.pool_kind, "facility_id": s.facility_id, "collected_at": s.collected_at,
        "symptom_onset": s.symptom_onset, "pool_policy_id": s.pool_policy_id, "retest_of": s.retest_of,
        "epi_link": s.epi_link, "status": s.status, "lab_id": s.lab_id, "received_at": s.received_at,
        "result": s.result, "ct_value": s.ct_value, "resulted_at": s.resulted_at, "corrections": s.corrections,
        "rejection_reason": s.rejection_reason, "version": s.version,
    }


@router.get("/v1/people/{person_id}/test-results", response_model=PersonTestResultsOut, responses=_READ)
def person_test_results(
    person_id: UUID, runtime: RuntimeDep, ledger: LedgerDep, fresh: TestingFresh, reads: ReadsDep
) -> dict[str, Any]:
    """Every sample that names the person (pooled or not), pending and closed retests, and their cases, from
    the `testing` projection. The read is logged."""
    ledger.person(person_id)  # 404 for an unknown person
    results = runtime.testing.results_for_person(person_id)
    reads.log(person_id)
    return results


@router.get("/v1/pools/awaiting-retest", response_model=PoolsPage, responses=problem_responses(422, 503))
def pools_awaiting_retest(
    request: Request, runtime: RuntimeDep, fresh: TestingFresh, province_code: ProvinceQuery = None,
    lab_id: UUID | None = None, after: Cursor = None, limit: Limit = 100,
) -> dict[str, Any]:
    """Positive pools whose members still await an individual retest (a lab sees the pools it received)."""
    principal: Principal = request.state.principal
    if principal.role == "lab":
        own = UUID(principal.scope["facility_id"])
        if lab_id not in (None, own):
            raise Forbidden
        lab_id = own
    items, next_cursor = runtime.testing.pools_awaiting_retest(
        province_code=scoped_province(request, province_code), lab_id=lab_id, after=after, limit=limit)
    return {"items": items, "next": next_cursor}


@router.get("/v1/cases", response_model=CasesPage, responses=problem_responses(422, 503))
def list_cases(
    request: Request, runtime: RuntimeDep, fresh: TestingFresh,
    province_code: ProvinceQuery = None,
    district_code: Annotated[str | None, Query(pattern=r"^[0-9]{3}$")] = None,
    ward_code: Annotated[str | None, Query(pattern=r"^[0-9]{5}$")] = None,
    status: CaseStatus | None = None,
    rule: CaseRule | None = None,
    community: bool | None = None,
    person_id: UUID | None = None,
    confirmed_from: date | None = None,
    confirmed_to: date | None = None,
    iso_week: Annotated[str | None, Query(pattern=r"^[0-9]{4}-W[0-9]{2}$")] = None,
    after: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    """The case register: confirmed cases (F0) with their rule, policy, area and evidence, a page at a time."""
    items, next_cursor = runtime.testing.cases(
        province_code=scoped_province(request, province_code), district_code=district_code, ward_code=ward_code,
        status=str(status) if status else None, rule=str(rule) if rule else None, community=community,
        person_id=str(person_id) if person_id else None, confirmed_from=confirmed_from, confirmed_to=confirmed_to,
        iso_week=iso_week, after=after, limit=limit,
    )
    return {"items": items, "next": next_cursor}


@router.get("/v1/cases/{case_id}", response_model=CaseOut, responses=_READ)
def get_case(case_id: UUID, request: Request, runtime: RuntimeDep, fresh: TestingFresh) -> dict[str, Any]:
    """One case of the register (a provincial department reads the cases of its province)."""
    return scoped_case(request, runtime, case_id)
