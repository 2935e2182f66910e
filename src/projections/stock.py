"""Projection `stock`: on hand and movements per lot per location, with totals.

Counters are kept per stock card (one lot at one facility); facility and lot details
are kept alongside so totals per province and per vaccine are one GROUP BY away.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.domain import Facility, StockCard, Transfer, VaccineLot

from .base import Fact, Projection, Rows
from .db import ProjectionDB, Tx

S, T = StockCard, Transfer
_COUNTERS = ("on_hand", "received", "transferred_in", "dispatched", "returned", "administered", "adjusted_in",
             "adjusted_out", "count_difference", "reversed")


class Stock(Projection):
    name = "stock"
    tables = {
        "stock_adjustments": ("card_id", "reason"),
        "stock_facilities": ("facility_id",),
        "stock_levels": ("card_id",),
        "stock_lots": ("lot_id",),
        "stock_transfer_lines": ("transfer_id", "lot_id"),
    }
    handlers = {
        Facility.Registered: "facility_registered",
        VaccineLot.Registered: "lot_registered",
        VaccineLot.Recalled: "lot_recalled",
        VaccineLot.ExpiryExtended: "lot_expiry_extended",
        S.Opened: "card_opened",
        S.Received: "card_received",
        S.Dispatched: "card_dispatched",
        S.Returned: "card_returned",
        S.Adjusted: "card_adjusted",
        S.Counted: "card_counted",
        S.MovementReversed: "card_reversed",
        S.Administered: "card_administered",
        S.ConsumptionReversed: "card_consumption_reversed",
        T.Dispatched: "transfer_dispatched",
        T.Received: "transfer_received",
        T.Cancelled: "transfer_cancelled",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        tables = {
            "facilities": Rows(tx, "stock_facilities", ("facility_id",)),
            "lots": Rows(tx, "stock_lots", ("lot_id",)),
            "levels": Rows(tx, "stock_levels", ("card_id",)),
            "adjustments": Rows(tx, "stock_adjustments", ("card_id", "reason")),
            "lines": Rows(tx, "stock_transfer_lines", ("transfer_id", "lot_id")),
        }
        ids = {e.originator_id for _, e in events}
        card_ids = {e.originator_id for _, e in events if e.topic in _CARD_TOPICS}
        tables["lots"].load({e.originator_id for _, e in events if e.topic in _LOT_TOPICS})
        tables["levels"].load(card_ids)
        tables["adjustments"].load({e.originator_id for _, e in events if e.topic in _ADJUSTED}, column="card_id")
        tables["lines"].load({i for i in ids if i not in card_ids}, column="transfer_id")
        self.dispatch(events, tables)
        for rows in tables.values():
            rows.flush()

    # -- reference ------------------------------------------------------------------------------------

    def facility_registered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["facilities"].put(
            {
                "facility_id": e.originator_id, "code": e.code, "name": e.name, "kind": e.kind,
                "province_code": e.province_code, "district_code": e.district_code, "ward_code": e.ward_code,
                "parent_id": e.parent_id,
            }
        )

    def lot_registered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["lots"].put(
            {
                "lot_id": e.originator_id, "vaccine": e.vaccine, "manufacturer": e.manufacturer,
                "lot_number": e.lot_number, "expiry": e.expiry, "doses_per_vial": e.doses_per_vial,
                "recalled": False,
            }
        )

    def lot_recalled(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["lots"].get(e.originator_id)
        row["recalled"] = True
        t["lots"].touch(row)

    def lot_expiry_extended(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["lots"].get(e.originator_id)
        row["expiry"] = e.expiry
        t["lots"].touch(row)

    # -- stock cards ----------------------------------------------------------------------------------

    def card_opened(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["levels"].put(
            {"card_id": e.originator_id, "lot_id": e.lot_id, "facility_id": e.facility_id,
             **dict.fromkeys(_COUNTERS, 0)}
        )

    def _add(self, t: dict[str, Rows], e: Fact, **deltas: int) -> None:
        row = t["levels"].get(e.originator_id)
        for column, delta in deltas.items():
            row[column] += delta
        t["levels"].touch(row)

    def card_received(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        column = "transferred_in" if e.transfer_id else "received"
        self._add(t, e, on_hand=e.quantity, **{column: e.quantity})

    def card_dispatched(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=-e.quantity, dispatched=e.quantity)

    def card_returned(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=e.quantity, returned=e.quantity)

    def card_adjusted(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        if e.delta > 0:
            self._add(t, e, on_hand=e.delta, adjusted_in=e.delta)
        else:
            self._add(t, e, on_hand=e.delta, adjusted_out=-e.delta)
        key = (e.originator_id, e.reason)
        row = t["adjustments"].get(*key) or t["adjustments"].put(
            {"card_id": key[0], "reason": key[1], "quantity_in": 0, "quantity_out": 0}
        )
        row["quantity_in" if e.delta > 0 else "quantity_out"] += abs(e.delta)
        t["adjustments"].touch(row)

    def card_counted(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=e.difference, count_difference=e.difference)

    def card_reversed(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=e.delta, reversed=e.delta)

    def card_administered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=-1, administered=1)

    def card_consumption_reversed(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._add(t, e, on_hand=1, administered=-1)

    # -- transfers ------------------------------------------------------------------------------------

    def transfer_dispatched(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        for line in e.lines:
            t["lines"].put(
                {
                    "transfer_id": e.originator_id, "lot_id": line["lot_id"],
                    "document_number": e.document_number, "source_id": e.source_id,
                    "destination_id": e.destination_id, "dispatched": line["quantity"], "received": None,
                    "discrepancy_reason": None, "status": "in_transit",
                }
            )

    def transfer_received(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        for line in e.lines:
            row = t["lines"].get(e.originator_id, line["lot_id"])
            row.update(received=line["received"], discrepancy_reason=line["discrepancy_reason"], status="received")
            t["lines"].touch(row)

    def transfer_cancelled(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        for row in t["lines"].where(transfer_id=e.originator_id):
            row["status"] = "cancelled"
            t["lines"].touch(row)


_CARD_TOPICS = Stock.topics_of(*(cls for cls in Stock.handlers if issubclass(cls, S.Event)))
_LOT_TOPICS = Stock.topics_of(*(cls for cls in Stock.handlers if issubclass(cls, VaccineLot.Event)))
_ADJUSTED = Stock.topics_of(S.Adjusted)


_LEVEL_SELECT = """
SELECT l.*, lot.vaccine, lot.lot_number, lot.manufacturer, lot.expiry, lot.recalled,
       f.code AS facility_code, f.name AS facility_name, f.kind AS facility_kind,
       f.province_code, f.district_code, f.ward_code,
       COALESCE((SELECT SUM(t.dispatched) FROM stock_transfer_lines t
                 WHERE t.status = 'in_transit' AND t.lot_id = l.lot_id AND t.destination_id = l.facility_id), 0)
         AS in_transit_in,
       COALESCE((SELECT SUM(t.dispatched) FROM stock_transfer_lines t
                 WHERE t.status = 'in_transit' AND t.lot_id = l.lot_id AND t.source_id = l.facility_id), 0)
         AS in_transit_out
