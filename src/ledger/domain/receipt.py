"""Command receipts: a repeated command with the same `client_ref` returns the first result.

The receipt is saved in the same transaction as the command's events, so a command is
either recorded with its receipt or not at all; a concurrent duplicate collides on the
receipt's first version and then finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .errors import RuleViolation


class CommandReceipt(LedgerAggregate):
    """The outcome of the first command an organisation sent with a given client_ref."""

    TOPIC = "ledger.receipt.CommandReceipt"

    class Issued(LedgerAggregate.Created, Stamped):
        """A command carrying a client_ref was recorded; `result` holds the ids it returned."""

        TOPIC = "ledger.receipt.Issued"
        command: str
        request_digest: str
        result: dict

    def __init__(self, command: str, request_digest: str, result: dict, occurred_at: datetime | None = None) -> None:
        self.command = command
        self.request_digest = request_digest
        self.result = result
        #: When the first command said its fact happened (its provenance's `occurred_at`, from the
        #: `Issued` event): a repeat must say the same, or it is another command under the same ref.
        self.occurred_at = occurred_at

    @staticmethod
    def create_id(org: str, client_ref: str) -> UUID:
        return natural_id("receipt", org, client_ref)

    @classmethod
    def issue(cls, *, command: str, request_digest: str, result: dict, prov: Provenance) -> CommandReceipt:
        assert prov.client_ref is not None
        return cls._create(
            cls.Issued,
            id=cls.create_id(prov.org, prov.client_ref),
            command=command,
            request_digest=request_digest,
            result=result,
            **prov.fields(),
        )

    def replay(self, command: str, request_digest: str, occurred_at: datetime | None = None) -> dict:
        """The first result, if this is the same command with the same content and business time
        (a backlog row re-sent with its date corrected is not a repeat: it would be lost as one)."""
        if command != self.command or request_digest != self.request_digest:
            raise RuleViolation(
                "client_ref_reused",
                "this client_ref was already used for a different command or content",
                command=self.command,
            )
        if occurred_at != self.occurred_at:
            raise RuleViolation(
                "client_ref_reused",
                "this client_ref was already used for the same command with another occurred_at",
                command=self.command,
                occurred_at=self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None,
            )
        return self.result
