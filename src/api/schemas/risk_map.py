"""Schemas of the epidemic risk map (assessments per area and ISO week) and the reference population."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from ledger.domain.population import AREA_LEVELS

from .common import CommandResponse, RequestModel, ResponseModel, _enum

AreaLevel = _enum("AreaLevel", AREA_LEVELS, "Administrative level of an area.")
Count = Annotated[StrictInt, Field(ge=0, le=200_000_000)]


class PopulationRecord(RequestModel):
    """One area's reference population for a year (published figures, with where they come from)."""

    area_level: AreaLevel
    area_code: Annotated[StrictStr, Field(pattern=r"^[0-9]{2,5}$", description="GSO code: 2, 3 or 5 digits.")]
    province_code: Annotated[StrictStr, Field(pattern=r"^[0-9]{2}$")]
    year: Annotated[StrictInt, Field(ge=1999, le=2100)]
    total: Count
    aged_18_plus: Count
    aged_50_plus: Count
    data_source: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class PopulationLoad(RequestModel):
    """Many areas at once: all are recorded, or none (the refusal lists every bad row)."""

    rows: Annotated[list[PopulationRecord], Field(min_length=1, max_length=20_000)]


class PopulationChanged(CommandResponse):
    """`ids`: `population_id` and `outcome` (`recorded` / `revised` / `unchanged`)."""


class PopulationLoaded(CommandResponse):
    """`ids`: `rows`, and how many were `recorded`, `revised` and `unchanged`."""


class CoverageOut(ResponseModel):
    numerator: int
    denominator: int
    share: str | None = Field(description="numerator / denominator, 4 decimals (display; levels use exact ratios)")
    measures: str


class PolicyLevelOut(ResponseModel):
    policy_id: str
    coverage_high: bool
    capacity_adequate: bool | None
    band: int | None
    band_label: str | None
    level: int | None
    colour: str | None


class ReferenceOut(ResponseModel):
    year: int
    data_source: str


class AssessmentOut(ResponseModel):
    """An area's risk level for an ISO week and every input that produced it."""

    area_level: str
    area_code: str
    province_code: str | None
    week: str
    cases: int = Field(description="Active community cases confirmed in the week (local day, UTC+7).")
    population: int = Field(description="The denominator used (see denominator_source).")
    denominator_source: str | None = Field(description="`reference` (loaded population) or `registered` residents.")
    reference: ReferenceOut | None
    registered_residents: int
    cases_per_100k: str | None = Field(description="2 decimals (display; the band uses the exact ratio).")
    coverage: dict[str, CoverageOut]
    capacity_adequate: bool | None = Field(description="Criterion 3; not recorded yet (null); provisionally "
                                                       "it keeps the level as computed.")
    policy_id: str | None = Field(description="The policy version in force on the week's Sunday.")
    level: int | None
    colour: str | None
    band_label: str | None
    by_policy: list[PolicyLevelOut]


class RiskMapOut(ResponseModel):
    area_level: str
    week: str
    areas: list[AssessmentOut]


class LevelChangeOut(ResponseModel):
    area_level: str
    area_code: str
    week: str
    previous_level: int | None
    level: int | None
    policy_id: str | None


class LevelChangesOut(ResponseModel):
    area_level: str
    week: str
    changes: list[LevelChangeOut]
