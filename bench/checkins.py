"""Check-ins on PostgreSQL: bulk ingestion end to end, the projection keeping up, and exposure candidates
over 10 M check-ins, each against a raw ceiling measured in the same run.

(a) Bulk ingestion: NDJSON lines (one check-in each, with the sender's reference) parsed, validated
    (venue registered, person registered, shape and clock skew, duplicates) and appended through
    `Ledger.import_checkins` in transactions of 5,000 (durable: synchronous_commit as the server
    has it), with the cipher on. Ceiling: the same stored bytes inserted by plain psycopg into a
    table shaped like the log, 5,000 rows per transaction (`executemany` in a pipeline and COPY).
(b) The `checkins` projection catching up on those events (rows/s), for "keeps up with ingestion", with
    `--projection-batch` events per projection transaction.
(c) Exposure candidates of one case over `--rows` check-ins (default 10 M). The rows are loaded
    straight into the projection's `checkins` table with COPY (building them through the log would
    take hours on a 2-core machine), the indexes built after the load, ANALYZE run; the case is a
    row in `cases` whose person has `--case-checkins` check-ins at busy venues. Ceiling: the same
    range scans issued by plain psycopg (prepared), without our Python.

    python -m bench.checkins                         # (a)-(c) with the defaults
    python -m bench.checkins --rows 1000000 --checkins 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson

from .common import Spread, connect, fresh_database, log, repeat, spread, write_results
from .raw_ceiling import RAW_TABLE_DDL, insert_batches

BATCH = 5000


def _ledger(url: str):  # noqa: ANN202
    from ledger.application import Ledger
    from ledger.settings import Settings

    settings = Settings(database_url=url, cipher_key=base64.b64encode(os.urandom(32)).decode())
    return settings, Ledger(settings)


def _prov(source: str = "import", client_ref: str | None = None):  # noqa: ANN202
    from ledger.domain import Provenance

    return Provenance(actor="bench", org="BENCH-ORG", source=source, client_ref=client_ref)


def seed(ledger, venues: int, people: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:  # noqa: ANN001
    venue_ids = [uuid.UUID(ledger.register_facility(code=f"V{i:05d}", name=f"Venue {i}", kind="venue",
                                                    province_code="01", prov=_prov("cli")).ids["facility_id"])
                 for i in range(venues)]
    person_ids = []
    for i in range(people):
        person_ids.append(uuid.UUID(ledger.register_person(
            id_type="cccd", id_number=f"{i:012d}", prov=_prov("cli"),
            details={"full_name": f"Bench Person {i}", "date_of_birth": date(1980, 1, 1), "sex": "female",
                     "address": {"line": "1 Trang Tien", "province_code": "01"}}).ids["person_id"]))
    return venue_ids, person_ids


def ndjson(n: int, venue_ids: list, person_ids: list, tag: str) -> list[bytes]:
    start = datetime(2021, 8, 1, tzinfo=UTC)
    rnd = random.Random(tag)
    return [orjson.dumps({
        "client_ref": f"{tag}-{i}", "venue_id": str(rnd.choice(venue_ids)), "person_id": str(rnd.choice(person_ids)),
        "checked_in_at": (start + timedelta(seconds=rnd.randrange(30 * 86400))).isoformat(),
        "mode": "citizen_scan"}) for i in range(n)]


def ingest(ledger, lines: list[bytes]) -> float:  # noqa: ANN001
    """Check-ins/s of parsing, validating and appending `lines` (end to end, durable)."""
    from ledger.domain import Invalid

    def rows():  # noqa: ANN202
        for i, line in enumerate(lines, 1):
            try:
                yield i, orjson.loads(line)
            except orjson.JSONDecodeError:
                yield i, Invalid("line", "not JSON")

    start = time.perf_counter()
    report = ledger.import_checkins(rows(), prov=_prov(), batch_size=BATCH, on_report=lambda r: None)
    seconds = time.perf_counter() - start
    assert report.accepted == len(lines), (report.accepted, report.duplicate, report.refused)
    return len(lines) / seconds


def load_checkins(url: str, rows: int, venues: int, case_person: str, case_checkins: int) -> tuple[str, float]:
    """COPY `rows` check-ins over 7 days into `checkins` (indexes built after), and one case; returns the case id
    and the load's seconds."""
    rnd = random.Random(7)
    start_day = datetime(2021, 8, 1, tzinfo=UTC)
    span = 7 * 86400
    venue_ids = [str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(venues)]
    started = time.perf_counter()
    with connect(url) as conn:
        conn.execute("DROP INDEX checkins_venue_time_idx")
        conn.execute("DROP INDEX checkins_person_time_idx")
        conn.execute("ALTER TABLE checkins DROP CONSTRAINT checkins_pkey")
        with conn.cursor().copy("COPY checkins (checkin_id, venue_id, person_id, checked_in_at, mode, org, source)"
                                " FROM STDIN") as cp:
            for i in range(rows):
                at = start_day + timedelta(seconds=rnd.randrange(span))
                cp.write_row((str(uuid.UUID(int=rnd.getrandbits(128))), venue_ids[rnd.randrange(venues)],
                              str(uuid.UUID(int=rnd.getrandbits(128))), at.isoformat(), "citizen_scan", "BENCH",
                              "import"))
                if i and i % 1_000_000 == 0:
                    log(f"  copied {i:,} rows")
            for i in range(case_checkins):
                at = start_day + timedelta(days=3, hours=i * 5)
                cp.write_row((str(uuid.uuid4()), venue_ids[i], case_person, at.isoformat(), "citizen_scan", "BENCH",
                              "import"))
        conn.commit()
        log("  building indexes")
        conn.execute("ALTER TABLE checkins ADD PRIMARY KEY (checkin_id)")
        conn.execute("CREATE INDEX checkins_venue_time_idx ON checkins (venue_id, checked_in_at)")
        conn.execute("CREATE INDEX checkins_person_time_idx ON checkins (person_id, checked_in_at)")
        case_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO cases (case_id, person_id, rule, policy_id, confirmed_at, confirmed_on, iso_week, community,"
            " province_code, infectious_from, status, evidence) VALUES (%s, %s, 'rt_pcr_positive', 'bench', %s,"
            " %s, '2021-W32', true, '01', %s, 'active', '[]')",
            (case_id, case_person, (start_day + timedelta(days=6)).isoformat(), date(2021, 8, 7),
             (start_day + timedelta(days=2)).isoformat()))
        conn.commit()
        conn.execute("ANALYZE checkins")
        conn.commit()
    return case_id, time.perf_counter() - started


