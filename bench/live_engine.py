"""What the live projection engine costs while commands stream in, per command.

Seeds a fresh PostgreSQL database like `bench.http_doses` (16 vaccination points with stock,
people screened a minute ago), starts `--engines` engine processes, each running
`ProjectionEngine.run_forever` over every projection (as each `ledger serve` worker runs it
in-process), and writes doses through the `Ledger` at a steady `--rate` from this process for
`--seconds` per repeat. Reports, per dose:

* the engines' CPU (all processes together), and as a ratio of the writer's own CPU per dose,
  measured in the same window (the command is the reference: what it costs to record a dose);
* transactions committed on the database (`pg_stat_database.xact_commit`; the writer's loads
  and its insert count too);
* how long the engines took to reach the head once the writer stopped.

    python -m bench.live_engine                         # 2 engines, 300 doses/s, 3 x 12 s
    python -m bench.live_engine --engines 1 --rate 100 --seconds 5 --repeats 1
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from .common import RESULTS, connect, fresh_database, log, spread, write_results
from .http_doses import seed


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def engine_process(url: str) -> None:
    """Run the engine until stdin closes; print this process's CPU seconds at each line read."""
    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections.runtime import ProjectionRuntime

    settings = Settings(database_url=url)
    ledger = Ledger(settings)
    runtime = ProjectionRuntime(settings, ledger)
    stop = threading.Event()
    thread = threading.Thread(target=runtime.engine.run_forever, args=(stop, settings.poll_interval))
    thread.start()
    print("ready", flush=True)
    for _ in sys.stdin:
        print(cpu_seconds(), flush=True)
    stop.set()
    thread.join()
    runtime.close()
    ledger.close()


def commits(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                            ).fetchone()[0]


def wait_at_head(url: str, head: int) -> None:
    """Until every projection has processed the log up to `head`."""
    with connect(url) as conn:
        while conn.execute("SELECT min(position) FROM projection_positions").fetchone()[0] < head:
            time.sleep(0.005)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", type=int, default=2, help="engine processes (as API workers run them)")
    parser.add_argument("--rate", type=float, default=300, help="doses per second the writer aims at")
    parser.add_argument("--seconds", type=float, default=12, help="seconds per measured window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine-process", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine_process:
        engine_process(args.engine_process)
        return 0
    from ledger.application import Ledger
    from ledger.domain import Provenance
    from ledger.settings import Settings

    per_window = int(args.rate * args.seconds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    with fresh_database("live_engine") as url:
        log(f"seeding {per_window * args.repeats + 100:,} people ...")
        lot, people = seed(url, per_window * args.repeats + 100, 16)
        ledger = Ledger(Settings(database_url=url))
        lot_id = uuid.UUID(lot)
        engines = [subprocess.Popen([sys.executable, "-m", "bench.live_engine", "--engine-process", url],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                   for _ in range(args.engines)]
        try:
            for engine in engines:
                assert engine.stdout.readline().strip() == "ready"
            wait_at_head(url, ledger.head())  # the seed

            def engine_cpu() -> float:
                for engine in engines:
                    engine.stdin.write("\n")
                    engine.stdin.flush()
                return sum(float(engine.stdout.readline()) for engine in engines)

            for rep in range(args.repeats):
                batch = people[rep * per_window:(rep + 1) * per_window]
                c0, e0, w0, t0 = commits(url), engine_cpu(), cpu_seconds(), time.monotonic()
                for i, (person, point, _) in enumerate(batch):
                    pause = t0 + i / args.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    ledger.administer_dose(person_id=uuid.UUID(person), lot_id=lot_id, facility_id=uuid.UUID(point),
                                           prov=Provenance(actor="bench", org="TYT-BENCH", source="app"))
                elapsed, writer = time.monotonic() - t0, cpu_seconds() - w0
                wait_at_head(url, ledger.head())
                drain = time.monotonic() - t0 - elapsed
                e1, c1 = engine_cpu(), commits(url)
                n = len(batch)
                run = {"doses": n, "rate": n / elapsed, "engine_cpu_ms_per_dose": (e1 - e0) * 1000 / n,
                       "writer_cpu_ms_per_dose": writer * 1000 / n, "commits_per_dose": (c1 - c0) / n,
                       "drain_ms": drain * 1000}
                run["engine_to_writer"] = run["engine_cpu_ms_per_dose"] / run["writer_cpu_ms_per_dose"]
                runs.append(run)
                log(f"[{rep + 1}/{args.repeats}] {run['rate']:.0f} doses/s: engines {run['engine_cpu_ms_per_dose']:.2f}"
                    f" ms CPU/dose ({run['engine_to_writer']:.0%} of the writer's {run['writer_cpu_ms_per_dose']:.2f}),"
                    f" {run['commits_per_dose']:.1f} commits/dose, at the head {run['drain_ms']:.0f} ms after the last")
        finally:
            for engine in engines:
                engine.stdin.close()
                engine.wait(timeout=30)
            ledger.close()
    summary = {key: spread([r[key] for r in runs]) for key in runs[0]}
    log(f"engines: {summary['engine_cpu_ms_per_dose'].fmt(' ms CPU/dose', 2)}, "
        f"{summary['engine_to_writer'].median:.0%} of the writer's; "
        f"{summary['commits_per_dose'].fmt(' commits/dose', 1)}")
    write_results("live_engine", {"params": vars(args), "results": {"summary": summary, "runs": runs}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
