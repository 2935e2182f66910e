"""Rebuilds (blue/green) and as-of builds: one pass over the log fills a scratch copy of some
projections' tables (`projections.scratch`) while the live ones keep serving.

A rebuild then switches the copy in: catches it up to the head with the live positions locked,
and makes its tables the live ones in the same transaction, so no reader ever sees a table half
built. An as-of build stops at a position and leaves the copy for an auditor to query.

One pass: the projections being built stand at one position, so every batch of the log is
read and decoded once for all of them (`ProjectionEngine.read_round`), while the next batch
is read ahead on another connection (PostgreSQL). Each batch is committed with the area's own
positions, so an interrupted build resumes where it stopped (run the same command again).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from ledger import collector

from .db import Tx
from .engine import ProjectionEngine
from .scratch import ScratchArea, exclusive, open_area

#: Events read per batch of a build. Each batch costs every table a lookup and a write (three or
#: four statements), and loads and writes once each row its events touch (a person's registration,
#: screening and doses; a stock card's every dose; a ward's counters), so bigger batches cost less
#: per event: over the national workload, 5,000 → 50,000 took the fill from 15.6 to 10.4 s of wall
#: time, the client's CPU by a quarter and the database's by a third (BENCHMARKS.md §10). Memory
#: grows with it, about 3 KB per event of a batch (this one and the one read ahead): 380 MB at
#: 50,000, 680 MB at 100,000, which was only 8 % faster.
REBUILD_BATCH = 50_000
#: A build reads on until the head is at most this many events ahead before it switches, so the
#: catch-up inside the switch (while the live projections wait) stays short.
SWITCH_LAG = 10_000
#: At most this many passes to chase a log growing as fast as the build reads it.
MAX_PASSES = 5

Progress = Callable[[int, int], None]


def area_name(names: Sequence[str], until: int | None = None) -> str:
    """The scratch area for a build of `names` (the same set resumes the same area)."""
    tag = hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:12]
    return f"rebuild_{tag}" if until is None else f"asof_{until}_{tag}"


class Build:
    """Some projections of a live engine, filled in one pass into their scratch area.

    `rebuild()` switches them in when full; `as_of()` (with `until`) stops at that position and
    keeps the area. Both return the digest of each projection's rows at `position`, the
    position the fill reached (a rebuild's switch may add the events recorded meanwhile).
    """

    def __init__(self, live: ProjectionEngine, names: Sequence[str], until: int | None = None) -> None:
        self.live = live
        self.names = sorted(set(names))
        self.projections = [live.projection(n) for n in self.names]
        self.tables = [t for p in self.projections for t in p.tables]
        self.bare = [t for p in self.projections for t in p.insert_only]
        self.until = until
        self.area = area_name(self.names, until)
        self.position = 0
        #: how long the switch took (the live positions locked; PostgreSQL readers wait for its last part).
        self.switch_seconds = 0.0

    def rebuild(self, progress: Progress | None = None, restart: bool = False) -> dict[str, str]:
        return self._run(progress, restart, switch=True)

    def as_of(self, progress: Progress | None = None, restart: bool = False) -> dict[str, str]:
        if self.until is None:
            raise ValueError("an as-of build needs a position")
        return self._run(progress, restart, switch=False)

    def _run(self, progress: Progress | None, restart: bool, switch: bool) -> dict[str, str]:
        with exclusive(self.live.db, self.area):
            area = open_area(self.live.db, self.area, self.tables, self.bare)
            if restart and not area.fresh:
                area.drop()
                area = open_area(self.live.db, self.area, self.tables, self.bare)
            try:
                return self._fill_and_switch(area, progress, switch)
            finally:
                area.db.close()

    def _fill_and_switch(self, area: ScratchArea, progress: Progress | None, switch: bool) -> dict[str, str]:
        engine = ProjectionEngine(self.live.ledger, area.db, self.projections, REBUILD_BATCH, until=self.until)
        engine.catch_up_growth = 1
        with collector.paused():
            for _ in range(MAX_PASSES):
                self.position = self._fill(engine, engine.head(), progress)
                if engine.head() - self.position <= SWITCH_LAG:
                    break
        area.complete()
        with engine.db.transaction() as tx:
            digests = {n: engine.digest_in(tx, engine.projection(n)) for n in self.names}
        if switch:
            started = time.monotonic()
            area.switch(self.tables, self.names, lambda tx: _catch_up_in(engine, tx))
            self.switch_seconds = time.monotonic() - started
        return digests

    def _fill(self, engine: ProjectionEngine, head: int, progress: Progress | None) -> int:
        """Rounds of `REBUILD_BATCH` events up to `head`, each batch read while the last is applied
        (PostgreSQL: a reader thread on its own connection; SQLite reads in line, its embedded
        store gains nothing from it). Returns the position reached."""
        reached = min(engine.positions().values())
        ahead: dict[str, int] = {}
        future: Future | None = None
        read_ahead = engine.db.dialect == "postgresql"

        def read(behind: dict[str, int], head: int, size: int) -> dict:
            nonlocal reached, ahead, future
            batches = future.result() if future is not None and behind == ahead else engine.read_round(behind, head, size)
            nxt = {n: p for n, (_, p) in batches.items() if p < head}
            reached = min(p for _, p in batches.values())
            ahead, future = (nxt, reader.submit(engine.read_round, nxt, head, size)) if read_ahead and nxt else ({}, None)
            return batches

        with ThreadPoolExecutor(1, thread_name_prefix=f"read-{self.area}") as reader:
            while engine.process_round(head, read):
                if progress:
                    progress(reached, head)
        if progress:
            progress(head, head)
        return head


def _catch_up_in(engine: ProjectionEngine, tx: Tx) -> None:
    """Rounds in the switch's own transaction until the area reaches the head as it is now."""
    head = engine.head()
    while engine.round_in(tx, head):
        pass
