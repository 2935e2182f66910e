"""Risk level policy tables (DOMAIN §6): published examples, exact band boundaries, monotonicity."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policies.risk import (
    NATIONAL_POLICIES,
    POLICY_218,
    POLICY_4800,
    Bound,
    CoverageRule,
    RiskPolicy,
    assess,
    cases_per_100k,
    policy_in_force,
)

HIGH = {"dose1_18plus": (70, 100), "full_50plus": (80, 100), "full_all": (75, 100)}


def counts(d1: tuple[int, int], f50: tuple[int, int], fall: tuple[int, int] = (0, 1)) -> dict:
    return {"dose1_18plus": d1, "full_50plus": f50, "full_all": fall}


# -- published examples of Decision 4800 (DOMAIN §6) ------------------------------------------------

def test_ward_of_10000_with_3_cases_is_30_per_100k_level_2_or_3():
    rate = cases_per_100k(3, 10_000)
    assert rate == 30
    assert POLICY_4800.band_label(POLICY_4800.band(rate)) == "20–< 50"
    assert assess(POLICY_4800, 3, 10_000, HIGH)["level"] == 2
    low = counts((699, 1000), (80, 100))
    assert assess(POLICY_4800, 3, 10_000, low)["level"] == 3


def test_district_of_250000_with_49_cases_is_19_6_level_1_or_2():
    rate = cases_per_100k(49, 250_000)
    assert rate == Fraction(196, 10)
    assert POLICY_4800.band_label(POLICY_4800.band(rate)) == "< 20"
    assert assess(POLICY_4800, 49, 250_000, HIGH)["level"] == 1
    assert assess(POLICY_4800, 49, 250_000, counts((70, 100), (799, 1000)))["level"] == 2


def test_exactly_20_and_exactly_150_fall_in_the_upper_band():
    assert POLICY_4800.band_label(POLICY_4800.band(Fraction(20))) == "20–< 50"
    assert POLICY_4800.band_label(POLICY_4800.band(Fraction(150))) == "≥ 150"
    assert POLICY_4800.band(Fraction(1999, 100)) == 1
    assert POLICY_4800.band(Fraction(14999, 100)) == 3
    # 20.0 per 100k exactly: 2 cases among 10,000 people
    assert assess(POLICY_4800, 2, 10_000, HIGH)["band_label"] == "20–< 50"
    assert assess(POLICY_4800, 15, 10_000, HIGH)["band_label"] == "≥ 150"


def test_coverage_70_0_and_80_0_is_high_69_9_or_79_9_is_low():
    rule = POLICY_4800.coverage
    assert rule.is_high(counts((700, 1000), (800, 1000)))
    assert not rule.is_high(counts((699, 1000), (800, 1000)))
    assert not rule.is_high(counts((700, 1000), (799, 1000)))
    assert not rule.is_high(counts((0, 0), (800, 1000)))  # nobody aged 18+: nothing shows coverage


def test_the_provisional_150_high_cell_is_level_3_and_zero_cases_is_level_1():
    assert assess(POLICY_4800, 15, 10_000, HIGH)["level"] == 3
    assert assess(POLICY_4800, 15, 10_000, counts((0, 1), (0, 1)))["level"] == 4
    assert assess(POLICY_4800, 0, 10_000, counts((0, 1), (0, 1)))["level"] == 1
    assert "150" in POLICY_4800.provisional[0]


# -- Decision 218 -----------------------------------------------------------------------------------

def test_218_level_4_needs_more_than_600():
    high = counts((0, 1), (90, 100), (75, 100))
    low = counts((0, 1), (89, 100), (75, 100))
    assert assess(POLICY_218, 60, 10_000, low)["level"] == 3  # exactly 600.0: not above 600
    assert assess(POLICY_218, 61, 10_000, low)["level"] == 4
    assert assess(POLICY_218, 61, 10_000, high)["level"] == 4
    for cases in range(0, 61):
        assert assess(POLICY_218, cases, 10_000, low)["level"] < 4


def test_218_coverage_is_75_percent_of_everyone_and_90_percent_of_50_plus():
    rule = POLICY_218.coverage
    assert rule.is_high(counts((0, 1), (90, 100), (75, 100)))
    assert not rule.is_high(counts((0, 1), (899, 1000), (75, 100)))
    assert not rule.is_high(counts((0, 1), (90, 100), (749, 1000)))
    assert POLICY_218.provisional


def test_version_in_force_by_day_and_province_override():
    assert policy_in_force(date(2021, 10, 11)) is None
    assert policy_in_force(date(2021, 10, 12)) is POLICY_4800
    assert policy_in_force(date(2022, 1, 26)) is POLICY_4800
    assert policy_in_force(date(2022, 1, 27)) is POLICY_218
    hanoi = RiskPolicy(
        id="HN-override-2021-11", document="test override", effective=date(2021, 11, 1),
        bounds=(Bound(10), Bound(50), Bound(150)), coverage=POLICY_4800.coverage,
        high=POLICY_4800.high, low=POLICY_4800.low, province_code="01")
    assert policy_in_force(date(2021, 11, 2), "01", overrides=(hanoi,)) is hanoi
    assert policy_in_force(date(2021, 11, 2), "79", overrides=(hanoi,)) is POLICY_4800
    assert policy_in_force(date(2021, 10, 20), "01", overrides=(hanoi,)) is POLICY_4800
    # The override keeps applying after a later national version only if it is newer than it.
    assert policy_in_force(date(2022, 2, 1), "01", overrides=(hanoi,)) is POLICY_218
    # An override's own bands apply: 10 per 100k is already band 2 in it.
    assert hanoi.band(Fraction(10)) == 2


def test_no_population_gives_no_level():
    out = assess(POLICY_4800, 3, 0, HIGH)
    assert out["level"] is None and out["band"] is None


# -- properties -------------------------------------------------------------------------------------

policies = st.sampled_from(NATIONAL_POLICIES)
populations = st.integers(min_value=1, max_value=12_000_000)
shares = st.tuples(st.integers(0, 10_000), st.integers(1, 10_000)).map(lambda t: (min(t), max(t)))
coverage = st.fixed_dictionaries({"dose1_18plus": shares, "full_50plus": shares, "full_all": shares})


@given(policies, st.integers(0, 100_000), st.integers(0, 100_000), populations, coverage)
def test_level_is_monotonic_in_cases(policy: RiskPolicy, a: int, b: int, population: int, cov: dict):
    lo, hi = sorted((a, b))
    assert assess(policy, lo, population, cov)["level"] <= assess(policy, hi, population, cov)["level"]


@given(policies, st.integers(0, 100_000), populations, coverage, coverage)
def test_level_is_monotonic_in_coverage(policy: RiskPolicy, cases: int, population: int, a: dict, b: dict):
    better = {k: max(a[k], b[k], key=lambda s: Fraction(s[0], s[1])) for k in a}
    assert assess(policy, cases, population, better)["level"] <= assess(policy, cases, population, a)["level"]


@given(policies, st.integers(1, 10_000_000))
def test_every_bound_is_exact(policy: RiskPolicy, population: int):
    for bound in policy.bounds:
        at = Fraction(bound.value)
        assert policy.band(at) == policy.band(at - Fraction(1, population)) + (1 if bound.closed else 0)


@pytest.mark.parametrize("policy", NATIONAL_POLICIES, ids=lambda p: p.id)
def test_tables_are_well_formed(policy: RiskPolicy):
    assert len(policy.high) == len(policy.low) == len(policy.bounds) + 2
    assert all(h <= lo for h, lo in zip(policy.high, policy.low, strict=True))
    assert list(policy.high) == sorted(policy.high) and list(policy.low) == sorted(policy.low)
    assert isinstance(policy.coverage, CoverageRule)
