"""The projections' read of the log on PostgreSQL (`LedgerPostgresRecorder.select_rows`): read a
window of positions at a time, it returns exactly the events one unbounded query would, in log
order, whatever the window, the limit or how sparse the topics are."""

from __future__ import annotations

import pytest
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row

from ledger import recorders
from ledger.domain import Person

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(pg_settings):
    return pg_settings


def test_windowed_reads_return_what_one_query_would(store, world, prov, monkeypatch):
    ledger = world.ledger
    for n in range(12):
        person = world.register_person()
        if n % 4 == 0:
            ledger.verify_identity(person_id=person, result="match", prov=prov())
        ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=n + 1, prov=prov())
    head = ledger.head()
    rare = [get_topic(Person.IdentityVerified)]
    common = [get_topic(Person.Registered), get_topic(Person.IdentityVerified)]
    with ledger.recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
        everything = cur.execute("SELECT notification_id, originator_id::text, originator_version, topic, state"
                                  " FROM ledger_events ORDER BY notification_id").fetchall()
    assert any(row[3] in rare for row in everything)
    for window in (1, 2, recorders.READ_WINDOW):
        monkeypatch.setattr(recorders, "READ_WINDOW", window)
        for topics in (rare, common):
            for limit in (1, 2, 5, 1000):
                for after in (0, 7, head - 3):
                    expected = [r for r in everything if after < r[0] <= head and r[3] in topics][:limit]
                    assert ledger.recorder.select_rows(after, head, topics, limit) == expected, (window, topics, limit)
