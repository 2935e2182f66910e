"""Venues, check-ins (single and bulk) and exposure candidates on a real store (SQLite and PostgreSQL):
the rules that refuse (writing nothing), the bulk report, idempotent re-sends, the fast path's events
decoding as the single command's (with encryption on), the exposure window's boundaries, and the
`checkins` projection, whose rebuild equals its incremental rows."""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import orjson
import pytest

from ledger.application import Ledger
from ledger.domain import CheckIn, Invalid, RuleViolation, natural_id
from ledger.domain.checkin import venue_qr_payload
from projections.runtime import ProjectionRuntime

PROVINCE = "01"
VN = timezone(timedelta(hours=7))
T0 = datetime(2021, 8, 10, 9, 0, tzinfo=UTC)


def _venue(ledger, prov, code: str, kind: str = "venue") -> UUID:
    return UUID(ledger.register_facility(code=code, name=f"Venue {code}", kind=kind, province_code=PROVINCE,
                                         district_code="001", ward_code="00001", prov=prov()).ids["facility_id"])


def _events(ledger) -> int:
    return ledger.head()


@pytest.fixture
def venue(world, prov) -> UUID:
    return _venue(world.ledger, prov, f"CAFE-{world.tag}")


def test_single_check_in_by_id_and_by_qr(world, prov, venue, runtime):
    ledger = world.ledger
    person = world.register_person()
    first = ledger.check_in(venue_id=venue, person_id=person, checked_in_at=T0, mode="citizen_scan", prov=prov())
    qr = ledger.venue_qr(venue)
    assert qr["qr"] == venue_qr_payload(f"CAFE-{world.tag}") == f"NHDL-VENUE:1:CAFE-{world.tag}"
    second = ledger.check_in(qr=qr["qr"], person_id=str(person), checked_in_at=(T0 + timedelta(hours=1)).isoformat(),
                             mode="staff_scan", prov=prov())
    one = ledger.checkin(UUID(first.ids["checkin_id"]))
    assert (one.venue_id, one.person_id, one.checked_in_at, one.mode) == (venue, person, T0, "citizen_scan")
    assert ledger.checkin(UUID(second.ids["checkin_id"])).venue_id == venue
    runtime.engine.catch_up()
    rows = runtime.checkins.person_checkins(person)
    assert [(r["checked_in_at"], r["mode"]) for r in rows] == [
        ("2021-08-10T09:00:00+00:00", "citizen_scan"), ("2021-08-10T10:00:00+00:00", "staff_scan")]
    assert runtime.checkins.venue(venue)["code"] == f"CAFE-{world.tag}"


@pytest.mark.parametrize(("change", "error", "name"), [
    ({"venue_id": UUID(int=7)}, RuleViolation, "checkin_at_registered_venue"),
    ({"venue_id": "point"}, RuleViolation, "checkin_at_registered_venue"),
    ({"venue_id": None, "qr": "NHDL-VENUE:1:NO-SUCH-VENUE"}, RuleViolation, "checkin_at_registered_venue"),
    ({"venue_id": None, "qr": "https://example.org/venue"}, Invalid, "qr"),
    ({"venue_id": None}, Invalid, "venue_id"),
    ({"qr": "NHDL-VENUE:1:X"}, Invalid, "venue_id"),
    ({"venue_id": "not-a-uuid"}, Invalid, "venue_id"),
    ({"person_id": UUID(int=9)}, Invalid, "person_id"),
    ({"person_id": "nobody"}, Invalid, "person_id"),
    ({"mode": "walk_in"}, Invalid, "mode"),
    ({"checked_in_at": "yesterday"}, Invalid, "checked_in_at"),
    ({"checked_in_at": datetime(2021, 8, 10, 9, 0)}, Invalid, "checked_in_at"),
    ({"checked_in_at": "future"}, Invalid, "checked_in_at"),
])
def test_refused_check_ins_write_nothing(world, prov, venue, change, error, name):
    ledger = world.ledger
    request = {"venue_id": venue, "person_id": world.person_id, "checked_in_at": T0, "mode": "citizen_scan"}
    request.update(change)
    if request["venue_id"] == "point":
        request["venue_id"] = world.point_id
    if request["checked_in_at"] == "future":
        request["checked_in_at"] = datetime.now(UTC) + timedelta(minutes=6)
    before = _events(ledger)
    with pytest.raises(error) as caught:
        ledger.check_in(**request, prov=prov())
    assert (caught.value.rule if error is RuleViolation else caught.value.field) == name
    assert _events(ledger) == before


def test_clock_skew_of_five_minutes_is_accepted(world, prov, venue):
    soon = datetime.now(UTC) + timedelta(minutes=4)
    world.ledger.check_in(venue_id=venue, person_id=world.person_id, checked_in_at=soon, mode="staff_scan",
                          prov=prov())


