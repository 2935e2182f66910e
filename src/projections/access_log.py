"""Projection `access_log`: who read which person's record, when, why and through which route;
and every break-the-glass opening, for review.

A citizen lists the reads of their own record; an auditor lists the reads made with a token.
Rows are append-only, keyed by the read (or by the opening's position).
"""

from __future__ import annotations

from uuid import UUID

from ledger.domain import BreakGlass, RecordAccess

from .base import Fact, Projection, Rows, utc_text
from .db import ProjectionDB, Tx

_REOPENED = Projection.topics_of(BreakGlass.Reopened)


class AccessLog(Projection):
    name = "access_log"
    tables = {"access_break_glass": ("position",), "access_reads": ("access_id",)}
    handlers = {
        RecordAccess.Read: "read",
        BreakGlass.Opened: "opened",
        BreakGlass.Reopened: "reopened",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        reads = Rows(tx, "access_reads", ("access_id",))
        openings = Rows(tx, "access_break_glass", ("position",))
        glass = {e.originator_id for _, e in events if e.topic in _REOPENED}
        # A reopening names only the aggregate: its person, grant and role come from the first opening.
        firsts = {r["break_glass_id"]: r for r in tx.fetch_in("access_break_glass", "break_glass_id", sorted(glass))}
        self.dispatch(events, reads, openings, firsts)
        reads.flush()
        openings.flush()

    def read(self, e: Fact, pos: int, reads: Rows, openings: Rows, firsts: dict) -> None:
        reads.put({
            "access_id": e.originator_id, "position": pos, "person_id": e.person_id,
            "grant_id": e.grant_id, "actor": e.actor, "org": e.org, "role": e.role, "route": e.route,
            "purpose": e.purpose, "break_glass_id": e.break_glass_id,
            "read_at": utc_text(e.timestamp),
        })

    def opened(self, e: Fact, pos: int, reads: Rows, openings: Rows, firsts: dict) -> None:
        first = {"person_id": e.person_id, "grant_id": e.grant_id, "role": e.role}
        firsts.setdefault(e.originator_id, first)
        self._opening(e, pos, openings, first)

    def reopened(self, e: Fact, pos: int, reads: Rows, openings: Rows, firsts: dict) -> None:
        self._opening(e, pos, openings, firsts[e.originator_id])

    @staticmethod
    def _opening(e: Fact, pos: int, openings: Rows, first: dict) -> None:
        openings.put({
            "position": pos, "break_glass_id": e.originator_id, "person_id": first["person_id"],
            "grant_id": first["grant_id"], "role": first["role"], "actor": e.actor, "org": e.org,
            "reason": e.reason, "opened_at": utc_text(e.timestamp), "expires_at": utc_text(e.expires_at),
        })


class AccessLogQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def reads(self, *, person_id: UUID | None = None, grant_id: UUID | None = None, limit: int = 500) -> list[dict]:
        """Reads of a person's record, or made with a token, newest first."""
        column, value = ("person_id", person_id) if person_id is not None else ("grant_id", grant_id)
        return self.db.query(
            f"SELECT * FROM access_reads WHERE {column} = %s ORDER BY position DESC LIMIT %s", (str(value), limit)
        )

    def openings(self, *, limit: int = 500) -> list[dict]:
        """Break-the-glass openings for review, newest first."""
        return self.db.query("SELECT * FROM access_break_glass ORDER BY position DESC LIMIT %s", (limit,))
