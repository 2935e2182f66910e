"""What every command shares: its answer, the request as the idempotency digest sees it, id parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ..domain import Invalid


@dataclass(frozen=True)
class CommandResult:
    """What a command answers: the ids it created or changed, and the position of its last event."""

    ids: dict[str, str]
    position: int
    replayed: bool = False


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
