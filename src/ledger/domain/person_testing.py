"""The person's testing record: results that name them, pools awaiting their retest, and their
confirmed cases (F0). Mixed into `ledger.domain.person.Person`.

A sample (`ledger.domain.sample.Sample`) holds the lab's facts; the person holds what the case
rules need from them, in small events saved in the same transaction as the sample's:

- `TestResultNoted` for each result, correction or rejection of an *individual* sample (a pooled
  result says nothing about one member);
- `RetestRequired` / `RetestCleared` for the members of a positive pool, until an individual
  result (positive or negative) of theirs closes it;
- `CaseConfirmed` / `CaseRetracted`, decided here after every noted result by the case
  definition in force (`ledger.policies.testing`): confirmation is never a separate command,
  so a case can neither be forgotten nor confirmed without its evidence.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from ..policies.testing import (
    CASE_DEFINITIONS,
    CaseDefinition,
    ResultFact,
    case_definition_on,
    decide_case,
    infectious_from,
)
from .base import MixinEvent, Provenance

if TYPE_CHECKING:
    from .person import Person


def _day(moment: datetime) -> date:
    from .person import local_day

    return local_day(moment)


def _local_midnight(day: date) -> datetime:
    from .person import LOCAL_TZ

    return datetime.combine(day, time(0), LOCAL_TZ)


class PersonTesting:
    """Events and commands of a person's testing record and cases."""

    #: State this mixin adds to a person, created on first use (name -> factory): people recorded,
    #: or snapshotted, before it existed have none of it.
    STATE: dict = {"test_results": dict, "pending_retests": dict, "cases": dict}

    class TestResultNoted(MixinEvent):
        """A result of the person's own sample was recorded, corrected or rejected (`change`)."""

        TOPIC = "ledger.person.TestResultNoted"
        sample_id: UUID
        method: str
        #: None when the result was rejected.
        result: str | None
        ct_value: float | None
        collected_at: datetime
        symptom_onset: date | None
        epi_link: dict | None
        change: str

        def apply(self, person: Person) -> None:
            person.test_results[str(self.sample_id)] = {
                "method": self.method,
                "result": self.result,
                "ct_value": self.ct_value,
                "collected_at": self.collected_at.isoformat(),
                "symptom_onset": self.symptom_onset.isoformat() if self.symptom_onset else None,
                "epi_link": self.epi_link,
            }

    class RetestRequired(MixinEvent):
        """A pool the person was in tested positive: they await an individual retest."""

        TOPIC = "ledger.person.RetestRequired"
        pool_sample_id: UUID
        pool_kind: str
        pool_collected_at: datetime

        def apply(self, person: Person) -> None:
            person.pending_retests[str(self.pool_sample_id)] = {
                "pool_kind": self.pool_kind,
                "collected_at": self.pool_collected_at.isoformat(),
                "status": "pending",
            }

    class RetestCleared(MixinEvent):
        """The person no longer awaits a retest for a pool: an individual result, or the pool's result changed."""

        TOPIC = "ledger.person.RetestCleared"
        pool_sample_id: UUID
        by_sample_id: UUID | None
        reason: str

        def apply(self, person: Person) -> None:
            person.pending_retests[str(self.pool_sample_id)]["status"] = "cleared"

    class CaseConfirmed(MixinEvent):
        """The person became a confirmed case (F0) by a rule of the case definition in force."""

        TOPIC = "ledger.person.CaseConfirmed"
        case_id: UUID
        rule: str
        policy_id: str
        evidence: list
        epi_link: dict | None
        confirmed_at: datetime
        infectious_from: datetime
        community: bool
        area: dict

        def apply(self, person: Person) -> None:
            person.cases[str(self.case_id)] = {
                "case_id": str(self.case_id),
                "rule": self.rule,
                "policy_id": self.policy_id,
                "confirmed_at": self.confirmed_at.isoformat(),
                "infectious_from": self.infectious_from.isoformat(),
                "evidence": [e["sample_id"] for e in self.evidence],
                "status": "active",
            }

    class CaseRetracted(MixinEvent):
        """A case's evidence was corrected or rejected and no rule is satisfied any more."""

        TOPIC = "ledger.person.CaseRetracted"
        case_id: UUID
        reason: str

        def apply(self, person: Person) -> None:
            person.cases[str(self.case_id)]["status"] = "retracted"

    # -- queries ------------------------------------------------------------------------------------

    def active_case(self: Any) -> dict | None:
        """The person's active case, if any (at most one is active at a time)."""
        return next((c for c in self.cases.values() if c["status"] == "active"), None)

    def awaiting_retest(self: Any) -> list[str]:
        """Pool sample ids the person awaits an individual retest for."""
        return sorted(k for k, r in self.pending_retests.items() if r["status"] == "pending")

    def _is_f1_at(self: Any, moment: datetime, window_days: int) -> bool:
        method = getattr(type(self), "is_contact", None)
        if method is not None:
            return bool(method(self, "F1", moment))
        # Until the tracing mixin has the method: its `contacts` state, by the contract's shape.
        for contact in self.__dict__.get("contacts", {}).values():
            exposed = datetime.fromisoformat(contact["exposed_at"])
            if contact["level"] == "F1" and moment - timedelta(days=window_days) <= exposed <= moment:
                return True
        return False

    def _in_quarantine(self: Any, day: date) -> bool:
        method = getattr(type(self), "in_quarantine", None)
        if method is not None:
            return bool(method(self, day))
        for order in self.__dict__.get("quarantines", {}).values():
            if order["status"] == "active" and date.fromisoformat(order["starts_on"]) <= day <= date.fromisoformat(
                order["ends_on"]
            ):
                return True
        return False

    def _standing_links(self: Any) -> list[dict]:
        """Epidemiological links the person has whatever the sample: a recorded contact (of any
        level), or membership of a household pool that tested positive."""
        links = [{"kind": "contact", "ref": key} for key in sorted(self.__dict__.get("contacts", {}))]
        links += [
            {"kind": "household_pool", "ref": key}
            for key, r in sorted(self.pending_retests.items())
            if r["pool_kind"] == "household"
        ]
        return links

    def _result_facts(self: Any) -> list[ResultFact]:
        return [
            ResultFact(
                key, r["method"], r["result"], r["ct_value"], datetime.fromisoformat(r["collected_at"]),
                date.fromisoformat(r["symptom_onset"]) if r["symptom_onset"] else None, r["epi_link"],
            )
            for key, r in self.test_results.items()
            if r["result"] is not None
        ]

    # -- commands (called by the sample commands, in the same transaction) ----------------------------

    def note_result(
        self: Any,
        *,
        sample_id: UUID,
        method: str,
        result: str | None,
        ct_value: float | None,
        collected_at: datetime,
        symptom_onset: date | None,
        epi_link: dict | None,
        change: str,
        at: datetime,
        prov: Provenance,
    ) -> str | None:
        """Note a result of the person's own sample, close pending retests it answers, and decide
        whether the person is now a case (or no longer one). Returns "confirmed", "retracted" or None."""
        self._record(
            self.TestResultNoted, prov, sample_id=sample_id, method=method, result=result, ct_value=ct_value,
            collected_at=collected_at, symptom_onset=symptom_onset, epi_link=epi_link, change=change,
        )
        if result in ("positive", "negative"):
            for pool_id in self.awaiting_retest():
                if datetime.fromisoformat(self.pending_retests[pool_id]["collected_at"]) <= collected_at:
                    self._record(self.RetestCleared, prov, pool_sample_id=UUID(pool_id), by_sample_id=sample_id,
                                 reason="individual_result")
        return self._review_case(at=at, prov=prov,
                                 retraction="evidence_rejected" if change == "rejected" else "evidence_corrected")

    def require_retest(self: Any, *, pool_sample_id: UUID, pool_kind: str, pool_collected_at: datetime,
                       prov: Provenance) -> bool:
        if self.pending_retests.get(str(pool_sample_id), {}).get("status") == "pending":
            return False
        self._record(self.RetestRequired, prov, pool_sample_id=pool_sample_id, pool_kind=pool_kind,
                     pool_collected_at=pool_collected_at)
        return True

    def clear_retest(self: Any, *, pool_sample_id: UUID, reason: str, prov: Provenance) -> bool:
        if self.pending_retests.get(str(pool_sample_id), {}).get("status") != "pending":
            return False
        self._record(self.RetestCleared, prov, pool_sample_id=pool_sample_id, by_sample_id=None, reason=reason)
        return True

    def _review_case(self: Any, *, at: datetime, prov: Provenance, retraction: str) -> str | None:
        active = self.active_case()
        facts = self._result_facts()
        if active is not None:
            definition = _definition(active["policy_id"])
            if self._decide(definition, facts) is None:
                self._record(self.CaseRetracted, prov, case_id=UUID(active["case_id"]), reason=retraction)
                active = None
                retracted = True
            else:
                return None
        else:
            retracted = False
        definition = case_definition_on(_day(at))
        decision = self._decide(definition, facts)
        if decision is None:
            return "retracted" if retracted else None
        self._record(
            self.CaseConfirmed, prov,
            case_id=uuid4(),
            rule=decision.rule,
            policy_id=definition.id,
            evidence=[
                {"sample_id": r.sample_id, "method": r.method, "result": r.result, "ct_value": r.ct_value,
                 "collected_at": r.collected_at.isoformat()}
                for r in decision.evidence
            ],
            epi_link=decision.epi_link,
            confirmed_at=at,
            infectious_from=infectious_from(definition, decision.evidence, _local_midnight),
            community=not self._in_quarantine(_day(at)),
            area={k: self.address.get(k) for k in ("province_code", "district_code", "ward_code")},
        )
        return "confirmed"

    def _decide(self: Any, definition: CaseDefinition, facts: list[ResultFact]) -> Any:
        return decide_case(
            definition, facts,
            is_f1_at=lambda moment: self._is_f1_at(moment, definition.f1_window_days),
            standing_links=self._standing_links(),
        )


def _definition(policy_id: str) -> CaseDefinition:
    return next(d for d in CASE_DEFINITIONS if d.id == policy_id)

