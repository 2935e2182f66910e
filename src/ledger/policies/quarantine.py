"""Quarantine policy versions (DOMAIN §5), as data with their id and effective day.

An order is computed once, under the version in force on the day the person was identified, from
the person's vaccination and recovery facts on that day; the order stores the computed start, end,
monitoring end and test days, so a later version (or a corrected table) never changes past orders.

Day numbering: day 1 is the start day (the identification day), so a 14-day quarantine starting on
1 Aug ends on 14 Aug (inclusive) and its monitoring runs from 15 Aug to 28 Aug.

Provisional rules (DOMAIN gives none; marked `provisional=True` on the terms they produce):
- F0 (a confirmed case) is isolated in a facility for the F1 "unprotected" duration of the version
  in force, tests on its last day; under 1909/BYT-DP (no F1 quarantine) an F0 is still isolated
  7 days at home (PROVISIONAL).
- F2 is monitored at home: under 5599/BYT-MT 7 days at home + 7 monitoring (PROVISIONAL), under later
  versions no quarantine: ordering one is refused with `no_quarantine_for_level`.
- 10696/BYT-MT is taken as effective on 15 Dec 2021 ("mid-Dec 2021": PROVISIONAL day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .vaccines import DoseFact, add_months, is_fully_vaccinated


@dataclass(frozen=True)
class Terms:
    """How long, where, and which days to test: one branch of a policy version."""

    quarantine_days: int
    monitoring_days: int
    test_days: tuple[int, ...]
    setting: str  # home | facility
    #: Part of the quarantine after `facility_days` is spent at home (10696 unprotected: 14 facility + 14 home).
    facility_days: int = 0
    provisional: bool = False


@dataclass(frozen=True)
class QuarantinePolicy:
    id: str
    effective: date
    #: level -> (protected terms, unprotected terms); None when the version orders no quarantine.
    protected: dict[str, Terms | None]
    unprotected: dict[str, Terms | None]
    #: Name of the "protected" test, for the order's basis (vaccines.is_fully_vaccinated purpose, recovery months).
    vaccination_purpose: str | None
    recovery_months: int | None
    notes: str = ""


_F0_7_HOME = Terms(7, 0, (7,), "home", provisional=True)

POLICIES: tuple[QuarantinePolicy, ...] = (
    QuarantinePolicy(
        "5599/BYT-MT", date(2021, 7, 14),
        protected={}, unprotected={
            "F1": Terms(14, 14, (1, 7, 14), "facility"),
            "F0": Terms(14, 0, (14,), "facility", provisional=True),
            "F2": Terms(7, 7, (1, 7), "home", provisional=True),
        },
        vaccination_purpose=None, recovery_months=None,
        notes="14 days quarantine + 14 days monitoring; tests on days 1, 7, 14 (no vaccination branch).",
    ),
    QuarantinePolicy(
        "10696/BYT-MT", date(2021, 12, 15),
        protected={"F1": Terms(7, 7, (1, 7), "home"), "F0": Terms(14, 0, (14,), "facility", provisional=True),
                   "F2": None},
        unprotected={"F1": Terms(28, 0, (1, 7, 14), "facility", facility_days=14),
                     "F0": Terms(14, 0, (14,), "facility", provisional=True), "F2": None},
        vaccination_purpose="f1_home_quarantine", recovery_months=6,
        notes="Effective day 15 Dec 2021 is provisional (DOMAIN: mid-Dec 2021). Unprotected: 14 days in a facility"
              " + 14 at home; test days 1, 7, 14 for the unprotected branch are provisional.",
    ),
    QuarantinePolicy(
        "762/BYT-DP", date(2022, 2, 21),
        protected={"F1": Terms(5, 5, (5,), "home"), "F0": Terms(7, 0, (7,), "home", provisional=True), "F2": None},
        unprotected={"F1": Terms(7, 3, (7,), "home"), "F0": Terms(7, 0, (7,), "home", provisional=True), "F2": None},
        vaccination_purpose="762", recovery_months=3,
    ),
    QuarantinePolicy(
        "1909/BYT-DP", date(2022, 4, 15),
        protected={"F1": None, "F0": _F0_7_HOME, "F2": None},
        unprotected={"F1": None, "F0": _F0_7_HOME, "F2": None},
        vaccination_purpose=None, recovery_months=None,
        notes="No quarantine for F1: 10 days of precautions (nothing to order).",
    ),
)


def quarantine_policy_on(day: date) -> QuarantinePolicy:
    """The version in force on `day` (the first one before 14 Jul 2021 is refused by the caller)."""
    eligible = [p for p in POLICIES if p.effective <= day]
    if not eligible:
        raise LookupError(f"no quarantine policy in force on {day.isoformat()}")
    return eligible[-1]


def quarantine_policy(policy_id: str) -> QuarantinePolicy:
    return next(p for p in POLICIES if p.id == policy_id)


@dataclass(frozen=True)
class Computed:
    """An order's stored values: the policy id, basis, dates and test days."""

    policy_id: str
    basis: dict
    starts_on: date
    ends_on: date
    monitoring_ends_on: date
    test_days: tuple[date, ...]
    setting: str
    provisional: bool


def compute_order(policy: QuarantinePolicy, *, level: str, day: date, doses: list[DoseFact],
                  recovered_on: list[date]) -> Computed | None:
    """The order `policy` gives a person of `level` identified on `day`, or None when it orders none."""
    vaccinated = bool(policy.vaccination_purpose) and is_fully_vaccinated(doses, policy.vaccination_purpose, day)
    recovered = policy.recovery_months is not None and any(
        r <= day <= add_months(r, policy.recovery_months) for r in recovered_on)
    protected = vaccinated or recovered
    table = policy.protected if protected and level in policy.protected else policy.unprotected
    terms = table.get(level)
    if terms is None:
        return None
    given = sorted(d.day for d in doses if d.day <= day)
    basis = {
        "protected": protected, "fully_vaccinated": vaccinated, "recovered": recovered,
        "doses": len(given), "last_dose_on": given[-1].isoformat() if given else None,
        "recovered_on": max((r for r in recovered_on if r <= day), default=None),
        "vaccination_purpose": policy.vaccination_purpose, "recovery_months": policy.recovery_months,
    }
    if basis["recovered_on"] is not None:
        basis["recovered_on"] = basis["recovered_on"].isoformat()
    ends = day + timedelta(days=terms.quarantine_days - 1)
    return Computed(
        policy_id=policy.id, basis=basis, starts_on=day, ends_on=ends,
        monitoring_ends_on=ends + timedelta(days=terms.monitoring_days),
        test_days=tuple(day + timedelta(days=n - 1) for n in terms.test_days),
        setting=terms.setting, provisional=terms.provisional,
    )
