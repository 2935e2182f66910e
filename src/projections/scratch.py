"""Scratch areas: a private copy of some projections' tables, filled beside the live ones.

A rebuild fills one and then switches it in (blue/green); an as-of build fills one up to a
position and leaves it for an auditor to query. The live tables keep serving reads and the
live runner keeps them current all the while.

- **PostgreSQL**: a schema (`rebuild_...`, `asof_...`) holding a copy of each table made from
  the live one (`LIKE ... INCLUDING ALL`, with the same constraint and index names) and its
  own `projection_positions`. Its transactions run with `search_path` set to the schema
  alone, so the projections' own SQL writes there, and a table left out of the copy is an
  error rather than a write to the live one. The switch, in one transaction: lock the live
  positions, catch the area up to the head, move the live tables to a retired schema and the
  area's into the live one (`ALTER TABLE ... SET SCHEMA`: no rows copied), set the live
  positions; then drop what was retired. Readers wait for the few milliseconds the tables
  are locked and then see the new ones whole.
- **SQLite**: a file beside the projections file, made from the live tables' own `CREATE`
  statements. The switch holds the live file's write lock, catches the area up, and copies
  its tables over the live ones in that one transaction (WAL readers see the old rows until
  the commit). The embedded store is for one site's data, where the copy takes seconds.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .db import Emptied, PostgresProjectionDB, ProjectionDB, SQLiteProjectionDB, Tx, _PostgresTx, quote_ident

log = logging.getLogger(__name__)

#: How long the switch waits for a table lock (a long read holding it) before it tries again; and how often.
SWITCH_LOCK_TIMEOUT = "3s"
SWITCH_ATTEMPTS = 5
#: Prefixes of scratch areas: what `areas` lists and `drop` accepts.
PREFIXES = ("rebuild_", "asof_")


class AreaBusy(RuntimeError):
    """Another process is filling this scratch area."""


class ScratchArea:
    """Some projections' tables copied under `name`; `db` reads and writes them there."""

    name: str
    db: ProjectionDB
    #: whether the tables were created just now (empty), rather than found from an interrupted fill.
    fresh: bool
    #: what the area's filler has written to its tables since they were created empty: carried from
    #: one of its transactions to the next, as a rebuild in one transaction keeps it (`db.Emptied`).
    #: Only one process fills an area (`exclusive`), so nothing else writes them.
    emptied: dict[str, Emptied]

    def complete(self) -> None:
        """Give every table of the area the keys and indexes of its live table that it lacks (those
        of the tables created bare): after the fill, before the area is read or switched in.
        Nothing to do where copies are created whole (SQLite)."""

    def switch(self, tables: Sequence[str], names: Sequence[str], catch_up: Callable[[Tx], None]) -> None:
        """Make the area's tables the live ones and the live positions of `names` the area's,
        atomically, after `catch_up` has brought the area to the head in the switch's transaction."""
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError


def _check(name: str) -> None:
    if not name.startswith(PREFIXES):
        raise ValueError(f"not a scratch area: {name!r}")
    quote_ident(name)


def open_area(live: ProjectionDB, name: str, tables: Sequence[str], bare: Sequence[str] = ()) -> ScratchArea:
    """The scratch area `name` with copies of `tables` (and its own positions), created if missing.

    On PostgreSQL the copies of the `bare` tables (ones a build only inserts into) start without
    their keys and indexes, which `complete` adds once they are full (SQLite copies them whole)."""
    _check(name)
    if isinstance(live, PostgresProjectionDB):
        return _PostgresArea(live, name, tables, bare)
    if isinstance(live, SQLiteProjectionDB):
        return _SQLiteArea(live, name, tables)
    raise TypeError(f"no scratch areas on {type(live).__name__}")


@contextmanager
def exclusive(live: ProjectionDB, name: str) -> Iterator[None]:
    """A context in which this process alone creates, fills, switches or drops the area `name`:
    `AreaBusy` at once if another holds it (a PostgreSQL advisory lock; a lock file on SQLite)."""
    _check(name)
    if isinstance(live, PostgresProjectionDB):
        import psycopg

        with psycopg.connect(live.conninfo, autocommit=True) as conn:
            if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (f"ledger scratch {name}",)).fetchone()[0]:
                raise AreaBusy(f"another process is filling {name}")
            yield  # the lock goes with the session
        return
    with open(_sqlite_path(live, name).with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AreaBusy(f"another process is filling {name}") from None
        yield


def areas(live: ProjectionDB) -> list[str]:
    """The scratch areas that exist: interrupted rebuilds, and as-of builds kept for reading."""
    if isinstance(live, PostgresProjectionDB):
        rows = live.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%%' OR nspname LIKE"
                          " 'asof\\_%%' ORDER BY nspname")
        return [r["nspname"] for r in rows if not r["nspname"].endswith("_retired")]
    path = live.path
    return sorted(p.name[len(path.stem) + 1: -len(path.suffix)] for p in path.parent.glob(f"{path.stem}.*{path.suffix}")
                  if p.name[len(path.stem) + 1:].startswith(PREFIXES))


