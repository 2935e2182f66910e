"""Schemas of reference data: facilities and vaccine lots."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictInt, StrictStr

from .common import (
    CommandBody,
    CommandResponse,
    DistrictCode,
    FacilityKind,
    LotRecallReason,
    Note,
    ProvinceCode,
    RequestModel,
    ResponseModel,
    VaccineCode,
    WardCode,
)

FacilityCode = Annotated[
    StrictStr,
    Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$", description="Facility code (case-insensitive, unique)."),
]


class FacilityRegistration(RequestModel):
    """Register a facility."""

    code: FacilityCode
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    kind: FacilityKind
    province_code: ProvinceCode
    district_code: DistrictCode | None = None
    ward_code: WardCode | None = None
    parent_code: FacilityCode | None = Field(None, description="Code of the facility this one reports to.")


class FacilityIds(ResponseModel):
    facility_id: UUID


class FacilityRegistered(CommandResponse):
    ids: FacilityIds


class FacilityOut(ResponseModel):
    """A facility as the write model holds it."""

    facility_id: UUID
    code: str
    name: str
    kind: FacilityKind
    province_code: str
    district_code: str | None
    ward_code: str | None
    parent_id: UUID | None
    version: int


class LotRegistration(RequestModel):
    """Register a vaccine lot."""

    vaccine: VaccineCode
    manufacturer: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    lot_number: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    expiry: date
    doses_per_vial: Annotated[StrictInt, Field(ge=1, le=20)]


class LotRecall(CommandBody):
    """Recall a lot: no further dose may be given from it."""

    reason: LotRecallReason
    note: Note | None = None


class LotIds(ResponseModel):
    lot_id: UUID


class LotChanged(CommandResponse):
    ids: LotIds


class LotOut(ResponseModel):
    """A vaccine lot as the write model holds it."""

    lot_id: UUID
    vaccine: VaccineCode
    manufacturer: str
    lot_number: str
    expiry: date
    doses_per_vial: int
    recalled: bool
    version: int
