"""Schemas of venues' QR payloads, check-ins (single and bulk reports) and exposure candidates."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictStr, model_validator

from ledger.domain import codes

from .common import CommandResponse, RequestModel, ResponseModel, _enum

CheckInMode = _enum("CheckInMode", codes.CHECKIN_MODES, "How a check-in was made.")
RowStatus = _enum("RowStatus", ("accepted", "duplicate", "refused"), "What became of one bulk row.")


class CheckInBody(RequestModel):
    """One check-in: the venue by `venue_id` or by the scanned `qr` payload (exactly one)."""

    venue_id: UUID | None = Field(None, description="The venue (a facility of kind `venue`).")
    qr: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = Field(
        None, description="The payload scanned from the venue's QR code (`NHDL-VENUE:1:<code>`).")
    person_id: UUID
    checked_in_at: AwareDatetime = Field(description="When the person checked in, with a time zone (at most 5 "
                                         "minutes ahead of the ledger's clock).")
    mode: CheckInMode

    @model_validator(mode="after")
    def _one_venue(self) -> CheckInBody:
        if (self.venue_id is None) == (self.qr is None):
            raise ValueError("give exactly one of venue_id and qr")
        return self


class CheckInRecorded(CommandResponse):
    """`ids.checkin_id`: the check-in recorded (or found again for a repeated `Idempotency-Key`)."""


class VenueQrOut(ResponseModel):
    venue_id: str
    code: str
    name: str
    qr: str = Field(description="The payload to print as the venue's QR code (stable: derived from its code).")


class CheckInOut(ResponseModel):
    checkin_id: str
    venue_id: str
    person_id: str
    checked_in_at: str
    mode: CheckInMode


class RowReportOut(ResponseModel):
    line: int = Field(description="Line number in the upload (1-based; a CSV's header is line 1).")
    status: RowStatus
    checkin_id: str | None = None
    field: str | None = Field(None, description="Refused as malformed (422-like): the offending field.")
    rule: str | None = Field(None, description="Refused by a rule (409-like): the rule's name.")
    message: str | None = None


class BulkReportOut(ResponseModel):
    accepted: int
    duplicate: int
    refused: int
    position: int = Field(description="Position of the log after the upload (for `min_position`).")
    rows: list[RowReportOut] = Field(description="Every row's report in line order (only the rows not accepted "
                                     "with `?rows=problems`).")


class EncounterOut(ResponseModel):
    venue_id: str
    venue_code: str | None
    venue_name: str | None
    province_code: str | None
    checkin_id: str
    checked_in_at: str = Field(description="The candidate's check-in (UTC).")
    case_checkin_id: str
    case_checked_in_at: str = Field(description="The case's check-in it is near (UTC).")
    gap_minutes: float = Field(description="Candidate's time minus the case's, in minutes (negative = before).")


class CandidateOut(ResponseModel):
    person_id: str
    encounters: list[EncounterOut]


class ExposureCandidatesOut(ResponseModel):
    case_id: str
    person_id: str
    status: str
    province_code: str | None
    infectious_from: str
    confirmed_at: str
    window_minutes: int
    case_checkins: int = Field(description="The case person's check-ins during the infectious period.")
    candidates: list[CandidateOut]


__all__ = ["AwareDatetime", "BulkReportOut", "CandidateOut", "CheckInBody", "CheckInOut", "CheckInRecorded",
           "EncounterOut", "ExposureCandidatesOut", "RowReportOut", "VenueQrOut"]
