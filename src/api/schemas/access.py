"""The access log and break-the-glass: who read a person's record, and emergency openings."""

from __future__ import annotations

from uuid import UUID

from pydantic import AwareDatetime, Field

from ledger.domain.access import BREAK_GLASS_DEFAULT_HOURS, BREAK_GLASS_MAX_HOURS

from .common import CommandResponse, RequestModel, ResponseModel


class BreakGlassRequest(RequestModel):
    reason: str = Field(min_length=10, max_length=2000,
                        description="Why the record must be opened outside the token's scope (kept for review).")
    hours: float = Field(BREAK_GLASS_DEFAULT_HOURS, gt=0, le=BREAK_GLASS_MAX_HOURS,
                         description="How long the opening lasts.")


class BreakGlassIds(ResponseModel):
    break_glass_id: UUID
    expires_at: AwareDatetime


class BreakGlassOpened(CommandResponse):
    ids: BreakGlassIds


class AccessRead(ResponseModel):
    """One read of a person's record."""

    access_id: UUID
    position: int
    person_id: UUID
    grant_id: UUID
    actor: str = Field(description="The token's subject.")
    org: str
    role: str
    route: str
    purpose: str
    break_glass_id: UUID | None = Field(description="Set when the read was outside the token's scope.")
    read_at: str


class AccessReads(ResponseModel):
    items: list[AccessRead]


class BreakGlassOpening(ResponseModel):
    position: int
    break_glass_id: UUID
    person_id: UUID
    grant_id: UUID
    actor: str
    org: str
    role: str
    reason: str
    opened_at: str
    expires_at: str


class BreakGlassOpenings(ResponseModel):
    items: list[BreakGlassOpening]
