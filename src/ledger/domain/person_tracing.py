"""The person's tracing record: contacts (F1, F2), quarantine orders and their follow-up, and
health declarations. Mixed into `ledger.domain.person.Person`.

The person holds the facts the rules need (DESIGN: Person holds quarantine orders): whether they
are a recorded contact, of which case and through whom, and their orders. An order stores the
values its policy computed on the identification day (`ledger.policies.quarantine`), so changing
today's policy never changes a past order.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from ..policies.quarantine import Computed
from .base import MixinEvent, Provenance
from .codes import (
    CONTACT_LEVELS,
    CONTACT_PROXIMITIES,
    DECLARATION_KINDS,
    DECLARED_CONTACT_KINDS,
    QUARANTINE_RELEASE_REASONS,
    SYMPTOMS,
    require_code,
)
from .errors import Invalid, NotFound, RuleViolation

if TYPE_CHECKING:
    from .person import Person

#: An F1 counts as a contact for this many days after the exposure (`is_contact`).
CONTACT_WINDOW_DAYS = 14
#: Masked exposure within 2 m / in a closed space makes an F1 from this many minutes (DOMAIN §5).
MASKED_CLOSE_MINUTES = 15
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_FLIGHT = re.compile(r"^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$")


def _day(moment: datetime) -> date:
    from .person import local_day

    return local_day(moment)


def check_symptoms(field: str, symptoms: object) -> list[str]:
    if not isinstance(symptoms, list):
        raise Invalid(field, f"{field} must be a list of symptom codes")
    return sorted({require_code(f"{field}[{i}]", s, SYMPTOMS) for i, s in enumerate(symptoms)})


class PersonTracing:
    """Events and commands of a person's tracing record."""

    #: State this mixin adds to a person, created on first use (name -> factory): people recorded,
    #: or snapshotted, before it existed have none of it.
    STATE: dict = {"contacts": dict, "quarantines": dict, "declarations": dict}

    class ContactIdentified(MixinEvent):
        """The person was identified as a close contact (F1) of a case, or a contact of an F1 (F2)."""

        TOPIC = "ledger.person.ContactIdentified"
        contact_id: UUID
        level: str
        case_id: UUID
        source_person_id: UUID
        proximity: str
        masked: bool | None
        duration_minutes: int | None
        exposed_at: datetime
        checkin_id: UUID | None

        def apply(self, person: Person) -> None:
            person.contacts[str(self.contact_id)] = {
                "level": self.level,
                "case_id": str(self.case_id),
                "source_person_id": str(self.source_person_id),
                "exposed_at": self.exposed_at.isoformat(),
                "identified_at": (self.occurred_at or self.timestamp).isoformat(),
            }

    class QuarantineOrdered(MixinEvent):
        """A quarantine (or isolation, for an F0) was ordered with the values its policy computed that day."""

        TOPIC = "ledger.person.QuarantineOrdered"
        order_id: UUID
        level: str
        #: The case (F0) or contact record (F1, F2) the order is for.
        basis_ref: UUID
        policy_id: str
        #: The vaccination and recovery facts the policy used.
        basis: dict
        starts_on: date
        ends_on: date
        monitoring_ends_on: date
        test_days: list
        setting: str
        provisional: bool
        override_reason: str | None

        def apply(self, person: Person) -> None:
            person.quarantines[str(self.order_id)] = {
                "order_id": str(self.order_id),
                "level": self.level,
                "basis_ref": str(self.basis_ref),
                "policy_id": self.policy_id,
                "starts_on": self.starts_on.isoformat(),
                "ends_on": self.ends_on.isoformat(),
                "monitoring_ends_on": self.monitoring_ends_on.isoformat(),
                "test_days": list(self.test_days),
                "setting": self.setting,
                "status": "active",
                "released_on": None,
                "release_reason": None,
                "follow_ups": 0,
            }

    class QuarantineFollowedUp(MixinEvent):
        """A day's check of a person under an order: symptoms, temperature, optionally a test taken."""

        TOPIC = "ledger.person.QuarantineFollowedUp"
        order_id: UUID
        day: date
        symptoms: list
        temperature_c: float | None
        sample_id: UUID | None
        note: str | None

        def apply(self, person: Person) -> None:
            person.quarantines[str(self.order_id)]["follow_ups"] += 1

    class QuarantineReleased(MixinEvent):
        """The person was released from an order (with the reason)."""

        TOPIC = "ledger.person.QuarantineReleased"
        order_id: UUID
        released_on: date
        reason: str

        def apply(self, person: Person) -> None:
            order = person.quarantines[str(self.order_id)]
            order["status"] = "released"
            order["released_on"] = self.released_on.isoformat()
            order["release_reason"] = self.reason

    class HealthDeclared(MixinEvent):
        """The person filed a domestic or entry health declaration."""

        TOPIC = "ledger.person.HealthDeclared"
        declaration_id: UUID
        kind: str
        symptoms: list
        travel: list
        contact_history: list
        entry: dict | None

        def apply(self, person: Person) -> None:
            person.declarations[str(self.declaration_id)] = {
                "kind": self.kind, "declared_at": (self.occurred_at or self.timestamp).isoformat(),
            }

    # -- queries --------------------------------------------------------------------------------------
    # They read the state without creating it (`_read`): a query must leave the aggregate as a replay
    # of its events would build it.

    def _read(self: Any, name: str) -> dict:
        return self.__dict__.get(name, {})

    def is_contact(self: Any, level: str, at: datetime) -> bool:
        """Whether the person is a contact of `level` exposed within the 14 days before `at`."""
        for contact in self._read("contacts").values():
            exposed = datetime.fromisoformat(contact["exposed_at"])
            if contact["level"] == level and at - timedelta(days=CONTACT_WINDOW_DAYS) <= exposed <= at:
                return True
        return False

    def in_quarantine(self: Any, on: date) -> bool:
        """Whether an order holds the person on `on` (from its start to its end, or to its release)."""
        for order in self._read("quarantines").values():
            if not date.fromisoformat(order["starts_on"]) <= on <= date.fromisoformat(order["ends_on"]):
                continue
            released = order.get("released_on")
            if order["status"] == "active" or (released and on < date.fromisoformat(released)):
                return True
        return False

    def active_quarantine(self: Any) -> dict | None:
        """The order not yet released, if any (one at a time)."""
        return next((o for o in self._read("quarantines").values() if o["status"] == "active"), None)

    def latest_contact(self: Any, level: str) -> tuple[str, dict] | None:
        found = [(k, c) for k, c in self._read("contacts").items() if c["level"] == level]
        return max(found, key=lambda kc: kc[1]["exposed_at"]) if found else None

    def isolated_since(self: Any, contact_id: str) -> date | None:
        """The start of the quarantine ordered for one of the person's contacts (their isolation as that
        contact), if any: an order for an earlier exposure says nothing about this one."""
        starts = [date.fromisoformat(o["starts_on"]) for o in self._read("quarantines").values()
                  if o["level"] != "F0" and o.get("basis_ref") == contact_id]
        return min(starts) if starts else None

    # -- commands ---------------------------------------------------------------------------------------

    def identify_contact(
        self: Any, *, source: Person, level: str, proximity: str, masked: bool | None, duration_minutes: int | None,
        exposed_at: datetime, checkin_id: UUID | None, now: datetime, prov: Provenance,
    ) -> UUID:
        """Record the person as an F1 of `source`'s active case, or as an F2 through `source`, an F1."""
        require_code("level", level, CONTACT_LEVELS)
        require_code("proximity", proximity, CONTACT_PROXIMITIES)
        if masked is not None and not isinstance(masked, bool):
            raise Invalid("masked", "masked must be true, false or null")
        if duration_minutes is not None and (
            isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int)
            or not 0 <= duration_minutes <= 24 * 60 * 14
        ):
            raise Invalid("duration_minutes", "duration_minutes must be a whole number of minutes (0 to 14 days)")
        if not isinstance(exposed_at, datetime) or exposed_at.tzinfo is None:
            raise Invalid("exposed_at", "exposed_at must be a date-time with a time zone")
        if exposed_at > prov.when(now) + timedelta(minutes=5):
            raise Invalid("exposed_at", "exposed_at may not be in the future")
        if proximity != "physical":
            if masked is None or duration_minutes is None:
                raise Invalid("masked" if masked is None else "duration_minutes",
                              "masked and duration_minutes are required unless the contact was physical")
            if masked and duration_minutes < MASKED_CLOSE_MINUTES:
                raise RuleViolation("contact_not_close",
                                    f"a masked contact is close from {MASKED_CLOSE_MINUTES} minutes")
        if source.id == self.id:
            raise RuleViolation("contact_is_source", "a person is not their own contact")
        if level == "F1":
            case = source.active_case()
            if case is None:
                raise RuleViolation("source_not_case_or_contact", "an F1's source must be an active case (F0)")
            start, end = (datetime.fromisoformat(case[k]) for k in ("infectious_from", "confirmed_at"))
            if not start <= exposed_at <= end:
                raise RuleViolation("exposure_outside_infectious_period",
                                    "the exposure is outside the case's infectious period",
                                    infectious_from=case["infectious_from"], confirmed_at=case["confirmed_at"])
            case_id = case["case_id"]
        else:
            found = source.latest_contact("F1")
            if found is None:
                raise RuleViolation("source_not_case_or_contact", "an F2's source must be an F1")
            case_id = found[1]["case_id"]
            isolated = source.isolated_since(found[0])
            if exposed_at < datetime.fromisoformat(found[1]["exposed_at"]):
                raise RuleViolation("exposure_before_source_exposure",
                                    "the exposure is before the F1 was exposed")
            if isolated is not None and _day(exposed_at) >= isolated:
                raise RuleViolation("exposure_after_isolation", "the F1 was already isolated",
                                    isolated_on=isolated.isoformat())
        for existing in self._read("contacts").values():
            if existing["case_id"] == case_id and existing["source_person_id"] == str(source.id) \
                    and existing["level"] == level:
                raise RuleViolation("contact_already_recorded", "this contact is already recorded")
        contact_id = uuid4()
        self._record(
            self.ContactIdentified, prov, contact_id=contact_id, level=level, case_id=UUID(case_id),
            source_person_id=source.id, proximity=proximity,
            masked=None if proximity == "physical" and masked is None else masked,
            duration_minutes=duration_minutes, exposed_at=exposed_at, checkin_id=checkin_id,
        )
        return contact_id

    def identification(self: Any, level: str) -> tuple[UUID, date]:
        """What an order of `level` is for, and the day the person was identified (the policy's day)."""
        if level == "F0":
            case = self.active_case()
            if case is None:
                raise RuleViolation("no_active_case", "an F0 order needs an active case")
            return UUID(case["case_id"]), _day(datetime.fromisoformat(case["confirmed_at"]))
        found = self.latest_contact(level)
        if found is None:
            raise RuleViolation("not_a_contact", f"the person is not a recorded {level}")
        return UUID(found[0]), _day(datetime.fromisoformat(found[1]["identified_at"]))

    def order_quarantine(
        self: Any, *, level: str, basis_ref: UUID, computed: Computed, ends_on: date | None,
        override_reason: str | None, prov: Provenance,
    ) -> UUID:
        if self.active_quarantine() is not None:
            raise RuleViolation("quarantine_already_active", "the person already has an active order: release it first")
        # One order per case or contact: a new exposure is a new contact. An order released as made in
        # error does not count, so the right one can follow it.
        if any(o.get("basis_ref") == str(basis_ref) and o.get("release_reason") != "ordered_in_error"
               for o in self._read("quarantines").values()):
            raise RuleViolation("quarantine_already_ordered",
                                f"an order was already made for this {'case' if level == 'F0' else 'contact'}")
        end = computed.ends_on
        if ends_on is not None:
            if not isinstance(override_reason, str) or not 3 <= len(override_reason.strip()) <= 500:
                raise Invalid("override_reason", "override_reason (3-500 characters) is required with ends_on")
            if ends_on < computed.starts_on:
                raise RuleViolation("quarantine_end_before_start", "a quarantine cannot end before it starts")
            end = ends_on
        order_id = uuid4()
        self._record(
            self.QuarantineOrdered, prov, order_id=order_id, level=level, basis_ref=basis_ref,
            policy_id=computed.policy_id, basis=computed.basis, starts_on=computed.starts_on, ends_on=end,
            monitoring_ends_on=max(computed.monitoring_ends_on, end),
            test_days=[d.isoformat() for d in computed.test_days if d <= end], setting=computed.setting,
            provisional=computed.provisional, override_reason=override_reason if ends_on is not None else None,
        )
        return order_id

    def _order(self: Any, order_id: UUID) -> dict:
        order = self._read("quarantines").get(str(order_id))
        if order is None:
            raise NotFound("quarantine order", order_id)
        return order

    def follow_up_quarantine(
        self: Any, *, order_id: UUID, day: date, symptoms: list, temperature_c: float | None,
        sample_id: UUID | None, note: str | None, prov: Provenance,
    ) -> None:
        order = self._order(order_id)
        if not isinstance(day, date) or isinstance(day, datetime):
            raise Invalid("day", "day must be a date")
        symptoms = check_symptoms("symptoms", symptoms)
        if temperature_c is not None and (
            isinstance(temperature_c, bool) or not isinstance(temperature_c, int | float)
            or not 30.0 <= temperature_c <= 45.0
        ):
            raise Invalid("temperature_c", "temperature_c must be between 30 and 45")
        if note is not None and (not isinstance(note, str) or len(note) > 1000):
            raise Invalid("note", "note must be at most 1000 characters")
        if order["status"] == "released":
            raise RuleViolation("quarantine_already_released", "the order was released")
        if not date.fromisoformat(order["starts_on"]) <= day <= date.fromisoformat(order["monitoring_ends_on"]):
            raise RuleViolation("follow_up_outside_order", "the day is outside the order's quarantine and monitoring")
        self._record(self.QuarantineFollowedUp, prov, order_id=order_id, day=day, symptoms=symptoms,
                     temperature_c=None if temperature_c is None else float(temperature_c), sample_id=sample_id,
                     note=note)

    def release_quarantine(self: Any, *, order_id: UUID, released_on: date, reason: str, prov: Provenance) -> None:
        order = self._order(order_id)
        if not isinstance(released_on, date) or isinstance(released_on, datetime):
            raise Invalid("released_on", "released_on must be a date")
        require_code("reason", reason, QUARANTINE_RELEASE_REASONS)
        if order["status"] == "released":
            raise RuleViolation("quarantine_already_released", "the order was already released")
        if released_on < date.fromisoformat(order["starts_on"]):
            raise RuleViolation("release_before_start", "a release cannot precede the order's start")
        if reason == "completed" and released_on <= date.fromisoformat(order["ends_on"]):
            raise RuleViolation("quarantine_not_finished", "a completed quarantine is released after its end day")
        self._record(self.QuarantineReleased, prov, order_id=order_id, released_on=released_on, reason=reason)

    def declare_health(
        self: Any, *, kind: str, symptoms: list, travel: list, contact_history: list, entry: dict | None,
        now: datetime, prov: Provenance,
    ) -> UUID:
        require_code("kind", kind, DECLARATION_KINDS)
        symptoms = check_symptoms("symptoms", symptoms)
        today = _day(prov.when(now))
        travel = _check_travel(travel, today)
        contact_history = _check_contact_history(contact_history, today)
        if kind == "entry":
            entry = _check_entry(entry, prov.when(now))
        elif entry is not None:
            raise Invalid("entry", "entry fields belong to an entry declaration only")
        declaration_id = uuid4()
        self._record(self.HealthDeclared, prov, declaration_id=declaration_id, kind=kind, symptoms=symptoms,
                     travel=travel, contact_history=contact_history, entry=entry)
        return declaration_id


