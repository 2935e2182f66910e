"""Raw ceilings on this machine, in this run: what plain psycopg does with a table shaped like ours.

(a) Appends: one `INSERT ... RETURNING notification_id` per transaction (autocommit) into a
    table shaped like `ledger_events` (same columns, primary key and indexes), from one
    client and from 16 concurrent clients (threads, one connection each).
(b) Catch-up reads: keyset pages of 1,000 rows `ORDER BY notification_id` with
    `orjson.loads` of each state: the "raw select + decode" ceiling of a rebuild. Run over
    the events table of the rebuild benchmark (same rows, same run), for all rows and for
    a projection's topics only.

    python -m bench.raw_ceiling                      # (a), and (b) over 200,000 generated rows
    python -m bench.raw_ceiling --inserts 4000 --repeats 5
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import orjson

from .common import Spread, connect, fresh_database, log, repeat, spread, write_results

RAW_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS raw_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial,
    PRIMARY KEY (originator_id, originator_version)
);
CREATE UNIQUE INDEX IF NOT EXISTS raw_events_notification_id_idx ON raw_events (notification_id ASC);
CREATE INDEX IF NOT EXISTS raw_events_topic_notification_id_idx ON raw_events (topic, notification_id);
"""
RAW_INSERT = ("INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)"
              " RETURNING notification_id")
DOSE_TOPIC = "ledger.person.DoseAdministered"


def sample_state() -> bytes:
    """The stored bytes of a real `Person.DoseAdministered` event, as our mapper writes them."""
    from ledger.domain import Provenance
    from ledger.domain.person import Person
    from ledger.mapper import PlainJSONMapper

    now = datetime(2021, 9, 1, 9, 30, tzinfo=timezone(timedelta(hours=7)))
    prov = Provenance(actor="tyt-kimma.staff", org="TYT-KIMMA", source="app", client_ref="c-123456",
                      occurred_at=now)
    person = Person.register(
        person_id=uuid.uuid4(), id_type="cccd", id_number="001085012345",
        details={"full_name": "Nguyễn Văn An", "date_of_birth": datetime(1985, 3, 2).date(), "sex": "male",
                 "phone": "0912345678", "address": {"line": "Số 12 ngõ 34 Kim Mã", "province_code": "01",
                                                    "district_code": "001", "ward_code": "00028"}},
        prov=prov, now=now)
    person.screen(facility_id=uuid.uuid4(), vitals={"temperature_c": 36.6, "pulse_per_min": 80},
                  answers={"acute_illness": False}, outcome=None, observation_minutes=None, prov=prov,
                  now=now + timedelta(minutes=1))
    person.administer_dose(vaccine="pfizer", lot_id=uuid.uuid4(), lot_number="FF2593", facility_id=uuid.uuid4(),
                           screening_id=None, kind=None, interval_override=None,
                           prov=Provenance(actor="a", org="TYT-KIMMA", source="app", client_ref="c-123457",
                                           occurred_at=now + timedelta(minutes=5)), now=now + timedelta(minutes=10))
    event = person.collect_events()[-1]
    return PlainJSONMapper().to_stored_event(event).state


def create_raw_table(url: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE_DDL)


def raw_inserts(url: str, clients: int, per_client: int, state: bytes) -> float:
    """Events/s of single-row autocommit INSERT ... RETURNING from `clients` threads."""
    conns = [connect(url, autocommit=True) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def work(conn) -> None:  # noqa: ANN001
        try:
            cur = conn.cursor()
            barrier.wait()
            for _ in range(per_client):
                cur.execute(RAW_INSERT, (uuid.uuid4(), DOSE_TOPIC, state), prepare=True)
                cur.fetchone()
        except BaseException as e:  # reported after the join
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return clients * per_client / seconds


def select_decode(url: str, table: str = "ledger_events", topics: Sequence[str] | None = None,
                  page: int = 1000) -> tuple[float, int]:
    """(rows/s, rows) of keyset pages ORDER BY notification_id, `orjson.loads` of every state."""
    if topics:
        sql = (f"SELECT notification_id, originator_id, originator_version, topic, state FROM {table}"
               " WHERE notification_id > %s AND topic = ANY(%s) ORDER BY notification_id LIMIT %s")
    else:
        sql = (f"SELECT notification_id, originator_id, originator_version, topic, state FROM {table}"
               " WHERE notification_id > %s ORDER BY notification_id LIMIT %s")
    loads = orjson.loads
    rows_read = 0
    with connect(url) as conn:
        cur = conn.cursor()
        after = 0
        start = time.perf_counter()
        while True:
            cur.execute(sql, (after, list(topics), page) if topics else (after, page), prepare=True)
            rows = cur.fetchall()
            if not rows:
                break
            for row in rows:
                loads(row[4])
            rows_read += len(rows)
            after = rows[-1][0]
        seconds = time.perf_counter() - start
        conn.rollback()
    return rows_read / seconds, rows_read


def fill_raw_table(url: str, rows: int, state: bytes) -> None:
    """`rows` rows via COPY (for a standalone read ceiling)."""
    with connect(url) as conn:
        with conn.cursor().copy("COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN") as cp:
            for _ in range(rows):
                cp.write_row((uuid.uuid4(), 1, DOSE_TOPIC, state))
        conn.commit()
        conn.execute("ANALYZE raw_events")
        conn.commit()


def insert_ceilings(url: str, inserts: int, repeats: int, clients: int = 16) -> dict[str, Spread]:
    state = sample_state()
    create_raw_table(url)
    single = repeat(lambda: raw_inserts(url, 1, inserts, state), repeats, "raw INSERT, 1 client, ev/s")
    many = repeat(lambda: raw_inserts(url, clients, max(inserts // clients, 50), state), repeats,
                  f"raw INSERT, {clients} clients, ev/s")
    return {"insert_1_client": single, f"insert_{clients}_clients": many}


def insert_batches(url: str, rows: list[tuple[uuid.UUID, int, str, bytes]], per_tx: int, copy: bool) -> float:
    """Rows/s of plain psycopg inserting `rows` (originator id, version, topic, state) into an emptied
    `raw_events`, `per_tx` rows per transaction, by `executemany` in a pipeline or by COPY."""
    with connect(url) as conn:
        conn.execute("TRUNCATE raw_events")
        conn.commit()
        cur = conn.cursor()
        start = time.perf_counter()
        for i in range(0, len(rows), per_tx):
            part = rows[i:i + per_tx]
            if copy:
                with cur.copy("COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN") as cp:
                    for row in part:
                        cp.write_row(row)
            else:
                cur.executemany("INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                                " VALUES (%s, %s, %s, %s)", part)
            conn.commit()
        return len(rows) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inserts", type=int, default=3000, help="inserts per repeat (split over the clients)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the standalone read ceiling")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with fresh_database("raw") as url:
        results: dict[str, object] = dict(insert_ceilings(url, args.inserts, args.repeats))
        state = sample_state()
        fill_raw_table(url, args.rows, state)
        results["select_decode"] = repeat(lambda: select_decode(url, "raw_events")[0], args.repeats,
                                          "raw keyset select + orjson.loads, rows/s")
        results["state_bytes"] = len(state)
    for name, value in results.items():
        log(f"{name}: {value.fmt(' /s') if isinstance(value, Spread) else value}")
    write_results("raw_ceiling", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["insert_batches", "insert_ceilings", "sample_state", "select_decode", "spread"]
