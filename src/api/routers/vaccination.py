"""The vaccination flow of a person: registration, approval, screening, doses, AEFI, and their history."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from ledger.domain import NotFound

from ..deps import HistoryRead, LedgerDep, ProvenanceDep, ReadsDep, occurred
from ..errors import problem_responses
from ..schemas import (
    AdverseEventClassification,
    AdverseEventReport,
    AefiChanged,
    DoseAdministration,
    DoseChanged,
    DoseCorrection,
    DoseVoid,
    ObservationCompletion,
    PersonChanged,
    Screening,
    ScreeningRecorded,
    VaccinationApproval,
    VaccinationHistoryOut,
    VaccinationRegistration,
)
from ._common import LOCATION_HEADER, answer, arguments

PREFIX = "/v1/people"
router = APIRouter(prefix=PREFIX, tags=["vaccination"])

_CHANGE = problem_responses(404, 409, 422, 503)
_CREATE = {201: {"headers": LOCATION_HEADER}, **_CHANGE}


def _person_url(person_id: UUID) -> str:
    return f"{PREFIX}/{person_id}"


@router.post("/{person_id}/vaccination-registration", response_model=PersonChanged, responses=_CHANGE)
def register_for_vaccination(
    person_id: UUID, body: VaccinationRegistration, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """The person registers for vaccination (step 1 of 5)."""
    return answer(PersonChanged, ledger.register_for_vaccination(
        person_id=person_id, **arguments(body), prov=occurred(prov, body.occurred_at)
    ))


@router.post("/{person_id}/vaccination-approval", response_model=PersonChanged, responses=_CHANGE)
def approve_vaccination(
    person_id: UUID, body: VaccinationApproval, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """The provincial health department approves the person and allocates a district."""
    return answer(PersonChanged, ledger.approve_vaccination(
        person_id=person_id, **arguments(body), prov=occurred(prov, body.occurred_at)
    ))


@router.post("/{person_id}/screenings", status_code=201, response_model=ScreeningRecorded, responses=_CREATE)
def screen(
    person_id: UUID, body: Screening, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Pre-vaccination screening at a vaccination point; the answer carries the final outcome."""
    result = ledger.screen(
        person_id=person_id, facility_id=body.facility_id, vitals=body.vitals.model_dump(exclude_none=True),
        answers=body.answers.model_dump(exclude_none=True), outcome=body.outcome,
        observation_minutes=body.observation_minutes, prov=occurred(prov, body.occurred_at),
    )
    return answer(ScreeningRecorded, result, _person_url(person_id))


@router.post("/{person_id}/doses", status_code=201, response_model=DoseChanged, responses=_CREATE)
def administer_dose(
    person_id: UUID, body: DoseAdministration, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """A dose from a lot, after a screening that allows it; consumes one dose from the stock card atomically."""
    result = ledger.administer_dose(person_id=person_id, **arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(DoseChanged, result, _person_url(person_id))


@router.post("/{person_id}/doses/{dose_id}/observation", response_model=DoseChanged, responses=_CHANGE)
def complete_observation(
    person_id: UUID, dose_id: UUID, body: ObservationCompletion, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """On-site observation after the dose ended, with any reactions."""
    return answer(DoseChanged, ledger.complete_observation(
        person_id=person_id, dose_id=dose_id, **arguments(body), prov=occurred(prov, body.occurred_at)
    ))


@router.post("/{person_id}/doses/{dose_id}/void", response_model=DoseChanged, responses=_CHANGE)
def void_dose(person_id: UUID, dose_id: UUID, body: DoseVoid, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Void a dose entered in error or twice; its dose goes back to the stock card."""
    return answer(DoseChanged, ledger.void_dose(person_id=person_id, dose_id=dose_id, **arguments(body), prov=prov))


@router.post("/{person_id}/doses/{dose_id}/correction", response_model=DoseChanged, responses=_CHANGE)
def correct_dose(
    person_id: UUID, dose_id: UUID, body: DoseCorrection, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Correct a dose's time or lot; a lot change moves the consumption between stock cards."""
    return answer(DoseChanged, ledger.correct_dose(person_id=person_id, dose_id=dose_id, **arguments(body), prov=prov))


@router.post("/{person_id}/adverse-events", status_code=201, response_model=AefiChanged, responses=_CREATE)
def report_adverse_event(
    person_id: UUID, body: AdverseEventReport, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Report an adverse event following a dose; a serious one gets investigation and council deadlines."""
    result = ledger.report_adverse_event(person_id=person_id, **arguments(body), prov=occurred(prov, body.occurred_at))
    return answer(AefiChanged, result, _person_url(person_id))


@router.post("/{person_id}/adverse-events/{aefi_id}/classification", response_model=AefiChanged, responses=_CHANGE)
def classify_adverse_event(
    person_id: UUID, aefi_id: UUID, body: AdverseEventClassification, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """The expert council's WHO causality class for an adverse event."""
    return answer(AefiChanged, ledger.classify_adverse_event(
        person_id=person_id, aefi_id=aefi_id, **arguments(body), prov=occurred(prov, body.occurred_at)
    ))


@router.get(
    "/{person_id}/vaccination-history",
    response_model=VaccinationHistoryOut,
    responses=problem_responses(404, 422, 503),
)
def vaccination_history(
    person_id: UUID, histories: HistoryRead, ledger: LedgerDep, reads: ReadsDep
) -> dict[str, Any]:
    """Doses, series status and next dose due, from the `vaccination_history` projection, with the name
    and date of birth from the person's record (the projection keeps no names). The read is logged."""
    history = histories.history(person_id)
    if history is None:
        raise NotFound("person", person_id)
    person = ledger.person(person_id)
    reads.log(person_id)
    return {**history, "full_name": person.full_name, "date_of_birth": person.date_of_birth}
