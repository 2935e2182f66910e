"""Samples, pooled tests, lab results and their corrections; confirmed cases (F0).

Every command saves the sample together with the people its result concerns, in one
transaction: a result on one person's sample notes it on the person, who may become (or stop
being) a case by the case definition in force; a positive pool puts each member in *pending
individual retest*, and a correction or rejection of the pool's result releases them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..domain import Facility, Invalid, LedgerAggregate, Person, Provenance, RuleViolation, Sample
from ..domain.codes import SAMPLING_KINDS
from ..domain.person import local_day
from ..domain.sample import normalise_barcode
from ..policies.testing import pool_policy_on
from ._shared import CommandResult, locals_of, uuid_of

if TYPE_CHECKING:
    Built = tuple[list[LedgerAggregate], dict[str, Any]]


class TestingCommands:
    """Commands of this area, mixed into `ledger.application.Ledger`."""

    # Provided by `Ledger` (declared for readers and type checkers).
    _execute: Callable[..., CommandResult]
    _load: Callable[..., Any]
    _reference: Callable[..., Any]
    _find: Callable[..., Any]
    _read_only: Callable[..., Any]
    clock: Callable[[], datetime]

    def collect_sample(
        self, *, barcode: str, method: str, subject_ids: list[UUID], facility_id: UUID, pool_kind: str | None = None,
        symptom_onset: date | None = None, retest_of: UUID | None = None, epi_link: dict | None = None,
        prov: Provenance,
    ) -> CommandResult:
        """A sample taken from one person or a pool (`pool_kind`), within the pool policy in force."""

        def build() -> Built:
            if not isinstance(subject_ids, list):
                raise Invalid("subject_ids", "subject_ids must be a list of person ids")
            facility = self._reference(Facility, facility_id, kind="facility", field="facility_id")
            if facility.kind not in SAMPLING_KINDS:
                raise RuleViolation("facility_does_not_sample", f"a {facility.kind} does not take samples")
            people = []
            for i, subject in enumerate(subject_ids):
                person = self._read_only(self._load(Person, uuid_of(subject, f"subject_ids[{i}]"), kind="person",
                                                    field=f"subject_ids[{i}]"))
                person.require_active()
                people.append(person)
            now = self.clock()
            if retest_of is not None:
                self._check_retest(retest_of, people)
            sample = Sample.collect(
                barcode=barcode, method=method, subject_ids=[p.id for p in people], pool_kind=pool_kind,
                facility_id=facility.id, symptom_onset=symptom_onset,
                policy=pool_policy_on(local_day(prov.when(now))), retest_of=retest_of, epi_link=epi_link, prov=prov,
                now=now,
            )
            if self._find(sample.id) is not None:
                raise RuleViolation("sample_barcode_exists", f"sample {sample.barcode} is already recorded")
            return [sample], {"sample_id": str(sample.id)}

        return self._execute("collect_sample", prov, locals_of(
            barcode=barcode, method=method, subject_ids=[str(s) for s in subject_ids]
            if isinstance(subject_ids, list) else subject_ids, facility_id=facility_id, pool_kind=pool_kind,
            symptom_onset=symptom_onset, retest_of=retest_of, epi_link=epi_link), build)

    def _check_retest(self, retest_of: UUID, people: list[Person]) -> None:
        pool = self._find(retest_of)
        if not isinstance(pool, Sample):
            raise Invalid("retest_of", f"unknown sample {retest_of}")
        self._read_only(pool)
        if not pool.is_pool or pool.result != "positive":
            raise RuleViolation("retest_of_positive_pool_only", "retest_of must name a pool that tested positive")
        if len(people) != 1 or str(people[0].id) not in pool.subject_ids:
            raise RuleViolation("retest_of_pool_member_only", "a retest is one member of the pool it retests")

    def receive_sample(self, *, sample_id: UUID, lab_id: UUID, prov: Provenance) -> CommandResult:
        """A lab receives the sample (only a facility of kind `lab`)."""

        def build() -> Built:
            sample = self._load(Sample, sample_id, kind="sample")
            lab = self._reference(Facility, lab_id, kind="facility", field="lab_id")
            if lab.kind != "lab":
                raise RuleViolation("receiving_facility_is_a_lab", f"a {lab.kind} is not a lab")
            sample.receive(lab_id=lab.id, prov=prov, now=self.clock())
            return [sample], {"sample_id": str(sample.id)}

        return self._execute("receive_sample", prov, locals_of(sample_id=sample_id, lab_id=lab_id), build)

    def record_result(
        self, *, sample_id: UUID, result: str, ct_value: float | None = None, prov: Provenance
    ) -> CommandResult:
        """The lab that received the sample records its result; the people in it are updated at once."""

        def build() -> Built:
            sample = self._load(Sample, sample_id, kind="sample")
            now = self.clock()
            sample.record_result(result=result, ct_value=ct_value, prov=prov, now=now)
            people, outcome = self._apply_result(sample, change="recorded", prov=prov)
            return [sample, *people], {"sample_id": str(sample.id), **outcome}

        return self._execute("record_result", prov, locals_of(sample_id=sample_id, result=result,
                             ct_value=ct_value), build)

    def correct_result(
        self, *, sample_id: UUID, result: str, reason: str, ct_value: float | None = None, prov: Provenance
    ) -> CommandResult:
        """Correct a result (with a reason); a case it confirmed is retracted if no rule holds any more."""

        def build() -> Built:
            sample = self._load(Sample, sample_id, kind="sample")
            previous = sample.correct_result(result=result, ct_value=ct_value, reason=reason, prov=prov,
                                             now=self.clock())
            people, outcome = self._apply_result(sample, change="corrected", prov=prov, previous=previous["result"])
            return [sample, *people], {"sample_id": str(sample.id), **outcome}

        return self._execute("correct_result", prov, locals_of(sample_id=sample_id, result=result, reason=reason,
                             ct_value=ct_value), build)

    def reject_result(self, *, sample_id: UUID, reason: str, prov: Provenance) -> CommandResult:
        """Reject a result (with a reason): it no longer counts for anyone."""

        def build() -> Built:
            sample = self._load(Sample, sample_id, kind="sample")
            previous = sample.reject_result(reason=reason, prov=prov, now=self.clock())
            people, outcome = self._apply_result(sample, change="rejected", prov=prov, previous=previous["result"])
            return [sample, *people], {"sample_id": str(sample.id), **outcome}

        return self._execute("reject_result", prov, locals_of(sample_id=sample_id, reason=reason), build)

    def _apply_result(
        self, sample: Sample, *, change: str, prov: Provenance, previous: str | None = None
    ) -> tuple[list[Person], dict[str, Any]]:
        """What the sample's current result means for its people; returns those changed and a summary
        for the answer (cases confirmed or retracted, retests required or released)."""
        at = prov.when(self.clock())
        people = [self._load(Person, pid, kind="person") for pid in sample.people]
        summary: dict[str, Any] = {}
        if not sample.is_pool:
            [person] = people
            outcome = person.note_result(
                sample_id=sample.id, method=sample.method, result=sample.result, ct_value=sample.ct_value,
                collected_at=sample.collected_at, symptom_onset=sample.symptom_onset, epi_link=sample.epi_link,
                change=change, at=at, prov=prov,
            )
            if outcome is not None:
                summary["case"] = outcome
                case = person.active_case()
                if case is not None:
                    summary["case_id"] = case["case_id"]
            return people, summary
        assert sample.pool_kind is not None
        if sample.result == "positive" and previous != "positive":
            required = [str(p.id) for p in people if p.require_retest(
                pool_sample_id=sample.id, pool_kind=sample.pool_kind, pool_collected_at=sample.collected_at,
                prov=prov)]
            summary["retests_required"] = len(required)
        elif previous == "positive" and sample.result != "positive":
            reason = "pool_result_rejected" if change == "rejected" else "pool_result_corrected"
            released = [p for p in people if p.clear_retest(pool_sample_id=sample.id, reason=reason, prov=prov)]
            summary["retests_released"] = len(released)
        return [p for p in people if p.pending_events], summary

    # -- queries (write-model state) -----------------------------------------------------------------

    def sample(self, sample_id: UUID) -> Sample:
        return self._load(Sample, sample_id, kind="sample")

    def find_sample(self, barcode: str) -> Sample:
        return self._load(Sample, Sample.create_id(normalise_barcode(barcode)), kind="sample")
