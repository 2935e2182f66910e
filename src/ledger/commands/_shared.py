"""What every command shares: its answer, the request as the idempotency digest sees it, id parsing,
the read set and the bulk batch it runs in."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from ..domain import Invalid, LedgerError

if TYPE_CHECKING:
    from .backlog import Batch

#: The aggregates the running command read without changing them: id -> version read. Saved with
#: the command's events so the recorder can refuse the insert if one of them moved on.
READ_SET: ContextVar[dict[UUID, int] | None] = ContextVar("read_set", default=None)
#: The grant (id, version) of the token a command is made under, set by the API for each request:
#: it joins every command's read set, so a command never commits after its token was revoked.
CALLER_GRANT: ContextVar[tuple[UUID, int] | None] = ContextVar("caller_grant", default=None)
#: The bulk import batch the running command belongs to (`ledger.commands.backlog`), if any.
BATCH: ContextVar[Batch | None] = ContextVar("batch", default=None)


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the ids it created or changed, and the position of its last event."""

    ids: dict[str, str]
    position: int
    replayed: bool = False


@dataclass
class BulkReport:
    """What a bulk path (check-ins, backlogs) made of its rows: the counts, the position of the log after
    the last batch, and each row's report in line order (unless they were handed to an `on_report`).
    A row's report has a `status` (`accepted`, `duplicate` or `refused`) and `as_dict()`."""

    accepted: int = 0
    duplicate: int = 0
    refused: int = 0
    position: int = 0
    rows: list[Any] = field(default_factory=list)

    def take(self, reports: Iterable[Any], on_report: Callable[[Any], None] | None) -> None:
        """Count `reports`, and keep them, or hand each to `on_report` (for files of millions of rows)."""
        for report in reports:
            setattr(self, report.status, getattr(self, report.status) + 1)
            (on_report or self.rows.append)(report)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicate": self.duplicate, "refused": self.refused,
                "position": self.position, "rows": [r.as_dict() for r in self.rows]}


def json_lines(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value, or the `Invalid` of a line that is not JSON) of each non-blank line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError:
            yield number, Invalid("line", f"line {number} is not JSON")


def csv_records(lines: Iterable[str], check_header: Callable[[list[str]], LedgerError | None],
                ) -> Iterator[tuple[int, dict[str, str | None] | LedgerError]]:
    """(line number, {column: stripped cell, None when empty}) of each non-blank CSV record after the header
    line; a record with another number of cells gives its error, a header `check_header` refuses ends it."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    names = [h.strip() for h in header]
    error = check_header(names)
    if error is not None:
        yield 1, error
        return
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            yield reader.line_num, Invalid("row", f"{len(record)} cells for {len(names)} columns")
            continue
        yield reader.line_num, {n: (c.strip() or None) for n, c in zip(names, record, strict=True)}


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event `isinstance` against a runtime
    Protocol (tens of microseconds each on Python 3.11); our events all have `mutate`."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def request_digest(payload: dict) -> str:
    """What a receipt remembers of a request, to tell a repeat from another command under its client_ref."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def locals_of(**values: Any) -> dict[str, Any]:
    """The request as a dict, for the idempotency digest."""
    return values


def uuid_of(value: object, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except (TypeError, ValueError):
        raise Invalid(field, f"{field} must be a UUID") from None
