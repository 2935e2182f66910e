"""Contacts, quarantine orders, follow-ups, releases and declarations on a real store (SQLite and
PostgreSQL), from a case confirmed by the testing commands; every refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from ledger.domain import Invalid, RuleViolation

PROVINCE = "01"


def confirm_case(world, lab, prov, person: UUID, at: datetime, barcode: str) -> dict:
    """An RT-PCR positive sample taken at `at` and resulted an hour later: an active case."""
    ledger = world.ledger
    sample = UUID(ledger.collect_sample(barcode=barcode, method="rt_pcr", subject_ids=[person],
                                        facility_id=lab["centre"], prov=prov(occurred_at=at)).ids["sample_id"])
    later = at + timedelta(hours=1)
    ledger.receive_sample(sample_id=sample, lab_id=lab["lab"], prov=prov(occurred_at=later))
    ledger.record_result(sample_id=sample, result="positive", ct_value=20.0, prov=prov(occurred_at=later))
    return ledger.person(person).active_case()


def vaccinate(world, prov, person: UUID, *days: date) -> None:
    for day in days:
        at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
        screening = world.screen(person, at=at)
        world.ledger.administer_dose(person_id=person, lot_id=world.lot_id, facility_id=world.point_id,
                                     screening_id=screening, prov=prov(occurred_at=at + timedelta(minutes=10)))


def _refused(ledger, rule, call):
    before = ledger.head()
    with pytest.raises(RuleViolation) as refused:
        call()
    assert refused.value.rule == rule
    assert ledger.head() == before


def test_f1_f2_orders_follow_up_release(world, lab, prov):
    ledger = world.ledger
    f0, f1, f2, stranger = (world.register_person() for _ in range(4))
    confirmed = datetime(2022, 1, 10, 3, tzinfo=UTC)
    case = confirm_case(world, lab, prov, f0, confirmed, "TR-0001")
    exposed = confirmed - timedelta(days=1)
    vaccinate(world, prov, f1, date(2021, 10, 1), date(2021, 11, 1))

    # Refusals name their rules and write nothing.
    _refused(ledger, "contact_not_close", lambda: ledger.record_contact(
        person_id=f1, source_person_id=f0, level="F1", proximity="within_2m", masked=True, duration_minutes=10,
        exposed_at=exposed, prov=prov(occurred_at=confirmed)))
    _refused(ledger, "exposure_outside_infectious_period", lambda: ledger.record_contact(
        person_id=f1, source_person_id=f0, level="F1", proximity="physical", exposed_at=confirmed - timedelta(days=9),
        prov=prov(occurred_at=confirmed)))
    _refused(ledger, "source_not_case_or_contact", lambda: ledger.record_contact(
        person_id=f1, source_person_id=stranger, level="F1", proximity="physical", exposed_at=exposed,
        prov=prov(occurred_at=confirmed)))
    with pytest.raises(Invalid) as bad:
        ledger.record_contact(person_id=f1, source_person_id=f0, level="F1", proximity="nearby", exposed_at=exposed,
                              prov=prov(occurred_at=confirmed))
    assert bad.value.field == "proximity"

    identified = confirmed + timedelta(hours=5)
    contact = ledger.record_contact(person_id=f1, source_person_id=f0, level="F1", proximity="within_2m",
                                    masked=False, duration_minutes=5, exposed_at=exposed,
                                    prov=prov(occurred_at=identified)).ids
    person = ledger.person(f1)
    assert person.contacts[contact["contact_id"]]["case_id"] == case["case_id"]
    assert person.is_contact("F1", identified) and not person.is_contact("F1", identified + timedelta(days=20))

    # F2: a contact of the F1 before the F1's isolation.
    ledger.record_contact(person_id=f2, source_person_id=f1, level="F2", proximity="same_closed_space",
                          masked=True, duration_minutes=30, exposed_at=exposed + timedelta(hours=2),
                          prov=prov(occurred_at=identified))
    assert ledger.person(f2).contacts and ledger.person(f2).is_contact("F2", identified)

    # F1 fully vaccinated under 10696/BYT-MT: 7 days at home, tests on days 1 and 7.
    order = ledger.order_quarantine(person_id=f1, level="F1", prov=prov(occurred_at=identified)).ids
    assert order["policy_id"] == "10696/BYT-MT"
    day = date(2022, 1, 10)
    stored = ledger.person(f1).quarantines[order["order_id"]]
    assert (stored["starts_on"], stored["ends_on"], stored["setting"]) == (day.isoformat(), "2022-01-16", "home")
    assert stored["test_days"] == ["2022-01-10", "2022-01-16"]
    assert ledger.person(f1).in_quarantine(date(2022, 1, 12))
    _refused(ledger, "quarantine_already_active",
             lambda: ledger.order_quarantine(person_id=f1, level="F1", prov=prov(occurred_at=identified)))
    # After the F1's isolation no new F2 through them.
    _refused(ledger, "exposure_after_isolation", lambda: ledger.record_contact(
        person_id=stranger, source_person_id=f1, level="F2", proximity="physical",
        exposed_at=datetime(2022, 1, 11, 3, tzinfo=UTC), prov=prov(occurred_at=datetime(2022, 1, 11, 4, tzinfo=UTC))))
    # F2 under 10696: no quarantine for F2 (provisional rule: the version has none).
    _refused(ledger, "no_quarantine_for_level",
             lambda: ledger.order_quarantine(person_id=f2, level="F2", prov=prov(occurred_at=identified)))

    ledger.follow_up_quarantine(person_id=f1, order_id=UUID(order["order_id"]), day=date(2022, 1, 11),
                                symptoms=["cough"], temperature_c=37.2, prov=prov())
    _refused(ledger, "follow_up_outside_order", lambda: ledger.follow_up_quarantine(
        person_id=f1, order_id=UUID(order["order_id"]), day=date(2022, 2, 11), symptoms=[], prov=prov()))
    with pytest.raises(Invalid):
        ledger.follow_up_quarantine(person_id=f1, order_id=UUID(order["order_id"]), day=date(2022, 1, 11),
                                    symptoms=["sneezing_loudly"], prov=prov())
    _refused(ledger, "quarantine_not_finished", lambda: ledger.release_quarantine(
        person_id=f1, order_id=UUID(order["order_id"]), released_on=date(2022, 1, 12), reason="completed",
        prov=prov()))
    ledger.release_quarantine(person_id=f1, order_id=UUID(order["order_id"]), released_on=date(2022, 1, 17),
                              reason="completed", prov=prov())
    _refused(ledger, "quarantine_already_released", lambda: ledger.release_quarantine(
        person_id=f1, order_id=UUID(order["order_id"]), released_on=date(2022, 1, 18), reason="completed",
        prov=prov()))
    assert ledger.person(f1).quarantines[order["order_id"]]["status"] == "released"
    assert not ledger.person(f1).in_quarantine(date(2022, 1, 17))
    # One order per contact: quarantine again needs a new exposure, recorded as a new contact.
    _refused(ledger, "quarantine_already_ordered",
             lambda: ledger.order_quarantine(person_id=f1, level="F1", prov=prov(occurred_at=identified)))
    # A month later the F1 meets another case: an F2 through that new exposure is not refused by the
    # earlier quarantine (the isolation that counts is the one for the exposure the F2 comes through).
    later = datetime(2022, 2, 10, 3, tzinfo=UTC)
    f0b, f2b = world.register_person(), world.register_person()
    confirm_case(world, lab, prov, f0b, later, "PCR-F0B")
    ledger.record_contact(person_id=f1, source_person_id=f0b, level="F1", proximity="physical",
                          exposed_at=later - timedelta(days=1), prov=prov(occurred_at=later + timedelta(hours=5)))
    ledger.record_contact(person_id=f2b, source_person_id=f1, level="F2", proximity="physical",
                          exposed_at=later - timedelta(hours=12), prov=prov(occurred_at=later + timedelta(hours=6)))

    # The F0 is isolated (provisional rule) and an override may not end before the start.
    _refused(ledger, "quarantine_end_before_start", lambda: ledger.order_quarantine(
        person_id=f0, level="F0", ends_on=date(2022, 1, 1), override_reason="provincial decision",
        prov=prov(occurred_at=confirmed)))
    f0_order = ledger.order_quarantine(person_id=f0, level="F0", prov=prov(occurred_at=confirmed)).ids
    assert ledger.person(f0).quarantines[f0_order["order_id"]]["setting"] == "facility"


def test_a_quarantined_f1_with_a_positive_rapid_test_is_a_case_outside_the_community(world, lab, prov, runtime):
    """An F1 under an active order who tests rapid positive is confirmed by the F1 rule of 11042/BYT-DP,
    as a non-community case (they were isolated), in the area of their address."""
    ledger = world.ledger
    f0, f1 = world.register_person(), world.register_person()
    confirmed = datetime(2022, 1, 10, 3, tzinfo=UTC)
    confirm_case(world, lab, prov, f0, confirmed, f"F1R-{world.tag}-0")
    identified = confirmed + timedelta(hours=5)
    ledger.record_contact(person_id=f1, source_person_id=f0, level="F1", proximity="physical",
                          exposed_at=confirmed - timedelta(days=1), prov=prov(occurred_at=identified))
    ledger.order_quarantine(person_id=f1, level="F1", prov=prov(occurred_at=identified))
    taken = confirmed + timedelta(days=2)
    sample = UUID(ledger.collect_sample(barcode=f"F1R-{world.tag}-1", method="rapid_antigen", subject_ids=[f1],
                                        facility_id=lab["centre"], prov=prov(occurred_at=taken)).ids["sample_id"])
    ledger.receive_sample(sample_id=sample, lab_id=lab["lab"], prov=prov(occurred_at=taken))
    answer = ledger.record_result(sample_id=sample, result="positive", prov=prov(occurred_at=taken)).ids
    assert answer["case"] == "confirmed"
    assert ledger.person(f1).active_case()["rule"] == "f1_rapid_positive"
    runtime.engine.catch_up()
    case = runtime.testing.case(answer["case_id"])
    assert case["rule"] == "f1_rapid_positive" and case["community"] is False
    assert case["province_code"] == PROVINCE


@pytest.mark.parametrize(("when", "policy_id", "vaccinated", "ends_on", "setting"), [
    (datetime(2021, 9, 1, 3, tzinfo=UTC), "5599/BYT-MT", True, "2021-09-14", "facility"),
    (datetime(2021, 9, 1, 3, tzinfo=UTC), "5599/BYT-MT", False, "2021-09-14", "facility"),
    (datetime(2022, 1, 10, 3, tzinfo=UTC), "10696/BYT-MT", True, "2022-01-16", "home"),
    (datetime(2022, 1, 10, 3, tzinfo=UTC), "10696/BYT-MT", False, "2022-02-06", "facility"),
    (datetime(2022, 3, 1, 3, tzinfo=UTC), "762/BYT-DP", True, "2022-03-05", "home"),
    (datetime(2022, 3, 1, 3, tzinfo=UTC), "762/BYT-DP", False, "2022-03-07", "home"),
])
def test_f1_order_under_each_policy(world, lab, prov, when, policy_id, vaccinated, ends_on, setting):
    """The order takes the version in force on the identification day and the contact's own doses that day."""
    ledger = world.ledger
    f0, f1 = world.register_person(), world.register_person()
    confirm_case(world, lab, prov, f0, when, "TR-P")
    if vaccinated:
        vaccinate(world, prov, f1, date(2021, 7, 20), date(2021, 8, 12) if policy_id != "10696/BYT-MT"
                  else date(2021, 11, 1))
    ledger.record_contact(person_id=f1, source_person_id=f0, level="F1", proximity="physical",
                          exposed_at=when - timedelta(hours=12), prov=prov(occurred_at=when + timedelta(hours=2)))
    order = ledger.order_quarantine(person_id=f1, level="F1", prov=prov()).ids
    stored = ledger.person(f1).quarantines[order["order_id"]]
    assert (order["policy_id"], stored["ends_on"], stored["setting"]) == (policy_id, ends_on, setting)


