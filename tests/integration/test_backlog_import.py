"""Backlog imports on a real store (SQLite and PostgreSQL): each row refused for the reason its single
command would be, good rows written as that command writes them (receipt included), a refused row
undone in its batch without disturbing the rows around it, re-imports adding nothing, an import
killed part way finished by running it again, and a batch racing single commands on its stock card."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import orjson
import pytest

from api.backlog import parse_csv, parse_ndjson
from ledger.application import Ledger
from ledger.domain import CommandReceipt, Provenance

T0 = datetime(2021, 8, 2, 8, 0, tzinfo=UTC)


ADDRESS = {"line": "1 Trang Tien", "province_code": "01", "district_code": "001", "ward_code": "00001"}
NORMAL_VITALS = {"temperature_c": 36.6, "pulse_per_min": 72, "systolic_mmhg": 120, "diastolic_mmhg": 80}


def make_prov(client_ref: str | None = None, *, occurred_at: datetime | None = None) -> Provenance:
    return Provenance(actor="tester", org="moh-test", source="app", client_ref=client_ref, occurred_at=occurred_at)


def cccd(tag: str, n: int) -> str:
    return f"{tag}{n:08d}"[-12:].rjust(12, "0")


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def person_rows(world, n: int, *, ref: str, tag: str = "5") -> list[dict]:
    """Register, screen and dose person `n` (named by document on the later rows)."""
    number = cccd(world.tag + tag, n)
    doc = {"id_type": "cccd", "id_number": number}
    return [
        {"command": "register_person", "ref": f"{ref}-reg", "id_type": "cccd", "id_number": number,
         "full_name": f"Nguyễn Văn {n}", "date_of_birth": "1975-03-01", "sex": "male", "address": ADDRESS,
         "occurred_at": _at(n)},
        {"command": "screen", "ref": f"{ref}-scr", "person": doc, "facility_id": str(world.point_id),
         "vitals": NORMAL_VITALS, "occurred_at": _at(n + 1)},
        {"command": "administer_dose", "ref": f"{ref}-dose", "person": doc, "lot_id": str(world.lot_id),
         "facility_id": str(world.point_id), "occurred_at": _at(n + 2)},
    ]


def lines_of(rows: list[dict]) -> list[bytes]:
    return [orjson.dumps(r) for r in rows]


def on_hand(ledger: Ledger, world) -> int:
    return ledger.stock_card(world.lot_id, world.point_id).on_hand


def topics_since(ledger: Ledger, after: int) -> Counter:
    return Counter(n.topic for n in ledger.recorder.select_notifications(after + 1, 100_000))


def test_each_row_is_checked_and_recorded_as_its_single_command(world, runtime):
    ledger = world.ledger
    start, stock = ledger.head(), on_hand(ledger, world)
    rows = person_rows(world, 1, ref="A") + person_rows(world, 2, ref="B")
    early = {**rows[5], "ref": "B-dose2", "occurred_at": _at(4)}  # B's second dose, with no screening of its own
    rows += [
        early,
        {**rows[5], "ref": "B-dose"},                          # 7: same ref, same content: a duplicate
        {**rows[5], "ref": "B-dose", "kind": "booster"},        # 8: same ref, other content
        {"command": "vaccinate", "ref": "x1"},                   # 9: unknown command
        {"command": "screen", "person": rows[1]["person"], "facility_id": str(world.point_id)},  # 10: no ref
        {**rows[1], "ref": "x3", "facility_id": "not-a-uuid"},  # 11
        {**rows[2], "ref": "x4", "person": {"id_type": "cccd", "id_number": cccd(world.tag + "9", 9)}},  # 12
        {**rows[2], "ref": "x5", "lot_id": str(UUID(int=5))},   # 13: unknown lot
    ]
    lines = lines_of(rows) + [b"{not json", b""]
    report = ledger.import_backlog(parse_ndjson(lines), prov=make_prov(), batch_size=4)
    got = [(r.line, r.status, r.field or r.rule) for r in report.rows]
    assert got == [
        (1, "accepted", None), (2, "accepted", None), (3, "accepted", None),
        (4, "accepted", None), (5, "accepted", None), (6, "accepted", None),
        (7, "refused", "screening_required"), (8, "duplicate", None), (9, "refused", "client_ref_reused"),
        (10, "refused", "command"), (11, "refused", "ref"), (12, "refused", "facility_id"),
        (13, "refused", "person"), (14, "refused", "lot_id"), (15, "refused", "line"),
    ]
    assert (report.accepted, report.duplicate, report.refused) == (6, 1, 8)
    # A malformed row is reported under its ref (and command), when those are valid, to be matched to it.
    assert (report.rows[9].ref, report.rows[9].command) == ("x1", None)
    assert (report.rows[11].ref, report.rows[11].command) == ("x3", "screen")
    assert report.rows[7].ids == report.rows[5].ids
    # What was written is what six single commands with client_refs write, and nothing else.
    assert topics_since(ledger, start) == Counter({
        "ledger.person.Registered": 2, "ledger.identity.Claimed": 2, "ledger.person.Screened": 2,
        "ledger.person.DoseAdministered": 2, "ledger.stock.Administered": 2, "ledger.receipt.Issued": 6,
    })
    assert on_hand(ledger, world) == stock - 2
    person = ledger.person(UUID(report.rows[0].ids["person_id"]))
    dose = person.dose(UUID(report.rows[2].ids["dose_id"]))
    assert datetime.fromisoformat(str(dose["administered_at"])) == T0 + timedelta(minutes=3)
    events = ledger.repository.get(person.id).version
    assert events == 3
    receipt = ledger.repository.get(CommandReceipt.create_id("moh-test", "A-dose"))
    assert receipt.result == report.rows[2].ids
    runtime.engine.catch_up()
    history = runtime.vaccination_history.history(person.id)
    assert [d["dose_number"] for d in history["doses"]] == [1]

    # The same file again adds nothing: every row recorded before is a duplicate with its first ids.
    head = ledger.head()
    again = ledger.import_backlog(parse_ndjson(lines), prov=make_prov(), batch_size=100)
    assert ledger.head() == head
    assert [r.status for r in again.rows[:6]] == ["duplicate"] * 6
    assert [r.ids for r in again.rows[:6]] == [r.ids for r in report.rows[:6]]
    # ... and a single command under a row's ref answers the row's result.
    single = ledger.administer_dose(person_id=person.id, lot_id=world.lot_id, facility_id=world.point_id,
                                    prov=make_prov("A-dose", occurred_at=T0 + timedelta(minutes=3)))
    assert single.replayed and single.ids == report.rows[2].ids
    # A row re-sent with its date corrected is not a repeat: it is refused, not taken for a duplicate and lost.
    moved = orjson.loads(lines[2]) | {"occurred_at": _at(40)}
    corrected = ledger.import_backlog(parse_ndjson([orjson.dumps(moved)]), prov=make_prov())
    assert [(r.status, r.rule) for r in corrected.rows] == [("refused", "client_ref_reused")]
    assert ledger.head() == head


def test_a_refused_row_is_undone_without_disturbing_its_batch(world):
    """A dose from a lot with no stock left fails at the stock card, after the person has recorded it:
    the person goes back to what the batch's earlier rows left, whether it was registered in the
    batch or before, and its next row runs as if the refused one had never been there."""
    ledger = world.ledger
    scarce = world.register_lot("SCARCE1")
    ledger.receive_stock(lot_id=scarce, facility_id=world.point_id, quantity=1, prov=make_prov())
    earlier = world.register_person()
    stock = on_hand(ledger, world)
    a, b = person_rows(world, 1, ref="A"), person_rows(world, 2, ref="B")
    rows = [
        a[0], a[1], {**a[2], "lot_id": str(scarce)},           # takes the last dose of the scarce lot
        b[0], b[1], {**b[2], "ref": "B-scarce", "lot_id": str(scarce)},  # refused at the card
        b[2],                                                   # B's dose from the main lot: dose 1
        {"command": "screen", "ref": "E-scr", "person_id": str(earlier), "facility_id": str(world.point_id),
         "vitals": NORMAL_VITALS, "occurred_at": _at(20)},
        {"command": "administer_dose", "ref": "E-scarce", "person_id": str(earlier), "lot_id": str(scarce),
         "facility_id": str(world.point_id), "occurred_at": _at(21)},  # refused at the card
        {"command": "administer_dose", "ref": "E-dose", "person_id": str(earlier), "lot_id": str(world.lot_id),
         "facility_id": str(world.point_id), "occurred_at": _at(22)},
    ]
    report = ledger.import_backlog(parse_ndjson(lines_of(rows)), prov=make_prov(), batch_size=100)
    assert [(r.status, r.rule) for r in report.rows] == [("accepted", None)] * 5 + [
        ("refused", "stock_never_negative"), ("accepted", None), ("accepted", None),
        ("refused", "stock_never_negative"), ("accepted", None)]
    assert on_hand(ledger, world) == stock - 2
    assert ledger.stock_card(scarce, world.point_id).on_hand == 0
    for person_id in (UUID(report.rows[3].ids["person_id"]), earlier):
        doses = list(ledger.person(person_id).doses.values())
        assert [d["lot_id"] for d in doses] == [str(world.lot_id)]


def test_csv_rows_read_as_json_reads_strings(world):
    ledger = world.ledger
    number = cccd(world.tag + "7", 1)
    lines = [
        "command,ref,id_type,id_number,full_name,date_of_birth,sex,address.province_code,person.id_type,"
        "person.id_number,facility_id,vitals.temperature_c,vitals.pulse_per_min,observation_minutes,lot_id,occurred_at",
        f"register_person,C1,cccd,{number},Trần Thị C,1990-01-02,female,01,,,,,,,,{_at(0)}",
        f"screen,C2,,,,,,,cccd,{number},{world.point_id},36.8,70,30,,{_at(1)}",
        f"administer_dose,C3,,,,,,,cccd,{number},{world.point_id},,,,{world.lot_id},{_at(2)}",
        f"screen,C4,,,,,,,cccd,{number},{world.point_id},hot,,,,{_at(3)}",
        "register_person,C5,cccd",
    ]
    report = ledger.import_backlog(parse_csv(lines), prov=make_prov())
    assert [(r.line, r.status, r.field) for r in report.rows] == [
        (2, "accepted", None), (3, "accepted", None), (4, "accepted", None),
        (5, "refused", "vitals.temperature_c"), (6, "refused", "row")]
    person = ledger.person(UUID(report.rows[0].ids["person_id"]))
    assert person.full_name == "Trần Thị C" and len(person.doses) == 1


def _backlog_file(world, path: Path, people: int) -> list[dict]:
    rows = [r for n in range(1, people + 1) for r in person_rows(world, n, ref=f"P{n}")]
    path.write_bytes(b"\n".join(lines_of(rows)) + b"\n")
    return rows


def test_an_import_killed_part_way_is_finished_by_running_it_again(world, store, tmp_path):
    ledger = world.ledger
    people = 300
    ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=people, prov=make_prov())
    stock, start = on_hand(ledger, world), ledger.head()
    backlog = tmp_path / "backlog.ndjson"
    _backlog_file(world, backlog, people)
    env = {**os.environ, "LEDGER_DATABASE_URL": store.database_url, "PYTHONPATH": "src"}
    cmd = [sys.executable, "-m", "ledger.cli", "import", str(backlog), "--batch", "30", "--org", "moh-test"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while ledger.head() < start + 200 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    partial = ledger.head() - start
    assert 0 < partial < 9 * people  # stopped part way (each person: 9 events)
    done = subprocess.run(cmd + ["--report", str(tmp_path / "report.ndjson")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    reports = [orjson.loads(line) for line in (tmp_path / "report.ndjson").read_bytes().splitlines()]
    statuses = Counter(r["status"] for r in reports)
    assert statuses["refused"] == 0 and statuses["accepted"] + statuses["duplicate"] == 3 * people
    assert 0 < statuses["duplicate"] < 3 * people
    assert topics_since(ledger, start) == Counter({
        "ledger.person.Registered": people, "ledger.identity.Claimed": people, "ledger.person.Screened": people,
        "ledger.person.DoseAdministered": people, "ledger.stock.Administered": people,
        "ledger.receipt.Issued": 3 * people,
    })
    assert on_hand(ledger, world) == stock - people


@pytest.mark.parametrize("losses", [1, 4])
def test_a_batch_that_loses_races_on_its_stock_card_loses_nothing(world, store, losses):
    """While a batch runs, a single dose on its stock card commits first (from another process's
    ledger, in another thread). The batch is refused whole and run again from fresh state; after
    four losses in a row it is split in halves. Every row and every single dose ends recorded once."""
    ledger = world.ledger
    singles = [world.register_person() for _ in range(losses)]
    for person_id in singles:
        world.screen(person_id)
    stock, start = on_hand(ledger, world), ledger.head()
    rows = [r for n in range(1, 21) for r in person_rows(world, n, ref=f"R{n}")]
    other = Ledger(store)
    pending = list(singles)

    def dose_single() -> None:
        other.administer_dose(person_id=pending.pop(), lot_id=world.lot_id, facility_id=world.point_id,
                              prov=make_prov())

    def allow(row) -> None:  # noqa: ANN001
        # Late in the batch, after its earlier rows have read and changed the stock card.
        if row.ref == "R15-dose" and pending:
            racer = threading.Thread(target=dose_single)  # a thread: outside this batch's context
            racer.start()
            racer.join()

    try:
        report = ledger.import_backlog(parse_ndjson(lines_of(rows)), prov=make_prov(), batch_size=60, allow=allow)
    finally:
        other.close()
    assert not pending
    assert (report.accepted, report.refused) == (60, 0)
    assert on_hand(ledger, world) == stock - 20 - losses
    assert all(len(ledger.person(p).doses) == 1 for p in singles)
    people = {UUID(r.ids["person_id"]) for r in report.rows if r.command == "register_person"}
    assert len(people) == 20 and all(len(ledger.person(p).doses) == 1 for p in people)
    assert topics_since(ledger, start)["ledger.receipt.Issued"] == 60


def test_a_carried_stock_card_changed_between_batches_is_read_again(world, store):
    """The first batch hands its stock card, as committed, to the next. Before the second batch
    uses it, a single dose on that card commits elsewhere: the second batch's copy is stale, its
    commit refused, and it runs again from the store. Every row and the single dose end recorded
    once, and the card's stock counts them all."""
    ledger = world.ledger
    single = world.register_person()
    world.screen(single)
    stock, start = on_hand(ledger, world), ledger.head()
    rows = [r for n in range(1, 21) for r in person_rows(world, n, ref=f"C{n}")]
    other = Ledger(store)
    done: list[bool] = []

    def allow(row) -> None:  # noqa: ANN001
        if row.ref == "C11-reg" and not done:  # the second batch's first row, before its first dose
            done.append(True)
            racer = threading.Thread(target=lambda: other.administer_dose(
                person_id=single, lot_id=world.lot_id, facility_id=world.point_id, prov=make_prov()))
            racer.start()
            racer.join(30)

    try:
        report = ledger.import_backlog(parse_ndjson(lines_of(rows)), prov=make_prov(), batch_size=30, allow=allow)
    finally:
        other.close()
    assert done and (report.accepted, report.refused) == (60, 0)
    assert len(ledger.person(single).doses) == 1
    assert on_hand(ledger, world) == stock - 21
    assert topics_since(ledger, start)["ledger.stock.Administered"] == 21