def drop(live: ProjectionDB, name: str) -> None:
    """Remove the scratch area `name` (nothing if there is none)."""
    _check(name)
    if isinstance(live, PostgresProjectionDB):
        with live.transaction() as tx:
            tx.execute(f"DROP SCHEMA IF EXISTS {quote_ident(name)} CASCADE")
        return
    path = _sqlite_path(live, name)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def reader(live: ProjectionDB, name: str) -> ProjectionDB:
    """A ProjectionDB reading an existing scratch area (an as-of build): `KeyError` if there is none."""
    if name not in areas(live):
        raise KeyError(name)
    if isinstance(live, PostgresProjectionDB):
        return _PostgresAreaDB(live, name, {})
    return SQLiteProjectionDB(_sqlite_path(live, name))


def positions(live: ProjectionDB, name: str) -> dict[str, int]:
    """The positions the projections of an existing scratch area have reached."""
    db = reader(live, name)
    try:
        return {r["name"]: r["position"] for r in db.query("SELECT name, position FROM projection_positions")}
    finally:
        db.close()


def as_of(live: ProjectionDB, projections: Sequence[str], position: int) -> ProjectionDB | None:
    """A reader of a finished as-of build of `projections` (all in one area) at `position`, or None."""
    for name in areas(live):
        if name.startswith(f"asof_{position}_"):
            reached = positions(live, name)
            if all(reached.get(p) == position for p in projections):
                return reader(live, name)
    return None


# -- PostgreSQL ----------------------------------------------------------------------------------


class _PostgresAreaDB(ProjectionDB):
    """Transactions on the live pool with `search_path` set to the area alone."""

    dialect = "postgresql"

    def __init__(self, live: PostgresProjectionDB, name: str, emptied: dict[str, Emptied]) -> None:
        self.live, self.name, self.emptied = live, name, emptied

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction of the fill. Its commit does not wait for the WAL to reach the disk
        (`synchronous_commit = off`): a crash can lose the last few batches, rows and position
        together, and the fill then resumes before them. The switch is a live transaction and
        waits as every live one does."""
        with self.live.transaction() as tx:
            tx.execute("SET LOCAL synchronous_commit = off")
            yield self.enter(tx.conn)

    def enter(self, conn: Any) -> Tx:
        """A Tx on `conn`, whose transaction from here on sees the area's tables."""
        conn.execute(f"SET LOCAL search_path TO {quote_ident(self.name)}")
        tx = _PostgresTx(conn, self.live.staged)
        tx.emptied = self.emptied
        return tx


