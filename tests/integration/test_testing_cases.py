"""Samples, pools, results and cases on a real store (SQLite and PostgreSQL): the pool scenarios end to end,
the rules that refuse (writing nothing), and the `testing` projection, whose rebuild equals its incremental rows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from ledger.domain import Invalid, NotFound, RuleViolation

PROVINCE = "01"


def _collect(world, lab, prov, barcode, people, *, method="rt_pcr", pool_kind=None, at=None, **kw) -> UUID:
    result = world.ledger.collect_sample(
        barcode=barcode, method=method, subject_ids=list(people), facility_id=lab["centre"], pool_kind=pool_kind,
        prov=prov(occurred_at=at), **kw,
    )
    return UUID(result.ids["sample_id"])


def _test(world, lab, prov, sample_id, result, *, ct=None, at=None) -> dict:
    world.ledger.receive_sample(sample_id=sample_id, lab_id=lab["lab"], prov=prov(occurred_at=at))
    return world.ledger.record_result(sample_id=sample_id, result=result, ct_value=ct, prov=prov(occurred_at=at)).ids


def test_positive_pool_then_retests_then_cases(world, lab, prov, runtime):
    """A positive household pool puts each member in pending retest; individual results close it, and the
    positive one confirms an RT-PCR case that the register and the person's results show."""
    ledger = world.ledger
    members = [world.register_person() for _ in range(4)]
    pool = _collect(world, lab, prov, "HH-POOL-01", members, pool_kind="household")
    assert _test(world, lab, prov, pool, "positive", ct=31.5) == {"sample_id": str(pool), "retests_required": 4}
    assert all(ledger.person(m).awaiting_retest() == [str(pool)] for m in members)
    runtime.engine.catch_up()
    [waiting] = runtime.testing.pools_awaiting_retest()[0]
    assert waiting["sample_id"] == str(pool) and waiting["awaiting"] == 4
    assert sorted(waiting["awaiting_person_ids"]) == sorted(map(str, members))

    positive = _collect(world, lab, prov, "HH-IND-01", [members[0]], retest_of=pool)
    answer = _test(world, lab, prov, positive, "positive", ct=22.0)
    assert answer["case"] == "confirmed"
    for i, person in enumerate(members[1:], start=2):
        negative = _collect(world, lab, prov, f"HH-IND-0{i}", [person], retest_of=pool)
        assert "case" not in _test(world, lab, prov, negative, "negative")
    assert all(ledger.person(m).awaiting_retest() == [] for m in members)
    case = ledger.person(members[0]).active_case()
    assert case["rule"] == "rt_pcr_positive" and case["policy_id"] == "11042/BYT-DP"
    assert case["evidence"] == [str(positive)]

    runtime.engine.catch_up()
    assert runtime.testing.pools_awaiting_retest() == ([], None)
    [row], _ = runtime.testing.cases(person_id=str(members[0]))
    assert row["case_id"] == case["case_id"] and row["status"] == "active" and row["community"] is True
    assert row["province_code"] == "01" and row["ward_code"] == "00001"
    assert row["evidence"][0]["sample_id"] == str(positive) and row["evidence"][0]["ct_value"] == 22.0
    results = runtime.testing.results_for_person(members[0])
    assert [s["sample_id"] for s in results["samples"]] == [str(positive), str(pool)]
    assert results["samples"][1]["pool_size"] == 4 and results["samples"][0]["ct_value"] == 22.0
    assert results["retests"][0]["status"] == "cleared"
    assert results["retests"][0]["cleared_by_sample_id"] == str(positive)


def test_negative_pool_closes_everyone(world, lab, prov, runtime):
    """A negative community pool leaves no member pending and confirms no case."""
    members = [world.register_person() for _ in range(10)]
    pool = _collect(world, lab, prov, "CM-POOL-01", members, pool_kind="community")
    assert _test(world, lab, prov, pool, "negative") == {"sample_id": str(pool)}
    assert all(world.ledger.person(m).awaiting_retest() == [] and world.ledger.person(m).active_case() is None
               for m in members)
    runtime.engine.catch_up()
    assert runtime.testing.pools_awaiting_retest() == ([], None)
    assert runtime.testing.cases() == ([], None)
    assert runtime.testing.results_for_person(members[3])["samples"][0]["result"] == "negative"


def test_pool_correction_releases_its_members(world, lab, prov):
    """Correcting a positive pool to negative releases every pending member; a rejection does too."""
    ledger = world.ledger
    members = [world.register_person() for _ in range(3)]
    pool = _collect(world, lab, prov, "CM-POOL-02", members, pool_kind="community")
    _test(world, lab, prov, pool, "positive", ct=30.0)
    corrected = ledger.correct_result(sample_id=pool, result="negative", reason="transcription_error", prov=prov())
    assert corrected.ids["retests_released"] == 3
    assert all(ledger.person(m).awaiting_retest() == [] for m in members)
    ledger.correct_result(sample_id=pool, result="positive", ct_value=29.0, reason="lab_review", prov=prov())
    assert all(ledger.person(m).awaiting_retest() == [str(pool)] for m in members)
    rejected = ledger.reject_result(sample_id=pool, reason="contaminated", prov=prov())
    assert rejected.ids["retests_released"] == 3


