"""A stateful property test of samples, a household pool and cases, against a plain model.

Three people share a household pool; each also gives individual RT-PCR or rapid samples. Random
sequences of results, corrections and rejections run through the real testing commands
(`ledger.commands.testing`) over an in-memory store (no I/O: each command works on copies and
stores them only if it succeeds, as the ledger's transaction does). After every step: each
person awaits a retest exactly when the model says, has an active case exactly when the model
says, never more than one, and replaying each aggregate's stored events rebuilds it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from functools import reduce
from itertools import count
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.commands._shared import CommandResult
from ledger.commands.testing import TestingCommands
from ledger.domain import Facility, Invalid, LedgerError, NotFound, Person, Provenance, RuleViolation, Sample
from ledger.domain.person_testing import PersonTesting
from ledger.mapper import PlainJSONMapper

NOW = datetime(2022, 1, 20, 3, 0, tzinfo=UTC)
PROV = Provenance(actor="t", org="o", source="app")
ADDRESS = {"province_code": "01", "district_code": "001", "ward_code": "00001"}


class MemoryLedger(TestingCommands):
    """The testing commands over a dict of aggregates, committed only when a command succeeds."""

    def __init__(self) -> None:
        self.store: dict[UUID, object] = {}
        self.events: dict[UUID, list] = {}
        self.clock = lambda: NOW

    def _find(self, aggregate_id: UUID):
        found = self.store.get(aggregate_id)
        return copy.deepcopy(found) if found is not None else None

    def _load(self, cls, aggregate_id: UUID, *, kind: str, field: str | None = None):
        found = self._find(aggregate_id)
        if not isinstance(found, cls):
            if field is not None:
                raise Invalid(field, f"unknown {kind}")
            raise NotFound(kind, aggregate_id)
        return found

    _reference = _load

    @staticmethod
    def _read_only(aggregate):
        """One thread, no concurrent writers: nothing can change between read and commit."""
        return aggregate

    def _execute(self, command, prov, request, build) -> CommandResult:
        aggregates, ids = build()
        for aggregate in aggregates:
            self.events.setdefault(aggregate.id, []).extend(aggregate.collect_events())
            self.store[aggregate.id] = aggregate
        return CommandResult(ids, 0)

    def add(self, aggregate) -> None:
        self._execute("add", PROV, {}, lambda: ([aggregate], {}))


#: Positives weigh double, so cases and pending retests are common enough to test.
results = st.sampled_from(["positive", "positive", "negative", "invalid"])


class SampleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = MemoryLedger()
        self.barcodes = count()
        #: sample id -> {"person": index or None (the pool), "method", "status", "result"}
        self.samples: dict[UUID, dict] = {}
        self.pending = [False] * 3
        self.pool_ever_positive = False
        self.active = [False] * 3

    @initialize()
    def setup(self) -> None:
        lab = Facility.register(code="LAB-1", name="Lab", kind="lab", province_code="01", district_code=None,
                                ward_code=None, parent=None, prov=PROV)
        centre = Facility.register(code="DC-1", name="DC", kind="district_centre", province_code="01",
                                   district_code="001", ward_code=None, parent=None, prov=PROV)
        self.ledger.add(lab)
        self.ledger.add(centre)
        self.lab, self.centre = lab.id, centre.id
        self.people = []
        for i in range(3):
            person = Person.register(person_id=UUID(int=i + 1), id_type="none", id_number=None, prov=PROV, now=NOW,
                                     details={"full_name": f"P {i}", "date_of_birth": datetime(1990, 1, 1).date(),
                                              "sex": "female", "address": ADDRESS})
            self.ledger.add(person)
            self.people.append(person.id)
        self.pool = self._collect(None, "rt_pcr")

    def _collect(self, index: int | None, method: str) -> UUID:
        subjects = self.people if index is None else [self.people[index]]
        result = self.ledger.collect_sample(
            barcode=f"BC-{next(self.barcodes):04d}", method=method, subject_ids=subjects, facility_id=self.centre,
            pool_kind="household" if index is None else None, prov=PROV)
        sample_id = UUID(result.ids["sample_id"])
        self.ledger.receive_sample(sample_id=sample_id, lab_id=self.lab, prov=PROV)
        self.samples[sample_id] = {"person": index, "method": method, "status": "received", "result": None}
        return sample_id

    # -- the model -------------------------------------------------------------------------------------

    def _satisfied(self, index: int) -> bool:
        mine = [s for s in self.samples.values() if s["person"] == index and s["result"] == "positive"]
        pcr = any(s["method"] == "rt_pcr" for s in mine)
        rapid = sum(s["method"] == "rapid_antigen" for s in mine)
        return pcr or (rapid >= 2 and self.pool_ever_positive)

    def _changed(self, sample_id: UUID, before: str | None) -> None:
        """What the model expects after a sample's result went from `before` to its current value."""
        sample = self.samples[sample_id]
        after, index = sample["result"], sample["person"]
        if index is None:
            if after == "positive" and before != "positive":
                self.pending = [True] * 3
                self.pool_ever_positive = True
            elif before == "positive" and after != "positive":
                self.pending = [False] * 3
            return
        if after in ("positive", "negative"):
            self.pending[index] = False
        # A noted result re-decides the person's case (pool changes do not).
        self.active[index] = self._satisfied(index)

    def _refused(self, error: type[LedgerError], command) -> None:
        before = copy.deepcopy(self.ledger.store)
        with pytest.raises(error):
            command()
        assert {k: vars(v) for k, v in self.ledger.store.items()} == {k: vars(v) for k, v in before.items()}

    # -- rules -----------------------------------------------------------------------------------------

    @rule(index=st.integers(0, 2), method=st.sampled_from(["rt_pcr", "rapid_antigen"]))
    @precondition(lambda self: len(self.samples) < 12)
    def collect(self, index: int, method: str) -> None:
        self._collect(index, method)

    @rule(data=st.data(), result=results)
    def record(self, data, result: str) -> None:
        sample_id = data.draw(st.sampled_from(sorted(self.samples)))
        sample = self.samples[sample_id]
        if sample["status"] != "received":
            self._refused(RuleViolation, lambda: self.ledger.record_result(sample_id=sample_id, result=result,
                                                                           prov=PROV))
            return
        self.ledger.record_result(sample_id=sample_id, result=result, prov=PROV)
        sample.update(status="resulted", result=result)
        self._changed(sample_id, None)

    @rule(data=st.data(), result=results)
    def correct(self, data, result: str) -> None:
        sample_id = data.draw(st.sampled_from(sorted(self.samples)))
        sample = self.samples[sample_id]
        if sample["status"] != "resulted" or sample["result"] == result:
            self._refused(RuleViolation, lambda: self.ledger.correct_result(
                sample_id=sample_id, result=result, reason="lab_review", prov=PROV))
            return
        self.ledger.correct_result(sample_id=sample_id, result=result, reason="lab_review", prov=PROV)
        before, sample["result"] = sample["result"], result
        self._changed(sample_id, before)

    @rule(data=st.data())
    def reject(self, data) -> None:
        sample_id = data.draw(st.sampled_from(sorted(self.samples)))
        sample = self.samples[sample_id]
        if sample["status"] != "resulted":
            self._refused(RuleViolation, lambda: self.ledger.reject_result(sample_id=sample_id,
                                                                           reason="contaminated", prov=PROV))
            return
        self.ledger.reject_result(sample_id=sample_id, reason="contaminated", prov=PROV)
        before = sample["result"]
        sample.update(status="rejected", result=None)
        self._changed(sample_id, before)

    # -- invariants ------------------------------------------------------------------------------------

    @invariant()
    def people_match_the_model(self) -> None:
        for index, person_id in enumerate(getattr(self, "people", [])):
            person = self.ledger.store[person_id]
            assert (person.awaiting_retest() == [str(self.pool)]) is self.pending[index]
            assert (person.active_case() is not None) is self.active[index]
            assert sum(c["status"] == "active" for c in person.cases.values()) <= 1
            if any(c["status"] == "retracted" for c in person.cases.values()):
                event("a case was retracted")
        event(f"active cases: {sum(self.active)}; pending retests: {sum(self.pending)}")

    @invariant()
    def replay_rebuilds_every_aggregate(self) -> None:
        mapper = PlainJSONMapper()
        for aggregate_id, events in self.ledger.events.items():
            stored = [mapper.to_stored_event(e) for e in events]
            rebuilt = reduce(lambda a, e: e.mutate(a), [mapper.to_domain_event(s) for s in stored], None)
            current = self.ledger.store[aggregate_id]
            if isinstance(current, Person):  # state the mixins create on first use, on both sides
                for name in PersonTesting.STATE:
                    getattr(rebuilt, name), getattr(current, name)
            assert vars(rebuilt) == vars(current)
            assert isinstance(rebuilt, Person | Sample | Facility)


SampleMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_samples_pools_and_cases = SampleMachine.TestCase
