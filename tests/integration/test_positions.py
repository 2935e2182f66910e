"""Positions on PostgreSQL: they increase in commit order, so a reader following them never misses a late commit,
and the gaps left by rolled-back writes are permanent and harmless to the projection engine."""

from __future__ import annotations

import threading
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from ledger.domain import Facility
from projections.runtime import all_projections

pytestmark = pytest.mark.postgres

WRITERS, COMMANDS = 8, 12


def test_positions_strictly_increase(world, prov):
    """Each command's position is above the previous one's and is the head when it returns."""
    ledger = world.ledger
    positions = []
    for n in range(10):
        result = ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=n + 1, prov=prov())
        assert result.position == ledger.head()
        positions.append(result.position)
    assert positions == sorted(set(positions))


@pytest.fixture
def store(pg_settings):
    """Only PostgreSQL: these properties rest on its sequence and the library's table lock."""
    return pg_settings


def test_commit_order_is_position_order(store, world, prov):
    """While 8 threads write, a reader polling the log never sees a new position below one it has already seen:
    events become visible in position order, so no reader skips a late commit."""
    ledger = world.ledger
    people = [world.register_person() for _ in range(WRITERS)]
    done = threading.Event()
    late: list[tuple[int, int]] = []
    polls = 0

    def follow() -> None:
        nonlocal polls
        seen: set[int] = set()
        high = 0
        with psycopg.connect(store.postgres_conninfo(), autocommit=True) as conn:
            while True:
                finished = done.is_set()
                ids = {r[0] for r in conn.execute("SELECT notification_id FROM ledger_events")}
                new = ids - seen
                late.extend((i, high) for i in new if i < high)
                if new:
                    high = max(high, *new)
                seen |= ids
                polls += 1
                if finished:
                    return

    per_thread: list[list[int]] = [[] for _ in range(WRITERS)]

    def write(i: int) -> None:
        for _ in range(COMMANDS):
            per_thread[i].append(ledger.verify_identity(person_id=people[i], result="match", prov=prov()).position)

    reader = threading.Thread(target=follow)
    reader.start()
    writers = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    assert not late, f"positions that appeared below one already seen: {late[:5]}"
    assert polls > 5
    for positions in per_thread:
        assert positions == sorted(set(positions))
    everything = [p for positions in per_thread for p in positions]
    assert len(set(everything)) == WRITERS * COMMANDS


def test_engine_tolerates_gaps(store, world, prov, runtime, monkeypatch):
    """A save rolled back by IntegrityError consumes a position that never appears; the engine, in batches of 2,
    still reaches the head and its rows equal a rebuild's. (Group commit's guarded inserts take no position
    for a lost race, so the gaps here are made with the plain insert; a group's transaction that fails
    leaves the same kind of gap.)"""
    ledger = world.ledger
    if hasattr(ledger.recorder, "group_commit"):
        monkeypatch.setattr(ledger.recorder, "group_commit", None)
    engine = runtime.engine
    engine.batch_size = 2

    def gap() -> None:
        """Save a second registration of an existing facility: the insert takes a position, then rolls back."""
        head = ledger.head()
        duplicate = Facility.register(code=f"VP-{world.tag}", name="again", kind="vaccination_point",
                                      province_code="01", district_code=None, ward_code=None, parent=None, prov=prov())
        with pytest.raises(IntegrityError):
            ledger.save(duplicate)
        assert ledger.head() == head

    engine.catch_up()
    gap()
    gap()
    middle = ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=5, prov=prov())
    gap()
    dose = ledger.administer_dose(person_id=world.person_id, lot_id=world.lot_id, facility_id=world.point_id,
                                  screening_id=world.screening_id, prov=prov())
    assert dose.position > middle.position + 1
    gap()  # a gap after the head, too
    with psycopg.connect(store.postgres_conninfo()) as conn:
        ids = [r[0] for r in conn.execute("SELECT notification_id FROM ledger_events ORDER BY 1")]
        sequence = conn.execute("SELECT last_value FROM ledger_events_notification_id_seq").fetchone()[0]
    assert ids[-1] == ledger.head() and sequence > ledger.head()
    assert len(ids) < ids[-1], "the log should have gaps"

    engine.catch_up()
    head = ledger.head()
    assert engine.positions() == {p.name: head for p in all_projections()}
    assert all(s["lag"] == 0 for s in engine.status())
    for name in engine.projections:
        assert engine.rebuild(name) == engine.digest(name)
    history = runtime.vaccination_history.history(world.person_id)
    assert [d["dose_id"] for d in history["doses"]] == [dose.ids["dose_id"]]
    level = runtime.stock.levels(lot_id=world.lot_id, facility_id=world.point_id)[0][0]
    assert level["on_hand"] == ledger.stock_card(world.lot_id, world.point_id).on_hand == 104
    assert UUID(level["card_id"])
