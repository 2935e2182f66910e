"""Event recorders that also check a command's read set when they insert its events.

A command reads some aggregates it does not change: the lot and the facility of a dose.
The library's optimistic check (a unique version per aggregate) only protects what is
written, so a lot recalled between the dose's read and its commit would go unnoticed.
These recorders accept `read_set={aggregate_id: version_read}` with the events and insert
nothing if any of those aggregates has moved on, raising `IntegrityError` like a lost race;
the command is then re-run from fresh state (`Ledger._execute`).

The check is serialisable because it runs where every insert is serialised: on
PostgreSQL inside the insert statement, after the library's EXCLUSIVE table lock; on
SQLite after the first insert, which holds the database's single write lock. That is also
what lets `Ledger` keep reference aggregates in memory without re-reading them for every
command: a stale copy can delay a command by one retry but never let it through.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

ReadSet = Mapping[UUID, int]
#: Events as the insert statements take them: ids, versions, topics, states (`_columns`).
Columns = tuple[list, list, list, list]
#: One stored event as the projections read it: (position, originator id as text, version, topic, state).
Row = tuple[int, str, int, str, bytes]
#: A read of some topics asks the table for at most this many positions per event it wants at
#: once (`LedgerPostgresRecorder.select_rows`), so its cost is bounded whatever plan the server picks.
READ_WINDOW = 8


class StaleReadError(IntegrityError):
    """An aggregate the command read (but did not change) was changed before the command committed."""


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder with an insert that takes one round trip and checks the read set.

    The library's insert holds the table lock across two round trips (the insert, then the
    commit after its ids are fetched). Between them the client must run: with sixteen
    request threads sharing one interpreter lock, the holder can wait up to a switch
    interval (5 ms) for its turn in Python while every other writer waits for the lock.
    Here BEGIN, the lock, NOTIFY, the insert and COMMIT go out as one pipeline, and the
    server holds the lock only while it runs them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name)
        )
        # The events go as four arrays in binary (`%b`), not as the library's array of its composite
        # type: psycopg dumps composites as text in Python, escaping every byte of the state, which
        # cost 104 ms of a 5,000-event insert against 10 ms for the four arrays (BENCHMARKS.md §3).
        values = SQL("SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])")
        self.select_rows_statement = SQL(
            # The id as text: projections keep ids as text, and a UUID object per row costs on a rebuild.
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {table}"
            " WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s)"
            " ORDER BY notification_id LIMIT %s"
        ).format(table=table)
        self.select_all_rows_statement = SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {table}"
            " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(table=table)
        self.position_statement = SQL(
            "SELECT notification_id FROM {table} WHERE originator_id = %s AND originator_version = %s"
        ).format(table=table)
        columns = SQL("INSERT INTO {table} (originator_id, originator_version, topic, state) ").format(table=table)
        self.plain_insert_statement = columns + values + SQL(" RETURNING notification_id")
        self.guarded_insert_statement = (
            columns
            + values
            + SQL(
                # LATERAL ... LIMIT 1 keeps this a primary-key probe per read aggregate; as a plain
                # join, a table without statistics was seen planned as a hash join over a full scan.
                " WHERE NOT EXISTS (SELECT 1 FROM unnest(%b::uuid[], %b::bigint[]) AS r(id, version)"
                " CROSS JOIN LATERAL (SELECT 1 FROM {table} e"
                "   WHERE e.originator_id = r.id AND e.originator_version > r.version LIMIT 1) AS newer)"
                " RETURNING notification_id"
            ).format(table=table)
        )
        # Statements as bytes, rendered once: psycopg renders a composed statement again on every
        # execute (a tenth of a dose command's CPU went to that), but caches the parse of bytes.
        for name in ("select_rows_statement", "position_statement", "plain_insert_statement",
                     "guarded_insert_statement"):
            setattr(self, name, getattr(self, name).as_bytes(None))
        self.lock_table_statements = [statement.as_bytes(None) for statement in self.lock_table_statements]
        self.notify_statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name)).as_bytes(None)
        self.select_events_base = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {table} WHERE originator_id = %s"
        ).format(table=table).as_bytes(None)
        self.select_many_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {table} WHERE originator_id = ANY(%s::uuid[])"
            " ORDER BY originator_id, originator_version"
        ).format(table=table).as_bytes(None)
        self._select_events_statements: dict[tuple[bool, bool, bool, bool], bytes] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_rows(self, after: int, stop: int, topics: Sequence[str], limit: int) -> list[Row]:
        """The events of `topics` (every event: none given) after position `after` and not after `stop`,
        up to `limit` of them, as plain tuples.

        `select_notifications` builds a dict row and a `Notification` for each event; over
        the millions of rows of a rebuild that costs as much as decoding their JSON.

        With `topics`, the table is asked for a window of `READ_WINDOW * limit` positions at a
        time, until `limit` events or `stop`. Without the window the plan depended on the table's statistics: on a
        log never analyzed (restored, bulk-loaded with autovacuum off) the server found every
        event of the topics up to `stop` through the topic index and sorted them all, for
        every batch, which made a rebuild quadratic (a 948,572-event national rebuild: 80 s and
        85 s of server CPU, 36 s and 18 s once analyzed). With it the worst plan sorts one window.
        """
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            if not topics:
                curs.execute(self.select_all_rows_statement, (after, stop, limit), prepare=True)
                return curs.fetchall()
            rows: list[Row] = []
            wanted = list(topics)
            while after < stop and len(rows) < limit:
                upto = min(stop, after + READ_WINDOW * limit)
                curs.execute(self.select_rows_statement, (after, upto, wanted, limit - len(rows)), prepare=True)
                rows += curs.fetchall()
                after = upto
            return rows

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The position at which an aggregate's event was recorded (None if it was not)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.position_statement, (originator_id, version), prepare=True)
            row = curs.fetchone()
            return row[0] if row else None

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self.notify_statement)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of the aggregates `originator_ids`, by aggregate then version, in one query
        (a bulk import reads a batch's people so; snapshots are not consulted)."""
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(self.select_many_statement, (list(originator_ids),), prepare=True)
            return [StoredEvent(*row) for row in curs.fetchall()]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's `select_events`, with its statement rendered once per shape."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        statement = self._select_events_statements.get(shape)
        if statement is None:
            statement = self.select_events_base + b"".join((
                b" AND originator_version > %s" if shape[0] else b"",
                b" AND originator_version <= %s" if shape[1] else b"",
                b" ORDER BY originator_version DESC" if desc else b" ORDER BY originator_version ASC",
                b" LIMIT %s" if shape[3] else b"",
            ))
            self._select_events_statements[shape] = statement
        params = [originator_id, *(v for v in (gt, lte, limit) if v is not None)]
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [StoredEvent(originator_id=o, originator_version=v, topic=t, state=bytes(st))
                    for o, v, t, st in curs.fetchall()]

    #: Set by the Ledger (`Settings.group_commit`): concurrent inserts share transactions.
    group_commit: GroupCommit | None = None

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], *, read_set: ReadSet | None = None, **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None:
            raise NotImplementedError("the Ledger's recorder does not record tracking")
        if not stored_events:
            return []
        rows = _columns(stored_events)
        guard = dict(read_set or {})  # what the command read and did not change, at the versions read
        if self.group_commit is not None:
            # Guarded on what it writes too, at the version before its first new event: a command that
            # lost a race then inserts nothing instead of failing the whole group on the unique version.
            for e in stored_events:
                guard.setdefault(e.originator_id, e.originator_version - 1)
            notification_ids = self.group_commit.submit(self, rows, guard)
        else:
            notification_ids = self.insert_batch([(rows, guard)])[0]
        if len(notification_ids) != len(stored_events):
            # Only the guard inserts nothing without an error; the commit was empty for this command.
            raise StaleReadError(f"an aggregate read or written moved on before commit: {sorted(map(str, guard))}")
        return notification_ids

    def insert_batch(self, commands: Sequence[tuple[Columns, ReadSet]]) -> list[list[int]]:
        """Commands' rows in one transaction (one for a single command, several for `GroupCommit`),
        each INSERT guarded on its aggregates' versions: the notification ids each inserted, none for a
        command whose guard found a newer version. BEGIN, the lock, NOTIFY, the INSERTs and COMMIT go
        out as one pipeline."""
        with self.datastore.get_connection() as conn:
            try:
                with conn.pipeline() as pipeline, conn.cursor() as curs:
                    curs.execute("BEGIN")
                    self._lock_table(curs)
                    self._notify_channel(curs)
                    cursors = []
                    for rows, guard in commands:
                        inserted = conn.cursor()
                        if guard:
                            ids, versions = zip(*guard.items(), strict=True)
                            inserted.execute(self.guarded_insert_statement, (*rows, list(ids), list(versions)))
                        else:
                            inserted.execute(self.plain_insert_statement, rows)
                        cursors.append(inserted)
                    curs.execute("COMMIT")
                    pipeline.sync()
                    results = [[row["notification_id"] for row in c.fetchall()] for c in cursors]
                    for c in cursors:
                        c.close()
                    return results
            except BaseException:
                # A failed statement leaves the transaction aborted (the COMMIT was skipped).
                if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
                    conn.rollback()
                raise