def test_single_check_in_is_idempotent_by_client_ref(world, prov, venue):
    ledger = world.ledger
    args = {"venue_id": venue, "person_id": world.person_id, "checked_in_at": T0, "mode": "citizen_scan"}
    first = ledger.check_in(**args, prov=prov("scan-1"))
    head = _events(ledger)
    again = ledger.check_in(**args, prov=prov("scan-1"))
    assert again.replayed and again.ids == first.ids and _events(ledger) == head
    assert first.ids["checkin_id"] == str(natural_id("checkin", "moh-test", "scan-1"))


def _rows(venue, people, start=T0, **extra):
    return [{"venue_id": str(venue), "person_id": str(p), "checked_in_at": (start + timedelta(minutes=i)).isoformat(),
             "mode": "citizen_scan", **extra} for i, p in enumerate(people)]


def test_bulk_reports_each_row_and_appends_the_good_ones(world, prov, venue, runtime):
    ledger = world.ledger
    people = [world.register_person() for _ in range(3)]
    good = _rows(venue, people)
    bad = [
        {"venue_id": str(world.point_id), "person_id": str(people[0]), "checked_in_at": T0.isoformat(),
         "mode": "citizen_scan"},
        {"venue_id": str(venue), "person_id": str(uuid4()), "checked_in_at": T0.isoformat(), "mode": "citizen_scan"},
        {"venue_id": str(venue), "person_id": str(people[0]), "checked_in_at": T0.isoformat(), "mode": "x"},
        ["not", "an", "object"],
    ]
    lines = [(i + 1, row) for i, row in enumerate([good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3]])]
    lines.append((8, Invalid("line", "line 8 is not JSON")))
    report = ledger.import_checkins(lines, prov=prov(), batch_size=3)
    assert (report.accepted, report.duplicate, report.refused) == (3, 0, 5)
    out = [r.as_dict() for r in report.rows]
    assert [r["line"] for r in out] == list(range(1, 9))
    assert [r["status"] for r in out] == ["accepted", "refused", "accepted", "refused", "refused", "accepted",
                                          "refused", "refused"]
    assert out[1]["rule"] == "checkin_at_registered_venue" and "field" not in out[1]
    assert out[3]["field"] == "person_id" and out[4]["field"] == "mode" and out[6]["field"] == "row"
    assert out[7] == {"line": 8, "status": "refused", "field": "line", "message": "line 8 is not JSON"}
    for r in out:
        if r["status"] == "accepted":
            assert isinstance(ledger.checkin(UUID(r["checkin_id"])), CheckIn)

    # Re-sending the same rows adds nothing: each is reported as a duplicate.
    head = _events(ledger)
    again = ledger.import_checkins(lines, prov=prov(), batch_size=100)
    assert (again.accepted, again.duplicate, again.refused) == (0, 3, 5)
    assert [r.checkin_id for r in again.rows if r.status == "duplicate"] == [
        r["checkin_id"] for r in out if r["status"] == "accepted"]
    assert _events(ledger) == head
    runtime.engine.catch_up()
    assert len(runtime.checkins.person_checkins(people[0])) == 1


def test_bulk_rows_with_client_refs_and_duplicates_within_a_batch(world, prov, venue):
    ledger = world.ledger
    person = world.register_person()
    [row] = _rows(venue, [person], client_ref="r-1")
    other = {**row, "checked_in_at": (T0 + timedelta(hours=2)).isoformat(), "client_ref": "r-2"}
    report = ledger.import_checkins([(1, row), (2, dict(row)), (3, other)], prov=prov())
    assert [r.status for r in report.rows] == ["accepted", "duplicate", "accepted"]
    assert report.rows[0].checkin_id == str(natural_id("checkin", "moh-test", "r-1"))
    # The single command with the same reference finds the bulk row (no receipt was written for it).
    single = ledger.check_in(venue_id=venue, person_id=person, checked_in_at=T0, mode="citizen_scan",
                             prov=prov("r-1"))
    assert single.ids["checkin_id"] == report.rows[0].checkin_id
    with pytest.raises(RuleViolation) as caught:
        ledger.check_in(venue_id=venue, person_id=person, checked_in_at=T0, mode="staff_scan", prov=prov("r-2"))
    assert caught.value.rule == "checkin_reference_reused"


