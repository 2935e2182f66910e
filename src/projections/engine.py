"""The projection engine: batched, exactly once, the same on SQLite and PostgreSQL.

For each batch, in one transaction on the projection store:
1. lock the projection's position row (PostgreSQL `FOR UPDATE`; SQLite `BEGIN IMMEDIATE`),
   so two runners never apply the same events twice;
2. read the head position, then up to `batch_size` events of the projection's topics
   after its position and not after the head (`CATCH_UP_GROWTH` times as many while the
   projection is behind);
3. decode them, apply them, and store the new position: the last event's when the batch
   was full, otherwise the head (every event up to the head is committed, because the
   event store commits in position order, so nothing can appear below it later).
A crash anywhere leaves the old rows with the old position. The live runner does this for
every projection at once, in rounds (`ProjectionEngine.process_round`).

Between batches the engine polls (SQLite) or sleeps on LISTEN/NOTIFY (PostgreSQL).
Rebuilds run the same rounds over a scratch copy of the tables (`projections.rebuild`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger.application import Ledger

from .base import Fact, Projection
from .db import ProjectionDB, Tx

log = logging.getLogger(__name__)

#: How a round gets its batches: (positions of the projections behind, head, size) -> name -> (events, reached).
Reader = Callable[[dict[str, int], int, int], dict[str, tuple[list[tuple[int, Fact]], int]]]

#: The live runner starts a round at most this often (seconds); see `ProjectionEngine.run_forever`.
MIN_ROUND_INTERVAL = 0.02
#: A projection that is behind (its last batch was full) reads up to this many times `batch_size` at
#: once: bigger batches amortise each transaction's fixed costs while it catches up (on a bulk
#: import of check-ins, say), and one at the head goes back to short transactions.
CATCH_UP_GROWTH = 5


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ProjectionEngine:
    def __init__(self, ledger: Ledger, db: ProjectionDB, projections: list[Projection], batch_size: int = 1000,
                 until: int | None = None):
        self.ledger = ledger
        #: an engine that builds a projection as of a position goes no further than it (None: the head).
        self.until = until
        self.db = db
        self.projections = {p.name: p for p in projections}
        self.batch_size = batch_size
        self.catch_up_growth = CATCH_UP_GROWTH
        self.min_round_interval = MIN_ROUND_INTERVAL
        #: projections whose last batch was full: they read `catch_up_growth` times more at once.
        self._behind: set[str] = set()
        #: events applied per projection since start, and when counting began (for throughput).
        self.applied: dict[str, int] = dict.fromkeys(self.projections, 0)
        self.started = time.monotonic()
        self._ensure_rows()

    def _ensure_rows(self) -> None:
        with self.db.transaction() as tx:
            for name in self.projections:
                tx.execute(
                    "INSERT INTO projection_positions (name, position, updated_at) VALUES (%s, 0, %s)"
                    " ON CONFLICT (name) DO NOTHING",
                    (name, _now()),
                )

    def head(self) -> int:
        """The position this engine processes up to: the log's head, or `until` if that is lower."""
        head = self.ledger.head()
        return head if self.until is None else min(head, self.until)

    def projection(self, name: str) -> Projection:
        try:
            return self.projections[name]
        except KeyError:
            raise KeyError(f"unknown projection {name!r}; known: {sorted(self.projections)}") from None

    # -- processing ----------------------------------------------------------------------------

    def _read(self, projection: Projection, after: int, head: int, limit: int) -> tuple[list[tuple[int, Any]], int]:
        """Decoded events after `after` up to `head`, and the position this batch reaches."""
        events = [(p, Fact(state)) for p, state in
                  self.ledger.stored_after(after, stop=head, topics=projection.topics, limit=limit)]
        reached = events[-1][0] if len(events) == limit else head
        return events, reached

    def _set_position(self, tx: Tx, name: str, position: int) -> None:
        tx.execute("UPDATE projection_positions SET position = %s, updated_at = %s WHERE name = %s",
                   (position, _now(), name))

    def process_batch(self, name: str) -> tuple[int, bool]:
        """Apply one batch; returns (events applied, caught up with the head)."""
        projection = self.projection(name)
        with self.db.transaction() as tx:
            position = tx.lock_position(name)
            head = self.head()
            if head <= position:
                return 0, True
            size = self.batch_size * (self.catch_up_growth if name in self._behind else 1)
            events, reached = self._read(projection, position, head, size)
            if events:
                projection.apply(tx, events)
            self._set_position(tx, name, reached)
        self.applied[name] += len(events)
        if reached >= head:
            self._behind.discard(name)
        else:
            self._behind.add(name)
        return len(events), reached >= head

    def process_round(self, head: int | None = None, read: Reader | None = None) -> bool:
        """One batch for every projection that is behind `head` (default: the log's head, or
        `until`), all in one transaction: what the live runner does each time the log grows.
        Returns whether one is still behind."""
        head = self.head() if head is None else head
        with self.db.transaction() as tx:
            return self.round_in(tx, head, read)

    def round_in(self, tx: Tx, head: int, read: Reader | None = None) -> bool:
        """`process_round` in a transaction the caller holds (a blue/green switch catches up in its own).

        When the projections stand at the same position, as live projections do, the log is
        read once for all of them (the union of their topics) and each gets its own events, in
        order. Otherwise each reads from its own position. `read` (default `read_round`) may
        hand over a batch read ahead. One commit per round instead of one per projection: with
        a transaction per projection, two runners beside 300 doses/s used more CPU than the
        doses themselves (BENCHMARKS.md §3b). A round that fails is rolled back whole;
        `run_forever` then takes the projections one at a time, so one failing projection does
        not hold back the others.
        """
        behind = tx.lock_positions(sorted(self.projections), below=head)
        self._behind &= behind.keys()  # those at the head are no longer behind
        if not behind:
            return False
        size = self.batch_size * (self.catch_up_growth if self._behind else 1)
        batches = (read or self.read_round)(behind, head, size)
        for name, (events, _) in batches.items():
            if events:
                self.projections[name].apply(tx, events)
        now = _now()
        tx.executemany("UPDATE projection_positions SET position = %s, updated_at = %s WHERE name = %s",
                       [(position, now, name) for name, (_, position) in sorted(batches.items())])
        for name, (events, position) in batches.items():
            self.applied[name] += len(events)
            (self._behind.discard if position >= head else self._behind.add)(name)
        return bool(self._behind)

    def read_round(self, behind: dict[str, int], head: int, size: int) -> dict[str, tuple[list, int]]:
        """Each named projection's next batch after its position, up to `head`, and the position it reaches."""
        if len(set(behind.values())) == 1:
            return self._read_shared(list(behind), next(iter(behind.values())), head, size)
        return {n: self._read(self.projections[n], p, head, size) for n, p in behind.items()}

    def _read_shared(self, names: list[str], after: int, head: int, limit: int) -> dict[str, tuple[list, int]]:
        """`_read` for several projections at one position: one query over their topics, each
        projection's events picked out in log order; every one reaches the same position."""
        events_of: dict[str, list[tuple[int, Fact]]] = {name: [] for name in names}
        lists_of_topic: dict[str, list[list]] = {}
        for name in names:
            for topic in self.projections[name].topics:
                lists_of_topic.setdefault(topic, []).append(events_of[name])
        rows = self.ledger.stored_after(after, stop=head, topics=sorted(lists_of_topic), limit=limit)
        for position, state in rows:
            fact = Fact(state)
            for events in lists_of_topic[state["topic"]]:
                events.append((position, fact))
        reached = rows[-1][0] if len(rows) == limit else head
        return {name: (events, reached) for name, events in events_of.items()}

    def catch_up(self, name: str | None = None) -> int:
        """Process until every (or the named) projection has reached the head as it was at the start."""
        total = 0
        for n in [name] if name else list(self.projections):
            while True:
                applied, caught_up = self.process_batch(n)
                total += applied
                if caught_up:
                    break
        return total

    def rebuild(self, name: str, progress: Callable[[int, int], None] | None = None) -> str:
        """Rebuild one projection blue/green (`projections.rebuild`); returns the rebuilt rows' digest."""
        from .rebuild import Build

        return Build(self, [name]).rebuild(progress)[name]

    # -- observation -----------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        rows = self.db.query("SELECT name, position FROM projection_positions")
        return {r["name"]: r["position"] for r in rows if r["name"] in self.projections}

    def status(self) -> list[dict[str, Any]]:
        head = self.head()
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rows = self.db.query("SELECT name, position, updated_at FROM projection_positions ORDER BY name")
        return [
            {
                "name": r["name"],
                "position": r["position"],
                "head": head,
                "lag": max(head - r["position"], 0),
                "updated_at": r["updated_at"],
                "events_per_second": round(self.applied.get(r["name"], 0) / elapsed, 1),
            }
            for r in rows
            if r["name"] in self.projections
        ]

    def digest(self, name: str) -> str:
        """SHA-256 over the projection's rows in primary-key order: equal rows, equal digest."""
        projection = self.projection(name)
        with self.db.transaction() as tx:
            return self.digest_in(tx, projection)

    @staticmethod
    def digest_in(tx: Tx, projection: Projection) -> str:
        """SHA-256 over each table (in name order): its name, its column names (sorted, tab-separated),
        then its rows in primary-key order as PostgreSQL's COPY text format writes them, columns
        in that sorted order (`Tx.table_text`). The same rows give the same digest on either
        backend, and an auditor can recompute it with `psql -c "COPY (SELECT ...) TO STDOUT"`."""
        h = hashlib.sha256()
        for table in sorted(projection.tables):
            columns = sorted(tx.columns(table))
            h.update(f"{table}\n{chr(9).join(columns)}\n".encode())
            for chunk in tx.table_text(table, columns, projection.tables[table]):
                h.update(chunk)
        return h.hexdigest()

    # -- running ---------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, poll_interval: float = 0.1) -> None:
        """Keep every projection up to date until `stop` is set; errors are logged and retried.

        Rounds start at most every `min_round_interval` seconds. Most of a round's cost is
        fixed (a query or two per table, the commit), so under a steady stream of commands the
        runner applies what 20 ms brought in one round instead of starting a round per commit:
        with two runners beside 300 doses/s, 1.6 ms of engine CPU per dose with a round per
        commit, 1.15 ms with at most one every 20 ms. A command after a quiet spell is applied
        at once."""
        waiter = _ChangeWaiter(self.ledger, poll_interval)
        try:
            started = -self.min_round_interval
            while not stop.is_set():
                pause = self.min_round_interval - (time.monotonic() - started)
                if pause > 0 and stop.wait(pause):
                    break
                started = time.monotonic()
                try:
                    busy = self.process_round()
                except Exception:
                    log.debug("projection round failed; one projection at a time", exc_info=True)
                    busy = self._process_each(stop)
                if not busy:
                    waiter.wait(stop)
        finally:
            waiter.close()

    def _process_each(self, stop: threading.Event) -> bool:
        """One batch per projection, each in its own transaction: a failing one is logged and the
        others go on. Returns whether one is still behind (or failed)."""
        busy = False
        for name in self.projections:
            try:
                busy = not self.process_batch(name)[1] or busy
            except Exception:
                log.exception("projection %s failed; retrying", name)
                busy = True
                stop.wait(1.0)
        return busy


class _ChangeWaiter:
    """Sleeps until the log may have grown: LISTEN/NOTIFY on PostgreSQL, a short poll otherwise."""

    def __init__(self, ledger: Ledger, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self.conn = None
        if ledger.settings.is_postgres:
            import psycopg

            try:
                self.conn = psycopg.connect(ledger.settings.postgres_conninfo(), autocommit=True)
                # The library notifies on a channel named after the events table.
                self.conn.execute("LISTEN ledger_events")
            except psycopg.Error:
                log.warning("LISTEN unavailable; polling instead", exc_info=True)
                self.conn = None

    def wait(self, stop: threading.Event) -> None:
        if self.conn is None:
            stop.wait(self.poll_interval)
            return
        try:
            for _ in self.conn.notifies(timeout=max(self.poll_interval, 0.5), stop_after=1):
                pass
        except Exception:
            log.warning("LISTEN connection lost; polling instead", exc_info=True)
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