def test_a_row_whose_document_changes_holder_meanwhile_is_run_again(world, store):
    """A row names its person by document; before its batch commits, a correction elsewhere moves that
    document off the person (changing the person and the identity key, both of which the batch read).
    The commit is refused, the batch run again from the store, and the row no longer finds anyone."""
    ledger = world.ledger
    person = world.register_person()
    number = ledger.person(person).id_number
    doc = {"id_type": "cccd", "id_number": number}
    rows = [{"command": "screen", "ref": "doc-1", "person": doc, "facility_id": str(world.point_id),
             "vitals": NORMAL_VITALS, "occurred_at": _at(30)},
            person_rows(world, 77, ref="doc-2")[0]]
    other = Ledger(store)
    corrected: list[str] = []

    def allow(row) -> None:  # noqa: ANN001
        if row.ref == "doc-2-reg" and not corrected:  # in another thread: this one is inside the batch
            corrected.append(cccd(world.tag + "8", 1))
            elsewhere = threading.Thread(target=lambda: other.correct_person(
                person_id=person, changes={"id_number": corrected[0]}, reason="invalid_id_format", prov=make_prov()))
            elsewhere.start()
            elsewhere.join(30)

    try:
        report = ledger.import_backlog(parse_ndjson(lines_of(rows)), prov=make_prov(), allow=allow)
    finally:
        other.close()
    assert [(r.status, r.field) for r in report.rows] == [("refused", "person"), ("accepted", None)]
    assert ledger.person(person).id_number == corrected[0] and not ledger.person(person).screenings
