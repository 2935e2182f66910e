"""Settings, read once at the edge (`Settings.from_env()`) and passed down as values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_DATABASE_URL = "sqlite:///var/ledger.sqlite3"


@dataclass(frozen=True)
class Settings:
    #: `sqlite:///relative/path.sqlite3`, `sqlite:////absolute/path`, or `postgresql://user:pw@host:port/db`.
    database_url: str = DEFAULT_DATABASE_URL
    #: Seconds a writer waits for the event table's lock before giving up (PostgreSQL).
    lock_timeout: int = 5
    pool_size: int = 5
    pool_max_overflow: int = 10
    #: Aggregates kept in memory per process (fast-forwarded on every read).
    aggregate_cache_size: int = 10_000
    #: How long a read with `min_position` waits for its projection before answering 503.
    read_wait_seconds: float = 5.0
    #: Run the projection engine inside `ledger serve`.
    run_projections_in_process: bool = True
    projection_batch_size: int = 1000
    #: Seconds between polls when the store cannot notify (SQLite), and the LISTEN timeout.
    poll_interval: float = 0.1
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            lock_timeout=int(env.get("LEDGER_LOCK_TIMEOUT", "5")),
            pool_size=int(env.get("LEDGER_POOL_SIZE", "5")),
            pool_max_overflow=int(env.get("LEDGER_POOL_MAX_OVERFLOW", "10")),
            aggregate_cache_size=int(env.get("LEDGER_AGGREGATE_CACHE_SIZE", "10000")),
            read_wait_seconds=float(env.get("LEDGER_READ_WAIT_SECONDS", "5")),
            run_projections_in_process=env.get("LEDGER_PROJECTIONS_IN_PROCESS", "1") not in ("0", "false", "no"),
            projection_batch_size=int(env.get("LEDGER_PROJECTION_BATCH_SIZE", "1000")),
        )

    @property
    def is_postgres(self) -> bool:
        return urlparse(self.database_url).scheme in ("postgresql", "postgres")

    @property
    def sqlite_path(self) -> Path:
        """Path of the SQLite event store (`sqlite:///var/x.sqlite3` is relative to the working directory)."""
        parsed = urlparse(self.database_url)
        if parsed.scheme != "sqlite":
            raise ValueError(f"not a SQLite URL: {self.database_url}")
        path = unquote(parsed.path)
        return Path(path[1:] if path.startswith("/") and not path.startswith("//") else path[1:])

    @property
    def sqlite_projections_path(self) -> Path:
        """Projections live in a second SQLite file, so a long rebuild never blocks the writers."""
        path = self.sqlite_path
        return path.with_name(path.stem + ".projections" + path.suffix)

    def postgres_params(self) -> dict[str, str]:
        parsed = urlparse(self.database_url)
        return {
            "host": parsed.hostname or "127.0.0.1",
            "port": str(parsed.port or 5432),
            "dbname": unquote(parsed.path.lstrip("/")) or "postgres",
            "user": unquote(parsed.username or "postgres"),
            "password": unquote(parsed.password or ""),
        }

    def postgres_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.postgres_params())

    def describe(self) -> str:
        """The store in words, without secrets."""
        if self.is_postgres:
            p = self.postgres_params()
            return f"PostgreSQL {p['user']}@{p['host']}:{p['port']}/{p['dbname']}"
        return f"SQLite {self.sqlite_path}"
