"""Rebuild throughput of the projections on PostgreSQL, against the raw select + decode ceiling.

1. A fresh database gets >= `--events` real domain events: reference data (facilities,
   lots, supplier receipts) through `Ledger` commands, then people in bulk through the
   domain objects themselves (`Person.register`, `register_for_vaccination`,
   `approve_vaccination`, `screen`, `administer_dose` twice, some observations), the stock
   cards they consume from, and replenishment transfers (dispatch + receipt) per batch.
   Events are written with `ledger.save(*many aggregates)` (`--writer save`, the
   library's path) or mapped by the ledger's own mapper and COPY'd in (`--writer copy`,
   faster, same rows).
2. In the same run, on the same table: the raw ceiling (keyset pages of 1,000 ORDER BY
   notification_id + `orjson.loads`), over all rows and over each projection's topics;
   the library's read path alone (`select_notifications` + `mapper.to_domain_event`).
3. `engine.rebuild(name)` for `vaccination_history` and `stock`, `--repeats` times each.
   events/s = events of the projection's topics / seconds; positions/s = head / seconds.
   Every repeat must give the same digest.
4. Every projection rebuilt together in one pass (`projections.rebuild.Build`), `--repeats`
   times: events/s = events of any projection's topics / seconds, against the raw ceiling
   over all rows; with the switch's duration.
5. Every event exported to Parquet (`ledger.export.export_events`, one file per event type),
   `--repeats` times, against the raw ceiling over all rows; with the files' bytes per event.

    python -m bench.rebuild                         # 1,000,000 events (several minutes)
    python -m bench.rebuild --events 50000 --repeats 2   # smoke run
    python -m bench.rebuild --events 1000000 --profile vaccination_history
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .common import (
    RESULTS,
    Spread,
    Stopwatch,
    connect,
    fresh_database,
    log,
    ratio,
    repeat,
    spread,
    write_results,
)
from .raw_ceiling import select_decode

TARGET_EVENTS_PER_SECOND = 30_000
ICT = timezone(timedelta(hours=7))
LOTS = [("pfizer", "Pfizer-BioNTech", "FF2593", 6), ("moderna", "Moderna", "061E21A", 10),
        ("astrazeneca", "AstraZeneca", "ABW6702", 10), ("vero_cell", "Sinopharm", "202107B2190", 1)]
POINTS = 20
SECOND_DOSE_AFTER = {"pfizer": 21, "moderna": 28, "astrazeneca": 84, "vero_cell": 21}


class Generator:
    """Writes realistic vaccination events in bulk through the domain model."""

    def __init__(self, ledger: Any, url: str, writer: str, seed: int = 7) -> None:
        from ledger.domain import Facility, Provenance, StockCard, VaccineLot

        self.ledger, self.url, self.writer = ledger, url, writer
        self.rng = random.Random(seed)
        self.Provenance = Provenance
        self.now = datetime.now(UTC)
        prov = Provenance(actor="bench", org="KHO-QG", source="import")
        ledger.register_facility(code="KHO-QG", name="National warehouse", kind="national_warehouse",
                                 province_code="01", prov=prov)
        self.points = []
        for i in range(POINTS):
            code = f"TYT-{i:03d}"
            ledger.register_facility(code=code, name=f"Vaccination point {i}", kind="vaccination_point",
                                     province_code="01", district_code=f"{1 + i % 9:03d}", parent_code="KHO-QG",
                                     prov=prov)
            self.points.append(Facility.create_id(code))
        self.national = Facility.create_id("KHO-QG")
        self.lots = []
        for vaccine, manufacturer, number, dpv in LOTS:
            ledger.register_lot(vaccine=vaccine, manufacturer=manufacturer, lot_number=number,
                                expiry=date(2030, 1, 1), doses_per_vial=dpv, prov=prov)
            lot_id = VaccineLot.create_id(manufacturer, number)
            for _ in range(10):
                ledger.receive_stock(lot_id=lot_id, facility_id=self.national, quantity=10_000_000,
                                     supplier_ref=f"bench-{number}", prov=prov)
            self.lots.append((lot_id, vaccine, number.upper()))
        self.national_cards = {lot_id: ledger.repository.get(StockCard.create_id(lot_id, self.national))
                               for lot_id, _, _ in self.lots}
        self.point_cards: dict[tuple, Any] = {}
        self.StockCard = StockCard
        self.batch_no = 0
        self.people = 0
        self.conn = connect(url) if writer == "copy" else None

    def _card(self, lot_id: uuid.UUID, point: uuid.UUID, prov: Any) -> Any:
        key = (lot_id, point)
        card = self.point_cards.get(key)
        if card is None:
            card = self.point_cards[key] = self.StockCard.open(lot_id=lot_id, facility_id=point, prov=prov)
        return card

    def batch(self, people: int) -> int:
        """Write one batch (people with two doses each, and the transfers that supply them); returns events."""
        from ledger.domain import IdentityKey, Person, Transfer

        rng, P = self.rng, self.Provenance
        self.batch_no += 1
        base = datetime(2021, 8, 1, 8, tzinfo=ICT) + timedelta(days=self.batch_no % 60)
        prov = P(actor="bench", org="KHO-QG", source="import", occurred_at=base - timedelta(days=1))
        aggregates: list[Any] = []
        # Supply: one transfer per point per batch, a line per lot, dispatched and received.
        needs: dict[tuple, int] = {}
        plan = []
        for _ in range(people):
            point = rng.choice(self.points)
            lot_id, vaccine, number = self.lots[rng.randrange(len(self.lots))]
            plan.append((point, lot_id, vaccine, number))
            needs[(point, lot_id)] = needs.get((point, lot_id), 0) + 2
        for point in self.points:
            lines = [{"lot_id": str(lot_id), "quantity": q} for (pt, lot_id), q in needs.items() if pt == point]
            if not lines:
                continue
            doc = f"BENCH-{self.batch_no}-{self.points.index(point)}"
            transfer = Transfer.dispatch(document_number=doc, source_id=self.national, destination_id=point,
                                         lines=lines, prov=prov)
            for line in transfer.lines:
                self.national_cards[uuid.UUID(line["lot_id"])].dispatch(
                    quantity=line["quantity"], transfer_id=transfer.id, prov=prov)
            for line in transfer.receive(lines=[], prov=prov):
                self._card(uuid.UUID(line["lot_id"]), point, prov).receive(
                    quantity=line["received"], transfer_id=transfer.id, prov=prov)
            aggregates.append(transfer)
        for point, lot_id, vaccine, number in plan:
            self.people += 1
            n = self.people
            t0 = base + timedelta(minutes=rng.randrange(480))
            p0 = P(actor="bench", org="TYT", source="import", occurred_at=t0 - timedelta(days=7))
            id_number = f"001{n:09d}"
            person = Person.register(
                person_id=uuid.uuid4(), id_type="cccd", id_number=id_number,
                details={"full_name": f"Nguyễn Văn {n}", "date_of_birth": date(1960 + n % 45, 1 + n % 12, 1 + n % 28),
                         "sex": "male" if n % 2 else "female", "phone": None,
                         "address": {"line": None, "province_code": "01", "district_code": "001",
                                     "ward_code": "00001"}},
                prov=p0, now=self.now)
            key = IdentityKey.claim(id_type="cccd", id_number=id_number, person_id=person.id, prov=p0)
            person.register_for_vaccination(priority_group=None, preferred_facility_id=None, prov=p0)
            person.approve_vaccination(province_code="01", district_code="001", district_facility_id=None, prov=p0)
            card = self._card(lot_id, point, prov)
            for when in (t0, t0 + timedelta(days=SECOND_DOSE_AFTER[vaccine] + rng.randrange(7))):
                ps = P(actor="bench", org="TYT", source="import", occurred_at=when)
                vitals = {"temperature_c": 36.6, "pulse_per_min": 70 + rng.randrange(40),
                          "systolic_mmhg": 100 + rng.randrange(50), "diastolic_mmhg": 70}
                sid, outcome = person.screen(facility_id=point, vitals=vitals, answers={}, outcome=None,
                                             observation_minutes=None, prov=ps, now=self.now)
                pd = P(actor="bench", org="TYT", source="import", occurred_at=when + timedelta(minutes=10))
                dose_id = person.administer_dose(vaccine=vaccine, lot_id=lot_id, lot_number=number, facility_id=point,
                                                 screening_id=sid, kind=None, interval_override=None, prov=pd,
                                                 now=self.now)
                card.administer(dose_id=dose_id, person_id=person.id, prov=pd)
                if rng.random() < 0.3:
                    person.complete_observation(dose_id=dose_id, minutes=30, reactions=[], prov=pd)
            aggregates += (person, key)
        aggregates += [c for c in self.national_cards.values() if c.pending_events]
        aggregates += [c for c in self.point_cards.values() if c.pending_events]
        return self._write(aggregates)

    def _write(self, aggregates: list[Any]) -> int:
        if self.writer == "save":
            recordings = self.ledger.save(*aggregates)
            return len(recordings)
        mapper = self.ledger.mapper
        stored = [mapper.to_stored_event(e) for a in aggregates for e in a.collect_events()]
        with self.conn.cursor().copy(
            "COPY ledger_events (originator_id, originator_version, topic, state) FROM STDIN"
        ) as cp:
            for s in stored:
                cp.write_row((s.originator_id, s.originator_version, s.topic, s.state))
        self.conn.commit()
        return len(stored)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def generate(ledger: Any, url: str, events: int, writer: str, batch_people: int) -> dict[str, Any]:
    gen = Generator(ledger, url, writer)
    written = ledger.head()
    with Stopwatch() as sw:
        while written < events:
            written += gen.batch(batch_people)
            if gen.batch_no % 20 == 0:
                log(f"generated {written:,} events ({gen.people:,} people)")
    gen.close()
    with connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ledger_events")
    log(f"generated {written:,} events in {sw.seconds:.1f}s ({written / sw.seconds:,.0f} ev/s, writer={writer})")
    return {"events": written, "people": gen.people, "seconds": sw.seconds, "events_per_second": written / sw.seconds,
            "writer": writer}


def storage(url: str) -> dict[str, float]:
    """Bytes on disk per stored event: the events table (with its TOAST) and its indexes, after VACUUM."""
    with connect(url) as conn:
        count, table, indexes = conn.execute(
            "SELECT count(*), pg_table_size('ledger_events'), pg_indexes_size('ledger_events') FROM ledger_events"
        ).fetchone()
    per = {"events": count, "table_bytes_per_event": table / count, "index_bytes_per_event": indexes / count,
           "total_bytes_per_event": (table + indexes) / count}
    log(f"storage: {count:,} events, {per['total_bytes_per_event']:.0f} bytes each on disk "
        f"({per['table_bytes_per_event']:.0f} table + {per['index_bytes_per_event']:.0f} indexes)")
    return per


def library_read(ledger: Any, topics: tuple[str, ...], head: int, batch: int) -> float:
    """Events/s of the engine's read path alone: select_notifications + mapper.to_domain_event."""
    to_event = ledger.mapper.to_domain_event
    position, n = 0, 0
    start = time.perf_counter()
    while position < head:
        notes = ledger.recorder.select_notifications(start=position, limit=batch, stop=head, topics=topics,
                                                     inclusive_of_start=False)
        for note in notes:
            to_event(note)
        n += len(notes)
        position = notes[-1].id if len(notes) == batch else head
    return n / (time.perf_counter() - start)


