"""Python's cyclic garbage collector: paused for bulk work, tuned for a serving process.

A full collection walks every tracked object, and the bulk jobs hold many: a rebuild keeps
hundreds of thousands of rows in memory (`projections.db.Emptied`), an import batch thousands of
aggregates with their pending events. With the collector on, a quarter of a `vaccination_history`
rebuild's CPU went to it (27 full collections, 1.6 s of 9.9 s, on a 1 M-event log), and 17 % of
a backlog import's (13 full collections of ~55 ms and 134 middle ones in 5.4 s for 100,000
events). `paused()` turns it off for such a job: what the job allocates is freed by reference
counting; the rebuild with the collector off left 825 objects in reference cycles behind,
collected by the next collection after it.

In a serving process a full collection stops every thread while it walks every tracked object,
and in an API worker those are mostly long-lived: the application's modules and routes, and the
Ledger's caches of aggregates (up to `LEDGER_AGGREGATE_CACHE_SIZE` each). Measured in a worker
under the dose benchmark (two workers, 16 clients, 40 s): 14 full collections of 100–200 ms each,
1.5 s in all, and every request in flight during one waited for it: a large part of the p99.

So a serving process freezes what has survived a full collection (`gc.freeze()`: moved out of
the collector's sight, still freed by reference counting like any object): once after start-up,
and after each full collection. The next full collection then walks only what was promoted since.
Measured the same way: full collections 0.14 s in all, the longest 70–80 ms (the first, before
anything was frozen).

The cost: a reference cycle that was alive when frozen and dies later is not reclaimed. To bound
that, every `THAW_SECONDS` the next full collection is preceded by `gc.unfreeze()`, so it walks
(and reclaims) everything once, then freezes again: one long pause every ten minutes instead of
several a minute.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

THAW_SECONDS = 600.0

_lock = threading.Lock()
_installed = False
_last_thaw = 0.0
_paused_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the duration; jobs may overlap (threads): it comes back on when the
    last of them ends, if it was on when the first began."""
    global _paused_depth, _was_enabled
    with _lock:
        if _paused_depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused_depth += 1
    try:
        yield
    finally:
        with _lock:
            _paused_depth -= 1
            if _paused_depth == 0 and _was_enabled:
                gc.enable()


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    global _last_thaw
    if phase != "stop" or info["generation"] != 2:
        return
    now = time.monotonic()
    if now - _last_thaw >= THAW_SECONDS:
        # Everything goes back in sight; the next full collection reclaims what was frozen and died.
        _last_thaw = now
        gc.unfreeze()
    else:
        gc.freeze()


def tune_for_serving() -> None:
    """Freeze what survives start-up and every full collection from now on (once per process)."""
    global _installed, _last_thaw
    with _lock:
        if _installed:
            return
        _installed = True
        _last_thaw = time.monotonic()
    gc.collect()
    gc.freeze()
    gc.callbacks.append(_after_collection)
