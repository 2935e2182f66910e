"""The projections' lookups by key on PostgreSQL (`_PostgresTx.fetch_in`): the rows asked for, each
once, and found through the column's index even on a table that was never analyzed, under the
generic plan a prepared statement ends up with."""

from __future__ import annotations

import uuid

import pytest

from projections.db import _FETCH_IN, PostgresProjectionDB

pytestmark = pytest.mark.postgres


def _dose(person_id: str) -> dict:
    return {"dose_id": str(uuid.uuid4()), "person_id": person_id, "vaccine": "pfizer", "lot_id": "lot",
            "lot_number": "FK0108", "facility_id": "point", "administered_at": "2026-12-07T08:00:00+00:00",
            "administered_on": "2026-12-07", "kind": "primary", "voided": False, "corrected": False}


def test_lookups_return_each_row_once_and_probe_the_index(pg_settings):
    db = PostgresProjectionDB(pg_settings)
    try:
        people = [str(uuid.uuid4()) for _ in range(3000)]
        doses = [_dose(p) for p in people for _ in range(2)]
        with db.transaction() as tx:
            tx.executemany(
                "INSERT INTO vh_doses (dose_id, person_id, vaccine, lot_id, lot_number, facility_id, administered_at,"
                " administered_on, kind, voided, corrected) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [list(d.values()) for d in doses])
        wanted = people[:5]
        with db.transaction() as tx:
            rows = tx.fetch_in("vh_doses", "person_id", [*wanted, wanted[0], str(uuid.uuid4())])
            assert sorted(r["dose_id"] for r in rows) == sorted(d["dose_id"] for d in doses[:10])
            assert tx.fetch_in("vh_doses", "dose_id", []) == []
            # What a prepared statement runs after its first executions: a plan made without the values.
            tx.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            plan = "\n".join(r["QUERY PLAN"] for r in tx.fetch(
                "EXPLAIN " + _FETCH_IN[("vh_doses", "person_id")], (wanted,)))
        assert "vh_doses_person_id_idx" in plan, plan
        assert "Seq Scan on vh_doses" not in plan, plan
    finally:
        db.close()