class _PostgresArea(ScratchArea):
    def __init__(self, live: PostgresProjectionDB, name: str, tables: Sequence[str], bare: Sequence[str]) -> None:
        self.live, self.name = live, name
        self.tables = [*tables, "projection_positions"]
        with live.transaction() as tx:
            self.schema = tx.fetch("SELECT current_schema() AS s")[0]["s"]
            self.fresh = not tx.fetch("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,))
            if self.fresh:
                tx.execute(f"CREATE SCHEMA {quote_ident(name)}")
                for table in self.tables:
                    self._copy_table(tx, table)
                    if table not in bare:
                        self._index_table(tx, table)
        self.emptied = {t: Emptied() for t in tables} if self.fresh else {}
        self.db = _PostgresAreaDB(live, name, self.emptied)

    def _copy_table(self, tx: Tx, table: str) -> None:
        """The live table's columns, defaults and checks."""
        live, area = f"{quote_ident(self.schema)}.{quote_ident(table)}", f"{quote_ident(self.name)}.{quote_ident(table)}"
        tx.execute(f"CREATE TABLE {area} (LIKE {live} INCLUDING ALL EXCLUDING INDEXES)")

    def _index_table(self, tx: Tx, table: str) -> None:
        """The live table's unique constraints and indexes under their own names (LIKE would name
        the indexes itself, and later migrations name them), each unless the area's has it. On a
        full table each is built in one sort, where rows inserted one by one into a random-keyed
        index (a check-in's id) read and dirty a page of it each: 22 % of the database's time of a
        2.8 M-event rebuild went to the check-ins' three indexes."""
        live, area = f"{quote_ident(self.schema)}.{quote_ident(table)}", f"{quote_ident(self.name)}.{quote_ident(table)}"
        present = {r["relname"] for r in tx.fetch(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass",
            (area,))}
        for c in tx.fetch("SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint"
                          " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'x') ORDER BY conname", (live,)):
            if c["conname"] not in present:
                tx.execute(f"ALTER TABLE {area} ADD CONSTRAINT {quote_ident(c['conname'])} {c['def']}")
        for i in tx.fetch("SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i"
                          " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass"
                          " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
                          " ORDER BY i.indexrelid", (live,)):
            if i["relname"] in present:
                continue
            on = f" ON {self.schema}.{table} "
            if on not in i["def"]:
                raise RuntimeError(f"cannot copy index of {table}: {i['def']}")
            tx.execute(i["def"].replace(on, f" ON {area} ", 1))

    def complete(self) -> None:
        with self.live.transaction() as tx:
            for table in self.tables:
                self._index_table(tx, table)

    def switch(self, tables: Sequence[str], names: Sequence[str], catch_up: Callable[[Tx], None]) -> None:
        import psycopg

        area, schema = quote_ident(self.name), quote_ident(self.schema)
        retired = quote_ident(f"{self.name}_retired")
        for attempt in range(1, SWITCH_ATTEMPTS + 1):
            try:
                with self.live.transaction() as tx:
                    tx.execute(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT}'")
                    tx.fetch("SELECT name FROM projection_positions WHERE name = ANY(%s) ORDER BY name FOR UPDATE",
                             (list(names),))
                    catch_up(self.db.enter(tx.conn))
                    tx.execute(f"SET LOCAL search_path TO {schema}")
                    tx.execute(f"CREATE SCHEMA {retired}")
                    for table in tables:
                        t = quote_ident(table)
                        tx.execute(f"ALTER TABLE {schema}.{t} SET SCHEMA {retired}")
                        tx.execute(f"ALTER TABLE {area}.{t} SET SCHEMA {schema}")
                    tx.execute(f"UPDATE {schema}.projection_positions p SET position = s.position,"
                               f" updated_at = s.updated_at FROM {area}.projection_positions s"
                               f" WHERE p.name = s.name AND p.name = ANY(%s)", (list(names),))
                break
            except psycopg.errors.LockNotAvailable:
                if attempt == SWITCH_ATTEMPTS:
                    raise
                log.warning("switch of %s waited %s for a table lock; trying again", self.name, SWITCH_LOCK_TIMEOUT)
                time.sleep(0.5 * attempt)
        with self.live.transaction() as tx:
            tx.execute(f"DROP SCHEMA {retired} CASCADE")
        self.drop()

    def drop(self) -> None:
        drop(self.live, self.name)


# -- SQLite --------------------------------------------------------------------------------------


def _sqlite_path(live: SQLiteProjectionDB, name: str) -> Path:
    return live.path.with_name(f"{live.path.stem}.{name}{live.path.suffix}")


class _SQLiteArea(ScratchArea):
    def __init__(self, live: SQLiteProjectionDB, name: str, tables: Sequence[str]) -> None:
        self.live, self.name = live, name
        self.path = _sqlite_path(live, name)
        self.fresh = not self.path.exists()
        if self.fresh:
            self._create([*tables, "projection_positions"])
        self.emptied = {t: Emptied() for t in tables} if self.fresh else {}
        self.db = _SQLiteAreaDB(self.path, self.emptied)

    def _create(self, tables: list[str]) -> None:
        """The live tables' own CREATE statements (tables, then their indexes), in a file that
        appears under its name only when complete."""
        conn = sqlite3.connect(self.live.path)
        try:
            marks = ", ".join("?" * len(tables))
            ddl = [sql for (sql,) in conn.execute(
                f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL"
                " ORDER BY type = 'index', name", tables)]
        finally:
            conn.close()
        partial = self.path.with_name(self.path.name + ".partial")
        partial.unlink(missing_ok=True)
        conn = sqlite3.connect(partial)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            for sql in ddl:
                conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        partial.rename(self.path)

    def switch(self, tables: Sequence[str], names: Sequence[str], catch_up: Callable[[Tx], None]) -> None:
        conn = sqlite3.connect(self.live.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("ATTACH DATABASE ? AS area", (str(self.path),))
            conn.execute("BEGIN")
            try:
                # A write takes the live file's lock (only that file's: BEGIN IMMEDIATE would also
                # lock the attached one, which the catch-up below writes on its own connection).
                marks = ", ".join("?" * len(names))
                conn.execute(f"UPDATE main.projection_positions SET updated_at = updated_at WHERE name IN ({marks})",
                             list(names))
                with self.db.transaction() as tx:
                    catch_up(tx)
                for table in tables:
                    t = quote_ident(table)
                    cols = ", ".join(quote_ident(r[1]) for r in conn.execute(f"PRAGMA main.table_info({t})"))
                    conn.execute(f"DELETE FROM main.{t}")
                    conn.execute(f"INSERT INTO main.{t} ({cols}) SELECT {cols} FROM area.{t}")
                conn.execute(f"UPDATE main.projection_positions SET (position, updated_at) = (SELECT s.position,"
                             f" s.updated_at FROM area.projection_positions s WHERE s.name ="
                             f" projection_positions.name) WHERE name IN ({marks})", list(names))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("DETACH DATABASE area")
        finally:
            conn.close()
        self.drop()

    def drop(self) -> None:
        self.db.close()
        drop(self.live, self.name)


class _SQLiteAreaDB(SQLiteProjectionDB):
    """The area's file; its transactions carry the area's `emptied`."""

    def __init__(self, path: Path, emptied: dict[str, Emptied]) -> None:
        super().__init__(path)
        self.emptied = emptied

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with super().transaction() as tx:
            tx.emptied = self.emptied
            yield tx