def _iso_day(field: str, value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(field, f"{field} must be a date (YYYY-MM-DD)") from None


def _check_travel(travel: object, today: date) -> list[dict]:
    """Places visited in the last 14 days: {country (ISO 3166 alpha-2), place, from, to}."""
    if not isinstance(travel, list) or len(travel) > 50:
        raise Invalid("travel", "travel must be a list (at most 50 places)")
    out = []
    for i, item in enumerate(travel):
        f = f"travel[{i}]"
        if not isinstance(item, dict):
            raise Invalid(f, f"{f} must be an object")
        country = item.get("country")
        if not isinstance(country, str) or not _COUNTRY.match(country):
            raise Invalid(f"{f}.country", "country must be an ISO 3166 alpha-2 code")
        place = item.get("place")
        if place is not None and (not isinstance(place, str) or len(place) > 200):
            raise Invalid(f"{f}.place", "place must be at most 200 characters")
        start, end = _iso_day(f"{f}.from", item.get("from")), _iso_day(f"{f}.to", item.get("to"))
        if not start <= end <= today:
            raise Invalid(f"{f}.to", "a stay runs from `from` to `to`, not after today")
        out.append({"country": country, "place": place, "from": start.isoformat(), "to": end.isoformat()})
    return out


def _check_contact_history(history: object, today: date) -> list[dict]:
    """Declared contacts in the last 14 days: {kind, on, note}."""
    if not isinstance(history, list) or len(history) > 50:
        raise Invalid("contact_history", "contact_history must be a list (at most 50 items)")
    out = []
    for i, item in enumerate(history):
        f = f"contact_history[{i}]"
        if not isinstance(item, dict):
            raise Invalid(f, f"{f} must be an object")
        kind = require_code(f"{f}.kind", item.get("kind"), DECLARED_CONTACT_KINDS)
        on = _iso_day(f"{f}.on", item.get("on"))
        if on > today:
            raise Invalid(f"{f}.on", "a declared contact cannot be in the future")
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 500):
            raise Invalid(f"{f}.note", "note must be at most 500 characters")
        out.append({"kind": kind, "on": on.isoformat(), "note": note})
    return out


def _check_entry(entry: object, now: datetime) -> dict:
    if not isinstance(entry, dict):
        raise Invalid("entry", "an entry declaration needs entry: {port_of_entry, from_country, flight, arrival_on}")
    port = entry.get("port_of_entry")
    if not isinstance(port, str) or not 2 <= len(port.strip()) <= 100:
        raise Invalid("entry.port_of_entry", "port_of_entry is required (2-100 characters)")
    country = entry.get("from_country")
    if not isinstance(country, str) or not _COUNTRY.match(country) or country == "VN":
        raise Invalid("entry.from_country", "from_country must be an ISO 3166 alpha-2 code other than VN")
    flight = entry.get("flight")
    if flight is not None and (not isinstance(flight, str) or not _FLIGHT.match(flight)):
        raise Invalid("entry.flight", "flight must be a flight number such as VN54")
    arrival = _iso_day("entry.arrival_on", entry.get("arrival_on"))
    if arrival > _day(now) + timedelta(days=3):
        raise Invalid("entry.arrival_on", "arrival_on may be at most 3 days ahead")
    return {"port_of_entry": " ".join(port.split()), "from_country": country, "flight": flight,
            "arrival_on": arrival.isoformat()}
