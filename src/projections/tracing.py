"""Projection `tracing`: the contacts of each case (exposures), each person's contacts, the quarantine
register (test days due, releases due, by day and province) and health declarations.

Rows keep ids, codes, days and times only (no names). A person's province is their registered (or
corrected) address's, as `trace_people` keeps it; an order's province is taken when it is ordered.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import orjson

from ledger.domain import Person

from .base import Fact, Projection, Rows, utc_text
from .db import ProjectionDB, Tx

P = Person


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _business_time(e: Fact) -> str:
    return utc_text(e.occurred_at or e.timestamp)


class Tracing(Projection):
    name = "tracing"
    tables = {
        "health_declarations": ("declaration_id",),
        "quarantine_orders": ("order_id",),
        "quarantine_test_days": ("order_id", "test_on"),
        "trace_contacts": ("contact_id",),
        "trace_people": ("person_id",),
    }
    handlers = {
        P.Registered: "registered",
        P.DetailsCorrected: "details_corrected",
        P.ContactIdentified: "contact_identified",
        P.QuarantineOrdered: "quarantine_ordered",
        P.QuarantineFollowedUp: "followed_up",
        P.QuarantineReleased: "released",
        P.HealthDeclared: "declared",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        t = {
            "people": Rows(tx, "trace_people", ("person_id",)),
            "contacts": Rows(tx, "trace_contacts", ("contact_id",)),
            "orders": Rows(tx, "quarantine_orders", ("order_id",)),
            "test_days": Rows(tx, "quarantine_test_days", ("order_id", "test_on")),
            "declarations": Rows(tx, "health_declarations", ("declaration_id",)),
        }
        t["people"].load({e.originator_id for _, e in events if e.topic in _NEEDS_PERSON})
        t["orders"].load({e.order_id for _, e in events if e.topic in _ORDER_CHANGES})
        self.dispatch(events, t)
        for rows in t.values():
            rows.flush()

    def registered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["people"].put({"person_id": e.originator_id, "province_code": (e.address or {}).get("province_code")})

    def details_corrected(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        address = (e.changes or {}).get("address")
        if address:
            t["people"].put({"person_id": e.originator_id, "province_code": address.get("province_code")})

    def contact_identified(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["contacts"].put({
            "contact_id": e.contact_id, "person_id": e.originator_id, "level": e.level, "case_id": e.case_id,
            "source_person_id": e.source_person_id, "proximity": e.proximity, "masked": e.masked,
            "duration_minutes": e.duration_minutes, "exposed_at": utc_text(e.exposed_at),
            "identified_at": _business_time(e), "checkin_id": e.checkin_id,
        })

    def quarantine_ordered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        person = t["people"].get(e.originator_id)
        t["orders"].put({
            "order_id": e.order_id, "person_id": e.originator_id,
            "province_code": person["province_code"] if person else None, "level": e.level,
            "basis_ref": e.basis_ref, "policy_id": e.policy_id, "basis": _json(e.basis),
            "starts_on": _day(e.starts_on), "ends_on": _day(e.ends_on), "monitoring_ends_on": _day(e.monitoring_ends_on),
            "setting": e.setting, "provisional": bool(e.provisional), "status": "active", "released_on": None,
            "release_reason": None, "follow_ups": 0, "last_follow_up_on": None, "ordered_at": _business_time(e),
        })
        for day in e.test_days:
            t["test_days"].put({"order_id": e.order_id, "test_on": _day(day)})

    def followed_up(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["orders"].get(e.order_id)
        day = _day(e.day)
        last = row["last_follow_up_on"]
        row.update(follow_ups=row["follow_ups"] + 1, last_follow_up_on=day if last is None else max(_day(last), day))
        t["orders"].touch(row)

    def released(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["orders"].get(e.order_id)
        row.update(status="released", released_on=_day(e.released_on), release_reason=e.reason)
        t["orders"].touch(row)

    def declared(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["declarations"].put({
            "declaration_id": e.declaration_id, "person_id": e.originator_id, "kind": e.kind,
            "declared_at": _business_time(e), "symptoms": _json(e.symptoms), "travel": _json(e.travel),
            "contact_history": _json(e.contact_history), "entry": _json(e.entry) if e.entry is not None else None,
        })


_NEEDS_PERSON = Tracing.topics_of(P.QuarantineOrdered, P.DetailsCorrected)
_ORDER_CHANGES = Tracing.topics_of(P.QuarantineFollowedUp, P.QuarantineReleased)


def _order_out(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["basis"] = orjson.loads(row["basis"])
    out["provisional"] = bool(row["provisional"])
    for key in ("starts_on", "ends_on", "monitoring_ends_on", "released_on", "last_follow_up_on"):
        out[key] = _day(row[key])
    return out


def _declaration_out(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("symptoms", "travel", "contact_history", "entry"):
        out[key] = orjson.loads(row[key]) if row[key] is not None else None
    return out


class TracingQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def contacts_of_case(self, case_id: UUID | str) -> list[dict[str, Any]]:
        """The recorded contacts of a case (F1 and F2), by exposure time."""
        return self.db.query("SELECT * FROM trace_contacts WHERE case_id = %s ORDER BY exposed_at, contact_id",
                             (str(case_id),))

    def contacts_of_person(self, person_id: UUID | str) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM trace_contacts WHERE person_id = %s ORDER BY exposed_at, contact_id",
                             (str(person_id),))

    def orders_of_person(self, person_id: UUID | str) -> list[dict[str, Any]]:
        orders = [_order_out(r) for r in self.db.query(
            "SELECT * FROM quarantine_orders WHERE person_id = %s ORDER BY starts_on, order_id", (str(person_id),))]
        self._with_test_days(orders)
        return orders

    def _with_test_days(self, orders: list[dict[str, Any]]) -> None:
        if not orders:
            return
        marks = ", ".join(["%s"] * len(orders))
        days: dict[str, list[date]] = {}
        for r in self.db.query(f"SELECT order_id, test_on FROM quarantine_test_days WHERE order_id IN ({marks})"
                               " ORDER BY order_id, test_on", [o["order_id"] for o in orders]):
            days.setdefault(r["order_id"], []).append(_day(r["test_on"]))
        for order in orders:
            order["test_days"] = days.get(order["order_id"], [])

    def register(
        self, *, on: date, province_code: str | None = None, after: str | None = None, limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Active orders with something due on `on`: a test day (`test_due`), or the release (its end day has
        passed or is today: `release_due`); by order id, the cursor is the last order id of the page."""
        where = ["o.status = 'active'", "(o.ends_on <= %s OR EXISTS (SELECT 1 FROM quarantine_test_days d"
                 " WHERE d.order_id = o.order_id AND d.test_on = %s))"]
        params: list[Any] = [on, on]
        if province_code is not None:
            where.append("o.province_code = %s")
            params.append(province_code)
        if after:
            where.append("o.order_id > %s")
            params.append(after)
        rows = self.db.query("SELECT o.* FROM quarantine_orders o WHERE " + " AND ".join(where) +
                             " ORDER BY o.order_id LIMIT %s", [*params, limit + 1])
        page, more = [_order_out(r) for r in rows[:limit]], len(rows) > limit
        self._with_test_days(page)
        for order in page:
            order["test_due"] = on in order["test_days"]
            order["release_due"] = order["ends_on"] <= on
        return page, page[-1]["order_id"] if more else None

    def declarations_of_person(self, person_id: UUID | str) -> list[dict[str, Any]]:
        return [_declaration_out(r) for r in self.db.query(
            "SELECT * FROM health_declarations WHERE person_id = %s ORDER BY declared_at, declaration_id",
            (str(person_id),))]
