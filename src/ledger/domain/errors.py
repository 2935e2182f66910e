"""Domain errors: one small hierarchy, each naming the rule or field concerned.

The API maps them once: `Invalid` -> 422 (with the field), `NotFound` -> 404,
`RuleViolation` and `Conflict` -> 409 (with the rule's name).
"""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(LedgerError):
    """Malformed input: a field is missing, of the wrong shape, or out of its closed set."""

    def __init__(self, field: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.field = field


class NotFound(LedgerError):
    """The command or query names a record that does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found", kind=kind, key=str(key))
        self.kind = kind
        self.key = key


class RuleViolation(LedgerError):
    """A domain rule refuses the command; `rule` is its stable, documented name."""

    def __init__(self, rule: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.rule = rule


class Conflict(RuleViolation):
    """The command lost a race with a concurrent writer more times than we retry."""

    def __init__(self, message: str = "concurrent update, try again", **details: Any) -> None:
        super().__init__("concurrent_modification", message, **details)
