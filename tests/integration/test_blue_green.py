"""Blue/green rebuilds, resumed builds and as-of builds (`projections.rebuild`), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from integration_scenarios import (
    access_reads,
    identity_correction,
    merge_and_revert,
    supply_chain,
    vaccination_flow,
)

from projections import rebuild, scratch
from projections.rebuild import Build


@pytest.fixture
def small_batches(monkeypatch):
    """Builds in batches of 5 events: many rounds even over a test's log."""
    monkeypatch.setattr(rebuild, "REBUILD_BATCH", 5)
    monkeypatch.setattr(rebuild, "SWITCH_LAG", 5)


def scenario(world, prov) -> None:  # noqa: ANN001
    for step in (supply_chain, vaccination_flow, identity_correction, merge_and_revert, access_reads):
        step(world, prov)


def test_one_pass_rebuilds_every_projection_reading_the_log_once(world, prov, runtime, small_batches):
    """All projections rebuilt together get their incremental digests; each batch of the log is read once
    for all of them (the union of their topics), not once per projection."""
    engine = runtime.engine
    scenario(world, prov)
    engine.catch_up()
    live = {n: engine.digest(n) for n in engine.projections}
    reads: list[int] = []
    stored_after = world.ledger.stored_after

    def counting(*args, topics, **kwargs):  # noqa: ANN002, ANN003, ANN202
        rows = stored_after(*args, topics=topics, **kwargs)
        reads.append(len(rows))
        return rows

    world.ledger.stored_after = counting
    progress: list[tuple[int, int]] = []
    digests = Build(engine, list(engine.projections)).rebuild(lambda done, total: progress.append((done, total)))
    assert digests == live
    assert {n: engine.digest(n) for n in engine.projections} == live
    head = world.ledger.head()
    topics = sorted({t for p in engine.projections.values() for t in p.topics})
    relevant = len(stored_after(0, stop=head, topics=topics, limit=head + 1))
    assert sum(reads) == relevant  # every event read once, whatever number of projections it feeds
    assert len(progress) > 5 and progress[-1] == (head, head)
    assert all(a[0] <= b[0] for a, b in zip(progress, progress[1:], strict=False))
    assert engine.positions() == dict.fromkeys(engine.projections, head)
    assert scratch.areas(runtime.db) == []  # the scratch copy is gone with the switch


def test_blue_green_rebuild_while_writes_and_reads_go_on(world, prov, runtime, small_batches):
    """Doses go on being recorded and applied by the live runner, and a reader keeps counting the live rows,
    while `vaccination_history` and `stock` are rebuilt: no read sees fewer doses or an earlier position than
    one before it (a half-built table would), and once writes stop the rows equal a fresh rebuild's."""
    ledger, engine = world.ledger, runtime.engine
    supply_chain(world, prov)
    people = [world.register_person() for _ in range(40)]
    screenings = [world.screen(p) for p in people]
    engine.catch_up()
    stop, errors = threading.Event(), []
    seen: list[tuple[int, int]] = []

    def write() -> None:
        try:
            for person, screening in zip(people, screenings, strict=True):
                ledger.administer_dose(person_id=person, lot_id=world.lot_id, facility_id=world.point_id,
                                       screening_id=screening, prov=prov())
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                row = runtime.db.query(
                    "SELECT (SELECT count(*) FROM vh_doses) AS doses, (SELECT position FROM projection_positions"
                    " WHERE name = 'vaccination_history') AS position")[0]
                seen.append((row["doses"], row["position"]))
        except BaseException as exc:
            errors.append(exc)

    runner = threading.Thread(target=engine.run_forever, args=(stop, 0.01))
    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    runner.start()
    for t in threads:
        t.start()
    try:
        rebuilds = 0
        while threads[0].is_alive() or rebuilds < 2:
            Build(engine, ["stock", "vaccination_history"]).rebuild()
            rebuilds += 1
        threads[0].join(timeout=60)
        deadline = time.monotonic() + 20
        while min(engine.positions().values()) < ledger.head() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        runner.join(timeout=20)
        for t in threads:
            t.join(timeout=20)
    assert not errors, errors
    assert len(seen) > 10 and seen[-1][0] == 40
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(seen, seen[1:], strict=False)), seen
    for name in ("stock", "vaccination_history"):
        live = engine.digest(name)
        assert engine.rebuild(name) == live, name