FROM stock_levels l
JOIN stock_lots lot ON lot.lot_id = l.lot_id
JOIN stock_facilities f ON f.facility_id = l.facility_id
"""

_TOTAL_GROUPS = {
    "province": ("f.province_code",),
    "vaccine": ("lot.vaccine",),
    "province_vaccine": ("f.province_code", "lot.vaccine"),
}


class StockQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def levels(
        self, *, facility_id: UUID | None = None, lot_id: UUID | None = None, province_code: str | None = None,
        vaccine: str | None = None, after: str | None = None, limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Stock cards matching the filters, ordered by card id; the cursor is the last card id."""
        where, params = [], []
        for column, value in (("l.facility_id", facility_id), ("l.lot_id", lot_id),
                              ("f.province_code", province_code), ("lot.vaccine", vaccine)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(str(value))
        if after:
            where.append("l.card_id > %s")
            params.append(after)
        sql = _LEVEL_SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY l.card_id LIMIT %s"
        rows = self.db.query(sql, [*params, limit + 1])
        page, more = rows[:limit], len(rows) > limit
        if page:
            marks = ", ".join(["%s"] * len(page))
            adjustments = self.db.query(
                f"SELECT * FROM stock_adjustments WHERE card_id IN ({marks}) ORDER BY card_id, reason",
                [r["card_id"] for r in page],
            )
            by_card: dict[str, dict[str, dict[str, int]]] = {}
            for a in adjustments:
                by_card.setdefault(a["card_id"], {})[a["reason"]] = {"in": a["quantity_in"], "out": a["quantity_out"]}
            for row in page:
                row["recalled"] = bool(row["recalled"])
                row["adjusted_by_reason"] = by_card.get(row["card_id"], {})
        return page, page[-1]["card_id"] if more else None

    def totals(self, by: str) -> list[dict[str, Any]]:
        """Sums per province, per vaccine, or both; in transit counted at the destination."""
        try:
            group = _TOTAL_GROUPS[by]
        except KeyError:
            raise ValueError(f"by must be one of {sorted(_TOTAL_GROUPS)}") from None
        names = [g.split(".")[1] for g in group]
        cols = ", ".join(f"{g} AS {n}" for g, n in zip(group, names, strict=True))
        sums = ", ".join(f"SUM(l.{c}) AS {c}" for c in _COUNTERS)
        rows = self.db.query(
            f"SELECT {cols}, {sums}, COUNT(*) AS stock_cards FROM stock_levels l"
            " JOIN stock_lots lot ON lot.lot_id = l.lot_id JOIN stock_facilities f ON f.facility_id = l.facility_id"
            f" GROUP BY {', '.join(group)} ORDER BY {', '.join(group)}"
        )
        transit = self.db.query(
            f"SELECT {cols}, SUM(t.dispatched) AS in_transit FROM stock_transfer_lines t"
            " JOIN stock_lots lot ON lot.lot_id = t.lot_id JOIN stock_facilities f ON f.facility_id = t.destination_id"
            f" WHERE t.status = 'in_transit' GROUP BY {', '.join(group)}"
        )
        in_transit = {tuple(r[n] for n in names): r["in_transit"] for r in transit}
        for row in rows:
            for c in (*_COUNTERS, "stock_cards"):
                row[c] = int(row[c] or 0)
            row["in_transit"] = int(in_transit.get(tuple(row[n] for n in names), 0) or 0)
        return rows
