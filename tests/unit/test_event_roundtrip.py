"""Every event class: an explicit `ledger.` topic, and a lossless round trip through the plain-JSON mapper.

The events are produced by real commands (one scenario that exercises every event class),
so a new event class fails here until the scenario produces it.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from types import NoneType, UnionType
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from ledger.domain import (
    AGGREGATES,
    AccessGrant,
    BreakGlass,
    CommandReceipt,
    Facility,
    IdentityKey,
    Person,
    Provenance,
    RecordAccess,
    StockCard,
    Transfer,
    VaccineLot,
)
from ledger.domain.base import new_event
from ledger.domain.person import LOCAL_TZ
from ledger.mapper import PlainJSONMapper

NOW = datetime(2021, 11, 15, 3, 0, tzinfo=UTC)
PROVENANCE_FIELDS = ("actor", "org", "source", "client_ref", "occurred_at")


def prov(client_ref: str | None = None, occurred_at: datetime | None = None) -> Provenance:
    return Provenance(actor="nurse-7", org="hn-cdc", source="app", client_ref=client_ref, occurred_at=occurred_at)


def event_classes() -> dict[type, type]:
    """Every event class nested in a ledger aggregate (or a mixin of one), with the aggregate (the
    library's own bases excluded)."""
    found: dict[type, type] = {}
    for aggregate in AGGREGATES:
        for name in dir(aggregate):
            value = getattr(aggregate, name)
            if (
                inspect.isclass(value)
                and issubclass(value, CanMutateAggregate)
                and name != "Event"
                and value.__module__.startswith("ledger.")
            ):
                found.setdefault(value, aggregate)
    return found


EVENT_OWNERS = event_classes()
EVENT_CLASSES = list(EVENT_OWNERS)


def run_scenario() -> list[tuple[object, list]]:
    """Run commands that produce every event class; returns (aggregate, its events) pairs."""
    p = prov()
    district = Facility.register(code="DC-001", name="TTYT Ba Dinh", kind="district_centre", province_code="01",
                                 district_code="001", ward_code=None, parent=None, prov=p)
    point = Facility.register(code="VP-00001", name="TYT Phuc Xa", kind="vaccination_point", province_code="01",
                              district_code="001", ward_code="00001", parent=district, prov=p)
    lot = VaccineLot.register(vaccine="pfizer", manufacturer="Pfizer", lot_number="FK1234",
                              expiry=date(2022, 1, 31), doses_per_vial=6, prov=p)
    lot.extend_expiry(expiry=date(2022, 4, 30), document="1234/QLD-DK", prov=p)
    other_lot = VaccineLot.register(vaccine="astrazeneca", manufacturer="SK Bioscience", lot_number="A1",
                                    expiry=date(2022, 2, 28), doses_per_vial=10, prov=p)
    other_lot.recall(reason="quality_defect", note="particles", prov=p)

    source = StockCard.open(lot_id=lot.id, facility_id=district.id, prov=p)
    destination = StockCard.open(lot_id=lot.id, facility_id=point.id, prov=p)
    source.receive(quantity=600, supplier_ref="VNVC-PO-9", prov=prov(client_ref="rcv-1"))
    source.adjust(quantity=6, direction="out", reason="cold_chain_failure", note="fridge 4", prov=p)
    counted = source.count(counted=590, prov=p)
    source.reverse(movement_id=counted, reason="recount", prov=p)

    shipped = Transfer.dispatch(document_number="PX-2021/77", source_id=district.id, destination_id=point.id,
                                lines=[{"lot_id": lot.id, "quantity": 120}], prov=p)
    source.dispatch(quantity=120, transfer_id=shipped.id, prov=p)
    [line] = shipped.receive(lines=[{"lot_id": str(lot.id), "quantity": 114, "discrepancy_reason": "damaged"}], prov=p)
    destination.receive(quantity=line["received"], transfer_id=shipped.id, prov=p)
    cancelled = Transfer.dispatch(document_number="PX-2021/78", source_id=district.id, destination_id=point.id,
                                  lines=[{"lot_id": lot.id, "quantity": 12}], prov=p)
    source.dispatch(quantity=12, transfer_id=cancelled.id, prov=p)
    cancelled.cancel(reason="truck broke down", prov=p)
    source.return_cancelled(quantity=12, transfer_id=cancelled.id, prov=p)

    person = Person.register(
        person_id=uuid4(), id_type="cccd", id_number="001090012345",
        details={"full_name": "Tran Thi B", "date_of_birth": date(1985, 2, 3), "sex": "female", "phone": "0912345678",
                 "address": {"line": "5 Hang Bai", "province_code": "01", "district_code": "001",
                             "ward_code": "00001"}},
        prov=p, now=NOW,
    )
    key = IdentityKey.claim(id_type="cccd", id_number="001090012345", person_id=person.id, prov=p)
    person.correct_details(changes={"full_name": "Tran Thi Bich"}, reason="wrong_name", prov=p, now=NOW)
    person.correct_details(changes={"date_of_birth": date(1985, 3, 2)}, reason="wrong_dob", prov=p, now=NOW)
    person.record_verification(result="mismatch", register_ref="CSDLQG-1", mismatched_fields=["phone"], prov=p)
    person.register_for_vaccination(priority_group="teacher", preferred_facility_id=point.id, prov=p)
    person.approve_vaccination(province_code="01", district_code="001", district_facility_id=district.id, prov=p)

    first_at = (NOW - timedelta(days=30)).astimezone(LOCAL_TZ)
    screening_id, _ = person.screen(
        facility_id=point.id, vitals={"temperature_c": 36.8, "pulse_per_min": 104}, answers={"acute_illness": False},
        outcome=None, observation_minutes=60, prov=prov(occurred_at=first_at), now=NOW,
    )
    first = person.administer_dose(
        vaccine="pfizer", lot_id=lot.id, lot_number=lot.lot_number, facility_id=point.id, screening_id=screening_id,
        kind=None, interval_override=None, prov=prov(client_ref="dose-1", occurred_at=first_at), now=NOW,
    )
    destination.administer(dose_id=first, person_id=person.id, prov=prov(occurred_at=first_at))
    person.complete_observation(dose_id=first, minutes=60, reactions=["sore arm"], prov=p)
    aefi = person.report_adverse_event(dose_id=first, severity="serious", symptoms=["anaphylaxis"],
                                       onset_at=first_at + timedelta(minutes=20), prov=p, now=NOW)
    person.classify_adverse_event(aefi_id=aefi, causality="vaccine_product_related", note="council 12/11", prov=p)
    person.correct_dose(dose_id=first, administered_at=first_at - timedelta(days=1), lot=None, reason="wrong_date",
                        prov=p, now=NOW)
    person.screen(facility_id=point.id, vitals={}, answers={}, outcome="eligible", observation_minutes=None,
                  prov=p, now=NOW)
    second = person.administer_dose(
        vaccine="pfizer", lot_id=lot.id, lot_number=lot.lot_number, facility_id=point.id, screening_id=None,
        kind="primary", interval_override={"reason": "outbreak_response", "note": None}, prov=p, now=NOW,
    )
    destination.administer(dose_id=second, person_id=person.id, prov=p)
    person.void_dose(dose_id=second, reason="entered_in_error", note="wrong person", prov=p)
    destination.reverse_consumption(dose_id=second, reason="entered_in_error", prov=p)

    duplicate = Person.register(
        person_id=uuid4(), id_type="none", id_number=None,
        details={"full_name": "Tran Thi Bich", "date_of_birth": date(1985, 3, 2), "sex": "female",
                 "address": {"province_code": "01"}},
        prov=p, now=NOW,
    )
    duplicate.merge_into(person, reason="same person", prov=p)
    duplicate.revert_merge(person, prov=p)
    key.release(person_id=key.person_id, prov=p)
    key.reclaim(person_id=duplicate.id, prov=p)

    receipt_prov = prov(client_ref="dose-1")
    command = CommandReceipt.issue(command="administer_dose", request_digest="sha256:ab12",
                                   result={"dose_id": str(first), "position": 42}, prov=receipt_prov)

    grant = AccessGrant.issue(
        grant_id=uuid4(), subject="nurse-7", org="VP-HK-01", role="vaccinator", scope={"facility_id": str(point.id)},
        secret_sha256="ab" * 32, expires_at=NOW + timedelta(days=90), label="tablet 3", prov=p, now=NOW,
    )
    grant.revoke(reason="tablet lost", prov=p)
    read = RecordAccess.read(access_id=uuid4(), person_id=person.id, grant_id=grant.id, role="provincial",
                             route="get_person", purpose="care", break_glass_id=None, prov=p)
    glass = BreakGlass.open(person_id=person.id, grant_id=grant.id, role="provincial", reason="patient unconscious",
                            hours=3, prov=p, now=NOW)
    glass.reopen(reason="readmitted the next day", hours=1, prov=p, now=NOW + timedelta(days=1))

    more: list = []
    # -- testing and cases --
    from ledger.domain import Sample
    from ledger.policies.testing import pool_policy_on

    lab = Facility.register(code="LAB-001", name="CDC lab", kind="lab", province_code="01", district_code=None,
                            ward_code=None, parent=None, prov=p)
    household = [person, duplicate]
    pool = Sample.collect(barcode="HH-0001", method="rt_pcr", subject_ids=[m.id for m in household],
                          pool_kind="household", facility_id=district.id, symptom_onset=None,
                          policy=pool_policy_on(NOW.date()), retest_of=None, epi_link=None, prov=p, now=NOW)
    pool.receive(lab_id=lab.id, prov=p, now=NOW)
    pool.record_result(result="positive", ct_value=31.5, prov=p, now=NOW)
    for member in household:
        member.require_retest(pool_sample_id=pool.id, pool_kind="household", pool_collected_at=pool.collected_at,
                              prov=p)
    pool.correct_result(result="negative", ct_value=None, reason="transcription_error", prov=p, now=NOW)
    duplicate.clear_retest(pool_sample_id=pool.id, reason="pool_result_corrected", prov=p)
    single = Sample.collect(barcode="IND-0001", method="rt_pcr", subject_ids=[person.id], pool_kind=None,
                            facility_id=district.id, symptom_onset=date(2021, 11, 12), policy=pool_policy_on(NOW.date()),
                            retest_of=None, epi_link={"kind": "declared", "ref": "market"}, prov=p, now=NOW)
    single.receive(lab_id=lab.id, prov=p, now=NOW)
    single.record_result(result="positive", ct_value=22.0, prov=p, now=NOW)
    person.note_result(sample_id=single.id, method="rt_pcr", result="positive", ct_value=22.0,
                       collected_at=single.collected_at, symptom_onset=single.symptom_onset, epi_link=single.epi_link,
                       change="recorded", at=NOW, prov=p)
    single.reject_result(reason="wrong_subject", prov=p, now=NOW)
    person.note_result(sample_id=single.id, method="rt_pcr", result=None, ct_value=None,
                       collected_at=single.collected_at, symptom_onset=single.symptom_onset, epi_link=single.epi_link,
                       change="rejected", at=NOW, prov=p)
    more += [lab, pool, single]
    # -- tracing --
    from uuid import uuid4 as _uuid4

    from ledger.policies.quarantine import compute_order, quarantine_policy_on

    person.note_result(sample_id=_uuid4(), method="rt_pcr", result="positive", ct_value=20.0,
                       collected_at=NOW - timedelta(hours=2), symptom_onset=None, epi_link=None, change="recorded",
                       at=NOW, prov=p)
    duplicate.identify_contact(source=person, level="F1", proximity="within_2m", masked=False, duration_minutes=5,
                               exposed_at=NOW - timedelta(hours=1), checkin_id=None, now=NOW, prov=p)
    f1_ref, f1_day = duplicate.identification("F1")
    f1_day = NOW.date()  # the scenario's provenance carries no business time: take the F1 rule of its day
    computed = compute_order(quarantine_policy_on(f1_day), level="F1", day=f1_day, doses=duplicate.dose_facts(),
                             recovered_on=[])
    order_id = duplicate.order_quarantine(level="F1", basis_ref=f1_ref, computed=computed, ends_on=None,
                                          override_reason=None, prov=p)
    duplicate.follow_up_quarantine(order_id=order_id, day=f1_day, symptoms=["cough"], temperature_c=37.0,
                                   sample_id=None, note=None, prov=p)
    duplicate.release_quarantine(order_id=order_id, released_on=computed.ends_on + timedelta(days=1),
                                 reason="completed", prov=p)
    duplicate.declare_health(kind="entry", symptoms=[], travel=[], contact_history=[], entry={
        "port_of_entry": "Noi Bai", "from_country": "KR", "flight": "VN417", "arrival_on": "2021-11-14"},
        now=NOW, prov=p)
    # -- check-ins --
    from ledger.domain import CheckIn
    from ledger.domain.checkin import checkin_id

    venue = Facility.register(code="CAFE-001", name="Cafe", kind="venue", province_code="01", district_code="001",
                              ward_code="00001", parent=None, prov=p)
    scanned = CheckIn.record(checkin_id=checkin_id("MOH", "scan-1"), venue_id=venue.id, person_id=person.id,
                             checked_in_at=NOW - timedelta(minutes=3), mode="citizen_scan", prov=p)
    more += [venue, scanned]
    # -- risk map --
    from ledger.domain.population import AreaPopulation
    ward_population = AreaPopulation.record(area_level="ward", area_code="00001", province_code="01", year=2021,
                                            total=10_000, aged_18_plus=7_500, aged_50_plus=2_000,
                                            data_source="GSO 2021 estimate", prov=p)
    ward_population.revise(province_code="01", total=10_200, aged_18_plus=7_600, aged_50_plus=2_050,
                           data_source="GSO 2021 estimate (corrected)", prov=p)
    more += [ward_population]

    aggregates = [district, point, lot, other_lot, source, destination, shipped, cancelled, person, key, duplicate,
                  command, grant, read, glass, *more]
    return [(a, a.collect_events()) for a in aggregates]


@pytest.fixture(scope="module")
def scenario() -> list[tuple[object, list]]:
    return run_scenario()


@pytest.fixture(scope="module")
def events(scenario) -> list:
    return [e for _, evs in scenario for e in evs]


def typed_fields(cls: type) -> dict[str, type]:
    """Top-level fields whose type the mapper must restore from a JSON string."""
    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint) if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union else ()
        base = next((a for a in args if a is not NoneType), hint) if args else hint
        if base in (UUID, date, datetime):
            out[name] = base
    return out