def _columns(stored_events: Sequence[StoredEvent]) -> Columns:
    """The events as the insert statements take them: ids (as UUIDs, which the binary dumper needs),
    versions, topics and states, one list each."""
    return ([e.originator_id if isinstance(e.originator_id, UUID) else UUID(e.originator_id) for e in stored_events],
            [e.originator_version for e in stored_events], [e.topic for e in stored_events],
            [e.state for e in stored_events])


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stale_read_statement = (
            f"SELECT 1 FROM {self.events_table_name} WHERE originator_id = ? AND originator_version > ? LIMIT 1"
        )

    def select_rows(self, after: int, stop: int, topics: Sequence[str], limit: int) -> list[Row]:
        """Like `LedgerPostgresRecorder.select_rows` (an embedded store gains nothing from its own query)."""
        notes = self.select_notifications(after, limit, stop, topics, inclusive_of_start=False)
        return [(n.id, str(n.originator_id), n.originator_version, n.topic, n.state) for n in notes]

    def position_of(self, originator_id: UUID, version: int) -> int | None:
        """The position at which an aggregate's event was recorded (None if it was not)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid FROM {self.events_table_name} WHERE originator_id = ? AND originator_version = ?",
                (originator_id.hex, version),
            )
            row = c.fetchone()
            return row[0] if row else None

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Like `LedgerPostgresRecorder.select_events_of`."""
        out: list[StoredEvent] = []
        ids = list(originator_ids)
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), 500):
                part = ids[start:start + 500]
                c.execute(f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name}"
                          f" WHERE originator_id IN ({','.join('?' * len(part))})"
                          " ORDER BY originator_id, originator_version", [i.hex for i in part])
                out.extend(StoredEvent(UUID(r[0]), r[1], r[2], r[3]) for r in c.fetchall())
        return out

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *, read_set: ReadSet | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        # Insert first: the first write takes SQLite's write lock, so the check below reads the
        # newest state and nothing can commit between it and our commit. Raising rolls back.
        ids = super()._insert_events(c, stored_events, **kwargs)
        for aggregate_id, version in (read_set or {}).items():
            c.execute(self.stale_read_statement, (aggregate_id.hex, version))
            if c.fetchone() is not None:
                raise StaleReadError(f"read set changed before commit: {aggregate_id}")
        return ids