def test_bulk_event_decodes_as_a_single_one_with_encryption(store, prov, world_factory):
    """The fast path's stored event and the single command's decode to equal domain events (but for
    id and timestamp), and the stored state is ciphertext."""
    settings = replace(store, cipher_key=base64.b64encode(os.urandom(32)).decode())
    ledger = Ledger(settings)
    runtime = ProjectionRuntime(settings, ledger)
    try:
        world = world_factory(ledger, tag="0791")
        venue = _venue(ledger, prov, "ENC-VENUE")
        args = {"venue_id": venue, "person_id": world.person_id, "checked_in_at": T0.astimezone(VN),
                "mode": "staff_scan"}
        single_id = UUID(ledger.check_in(**args, prov=prov("one")).ids["checkin_id"])
        bulk = ledger.import_checkins([(1, {**args, "checked_in_at": args["checked_in_at"].isoformat(),
                                            "client_ref": "two"})], prov=prov())
        bulk_id = UUID(bulk.rows[0].checkin_id)
        [single_stored] = ledger.recorder.select_events(single_id)
        [bulk_stored] = ledger.recorder.select_events(bulk_id)
        assert single_stored.topic == bulk_stored.topic == "ledger.checkin.CheckedIn"
        for stored in (single_stored, bulk_stored):
            assert b"staff_scan" not in stored.state and str(venue).encode() not in stored.state
        a, b = (ledger.mapper.to_domain_event(s) for s in (single_stored, bulk_stored))
        assert type(a) is type(b) is CheckIn.CheckedIn
        strip = ("originator_id", "timestamp", "client_ref")
        assert {k: v for k, v in vars(a).items() if k not in strip} == {
            k: v for k, v in vars(b).items() if k not in strip}
        assert (a.client_ref, b.client_ref) == ("one", "two")
        assert b.checked_in_at == T0 and b.checked_in_at.utcoffset() == timedelta(hours=7)
        assert sorted(vars(a)) == sorted(vars(b))
        # Both are ordinary aggregates to the repository, and rows of the projection.
        assert ledger.checkin(bulk_id).person_id == ledger.checkin(single_id).person_id == world.person_id
        runtime.engine.catch_up()
        assert len(runtime.checkins.person_checkins(world.person_id)) == 2
    finally:
        runtime.close()
        ledger.close()


# -- exposure candidates -----------------------------------------------------------------------------------


def _case(world, lab, prov, person, collected_at, resulted_at) -> str:
    """An RT-PCR positive result for `person`: a confirmed case (infectious from 2 days before the sample)."""
    ledger = world.ledger
    sample = UUID(ledger.collect_sample(barcode=f"S-{person.hex[:10]}", method="rt_pcr", subject_ids=[person],
                                        facility_id=lab["centre"], prov=prov(occurred_at=collected_at)
                                        ).ids["sample_id"])
    ledger.receive_sample(sample_id=sample, lab_id=lab["lab"], prov=prov(occurred_at=resulted_at))
    ids = ledger.record_result(sample_id=sample, result="positive", ct_value=20.0,
                               prov=prov(occurred_at=resulted_at)).ids
    return ids["case_id"]


