"""Quarantine terms under each policy version, for vaccinated, recovered and unvaccinated contacts (no I/O)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.policies.quarantine import POLICIES, compute_order, quarantine_policy_on
from ledger.policies.vaccines import DoseFact


def _doses(*days: date) -> list[DoseFact]:
    return [DoseFact(f"d{i}", "pfizer", d, "primary", None) for i, d in enumerate(days)]


def _d(day: date, n: int) -> date:
    return day + timedelta(days=n)


def test_versions_by_day():
    assert [p.id for p in POLICIES] == ["5599/BYT-MT", "10696/BYT-MT", "762/BYT-DP", "1909/BYT-DP"]
    assert quarantine_policy_on(date(2021, 8, 1)).id == "5599/BYT-MT"
    assert quarantine_policy_on(date(2021, 12, 14)).id == "5599/BYT-MT"
    assert quarantine_policy_on(date(2021, 12, 15)).id == "10696/BYT-MT"
    assert quarantine_policy_on(date(2022, 2, 21)).id == "762/BYT-DP"
    assert quarantine_policy_on(date(2022, 4, 15)).id == "1909/BYT-DP"
    with pytest.raises(LookupError):
        quarantine_policy_on(date(2021, 7, 13))


@pytest.mark.parametrize("vaccinated", [False, True])
def test_5599_ignores_vaccination(vaccinated):
    day = date(2021, 9, 1)
    doses = _doses(date(2021, 6, 1), date(2021, 7, 1)) if vaccinated else []
    order = compute_order(quarantine_policy_on(day), level="F1", day=day, doses=doses, recovered_on=[])
    assert order.policy_id == "5599/BYT-MT" and order.setting == "facility"
    assert (order.starts_on, order.ends_on, order.monitoring_ends_on) == (day, _d(day, 13), _d(day, 27))
    assert order.test_days == (day, _d(day, 6), _d(day, 13))
    assert order.basis["protected"] is False and order.basis["doses"] == (2 if vaccinated else 0)


def test_10696_vaccinated_at_home_unvaccinated_in_facility():
    day = date(2022, 1, 10)
    policy = quarantine_policy_on(day)
    home = compute_order(policy, level="F1", day=day, doses=_doses(date(2021, 10, 1), date(2021, 11, 1)),
                         recovered_on=[])
    assert home.setting == "home" and home.basis["fully_vaccinated"] is True
    assert (home.ends_on, home.monitoring_ends_on, home.test_days) == (_d(day, 6), _d(day, 13), (day, _d(day, 6)))
    # Last dose too recent (< 14 days), too old (> 6 months), or one dose only: unprotected.
    for doses in (_doses(date(2021, 12, 1), date(2022, 1, 1)), _doses(date(2021, 5, 1), date(2021, 6, 1)),
                  _doses(date(2021, 11, 1))):
        facility = compute_order(policy, level="F1", day=day, doses=doses, recovered_on=[])
        assert facility.setting == "facility" and facility.ends_on == _d(day, 27)
    recovered = compute_order(policy, level="F1", day=day, doses=[], recovered_on=[date(2021, 9, 1)])
    assert recovered.setting == "home" and recovered.basis["recovered"] is True


def test_762_two_doses_or_recovered_three_months():
    day = date(2022, 3, 1)
    policy = quarantine_policy_on(day)
    vaccinated = compute_order(policy, level="F1", day=day, doses=_doses(date(2021, 9, 1), date(2021, 10, 1)),
                               recovered_on=[])
    assert (vaccinated.ends_on, vaccinated.monitoring_ends_on, vaccinated.test_days) == (
        _d(day, 4), _d(day, 9), (_d(day, 4),))
    other = compute_order(policy, level="F1", day=day, doses=_doses(date(2022, 2, 10)), recovered_on=[])
    assert (other.ends_on, other.monitoring_ends_on, other.test_days) == (_d(day, 6), _d(day, 9), (_d(day, 6),))
    assert compute_order(policy, level="F1", day=day, doses=[], recovered_on=[date(2021, 11, 1)]).ends_on == _d(day, 6)
    assert compute_order(policy, level="F1", day=day, doses=[], recovered_on=[date(2022, 1, 1)]).ends_on == _d(day, 4)


@pytest.mark.parametrize("vaccinated", [False, True])
def test_1909_orders_no_f1_quarantine(vaccinated):
    day = date(2022, 5, 1)
    doses = _doses(date(2021, 9, 1), date(2021, 10, 1)) if vaccinated else []
    assert compute_order(quarantine_policy_on(day), level="F1", day=day, doses=doses, recovered_on=[]) is None
    f0 = compute_order(quarantine_policy_on(day), level="F0", day=day, doses=doses, recovered_on=[])
    assert f0.provisional and f0.ends_on == _d(day, 6)


def test_f2_only_under_5599_provisionally():
    assert compute_order(quarantine_policy_on(date(2021, 8, 1)), level="F2", day=date(2021, 8, 1), doses=[],
                         recovered_on=[]).provisional
    assert compute_order(quarantine_policy_on(date(2022, 1, 5)), level="F2", day=date(2022, 1, 5), doses=[],
                         recovered_on=[]) is None
