"""Building blocks of the API schemas: strict bases, the closed code sets, shared shapes.

The closed sets come from `ledger.domain.codes` and the vaccine policy, so the API and
the domain can never disagree about which codes exist; each becomes a named enum in the
OpenAPI document (so generated clients get real enums). Models keep enum *values*
(plain strings), so nothing API-specific reaches the domain or its stored events.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from ledger.domain import codes
from ledger.policies.vaccines import VACCINE_CODES


def _enum(name: str, values: frozenset[str] | tuple[str, ...], doc: str) -> type[StrEnum]:
    enum = StrEnum(name, {value: value for value in sorted(values)})
    enum.__doc__ = doc
    return enum


FacilityKind = _enum("FacilityKind", codes.FACILITY_KINDS, "Kind of facility.")
IdType = _enum("IdType", codes.ID_TYPES, "Identity document type; `none` for people without an id number.")
Sex = _enum("Sex", codes.SEXES, "Sex as recorded.")
AdjustmentReason = _enum("AdjustmentReason", codes.ADJUSTMENT_REASONS, "Why on hand was adjusted.")
AdjustmentDirection = _enum("AdjustmentDirection", ("in", "out"), "Whether an adjustment adds or removes stock.")
DiscrepancyReason = _enum(
    "DiscrepancyReason", codes.TRANSFER_DISCREPANCY_REASONS, "Why a received quantity differs from the dispatched."
)
CorrectionReason = _enum("CorrectionReason", codes.CORRECTION_REASONS, "Data-quality reason for a correction.")
VerificationResult = _enum("VerificationResult", codes.VERIFICATION_RESULTS, "Outcome of a register check.")
ScreeningOutcome = _enum("ScreeningOutcome", codes.SCREENING_OUTCOMES, "Outcome of pre-vaccination screening.")
DoseVoidReason = _enum("DoseVoidReason", codes.DOSE_VOID_REASONS, "Why a dose record no longer counts.")
DoseCorrectionReason = _enum("DoseCorrectionReason", codes.DOSE_CORRECTION_REASONS, "Why a dose was corrected.")
IntervalOverrideReason = _enum(
    "IntervalOverrideReason", codes.INTERVAL_OVERRIDE_REASONS, "Why a dose was given before the policy interval."
)
DoseKind = _enum("DoseKind", codes.DOSE_KINDS, "Kind of dose.")
AefiSeverity = _enum("AefiSeverity", codes.AEFI_SEVERITIES, "Severity of an adverse event.")
AefiCausality = _enum("AefiCausality", codes.AEFI_CAUSALITY, "WHO causality class of an adverse event.")
LotRecallReason = _enum("LotRecallReason", codes.LOT_RECALL_REASONS, "Why a lot was recalled.")
Source = _enum("Source", codes.SOURCES, "Channel through which a fact is recorded.")
VaccineCode = _enum("VaccineCode", VACCINE_CODES, "Vaccine product code.")
TotalsBy = _enum("TotalsBy", ("province", "vaccine", "province_vaccine"), "Grouping of stock totals.")

# -- constrained scalars ----------------------------------------------------------------------------

#: Doses moved by one command (the domain's bound).
Quantity = Annotated[StrictInt, Field(ge=1, le=10_000_000, description="Whole doses, 1 to 10,000,000.")]
Count = Annotated[StrictInt, Field(ge=0, le=10_000_000, description="Whole doses, 0 to 10,000,000.")]
ProvinceCode = Annotated[StrictStr, Field(pattern=r"^[0-9]{2}$", description="Province code (2 digits).")]
DistrictCode = Annotated[StrictStr, Field(pattern=r"^[0-9]{3}$", description="District code (3 digits).")]
WardCode = Annotated[StrictStr, Field(pattern=r"^[0-9]{5}$", description="Ward code (5 digits).")]
Note = Annotated[StrictStr, Field(max_length=2000)]
Reason = Annotated[StrictStr, Field(min_length=1, max_length=500, description="Free-text reason.")]


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are refused, codes are kept as plain strings."""

    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL: accepted here, it would stop a projection at that event.
        if _holds_nul(value):
            raise ValueError("text must not contain NUL characters")
        return value


class CommandBody(RequestModel):
    """Base of command bodies whose fact may have happened before it is recorded."""

    occurred_at: AwareDatetime | None = Field(
        None,
        description="Business time of the fact, with a time zone; omitted means now. The recording time is "
        "kept separately by the ledger.",
    )


class ResponseModel(BaseModel):
    """Base of response bodies; extra keys pass through, so a newer server never breaks on render."""

    model_config = ConfigDict(extra="allow")


# -- command answers --------------------------------------------------------------------------------


class CommandResponse(ResponseModel):
    """What every write answers: the ids it created or changed and the position of its last event.

    `position` can be passed as `min_position` to a projection read (read-your-writes).
    `replayed` is true when the `Idempotency-Key` was seen before and nothing was written.
    """

    ids: dict[str, Any]
    position: int = Field(description="Position of the command's last event in the global log.")
    replayed: bool = Field(False, description="True when this answers a repeat of an earlier command.")


# -- problems ---------------------------------------------------------------------------------------


class ProblemError(BaseModel):
    """One validation error."""

    field: str = Field(description="Dotted location of the offending input, e.g. `lines[0].quantity`.")
    message: str
    type: str = Field(description="Machine-readable error type.")


class Problem(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="URI naming the problem type, e.g. `.../problems/stock_never_negative`.")
    title: str
    status: int
    detail: str | None = None
    rule: str | None = Field(None, description="409: the name of the rule the command broke.")
    field: str | None = Field(None, description="422: the first offending field.")
    errors: list[ProblemError] | None = Field(None, description="422: every offending field.")
    kind: str | None = Field(None, description="404: what kind of record was not found.")
    key: str | None = Field(None, description="404: the id that was not found.")
