"""The collector policies of `ledger.collector`, in child processes: the collector is process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import api

SRC = Path(api.__file__).resolve().parents[1]

CHILD = r'''
import gc
from ledger import collector

assert gc.get_freeze_count() == 0
collector.tune_for_serving()
frozen = gc.get_freeze_count()
assert frozen > 0, "start-up not frozen"
collector.tune_for_serving()  # once per process
assert gc.callbacks.count(collector._after_collection) == 1

kept = [[i] for i in range(10_000)]  # survivors of the next full collection
gc.collect()
assert gc.get_freeze_count() >= frozen + 10_000, "survivors of a full collection not frozen"

cycle = []
cycle.append(cycle)
gc.collect()  # the cycle survives and is frozen with the rest
del cycle
assert gc.collect() == 0, "a frozen cycle is out of the collector's sight (the cost of freezing)"
collector.THAW_SECONDS = 0.0  # time to thaw: the next full collection unfreezes instead of freezing
gc.collect()
assert gc.get_freeze_count() == 0
assert gc.collect() >= 1, "the cycle frozen before it died was not reclaimed after the thaw"
print("ok")
'''


PAUSED = r'''
import gc, threading
from ledger import collector

first_in, second_out = threading.Event(), threading.Event()

def first():
    with collector.paused():
        first_in.set()
        assert second_out.wait(10)
        assert not gc.isenabled(), "the second job's end turned the collector on under the first"

thread = threading.Thread(target=first)
thread.start()
assert first_in.wait(10)
with collector.paused():
    assert not gc.isenabled()
second_out.set()
thread.join()
assert gc.isenabled(), "the collector stayed off after the last job"

gc.disable()
with collector.paused():
    pass
assert not gc.isenabled(), "a collector the caller had turned off was turned on"
print("ok")
'''


def _child(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(SRC)})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_serving_freezes_survivors_and_thaws_periodically():
    _child(CHILD)


def test_paused_overlapping_jobs_restore_the_collector_after_the_last():
    _child(PAUSED)
