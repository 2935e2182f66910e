"""Projection `checkins`: venues and check-ins, and the exposure candidates of a case.

A check-in never changes, so each `CheckIn.CheckedIn` is one new row, written with the batch's
other rows in one statement (COPY + merge on PostgreSQL): the projection keeps up with the bulk
path's rate. Rows keep ids, codes and times only (no names). Times are UTC ISO text
(`projections.base.utc_text`), so the exposure window is a range scan on
(venue_id, checked_in_at).

Exposure candidates (`CheckInQueries.exposure_candidates`) read the case from the `testing`
projection's `cases` table (the columns it relies on: person_id, infectious_from, confirmed_at, status).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.domain import CheckIn, Facility

from .base import Fact, Projection, Rows, utc_text
from .db import ProjectionDB, Tx

#: Others at the same venue within this much before or after the case's check-in (inclusive) are
#: exposure candidates (the issue's rule; a provisional number of ours, not a Ministry figure).
EXPOSURE_WINDOW = timedelta(minutes=60)


class CheckIns(Projection):
    name = "checkins"
    tables = {
        "checkin_venues": ("venue_id",),
        "checkins": ("checkin_id",),
    }
    handlers = {
        Facility.Registered: "facility_registered",
        CheckIn.CheckedIn: "checked_in",
    }
    insert_only = frozenset({"checkins"})

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        venues = Rows(tx, "checkin_venues", ("venue_id",))
        new: list[dict[str, Any]] = []
        self.dispatch(events, venues, new)
        venues.flush()
        # A check-in's one event makes its one row, never changed: a plain insert (COPY on PostgreSQL). The
        # engine applies each event once (its position commits with the rows), and a rebuild empties the
        # table first, so the key is always new.
        tx.insert("checkins", new)

    def facility_registered(self, e: Fact, pos: int, venues: Rows, new: list) -> None:
        if e.kind != "venue":
            return
        venues.put({"venue_id": e.originator_id, "code": e.code, "name": e.name,
                         "province_code": e.province_code, "district_code": e.district_code,
                         "ward_code": e.ward_code})

    def checked_in(self, e: Fact, pos: int, venues: Rows, new: list) -> None:
        new.append({"checkin_id": e.originator_id, "venue_id": e.venue_id, "person_id": e.person_id,
                           "checked_in_at": utc_text(e.checked_in_at), "mode": e.mode, "org": e.org,
                           "source": e.source})


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _text(moment: datetime) -> str:
    return moment.isoformat()


class CheckInQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def venue(self, venue_id: UUID) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM checkin_venues WHERE venue_id = %s", (str(venue_id),))
        return rows[0] if rows else None

    def person_checkins(self, person_id: UUID, *, since: str | None = None, until: str | None = None,
                        limit: int = 1000) -> list[dict[str, Any]]:
        """A person's check-ins in time order (UTC ISO bounds, inclusive)."""
        where, params = ["person_id = %s"], [str(person_id)]
        if since is not None:
            where.append("checked_in_at >= %s")
            params.append(since)
        if until is not None:
            where.append("checked_in_at <= %s")
            params.append(until)
        return self.db.query("SELECT * FROM checkins WHERE " + " AND ".join(where)
                             + " ORDER BY checked_in_at, checkin_id LIMIT %s", [*params, limit])

    def exposure_candidates(self, case_id: UUID, *, window: timedelta = EXPOSURE_WINDOW) -> dict[str, Any] | None:
        """The people checked in at a venue within `window` (inclusive) before or after one of the case
        person's check-ins during the infectious period ([infectious_from, confirmed_at]); None for an
        unknown case.

        Per candidate person (ordered by person id): each encounter (ordered by the case's check-in
        time, venue, the candidate's time and check-in id) with the venue, the candidate's and the
        case's check-in times and the gap in minutes (candidate minus case: negative = before). The
        case person is never a candidate. Two indexed range scans per case check-in.
        """
        cases = self.db.query("SELECT case_id, person_id, infectious_from, confirmed_at, status, province_code"
                              " FROM cases WHERE case_id = %s", (str(case_id),))
        if not cases:
            return None
        case = cases[0]
        own = self.db.query(
            "SELECT checkin_id, venue_id, checked_in_at FROM checkins WHERE person_id = %s"
            " AND checked_in_at >= %s AND checked_in_at <= %s ORDER BY checked_in_at, checkin_id",
            (case["person_id"], case["infectious_from"], case["confirmed_at"]))
        venues: dict[str, dict[str, Any]] = {}
        by_person: dict[str, list[dict[str, Any]]] = {}
        for mine in own:
            at = _at(mine["checked_in_at"])
            others = self.db.query(
                "SELECT checkin_id, person_id, checked_in_at FROM checkins WHERE venue_id = %s"
                " AND checked_in_at >= %s AND checked_in_at <= %s AND person_id <> %s",
                (mine["venue_id"], _text(at - window), _text(at + window), case["person_id"]))
            if not others:
                continue
            venue = venues.get(mine["venue_id"])
            if venue is None:
                venue = venues[mine["venue_id"]] = self.venue(mine["venue_id"]) or {"venue_id": mine["venue_id"]}
            for other in others:
                gap = (_at(other["checked_in_at"]) - at).total_seconds() / 60
                by_person.setdefault(other["person_id"], []).append({
                    "venue_id": mine["venue_id"], "venue_code": venue.get("code"), "venue_name": venue.get("name"),
                    "province_code": venue.get("province_code"), "checkin_id": other["checkin_id"],
                    "checked_in_at": other["checked_in_at"], "case_checkin_id": mine["checkin_id"],
                    "case_checked_in_at": mine["checked_in_at"], "gap_minutes": round(gap, 2),
                })
        candidates = []
        for person_id in sorted(by_person):
            encounters = sorted(by_person[person_id], key=lambda x: (
                x["case_checked_in_at"], x["venue_id"], x["checked_in_at"], x["checkin_id"]))
            candidates.append({"person_id": person_id, "encounters": encounters})
        return {
            "case_id": str(case_id), "person_id": case["person_id"], "status": case["status"],
            "province_code": case["province_code"],
            "infectious_from": case["infectious_from"], "confirmed_at": case["confirmed_at"],
            "window_minutes": int(window.total_seconds() // 60), "case_checkins": len(own),
            "candidates": candidates,
        }
