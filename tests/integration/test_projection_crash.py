"""The projection engine killed mid-batch leaves rows and position unchanged; after restart the digest equals
a rebuild's. The kill is real: a child process dies (os._exit or SIGKILL) inside `apply`, after the batch's rows
were written in its open transaction and before the commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from integration_scenarios import supply_chain, vaccination_flow

import ledger

SRC = Path(ledger.__file__).resolve().parents[1]

CHILD = r'''
import os, signal, sys

from ledger.application import Ledger
from ledger.settings import Settings
from projections.db import open_projection_db
from projections.engine import ProjectionEngine
from projections.stock import Stock
from projections.vaccination_history import VaccinationHistory

url, name, how = sys.argv[1:4]
base = {"vaccination_history": VaccinationHistory, "stock": Stock}[name]


class DiesMidBatch(base):
    """Applies the batch, reports what the open transaction holds, then dies before the engine commits."""

    def apply(self, tx, events):
        super().apply(tx, events)
        print("applied", len(events), "digest", ProjectionEngine.digest_in(tx, self), flush=True)
        if how == "exit":
            os._exit(1)
        os.kill(os.getpid(), signal.SIGKILL)


settings = Settings(database_url=url)
engine = ProjectionEngine(Ledger(settings), open_projection_db(settings), [DiesMidBatch()])
engine.catch_up(name)
print("survived", flush=True)
sys.exit(3)
'''


@pytest.mark.parametrize(("name", "how"), [("vaccination_history", "exit"), ("stock", "sigkill")])
def test_engine_killed_mid_batch_changes_nothing(store, world, prov, runtime, tmp_path, name, how):
    """A projection engine process killed mid-batch leaves the projection's rows and position exactly as they
    were; the restarted engine then catches up to a digest equal to a rebuild's."""
    engine = runtime.engine
    supply_chain(world, prov)
    engine.catch_up()
    vaccination_flow(world, prov)  # the batch the child will die in
    position, digest = engine.positions()[name], engine.digest(name)
    assert position < world.ledger.head()

    script = tmp_path / "die_mid_batch.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    child = subprocess.run([sys.executable, str(script), store.database_url, name, how],
                           capture_output=True, text=True, timeout=120, env=env)

    assert child.returncode == (1 if how == "exit" else -9), child.stderr
    assert "survived" not in child.stdout
    words = child.stdout.split()
    assert words[:1] == ["applied"] and int(words[1]) > 0, child.stdout + child.stderr
    assert words[3] != digest  # the dead transaction had written rows
    assert engine.positions()[name] == position
    assert engine.digest(name) == digest

    assert engine.catch_up() > 0
    assert engine.positions()[name] == world.ledger.head()
    live = engine.digest(name)
    assert live == words[3]  # the restart applied the same batch the child had applied
    assert engine.rebuild(name) == live
