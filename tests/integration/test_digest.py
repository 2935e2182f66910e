"""A projection's digest depends on its rows only: the same rows give the same digest on SQLite and on
PostgreSQL, and it is the SHA-256 of what PostgreSQL's own COPY writes, so an auditor can recompute it."""

from __future__ import annotations

import hashlib
from datetime import date

import psycopg
import pytest

from projections.db import PostgresProjectionDB, SQLiteProjectionDB
from projections.engine import ProjectionEngine

TABLE = "digest_probe"
DDL = (f"CREATE TABLE {TABLE} (id text PRIMARY KEY, n bigint, flag boolean, day date, note text,"
       " other integer)")
ROWS = [
    # Keys that sort differently bytewise ("A" < "B-2" < "a-1" < "b") than linguistically, and every value
    # that the COPY text format escapes or spells its own way.
    ("a-1", 1, True, date(2021, 8, 1), "tab\there, newline\nthere, cr\r, backslash\\, \b\f\v", None),
    ("B-2", -9_000_000_000, False, None, "Nguyễn Văn A — ký tự", 0),
    ("b", None, None, date(1999, 12, 31), "", 7),
    ("A", 0, True, None, "\\N is not null", None),
]


class Probe:
    tables = {TABLE: ("id",)}


def digest_of(db, rows=ROWS) -> str:
    with db.transaction() as tx:
        tx.execute(DDL)
        for row in rows:
            tx.execute(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s, %s)", row)
    with db.transaction() as tx:
        return ProjectionEngine.digest_in(tx, Probe())


@pytest.mark.postgres
def test_same_rows_same_digest_on_sqlite_and_postgresql(tmp_path, pg_settings):
    sqlite_db = SQLiteProjectionDB(tmp_path / "probe.sqlite3")
    pg_db = PostgresProjectionDB(pg_settings)
    try:
        assert digest_of(sqlite_db) == digest_of(pg_db)
    finally:
        sqlite_db.close()
        pg_db.close()


@pytest.mark.postgres
def test_digest_is_the_sha256_of_postgresql_copy_output(pg_settings):
    """What the docs tell an auditor: table name, sorted column names, then COPY of the rows in key order."""
    db = PostgresProjectionDB(pg_settings)
    try:
        ours = digest_of(db)
    finally:
        db.close()
    with psycopg.connect(pg_settings.postgres_conninfo()) as conn, conn.cursor() as cur:
        expected = hashlib.sha256(f"{TABLE}\nday\tflag\tid\tn\tnote\tother\n".encode())
        query = f'COPY (SELECT day, flag, id, n, note, other FROM {TABLE} ORDER BY id COLLATE "C") TO STDOUT'
        with cur.copy(query) as copy:
            for chunk in copy:
                expected.update(bytes(chunk))
    assert ours == expected.hexdigest()
    assert [r[0] for r in sorted(ROWS, key=lambda r: r[0].encode())] == ["A", "B-2", "a-1", "b"]


def test_a_change_in_any_value_changes_the_digest(tmp_path):
    first = digest_of(SQLiteProjectionDB(tmp_path / "one.sqlite3"))
    changed = [ROWS[0][:-1] + (1,), *ROWS[1:]]
    assert digest_of(SQLiteProjectionDB(tmp_path / "two.sqlite3"), changed) != first