ONE_PASS_TARGET = 60_000


def one_pass(url: str, engine: Any, head: int, raw_all: Spread, repeats: int) -> dict[str, Any]:
    """Every projection rebuilt blue/green in one pass, `repeats` times; same digests each time."""
    from projections.rebuild import Build

    names = sorted(engine.projections)
    topics = sorted({t for p in engine.projections.values() for t in p.topics})
    with connect(url) as conn:
        count = conn.execute("SELECT count(*) FROM ledger_events WHERE topic = ANY(%s)", (topics,)).fetchone()[0]
    seconds, switches, digests = [], [], []
    for i in range(repeats):
        build = Build(engine, names)
        with Stopwatch() as sw:
            digests.append(build.rebuild())
        seconds.append(sw.seconds)
        switches.append(build.switch_seconds)
        log(f"rebuild all in one pass [{i + 1}/{repeats}]: {sw.seconds:.1f}s, {count / sw.seconds:,.0f} ev/s, "
            f"switch {build.switch_seconds * 1000:.0f} ms, cpu {sw.cpu_seconds:.1f}s")
    if any(d != digests[0] for d in digests):
        raise SystemExit(f"one-pass rebuilds gave different digests: {digests}")
    rate = spread([count / s for s in seconds])
    log(f"all projections, one pass: {rate.fmt(' ev/s')} = {ratio(rate, raw_all):.0%} of raw select+decode "
        f"{raw_all.fmt(' rows/s')}; target {ONE_PASS_TARGET:,}: {'met' if rate.median >= ONE_PASS_TARGET else 'MISSED'}")
    return {
        "projections": names,
        "topic_events": count,
        "seconds": spread(seconds),
        "events_per_second": rate,
        "switch_seconds": spread(switches),
        "ratio_to_raw_select_decode_all": ratio(rate, raw_all),
        "target_events_per_second": ONE_PASS_TARGET,
        "target_met": rate.median >= ONE_PASS_TARGET,
        "digests": digests[0],
    }