def no_type_tags(value: object) -> bool:
    if isinstance(value, dict):
        return "_type_" not in value and all(no_type_tags(v) for v in value.values())
    if isinstance(value, list):
        return all(no_type_tags(v) for v in value)
    return True


def test_there_are_event_classes_on_every_aggregate():
    """Discovery finds the events of every aggregate (a guard on the discovery itself)."""
    assert set(EVENT_OWNERS.values()) == set(AGGREGATES)
    assert len(EVENT_CLASSES) == len(set(EVENT_CLASSES)) >= 35


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_event_class_has_an_explicit_ledger_topic(cls):
    """Each event class defines its own TOPIC under `ledger.`, which is what is stored and resolves back to it."""
    definer = next(c for c in cls.__mro__ if "TOPIC" in vars(c))
    assert definer.__qualname__ == cls.__qualname__, f"{cls.__qualname__} inherits its TOPIC from {definer}"
    assert cls.TOPIC.startswith("ledger.")
    assert get_topic(cls) == cls.TOPIC
    assert resolve_topic(cls.TOPIC) is cls


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__qualname__)
def test_every_event_class_says_what_happened(cls):
    """Each event class carries a one-line docstring (events are the permanent record)."""
    definer = next(c for c in cls.__mro__ if "TOPIC" in vars(c))
    assert definer.__doc__ and definer.__doc__.strip()


