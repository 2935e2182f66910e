"""The serving process's collector policy (`api.collector`), in a child process: freezing is process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import api

SRC = Path(api.__file__).resolve().parents[1]

CHILD = r'''
import gc
from api import collector

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


def test_serving_freezes_survivors_and_thaws_periodically():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(SRC)})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