def test_1909_orders_no_f1_quarantine(world, lab, prov):
    ledger = world.ledger
    f0, f1 = world.register_person(), world.register_person()
    when = datetime(2022, 5, 2, 3, tzinfo=UTC)
    confirm_case(world, lab, prov, f0, when, "TR-1909")
    ledger.record_contact(person_id=f1, source_person_id=f0, level="F1", proximity="physical",
                          exposed_at=when - timedelta(hours=1), prov=prov(occurred_at=when))
    _refused(ledger, "no_quarantine_for_level", lambda: ledger.order_quarantine(person_id=f1, level="F1",
                                                                              prov=prov()))


def test_health_declarations(world, prov):
    ledger = world.ledger
    person = world.register_person()
    ledger.declare_health(person_id=person, kind="domestic", symptoms=["fever", "cough"],
                          travel=[{"country": "VN", "place": "Da Nang", "from": "2026-11-10", "to": "2026-11-12"}],
                          contact_history=[{"kind": "suspected_case", "on": "2026-11-11"}], prov=prov())
    entry = ledger.declare_health(person_id=person, kind="entry", symptoms=[], entry={
        "port_of_entry": "Noi Bai", "from_country": "KR", "flight": "VN417", "arrival_on": "2026-11-22"}, prov=prov())
    assert len(ledger.person(person).declarations) == 2 and entry.ids["declaration_id"]
    before = ledger.head()
    for kwargs, field in (({"kind": "entry", "symptoms": []}, "entry"),
                          ({"kind": "domestic", "symptoms": ["itchy"]}, "symptoms[0]"),
                          ({"kind": "entry", "symptoms": [], "entry": {"port_of_entry": "Noi Bai",
                            "from_country": "VN", "arrival_on": "2026-11-22"}}, "entry.from_country")):
        with pytest.raises(Invalid) as bad:
            ledger.declare_health(person_id=person, prov=prov(), **kwargs)
        assert bad.value.field == field
    assert ledger.head() == before