def test_correction_retracts_a_case_unless_a_rule_still_holds(world, lab, prov, runtime):
    """A case whose only evidence is corrected to negative is retracted; with a second positive it stays."""
    ledger = world.ledger
    person = world.register_person()
    first = _collect(world, lab, prov, "IND-R-01", [person])
    _test(world, lab, prov, first, "positive", ct=20.0)
    case_id = ledger.person(person).active_case()["case_id"]
    answer = ledger.correct_result(sample_id=first, result="negative", reason="transcription_error", prov=prov())
    assert answer.ids["case"] == "retracted"
    assert ledger.person(person).active_case() is None

    other = world.register_person()
    a = _collect(world, lab, prov, "IND-R-02", [other])
    b = _collect(world, lab, prov, "IND-R-03", [other])
    _test(world, lab, prov, a, "positive", ct=25.0)
    _test(world, lab, prov, b, "positive", ct=26.0)
    kept = ledger.person(other).active_case()
    assert "case" not in ledger.reject_result(sample_id=a, reason="contaminated", prov=prov()).ids
    assert ledger.person(other).active_case() == kept
    runtime.engine.catch_up()
    row = runtime.testing.case(UUID(case_id))
    assert row["status"] == "retracted" and row["retraction_reason"] == "evidence_corrected"


def test_two_rapid_positives_need_a_link_and_eight_hours(world, lab, prov):
    """Two positive rapid tests confirm a case only within 8 hours of each other and with an epidemiological
    link (here declared with the sample); before 11042/BYT-DP only RT-PCR confirmed a case."""
    ledger = world.ledger
    now = datetime.now(UTC) - timedelta(hours=20)
    unlinked = world.register_person()
    for i, hours in enumerate((0, 3)):
        s = _collect(world, lab, prov, f"RA-U-{i}", [unlinked], method="rapid_antigen", at=now + timedelta(hours=hours))
        _test(world, lab, prov, s, "positive", at=now + timedelta(hours=hours, minutes=30))
    assert ledger.person(unlinked).active_case() is None

    linked = world.register_person()
    link = {"kind": "declared", "ref": "cluster Hoang Mai market"}
    far = _collect(world, lab, prov, "RA-L-0", [linked], method="rapid_antigen", at=now, epi_link=link)
    _test(world, lab, prov, far, "positive", at=now + timedelta(minutes=20))
    late = _collect(world, lab, prov, "RA-L-1", [linked], method="rapid_antigen", at=now + timedelta(hours=9))
    _test(world, lab, prov, late, "positive", at=now + timedelta(hours=9, minutes=20))
    assert ledger.person(linked).active_case() is None
    symptom_onset = (now - timedelta(days=3)).date()  # a calendar day, read as the local day it names
    close = _collect(world, lab, prov, "RA-L-2", [linked], method="rapid_antigen", at=now + timedelta(hours=12),
                     symptom_onset=symptom_onset, epi_link=link)
    answer = _test(world, lab, prov, close, "positive", at=now + timedelta(hours=12, minutes=20))
    assert answer["case"] == "confirmed"
    case = ledger.person(linked).active_case()
    assert case["rule"] == "two_rapid_positive_with_link" and case["evidence"] == [str(late), str(close)]
    onset = datetime.fromisoformat(case["infectious_from"])
    assert onset.date() == symptom_onset - timedelta(days=2)

    old = world.register_person()
    pcr_era = datetime(2021, 9, 1, 2, 0, tzinfo=UTC)
    for i in range(2):
        s = _collect(world, lab, prov, f"RA-O-{i}", [old], method="rapid_antigen", at=pcr_era + timedelta(hours=i),
                     epi_link=link)
        _test(world, lab, prov, s, "positive", at=pcr_era + timedelta(hours=i, minutes=30))
    assert ledger.person(old).active_case() is None
    s = _collect(world, lab, prov, "PCR-O-1", [old], at=pcr_era + timedelta(hours=3))
    _test(world, lab, prov, s, "positive", ct=18.0, at=pcr_era + timedelta(hours=5))
    assert ledger.person(old).active_case()["policy_id"] == "rt-pcr-only-2020"