def test_an_interrupted_rebuild_resumes_where_it_stopped(world, prov, runtime, small_batches):
    """A rebuild stopped midway leaves the live rows as they were and its scratch copy with its position;
    the same command again reads on from there and switches in the same rows a rebuild from 0 gives."""
    engine = runtime.engine
    scenario(world, prov)
    engine.catch_up()
    live = engine.digest("vaccination_history")

    class Interrupted(Exception):
        pass

    def interrupt_after_three(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise Interrupted

    calls: list[int] = []
    with pytest.raises(Interrupted):
        Build(engine, ["vaccination_history"]).rebuild(interrupt_after_three)
    stopped_at = calls[-1]
    assert 0 < stopped_at < world.ledger.head()
    area = rebuild.area_name(["vaccination_history"])
    assert scratch.areas(runtime.db) == [area]
    assert engine.digest("vaccination_history") == live
    if runtime.db.dialect == "postgresql":  # the copy has the live tables' index names, for later migrations
        indexes = "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s AND tablename LIKE 'vh\\_%%'"
        assert runtime.db.query(indexes, (area,)) and (
            sorted(map(tuple, (r.values() for r in runtime.db.query(indexes, (area,)))))
            == sorted(map(tuple, (r.values() for r in runtime.db.query(indexes, ("public",))))))

    resumed: list[int] = []
    assert Build(engine, ["vaccination_history"]).rebuild(lambda done, total: resumed.append(done)) \
        == {"vaccination_history": live}
    assert resumed[0] >= stopped_at  # read on from where it stopped, not from 0
    assert engine.digest("vaccination_history") == live and scratch.areas(runtime.db) == []


def test_a_build_of_an_area_another_process_fills_is_refused(world, prov, runtime):
    engine = runtime.engine
    supply_chain(world, prov)
    with scratch.exclusive(runtime.db, rebuild.area_name(["stock"])), pytest.raises(scratch.AreaBusy):
        Build(engine, ["stock"]).rebuild()
    assert Build(engine, ["stock"]).rebuild() == {"stock": engine.digest("stock")}


def test_an_as_of_build_reproduces_what_the_live_projection_said_then(world, prov, runtime):
    """Building to position N (or to the moment N was recorded) gives the digest the live projection had
    at N, into a scratch area an auditor can read, while the live rows go on past it."""
    engine, ledger = runtime.engine, world.ledger
    supply_chain(world, prov)
    vaccination_flow(world, prov)
    engine.catch_up()
    n = ledger.head()
    then = {name: engine.digest(name) for name in ("stock", "vaccination_history")}
    levels_then = runtime.stock.levels(lot_id=world.lot_id)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    identity_correction(world, prov)
    merge_and_revert(world, prov)
    later = world.register_person()
    ledger.administer_dose(person_id=later, lot_id=world.lot_id, facility_id=world.point_id,
                           screening_id=world.screen(later), prov=prov())
    engine.catch_up()
    assert ledger.head() > n and runtime.stock.levels(lot_id=world.lot_id) != levels_then
    assert {name: engine.digest(name) for name in then} != then

    assert ledger.position_at(moment) == n
    assert ledger.position_at(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    build = Build(engine, ["stock", "vaccination_history"], until=n)
    assert build.as_of() == then and build.position == n
    area = rebuild.area_name(["stock", "vaccination_history"], until=n)
    assert area in scratch.areas(runtime.db)
    db = scratch.reader(runtime.db, area)
    try:
        from projections.stock import StockQueries

        assert StockQueries(db).levels(lot_id=world.lot_id) == levels_then
        assert db.query("SELECT position FROM projection_positions ORDER BY name") == [
            {"position": n}, {"position": n}]
    finally:
        db.close()
    scratch.drop(runtime.db, area)
    assert area not in scratch.areas(runtime.db)


def test_the_cli_rebuilds_builds_as_of_lists_and_drops(store, world, prov, runtime, capsys):
    """`ledger projections rebuild/build/status/drop`: digests with their positions, the scratch area kept
    by an as-of build listed until dropped, and a clear exit 2 for what cannot be done."""
    from ledger.cli import build_parser

    def run(*argv: str) -> int:
        args = build_parser().parse_args(["projections", *argv])
        return args.func(store, args)

    engine = runtime.engine
    supply_chain(world, prov)
    engine.catch_up()
    n, stock_then = world.ledger.head(), engine.digest("stock")
    vaccination_flow(world, prov)
    engine.catch_up()
    head = world.ledger.head()
    capsys.readouterr()

    assert run("rebuild", "stock", "vaccination_history") == 0
    out, err = capsys.readouterr()
    assert f"rebuild stock, vaccination_history: position {head:,} of {head:,} (100%)" in err  # not a terminal
    assert f"stock: digest {engine.digest('stock')} at position {head}" in out
    assert f"vaccination_history: digest {engine.digest('vaccination_history')} at position {head}" in out
    assert run("build", "stock", "--as-of-position", str(n)) == 0
    assert f"stock: digest {stock_then} at position {n}" in capsys.readouterr().out
    area = rebuild.area_name(["stock"], until=n)
    assert run("status") == 0
    assert f"scratch area {area}: stock at {n}" in capsys.readouterr().out
    assert run("build", "stock", "--as-of-time", datetime.now(UTC).isoformat()) == 0
    assert f"stock: digest {engine.digest('stock')} at position {head}" in capsys.readouterr().out
    assert run("drop", area) == 0 and run("drop", rebuild.area_name(["stock"], until=head)) == 0
    assert scratch.areas(runtime.db) == []
    assert run("drop", area) == 2
    assert run("build", "stock", "--as-of-position", str(head + 5)) == 2
    assert run("rebuild", "no_such_projection") == 2
    with pytest.raises(SystemExit):
        run("build", "stock", "--as-of-time", "2021-08-01T12:00:00")  # no offset: refused by the parser


@pytest.mark.postgres
def test_the_switch_gives_up_on_a_long_read_and_tries_again(pg_settings, prov, world_factory, monkeypatch, caplog):
    """A read holding a live table longer than the switch's lock timeout makes the switch roll back (so new
    reads are not queued behind it for long) and try again; it then switches in the same rows."""
    import psycopg

    from ledger.application import Ledger
    from projections.runtime import ProjectionRuntime

    monkeypatch.setattr(scratch, "SWITCH_LOCK_TIMEOUT", "100ms")
    ledger = Ledger(pg_settings)
    runtime = ProjectionRuntime(pg_settings, ledger)
    try:
        supply_chain(world_factory(ledger, tag="0815"), prov)
        runtime.engine.catch_up()
        live = runtime.engine.digest("stock")
        held = threading.Event()

        def long_report() -> None:
            with psycopg.connect(pg_settings.postgres_conninfo()) as conn:
                conn.execute("LOCK TABLE stock_levels IN ACCESS SHARE MODE")  # what any SELECT of it holds
                held.set()
                time.sleep(0.4)  # past the first attempt's timeout, not past the second attempt's start

        reader = threading.Thread(target=long_report)
        reader.start()
        assert held.wait(10)
        try:
            assert Build(runtime.engine, ["stock"]).rebuild() == {"stock": live}
        finally:
            reader.join(timeout=10)
        assert any("trying again" in r.getMessage() for r in caplog.records)
        assert runtime.engine.digest("stock") == live and scratch.areas(runtime.db) == []
    finally:
        runtime.close()
        ledger.close()


def test_an_insert_only_table_is_built_bare_and_switched_in_with_its_keys_and_indexes(world, prov, runtime,
                                                                                     small_batches):
    """A build fills its copy of `checkins` (only ever inserted into) without keys or indexes on PostgreSQL,
    adds them once full, also when the build was interrupted and resumed, and switches in the same rows
    with the live table's constraints and indexes, under their names."""
    engine, ledger = runtime.engine, world.ledger
    venue = ledger.register_facility(code=f"CAFE-{world.tag}", name="Cafe", kind="venue", province_code="01",
                                     district_code="001", ward_code="00001", prov=prov()).ids["facility_id"]
    people = [world.register_person() for _ in range(4)]
    at = datetime(2021, 8, 10, 9, 0, tzinfo=UTC)
    rows = [{"venue_id": venue, "person_id": str(people[i % 4]), "checked_in_at": at.replace(minute=i).isoformat(),
             "mode": "citizen_scan"} for i in range(40)]
    assert ledger.import_checkins(list(enumerate(rows, 1)), prov=prov(), batch_size=7).accepted == 40
    engine.catch_up()
    live = engine.digest("checkins")
    postgres = runtime.db.dialect == "postgresql"
    indexes = "SELECT indexname, replace(indexdef, %s, 'S.') AS def FROM pg_indexes WHERE schemaname = %s" \
              " AND tablename = 'checkins' ORDER BY indexname"
    before = runtime.db.query(indexes, ("public.", "public")) if postgres else []

    class Interrupted(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        if done > 10:
            raise Interrupted

    with pytest.raises(Interrupted):
        Build(engine, ["checkins"]).rebuild(interrupt)
    area = rebuild.area_name(["checkins"])
    if postgres:
        assert runtime.db.query(indexes, (f"{area}.", area)) == []
        assert len(before) == 3  # its primary key and two indexes
    assert Build(engine, ["checkins"]).rebuild() == {"checkins": live}
    assert engine.digest("checkins") == live and scratch.areas(runtime.db) == []
    if postgres:
        assert runtime.db.query(indexes, ("public.", "public")) == before
