"""`ledger export` on a real store (SQLite and PostgreSQL), read back with DuckDB: one row per event with
typed columns, personal data left out unless asked for, a position to stop at, and projection tables
with the position and digest they had."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import duckdb
import orjson
import pyarrow.parquet as pq

from ledger.domain import Provenance
from ledger.export import export_events
from projections.export import export_projections

NAME, NUMBER, PHONE, NOTE = "Trần Thị Bích Ngọc", "079190000123", "0903123456", "vial dropped by Ms Ngoc at 9:40"
PLACE, CONTACT_NOTE = "Chợ Bến Thành, stall 14", "my neighbour Mr Hùng"


def make_prov(*, occurred_at: datetime | None = None) -> Provenance:
    return Provenance(actor="tester", org="moh-test", source="app", occurred_at=occurred_at)


def _record(world) -> dict:
    """A person registered with every detail, screened, dosed; a contact update; a stock adjustment with a note."""
    ledger = world.ledger
    person_id = UUID(ledger.register_person(
        id_type="cccd", id_number=NUMBER, prov=make_prov(),
        details={"full_name": NAME, "date_of_birth": date(1959, 2, 3), "sex": "female", "phone": PHONE,
                 "address": {"line": "12 Lý Tự Trọng", "province_code": "79", "district_code": "760",
                             "ward_code": "26734"}}).ids["person_id"])
    world.screen(person_id, at=datetime(2021, 8, 2, 9, 20, tzinfo=UTC))
    dose = ledger.administer_dose(person_id=person_id, lot_id=world.lot_id, facility_id=world.point_id,
                                  prov=make_prov(occurred_at=datetime(2021, 8, 2, 9, 30, tzinfo=UTC)))
    ledger.correct_person(person_id=person_id, reason="contact_update", prov=make_prov(), changes={
        "phone": "0909999999", "address": {"line": "5 Nguyễn Huệ", "province_code": "79", "district_code": "760",
                                           "ward_code": "26740"}})
    ledger.adjust_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=1, direction="out",
                        reason="damaged", note=NOTE, prov=make_prov())
    ledger.declare_health(person_id=person_id, kind="domestic", symptoms=["fever"], prov=make_prov(),
                          travel=[{"country": "VN", "place": PLACE, "from": "2021-08-01", "to": "2021-08-02"}],
                          contact_history=[{"kind": "suspected_case", "on": "2021-08-01", "note": CONTACT_NOTE}])
    return {"person_id": person_id, "dose_id": dose.ids["dose_id"], "position": dose.position}


def rows(sql: str) -> list[dict]:
    """The rows of a DuckDB query, as dicts."""
    cur = duckdb.connect().execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _strings(directory: Path) -> str:
    """Every text value of every file, for looking for what must not be there."""
    out = []
    for path in directory.rglob("*.parquet"):
        table = pq.read_table(path)
        for column in table.columns:
            out += [str(v) for v in column.to_pylist() if isinstance(v, str)]
    return "\n".join(out)


def test_events_one_row_each_typed_and_without_personal_data(world, tmp_path):
    ledger = world.ledger
    facts = _record(world)
    result = export_events(ledger, tmp_path)
    assert result["up_to_position"] == ledger.head() == result["events"]
    events = f"read_parquet('{tmp_path}/events/*.parquet', union_by_name=true)"
    per_topic = {r["topic"]: r["n"] for r in rows(f"SELECT topic, count(*) AS n FROM {events} GROUP BY topic")}
    log: dict[str, int] = {}
    where: dict[tuple[str, UUID], int] = {}
    for n in ledger.recorder.select_notifications(1, 10_000):
        log[n.topic] = log.get(n.topic, 0) + 1
        where[n.topic, n.originator_id] = n.id
    assert per_topic == log
    assert {f["topic"]: f["rows"] for f in result["files"].values()} == log

    files = f"{tmp_path}/events"
    [row] = rows(f"SELECT * FROM '{files}/ledger.person.DoseAdministered.parquet' WHERE dose_id = '{facts['dose_id']}'")
    assert row["position"] == where["ledger.person.DoseAdministered", facts["person_id"]]
    assert row["originator_id"] == str(facts["person_id"])
    assert row["administered_at"] == datetime(2021, 8, 2, 9, 30, tzinfo=UTC)
    assert row["lot_id"] == str(world.lot_id) and row["dose_number"] == 1 and row["source"] == "app"

    [row] = rows(f"SELECT * FROM '{files}/ledger.person.Registered.parquet' WHERE originator_id = '{facts['person_id']}'")
    assert {"full_name", "id_number", "phone", "date_of_birth"}.isdisjoint(row)
    assert row["birth_year"] == 1959 and row["sex"] == "female"
    assert orjson.loads(row["address"]) == {"province_code": "79", "district_code": "760", "ward_code": "26734"}
    [row] = rows(f"SELECT changes FROM '{files}/ledger.person.DetailsCorrected.parquet'")
    assert orjson.loads(row["changes"]) == {"address": {"province_code": "79", "district_code": "760",
                                                        "ward_code": "26740"}}
    [row] = rows(f"SELECT * FROM '{files}/ledger.stock.Adjusted.parquet'")
    assert "note" not in row and row["reason"] == "damaged"
    text = _strings(tmp_path)
    for secret in (NAME, NUMBER, PHONE, "Lý Tự Trọng", "Nguyễn Huệ", "1959-02-03", NOTE, PLACE, CONTACT_NOTE):
        assert secret not in text
    [row] = rows(f"SELECT travel, contact_history FROM '{files}/ledger.person.HealthDeclared.parquet'")
    assert orjson.loads(row["travel"])[0]["country"] == "VN" and orjson.loads(row["contact_history"])[0]["on"]


def test_with_personal_data_every_field_as_recorded(world, tmp_path):
    facts = _record(world)
    export_events(world.ledger, tmp_path, personal_data=True)
    [row] = rows(f"SELECT * FROM '{tmp_path}/events/ledger.person.Registered.parquet'"
                 f" WHERE originator_id = '{facts['person_id']}'")
    assert (row["full_name"], row["id_number"], row["phone"]) == (NAME, NUMBER, PHONE)
    assert row["date_of_birth"] == date(1959, 2, 3) and "birth_year" not in row
    assert orjson.loads(row["address"])["line"] == "12 Lý Tự Trọng"
    assert rows(f"SELECT note FROM '{tmp_path}/events/ledger.stock.Adjusted.parquet'") == [{"note": NOTE}]
    assert CONTACT_NOTE in _strings(tmp_path) and PLACE in _strings(tmp_path)


def test_an_export_stops_at_its_position(world, tmp_path):
    facts = _record(world)
    result = export_events(world.ledger, tmp_path, up_to=facts["position"])
    assert result["up_to_position"] == facts["position"]
    [top] = rows(f"SELECT max(position) AS last, count(*) AS n FROM read_parquet('{tmp_path}/events/*.parquet',"
                 " union_by_name=true)")
    assert top == {"last": facts["position"], "n": result["events"]}
    assert not (tmp_path / "events" / "ledger.person.DetailsCorrected.parquet").exists()


def test_projection_tables_with_their_position_and_digest(world, runtime, tmp_path):
    _record(world)
    engine = runtime.engine
    engine.catch_up()
    names = sorted(engine.projections)
    result = export_projections(engine, names, tmp_path)
    for name in names:
        assert result[name]["digest"] == engine.digest(name)
        assert result[name]["position"] == engine.positions()[name] == world.ledger.head()
        for path, info in result[name]["tables"].items():
            with engine.db.transaction() as tx:
                count = tx.fetch(f"SELECT count(*) AS n FROM {info['table']}")[0]["n"]
            assert pq.read_metadata(tmp_path / path).num_rows == info["rows"] == count
    [level] = rows(f"SELECT on_hand FROM '{tmp_path}/projections/stock/stock_levels.parquet'"
                   f" WHERE lot_id = '{world.lot_id}' AND facility_id = '{world.point_id}'")
    assert level["on_hand"] == world.ledger.stock_card(world.lot_id, world.point_id).on_hand
    [declaration] = rows(f"SELECT travel, contact_history FROM"
                         f" '{tmp_path}/projections/tracing/health_declarations.parquet'")
    assert orjson.loads(declaration["travel"])[0]["country"] == "VN"
    text = _strings(tmp_path)
    assert PLACE not in text and CONTACT_NOTE not in text
    with_them = export_projections(engine, ["tracing"], tmp_path / "personal", personal_data=True)
    assert with_them["tracing"]["digest"] == result["tracing"]["digest"]
    assert PLACE in _strings(tmp_path / "personal") and CONTACT_NOTE in _strings(tmp_path / "personal")


def test_the_command_writes_a_manifest_and_refuses_a_used_directory(world, store, tmp_path):
    _record(world)
    env = {**os.environ, "LEDGER_DATABASE_URL": store.database_url, "PYTHONPATH": "src"}
    out = tmp_path / "export"
    cmd = [sys.executable, "-m", "ledger.cli", "export", str(out), "--projection", "stock"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["personal_data"] is False and manifest["events"]["up_to_position"] == world.ledger.head()
    assert list(manifest["projections"]) == ["stock"]
    assert f"stock: digest {manifest['projections']['stock']['digest']}" in done.stdout
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_a_projection_is_read_from_one_snapshot_while_the_engine_holds_it(world, runtime, tmp_path):
    """The engine is mid-batch on `stock` (its position row locked, a row changed, not committed): the export
    neither waits for it nor sees the uncommitted change."""
    _record(world)
    engine = runtime.engine
    engine.catch_up()
    before = engine.digest("stock")
    locked, release, exported = threading.Event(), threading.Event(), []

    def engine_mid_batch() -> None:
        with contextlib.suppress(RuntimeError), engine.db.transaction() as tx:
            tx.lock_position("stock")
            tx.execute("UPDATE stock_levels SET on_hand = on_hand + 1000")
            locked.set()
            release.wait(30)
            raise RuntimeError("rolled back")

    holder = threading.Thread(target=engine_mid_batch)
    holder.start()
    assert locked.wait(10)
    try:
        exported.append(export_projections(engine, ["stock"], tmp_path))
        assert holder.is_alive()  # the export did not wait for the engine's transaction to end
    finally:
        release.set()
        holder.join(30)
    assert exported[0]["stock"]["digest"] == before
