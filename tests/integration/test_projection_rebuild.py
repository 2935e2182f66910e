"""Projections processed incrementally equal a rebuild from position 0, on SQLite and PostgreSQL, even while
another engine instance keeps processing new events during the rebuild."""

from __future__ import annotations

import threading
import time

from integration_scenarios import (
    access_reads,
    identity_correction,
    merge_and_revert,
    supply_chain,
    vaccination_flow,
)

from projections.base import Rows
from projections.db import Emptied, SQLiteProjectionDB, open_projection_db
from projections.engine import ProjectionEngine
from projections.runtime import all_projections


def count_batches(engine: ProjectionEngine) -> list[int]:
    """Record the number of events of every batch the engine applies from now on."""
    sizes: list[int] = []
    process_batch = engine.process_batch

    def counting(name: str) -> tuple[int, bool]:
        applied, caught_up = process_batch(name)
        sizes.append(applied)
        return applied, caught_up

    engine.process_batch = counting  # type: ignore[method-assign]
    return sizes


def test_incremental_processing_equals_rebuild(world, prov, runtime):
    """After a scenario processed in batches of at most 3 events, each projection's digest equals its rebuild's."""
    engine = runtime.engine
    engine.batch_size, engine.catch_up_growth = 3, 1
    sizes = count_batches(engine)
    for step in (supply_chain, vaccination_flow, identity_correction, merge_and_revert, access_reads):
        step(world, prov)
        engine.catch_up()
    assert max(sizes) == 3 and sum(sizes) > 30
    reads, openings = runtime.access_log.reads(person_id=world.person_id), runtime.access_log.openings()
    assert [r["purpose"] for r in reads] == ["care", "care", "vaccination"]
    assert reads[0]["break_glass_id"] == openings[1]["break_glass_id"] and len(openings) == 2
    assert openings[0]["person_id"] == openings[1]["person_id"] == str(world.person_id)  # the reopening too
    for name in engine.projections:
        live = engine.digest(name)
        assert engine.rebuild(name) == live, name
        assert engine.digest(name) == live, name


def test_rounds_of_the_live_runner_equal_a_rebuild(world, prov, runtime):
    """The live runner's rounds (every projection in one transaction, the log read once while they stand
    at one position, each from its own otherwise) give each projection its rebuild's digest."""
    engine = runtime.engine
    engine.batch_size, engine.catch_up_growth = 4, 1
    reads: list[tuple[str, ...]] = []
    stored_after = world.ledger.stored_after

    def counting(*args, topics, **kwargs):  # noqa: ANN002, ANN003, ANN202
        reads.append(tuple(topics))
        return stored_after(*args, topics=topics, **kwargs)

    world.ledger.stored_after = counting
    supply_chain(world, prov)
    rounds = 0
    while engine.process_round():
        rounds += 1
    assert rounds > 3 and all(len(t) > len(engine.projection("stock").topics) for t in reads)  # read once per round
    assert not engine.process_round() and len(engine.positions()) == len(engine.projections)
    vaccination_flow(world, prov)
    engine.process_batch("stock")  # stock moves ahead of the others: the next round reads for each
    assert len(set(engine.positions().values())) == 2
    reads.clear()
    engine.process_round()
    assert engine.projection("stock").topics in reads and len(reads) == len(engine.projections)
    while engine.process_round():
        pass
    for step in (identity_correction, merge_and_revert, access_reads):
        step(world, prov)
        while engine.process_round():
            pass
    head = world.ledger.head()
    assert set(engine.positions().values()) == {head}
    for name in engine.projections:
        live = engine.digest(name)
        assert engine.rebuild(name) == live, name


def test_a_projection_behind_reads_bigger_batches_until_it_reaches_the_head(world, prov, runtime):
    """A full batch means the projection is behind: the next ones read `catch_up_growth` times as many
    events; once at the head it is back to `batch_size`."""
    engine = runtime.engine
    engine.batch_size = 2
    supply_chain(world, prov)
    sizes: list[int] = []
    while True:
        applied, caught_up = engine.process_batch("stock")
        sizes.append(applied)
        if caught_up:
            break
    assert sizes[0] == 2 and max(sizes) == 2 * engine.catch_up_growth
    vaccination_flow(world, prov)
    assert engine.process_batch("stock")[0] <= 2


def test_status_reports_lag_until_caught_up(world, prov, runtime):
    """`status()` reports a positive lag while events wait, and lag 0 at the head once caught up."""
    supply_chain(world, prov)
    head = world.ledger.head()
    before = runtime.status()
    assert {s["name"] for s in before} == {p.name for p in all_projections()}
    assert all(s["lag"] > 0 and s["head"] == head for s in before)
    runtime.engine.batch_size = 3
    runtime.engine.process_batch("stock")
    middle = {s["name"]: s for s in runtime.status()}
    assert 0 < middle["stock"]["position"] < head and middle["stock"]["lag"] == head - middle["stock"]["position"]
    runtime.engine.catch_up()
    after = runtime.status()
    assert all(s["lag"] == 0 and s["position"] == head for s in after)
    assert runtime.engine.positions() == {p.name: head for p in all_projections()}