def raw_exposure(url: str, case_person: str, window: timedelta) -> float:
    """Milliseconds of the same range scans by plain psycopg: the case's check-ins, then each venue window."""
    with connect(url) as conn:
        cur = conn.cursor()
        start = time.perf_counter()
        cur.execute("SELECT venue_id, checked_in_at FROM checkins WHERE person_id = %s AND checked_in_at >= %s"
                    " AND checked_in_at <= %s", (case_person, "2021-08-03", "2021-08-07T23"), prepare=True)
        for venue_id, at in cur.fetchall():
            t = datetime.fromisoformat(at)
            cur.execute("SELECT checkin_id, person_id, checked_in_at FROM checkins WHERE venue_id = %s"
                        " AND checked_in_at >= %s AND checked_in_at <= %s AND person_id <> %s",
                        (venue_id, (t - window).isoformat(), (t + window).isoformat(), case_person), prepare=True)
            cur.fetchall()
        ms = (time.perf_counter() - start) * 1000
        conn.rollback()
    return ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkins", type=int, default=100_000, help="check-ins per ingestion repeat")
    parser.add_argument("--venues", type=int, default=200)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000_000, help="check-ins for the exposure query (0: skip)")
    parser.add_argument("--exposure-venues", type=int, default=5000)
    parser.add_argument("--case-checkins", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--projection-batch", type=int, default=5000,
                        help="events per projection transaction (LEDGER_PROJECTION_BATCH_SIZE; the default is 1000)")
    args = parser.parse_args(argv)
    results: dict[str, object] = {}
    from projections.checkins import EXPOSURE_WINDOW, CheckInQueries
    from projections.db import open_projection_db
    from projections.engine import ProjectionEngine
    from projections.runtime import all_projections

    with fresh_database("checkins") as url:
        settings, ledger = _ledger(url)
        log(f"seeding {args.venues} venues and {args.people} people")
        venue_ids, person_ids = seed(ledger, args.venues, args.people)
        files = [ndjson(args.checkins, venue_ids, person_ids, f"r{r}") for r in range(args.repeats)]
        it = iter(files)
        results["ingest_per_s"] = repeat(lambda: ingest(ledger, next(it)), args.repeats, "bulk check-ins/s")
        # A re-send of the last file: every row a duplicate, nothing written.
        with_dupes = files[-1][: BATCH * 4]
        start = time.perf_counter()
        report = ledger.import_checkins(((i, orjson.loads(x)) for i, x in enumerate(with_dupes, 1)), prov=_prov(),
                                        on_report=lambda r: None)
        results["resend_per_s"] = len(with_dupes) / (time.perf_counter() - start)
        assert report.duplicate == len(with_dupes)
        with connect(url) as conn:
            states = [bytes(r[0]) for r in conn.execute(
                "SELECT state FROM ledger_events WHERE topic = 'ledger.checkin.CheckedIn' LIMIT %s",
                (args.checkins,)).fetchall()]
            conn.execute(RAW_TABLE_DDL)
            conn.commit()
        results["state_bytes"] = sum(map(len, states)) / len(states)
        rows = [(uuid.uuid4(), 1, "ledger.checkin.CheckedIn", s) for s in states]
        results["raw_executemany_per_s"] = repeat(lambda: insert_batches(url, rows, BATCH, copy=False), args.repeats,
                                                  "raw executemany 5,000/tx rows/s")
        results["raw_copy_per_s"] = repeat(lambda: insert_batches(url, rows, BATCH, copy=True), args.repeats,
                                           "raw COPY 5,000/tx rows/s")
        db = open_projection_db(settings)
        engine = ProjectionEngine(ledger, db, [p for p in all_projections() if p.name == "checkins"],
                                  args.projection_batch)
        start = time.perf_counter()
        engine.catch_up()
        total = args.checkins * args.repeats
        results["projection_catch_up_per_s"] = total / (time.perf_counter() - start)
        log(f"projection checkins caught up on {total:,} check-ins: {results['projection_catch_up_per_s']:,.0f}/s")
        ledger.close()

        if args.rows:
            log(f"loading {args.rows:,} check-ins into the projection table with COPY")
            case_person = str(uuid.uuid4())
            case_id, seconds = load_checkins(url, args.rows, args.exposure_venues, case_person, args.case_checkins)
            results["load_seconds"] = seconds
            queries = CheckInQueries(db)
            answer = queries.exposure_candidates(uuid.UUID(case_id))
            results["candidates"] = len(answer["candidates"])
            results["case_checkins"] = answer["case_checkins"]

            def ours() -> float:
                start = time.perf_counter()
                queries.exposure_candidates(uuid.UUID(case_id))
                return (time.perf_counter() - start) * 1000

            runs = max(5, args.repeats * 3)
            results["exposure_ms"] = repeat(ours, runs, "exposure candidates, ms")
            results["raw_exposure_ms"] = repeat(lambda: raw_exposure(url, case_person, EXPOSURE_WINDOW), runs,
                                                "raw range scans, ms")
        db.close()
    for name, value in results.items():
        log(f"{name}: {value.fmt(digits=1) if isinstance(value, Spread) else value}")
    write_results("checkins", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Spread", "spread"]
