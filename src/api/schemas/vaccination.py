"""Schemas of the vaccination flow: registration, approval, screening, doses and AEFI."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictBool, StrictInt, StrictStr

from .common import (
    AefiCausality,
    AefiSeverity,
    CommandBody,
    CommandResponse,
    DistrictCode,
    DoseCorrectionReason,
    DoseKind,
    DoseVoidReason,
    IntervalOverrideReason,
    Note,
    ProvinceCode,
    RequestModel,
    ResponseModel,
    ScreeningOutcome,
)

Description = Annotated[StrictStr, Field(min_length=1, max_length=200)]


def _reading(low: float, high: float, what: str) -> Any:
    return Field(None, ge=low, le=high, allow_inf_nan=False, strict=True, description=what)


class VaccinationRegistration(CommandBody):
    """The person registers for vaccination (step 1)."""

    priority_group: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    preferred_facility_id: UUID | None = None


class VaccinationApproval(CommandBody):
    """The provincial health department approves the person and allocates a district."""

    province_code: ProvinceCode
    district_code: DistrictCode
    district_facility_id: UUID | None = None


class Vitals(RequestModel):
    """Vital signs taken at screening; each optional."""

    temperature_c: float | None = _reading(25, 45, "Body temperature, °C.")
    pulse_per_min: StrictInt | None = _reading(0, 300, "Pulse, beats per minute.")
    systolic_mmhg: StrictInt | None = _reading(0, 300, "Systolic blood pressure, mmHg.")
    diastolic_mmhg: StrictInt | None = _reading(0, 250, "Diastolic blood pressure, mmHg.")
    respiration_per_min: StrictInt | None = _reading(0, 100, "Breaths per minute.")


class ScreeningAnswers(RequestModel):
    """Answers to the screening questions the policy reads (2995/3802); omitted means no."""

    anaphylaxis_to_previous_dose: StrictBool | None = None
    contraindication: StrictBool | None = None
    needs_hospital: StrictBool | None = None
    covid_within_6_months: StrictBool | None = None
    acute_illness: StrictBool | None = None
    pregnant_under_13_weeks: StrictBool | None = None


class Screening(CommandBody):
    """Pre-vaccination screening; the outcome may be stricter than the derived one, never laxer."""

    facility_id: UUID
    vitals: Vitals = Field(default_factory=Vitals)
    answers: ScreeningAnswers = Field(default_factory=ScreeningAnswers)
    outcome: ScreeningOutcome | None = Field(None, description="Omitted: the outcome the policy derives.")
    observation_minutes: Annotated[StrictInt, Field(ge=0, le=1440)] | None = None


class IntervalOverride(RequestModel):
    reason: IntervalOverrideReason
    note: Note | None = None


class DoseAdministration(CommandBody):
    """A dose given at a vaccination point from a lot; consumes one dose of stock."""

    lot_id: UUID
    facility_id: UUID
    screening_id: UUID | None = Field(None, description="Omitted: the latest unused screening.")
    kind: DoseKind | None = Field(None, description="Omitted: primary until the series is complete, then booster.")
    interval_override: IntervalOverride | None = None


class ObservationCompletion(CommandBody):
    """On-site observation after a dose ended."""

    minutes: Annotated[StrictInt, Field(ge=0, le=1440)]
    reactions: Annotated[list[Description], Field(max_length=50)] = Field(default_factory=list)


class DoseVoid(RequestModel):
    """Void a dose entered in error or twice; its dose goes back to stock."""

    reason: DoseVoidReason
    note: Note | None = None


class DoseCorrection(RequestModel):
    """Correct a dose's time and/or lot."""

    reason: DoseCorrectionReason
    administered_at: AwareDatetime | None = None
    lot_id: UUID | None = None


class AdverseEventReport(CommandBody):
    """An adverse event following immunization."""

    dose_id: UUID
    severity: AefiSeverity
    symptoms: Annotated[list[Description], Field(min_length=1, max_length=50)]
    onset_at: AwareDatetime


class AdverseEventClassification(CommandBody):
    """The expert council's causality class."""

    causality: AefiCausality
    note: Note | None = None


class ScreeningIds(ResponseModel):
    person_id: UUID
    screening_id: UUID
    outcome: ScreeningOutcome


class ScreeningRecorded(CommandResponse):
    ids: ScreeningIds


class DoseIds(ResponseModel):
    person_id: UUID
    dose_id: UUID


class DoseChanged(CommandResponse):
    ids: DoseIds


class AefiIds(ResponseModel):
    person_id: UUID
    aefi_id: UUID


class AefiChanged(CommandResponse):
    ids: AefiIds


# -- the vaccination_history projection ---------------------------------------------------------------


class Area(ResponseModel):
    province_code: str | None
    district_code: str | None
    ward_code: str | None


class Series(ResponseModel):
    status: str = Field(description="none, partial, primary_complete or boosted.")
    primary_doses_given: int
    primary_doses_required: int
    primary_completed_on: date | None
    next_dose_kind: str | None
    next_dose_earliest: date | None
    policy_id: str | None
    valid_doses: int


class HistoryDose(ResponseModel):
    dose_id: str
    recorded_on_person_id: str
    dose_number: int | None = Field(description="Position among the valid doses; null when voided.")
    kind: str
    vaccine: str
    lot_id: str
    lot_number: str
    facility_id: str
    administered_at: str = Field(description="UTC, ISO 8601.")
    administered_on: date = Field(description="Calendar day in Vietnam (UTC+7).")
    interval_override_reason: str | None
    voided: bool
    void_reason: str | None
    corrected: bool
    observation_minutes: int | None


class VaccinationHistoryOut(ResponseModel):
    """A person's vaccination history as the `vaccination_history` projection holds it; the name and date of
    birth come from the person's record (the projection keeps only the birth year)."""

    person_id: str
    full_name: str
    date_of_birth: date
    birth_year: int
    area: Area
    verification: str | None
    merged_into: str | None
    merged_records: list[str]
    series: Series
    doses: list[HistoryDose]