class _Entry:
    """One command's insert waiting in a `GroupCommit`: its rows, its guard, then its outcome."""

    __slots__ = ("done", "error", "guard", "ids", "lead", "rows")

    def __init__(self, rows: Columns, guard: ReadSet) -> None:
        self.rows, self.guard = rows, guard
        self.done = threading.Event()
        self.lead = False
        self.ids: list[int] | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Concurrent inserts of one process coalesced into shared transactions (group commit).

    The first thread to arrive when no transaction is being written leads: it takes every
    insert waiting (its own included, at most `max_batch`), and writes them in one pipelined
    transaction: one table lock, one NOTIFY, one guarded INSERT per command, one COMMIT (one WAL
    flush). The others wait; when the leader is done, it hands the lead to the first of those
    that arrived meanwhile. Each command is guarded on every aggregate it read *and* wrote (no
    newer version may exist), so a command that lost a race, to another process or to an
    earlier command of the same transaction, inserts nothing and alone gets `StaleReadError`
    (and is re-run from fresh state by `Ledger._execute`); the others commit. Nothing in the
    transaction can then fail on the version constraint, so only an infrastructure error fails
    a whole batch, and every command of it sees that error.
    """

    def __init__(self, max_batch: int = 64) -> None:
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._waiting: list[_Entry] = []
        self._leading = False
        #: transactions written and commands in them, since start (written by the leader only).
        self.transactions = 0
        self.commands = 0

    def submit(self, recorder: LedgerPostgresRecorder, rows: Columns, guard: ReadSet) -> list[int]:
        """Write `rows` guarded by `guard` in the next shared transaction; the notification ids inserted
        (none if the guard found a newer version)."""
        entry = _Entry(rows, guard)
        with self._lock:
            self._waiting.append(entry)
            if not self._leading:
                self._leading = entry.lead = True
        if not entry.lead:
            entry.done.wait()
        if entry.lead:
            self._lead(recorder)
        if entry.error is not None:
            raise entry.error
        assert entry.ids is not None
        return entry.ids

    def _lead(self, recorder: LedgerPostgresRecorder) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
        try:
            results = recorder.insert_batch([(e.rows, e.guard) for e in batch])
            for e, ids in zip(batch, results, strict=True):
                e.ids = ids
            self.transactions += 1
            self.commands += len(batch)
        except BaseException as error:
            for e in batch:
                e.error = error
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                if successor is not None:
                    successor.lead = True
                else:
                    self._leading = False
            for e in batch:
                e.done.set()
            if successor is not None:
                successor.done.set()
