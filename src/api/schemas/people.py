"""Schemas of people: registration, identity corrections, verification and merges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field, StrictStr

from .common import (
    CommandBody,
    CommandResponse,
    CorrectionReason,
    DistrictCode,
    IdType,
    ProvinceCode,
    Reason,
    RequestModel,
    ResponseModel,
    Sex,
    VerificationResult,
    WardCode,
)

#: ASCII only: the domain's formats use `\d`, which also matches fullwidth and other digits, so
#: `００１...` would pass as a *different* number than `001...` and slip past one-person-per-number.
ID_NUMBER_PATTERN = r"^[A-Za-z0-9 ]{1,32}$"
IdNumber = Annotated[StrictStr, Field(pattern=ID_NUMBER_PATTERN, description="Identity document number.")]
FullName = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Phone = Annotated[StrictStr, Field(pattern=r"^\+?[0-9]{9,15}$", description="9-15 digits, optional leading '+'.")]


class Address(RequestModel):
    line: Annotated[StrictStr, Field(max_length=300)] | None = None
    province_code: ProvinceCode
    district_code: DistrictCode | None = None
    ward_code: WardCode | None = None


class PersonRegistration(CommandBody):
    """Register a person; one person per identity document."""

    id_type: IdType
    id_number: IdNumber | None = Field(None, description="Required unless id_type is `none`.")
    full_name: FullName
    date_of_birth: date
    sex: Sex
    phone: Phone | None = None
    address: Address


class PersonChanges(RequestModel):
    """The fields a correction changes; which ones a reason may change is a domain rule."""

    id_type: IdType | None = None
    id_number: IdNumber | None = None
    full_name: FullName | None = None
    date_of_birth: date | None = None
    sex: Sex | None = None
    phone: Phone | None = None
    address: Address | None = None


class PersonCorrection(RequestModel):
    """Correct a person's details for a data-quality reason."""

    reason: CorrectionReason
    changes: PersonChanges


class IdentityVerification(CommandBody):
    """The result of checking the identity against the population register."""

    result: VerificationResult
    register_ref: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    mismatched_fields: Annotated[list[Annotated[StrictStr, Field(min_length=1, max_length=64)]],
                                 Field(max_length=20)] | None = None


class PersonMerge(RequestModel):
    """Merge this (duplicate) record into another."""

    into_person_id: UUID
    reason: Reason


class PersonIds(ResponseModel):
    person_id: UUID


class PersonChanged(CommandResponse):
    ids: PersonIds


class MergeIds(ResponseModel):
    person_id: UUID
    into_person_id: UUID


class MergeChanged(CommandResponse):
    ids: MergeIds


class PersonLookup(ResponseModel):
    """The person holding an identity document (the surviving record after a merge)."""

    person_id: UUID


class AddressOut(ResponseModel):
    line: str | None = None
    province_code: str
    district_code: str | None = None
    ward_code: str | None = None


class ScreeningOut(ResponseModel):
    screening_id: UUID
    facility_id: UUID
    screened_at: datetime
    outcome: str
    observation_minutes: int
    dose_id: UUID | None


class DoseOut(ResponseModel):
    dose_id: UUID
    vaccine: str
    lot_id: UUID
    lot_number: str
    facility_id: UUID
    administered_at: datetime
    kind: str
    interval_override: bool
    voided: bool
    changed: bool = Field(description="Voided or corrected since it was recorded.")
    observed: bool = False
    origin_person_id: UUID | None = Field(None, description="Set when the dose came in with a merged record.")


class AdverseEventOut(ResponseModel):
    aefi_id: UUID
    dose_id: UUID
    severity: str
    causality: str | None = None


class PersonOut(ResponseModel):
    """A person as the write model holds them (always current)."""

    person_id: UUID
    id_type: IdType
    id_number: str | None
    full_name: str
    date_of_birth: date
    sex: Sex
    phone: str | None
    address: AddressOut
    verification: str | None
    merged_into: UUID | None
    vaccination_status: str | None
    allocated_district: str | None
    screenings: list[ScreeningOut]
    doses: list[DoseOut]
    adverse_events: list[AdverseEventOut]
    version: int
