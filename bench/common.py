"""Shared helpers of the benchmarks: repeats and their spread, throwaway databases, results, machine facts.

Every benchmark measures its raw ceiling in the same run (DESIGN §11) and reports our
figure as a ratio of it, with the median and the min-max over repeats. Results go to
`bench/results/*.json` (gitignored); BENCHMARKS.md quotes them with the command.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

#: Server-level DSN used to create and drop the throwaway databases.
ADMIN_DSN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Spread:
    """Median and range of repeated measurements."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": len(self.values),
                "values": list(self.values)}

    def fmt(self, unit: str = "", digits: int = 0) -> str:
        f = f"{{:,.{digits}f}}"
        return f"{f.format(self.median)}{unit} ({f.format(self.low)}–{f.format(self.high)}, n={len(self.values)})"


def spread(values: Sequence[float]) -> Spread:
    return Spread(tuple(values))


def ratio(ours: Spread, ceiling: Spread) -> float:
    """Our median as a fraction of the ceiling's median (both measured in this run)."""
    return ours.median / ceiling.median if ceiling.median else float("nan")


def repeat(fn: Callable[[], float], times: int, label: str = "") -> Spread:
    """Call `fn` (which returns one measurement) `times` times."""
    values = []
    for i in range(times):
        value = fn()
        values.append(value)
        if label:
            log(f"{label} [{i + 1}/{times}]: {value:,.1f}")
    return spread(values)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


# -- PostgreSQL -----------------------------------------------------------------------------------


def _dsn_for(dbname: str) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(ADMIN_DSN)
    params["dbname"] = dbname
    return make_conninfo(**params)


def database_url(dbname: str) -> str:
    """A `postgresql://` URL for `Settings(database_url=...)` pointing at `dbname` on the bench server."""
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(ADMIN_DSN)
    auth = p.get("user", "postgres") + (f":{p['password']}" if p.get("password") else "")
    return f"postgresql://{auth}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}/{dbname}"


@contextmanager
def fresh_database(tag: str, *, keep: bool = False, migrate: bool = True) -> Iterator[str]:
    """Create `bench_<tag>_<pid>`, apply the migrations, yield its URL, drop it afterwards."""
    import psycopg

    from ledger.migrate import migrate as apply_migrations
    from ledger.settings import Settings

    name = f"bench_{tag}_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    try:
        if migrate:
            apply_migrations(Settings(database_url=url))
        yield url
    finally:
        if not keep:
            with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(url: str, **kwargs: Any):  # noqa: ANN201
    import psycopg

    from ledger.settings import Settings

    return psycopg.connect(Settings(database_url=url).postgres_conninfo(), **kwargs)


def pg_version() -> str:
    import psycopg

    with psycopg.connect(ADMIN_DSN) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def pg_settings() -> dict[str, str]:
    import psycopg

    names = ("shared_buffers", "synchronous_commit", "fsync", "wal_sync_method", "max_wal_size", "work_mem")
    with psycopg.connect(ADMIN_DSN) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


# -- machine and results ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
    }
    try:
        info["postgresql"] = pg_version()
        info["postgresql_settings"] = pg_settings()
    except Exception as e:  # the machine facts must not fail a run
        info["postgresql"] = f"unavailable: {e}"
    try:
        from importlib.metadata import version

        info["packages"] = {p: version(p) for p in ("eventsourcing", "psycopg", "orjson", "fastapi", "uvicorn")}
    except Exception:
        pass
    return info


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "finished_at": datetime.now(UTC).isoformat(),
               "command": command_line(), "revision": git_revision(), "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, default=_json_default))
    (RESULTS / f"{name}-latest.json").write_text(path.read_text())
    log(f"results written to {path.relative_to(ROOT)}")
    return path


def command_line() -> str:
    """The command as typed from the repository root (`python -m bench.x ...`)."""
    script = Path(sys.argv[0])
    head = f"python -m bench.{script.stem}" if script.parent == ROOT / "bench" else f"python {sys.argv[0]}"
    return " ".join([head, *sys.argv[1:]])


def _json_default(value: Any) -> Any:
    if isinstance(value, Spread):
        return value.as_dict()
    return str(value)


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=False).stdout.strip()
    except OSError:
        return ""
