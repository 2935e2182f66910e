"""The synthetic national workload on PostgreSQL: write it, then rebuild every projection from it.

1. A fresh database gets `ledger.workload.NationalWorkload(seed, people)`: 2021 in all 63
   provinces through the real `Ledger` commands (batches of 2,000 commands in one transaction
   each, `Ledger.run_batch`; check-ins 20,000 at a time through the bulk check-in import);
   without the PII cipher unless `--cipher` (as `bench.rebuild`, so that the raw decode
   ceiling reads the same bytes; with it the rebuild's raw ceiling is not measured). The figure is events written per second of wall time, planning included
   (and reported apart), against the raw `executemany` ceiling of the same stored rows in
   transactions of the same size, measured in the same run.
2. What the log then holds: events by topic, events per sampled person, bytes per event on disk.
3. Every projection rebuilt blue/green in one pass over the workload's real mix of events
   (`bench.rebuild.one_pass`), against the raw select + decode ceiling of the same table.

    python -m bench.national --events 1000000          # about 26,000 people (several minutes)
    python -m bench.national --people 2000 --repeats 1 # smoke run
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
from typing import Any

from .common import Stopwatch, connect, fresh_database, log, ratio, repeat, spread, write_results
from .raw_ceiling import RAW_TABLE_DDL, insert_batches, select_decode
from .rebuild import one_pass, storage


def write(ledger: Any, people: int, seed: int) -> dict[str, Any]:
    from ledger.workload.national import BATCH, NationalWorkload

    workload = NationalWorkload(seed=seed, people=people)
    shown = [0]

    def progress(done: int, total: int) -> None:
        if done - shown[0] >= total // 20 or done == total:
            shown[0] = done
            log(f"workload: {done:,} of {total:,} commands and check-ins")

    with Stopwatch() as sw:
        summary = workload.run(ledger, progress)
    events = summary["events_written"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"workload: {events:,} events in {sw.seconds:.1f}s ({events / sw.seconds:,.0f} ev/s, "
        f"planning {workload.planning_seconds:.1f}s, peak memory {peak_mb:,.0f} MB)")
    return {"summary": summary, "seconds": sw.seconds, "planning_seconds": workload.planning_seconds,
            "peak_memory_mb": peak_mb,
            "events_per_second": events / sw.seconds, "events_per_person": events / people, "batch": BATCH}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--events", type=int, default=1_000_000, help="events to write (roughly)")
    size.add_argument("--people", type=int, help="people to sample (instead of --events)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the ceilings and the rebuild")
    parser.add_argument("--cipher", action="store_true", help="encrypt personal data (skips the rebuild)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    from ledger.application import Ledger
    from ledger.settings import Settings
    from ledger.workload.national import people_for_events
    from projections.db import PostgresProjectionDB
    from projections.engine import ProjectionEngine
    from projections.runtime import all_projections

    people = args.people or people_for_events(args.events)
    results: dict[str, Any] = {"people": people}
    with fresh_database("national", keep=args.keep) as url:
        key = base64.b64encode(os.urandom(32)).decode() if args.cipher else None
        settings = Settings(database_url=url, cipher_key=key)
        ledger = Ledger(settings)
        written = write(ledger, people, args.seed)
        results["write"] = written
        with connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE ledger_events")
            results["events_by_topic"] = dict(conn.execute(
                "SELECT topic, count(*) FROM ledger_events GROUP BY topic ORDER BY count(*) DESC").fetchall())
            rows = [(r[0], r[1], r[2], bytes(r[3])) for r in conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM ledger_events"
                " ORDER BY notification_id DESC LIMIT 200000").fetchall()]
            conn.execute(RAW_TABLE_DDL)
        results["storage"] = storage(url)
        summary = written["summary"]
        per_tx = round(summary["events_written"] / (summary["commands"] + summary["checkins"]) * written["batch"])
        raw_write = repeat(lambda: insert_batches(url, rows, per_tx, copy=False), args.repeats,
                           f"raw executemany {per_tx:,}/tx rows/s")
        ours = spread([written["events_per_second"]])
        results["raw_executemany_per_s"] = raw_write
        results["write_ratio_executemany"] = ratio(ours, raw_write)
        log(f"workload write: {written['events_per_second']:,.0f} ev/s = {ratio(ours, raw_write):.0%} of raw "
            f"executemany {raw_write.fmt(' rows/s')}")
        if args.cipher:
            ledger.close()
            write_results("national", {"params": vars(args), "results": results})
            return 0
        raw_all = repeat(lambda: select_decode(url)[0], args.repeats, "raw select+decode, all rows, rows/s")
        results["raw_select_decode_all"] = raw_all
        db = PostgresProjectionDB(settings)
        engine = ProjectionEngine(ledger, db, all_projections(), settings.projection_batch_size)
        results["all_one_pass"] = one_pass(url, engine, ledger.head(), raw_all, args.repeats)
        db.close()
        ledger.close()
    write_results("national", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
