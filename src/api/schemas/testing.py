"""Schemas of samples, lab results, pools awaiting retest and the case register."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictStr

from ledger.domain import codes

from .common import CommandBody, CommandResponse, RequestModel, ResponseModel, _enum

TestMethod = _enum("TestMethod", codes.TEST_METHODS, "Test method.")
TestResult = _enum("TestResult", codes.TEST_RESULTS, "Result of a test.")
PoolKind = _enum("PoolKind", codes.POOL_KINDS, "Kind of pooled sample.")
ResultCorrectionReason = _enum("ResultCorrectionReason", codes.RESULT_CORRECTION_REASONS,
                               "Why a result was corrected.")
ResultRejectionReason = _enum("ResultRejectionReason", codes.RESULT_REJECTION_REASONS, "Why a result was rejected.")
EpiLinkKind = _enum("EpiLinkKind", codes.EPI_LINK_KINDS, "Kind of epidemiological link.")
CaseRule = _enum("CaseRule", codes.CASE_RULES, "The F0 rule that confirmed a case.")
CaseStatus = _enum("CaseStatus", ("active", "retracted"), "Whether a case stands or was retracted.")

Barcode = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{3,63}$",
                                     description="The sample tube's barcode (case-insensitive).")]
CtValue = Annotated[float, Field(gt=0, le=50, allow_inf_nan=False, strict=True,
                                 description="RT-PCR cycle threshold (only with an RT-PCR result that is not invalid).")]


class EpiLink(RequestModel):
    """An epidemiological link declared with a sample (F0 rule 3 of 11042/BYT-DP)."""

    kind: EpiLinkKind
    ref: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None


class SampleCollection(CommandBody):
    """A sample taken from one person, or a pool of people (`pool_kind`), at a sampling facility."""

    barcode: Barcode
    method: TestMethod
    subject_ids: Annotated[list[UUID], Field(min_length=1, max_length=50,
                                             description="The person, or the pool's members (size per policy).")]
    facility_id: UUID
    pool_kind: PoolKind | None = Field(None, description="Omitted for one person's sample.")
    symptom_onset: date | None = Field(None, description="Day symptoms began, if any (starts the infectious period).")
    retest_of: UUID | None = Field(None, description="The positive pool this individual sample retests.")
    epi_link: EpiLink | None = None


class SampleReceipt(CommandBody):
    """A lab receives the sample."""

    lab_id: UUID


class ResultRecording(CommandBody):
    """The receiving lab records the sample's result."""

    result: TestResult
    ct_value: CtValue | None = None


class ResultCorrection(CommandBody):
    """Correct a recorded result, with a reason."""

    result: TestResult
    ct_value: CtValue | None = None
    reason: ResultCorrectionReason


class ResultRejection(CommandBody):
    """Reject a recorded result, with a reason: it no longer counts, and the sample takes no other."""

    reason: ResultRejectionReason


class SampleChanged(CommandResponse):
    """`ids`: `sample_id`; after a result, `case` (`confirmed`/`retracted`) and `case_id` when a person's case
    changed, `retests_required` / `retests_released` for a pool's members."""


class SampleOut(ResponseModel):
    sample_id: UUID
    barcode: str
    method: str
    subject_ids: list[UUID]
    pool_kind: str | None
    facility_id: UUID
    collected_at: AwareDatetime
    symptom_onset: date | None
    pool_policy_id: str
    retest_of: UUID | None
    epi_link: dict[str, Any] | None
    status: str = Field(description="collected, received, resulted or rejected.")
    lab_id: UUID | None
    received_at: AwareDatetime | None
    result: str | None
    ct_value: float | None
    resulted_at: AwareDatetime | None
    corrections: int
    rejection_reason: str | None
    version: int


class SampleRow(ResponseModel):
    sample_id: str
    barcode: str
    method: str
    pool_kind: str | None
    pool_size: int
    facility_id: str
    collected_at: str
    collected_on: date
    status: str
    result: str | None
    ct_value: float | None
    resulted_at: str | None


class RetestRow(ResponseModel):
    pool_sample_id: str
    barcode: str
    pool_kind: str
    required_at: str
    status: str
    cleared_at: str | None
    cleared_by_sample_id: str | None
    clear_reason: str | None


class CaseOut(ResponseModel):
    case_id: str
    person_id: str
    rule: CaseRule
    policy_id: str
    confirmed_at: str
    confirmed_on: date
    iso_week: str
    community: bool
    province_code: str | None
    district_code: str | None
    ward_code: str | None
    infectious_from: str
    status: CaseStatus
    evidence: list[dict[str, Any]]
    epi_link: dict[str, Any] | None
    retracted_at: str | None
    retraction_reason: str | None


class PersonTestResultsOut(ResponseModel):
    """Every sample naming the person (pooled or not), the retests they await or awaited, and their cases."""

    person_id: str
    samples: list[SampleRow]
    retests: list[RetestRow]
    cases: list[CaseOut]


class PoolAwaitingRetest(ResponseModel):
    sample_id: str
    barcode: str
    pool_kind: str
    pool_size: int
    collected_at: str
    province_code: str | None
    lab_id: str | None
    resulted_at: str | None
    awaiting: int
    awaiting_person_ids: list[str]


class PoolsPage(ResponseModel):
    items: list[PoolAwaitingRetest]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")


class CasesPage(ResponseModel):
    items: list[CaseOut]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last.")