def test_refusals_write_nothing(world, lab, prov):
    """Each rule refuses with its name (or the field for malformed input) and writes nothing."""
    ledger = world.ledger
    people = [world.register_person() for _ in range(11)]
    sample = _collect(world, lab, prov, "REF-01", [people[0]])

    def refused(error: type, name: str, call, **kw) -> None:
        head = ledger.head()
        with pytest.raises(error) as caught:
            call(**kw)
        assert (caught.value.rule if error is RuleViolation else caught.value.field) == name, caught.value
        assert ledger.head() == head

    refused(RuleViolation, "result_requires_lab_receipt", ledger.record_result, sample_id=sample, result="negative",
            prov=prov())
    refused(RuleViolation, "pool_size_within_policy", ledger.collect_sample, barcode="REF-02", method="rt_pcr",
            subject_ids=people, facility_id=lab["centre"], pool_kind="community", prov=prov())
    refused(RuleViolation, "pooling_not_allowed_for_method", ledger.collect_sample, barcode="REF-03",
            method="rapid_antigen", subject_ids=people[:3], facility_id=lab["centre"], pool_kind="household",
            prov=prov())
    refused(RuleViolation, "sample_barcode_exists", ledger.collect_sample, barcode="ref-01", method="rt_pcr",
            subject_ids=[people[1]], facility_id=lab["centre"], prov=prov())
    refused(RuleViolation, "facility_does_not_sample", ledger.collect_sample, barcode="REF-04", method="rt_pcr",
            subject_ids=[people[1]], facility_id=world.warehouse_id, prov=prov())
    refused(RuleViolation, "receiving_facility_is_a_lab", ledger.receive_sample, sample_id=sample,
            lab_id=lab["centre"], prov=prov())
    refused(Invalid, "pool_kind", ledger.collect_sample, barcode="REF-05", method="rt_pcr", subject_ids=people[:2],
            facility_id=lab["centre"], prov=prov())
    refused(Invalid, "subject_ids[1]", ledger.collect_sample, barcode="REF-06", method="rt_pcr",
            subject_ids=[people[0], UUID(int=7)], facility_id=lab["centre"], pool_kind="community", prov=prov())
    refused(RuleViolation, "retest_of_positive_pool_only", ledger.collect_sample, barcode="REF-07", method="rt_pcr",
            subject_ids=[people[0]], facility_id=lab["centre"], retest_of=sample, prov=prov())
    _test(world, lab, prov, sample, "negative")
    refused(RuleViolation, "one_result_per_sample", ledger.record_result, sample_id=sample, result="positive",
            prov=prov())
    refused(RuleViolation, "sample_already_received", ledger.receive_sample, sample_id=sample, lab_id=lab["lab"],
            prov=prov())
    refused(RuleViolation, "correction_changes_nothing", ledger.correct_result, sample_id=sample, result="negative",
            reason="lab_review", prov=prov())
    refused(Invalid, "ct_value", ledger.correct_result, sample_id=sample, result="positive", ct_value=75,
            reason="lab_review", prov=prov())
    refused(Invalid, "reason", ledger.correct_result, sample_id=sample, result="positive", reason="oops", prov=prov())
    ledger.reject_result(sample_id=sample, reason="wrong_subject", prov=prov())
    refused(RuleViolation, "sample_rejected", ledger.correct_result, sample_id=sample, result="positive",
            reason="lab_review", prov=prov())
    with pytest.raises(NotFound):
        ledger.sample(UUID(int=9))


def test_testing_projection_rebuild_equals_incremental(world, lab, prov, runtime):
    """Processed in batches of 2 events, the `testing` projection's digest equals its rebuild's."""
    engine = runtime.engine
    engine.batch_size = 2
    members = [world.register_person() for _ in range(3)]
    pool = _collect(world, lab, prov, "DG-POOL", members, pool_kind="household")
    _test(world, lab, prov, pool, "positive", ct=33.25)
    engine.catch_up()
    for i, person in enumerate(members):
        s = _collect(world, lab, prov, f"DG-IND-{i}", [person], retest_of=pool)
        _test(world, lab, prov, s, "positive" if i == 0 else "negative", ct=21.5 if i == 0 else None)
        engine.catch_up()
    world.ledger.correct_result(sample_id=world.ledger.find_sample("DG-IND-0").id, result="negative",
                                reason="transcription_error", prov=prov())
    engine.catch_up()
    live = engine.digest("testing")
    assert engine.rebuild("testing") == live
    assert engine.digest("testing") == live


def test_racing_results_record_one(world, lab, prov):
    """Two labs' clerks recording a result of one sample at once: one wins, the other is refused by name, and the
    person's record notes exactly one result."""
    ledger = world.ledger
    person = world.register_person()
    sample = _collect(world, lab, prov, "RACE-01", [person])
    ledger.receive_sample(sample_id=sample, lab_id=lab["lab"], prov=prov())
    outcomes: list[object] = []
    start = threading.Barrier(2)

    def record(result: str) -> None:
        start.wait()
        try:
            outcomes.append(ledger.record_result(sample_id=sample, result=result, prov=prov()))
        except RuleViolation as refused:
            outcomes.append(refused.rule)

    threads = [threading.Thread(target=record, args=(r,)) for r in ("positive", "negative")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 2 and outcomes.count("one_result_per_sample") == 1
    assert len(ledger.person(person).test_results) == 1
