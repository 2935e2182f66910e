"""Venue check-ins: a person was at a venue at a moment (the citizen scanned the venue's QR code,
or the venue's staff scanned the citizen).

A check-in is one event on an aggregate of its own: it never changes after it is recorded, and
tens of millions arrive a day, so nothing else (the venue, the person) is loaded or saved with
it. The id is `natural_id("checkin", org, client_ref)` when the sender gives its own reference,
so a repeated upload finds the first one. Venues are facilities of kind `venue`; their QR payload
is derived from their code (`venue_qr_payload`), so printing a poster needs no lookup and a
scanned payload names the venue without a secret.

Every check is a pure function here (`check_checkin`), shared by the single command and the bulk
fast path, so a row refused in bulk is refused for the same reason, field and message one at a time.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import CHECKIN_MODES, require_code
from .errors import Invalid

#: QR payload of a venue: a versioned prefix and the venue's facility code. No secret: the payload
#: only names the venue, and a check-in is still checked against the register of venues.
QR_PREFIX = "NHDL-VENUE:1:"
#: How far a check-in may lie in the future of the ledger's clock (scanner clocks drift).
CLOCK_SKEW = timedelta(minutes=5)


def venue_qr_payload(code: str) -> str:
    """The payload a venue's QR code carries: `NHDL-VENUE:1:<CODE>`."""
    return QR_PREFIX + code.upper()


def venue_code_of_qr(payload: object) -> str:
    """The venue code a scanned payload names (422 `qr` if it is not a venue payload of a known version)."""
    if not isinstance(payload, str) or not payload.startswith(QR_PREFIX) or len(payload) > 200:
        raise Invalid("qr", f"qr must be a venue payload starting with {QR_PREFIX!r}")
    code = payload[len(QR_PREFIX):].strip()
    if not code:
        raise Invalid("qr", "qr names no venue code")
    return code.upper()


def venue_id_of(venue_id: object, qr: object) -> UUID:
    """The venue a check-in names: `venue_id`, or the venue of a scanned `qr` payload (exactly one)."""
    if (venue_id is None) == (qr is None):
        raise Invalid("venue_id", "give exactly one of venue_id and qr")
    if qr is not None:
        return natural_id("facility", venue_code_of_qr(qr))
    if isinstance(venue_id, UUID):
        return venue_id
    try:
        return UUID(str(venue_id))
    except (TypeError, ValueError):
        raise Invalid("venue_id", "venue_id must be a UUID") from None


def check_checkin(*, person_id: object, checked_in_at: object, mode: object, now: datetime) -> tuple[UUID, datetime]:
    """The shape rules of a check-in, shared by the single and the bulk path: (person id, moment)."""
    if isinstance(person_id, UUID):
        pid = person_id
    else:
        try:
            pid = UUID(str(person_id))
        except (TypeError, ValueError):
            raise Invalid("person_id", "person_id must be a UUID") from None
    require_code("mode", mode, CHECKIN_MODES)
    if isinstance(checked_in_at, str):
        try:
            checked_in_at = datetime.fromisoformat(checked_in_at)
        except ValueError:
            raise Invalid("checked_in_at", "checked_in_at must be an ISO 8601 date and time") from None
    if not isinstance(checked_in_at, datetime):
        raise Invalid("checked_in_at", "checked_in_at must be a date and time")
    if checked_in_at.tzinfo is None:
        raise Invalid("checked_in_at", "checked_in_at must carry a time zone")
    if checked_in_at > now + CLOCK_SKEW:
        raise Invalid("checked_in_at", f"checked_in_at is more than {CLOCK_SKEW} in the future")
    return pid, checked_in_at


def checkin_id(org: str, client_ref: str | None) -> UUID:
    """The sender's reference makes the id (a repeat finds the first); without one, a random id."""
    return natural_id("checkin", org, client_ref) if client_ref else uuid.uuid4()


class CheckIn(LedgerAggregate):
    """One person at one venue at one moment; never changed once recorded."""

    TOPIC = "ledger.checkin.CheckIn"

    class CheckedIn(LedgerAggregate.Created, Stamped):
        """A person checked in at a venue (by scanning its QR code, or scanned by its staff)."""

        TOPIC = "ledger.checkin.CheckedIn"
        venue_id: UUID
        person_id: UUID
        checked_in_at: datetime
        mode: str

    def __init__(self, venue_id: UUID, person_id: UUID, checked_in_at: datetime, mode: str) -> None:
        self.venue_id = venue_id
        self.person_id = person_id
        self.checked_in_at = checked_in_at
        self.mode = mode

    @classmethod
    def record(
        cls, *, checkin_id: UUID, venue_id: UUID, person_id: UUID, checked_in_at: datetime, mode: str,
        prov: Provenance,
    ) -> CheckIn:
        """A checked check-in (see `check_checkin`; the venue and person are checked by the command)."""
        return cls._create(cls.CheckedIn, id=checkin_id, venue_id=venue_id, person_id=person_id,
                           checked_in_at=checked_in_at, mode=mode, **prov.fields())

    def same_as(self, *, venue_id: UUID, person_id: UUID, checked_in_at: datetime, mode: str) -> bool:
        """Whether a repeated check-in (same sender reference) says the same as this one."""
        return (self.venue_id, self.person_id, self.checked_in_at, self.mode) == (
            venue_id, person_id, checked_in_at, mode)

    def as_dict(self) -> dict[str, Any]:
        return {"checkin_id": str(self.id), "venue_id": str(self.venue_id), "person_id": str(self.person_id),
                "checked_in_at": self.checked_in_at.isoformat(), "mode": self.mode}
