"""A person's vaccination history over HTTP on a large log, against the same reads by plain psycopg.

A fresh database gets >= `--events` real events (`bench.rebuild.generate`: people registered,
approved, screened and dosed twice, stock cards, transfers), `vaccination_history` is rebuilt
over them, and the real API (`bench.http_app:ledger_api`, one uvicorn worker, the projection
engine off since nothing is written but the access log) answers
`GET /v1/people/{id}/vaccination-history` for people in a shuffled order, with a national
operator's token and `X-Purpose: vaccination`: authentication, the projection's rows, the
person's record from the log (name and date of birth), and the read written to the access log
(an event, committed before the answer). Ceiling, same run: `bench.http_app:raw_history_api`,
the same route doing only the projection's two reads. wrk, `--clients` connections each
(1 and 16 by default), the two servers alternating.

    python -m bench.history_reads --events 10000000           # the issue's size (~15 minutes)
    python -m bench.history_reads --events 200000 --duration 5 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

from .common import RESULTS, connect, fresh_database, log, ratio, spread, write_results
from .http_doses import Server, run_wrk

TARGET_P50_MS, TARGET_P99_MS = 3.0, 10.0


def wrk(url: str, ids_file: Path, token: str, clients: int, seconds: float) -> dict[str, Any]:
    return run_wrk(url, "wrk_history.lua", [str(ids_file), token], clients, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--people", type=int, default=50_000, help="people the requests go round")
    args = parser.parse_args(argv)

    from ledger.application import Ledger
    from ledger.domain import Provenance
    from ledger.settings import Settings
    from projections.db import PostgresProjectionDB
    from projections.engine import ProjectionEngine
    from projections.runtime import all_projections

    from .rebuild import generate

    results: dict[str, Any] = {}
    with fresh_database("history") as url:
        settings = Settings(database_url=url)
        ledger = Ledger(settings)
        results["generated"] = generate(ledger, url, args.events, "copy", 2000)
        head = ledger.head()
        db = PostgresProjectionDB(settings)
        engine = ProjectionEngine(ledger, db, all_projections(), settings.projection_batch_size)
        start = time.perf_counter()
        engine.rebuild("vaccination_history")
        log(f"vaccination_history rebuilt over {head:,} positions in {time.perf_counter() - start:.0f}s")
        _, token = ledger.issue_token(subject="bench-analyst", org="MOH", role="national_operator", scope={},
                                      prov=Provenance(actor="bench", org="MOH", source="cli"))
        with connect(url, autocommit=True) as conn:
            ids = [r[0] for r in conn.execute("SELECT person_id FROM vh_people ORDER BY person_id").fetchall()]
            conn.execute("VACUUM ANALYZE")
        random.Random(7).shuffle(ids)
        RESULTS.mkdir(parents=True, exist_ok=True)
        ids_file = RESULTS / "history-ids.txt"
        ids_file.write_text("\n".join(ids[:args.people]) + "\n")
        db.close()
        ledger.close()
        env = {"LEDGER_DATABASE_URL": url, "LEDGER_PROJECTIONS_IN_PROCESS": "0", "BENCH_RAW_DSN": url}
        ours = Server("bench.http_app:ledger_api", env, RESULTS / "history-ledger.log")
        raw = Server("bench.http_app:raw_history_api", env, RESULTS / "history-raw.log")
        try:
            for server in (ours, raw):  # warm both: caches, prepared statements, the first pages
                wrk(server.url, ids_file, token, 4, 3)
            for clients in args.clients:
                runs: dict[str, list[dict[str, Any]]] = {"ours": [], "raw": []}
                for i in range(args.repeats):
                    for name, server in (("raw", raw), ("ours", ours)):
                        r = wrk(server.url, ids_file, token, clients, args.duration)
                        runs[name].append(r)
                        log(f"{name}, {clients} clients [{i + 1}/{args.repeats}]: {r['rate']:,.0f} req/s, p50 "
                            f"{r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, errors {r['errors']}")
                summary = {name: {key: spread([r[key] for r in rs]) for key in ("rate", "p50_ms", "p99_ms")}
                           | {"errors": sum(r["errors"] for r in rs)} for name, rs in runs.items()}
                summary["rate_ratio"] = ratio(summary["ours"]["rate"], summary["raw"]["rate"])
                results[f"clients_{clients}"] = summary
                o = summary["ours"]
                met = o["p50_ms"].median < TARGET_P50_MS and o["p99_ms"].median < TARGET_P99_MS
                log(f"{clients} clients: ours {o['rate'].fmt(' req/s')}, p50 {o['p50_ms'].fmt(' ms', 2)}, p99 "
                    f"{o['p99_ms'].fmt(' ms', 2)}; raw {summary['raw']['rate'].fmt(' req/s')}, p50 "
                    f"{summary['raw']['p50_ms'].fmt(' ms', 2)}, p99 {summary['raw']['p99_ms'].fmt(' ms', 2)}; "
                    f"target p50 < {TARGET_P50_MS} ms, p99 < {TARGET_P99_MS} ms: {'met' if met else 'MISSED'}")
        finally:
            ours.stop()
            raw.stop()
        results["head"] = head
    write_results("history_reads", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
