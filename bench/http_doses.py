"""The dose command over HTTP, against a raw-insert endpoint served the same way, in the same run.

Seeds a fresh PostgreSQL database through the `Ledger` and the domain (`--facilities`
vaccination points, a Pfizer lot with 10,000,000 doses on each point's stock card, N people
each registered and screened a minute ago at one of the points), starts two real uvicorn servers (one worker each, uvloop + httptools, no
access log) on 127.0.0.1:

* `bench.http_app:ledger_api`: the real application (`api.app.create_app`), configured like
  `ledger serve` (projection engine in-process unless `--no-projections`);
* `bench.http_app:raw_insert_api`: the ceiling, same route, headers and body, one plain
  psycopg INSERT ... RETURNING (autocommit, durable) per request;

then drives each with `--clients` concurrent keep-alive connections for `--duration`
seconds per repeat, alternating the two servers. Each request doses the next person
(`POST /v1/people/{id}/doses` with `{"lot_id", "facility_id"}`, and the bearer token of a vaccinator
at that point, so every request is authenticated and scope-checked like a real one).
A dose changes the person and the stock card of its lot at its point, so all doses at one
point contend for one aggregate: `--facilities 1` measures that hot spot.
Load generator: wrk (`-t1`, Lua script `bench/wrk_doses.lua`) when installed, otherwise
Python threads with `http.client`. Everything stays on 127.0.0.1 and every run is bounded.

    python -m bench.http_doses                          # 16 clients, 3 x 15 s per server
    python -m bench.http_doses --duration 5 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from .common import RESULTS, ROOT, connect, fresh_database, log, ratio, spread, write_results
from .raw_ceiling import create_raw_table

TARGET_RATE = 300
TARGET_P99_MS = 100.0


def seed(url: str, people: int, facilities: int) -> tuple[str, list[tuple[str, str, str]]]:
    """`facilities` vaccination points, one lot with plenty of stock at each, a vaccinator's token at each
    point, and `people` people screened a minute ago, person n at point n % facilities. Returns the lot id
    and (person, point, token of that point's vaccinator) triples."""
    from ledger.application import Ledger
    from ledger.domain import Facility, Person, Provenance, VaccineLot
    from ledger.settings import Settings

    ledger = Ledger(Settings(database_url=url))
    prov = Provenance(actor="bench", org="TYT-BENCH", source="import")
    ledger.register_lot(vaccine="pfizer", manufacturer="Pfizer-BioNTech", lot_number="FK0108",
                        expiry=ledger.clock().date() + timedelta(days=365), doses_per_vial=6, prov=prov)
    lot_id = VaccineLot.create_id("Pfizer-BioNTech", "FK0108")
    points = []
    tokens: dict[Any, str] = {}
    for f in range(facilities):
        code = f"TYT-BENCH-{f:02d}"
        ledger.register_facility(code=code, name=f"Benchmark vaccination point {f}", kind="vaccination_point",
                                 province_code="01", district_code="001", ward_code="00001", prov=prov)
        points.append(Facility.create_id(code))
        tokens[points[-1]] = ledger.issue_token(subject=f"bench-nurse-{f:02d}", org=code, role="vaccinator",
                                                scope={"facility_id": str(points[-1])}, prov=prov)[1]
        ledger.receive_stock(lot_id=lot_id, facility_id=points[-1], quantity=10_000_000, prov=prov)
    now = ledger.clock()
    screened = Provenance(actor="bench", org="TYT-BENCH", source="import", occurred_at=now - timedelta(minutes=1))
    pairs: list[tuple[str, str, str]] = []
    batch: list[Any] = []
    for n in range(people):
        person = Person.register(
            person_id=uuid.uuid4(), id_type="none", id_number=None,
            details={"full_name": f"Trần Thị {n}", "date_of_birth": now.date().replace(year=1980),
                     "sex": "female", "address": {"province_code": "01", "district_code": "001"}},
            prov=screened, now=now)
        point = points[n % facilities]
        person.screen(facility_id=point, vitals={"temperature_c": 36.6}, answers={}, outcome=None,
                      observation_minutes=None, prov=screened, now=now)
        batch.append(person)
        pairs.append((str(person.id), str(point), tokens[point]))
        if len(batch) == 1000:
            ledger.save(*batch)
            batch = []
    if batch:
        ledger.save(*batch)
    ledger.close()
    return str(lot_id), pairs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One uvicorn process on 127.0.0.1, started and stopped by this benchmark."""

    def __init__(self, factory: str, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port",
               str(self.port), "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{factory} exited with {self.proc.returncode}; see {log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health/live")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{factory} did not start within 60 s; see {log_path}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes (with `--workers` > 1 the parent only supervises)."""
        mine = [cpu for pid, ppid, _, cpu in processes() if self.proc.pid in (pid, ppid)]
        return sum(mine) if mine else float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, command name, CPU seconds so far) of every process on this machine."""
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            pid, name = head.split(" (", 1)
            fields = tail.split()
            yield int(pid), int(fields[1]), name, (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the benchmark's database is the only busy one):
    what the server spends per request, beside what the API spends."""
    return sum(cpu for _, _, name, cpu in processes() if name == "postgres")


