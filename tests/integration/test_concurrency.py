"""Real threads racing on PostgreSQL: stock never goes negative, one person per id number, one write per client_ref.

Every race is run the way the API runs (one shared Ledger) or the way separate workers do (several Ledger
instances on one database), and a `Conflict` (retries exhausted) counts as a failure.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from ledger.application import Ledger
from ledger.domain import Conflict, IdentityKey, RuleViolation, StockCard
from ledger.domain.receipt import CommandReceipt

pytestmark = pytest.mark.postgres

DOSES, THREADS, ATTEMPTS = 100, 16, 10


def race(threads: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    """Run `work(i)` in `threads` threads released together; returns ("ok", result) or ("error", exc) per call."""
    barrier = threading.Barrier(threads)
    outcomes: list[list[tuple[str, Any]]] = [[] for _ in range(threads)]

    def run(i: int) -> None:
        barrier.wait()
        outcomes[i].extend(work(i))

    pool = [threading.Thread(target=run, args=(i,), name=f"racer-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in pool), "a racing thread hung"
    return [o for per_thread in outcomes for o in per_thread]


def attempt(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:  # classified by the caller
        return "error", exc


def topics(ledger: Ledger, aggregate_id: UUID) -> Counter[str]:
    return Counter(e.topic for e in ledger.recorder.select_events(aggregate_id))


@pytest.mark.parametrize(("instances", "group_commit"), [(1, True), (4, True), (1, False)],
                         ids=["shared-ledger", "four-ledgers", "shared-ledger-without-group-commit"])
def test_160_attempts_on_100_doses(pg_settings, world_factory, prov, instances, group_commit):
    """16 threads making 160 dose attempts on a card holding 100 doses: exactly 100 succeed, 60 are refused with
    `stock_never_negative`, none ends in `Conflict`, and the card ends at 0 with exactly 100 Administered events.
    With group commit (the default), concurrent doses of one Ledger share transactions, and the position each
    success answered is durable: a new connection finds its event there."""
    settings = replace(pg_settings, group_commit=group_commit)
    ledgers = [Ledger(settings) for _ in range(instances)]
    try:
        world = world_factory(ledgers[0], warehouse_stock=0, point_stock=DOSES)
        people = []
        for _ in range(THREADS * ATTEMPTS):
            person = world.register_person()
            people.append((person, world.screen(person)))

        def administer(i: int) -> list[tuple[str, Any]]:
            app = ledgers[i % instances]
            return [
                attempt(lambda p=person, s=screening: app.administer_dose(
                    person_id=p, lot_id=world.lot_id, facility_id=world.point_id, screening_id=s, prov=prov()))
                for person, screening in people[i * ATTEMPTS:(i + 1) * ATTEMPTS]
            ]

        committers = [app.recorder.group_commit for app in ledgers] if group_commit else []
        before = [(c.transactions, c.commands) for c in committers]
        outcomes = race(THREADS, administer)
        errors = [o for kind, o in outcomes if kind == "error"]
        conflicts = [e for e in errors if isinstance(e, Conflict)]
        assert not conflicts, f"{len(conflicts)} of {len(outcomes)} commands ran out of retries (Conflict)"
        assert not [e for e in errors if not isinstance(e, RuleViolation)], errors
        assert Counter(e.rule for e in errors) == {"stock_never_negative": THREADS * ATTEMPTS - DOSES}
        successes = [o for kind, o in outcomes if kind == "ok"]
        assert len(successes) == DOSES
        assert len({r.position for r in successes}) == DOSES

        reader = ledgers[-1]
        assert reader.stock_card(world.lot_id, world.point_id).on_hand == 0
        card_id = StockCard.create_id(world.lot_id, world.point_id)
        assert topics(reader, card_id)["ledger.stock.Administered"] == DOSES
        dosed = [UUID(r.ids["person_id"]) for r in successes]
        assert all(len(reader.person(p).doses) == 1 for p in dosed)
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            found = dict(conn.execute("SELECT notification_id, originator_id FROM ledger_events"
                                      " WHERE notification_id = ANY(%s)", ([r.position for r in successes],)))
        assert {found.get(r.position) for r in successes} <= {card_id, *dosed} and len(found) == DOSES
        if group_commit:
            # Doses on one card take turns within a Ledger (`ledger.application.Turns`): none of a Ledger's
            # doses shares a transaction with another, and with one Ledger none loses a race.
            made = [(c.transactions - t, c.commands - n) for c, (t, n) in zip(committers, before, strict=True)]
            assert all(transactions == commands for transactions, commands in made), made
            assert sum(commands for _, commands in made) >= DOSES
            if instances == 1:
                assert made == [(DOSES, DOSES)]
        else:
            assert ledgers[0].recorder.group_commit is None
    finally:
        for app in ledgers:
            app.close()


def test_160_transfers_racing_on_100_doses_share_transactions(pg_settings, world_factory, prov):
    """Transfers take no turns (a transfer may take from several cards), so 16 threads dispatching 160
    transfers of one dose from a card holding 100 race through shared transactions: exactly 100 succeed,
    60 are refused with `stock_never_negative`, none ends in `Conflict`, the card ends at 0. Commands of one
    transaction that lost to an earlier one of it are run again alone: the rule holds on the coalesced path."""
    ledger = Ledger(pg_settings)
    try:
        world = world_factory(ledger, warehouse_stock=0, point_stock=DOSES)
        committer = ledger.recorder.group_commit
        transactions, commands = committer.transactions, committer.commands

        def dispatch(i: int) -> list[tuple[str, Any]]:
            return [
                attempt(lambda n=n: ledger.dispatch_transfer(
                    document_number=f"RACE-{i}-{n}", source_id=world.point_id, destination_id=world.warehouse_id,
                    lines=[{"lot_id": str(world.lot_id), "quantity": 1}], prov=prov()))
                for n in range(ATTEMPTS)
            ]

        outcomes = race(THREADS, dispatch)
        errors = [o for kind, o in outcomes if kind == "error"]
        assert not [e for e in errors if not isinstance(e, RuleViolation)], errors
        assert Counter(e.rule for e in errors) == {"stock_never_negative": THREADS * ATTEMPTS - DOSES}
        assert sum(kind == "ok" for kind, _ in outcomes) == DOSES
        card = ledger.stock_card(world.lot_id, world.point_id)
        assert card.on_hand == 0
        assert topics(ledger, card.id)["ledger.stock.Dispatched"] == DOSES
        transactions, commands = committer.transactions - transactions, committer.commands - commands
        assert commands >= DOSES and transactions < commands, (transactions, commands)
    finally:
        ledger.close()


@pytest.mark.parametrize("instances", [1, 4], ids=["shared-ledger", "four-ledgers"])
def test_same_id_number_from_8_threads(pg_settings, world_factory, instances):
    """8 threads registering the same id number at once make exactly one person; the 7 others are refused with
    `one_person_per_id_number`."""
    ledgers = [Ledger(pg_settings) for _ in range(instances)]
    try:
        world = world_factory(ledgers[0], warehouse_stock=0, point_stock=0)
        number = "079077777701"
        worlds = [world] + [type(world)(**{**vars(world), "ledger": app}) for app in ledgers[1:]]

        outcomes = race(8, lambda i: [attempt(lambda: worlds[i % instances].register_person(
            id_number=number, full_name=f"Racer {i}"))])
        winners = [o for kind, o in outcomes if kind == "ok"]
        errors = [o for kind, o in outcomes if kind == "error"]
        assert len(winners) == 1
        assert [type(e) for e in errors] == [RuleViolation] * 7, errors
        assert {e.rule for e in errors} == {"one_person_per_id_number"}
        assert all(e.details["person_id"] == str(winners[0]) for e in errors)
        assert ledgers[0].find_person("cccd", number) == winners[0]
        assert topics(ledgers[0], IdentityKey.create_id("cccd", number)) == {"ledger.identity.Claimed": 1}
        assert topics(ledgers[0], winners[0]) == {"ledger.person.Registered": 1}
    finally:
        for app in ledgers:
            app.close()


@pytest.mark.parametrize("instances", [1, 4], ids=["shared-ledger", "four-ledgers"])
def test_same_client_ref_from_8_threads(pg_settings, world_factory, prov, instances):
    """The same command with the same client_ref from 8 threads at once is written once; the 7 others replay the
    first result with the same ids."""
    ledgers = [Ledger(pg_settings) for _ in range(instances)]
    try:
        world = world_factory(ledgers[0], warehouse_stock=0, point_stock=0)

        def receive(i: int) -> list[tuple[str, Any]]:
            app = ledgers[i % instances]
            return [attempt(lambda: app.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=25,
                                                      supplier_ref="PO-RACE", prov=prov("race-1")))]

        outcomes = race(8, receive)
        assert [kind for kind, _ in outcomes] == ["ok"] * 8, [o for kind, o in outcomes if kind == "error"]
        results = [o for _, o in outcomes]
        assert sorted(r.replayed for r in results) == [False] + [True] * 7
        assert len({tuple(sorted(r.ids.items())) for r in results}) == 1
        assert ledgers[-1].stock_card(world.lot_id, world.point_id).on_hand == 25  # opened and received once
        card_id = StockCard.create_id(world.lot_id, world.point_id)
        assert topics(ledgers[0], card_id) == {"ledger.stock.Opened": 1, "ledger.stock.Received": 1}
        receipt_id = CommandReceipt.create_id("moh-test", "race-1")
        assert topics(ledgers[0], receipt_id) == {"ledger.receipt.Issued": 1}
    finally:
        for app in ledgers:
            app.close()


def test_a_failed_group_transaction_fails_its_commands_and_frees_the_lead(pg_settings, world_factory, prov):
    """An error while a group's transaction is written fails the commands in it, writes nothing, and
    leaves the committer free: a connection error is retried by the recorder and the command then
    succeeds; any other error fails the command, and the next command commits."""
    ledger = Ledger(pg_settings)
    try:
        world = world_factory(ledger, warehouse_stock=0, point_stock=10)
        recorder, committer = ledger.recorder, ledger.recorder.group_commit
        insert_batch = recorder.insert_batch
        # As the recorder's connection surfaces them: psycopg's errors translated by the library's datastore.
        failures: list[BaseException] = [OperationalError("connection lost"), RuntimeError("a bug")]

        def failing(commands):  # noqa: ANN001, ANN202
            if failures:
                raise failures.pop(0)
            return insert_batch(commands)

        recorder.insert_batch = failing
        head = ledger.head()
        with pytest.raises(RuntimeError, match="a bug"):  # the OperationalError was retried, then this
            ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=5, prov=prov())
        assert ledger.head() == head and not committer._leading and not committer._waiting
        result = ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=5, prov=prov())
        assert result.position > head and ledger.stock_card(world.lot_id, world.point_id).on_hand == 15
    finally:
        ledger.close()
