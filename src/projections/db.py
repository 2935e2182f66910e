"""One small interface over the projection store: SQLite (embedded) or PostgreSQL.

Projection SQL is written once, with `%s` placeholders and portable statements
(`INSERT ... ON CONFLICT ... DO UPDATE` works on both); the SQLite side translates the
placeholders. Dates come back as `date` and booleans as `bool` on both backends.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import Any

from ledger.settings import Settings

#: Chunk size for `IN (...)` lists: below SQLite's default limit of 999 variables.
IN_CHUNK = 500
#: From this many rows, a PostgreSQL upsert goes through COPY and a staging table.
COPY_UPSERT_MIN_ROWS = 64
#: PostgreSQL type oids of text and varchar.
_TEXT_OIDS = frozenset({25, 1043})
#: Collations that order text by its UTF-8 bytes (code points), as SQLite's default does.
_BYTEWISE_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})


def quote_ident(name: str) -> str:
    """Quote an identifier that comes from our own code (table and column names)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not an identifier: {name!r}")
    return f'"{name}"'


class Emptied:
    """What a build wrote to a table it created empty (`projections.scratch`): the keys, and the values
    of each column that `Rows` has looked rows up by.

    With it, a lookup asks the table only for values the build wrote (nothing else can be there),
    and a row whose key was never written is inserted without a merge. A column first looked up
    after rows were written is not tracked (every lookup by it queries), and tracking stops,
    falling back to queries and merges, beyond `limit` keys, so memory stays bounded.

    Keys and values are kept as their hashes (about 70 bytes each; the tuples and strings
    themselves, kept alive by a set of them, cost 2-3 times as much and made a 10 M-event
    rebuild outgrow an earlier limit of 1 M keys, and run at half speed past it). A collision can
    only make a key look written or a value look present: the row is then merged, or looked up
    and not found, as without tracking; never inserted twice.
    """

    def __init__(self, limit: int = 4_000_000) -> None:
        self.limit = limit
        self.keys: set[int] | None = set()
        #: column -> hashes of the values written; None: untracked (query every time)
        self.values: dict[str, set[int] | None] = {}

    def may_exist(self, column: str, wanted: set) -> set:
        """The subset of `wanted` that a lookup by `column` could find in the table."""
        if self.keys is None:
            return wanted
        if column not in self.values:
            self.values[column] = set() if not self.keys else None
        written = self.values[column]
        return wanted if written is None else {v for v in wanted if hash(v) in written}

    def is_new(self, key: tuple) -> bool:
        return self.keys is not None and hash(key) not in self.keys

    def wrote(self, keys: list[tuple], rows: Sequence[dict[str, Any]]) -> None:
        if self.keys is None:
            return
        self.keys.update(map(hash, keys))
        if len(self.keys) > self.limit:
            self.keys, self.values = None, {}
            return
        for column, written in self.values.items():
            if written is not None:
                written.update(hash(row[column]) for row in rows)


