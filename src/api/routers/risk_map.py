"""Routes of the epidemic risk map and the reference population behind it.

Reads compute assessments from the `risk_map` projection (cases, reference population) and
`vaccination_history` (registered residents, coverage) at request time, so a level is always
explained by the inputs shown next to it. A provincial caller reads its own province only.
Writes record reference population figures (one area, or a whole file all or nothing).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from ledger.domain import Invalid
from projections.risk_map import parse_week
from projections.vaccination_history import COVERAGE_YEARS

from ..deps import LedgerDep, ProvenanceDep, RiskMapRead
from ..errors import problem_responses
from ..schemas.risk_map import (
    AreaLevel,
    AssessmentOut,
    LevelChangesOut,
    PopulationChanged,
    PopulationLoad,
    PopulationLoaded,
    PopulationRecord,
    RiskMapOut,
)
from ._common import answer, in_scope, scoped_province

router = APIRouter(tags=["risk map"])

_READ = problem_responses(403, 422, 503)
Week = Annotated[str, Query(pattern=r"^[0-9]{4}-W[0-9]{2}$", description="ISO week, e.g. `2021-W50`.")]
ProvinceQuery = Annotated[str | None, Query(pattern=r"^[0-9]{2}$")]


def _week(week: str) -> str:
    try:
        parse_week(week)
    except ValueError:
        raise Invalid("week", f"{week} is not a week of its ISO year") from None
    first, last = COVERAGE_YEARS
    if not first <= int(week[:4]) <= last:
        raise Invalid("week", f"the risk map covers the ISO years {first} to {last}")
    return week


@router.get("/v1/risk-map", response_model=RiskMapOut, responses=_READ)
def risk_map(
    request: Request, maps: RiskMapRead, level: AreaLevel, week: Week,
    province_code: ProvinceQuery = None,
) -> dict[str, Any]:
    """Every area of a level (with residents, reference population or cases) assessed for an ISO week."""
    areas = maps.risk_map(str(level), _week(week), province_code=scoped_province(request, province_code))
    return {"area_level": str(level), "week": week, "areas": areas}


@router.get("/v1/risk-map/changes", response_model=LevelChangesOut, responses=_READ)
def risk_level_changes(
    request: Request, maps: RiskMapRead, level: AreaLevel, week: Week,
    province_code: ProvinceQuery = None,
) -> dict[str, Any]:
    """The areas whose level (under the version in force) changed from the previous week."""
    changes = maps.changes(str(level), _week(week), province_code=scoped_province(request, province_code))
    return {"area_level": str(level), "week": week, "changes": changes}


@router.get("/v1/risk-map/{area_level}/{area_code}", response_model=AssessmentOut, responses=_READ)
def area_risk(
    request: Request, area_level: AreaLevel, area_code: Annotated[str, Path(pattern=r"^[0-9]{2,5}$")],
    week: Week, maps: RiskMapRead,
) -> dict[str, Any]:
    """One area's assessment for an ISO week, with its inputs and its level under each policy version."""
    found = maps.assessment(str(area_level), area_code, _week(week))
    in_scope(request, found["province_code"])
    return found


@router.post("/v1/population", response_model=PopulationChanged, responses=problem_responses(409, 422, 503))
def record_population(body: PopulationRecord, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Record (or revise) one area's reference population for a year."""
    return answer(PopulationChanged, ledger.record_population(**body.model_dump(), prov=prov))


@router.post("/v1/population/bulk", response_model=PopulationLoaded, responses=problem_responses(409, 422, 503))
def load_population(body: PopulationLoad, ledger: LedgerDep, prov: ProvenanceDep) -> Response:
    """Record many areas at once, all or nothing; a refusal lists every bad row (`rows`)."""
    return answer(PopulationLoaded, ledger.load_population(rows=[r.model_dump() for r in body.rows], prov=prov))