def test_topics_are_unique():
    """No two event classes, and no event class and aggregate, share a topic."""
    topics = [cls.TOPIC for cls in EVENT_CLASSES] + [a.TOPIC for a in AGGREGATES]
    assert len(topics) == len(set(topics))
    assert all(a.TOPIC.startswith("ledger.") for a in AGGREGATES)


def test_the_scenario_produces_every_event_class(events):
    """The round-trip scenario covers every event class, so a new one must be added to it."""
    produced = {type(e) for e in events}
    missing = sorted(c.__qualname__ for c in set(EVENT_CLASSES) - produced)
    assert missing == []


def test_every_event_round_trips_through_the_mapper(events):
    """to_stored_event then to_domain_event gives back an equal event of the same class, types restored."""
    mapper = PlainJSONMapper()
    for event in events:
        stored = mapper.to_stored_event(event)
        assert stored.topic == type(event).TOPIC
        restored = mapper.to_domain_event(stored)
        assert type(restored) is type(event)
        assert restored.__dict__ == event.__dict__, type(event).__qualname__
        for name, kind in typed_fields(type(event)).items():
            value = getattr(restored, name)
            assert value is None or isinstance(value, kind), (type(event).__qualname__, name, value)
            if kind is date:
                assert value is None or type(value) is date, (type(event).__qualname__, name, value)


