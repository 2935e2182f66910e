"""The PostgreSQL schema from `migrations/` is exactly what eventsourcing 9.5.6 would create for the Ledger, the
migrations apply once, and the Ledger runs on them with the table lock and a lock timeout."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger.application import Ledger
from ledger.migrate import discover, migrate
from ledger.settings import Settings

pytestmark = pytest.mark.postgres

TABLES = ("ledger_events", "ledger_snapshots")
#: Ours only: projections and integrator feeds read the log by topic.
EXTRA_INDEXES = {"ledger_events_topic_notification_id_idx"}


def fetch(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(Settings(database_url=url).postgres_conninfo()) as conn:
        return conn.execute(query, params).fetchall()


def columns(url: str, schema: str) -> list[tuple]:
    rows = fetch(url, """
        SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = %s AND table_name = ANY(%s)
        ORDER BY table_name, ordinal_position""", (schema, list(TABLES)))
    # A serial's default names its sequence, qualified by schema outside the search path.
    return [(*r[:5], r[5].replace(f"{schema}.", "") if r[5] else None) for r in rows]


def indexes(url: str, schema: str) -> dict[str, tuple[bool, bool, str]]:
    rows = fetch(url, """
        SELECT i.relname, x.indisprimary, x.indisunique, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = %s AND t.relname = ANY(%s)""", (schema, list(TABLES)))
    return {name: (primary, unique, definition.replace(f"{schema}.", "")) for name, primary, unique, definition in rows}


def table_options(url: str, schema: str) -> dict[str, list[str]]:
    rows = fetch(url, """
        SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relname = ANY(%s)""", (schema, list(TABLES)))
    return {name: sorted(options or []) for name, options in rows}


def composite_type(url: str, schema: str) -> list[tuple]:
    return fetch(url, """
        SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_attribute a ON a.attrelid = t.typrelid
        WHERE n.nspname = %s AND t.typname = 'stored_event_uuid' AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum""", (schema,))


@pytest.fixture
def library_schema(fresh_pg_url: str) -> str:
    """Schema `libref` in the test database, holding the tables the library itself creates for the Ledger."""
    with psycopg.connect(Settings(database_url=fresh_pg_url).postgres_conninfo(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA libref")
    reference = Ledger(Settings(database_url=fresh_pg_url, extra_env={"CREATE_TABLE": "y", "POSTGRES_SCHEMA": "libref"}))
    reference.close()
    return "libref"


def test_migrated_schema_matches_the_library(fresh_pg_url, library_schema):
    """Columns (name, type, nullability, order, default), storage options, primary keys and unique indexes, and the
    composite type `stored_event_uuid` in `public` equal those the library creates in `libref`."""
    ours, theirs = fresh_pg_url, library_schema
    assert columns(ours, "public") == columns(ours, theirs)
    assert len(columns(ours, "public")) == 9
    assert table_options(ours, "public") == table_options(ours, theirs)
    assert set(table_options(ours, "public")) == set(TABLES)
    mine, library = indexes(ours, "public"), indexes(ours, theirs)
    assert {k: v for k, v in mine.items() if k not in EXTRA_INDEXES} == library
    assert set(library) == {"ledger_events_pkey", "ledger_snapshots_pkey", "ledger_events_notification_id_idx"}
    assert all(not mine[name][1] for name in EXTRA_INDEXES), "our extra index must not constrain the log"
    assert composite_type(ours, "public") == composite_type(ours, theirs)
    assert [name for _, name, _ in composite_type(ours, "public")] == [
        "originator_id", "originator_version", "topic", "state"]


def test_migrate_applies_each_file_once(postgres_server):
    """On an empty database `migrate()` applies every PostgreSQL migration in order, and a second run applies nothing."""
    name = postgres_server.create_database()
    try:
        settings = Settings(database_url=postgres_server.url_for(name))
        expected = [m.path.name for m in discover() if m.applies_to("postgresql")]
        assert migrate(settings) == expected
        assert migrate(settings) == []
        recorded = fetch(settings.database_url, "SELECT version, name FROM schema_migrations ORDER BY version")
        assert [n for _, n in recorded] == expected
    finally:
        postgres_server.drop_database(name)


def test_migrate_on_a_migrated_database_applies_nothing(pg_settings):
    """A database cloned from the migrated template needs no migration."""
    assert migrate(pg_settings) == []


def test_ledger_runs_on_the_migrated_schema(pg_settings, prov):
    """A Ledger with CREATE_TABLE=n writes and reads events, snapshots and notifications on the migrated tables."""
    ledger = Ledger(pg_settings)
    try:
        assert ledger.factory.env_create_table() is False
        result = ledger.register_facility(code="VP-MIG", name="Point", kind="vaccination_point", province_code="01",
                                          prov=prov())
        facility_id = UUID(result.ids["facility_id"])
        assert ledger.facility(facility_id).code == "VP-MIG"
        assert ledger.head() == result.position
        notes = ledger.recorder.select_notifications(start=1, limit=10)
        assert [n.topic for n in notes] == ["ledger.facility.Registered"]
        ledger.take_snapshot(facility_id)
        snapshots = fetch(pg_settings.database_url, "SELECT originator_id FROM ledger_snapshots")
        assert [str(r[0]) for r in snapshots] == [result.ids["facility_id"]]
        assert fetch(pg_settings.database_url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'libref'") == [(0,)]
    finally:
        ledger.close()


def test_table_lock_on_and_lock_timeout_set(pg_settings, prov):
    """The recorder takes the library's EXCLUSIVE table lock on every write (no database functions), with the
    lock timeout from settings; a writer blocked on the lock gives up after that timeout."""
    settings = Settings(database_url=pg_settings.database_url, lock_timeout=1)
    ledger = Ledger(settings)
    try:
        recorder, datastore = ledger.recorder, ledger.recorder.datastore
        assert datastore.enable_db_functions is False
        assert datastore.lock_timeout == 1
        statements = [s.decode() for s in recorder.lock_table_statements]
        assert statements == ["SET LOCAL lock_timeout = '1s'", 'LOCK TABLE "public"."ledger_events" IN EXCLUSIVE MODE']

        # ROW SHARE conflicts with EXCLUSIVE but not with a plain INSERT's ROW EXCLUSIVE: a command waits on it
        # only because it takes the table lock.
        with psycopg.connect(settings.postgres_conninfo()) as blocker:
            blocker.execute("LOCK TABLE ledger_events IN ROW SHARE MODE")
            started = time.monotonic()
            with pytest.raises(Exception) as info, datastore.transaction(commit=False) as cursor:
                for statement in recorder.lock_table_statements:
                    cursor.execute(statement)
            assert "lock timeout" in str(info.value)
            assert 0.8 < time.monotonic() - started < 5

            outcome: dict[str, Any] = {}
            writer = threading.Thread(target=lambda: outcome.update(result=ledger.register_facility(
                code="VP-LOCK", name="Point", kind="vaccination_point", province_code="01", prov=prov())))
            writer.start()
            waiting = _wait_for_lock_wait(settings.database_url)
            blocker.rollback()
        writer.join(timeout=30)
        assert waiting == [("ExclusiveLock", "ledger_events")]
        assert outcome["result"].position == ledger.head()
    finally:
        ledger.close()


def _wait_for_lock_wait(url: str) -> list[tuple]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = fetch(url, """
            SELECT l.mode, c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE NOT l.granted AND c.relname = 'ledger_events'""")
        if rows:
            return rows
        time.sleep(0.02)
    return []
