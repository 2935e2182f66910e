"""Projection `testing`: samples and results, results per person, pools awaiting retest, the case register.

Rows keep ids, codes and times only (no names): a person's results are found through
`test_subjects`, which names every person of every sample, pooled or not. The `cases` table
is a contract: other areas' queries read it (exposures read `person_id`,
`infectious_from`, `confirmed_at`, `status`), so its columns only ever grow.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import orjson

from ledger.domain import Facility, Person, Sample

from .base import Fact, Projection, Rows, utc_text, utc_text_and_day
from .db import ProjectionDB, Tx

S, P = Sample, Person
_ISO_WEEK = "{0}-W{1:02d}"


def iso_week(day: date) -> str:
    """ISO week of a day, as the risk map groups cases ('2021-W35')."""
    year, week, _ = day.isocalendar()
    return _ISO_WEEK.format(year, week)


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _ct(value: Any) -> str | None:
    return None if value is None else repr(float(value))


def _business_time(e: Fact) -> str:
    return utc_text(e.occurred_at or e.timestamp)


class Testing(Projection):
    name = "testing"
    tables = {
        "cases": ("case_id",),
        "test_facilities": ("facility_id",),
        "test_retests": ("pool_sample_id", "person_id"),
        "test_samples": ("sample_id",),
        "test_subjects": ("person_id", "sample_id"),
    }
    handlers = {
        Facility.Registered: "facility_registered",
        S.Collected: "collected",
        S.ReceivedAtLab: "received",
        S.ResultRecorded: "result_recorded",
        S.ResultCorrected: "result_corrected",
        S.ResultRejected: "result_rejected",
        P.RetestRequired: "retest_required",
        P.RetestCleared: "retest_cleared",
        P.CaseConfirmed: "case_confirmed",
        P.CaseRetracted: "case_retracted",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        t = {
            "facilities": Rows(tx, "test_facilities", ("facility_id",)),
            "samples": Rows(tx, "test_samples", ("sample_id",)),
            "subjects": Rows(tx, "test_subjects", ("person_id", "sample_id")),
            "retests": Rows(tx, "test_retests", ("pool_sample_id", "person_id")),
            "cases": Rows(tx, "cases", ("case_id",)),
        }
        t["facilities"].load({e.facility_id for _, e in events if e.topic in _COLLECTED})
        t["samples"].load({e.originator_id for _, e in events if e.topic in _SAMPLE_TOPICS})
        t["retests"].load({e.pool_sample_id for _, e in events if e.topic in _CLEARED}, column="pool_sample_id")
        t["cases"].load({e.case_id for _, e in events if e.topic in _RETRACTED})
        self.dispatch(events, t)
        for rows in t.values():
            rows.flush()

    def facility_registered(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["facilities"].put({"facility_id": e.originator_id, "kind": e.kind, "province_code": e.province_code,
                             "district_code": e.district_code})

    # -- samples --------------------------------------------------------------------------------------

    def collected(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        collected_at, collected_on = utc_text_and_day(e.collected_at)
        facility = t["facilities"].get(e.facility_id)
        t["samples"].put({
            "sample_id": e.originator_id, "barcode": e.barcode, "method": e.method, "pool_kind": e.pool_kind,
            "pool_size": len(e.subject_ids), "facility_id": e.facility_id,
            "province_code": facility["province_code"] if facility else None,
            "collected_at": collected_at, "collected_on": collected_on, "pool_policy_id": e.pool_policy_id,
            "retest_of": e.retest_of, "lab_id": None, "received_at": None, "status": "collected", "result": None,
            "ct_value": None, "resulted_at": None, "corrections": 0, "rejection_reason": None,
        })
        for person_id in e.subject_ids:
            t["subjects"].put({"person_id": person_id, "sample_id": e.originator_id})

    def _sample(self, e: Fact, t: dict[str, Rows], **changes: Any) -> None:
        row = t["samples"].get(e.originator_id)
        row.update(changes)
        t["samples"].touch(row)

    def received(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._sample(e, t, lab_id=e.lab_id, received_at=utc_text(e.received_at), status="received")

    def result_recorded(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._sample(e, t, result=e.result, ct_value=_ct(e.ct_value), resulted_at=utc_text(e.resulted_at),
                     status="resulted")

    def result_corrected(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["samples"].get(e.originator_id)
        self._sample(e, t, result=e.result, ct_value=_ct(e.ct_value), corrections=row["corrections"] + 1)

    def result_rejected(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        self._sample(e, t, result=None, ct_value=None, status="rejected", rejection_reason=e.reason)

    # -- people ---------------------------------------------------------------------------------------

    def retest_required(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        t["retests"].put({
            "pool_sample_id": e.pool_sample_id, "person_id": e.originator_id, "pool_kind": e.pool_kind,
            "required_at": _business_time(e), "status": "pending", "cleared_at": None,
            "cleared_by_sample_id": None, "clear_reason": None,
        })

    def retest_cleared(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["retests"].get(e.pool_sample_id, e.originator_id)
        row.update(status="cleared", cleared_at=_business_time(e), cleared_by_sample_id=e.by_sample_id,
                   clear_reason=e.reason)
        t["retests"].touch(row)

    def case_confirmed(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        confirmed_at, confirmed_on = utc_text_and_day(e.confirmed_at)
        t["cases"].put({
            "case_id": e.case_id, "person_id": e.originator_id, "rule": e.rule, "policy_id": e.policy_id,
            "confirmed_at": confirmed_at, "confirmed_on": confirmed_on, "iso_week": iso_week(confirmed_on),
            "community": bool(e.community), "province_code": e.area.get("province_code"),
            "district_code": e.area.get("district_code"), "ward_code": e.area.get("ward_code"),
            "infectious_from": utc_text(e.infectious_from), "status": "active", "evidence": _json(e.evidence),
            "epi_link": _json(e.epi_link) if e.epi_link is not None else None, "retracted_at": None,
            "retraction_reason": None,
        })

    def case_retracted(self, e: Fact, pos: int, t: dict[str, Rows]) -> None:
        row = t["cases"].get(e.case_id)
        row.update(status="retracted", retracted_at=_business_time(e), retraction_reason=e.reason)
        t["cases"].touch(row)


_COLLECTED = Testing.topics_of(S.Collected)
_SAMPLE_TOPICS = Testing.topics_of(S.ReceivedAtLab, S.ResultRecorded, S.ResultCorrected, S.ResultRejected)
_CLEARED = Testing.topics_of(P.RetestCleared)
_RETRACTED = Testing.topics_of(P.CaseRetracted)

_CASE_FILTERS = ("province_code", "district_code", "ward_code", "status", "rule", "person_id", "iso_week")


def _case_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "community": bool(row["community"]),
        "evidence": orjson.loads(row["evidence"]),
        "epi_link": orjson.loads(row["epi_link"]) if row["epi_link"] else None,
    }


def _sample_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "ct_value": float(row["ct_value"]) if row["ct_value"] is not None else None}


class TestingQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def results_for_person(self, person_id: UUID) -> dict[str, Any]:
        """Every sample that names the person (pooled or not), newest first, with the retests they await
        and their cases."""
        pid = str(person_id)
        samples = self.db.query(
            "SELECT s.* FROM test_subjects p JOIN test_samples s ON s.sample_id = p.sample_id"
            " WHERE p.person_id = %s ORDER BY s.collected_at DESC, s.sample_id", (pid,))
        retests = self.db.query(
            "SELECT r.*, s.barcode FROM test_retests r JOIN test_samples s ON s.sample_id = r.pool_sample_id"
            " WHERE r.person_id = %s ORDER BY r.required_at, r.pool_sample_id", (pid,))
        cases = self.db.query("SELECT * FROM cases WHERE person_id = %s ORDER BY confirmed_at, case_id", (pid,))
        return {
            "person_id": pid,
            "samples": [_sample_out(s) for s in samples],
            "retests": retests,
            "cases": [_case_out(c) for c in cases],
        }

    def pools_awaiting_retest(
        self, *, province_code: str | None = None, lab_id: UUID | None = None, after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Positive pools with members still awaiting an individual retest, by pool id; cursor = last pool id."""
        where, params = ["r.status = 'pending'"], []
        if province_code is not None:
            where.append("s.province_code = %s")
            params.append(province_code)
        if lab_id is not None:
            where.append("s.lab_id = %s")
            params.append(str(lab_id))
        if after:
            where.append("r.pool_sample_id > %s")
            params.append(after)
        pools = self.db.query(
            "SELECT s.sample_id, s.barcode, s.pool_kind, s.pool_size, s.collected_at, s.province_code, s.lab_id,"
            " s.resulted_at, COUNT(*) AS awaiting FROM test_retests r JOIN test_samples s"
            " ON s.sample_id = r.pool_sample_id WHERE " + " AND ".join(where) +
            " GROUP BY s.sample_id, s.barcode, s.pool_kind, s.pool_size, s.collected_at, s.province_code, s.lab_id,"
            " s.resulted_at ORDER BY s.sample_id LIMIT %s", [*params, limit + 1])
        page, more = pools[:limit], len(pools) > limit
        if page:
            marks = ", ".join(["%s"] * len(page))
            members = self.db.query(
                f"SELECT pool_sample_id, person_id FROM test_retests WHERE status = 'pending'"
                f" AND pool_sample_id IN ({marks}) ORDER BY pool_sample_id, person_id", [p["sample_id"] for p in page])
            by_pool: dict[str, list[str]] = {}
            for m in members:
                by_pool.setdefault(m["pool_sample_id"], []).append(m["person_id"])
            for pool in page:
                pool["awaiting"] = int(pool["awaiting"])
                pool["awaiting_person_ids"] = by_pool.get(pool["sample_id"], [])
        return page, page[-1]["sample_id"] if more else None

    def cases(
        self, *, confirmed_from: date | None = None, confirmed_to: date | None = None,
        community: bool | None = None, after: str | None = None, limit: int = 100, **filters: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Cases matching the filters, by case id; the cursor is the last case id of the page."""
        where, params = [], []
        for column in _CASE_FILTERS:
            value = filters.pop(column, None)
            if value is not None:
                where.append(f"{column} = %s")
                params.append(str(value))
        if filters:
            raise TypeError(f"unknown case filters: {sorted(filters)}")
        if confirmed_from is not None:
            where.append("confirmed_on >= %s")
            params.append(confirmed_from)
        if confirmed_to is not None:
            where.append("confirmed_on <= %s")
            params.append(confirmed_to)
        if community is not None:
            where.append("community = %s")
            params.append(community)
        if after:
            where.append("case_id > %s")
            params.append(after)
        sql = "SELECT * FROM cases" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY case_id LIMIT %s"
        rows = self.db.query(sql, [*params, limit + 1])
        page, more = rows[:limit], len(rows) > limit
        return [_case_out(r) for r in page], page[-1]["case_id"] if more else None

    def case(self, case_id: UUID) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM cases WHERE case_id = %s", (str(case_id),))
        return _case_out(rows[0]) if rows else None
