"""Backlog import on PostgreSQL, end to end, against the raw insert ceiling measured in the same run.

A backlog file (NDJSON) of `--people` people entered late from paper lists: each registered,
registered for vaccination, screened and given a dose at one of `--points` vaccination points,
named by identity document on the later rows, as the lists name them. That is 4 rows and 10
events per person (3 + 2 + 2 + 3: the person, the identity key, the stock card's consumption
and a `CommandReceipt` per row). Each repeat imports a new file through
`Ledger.import_backlog` (parse, validate, every rule, append in transactions of `--batch` rows,
durable: synchronous_commit as the server has it, with the PII cipher on), so the store grows
by the file's events every repeat; the figure is events written per second of wall time.

Then the same file again (every row a duplicate: nothing written), and the ceiling: the stored
rows of the last import, inserted by plain psycopg into a table shaped like the log, `--batch`
rows' events per transaction, with `executemany` in a pipeline and with COPY.

    python -m bench.backlog_import                        # 25,000 people (250,000 events) x 3
    python -m bench.backlog_import --people 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import base64
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import orjson

from .common import Spread, connect, fresh_database, log, ratio, repeat, spread, write_results
from .raw_ceiling import RAW_TABLE_DDL, insert_batches

ADDRESS = {"line": "1 Trang Tien", "province_code": "01", "district_code": "001", "ward_code": "00001"}
VITALS = {"temperature_c": 36.6, "pulse_per_min": 72, "systolic_mmhg": 120, "diastolic_mmhg": 80}
START = datetime(2021, 8, 2, 7, 0, tzinfo=UTC)


def _prov():  # noqa: ANN202
    from ledger.domain import Provenance

    return Provenance(actor="bench", org="BENCH-ORG", source="cli")


def seed(ledger, points: int, stock: int) -> tuple[uuid.UUID, list[uuid.UUID]]:  # noqa: ANN001
    """A warehouse, `points` vaccination points under it and one lot with `stock` doses at each."""
    prov = _prov()
    ledger.register_facility(code="KHO-01", name="Hanoi provincial warehouse", kind="provincial_warehouse",
                             province_code="01", prov=prov)
    point_ids = [uuid.UUID(ledger.register_facility(
        code=f"TYT-{i:03d}", name=f"Vaccination point {i}", kind="vaccination_point", province_code="01",
        district_code="001", ward_code="00001", parent_code="KHO-01", prov=prov).ids["facility_id"])
        for i in range(points)]
    lot_id = uuid.UUID(ledger.register_lot(vaccine="astrazeneca", manufacturer="AstraZeneca", lot_number="ABV5300",
                                           expiry=date(2030, 1, 1), doses_per_vial=10, prov=prov).ids["lot_id"])
    for point in point_ids:
        ledger.receive_stock(lot_id=lot_id, facility_id=point, quantity=stock, supplier_ref="PO-bench", prov=prov)
    return lot_id, point_ids


def backlog(people: int, lot_id: uuid.UUID, point_ids: list[uuid.UUID], tag: str) -> list[bytes]:
    """The NDJSON lines of `people` people's four rows, a person's rows together as a paper list has them."""
    lines = []
    for n in range(people):
        number = f"{tag:0>3}{n:09d}"
        doc = {"id_type": "cccd", "id_number": number}
        point = str(point_ids[n % len(point_ids)])
        at = START + timedelta(seconds=20 * n)
        ref = f"{tag}-{n}"
        lines += [orjson.dumps(row) for row in (
            {"command": "register_person", "ref": f"{ref}-reg", "occurred_at": at.isoformat(), "id_type": "cccd",
             "id_number": number, "full_name": f"Nguyễn Thị {n}", "date_of_birth": "1968-05-01", "sex": "female",
             "phone": "0912345678", "address": ADDRESS},
            {"command": "register_for_vaccination", "ref": f"{ref}-vr", "occurred_at": at.isoformat(),
             "person": doc, "priority_group": "65+"},
            {"command": "screen", "ref": f"{ref}-scr", "occurred_at": (at + timedelta(minutes=5)).isoformat(),
             "person": doc, "facility_id": point, "vitals": VITALS},
            {"command": "administer_dose", "ref": f"{ref}-dose", "occurred_at": (at + timedelta(minutes=9)).isoformat(),
             "person": doc, "lot_id": str(lot_id), "facility_id": point},
        )]
    return lines


def run_import(ledger, lines: list[bytes], batch: int, expect: str) -> tuple[float, int, float]:  # noqa: ANN001
    """(events/s, events written, rows/s) of importing `lines` end to end; every row must be `expect`."""
    from api.backlog import parse_ndjson

    head = ledger.head()
    start = time.perf_counter()
    report = ledger.import_backlog(parse_ndjson(lines), prov=_prov(), batch_size=batch, on_report=lambda r: None)
    seconds = time.perf_counter() - start
    assert getattr(report, expect) == len(lines), (report.accepted, report.duplicate, report.refused)
    events = ledger.head() - head
    return events / seconds, events, len(lines) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=25_000, help="people per file (4 rows, 10 events each)")
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--batch", type=int, default=2000, help="rows per transaction (IMPORT_BATCH)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from ledger.application import Ledger
    from ledger.settings import Settings

    results: dict[str, object] = {}
    with fresh_database("backlog") as url:
        ledger = Ledger(Settings(database_url=url, cipher_key=base64.b64encode(os.urandom(32)).decode()))
        lot_id, point_ids = seed(ledger, args.points, stock=args.people * args.repeats)
        files = [backlog(args.people, lot_id, point_ids, f"{r + 1}") for r in range(args.repeats)]
        log(f"{args.repeats} files of {len(files[0]):,} rows ({args.people:,} people each)")
        runs: list[tuple[float, int, float]] = []
        it = iter(files)

        def once() -> float:
            runs.append(run_import(ledger, next(it), args.batch, "accepted"))
            return runs[-1][0]

        results["import_events_per_s"] = repeat(once, args.repeats, "backlog import, events/s")
        results["import_rows_per_s"] = spread([r[2] for r in runs])
        results["events_per_file"] = runs[-1][1]
        _, _, resend = run_import(ledger, files[-1], args.batch, "duplicate")
        results["resend_rows_per_s"] = resend
        log(f"the last file again (all duplicates): {resend:,.0f} rows/s")
        ledger.close()

        with connect(url) as conn:
            rows = [(r[0], r[1], r[2], bytes(r[3])) for r in conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM ledger_events"
                " ORDER BY notification_id DESC LIMIT %s", (runs[-1][1],)).fetchall()]
            conn.execute(RAW_TABLE_DDL)
            conn.commit()
        per_tx = round(len(rows) / len(files[-1]) * args.batch)
        results["events_per_tx"] = per_tx
        results["raw_executemany_per_s"] = repeat(lambda: insert_batches(url, rows, per_tx, copy=False), args.repeats,
                                                  f"raw executemany {per_tx:,}/tx rows/s")
        results["raw_copy_per_s"] = repeat(lambda: insert_batches(url, rows, per_tx, copy=True), args.repeats,
                                           f"raw COPY {per_tx:,}/tx rows/s")
        results["ratio_executemany"] = ratio(results["import_events_per_s"], results["raw_executemany_per_s"])
        results["ratio_copy"] = ratio(results["import_events_per_s"], results["raw_copy_per_s"])
    for name, value in results.items():
        log(f"{name}: {value.fmt(digits=1) if isinstance(value, Spread) else value}")
    write_results("backlog_import", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
