"""Schemas of operational reads: projection status and health."""

from __future__ import annotations

from pydantic import Field

from .common import ResponseModel


class ProjectionStatus(ResponseModel):
    name: str
    position: int = Field(description="Position up to which the projection has processed the log.")
    head: int = Field(description="Position of the newest event in the log.")
    lag: int = Field(description="head - position.")
    events_per_second: float


class ScratchAreaStatus(ResponseModel):
    name: str = Field(description="`asof_<N>_...`: an as-of build, readable with `?as_of_position=N`; "
                      "`rebuild_...`: a rebuild under way or interrupted.")
    positions: dict[str, int] = Field(description="Each projection in the area, and the position it has reached.")


class ProjectionStatuses(ResponseModel):
    items: list[ProjectionStatus]
    scratch_areas: list[ScratchAreaStatus]


class Liveness(ResponseModel):
    status: str


class Readiness(ResponseModel):
    status: str
    head: int = Field(description="Position of the newest event in the log.")