def test_stored_state_is_plain_json_with_provenance(events):
    """Stored state is plain JSON (no `_type_` tags), without the originator, and with every provenance field."""
    mapper = PlainJSONMapper()
    for event in events:
        state = orjson.loads(mapper.to_stored_event(event).state)
        assert no_type_tags(state), type(event).__qualname__
        assert "originator_id" not in state and "originator_version" not in state
        for field in PROVENANCE_FIELDS:
            assert field in state, (type(event).__qualname__, field)
        assert (state["actor"], state["org"], state["source"]) == ("nurse-7", "hn-cdc", "app")


def test_provenance_values_survive_the_round_trip(events):
    """client_ref and occurred_at given to a command are on its event, and come back typed from storage."""
    mapper = PlainJSONMapper()
    with_ref = [e for e in events if e.client_ref == "dose-1"]
    assert {type(e) for e in with_ref} == {Person.DoseAdministered, CommandReceipt.Issued}
    backdated = [e for e in events if e.occurred_at is not None]
    assert backdated
    for event in backdated:
        restored = mapper.to_domain_event(mapper.to_stored_event(event))
        assert restored.occurred_at == event.occurred_at
        assert restored.occurred_at.utcoffset() == timedelta(hours=7)


def test_replay_of_stored_events_rebuilds_each_aggregate(scenario):
    """Aggregates rebuilt from their stored (mapped) events equal the ones the commands changed."""
    mapper = PlainJSONMapper()
    for aggregate, evs in scenario:
        stored = [mapper.to_stored_event(e) for e in evs]
        rebuilt = reduce(lambda a, e: e.mutate(a), [mapper.to_domain_event(s) for s in stored], None)
        assert type(rebuilt) is type(aggregate)
        assert vars(rebuilt) == vars(aggregate), type(aggregate).__name__


def test_events_built_by_commands_are_what_their_dataclass_would_build(events):
    """Commands build events without the dataclass `__init__` (`new_event`): the same class, the
    same fields in the same order (so the same stored JSON), and frozen like the real thing."""
    for event in events:
        real = type(event)(**event.__dict__)
        assert list(event.__dict__.items()) == list(real.__dict__.items()), type(event).__qualname__
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.actor = "someone else"


def test_new_event_refuses_what_the_dataclass_refuses(events):
    """Attributes missing or unknown, or an id that is not a UUID, get the dataclass's own errors."""
    event = next(e for e in events if isinstance(e, Person.DoseAdministered))
    attrs = dict(event.__dict__)
    assert new_event(type(event), dict(attrs)) == event
    missing = {k: v for k, v in attrs.items() if k != "lot_id"}
    with pytest.raises(TypeError, match="lot_id"):
        new_event(type(event), missing)
    with pytest.raises(TypeError, match="colour"):
        new_event(type(event), {**missing, "colour": "red"})
    with pytest.raises(TypeError, match="non-UUID"):
        new_event(type(event), {**attrs, "originator_id": str(event.originator_id)})
