"""The projections' progress: position, head, lag and throughput of each, and their scratch areas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from projections import scratch

from ..deps import RuntimeDep
from ..errors import problem_responses
from ..schemas import ProjectionStatuses

router = APIRouter(prefix="/v1/projections", tags=["projections"])


@router.get("", response_model=ProjectionStatuses, responses=problem_responses(503))
def projection_status(runtime: RuntimeDep) -> dict[str, Any]:
    """Each projection's position, the log's head, the lag between them, and events applied per second;
    and the scratch areas: as-of builds that reads can use, rebuilds under way."""
    areas = [{"name": a, "positions": scratch.positions(runtime.db, a)} for a in scratch.areas(runtime.db)]
    return {"items": runtime.status(), "scratch_areas": areas}
