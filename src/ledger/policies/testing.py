"""Testing and case definitions (DOMAIN §5), as versioned policy data.

Two tables, each chosen by the day of the fact it judges:

- **Pool policies**: which samples may be pooled and how many people one pool may hold.
  Decision 3486/QĐ-BYT (2020) pooled RT-PCR samples; HCMC (Aug 2021) used pools of 5 in
  high-risk and 10 in low-risk areas; household pools of 10-15 were taken from Feb 2021.
  DOMAIN.md marks the maximum (10 for RT-PCR) provisional, and so are the dates and the
  household maximum of 15 here. Rapid antigen tests are never pooled: the pooling guidance is
  about RT-PCR only, and a pooled rapid test has no validated sensitivity.
- **Case definitions** (who is a confirmed case, F0): before Official Dispatch 11042/BYT-DP
  (29 Dec 2021) only an RT-PCR positive confirmed a case (provisional: the earlier documents
  were not checked); from it, also an F1 with a positive rapid test, or two positive rapid
  tests (the second taken within 8 hours of the first) with an epidemiological link.

The infectious period (used by tracing and exposures) starts `infectious_days_before` days
before symptom onset or, without symptoms, before the first positive sample was taken: 2
days, provisional.

`decide_case` applies a definition to a person's own results; it is pure, so it is easy to
test and the Person aggregate replays nothing through it (it only records what it decided).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

# -- pools ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolPolicy:
    id: str
    document: str
    effective: date
    #: Methods whose samples may be pooled.
    methods: frozenset[str]
    #: Largest pool per pool kind (`community`, `household`).
    max_size: dict[str, int]
    min_size: int = 2
    provisional: bool = True


POOL_3486 = PoolPolicy(
    id="3486/QD-BYT-pool",
    document="Decision 3486/QĐ-BYT (2020): pooled RT-PCR samples; maximum pool size 10 (provisional)",
    effective=date(2020, 8, 10),
    methods=frozenset({"rt_pcr"}),
    max_size={"community": 10, "household": 10},
)
POOL_HOUSEHOLD_2021 = PoolPolicy(
    id="household-pool-2021-02",
    document="MoH practice from Feb 2021: household pools of 10-15; community pools stay at 10 (provisional)",
    effective=date(2021, 2, 15),
    methods=frozenset({"rt_pcr"}),
    max_size={"community": 10, "household": 15},
)
POOL_POLICIES = (POOL_3486, POOL_HOUSEHOLD_2021)


def pool_policy_on(day: date) -> PoolPolicy:
    """The pool policy in force on `day` (the earliest one before any was issued)."""
    current = POOL_POLICIES[0]
    for policy in POOL_POLICIES:
        if policy.effective <= day:
            current = policy
    return current


# -- case definitions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseDefinition:
    id: str
    document: str
    effective: date
    #: The F0 rules in force, in the order they are tried.
    rules: tuple[str, ...]
    #: Two positive rapid tests count together when the second was taken within this many hours.
    rapid_pair_hours: int = 8
    #: The infectious period starts this many days before symptom onset or the first positive sample.
    infectious_days_before: int = 2
    #: An F1 is a contact exposed within this many days before the positive rapid sample.
    f1_window_days: int = 14
    provisional: bool = False


CASE_RT_PCR_ONLY = CaseDefinition(
    id="rt-pcr-only-2020",
    document="Before 11042/BYT-DP: an RT-PCR positive confirms a case (provisional)",
    effective=date(2020, 1, 23),
    rules=("rt_pcr_positive",),
    provisional=True,
)
CASE_11042 = CaseDefinition(
    id="11042/BYT-DP",
    document="Official Dispatch 11042/BYT-DP, 29 Dec 2021",
    effective=date(2021, 12, 29),
    rules=("rt_pcr_positive", "f1_rapid_positive", "two_rapid_positive_with_link"),
)
CASE_DEFINITIONS = (CASE_RT_PCR_ONLY, CASE_11042)


def case_definition_on(day: date) -> CaseDefinition:
    current = CASE_DEFINITIONS[0]
    for definition in CASE_DEFINITIONS:
        if definition.effective <= day:
            current = definition
    return current


class ResultFact(NamedTuple):
    """One of a person's own (individual, not rejected) results, as the case rules read it."""

    sample_id: str
    method: str
    result: str
    ct_value: float | None
    collected_at: datetime
    symptom_onset: date | None
    #: The epidemiological link declared with the sample, if any: {"kind", "ref"}.
    epi_link: dict | None


class Decision(NamedTuple):
    rule: str
    evidence: tuple[ResultFact, ...]
    epi_link: dict | None


def decide_case(
    definition: CaseDefinition,
    results: list[ResultFact],
    *,
    is_f1_at: object,
    standing_links: list[dict],
) -> Decision | None:
    """The first rule of `definition` that the person's `results` satisfy, with its evidence.

    `is_f1_at(moment) -> bool` says whether the person was a recorded F1 at a moment;
    `standing_links` are epidemiological links the person has whatever the sample (a recorded
    contact, a positive household pool), each {"kind", "ref"}. The earliest evidence wins, so
    re-deciding after an unrelated change gives the same answer.
    """
    positives = sorted((r for r in results if r.result == "positive"), key=lambda r: (r.collected_at, r.sample_id))
    for rule in definition.rules:
        if rule == "rt_pcr_positive":
            pcr = [r for r in positives if r.method == "rt_pcr"]
            if pcr:
                return Decision(rule, (pcr[0],), None)
        elif rule == "f1_rapid_positive":
            for r in positives:
                if r.method == "rapid_antigen" and is_f1_at(r.collected_at):  # type: ignore[operator]
                    return Decision(rule, (r,), {"kind": "contact", "ref": None})
        elif rule == "two_rapid_positive_with_link":
            rapid = [r for r in positives if r.method == "rapid_antigen"]
            window = timedelta(hours=definition.rapid_pair_hours)
            for i, first in enumerate(rapid):
                for second in rapid[i + 1:]:
                    if second.collected_at - first.collected_at > window:
                        break
                    link = first.epi_link or second.epi_link or (standing_links[0] if standing_links else None)
                    if link is not None:
                        return Decision(rule, (first, second), link)
    return None


def infectious_from(definition: CaseDefinition, evidence: tuple[ResultFact, ...], local_midnight: object) -> datetime:
    """Start of the infectious period: `infectious_days_before` days before the earliest symptom onset
    named with the evidence (from local midnight of that day, `local_midnight(day)`), else before the
    first positive sample was taken."""
    back = timedelta(days=definition.infectious_days_before)
    onsets = [r.symptom_onset for r in evidence if r.symptom_onset is not None]
    if onsets:
        return local_midnight(min(onsets)) - back  # type: ignore[operator]
    return min(r.collected_at for r in evidence) - back
