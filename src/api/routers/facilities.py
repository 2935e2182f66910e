"""Facilities: warehouses, district centres, vaccination points, labs and venues."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from ..deps import LedgerDep, ProvenanceDep
from ..errors import problem_responses
from ..schemas import FacilityOut, FacilityRegistered, FacilityRegistration
from ._common import LOCATION_HEADER, answer, arguments

PREFIX = "/v1/facilities"
router = APIRouter(prefix=PREFIX, tags=["facilities"])


@router.post(
    "",
    status_code=201,
    response_model=FacilityRegistered,
    responses={201: {"headers": LOCATION_HEADER}, **problem_responses(409, 422, 503)},
)
def register_facility(
    body: FacilityRegistration, ledger: LedgerDep, prov: ProvenanceDep
) -> Response:
    """Register a facility under its code (`facility_code_exists` if the code is taken)."""
    result = ledger.register_facility(**arguments(body), prov=prov)
    return answer(FacilityRegistered, result, f"{PREFIX}/{result.ids['facility_id']}")


@router.get("/{facility_id}", response_model=FacilityOut, responses=problem_responses(404, 422, 503))
def get_facility(facility_id: UUID, ledger: LedgerDep) -> dict[str, Any]:
    """A facility, from the write model."""
    f = ledger.facility(facility_id)
    return {
        "facility_id": f.id, "code": f.code, "name": f.name, "kind": f.kind, "province_code": f.province_code,
        "district_code": f.district_code, "ward_code": f.ward_code, "parent_id": f.parent_id, "version": f.version,
    }
