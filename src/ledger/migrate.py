"""`ledger db migrate`: apply the numbered SQL files in `migrations/`, once each, in order.

File names: `NNNN_name.sql` applies to every store; `NNNN_name.postgresql.sql` and
`NNNN_name.sqlite.sql` only to that one. On PostgreSQL everything (event store and
projections) lives in one database; on SQLite the library makes its own event tables
and the migrations build the projections file. Each file runs in its own transaction
and is recorded in `schema_migrations`; PostgreSQL runs take an advisory lock, so two
processes migrating at once apply each file once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_LOCK_KEY = 0x1ED6E5  # advisory lock id for migrations


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    def applies_to(self, dialect: str) -> bool:
        parts = self.path.name.split(".")
        return len(parts) == 2 or parts[-2] == dialect


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = [Migration(p.name.split("_", 1)[0], p) for p in sorted(directory.glob("[0-9]*.sql"))]
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {directory}")
    return migrations


def migrate(settings: Settings, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; returns the file names applied."""
    if settings.is_postgres:
        return _migrate_postgres(settings, discover(directory))
    return _migrate_sqlite(settings.sqlite_projections_path, discover(directory))


def _migrate_postgres(settings: Settings, migrations: list[Migration]) -> list[str]:
    import psycopg

    applied: list[str] = []
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for m in migrations:
                if m.version in done or not m.applies_to("postgresql"):
                    continue
                with conn.transaction():
                    conn.execute(m.path.read_text())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (m.version, m.path.name)
                    )
                applied.append(m.path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def _migrate_sqlite(path: Path, migrations: list[Migration]) -> list[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    applied: list[str] = []
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL,"
            " applied_at text NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for m in migrations:
            if m.version in done or not m.applies_to("sqlite"):
                continue
            for statement in _statements(m.path.read_text()):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (m.version, m.path.name))
            applied.append(m.path.name)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return applied


def _statements(script: str) -> list[str]:
    """Split a portable script into statements (they hold no ';' inside literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
