"""Contacts (F1, F2), quarantine orders and their follow-up, health declarations.

All of it lives on `Person`. Ordering a quarantine computes its terms once, under the policy
version in force on the day the person was identified and from their own (unvoided) doses and
cases on that day (`ledger.policies.quarantine`); the order stores the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..domain import Invalid, Person, Provenance, RuleViolation, Sample
from ..domain.codes import QUARANTINE_LEVELS, require_code
from ..domain.person import local_day
from ..policies.quarantine import compute_order, quarantine_policy_on
from ._shared import CommandResult, locals_of, uuid_of

if TYPE_CHECKING:
    from ..domain import LedgerAggregate

    Built = tuple[list[LedgerAggregate], dict[str, Any]]


def recovery_days(person: Person) -> list[date]:
    """Days the person counts as recovered from (PROVISIONAL: a case's confirmation day stands for its
    recovery; retracted cases do not count)."""
    return [local_day(datetime.fromisoformat(c["confirmed_at"])) for c in person.cases.values()
            if c["status"] != "retracted"]


class TracingCommands:
    """Commands of this area, mixed into `ledger.application.Ledger`."""

    # Provided by `Ledger` (declared for readers and type checkers).
    _execute: Callable[..., CommandResult]
    _load: Callable[..., Any]
    _find: Callable[..., Any]
    _read_only: Callable[..., Any]
    clock: Callable[[], datetime]

    def record_contact(
        self, *, person_id: UUID, source_person_id: UUID, level: str, proximity: str, exposed_at: datetime,
        masked: bool | None = None, duration_minutes: int | None = None, checkin_id: UUID | None = None,
        prov: Provenance,
    ) -> CommandResult:
        """Record `person_id` as an F1 of `source_person_id`'s active case, or an F2 through that F1."""

        def build() -> Built:
            person = self._load(Person, uuid_of(person_id, "person_id"), kind="person")
            source = self._read_only(self._load(Person, uuid_of(source_person_id, "source_person_id"), kind="person",
                                                field="source_person_id"))
            person.require_active()
            contact_id = person.identify_contact(
                source=source, level=level, proximity=proximity, masked=masked, duration_minutes=duration_minutes,
                exposed_at=exposed_at, checkin_id=checkin_id, now=self.clock(), prov=prov,
            )
            return [person], {"person_id": str(person.id), "contact_id": str(contact_id)}

        return self._execute("record_contact", prov, locals_of(
            person_id=person_id, source_person_id=source_person_id, level=level, proximity=proximity,
            exposed_at=exposed_at, masked=masked, duration_minutes=duration_minutes, checkin_id=checkin_id), build)

    def order_quarantine(
        self, *, person_id: UUID, level: str, ends_on: date | None = None, override_reason: str | None = None,
        prov: Provenance,
    ) -> CommandResult:
        """Order quarantine (isolation for an F0) under the policy in force on the identification day."""

        def build() -> Built:
            require_code("level", level, QUARANTINE_LEVELS)
            if ends_on is not None and (not isinstance(ends_on, date) or isinstance(ends_on, datetime)):
                raise Invalid("ends_on", "ends_on must be a date")
            person = self._load(Person, uuid_of(person_id, "person_id"), kind="person")
            person.require_active()
            basis_ref, day = person.identification(level)
            try:
                policy = quarantine_policy_on(day)
            except LookupError:
                raise RuleViolation("no_quarantine_policy", f"no quarantine policy was in force on {day}") from None
            computed = compute_order(policy, level=level, day=day, doses=person.dose_facts(),
                                     recovered_on=[d for d in recovery_days(person) if d < day] if level != "F0"
                                     else [])
            if computed is None:
                raise RuleViolation("no_quarantine_for_level",
                                    f"{policy.id} orders no quarantine for an {level}", policy_id=policy.id)
            order_id = person.order_quarantine(level=level, basis_ref=basis_ref, computed=computed, ends_on=ends_on,
                                               override_reason=override_reason, prov=prov)
            return [person], {"person_id": str(person.id), "order_id": str(order_id), "policy_id": policy.id}

        return self._execute("order_quarantine", prov, locals_of(
            person_id=person_id, level=level, ends_on=ends_on, override_reason=override_reason), build)

    def follow_up_quarantine(
        self, *, person_id: UUID, order_id: UUID, day: date, symptoms: list, temperature_c: float | None = None,
        sample_id: UUID | None = None, note: str | None = None, prov: Provenance,
    ) -> CommandResult:
        """A day's check of a person under an order; `sample_id` names a sample of theirs taken that day."""

        def build() -> Built:
            person = self._load(Person, uuid_of(person_id, "person_id"), kind="person")
            if sample_id is not None:
                sample = self._find(uuid_of(sample_id, "sample_id"))
                if not isinstance(sample, Sample) or str(person.id) not in sample.subject_ids:
                    raise Invalid("sample_id", "sample_id must name a sample taken from this person")
                self._read_only(sample)
            person.follow_up_quarantine(order_id=uuid_of(order_id, "order_id"), day=day, symptoms=symptoms,
                                        temperature_c=temperature_c, sample_id=sample_id, note=note, prov=prov)
            return [person], {"person_id": str(person.id), "order_id": str(order_id)}

        return self._execute("follow_up_quarantine", prov, locals_of(
            person_id=person_id, order_id=order_id, day=day, symptoms=symptoms, temperature_c=temperature_c,
            sample_id=sample_id, note=note), build)

    def release_quarantine(
        self, *, person_id: UUID, order_id: UUID, released_on: date, reason: str, prov: Provenance,
    ) -> CommandResult:
        """Release a person from an order, once."""

        def build() -> Built:
            person = self._load(Person, uuid_of(person_id, "person_id"), kind="person")
            person.release_quarantine(order_id=uuid_of(order_id, "order_id"), released_on=released_on, reason=reason,
                                      prov=prov)
            return [person], {"person_id": str(person.id), "order_id": str(order_id)}

        return self._execute("release_quarantine", prov, locals_of(
            person_id=person_id, order_id=order_id, released_on=released_on, reason=reason), build)

    def declare_health(
        self, *, person_id: UUID, kind: str, symptoms: list, travel: list | None = None,
        contact_history: list | None = None, entry: dict | None = None, prov: Provenance,
    ) -> CommandResult:
        """A domestic or entry health declaration, kept on the person's record."""

        def build() -> Built:
            person = self._load(Person, uuid_of(person_id, "person_id"), kind="person")
            person.require_active()
            declaration_id = person.declare_health(
                kind=kind, symptoms=symptoms, travel=travel or [], contact_history=contact_history or [],
                entry=entry, now=self.clock(), prov=prov)
            return [person], {"person_id": str(person.id), "declaration_id": str(declaration_id)}

        return self._execute("declare_health", prov, locals_of(
            person_id=person_id, kind=kind, symptoms=symptoms, travel=travel, contact_history=contact_history,
            entry=entry), build)