class Tx:
    """A transaction on the projection store."""

    dialect: str
    #: tables a build created empty, with what it has written to them (`Emptied`); {} elsewhere.
    emptied: dict[str, Emptied]

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows whose keys are not in the table."""
        if not rows:
            return
        columns = list(rows[0])
        cols = ", ".join(quote_ident(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        self.executemany(f"INSERT INTO {quote_ident(table)} ({cols}) VALUES ({marks})",
                         [[row[c] for c in columns] for row in rows])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        """(column names, rows as tuples): for scans of whole tables, where building dicts costs."""
        rows = self.fetch(sql, params)
        names = list(rows[0]) if rows else []
        return names, [tuple(r[n] for n in names) for r in rows]

    def fetch_in(self, table: str, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows of `table` whose `column` is one of `values`."""
        rows: list[dict[str, Any]] = []
        values = list(values)
        for i in range(0, len(values), IN_CHUNK):
            chunk = values[i : i + IN_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            rows += self.fetch(f"SELECT * FROM {quote_ident(table)} WHERE {quote_ident(column)} IN ({marks})", chunk)
        return rows

    def upsert(self, table: str, key: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows, replacing every column of those whose key exists."""
        if not rows:
            return
        columns = list(rows[0])
        cols = ", ".join(quote_ident(c) for c in columns)
        marks = ", ".join(["%s"] * len(columns))
        updates = ", ".join(f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in columns if c not in key)
        conflict = ", ".join(quote_ident(c) for c in key)
        sql = f"INSERT INTO {quote_ident(table)} ({cols}) VALUES ({marks}) ON CONFLICT ({conflict}) DO "
        sql += f"UPDATE SET {updates}" if updates else "NOTHING"
        self.executemany(sql, [[row[c] for c in columns] for row in rows])

    def add_counts(self, table: str, key: Sequence[str], column: str, deltas: dict[tuple, int]) -> None:
        """Add `deltas` (key values -> change) to the counter `column` of `table`, creating missing
        rows; rows whose count falls to zero are deleted, so the table holds the same rows whatever
        batches the changes came in."""
        changes = sorted((k, d) for k, d in deltas.items() if d)
        if not changes:
            return
        t, c = quote_ident(table), quote_ident(column)
        cols = ", ".join(quote_ident(k) for k in key)
        marks = ", ".join(["%s"] * (len(key) + 1))
        self.executemany(f"INSERT INTO {t} ({cols}, {c}) VALUES ({marks}) ON CONFLICT ({cols})"
                         f" DO UPDATE SET {c} = {t}.{c} + excluded.{c}", [[*k, d] for k, d in changes])
        match = " AND ".join(f"{quote_ident(k)} = %s" for k in key)
        fallen = [list(k) for k, d in changes if d < 0]
        if fallen:
            self.executemany(f"DELETE FROM {t} WHERE {match} AND {c} = 0", fallen)

    def stream_tuples(self, sql: str, size: int = 50_000) -> Iterator[tuple[list[str], list[tuple]]]:
        """(column names, up to `size` rows) at a time, for tables too large to hold at once (exports)."""
        raise NotImplementedError

    def lock_position(self, name: str) -> int:
        """The projection's position, locked against other writers until the transaction ends."""
        raise NotImplementedError

    def lock_positions(self, names: Sequence[str], below: int) -> dict[str, int]:
        """The positions of the named projections that are below `below`, locked like `lock_position`'s
        (the others are left unlocked: a round with nothing to do writes nothing)."""
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        names, _ = self.fetch_tuples(f"SELECT * FROM {quote_ident(table)} LIMIT 0")
        return names

    def table_text(self, table: str, columns: Sequence[str], key: Sequence[str]) -> Iterator[bytes]:
        """The rows of `table` in `key` order (bytewise for text), `columns` of each as a line of
        PostgreSQL's COPY text format: what `projections.engine` digests. Here, formatted in
        Python exactly as the server would format our column types; PostgreSQL streams its own."""
        cols = ", ".join(quote_ident(c) for c in columns)
        order = ", ".join(quote_ident(c) for c in key)
        _, rows = self.fetch_tuples(f"SELECT {cols} FROM {quote_ident(table)} ORDER BY {order}")
        for i in range(0, len(rows), 1000):
            yield "".join(
                "\t".join([_copy_text(v) for v in row]) + "\n" for row in rows[i : i + 1000]
            ).encode()


#: COPY text format escapes (PostgreSQL's `CopyAttributeOutText`): backslash and these control characters.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                               "\t": "\\t", "\v": "\\v"})


def _copy_text(value: Any) -> str:
    """One value as PostgreSQL's COPY text format writes it, for the column types projections use."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | date):
        return str(value)
    raise TypeError(f"no COPY text form for a projection value of type {type(value).__name__}")


class ProjectionDB:
    dialect: str

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        raise NotImplementedError
        yield  # pragma: no cover

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.transaction() as tx:
            return tx.fetch(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read-only transaction that sees one committed state of every table throughout and blocks
        no writer: an export reads a projection's tables and position so while the engine runs."""
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        pass


# -- SQLite --------------------------------------------------------------------------------------


class _SQLiteTx(Tx):
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.emptied = {}

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%s", "?")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(self._sql(sql), rows)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(self._sql(sql), params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.conn.execute(self._sql(sql), params)
        return [d[0] for d in cur.description], cur.fetchall()

    def stream_tuples(self, sql: str, size: int = 50_000) -> Iterator[tuple[list[str], list[tuple]]]:
        cur = self.conn.execute(self._sql(sql))
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(size):
            yield names, rows

    def lock_position(self, name: str) -> int:
        # BEGIN IMMEDIATE already holds the file's write lock for this transaction.
        row = self.fetch("SELECT position FROM projection_positions WHERE name = %s", (name,))
        return row[0]["position"] if row else 0

    def lock_positions(self, names: Sequence[str], below: int) -> dict[str, int]:
        wanted = set(names)
        rows = self.fetch("SELECT name, position FROM projection_positions WHERE position < %s", (below,))
        return {r["name"]: r["position"] for r in rows if r["name"] in wanted}


def _register_sqlite_types() -> None:
    sqlite3.register_adapter(date, date.isoformat)
    sqlite3.register_converter("date", lambda b: date.fromisoformat(b.decode()))
    sqlite3.register_converter("boolean", lambda b: bool(int(b)))


class SQLiteProjectionDB(ProjectionDB):
    """Projections in their own SQLite file, one connection per thread, WAL mode."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        _register_sqlite_types()
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, detect_types=sqlite3.PARSE_DECLTYPES
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        # Deferred: the first read fixes the WAL snapshot the transaction sees; writers go on meanwhile.
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield _SQLiteTx(conn)
        finally:
            conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        # Reads need no write lock: WAL readers see the last committed state.
        return _SQLiteTx(self._conn()).fetch(sql, params)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


# -- PostgreSQL ----------------------------------------------------------------------------------


#: `_PostgresTx.fetch_in`'s statement per (table, column): the column's type is read once.
_FETCH_IN: dict[tuple[str, str], str] = {}


class _PostgresTx(Tx):
    dialect = "postgresql"

    def __init__(self, conn: Any, staged: weakref.WeakKeyDictionary | None = None) -> None:
        from psycopg.rows import dict_row

        self.conn = conn
        self.cur = conn.cursor(row_factory=dict_row)
        self.emptied = {}
        #: connection -> tables whose staging table exists in that session (shared by the database's transactions).
        self.staged = staged if staged is not None else weakref.WeakKeyDictionary()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cur.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(sql, rows)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.cur.execute(sql, params)
        return self.cur.fetchall()

    def fetch_in(self, table: str, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """One index probe per value, whatever the table's statistics say.

        `column = ANY(%s)` was planned as a sequential scan on a table never analyzed (autovacuum
        off, or a table just rebuilt): the live engine's lookups of `vh_doses` then cost in
        proportion to the table, and 64 clients dosing for a minute saw the engine's server time
        per dose double (BENCHMARKS.md §3). The subquery fenced by `OFFSET 0` is not merged
        into a join, so it runs once per value, on the column's index.
        """
        values = list(dict.fromkeys(values))
        if not values:
            return []
        statement = _FETCH_IN.get((table, column))
        if statement is None:
            kind = self.fetch("SELECT format_type(atttypid, atttypmod) AS kind FROM pg_attribute"
                              " WHERE attrelid = %s::regclass AND attname = %s", (quote_ident(table), column))[0]["kind"]
            statement = (f"SELECT t.* FROM unnest(%s::{kind}[]) AS k(v) CROSS JOIN LATERAL"
                         f" (SELECT * FROM {quote_ident(table)} WHERE {quote_ident(column)} = k.v OFFSET 0) AS t")
            _FETCH_IN[(table, column)] = statement
        return self.fetch(statement, (values,))

    def insert(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        if len(rows) < COPY_UPSERT_MIN_ROWS:
            super().insert(table, rows)
            return
        columns = list(rows[0])
        self._copy(quote_ident(table), columns, rows)

    def _copy(self, target: str, columns: list[str], rows: Sequence[dict[str, Any]]) -> None:
        values = itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
        self._copy_tuples(target, columns, map(values, rows))

    def _copy_tuples(self, target: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
        cols = ", ".join(quote_ident(c) for c in columns)
        with self.cur.copy(f"COPY {target} ({cols}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row)

    def _stage(self, table: str) -> str:
        """The (quoted) staging table of `table` on this connection, created on first use.
        Temporary: private to this connection, gone with it; emptied after every merge."""
        stage = quote_ident(f"stage_{table}")
        if table not in self.staged.setdefault(self.conn, set()):
            self.cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {quote_ident(table)})")
            self.staged[self.conn].add(table)
        return stage

    def upsert(self, table: str, key: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
        """COPY the rows into a session-local staging table, then one `INSERT ... SELECT ... ON CONFLICT`.

        A statement per row (even pipelined) costs the server a parse/bind/execute each and
        the client a Python-level dump of every value; COPY rows are formatted by psycopg's
        C extension and the merge is one statement. Rows carry distinct keys (a `Rows` batch
        holds one dict per key), as one statement may not update the same row twice.
        """
        if len(rows) < COPY_UPSERT_MIN_ROWS:
            # Live tailing writes a few rows per batch: fewer round trips the plain way.
            super().upsert(table, key, rows)
            return
        columns = list(rows[0])
        stage = self._stage(table)
        self._copy(stage, columns, rows)
        cols = ", ".join(quote_ident(c) for c in columns)
        updates = ", ".join(f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in columns if c not in key)
        conflict = ", ".join(quote_ident(c) for c in key)
        self.cur.execute(f"INSERT INTO {quote_ident(table)} ({cols}) SELECT {cols} FROM {stage}"
                         f" ON CONFLICT ({conflict}) DO " + (f"UPDATE SET {updates}" if updates else "NOTHING"))
        self.cur.execute(f"TRUNCATE {stage}")

    def add_counts(self, table: str, key: Sequence[str], column: str, deltas: dict[tuple, int]) -> None:
        """`Tx.add_counts` through the staging table, as `upsert`: one merge and one delete instead of
        a statement per changed count (a batch of the national workload changes thousands: the
        coverage counters per ward and week were a tenth of its rebuild)."""
        changes = sorted((k, d) for k, d in deltas.items() if d)
        if len(changes) < COPY_UPSERT_MIN_ROWS:
            super().add_counts(table, key, column, deltas)
            return
        stage, t, c = self._stage(table), quote_ident(table), quote_ident(column)
        self._copy_tuples(stage, [*key, column], ((*k, d) for k, d in changes))
        cols = ", ".join(quote_ident(k) for k in key)
        match = " AND ".join(f"{t}.{quote_ident(k)} = s.{quote_ident(k)}" for k in key)
        self.cur.execute(f"INSERT INTO {t} ({cols}, {c}) SELECT {cols}, {c} FROM {stage} ON CONFLICT ({cols})"
                         f" DO UPDATE SET {c} = {t}.{c} + excluded.{c}")
        self.cur.execute(f"DELETE FROM {t} USING {stage} s WHERE {match} AND s.{c} < 0 AND {t}.{c} = 0")
        self.cur.execute(f"TRUNCATE {stage}")

    def fetch_tuples(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
        cur = self.conn.cursor()
        cur.execute(sql, params)
        return [d.name for d in cur.description], cur.fetchall()

    def stream_tuples(self, sql: str, size: int = 50_000) -> Iterator[tuple[list[str], list[tuple]]]:
        with self.conn.cursor(name="stream_tuples") as cur:  # server-side: the rows arrive `size` at a time
            cur.execute(sql)
            while rows := cur.fetchmany(size):
                yield [d.name for d in cur.description], rows

    def lock_position(self, name: str) -> int:
        row = self.fetch("SELECT position FROM projection_positions WHERE name = %s FOR UPDATE", (name,))
        return row[0]["position"] if row else 0

    def lock_positions(self, names: Sequence[str], below: int) -> dict[str, int]:
        # In name order, as every runner takes them, so two runners cannot deadlock. FOR UPDATE
        # checks `position < below` again on the row it waited for.
        rows = self.fetch("SELECT name, position FROM projection_positions WHERE name = ANY(%s) AND position < %s"
                          " ORDER BY name FOR UPDATE", (list(names), below))
        return {r["name"]: r["position"] for r in rows}

    def table_text(self, table: str, columns: Sequence[str], key: Sequence[str]) -> Iterator[bytes]:
        cur = self.conn.cursor()
        cur.execute("SET LOCAL DateStyle = 'ISO'")  # dates as YYYY-MM-DD, whatever the server's default
        # Bytewise order for text keys, as SQLite sorts: the database's own when its collation is
        # bytewise (then the primary key's index gives the order), else an explicit "C" on text keys.
        cur.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        text: set[str] = set()
        if cur.fetchone()[0] not in _BYTEWISE_COLLATIONS:
            cur.execute(f"SELECT * FROM {quote_ident(table)} LIMIT 0")
            text = {d.name for d in cur.description if d.type_code in _TEXT_OIDS}
        order = ", ".join(quote_ident(c) + (' COLLATE "C"' if c in text else "") for c in key)
        cols = ", ".join(quote_ident(c) for c in columns)
        with cur.copy(f"COPY (SELECT {cols} FROM {quote_ident(table)} ORDER BY {order}) TO STDOUT") as copy:
            for chunk in copy:
                yield bytes(chunk)


class PostgresProjectionDB(ProjectionDB):
    """Projections in the ledger's PostgreSQL database, through a psycopg pool."""

    dialect = "postgresql"

    def __init__(self, settings: Settings) -> None:
        from psycopg_pool import ConnectionPool

        self.conninfo = settings.postgres_conninfo()
        self.staged: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.pool = ConnectionPool(
            self.conninfo, min_size=1, max_size=max(2, settings.pool_size), open=True, name="projections"
        )

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.pool.connection() as conn:
            try:
                with conn.transaction():
                    yield _PostgresTx(conn, self.staged)
            except BaseException:
                # A rollback also undoes a staging table created in this transaction.
                self.staged.pop(conn, None)
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """One statement on its own (autocommit): a single round trip, where a transaction around it
        would add a BEGIN and a COMMIT. A statement sees one committed state throughout."""
        with self.pool.connection() as conn:
            conn.autocommit = True
            try:
                return _PostgresTx(conn).fetch(sql, params)
            finally:
                conn.autocommit = False

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        with self.pool.connection() as conn, conn.transaction(force_rollback=True):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _PostgresTx(conn, self.staged)

    def close(self) -> None:
        self.pool.close()


def open_projection_db(settings: Settings) -> ProjectionDB:
    if settings.is_postgres:
        return PostgresProjectionDB(settings)
    return SQLiteProjectionDB(settings.sqlite_projections_path)
