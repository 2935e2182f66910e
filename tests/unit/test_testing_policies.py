"""The testing policies as pure functions, and the person's case decision on a Person without any store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import Invalid, Person, Provenance, RuleViolation, Sample
from ledger.policies.testing import (
    CASE_11042,
    CASE_RT_PCR_ONLY,
    POOL_3486,
    POOL_HOUSEHOLD_2021,
    ResultFact,
    case_definition_on,
    decide_case,
    infectious_from,
    pool_policy_on,
)

T0 = datetime(2022, 1, 10, 2, 0, tzinfo=UTC)
P = Provenance(actor="lab-tech", org="cdc", source="app")


def rapid(n: int, at: datetime, link: dict | None = None, result: str = "positive") -> ResultFact:
    return ResultFact(f"s{n}", "rapid_antigen", result, None, at, None, link)


def pcr(n: int, at: datetime, result: str = "positive") -> ResultFact:
    return ResultFact(f"s{n}", "rt_pcr", result, 20.0, at, None, None)


def never(_: datetime) -> bool:
    return False


def test_policies_in_force_by_day():
    """Each table answers the version in force on the day (the first one before any was issued)."""
    assert pool_policy_on(date(2019, 1, 1)) is POOL_3486
    assert pool_policy_on(date(2021, 2, 14)) is POOL_3486
    assert pool_policy_on(date(2021, 2, 15)) is POOL_HOUSEHOLD_2021
    assert case_definition_on(date(2021, 12, 28)) is CASE_RT_PCR_ONLY
    assert case_definition_on(date(2021, 12, 29)) is CASE_11042
    assert POOL_HOUSEHOLD_2021.provisional and CASE_RT_PCR_ONLY.provisional and not CASE_11042.provisional


def test_rt_pcr_positive_is_a_case_under_both_definitions():
    """An RT-PCR positive confirms a case before and after 11042/BYT-DP; a negative one never does."""
    for definition in (CASE_RT_PCR_ONLY, CASE_11042):
        decision = decide_case(definition, [pcr(1, T0)], is_f1_at=never, standing_links=[])
        assert decision.rule == "rt_pcr_positive" and decision.evidence[0].sample_id == "s1"
        assert decide_case(definition, [pcr(1, T0, "negative")], is_f1_at=never, standing_links=[]) is None


def test_an_f1_with_one_positive_rapid_test():
    """One positive rapid test confirms an F1 under 11042/BYT-DP, not a non-contact, not before it."""
    results = [rapid(1, T0)]
    assert decide_case(CASE_11042, results, is_f1_at=lambda at: True, standing_links=[]).rule == "f1_rapid_positive"
    assert decide_case(CASE_11042, results, is_f1_at=never, standing_links=[]) is None
    assert decide_case(CASE_RT_PCR_ONLY, results, is_f1_at=lambda at: True, standing_links=[]) is None


@pytest.mark.parametrize(("gap", "confirmed"), [(timedelta(hours=8), True), (timedelta(hours=8, seconds=1), False)])
def test_two_rapid_tests_within_eight_hours_with_a_link(gap, confirmed):
    """The second positive rapid test counts within 8 hours of the first (8 h exactly included), with a link."""
    link = {"kind": "household_pool", "ref": "p1"}
    results = [rapid(1, T0), rapid(2, T0 + gap)]
    decision = decide_case(CASE_11042, results, is_f1_at=never, standing_links=[link])
    assert (decision is not None) is confirmed
    if confirmed:
        assert decision.rule == "two_rapid_positive_with_link" and decision.epi_link == link
    assert decide_case(CASE_11042, results, is_f1_at=never, standing_links=[]) is None


def test_infectious_period_starts_two_days_before_onset_or_first_sample():
    """Two days before symptom onset (from local midnight), else before the first positive sample (provisional)."""
    midnight = lambda day: datetime(day.year, day.month, day.day, tzinfo=UTC)  # noqa: E731
    first, second = pcr(1, T0), pcr(2, T0 + timedelta(hours=3))
    assert infectious_from(CASE_11042, (second, first), midnight) == T0 - timedelta(days=2)
    with_onset = first._replace(symptom_onset=date(2022, 1, 8))
    assert infectious_from(CASE_11042, (with_onset,), midnight) == datetime(2022, 1, 6, tzinfo=UTC)


@given(st.permutations([rapid(1, T0), rapid(2, T0 + timedelta(hours=2), {"kind": "declared", "ref": None}),
                        pcr(3, T0 + timedelta(days=1), "negative"), rapid(4, T0 + timedelta(hours=30))]))
def test_the_decision_does_not_depend_on_the_order_of_results(results):
    """Results in any order give the same decision (the earliest evidence wins)."""
    decision = decide_case(CASE_11042, list(results), is_f1_at=never, standing_links=[])
    assert decision.rule == "two_rapid_positive_with_link"
    assert [r.sample_id for r in decision.evidence] == ["s1", "s2"]


def _person() -> Person:
    return Person.register(
        person_id=uuid4(), id_type="none", id_number=None,
        details={"full_name": "Le Van C", "date_of_birth": date(1970, 1, 1), "sex": "male",
                 "address": {"province_code": "79", "district_code": "760", "ward_code": "26734"}},
        prov=P, now=T0,
    )


def test_a_pool_is_rt_pcr_and_within_its_size():
    """Pooling rapid tests, a pool of one, or a pool over its kind's maximum is refused by name."""
    people = [uuid4() for _ in range(16)]

    def collect(method: str, subjects: list, kind: str | None, policy=POOL_HOUSEHOLD_2021) -> Sample:
        return Sample.collect(barcode="BC-0001", method=method, subject_ids=subjects, pool_kind=kind,
                              facility_id=uuid4(), symptom_onset=None, policy=policy, retest_of=None, epi_link=None,
                              prov=P, now=T0)

    assert collect("rt_pcr", people[:15], "household").pool_policy_id == "household-pool-2021-02"
    for method, subjects, kind, policy, rule in [
        ("rapid_antigen", people[:2], "household", POOL_HOUSEHOLD_2021, "pooling_not_allowed_for_method"),
        ("rt_pcr", people[:1], "community", POOL_HOUSEHOLD_2021, "pool_size_within_policy"),
        ("rt_pcr", people[:11], "community", POOL_HOUSEHOLD_2021, "pool_size_within_policy"),
        ("rt_pcr", people[:11], "household", POOL_3486, "pool_size_within_policy"),
        ("rt_pcr", people, "household", POOL_HOUSEHOLD_2021, "pool_size_within_policy"),
    ]:
        with pytest.raises(RuleViolation) as refused:
            collect(method, subjects, kind, policy)
        assert refused.value.rule == rule
    with pytest.raises(Invalid) as invalid:
        collect("rt_pcr", [people[0], people[0]], "household")
    assert invalid.value.field == "subject_ids"