def test_tracing_projection_register_and_rebuild(world, lab, prov, runtime):
    """Exposures per case, the register's due tests and releases by day and province, declarations; processed in
    batches of 2 events, the `tracing` projection's digest equals its rebuild's."""
    ledger, engine = world.ledger, runtime.engine
    engine.batch_size = 2
    f0, f1, f1b = (world.register_person() for _ in range(3))
    when = datetime(2022, 3, 1, 3, tzinfo=UTC)
    case = confirm_case(world, lab, prov, f0, when, "TR-PROJ")
    for person in (f1, f1b):
        ledger.record_contact(person_id=person, source_person_id=f0, level="F1", proximity="within_2m", masked=False,
                              duration_minutes=3, exposed_at=when - timedelta(hours=3),
                              prov=prov(occurred_at=when + timedelta(hours=1)))
        engine.catch_up()
    order = ledger.order_quarantine(person_id=f1, level="F1", prov=prov()).ids["order_id"]
    other = ledger.order_quarantine(person_id=f1b, level="F1", prov=prov()).ids["order_id"]
    ledger.follow_up_quarantine(person_id=f1, order_id=UUID(order), day=date(2022, 3, 2), symptoms=[],
                                temperature_c=36.8, prov=prov())
    ledger.release_quarantine(person_id=f1b, order_id=UUID(other), released_on=date(2022, 3, 2),
                              reason="ordered_in_error", prov=prov())
    ledger.declare_health(person_id=f1, kind="domestic", symptoms=["fever"], prov=prov())
    engine.catch_up()

    contacts = runtime.tracing.contacts_of_case(case["case_id"])
    assert sorted(c["person_id"] for c in contacts) == sorted([str(f1), str(f1b)])
    assert contacts[0]["level"] == "F1" and contacts[0]["masked"] in (False, 0)
    # 762/BYT-DP, unvaccinated: 7 days, test on day 7 (7 Mar), release due from 7 Mar.
    assert runtime.tracing.register(on=date(2022, 3, 3)) == ([], None)
    [due], _ = runtime.tracing.register(on=date(2022, 3, 7), province_code=PROVINCE)
    assert due["order_id"] == order and due["test_due"] and due["release_due"]
    assert due["follow_ups"] == 1 and due["last_follow_up_on"] == date(2022, 3, 2)
    assert runtime.tracing.register(on=date(2022, 3, 7), province_code="79") == ([], None)
    [mine] = runtime.tracing.orders_of_person(f1)
    assert mine["policy_id"] == "762/BYT-DP" and mine["test_days"] == [date(2022, 3, 7)]
    assert runtime.tracing.orders_of_person(f1b)[0]["status"] == "released"
    [declared] = runtime.tracing.declarations_of_person(f1)
    assert declared["symptoms"] == ["fever"] and declared["entry"] is None

    live = engine.digest("tracing")
    assert engine.rebuild("tracing") == live
    assert engine.digest("tracing") == live