def run_wrk(url: str, script: str, script_args: list[str], clients: int, seconds: float) -> dict:
    """One wrk run (one thread, `clients` connections) of `bench/<script>`, which prints a WRK_JSON line."""
    cmd = ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
           "-s", str(ROOT / "bench" / script), url, "--", *script_args]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.split(" ", 1)[1])
    errors = r["status_errors"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
    return {"requests": r["requests"], "seconds": r["duration_us"] / 1e6, "errors": errors,
            "rate": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000,
            "p90_ms": r["p90_us"] / 1000, "p99_ms": r["p99_us"] / 1000, "max_ms": r["max_us"] / 1000,
            "load_generator": "wrk -t1"}


def run_python(url: str, pairs: list[tuple[str, str, str]], lot_id: str, clients: int, seconds: float) -> dict:
    """Fallback load generator: `clients` threads, each with one keep-alive connection."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(len(pairs)))
    deadline = time.perf_counter() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            start = time.perf_counter()
            try:
                person_id, facility_id, token = pairs[i]
                body = json.dumps({"lot_id": lot_id, "facility_id": facility_id}).encode()
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
                conn.request("POST", f"/v1/people/{person_id}/doses", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    failed += 1
            except OSError:
                failed += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
            mine.append(time.perf_counter() - start)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": len(latencies), "seconds": elapsed, "errors": errors[0], "rate": len(latencies) / elapsed,
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": pct(100),
            "load_generator": f"python http.client, {clients} threads"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per server")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-rate", type=int, default=1500,
                        help="requests/s the seeded people must cover (people = max-rate x total seconds)")
    parser.add_argument("--facilities", type=int, default=16,
                        help="vaccination points (stock cards) the doses are spread over; 1 = one hot stock card")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of each server")
    parser.add_argument("--no-projections", action="store_true",
                        help="run the API without its in-process projection engine")
    parser.add_argument("--engine-process", action="store_true",
                        help="run the projection engine as its own process (`ledger projections run`) instead of "
                             "one in each API worker, as docs/operations.md advises with --workers")
    parser.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--ledger-env", action="append", default=[], metavar="KEY=VALUE",
                        help="an eventsourcing setting for the API's Ledger (Settings.extra_env), e.g. "
                             "POSTGRES_PRE_PING=n; repeatable")
    args = parser.parse_args(argv)
    use_wrk = args.load_generator == "wrk" or (args.load_generator == "auto" and shutil.which("wrk"))
    RESULTS.mkdir(parents=True, exist_ok=True)

    with fresh_database("http") as url:
        people = int(args.max_rate * (args.warmup + args.duration * args.repeats)) + 1000
        log(f"seeding {people:,} people (registered and screened) ...")
        lot_id, ids = seed(url, people, args.facilities)
        create_raw_table(url)
        with connect(url) as conn:
            head0 = conn.execute("SELECT max(notification_id) FROM ledger_events").fetchone()[0]
        env = {"LEDGER_DATABASE_URL": url, "BENCH_RAW_DSN": url,
               "LEDGER_PROJECTIONS_IN_PROCESS": "0" if args.no_projections or args.engine_process else "1",
               "BENCH_LEDGER_EXTRA_ENV": " ".join(args.ledger_env)}
        servers = {"raw_insert": Server("bench.http_app:raw_insert_api", env, RESULTS / "http-raw-server.log",
                                             args.workers),
                   "ledger": Server("bench.http_app:ledger_api", env, RESULTS / "http-ledger-server.log", args.workers)}
        engine = subprocess.Popen([sys.executable, "-m", "ledger.cli", "projections", "run"], cwd=ROOT,
                                  env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                  stderr=open(RESULTS / "http-engine.log", "w")) if args.engine_process else None  # noqa: SIM115
        offset = 0
        runs: dict[str, list[dict]] = {"raw_insert": [], "ledger": []}
        try:
            for rep in range(args.repeats + 1):
                warm = rep == 0
                for name, server in servers.items():
                    seconds = args.warmup if warm else args.duration
                    chunk = ids[offset:]
                    ids_file = RESULTS / f"http-ids-{name}.txt"
                    ids_file.write_text("".join(f"{p} {f} {t}\n" for p, f, t in chunk))
                    cpu0, pg0 = server.cpu_seconds(), postgres_cpu_seconds()
                    if use_wrk:
                        r = run_wrk(server.url, "wrk_doses.lua", [str(ids_file), lot_id], args.clients, seconds)
                    else:
                        r = run_python(server.url, chunk, lot_id, args.clients, seconds)
                    r["server_cpu_ms_per_request"] = (server.cpu_seconds() - cpu0) * 1000 / max(r["requests"], 1)
                    r["postgres_cpu_ms_per_request"] = (postgres_cpu_seconds() - pg0) * 1000 / max(r["requests"], 1)
                    if name == "ledger":
                        offset += r["requests"] + args.clients
                        if offset >= len(ids):
                            raise SystemExit("ran out of seeded people: raise --max-rate")
                    label = "warm-up" if warm else f"run {rep}/{args.repeats}"
                    log(f"{name} {label}: {r['rate']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                        f"errors {r['errors']}, server cpu {r['server_cpu_ms_per_request']:.2f} ms/req, "
                        f"postgres cpu {r['postgres_cpu_ms_per_request']:.2f} ms/req")
                    if not warm:
                        runs[name].append(r)
        finally:
            for server in servers.values():
                server.stop()
            if engine is not None:
                engine_cpu = sum(cpu for pid, _, _, cpu in processes() if pid == engine.pid)
                log(f"projection engine process: {engine_cpu:.1f} s CPU over the whole run (both servers' turns)")
                engine.terminate()
                engine.wait(timeout=30)
        with connect(url) as conn:
            doses = conn.execute("SELECT count(*) FROM ledger_events WHERE topic = 'ledger.person.DoseAdministered'"
                                 ).fetchone()[0]
            head1 = conn.execute("SELECT max(notification_id) FROM ledger_events").fetchone()[0]

    summary: dict[str, Any] = {}
    for name, rs in runs.items():
        summary[name] = {
            "rate": spread([r["rate"] for r in rs]),
            "p50_ms": spread([r["p50_ms"] for r in rs]),
            "p99_ms": spread([r["p99_ms"] for r in rs]),
            "errors": sum(r["errors"] for r in rs),
            "requests": sum(r["requests"] for r in rs),
            "server_cpu_ms_per_request": spread([r["server_cpu_ms_per_request"] for r in rs]),
            "postgres_cpu_ms_per_request": spread([r["postgres_cpu_ms_per_request"] for r in rs]),
            "runs": rs,
        }
    ours, raw = summary["ledger"], summary["raw_insert"]
    summary["ratio_rate_to_raw"] = ratio(ours["rate"], raw["rate"])
    summary["doses_recorded"] = doses
    # A dose writes 2 events (person, stock card); positions used beyond that are gaps left by
    # transactions rolled back after losing a race on an aggregate (each retried by the Ledger).
    summary["positions_used"] = (head1 or 0) - (head0 or 0)
    summary["rolled_back_positions"] = summary["positions_used"] - 2 * doses
    summary["target"] = {"rate": TARGET_RATE, "p99_ms": TARGET_P99_MS,
                         "met": ours["rate"].median >= TARGET_RATE and ours["p99_ms"].median < TARGET_P99_MS
                         and ours["errors"] == 0}
    log(f"ledger: {ours['rate'].fmt(' req/s')}, p50 {ours['p50_ms'].fmt(' ms', 1)}, p99 {ours['p99_ms'].fmt(' ms', 1)},"
        f" errors {ours['errors']}")
    log(f"raw insert endpoint: {raw['rate'].fmt(' req/s')}, p50 {raw['p50_ms'].fmt(' ms', 1)},"
        f" p99 {raw['p99_ms'].fmt(' ms', 1)}, errors {raw['errors']}")
    log(f"ratio {summary['ratio_rate_to_raw']:.0%}; target {TARGET_RATE} req/s & p99 < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if summary['target']['met'] else 'MISSED'}")
    variant = ("" if args.facilities > 1 else "_hot_card") + (f"_{args.workers}_workers" if args.workers > 1 else "") + (
        "_no_projections" if args.no_projections else "") + ("_engine_process" if args.engine_process else "") + (
        "_" + "_".join(e.split("=")[0].lower() for e in args.ledger_env) if args.ledger_env else "")
    write_results(f"http_doses{variant}", {"params": vars(args) | {"people_seeded": people, "load_generator":
                                                           "wrk" if use_wrk else "python"}, "results": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
