"""People: registration, lookup by identity document, corrections, verification and merges."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response

from ledger.domain import Person

from ..deps import LedgerDep, ProvenanceDep, ReadsDep, occurred
from ..errors import problem_responses
from ..schemas import (
    IdentityVerification,
    MergeChanged,
    PersonChanged,
    PersonCorrection,
    PersonLookup,
    PersonMerge,
    PersonOut,
    PersonRegistration,
)
from ..schemas.common import IdType
from ..schemas.people import ID_NUMBER_PATTERN
from ._common import LOCATION_HEADER, answer

PREFIX = "/v1/people"
router = APIRouter(prefix=PREFIX, tags=["people"])


@router.post(
    "",
    status_code=201,
    response_model=PersonChanged,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)},
)
def register_person(
    body: PersonRegistration, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Register a person; one person per identity document (`one_person_per_id_number`)."""
    details = body.model_dump(include={"full_name", "date_of_birth", "sex", "phone", "address"})
    result = ledger.register_person(
        id_type=body.id_type, id_number=body.id_number, details=details, prov=occurred(prov, body.occurred_at)
    )
    return answer(PersonChanged, result, f"{PREFIX}/{result.ids['person_id']}")


@router.get("", response_model=PersonLookup, responses=problem_responses(404, 422, 503))
def find_person(
    ledger: LedgerDep,
    reads: ReadsDep,
    id_type: IdType,
    id_number: Annotated[str, Query(pattern=ID_NUMBER_PATTERN)],
) -> dict[str, Any]:
    """The person holding an identity document (following merges to the surviving record); a hit is
    logged as a read of that person's record."""
    person_id = ledger.find_person(str(id_type), id_number)
    reads.log(person_id)
    return {"person_id": person_id}


@router.get("/{person_id}", response_model=PersonOut, responses=problem_responses(404, 422, 503))
def get_person(person_id: UUID, ledger: LedgerDep, reads: ReadsDep) -> dict[str, Any]:
    """A person with their identity, screenings, doses and adverse events, from the write model (logged)."""
    state = person_state(ledger.person(person_id))
    reads.log(person_id)
    return state


@router.post("/{person_id}/corrections", response_model=PersonChanged, responses=problem_responses(404, 409, 422, 503))
def correct_person(person_id: UUID, body: PersonCorrection, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Correct details for a data-quality reason; each reason may change only its own fields."""
    changes = body.changes.model_dump(exclude_unset=True)
    return answer(PersonChanged, ledger.correct_person(person_id=person_id, changes=changes, reason=body.reason, prov=prov))


@router.post(
    "/{person_id}/verifications", response_model=PersonChanged, responses=problem_responses(404, 409, 422, 503)
)
def verify_identity(
    person_id: UUID, body: IdentityVerification, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Record the result of checking the identity against the population register."""
    return answer(PersonChanged, ledger.verify_identity(
        person_id=person_id, result=body.result, register_ref=body.register_ref,
        mismatched_fields=body.mismatched_fields, prov=occurred(prov, body.occurred_at),
    ))


@router.post("/{person_id}/merge", response_model=MergeChanged, responses=problem_responses(404, 409, 422, 503))
def merge_people(person_id: UUID, body: PersonMerge, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Merge this duplicate record into `into_person_id`, which takes over its valid doses."""
    return answer(MergeChanged, ledger.merge_people(duplicate_id=person_id, into_id=body.into_person_id, reason=body.reason, prov=prov))


@router.post(
    "/{person_id}/merge-reversal", response_model=MergeChanged, responses=problem_responses(404, 409, 422, 503)
)
def revert_merge(person_id: UUID, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Undo a wrong merge of this record (`not_merged`, `merge_revert_blocked`)."""
    return answer(MergeChanged, ledger.revert_merge(duplicate_id=person_id, prov=prov))


def person_state(p: Person) -> dict[str, Any]:
    """A person's write-model state as plain data."""
    return {
        "person_id": p.id, "id_type": p.id_type, "id_number": p.id_number, "full_name": p.full_name,
        "date_of_birth": p.date_of_birth, "sex": p.sex, "phone": p.phone, "address": p.address,
        "verification": p.verification, "merged_into": p.merged_into, "vaccination_status": p.vaccination_status,
        "allocated_district": p.allocated_district,
        "screenings": [{"screening_id": sid, **s} for sid, s in p.screenings.items()],
        "doses": list(p.doses.values()),
        "adverse_events": [{"aefi_id": aid, **a} for aid, a in p.aefis.items()],
        "version": p.version,
    }