def test_exposure_window_boundaries_and_cross_midnight(world, lab, prov, venue, runtime):
    """Exactly 60 minutes before or after is in, 61 is out; a case check-in at 23:30 finds people
    checked in after midnight (in UTC and in Vietnam's day alike); other venues and the case person's
    own check-ins are not candidates; check-ins outside the infectious period are not searched."""
    ledger = world.ledger
    other_venue = _venue(ledger, prov, f"GYM-{world.tag}")
    case_person = world.register_person()
    p = [world.register_person() for _ in range(8)]
    at = datetime(2021, 8, 10, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam
    rows = [
        (case_person, venue, at),
        (case_person, venue, at + timedelta(minutes=20)),  # the case person again: never a candidate
        (p[0], venue, at - timedelta(minutes=60)),  # in
        (p[1], venue, at + timedelta(minutes=60)),  # in (00:30 next day in Vietnam)
        (p[2], venue, at - timedelta(minutes=61)),  # out
        (p[3], venue, at + timedelta(minutes=61)),  # out... but within 60 of the case's second check-in
        (p[4], other_venue, at),  # another venue: out
        (p[5], venue, at + timedelta(minutes=81)),  # 61 after the second check-in: out
        (p[6], venue, at + timedelta(seconds=30)),  # in, fractional gap
        (p[7], venue, datetime(2021, 8, 1, 12, 0, tzinfo=UTC)),  # at a case check-in outside the period
        (case_person, venue, datetime(2021, 8, 1, 12, 0, tzinfo=UTC)),  # before infectious_from
    ]
    report = ledger.import_checkins(
        [(i, {"venue_id": str(v), "person_id": str(who), "checked_in_at": t.isoformat(), "mode": "citizen_scan"})
         for i, (who, v, t) in enumerate(rows, 1)], prov=prov())
    assert report.accepted == len(rows)
    case_id = _case(world, lab, prov, case_person, datetime(2021, 8, 11, 2, 0, tzinfo=UTC),
                    datetime(2021, 8, 12, 3, 0, tzinfo=UTC))
    runtime.engine.catch_up()
    answer = runtime.checkins.exposure_candidates(UUID(case_id))
    assert answer["person_id"] == str(case_person) and answer["case_checkins"] == 2
    got = {c["person_id"]: [(e["gap_minutes"], e["case_checked_in_at"]) for e in c["encounters"]]
           for c in answer["candidates"]}
    first, second = at.isoformat(), (at + timedelta(minutes=20)).isoformat()
    expected = {
        str(p[0]): [(-60.0, first)],
        str(p[1]): [(60.0, first), (40.0, second)],
        str(p[3]): [(41.0, second)],
        str(p[6]): [(0.5, first), (-19.5, second)],
    }
    assert got == expected
    assert [c["person_id"] for c in answer["candidates"]] == sorted(expected)
    encounter = answer["candidates"][[c["person_id"] for c in answer["candidates"]].index(str(p[1]))]["encounters"][0]
    assert encounter["venue_id"] == str(venue) and encounter["venue_code"] == f"CAFE-{world.tag}"
    assert encounter["checked_in_at"] == (at + timedelta(minutes=60)).isoformat()
    assert runtime.checkins.exposure_candidates(uuid4()) is None


def test_checkins_projection_rebuild_equals_incremental(world, prov, venue, runtime):
    """Processed in batches of 2 events, the `checkins` projection's digest equals its rebuild's."""
    ledger = world.ledger
    people = [world.register_person() for _ in range(5)]
    runtime.engine.catch_up()
    ledger.import_checkins([(i, r) for i, r in enumerate(_rows(venue, people), 1)], prov=prov())
    ledger.check_in(venue_id=venue, person_id=people[0], checked_in_at=T0 + timedelta(days=1), mode="staff_scan",
                    prov=prov("single"))
    _venue(ledger, prov, f"BAR-{world.tag}")
    engine = runtime.engine
    engine.batch_size = 2
    engine.catch_up()
    live = engine.digest("checkins")
    assert engine.rebuild("checkins") == live
    assert engine.digest("checkins") == live


def test_cli_imports_csv_and_ndjson(store, tmp_path, capsys, prov, world_factory):
    """`ledger checkins import FILE`: CSV (header names the columns) or NDJSON; a report line per row not
    accepted, the counts on stderr, exit 3 when a row was refused; a re-import adds nothing."""
    import argparse

    from ledger.cli import cmd_checkins_import

    ledger = Ledger(store)
    try:
        world = world_factory(ledger, tag="0792")
        _venue(ledger, prov, "CLI-CAFE")
        person = world.register_person()
    finally:
        ledger.close()
    csv_file = tmp_path / "scans.csv"
    csv_file.write_text("qr,person_id,checked_in_at,mode,client_ref\n"
                        f"NHDL-VENUE:1:CLI-CAFE,{person},2021-08-10T09:00:00+07:00,staff_scan,a-1\n"
                        f"NHDL-VENUE:1:CLI-CAFE,{person},2021-08-10T10:00:00+07:00,staff_scan,\n"
                        f"NHDL-VENUE:1:NOWHERE,{person},2021-08-10T10:00:00+07:00,staff_scan,a-3\n")

    def run(path, **kw) -> int:
        return cmd_checkins_import(store, argparse.Namespace(file=str(path), actor="tester", org="MOH",
                                                             format=kw.get("format"), all=kw.get("all", False)))

    assert run(csv_file) == 3
    out, err = capsys.readouterr()
    assert orjson.loads(out.splitlines()[0]) == {
        "line": 4, "status": "refused", "rule": "checkin_at_registered_venue",
        "message": "no venue is registered as " + str(natural_id("facility", "NOWHERE"))}
    assert "accepted=2 duplicate=0 refused=1" in err
    assert run(csv_file, all=True) == 3
    out, err = capsys.readouterr()
    assert [orjson.loads(x)["status"] for x in out.splitlines()] == ["duplicate", "duplicate", "refused"]
    ndjson = tmp_path / "scans.ndjson"
    ndjson.write_bytes(orjson.dumps({"qr": "NHDL-VENUE:1:CLI-CAFE", "person_id": str(person), "mode": "citizen_scan",
                                     "checked_in_at": "2021-08-11T09:00:00+07:00"}) + b"\n\n")
    assert run(ndjson) == 0
    assert "accepted=1 duplicate=0 refused=0" in capsys.readouterr().err
    # A file that cannot be read stops the import with a message, not a traceback.
    assert run(tmp_path / "missing.ndjson") == 1
    assert "stopped: " in capsys.readouterr().err
    latin = tmp_path / "latin1.ndjson"
    latin.write_bytes(b"\xff\xfe\n")
    assert run(latin) == 1
    assert "stopped: " in capsys.readouterr().err
