"""Bodies of backlog imports (`POST /v1/imports/backlog`)."""

from __future__ import annotations

from pydantic import Field

from .checkins import RowStatus
from .common import ResponseModel


class ImportRowOut(ResponseModel):
    line: int = Field(description="Line number in the upload (1-based; a CSV's header is line 1).")
    status: RowStatus
    ref: str | None = Field(None, description="The row's own reference (its idempotency key).")
    command: str | None = None
    ids: dict[str, str] | None = Field(None, description="What the row's command answered (for a duplicate: "
                                       "what it answered the first time).")
    field: str | None = Field(None, description="Refused as malformed (422-like): the offending field.")
    rule: str | None = Field(None, description="Refused by a rule (409-like): the rule's name.")
    message: str | None = None


class ImportReportOut(ResponseModel):
    accepted: int
    duplicate: int
    refused: int
    position: int = Field(description="Position of the log after the upload (for `min_position`).")
    rows: list[ImportRowOut] = Field(description="Every row's report in line order (only the rows not accepted "
                                     "with `?rows=problems`).")