def export(ledger: Any, raw_all: Spread, repeats: int) -> dict[str, Any]:
    """`ledger export --no-projections`: every event decoded into Parquet files (one per type), events/s
    against raw select + decode of all rows, and the files' bytes per event."""
    from ledger.export import export_events

    rates, size = [], 0.0
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as directory, Stopwatch() as sw:
            events = export_events(ledger, Path(directory))["events"]
            size = sum(p.stat().st_size for p in Path(directory).rglob("*.parquet")) / events
        rates.append(events / sw.seconds)
        log(f"export events [{i + 1}/{repeats}]: {sw.seconds:.1f}s, {rates[-1]:,.0f} ev/s, cpu {sw.cpu_seconds:.1f}s,"
            f" {size:.0f} bytes/event in Parquet")
    rate = spread(rates)
    log(f"export: {rate.fmt(' ev/s')} = {ratio(rate, raw_all):.0%} of raw select+decode {raw_all.fmt(' rows/s')}")
    return {"events_per_second": rate, "ratio_to_raw_select_decode": ratio(rate, raw_all), "bytes_per_event": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to generate (at least)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writer", choices=("save", "copy"), default="copy")
    parser.add_argument("--batch-people", type=int, default=2000, help="people per generated batch")
    parser.add_argument("--profile", choices=("vaccination_history", "stock"), default=None,
                        help="also run one rebuild of this projection under cProfile")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    from ledger.application import Ledger
    from ledger.settings import Settings
    from projections.db import PostgresProjectionDB
    from projections.engine import ProjectionEngine
    from projections.rebuild import REBUILD_BATCH
    from projections.runtime import all_projections

    with fresh_database("rebuild", keep=args.keep) as url:
        settings = Settings(database_url=url)
        ledger = Ledger(settings)
        generated = generate(ledger, url, args.events, args.writer, args.batch_people)
        head = ledger.head()
        db = PostgresProjectionDB(settings)
        engine = ProjectionEngine(ledger, db, all_projections(), settings.projection_batch_size)
        results: dict[str, Any] = {"generated": generated, "head": head, "rebuild_batch": REBUILD_BATCH,
                                   "storage": storage(url)}
        raw_all = repeat(lambda: select_decode(url)[0], args.repeats, "raw select+decode, all rows, rows/s")
        results["raw_select_decode_all"] = raw_all
        for name in ("vaccination_history", "stock"):
            projection = engine.projection(name)
            topics = projection.topics
            with connect(url) as conn:
                count = conn.execute("SELECT count(*) FROM ledger_events WHERE topic = ANY(%s)",
                                     (list(topics),)).fetchone()[0]
            raw = repeat(lambda t=topics: select_decode(url, topics=t)[0], args.repeats,
                         f"raw select+decode, {name} topics, rows/s")
            lib = repeat(lambda t=topics: library_read(ledger, t, head, REBUILD_BATCH), args.repeats,
                         f"library select_notifications+to_domain_event, {name} topics, ev/s")
            seconds, digests = [], []
            for i in range(args.repeats):
                with Stopwatch() as sw:
                    digests.append(engine.rebuild(name))
                seconds.append(sw.seconds)
                log(f"rebuild {name} [{i + 1}/{args.repeats}]: {sw.seconds:.1f}s, {count / sw.seconds:,.0f} ev/s, "
                    f"{head / sw.seconds:,.0f} positions/s, cpu {sw.cpu_seconds:.1f}s")
            if len(set(digests)) != 1:
                raise SystemExit(f"{name}: rebuilds gave different digests: {digests}")
            rate = spread([count / s for s in seconds])
            results[name] = {
                "topic_events": count,
                "seconds": spread(seconds),
                "events_per_second": rate,
                "positions_per_second": spread([head / s for s in seconds]),
                "raw_select_decode_topics": raw,
                "library_read_decode": lib,
                "ratio_to_raw_select_decode": ratio(rate, raw),
                "library_read_ratio_to_raw": ratio(lib, raw),
                "target_events_per_second": TARGET_EVENTS_PER_SECOND,
                "target_met": rate.median >= TARGET_EVENTS_PER_SECOND,
                "digest": digests[0],
            }
            log(f"{name}: {rate.fmt(' ev/s')} = {ratio(rate, raw):.0%} of raw select+decode "
                f"{raw.fmt(' rows/s')}; target {TARGET_EVENTS_PER_SECOND:,}: "
                f"{'met' if rate.median >= TARGET_EVENTS_PER_SECOND else 'MISSED'}")
        results["all_one_pass"] = one_pass(url, engine, head, raw_all, args.repeats)
        results["export_events"] = export(ledger, raw_all, args.repeats)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            engine.rebuild(args.profile)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            RESULTS.mkdir(parents=True, exist_ok=True)
            path = RESULTS / f"profile-rebuild-{args.profile}.txt"
            path.write_text(out.getvalue())
            log(f"profile written to {path}")
            results["profile"] = str(path)
        db.close()
        ledger.close()
    write_results("rebuild", {"params": vars(args), "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = ["Spread", "generate"]
