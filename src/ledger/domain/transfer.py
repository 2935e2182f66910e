"""Transfers of vaccine between locations: dispatched -> in transit -> received or cancelled.

Stock leaves the source card at dispatch (saved together with the transfer) and
arrives on the destination cards at receipt (saved together). What arrives may differ
from what left; each line's discrepancy carries a reason.
"""

from __future__ import annotations

import re
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import TRANSFER_DISCREPANCY_REASONS, require_code
from .errors import Invalid, RuleViolation
from .stock import positive_quantity

_DOCUMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{1,63}$")


class Transfer(LedgerAggregate):
    """One dispatch document: lines of (lot, quantity) from a source to a destination."""

    TOPIC = "ledger.transfer.Transfer"

    class Dispatched(LedgerAggregate.Created, Stamped):
        """Stock left the source for the destination; it is in transit until received."""

        TOPIC = "ledger.transfer.Dispatched"
        document_number: str
        source_id: UUID
        destination_id: UUID
        #: [{"lot_id": str, "quantity": int}]
        lines: list

    class Received(Stamped):
        """The destination received the transfer; `lines` give what arrived and why any differs."""

        TOPIC = "ledger.transfer.Received"
        #: [{"lot_id": str, "dispatched": int, "received": int, "discrepancy_reason": str | None}]
        lines: list

        def apply(self, transfer: Transfer) -> None:
            transfer.status = "received"
            transfer.received = self.lines

    class Cancelled(Stamped):
        """The transfer was cancelled in transit; its stock went back to the source."""

        TOPIC = "ledger.transfer.Cancelled"
        reason: str

        def apply(self, transfer: Transfer) -> None:
            transfer.status = "cancelled"

    def __init__(self, document_number: str, source_id: UUID, destination_id: UUID, lines: list) -> None:
        self.document_number = document_number
        self.source_id = source_id
        self.destination_id = destination_id
        self.lines = lines
        self.status = "in_transit"
        #: The receipt's lines (what arrived, and why any differs) once received.
        self.received: list[dict] | None = None

    @staticmethod
    def create_id(document_number: str) -> UUID:
        return natural_id("transfer", document_number.upper())

    @staticmethod
    def normalise_lines(lines: object) -> list[dict]:
        """Validate dispatch lines: at least one, each lot once, quantities positive."""
        if not isinstance(lines, list) or not lines:
            raise Invalid("lines", "a transfer needs at least one line")
        seen: set[str] = set()
        result = []
        for i, line in enumerate(lines):
            if not isinstance(line, dict) or "lot_id" not in line:
                raise Invalid(f"lines[{i}].lot_id", "each line needs lot_id and quantity")
            lot_id = str(line["lot_id"])
            if lot_id in seen:
                raise Invalid(f"lines[{i}].lot_id", "each lot may appear on one line only")
            seen.add(lot_id)
            result.append({"lot_id": lot_id, "quantity": positive_quantity(f"lines[{i}].quantity", line.get("quantity"))})
        return result

    @classmethod
    def dispatch(
        cls, *, document_number: str, source_id: UUID, destination_id: UUID, lines: list[dict], prov: Provenance
    ) -> Transfer:
        if not isinstance(document_number, str) or not _DOCUMENT.match(document_number):
            raise Invalid("document_number", "document_number must be 2-64 letters, digits, '.', '/', '_' or '-'")
        if source_id == destination_id:
            raise RuleViolation("transfer_to_same_location", "source and destination must differ")
        return cls._create(
            cls.Dispatched,
            id=cls.create_id(document_number),
            document_number=document_number.upper(),
            source_id=source_id,
            destination_id=destination_id,
            lines=cls.normalise_lines(lines),
            **prov.fields(),
        )

    def _require_in_transit(self) -> None:
        if self.status != "in_transit":
            raise RuleViolation(
                "transfer_not_in_transit", f"transfer {self.document_number} is already {self.status}"
            )

    def receive(self, *, lines: list[dict], prov: Provenance) -> list[dict]:
        """Record receipt; `lines` name, in the request's order, the lots whose quantity differs:
        {"lot_id" (str), "quantity", "discrepancy_reason"}. Lots not named arrived in full.

        Errors name the request line (`lines[1].quantity`). Returns the receipt lines.
        """
        self._require_in_transit()
        known = {line["lot_id"] for line in self.lines}
        named: dict[str, tuple[int, dict]] = {}
        for i, got in enumerate(lines):
            lot_id = got.get("lot_id")
            if lot_id not in known:
                raise Invalid(f"lines[{i}].lot_id", f"lot {lot_id} is not on transfer {self.document_number}")
            if lot_id in named:
                raise Invalid(f"lines[{i}].lot_id", f"lot {lot_id} is named twice")
            named[lot_id] = (i, got)
        result = []
        for line in self.lines:
            i, got = named.get(line["lot_id"], (None, {}))
            field = f"lines[{i}]"
            quantity = got.get("quantity", line["quantity"])
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
                raise Invalid(f"{field}.quantity", "received quantity must be a whole number, zero or more")
            if quantity > line["quantity"]:
                raise RuleViolation(
                    "received_exceeds_dispatched",
                    f"received {quantity} of lot {line['lot_id']} but {line['quantity']} were dispatched",
                    line=i,
                )
            reason = got.get("discrepancy_reason")
            if quantity < line["quantity"]:
                require_code(f"{field}.discrepancy_reason", reason, TRANSFER_DISCREPANCY_REASONS)
            else:
                reason = None
            result.append(
                {"lot_id": line["lot_id"], "dispatched": line["quantity"], "received": quantity,
                 "discrepancy_reason": reason}
            )
        self._record(self.Received, prov, lines=result)
        return result

    def cancel(self, *, reason: str, prov: Provenance) -> None:
        self._require_in_transit()
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason", "a reason is required to cancel a transfer")
        self._record(self.Cancelled, prov, reason=reason.strip())