def test_rebuild_while_another_engine_processes(store, world, prov, runtime):
    """Rebuilds that run while a second engine applies new events in small batches end with live rows equal to a
    rebuild's: the position lock keeps every event applied exactly once."""
    ledger = world.ledger
    supply_chain(world, prov)
    runtime.engine.catch_up()
    second_db = open_projection_db(store)
    second = ProjectionEngine(ledger, second_db, all_projections(), batch_size=3)
    people = [world.register_person() for _ in range(12)]
    screenings = [world.screen(p) for p in people]
    errors: list[BaseException] = []
    progressed = threading.Event()

    def write_and_process() -> None:
        try:
            for person, screening in zip(people, screenings, strict=True):
                ledger.administer_dose(person_id=person, lot_id=world.lot_id, facility_id=world.point_id,
                                       screening_id=screening, prov=prov())
                second.catch_up()
                progressed.set()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=write_and_process, name="second-engine")
    worker.start()
    rebuilds = 0
    try:
        while worker.is_alive() or rebuilds < 2:
            for name in runtime.engine.projections:
                runtime.engine.rebuild(name)
                rebuilds += 1
            # Let the second engine through between rounds: SQLite's busy handler does not queue waiters fairly.
            progressed.wait(timeout=10)
            progressed.clear()
        worker.join(timeout=60)
        # Whether the second engine got a batch in between rebuilds depends on timing; make sure it
        # applies something itself, after the last rebuild, so both engines wrote to the same rows.
        late = world.register_person()
        ledger.administer_dose(person_id=late, lot_id=world.lot_id, facility_id=world.point_id,
                               screening_id=world.screen(late), prov=prov())
        second.catch_up()
    finally:
        worker.join(timeout=60)
        second_db.close()
    assert not errors, errors
    assert rebuilds >= 2
    assert sum(second.applied.values()) > 0
    runtime.engine.catch_up()
    for name in runtime.engine.projections:
        live = runtime.engine.digest(name)
        assert runtime.engine.rebuild(name) == live, name
    level = runtime.stock.levels(lot_id=world.lot_id, facility_id=world.point_id)[0][0]
    assert level["administered"] == 13
    assert level["on_hand"] == ledger.stock_card(world.lot_id, world.point_id).on_hand


def test_a_rebuild_past_its_tracking_limit_still_merges(tmp_path):
    """`Emptied` stops tracking past its limit; from then on rows are looked up and merged, so a key
    written before is updated, not inserted twice (which the primary key would refuse)."""
    db = SQLiteProjectionDB(tmp_path / "limit.sqlite3")
    with db.transaction() as tx:
        tx.execute("CREATE TABLE probe (id text PRIMARY KEY, n bigint)")
        tx.emptied["probe"] = Emptied(limit=2)
        first = Rows(tx, "probe", ("id",))
        first.load(["a", "b", "c"])
        assert not first.rows  # nothing written yet: no query needed, nothing found
        for key in ("a", "b", "c"):
            first.put({"id": key, "n": 1})
        first.flush()
        assert tx.emptied["probe"].keys is None  # past the limit: untracked
        second = Rows(tx, "probe", ("id",))
        second.load(["a"])
        second.get("a")["n"] = 2
        second.touch(second.get("a"))
        second.flush()
        assert tx.fetch("SELECT id, n FROM probe ORDER BY id") == [
            {"id": "a", "n": 2}, {"id": "b", "n": 1}, {"id": "c", "n": 1}]
    db.close()


def test_the_live_runner_goes_on_with_the_others_when_one_projection_fails(world, prov, runtime, caplog):
    """A failing projection fails its round; the runner then takes the projections one at a time, so the
    others reach the head while the failing one keeps its old position and rows, and catches up once fixed."""
    engine = runtime.engine
    engine.min_round_interval = 0.001
    stock = engine.projection("stock")
    apply = stock.apply

    def broken(tx, events):  # noqa: ANN001, ANN202
        raise RuntimeError("a bug in the stock projection")

    stock.apply = broken
    empty = engine.digest("stock")
    supply_chain(world, prov)
    head = world.ledger.head()
    stop = threading.Event()
    runner = threading.Thread(target=engine.run_forever, args=(stop, 0.01))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            positions = engine.positions()
            if all(p == head for n, p in positions.items() if n != "stock"):
                break
            time.sleep(0.01)
        assert all(p == head for n, p in engine.positions().items() if n != "stock")
        assert engine.positions()["stock"] == 0 and engine.digest("stock") == empty
        assert any("projection stock failed" in r.getMessage() for r in caplog.records)
        stock.apply = apply
        deadline = time.monotonic() + 20
        while engine.positions()["stock"] < head and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.positions()["stock"] == head
    finally:
        stop.set()
        runner.join(timeout=10)
    assert engine.rebuild("stock") == engine.digest("stock")
