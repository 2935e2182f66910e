"""What every command shares: its answer, the request as the idempotency digest sees it, id parsing,
the read set and the bulk batch it runs in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from ..domain import Invalid

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


def json_lines(lines: Iterable[bytes | str]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded value, or the `Invalid` of a line that is not JSON) of each non-blank line."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError:
            yield number, Invalid("line", f"line {number} is not JSON")


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
