"""Samples: one person's, or a pool of several people's, from collection to a lab result.

collected -> received at a lab -> resulted (then corrected any number of times) or rejected.
A sample is identified by its barcode, so a barcode scanned twice is a clean 409. The sample
guards its own sequence (a result only after receipt, one result until it is corrected, no
result after a rejection); what the result means for the people in it is decided on their
`Person` records, saved in the same transaction (`ledger.commands.testing`).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from uuid import UUID

from ..policies.testing import PoolPolicy
from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import (
    EPI_LINK_KINDS,
    POOL_KINDS,
    RESULT_CORRECTION_REASONS,
    RESULT_REJECTION_REASONS,
    TEST_METHODS,
    TEST_RESULTS,
    require_code,
)
from .errors import Invalid, RuleViolation

_BARCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{3,63}$")
_FUTURE_SKEW = timedelta(minutes=5)
#: Ct values outside this range are not RT-PCR cycle thresholds.
CT_RANGE = (0.0, 50.0)


def normalise_barcode(barcode: object) -> str:
    if not isinstance(barcode, str) or not _BARCODE.match(barcode.strip()):
        raise Invalid("barcode", "barcode must be 4-64 letters, digits, '.', '/', '_' or '-'")
    return barcode.strip().upper()


def check_ct(ct_value: object, *, method: str, result: str) -> float | None:
    """A Ct value only with an RT-PCR result that is not invalid; stored as a float."""
    if ct_value is None:
        return None
    if isinstance(ct_value, bool) or not isinstance(ct_value, int | float) or not math.isfinite(ct_value):
        raise Invalid("ct_value", "ct_value must be a number")
    if method != "rt_pcr":
        raise Invalid("ct_value", "only an RT-PCR result carries a Ct value")
    if result == "invalid":
        raise Invalid("ct_value", "an invalid result carries no Ct value")
    if not CT_RANGE[0] < ct_value <= CT_RANGE[1]:
        raise Invalid("ct_value", f"ct_value must be above {CT_RANGE[0]} and at most {CT_RANGE[1]}")
    return float(ct_value)


def check_epi_link(epi_link: object) -> dict | None:
    if epi_link is None:
        return None
    if not isinstance(epi_link, dict):
        raise Invalid("epi_link", "epi_link must be an object with kind and ref")
    require_code("epi_link.kind", epi_link.get("kind"), EPI_LINK_KINDS)
    ref = epi_link.get("ref")
    if ref is not None and (not isinstance(ref, str) or not 1 <= len(ref) <= 200):
        raise Invalid("epi_link.ref", "epi_link.ref must be 1-200 characters")
    return {"kind": epi_link["kind"], "ref": ref}


class Sample(LedgerAggregate):
    """One sample tube: its subjects (one person, or a pool), method, lab receipt and result."""

    TOPIC = "ledger.sample.Sample"

    class Collected(LedgerAggregate.Created, Stamped):
        """A sample was taken from one person, or from a pool of people, at a facility."""

        TOPIC = "ledger.sample.Collected"
        barcode: str
        method: str
        subject_ids: list
        #: None for one person's sample; `community` or `household` for a pool.
        pool_kind: str | None
        collected_at: datetime
        facility_id: UUID
        symptom_onset: date | None
        #: The pool policy applied (every sample records it: one person's sample is a pool of one).
        pool_policy_id: str
        #: The positive pool this individual sample retests, if any.
        retest_of: UUID | None
        epi_link: dict | None

    class ReceivedAtLab(Stamped):
        """A lab received the sample."""

        TOPIC = "ledger.sample.ReceivedAtLab"
        lab_id: UUID
        received_at: datetime

        def apply(self, sample: Sample) -> None:
            sample.lab_id = self.lab_id
            sample.received_at = self.received_at
            sample.status = "received"

    class ResultRecorded(Stamped):
        """The lab recorded the sample's result (with its Ct value, for RT-PCR, when given)."""

        TOPIC = "ledger.sample.ResultRecorded"
        result: str
        ct_value: float | None
        lab_id: UUID
        resulted_at: datetime

        def apply(self, sample: Sample) -> None:
            sample.result, sample.ct_value, sample.resulted_at = self.result, self.ct_value, self.resulted_at
            sample.status = "resulted"

    class ResultCorrected(Stamped):
        """The result was corrected for a reason; `previous` keeps what it was."""

        TOPIC = "ledger.sample.ResultCorrected"
        result: str
        ct_value: float | None
        previous: dict
        reason: str

        def apply(self, sample: Sample) -> None:
            sample.result, sample.ct_value = self.result, self.ct_value
            sample.corrections += 1

    class ResultRejected(Stamped):
        """The result was rejected for a reason; the sample takes no further result (take a new one)."""

        TOPIC = "ledger.sample.ResultRejected"
        reason: str
        previous: dict

        def apply(self, sample: Sample) -> None:
            sample.result, sample.ct_value = None, None
            sample.status = "rejected"
            sample.rejection_reason = self.reason

    def __init__(
        self,
        barcode: str,
        method: str,
        subject_ids: list,
        pool_kind: str | None,
        collected_at: datetime,
        facility_id: UUID,
        symptom_onset: date | None,
        pool_policy_id: str,
        retest_of: UUID | None,
        epi_link: dict | None,
    ) -> None:
        self.barcode = barcode
        self.method = method
        self.subject_ids = subject_ids
        self.pool_kind = pool_kind
        self.collected_at = collected_at
        self.facility_id = facility_id
        self.symptom_onset = symptom_onset
        self.pool_policy_id = pool_policy_id
        self.retest_of = retest_of
        self.epi_link = epi_link
        self.status = "collected"
        self.lab_id: UUID | None = None
        self.received_at: datetime | None = None
        self.result: str | None = None
        self.ct_value: float | None = None
        self.resulted_at: datetime | None = None
        self.corrections = 0
        self.rejection_reason: str | None = None

    @staticmethod
    def create_id(barcode: str) -> UUID:
        return natural_id("sample", normalise_barcode(barcode))

    @property
    def is_pool(self) -> bool:
        return self.pool_kind is not None

    @property
    def people(self) -> list[UUID]:
        return [UUID(s) for s in self.subject_ids]

    @classmethod
    def collect(
        cls,
        *,
        barcode: str,
        method: str,
        subject_ids: list[UUID],
        pool_kind: str | None,
        facility_id: UUID,
        symptom_onset: date | None,
        policy: PoolPolicy,
        retest_of: UUID | None,
        epi_link: dict | None,
        prov: Provenance,
        now: datetime,
    ) -> Sample:
        """Validate a collection against the pool policy in force (`policy`, chosen by the caller for
        the collection day) and create the sample."""
        code = normalise_barcode(barcode)
        require_code("method", method, TEST_METHODS)
        if not isinstance(subject_ids, list) or not subject_ids:
            raise Invalid("subject_ids", "a sample names at least one person")
        if len(set(subject_ids)) != len(subject_ids):
            raise Invalid("subject_ids", "a person may appear in a pool only once")
        collected_at = prov.when(now)
        if collected_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a sample cannot be collected in the future")
        if pool_kind is None:
            if len(subject_ids) != 1:
                raise Invalid("pool_kind", "a sample of several people is a pool: name its pool_kind")
        else:
            require_code("pool_kind", pool_kind, POOL_KINDS)
            if method not in policy.methods:
                raise RuleViolation(
                    "pooling_not_allowed_for_method",
                    f"{method} samples are not pooled under {policy.id}", policy_id=policy.id,
                )
            if not policy.min_size <= len(subject_ids) <= policy.max_size[pool_kind]:
                raise RuleViolation(
                    "pool_size_within_policy",
                    f"a {pool_kind} pool holds {policy.min_size} to {policy.max_size[pool_kind]} people under "
                    f"{policy.id}, not {len(subject_ids)}",
                    policy_id=policy.id, max_size=policy.max_size[pool_kind],
                )
            if retest_of is not None:
                raise Invalid("retest_of", "a retest is an individual sample")
        if symptom_onset is not None:
            if not isinstance(symptom_onset, date) or isinstance(symptom_onset, datetime):
                raise Invalid("symptom_onset", "symptom_onset must be a date")
            if symptom_onset > collected_at.date() + timedelta(days=1):
                raise Invalid("symptom_onset", "symptom_onset cannot follow the collection")
        return cls._create(
            cls.Collected,
            id=natural_id("sample", code),
            barcode=code,
            method=method,
            subject_ids=[str(s) for s in subject_ids],
            pool_kind=pool_kind,
            collected_at=collected_at,
            facility_id=facility_id,
            symptom_onset=symptom_onset,
            pool_policy_id=policy.id,
            retest_of=retest_of,
            epi_link=check_epi_link(epi_link),
            **prov.fields(),
        )

    def receive(self, *, lab_id: UUID, prov: Provenance, now: datetime) -> None:
        if self.status != "collected":
            raise RuleViolation("sample_already_received", f"sample {self.barcode} was already received")
        received_at = prov.when(now)
        if received_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a receipt cannot be in the future")
        if received_at < self.collected_at:
            raise Invalid("occurred_at", "a sample cannot be received before it was collected")
        self._record(self.ReceivedAtLab, prov, lab_id=lab_id, received_at=received_at)

    def record_result(self, *, result: str, ct_value: object, prov: Provenance, now: datetime) -> None:
        require_code("result", result, TEST_RESULTS)
        ct = check_ct(ct_value, method=self.method, result=result)
        if self.status == "collected":
            raise RuleViolation("result_requires_lab_receipt", "a result needs the sample received by a lab first")
        if self.status == "rejected":
            raise RuleViolation("sample_rejected", "this sample's result was rejected: take a new sample")
        if self.status == "resulted":
            raise RuleViolation(
                "one_result_per_sample", "the sample already has a result: correct it instead", result=self.result
            )
        resulted_at = prov.when(now)
        if resulted_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a result cannot be in the future")
        if self.received_at is not None and resulted_at < self.received_at:
            raise Invalid("occurred_at", "a result cannot precede the lab's receipt")
        assert self.lab_id is not None
        self._record(self.ResultRecorded, prov, result=result, ct_value=ct, lab_id=self.lab_id,
                     resulted_at=resulted_at)

    def _require_result(self, prov: Provenance, now: datetime) -> None:
        if self.status == "rejected":
            raise RuleViolation("sample_rejected", "this sample's result was rejected: take a new sample")
        if self.status != "resulted":
            raise RuleViolation("no_result_to_change", "the sample has no result yet")
        changed_at = prov.when(now)
        if changed_at > now + _FUTURE_SKEW:
            raise Invalid("occurred_at", "a change of a result cannot be in the future")
        if self.resulted_at is not None and changed_at < self.resulted_at:
            raise Invalid("occurred_at", "a change of a result cannot precede the result")

    def correct_result(self, *, result: str, ct_value: object, reason: str, prov: Provenance, now: datetime) -> dict:
        """Correct the result; returns the previous {"result", "ct_value"}."""
        require_code("reason", reason, RESULT_CORRECTION_REASONS)
        require_code("result", result, TEST_RESULTS)
        ct = check_ct(ct_value, method=self.method, result=result)
        self._require_result(prov, now)
        previous = {"result": self.result, "ct_value": self.ct_value}
        if previous == {"result": result, "ct_value": ct}:
            raise RuleViolation("correction_changes_nothing", "the corrected values equal the current ones")
        self._record(self.ResultCorrected, prov, result=result, ct_value=ct, previous=previous, reason=reason)
        return previous

    def reject_result(self, *, reason: str, prov: Provenance, now: datetime) -> dict:
        """Reject the result; returns the previous {"result", "ct_value"}."""
        require_code("reason", reason, RESULT_REJECTION_REASONS)
        self._require_result(prov, now)
        previous = {"result": self.result, "ct_value": self.ct_value}
        self._record(self.ResultRejected, prov, reason=reason, previous=previous)
        return previous
