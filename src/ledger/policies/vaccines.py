"""Vaccine series, intervals and mixing (DOMAIN §3), as versioned policy data.

`check_series` validates a whole ordered list of doses, so a dose entered late (a
backlog record dated before doses already on file) is checked against both neighbours.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple


@dataclass(frozen=True)
class Vaccine:
    code: str
    name: str
    manufacturer: str
    primary_doses: int
    #: Minimum days between primary dose n and n+1 (index 0 = between dose 1 and 2).
    intervals_days: tuple[int, ...]
    provisional: bool = False


@dataclass(frozen=True)
class SeriesPolicy:
    id: str
    document: str
    effective: date
    vaccines: dict[str, Vaccine]
    #: Second primary dose of another vaccine than the first: allowed pairs (first -> second).
    mixing: dict[str, frozenset[str]]
    booster_after_months: int = 6
    additional_after_days: int = 28
    #: Days after the last primary dose before "fully vaccinated" counts for F1/762 purposes.
    protection_lag_days: int = 14
    notes: str = ""
    overrides: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def vaccine(self, code: str) -> Vaccine:
        return self.vaccines[code]


_BASE_VACCINES = {
    v.code: v
    for v in (
        Vaccine("astrazeneca", "Vaxzevria (AstraZeneca)", "AstraZeneca", 2, (56,)),
        Vaccine("pfizer", "Comirnaty (Pfizer-BioNTech)", "Pfizer-BioNTech", 2, (21,)),
        Vaccine("moderna", "Spikevax (Moderna)", "Moderna", 2, (28,)),
        Vaccine("vero_cell", "Vero Cell (Sinopharm)", "Sinopharm", 2, (21,)),
        Vaccine("sputnik_v", "Sputnik V", "Gamaleya", 2, (21,)),
        Vaccine("janssen", "Janssen", "Johnson & Johnson", 1, ()),
        Vaccine("abdala", "Abdala", "CIGB", 3, (14, 14), provisional=True),
        Vaccine("hayat_vax", "Hayat-Vax", "G42/Sinopharm", 2, (21,), provisional=True),
    )
}

_MIXING_SEP_2021 = {
    "astrazeneca": frozenset({"pfizer", "moderna"}),
    "moderna": frozenset({"pfizer"}),
    "pfizer": frozenset({"moderna"}),
}

MOH_AUG_2021 = SeriesPolicy(
    id="moh-2021-08-intervals",
    document="MoH guidance on COVID-19 vaccine intervals, Aug 2021",
    effective=date(2021, 3, 8),
    vaccines=_BASE_VACCINES,
    mixing={},
    notes="AstraZeneca 8-12 weeks; Pfizer 21 days; Moderna 28 days; Vero Cell 3-4 weeks; no mixing.",
)

OL_7820_SEP_2021 = SeriesPolicy(
    id="7820-byt-dp-2021-09-20",
    document="Official Letter 7820/BYT-DP (20 Sep 2021) and mixing guidance of Sep 2021",
    effective=date(2021, 9, 20),
    vaccines={
        **_BASE_VACCINES,
        # Provinces could shorten AstraZeneca to 4-12 weeks; 4 weeks is the national floor.
        "astrazeneca": Vaccine("astrazeneca", "Vaxzevria (AstraZeneca)", "AstraZeneca", 2, (28,)),
    },
    mixing=_MIXING_SEP_2021,
    notes="AstraZeneca interval may be shortened to 4 weeks; AZ->Pfizer/Moderna and Moderna<->Pfizer allowed.",
)

SERIES_POLICIES: tuple[SeriesPolicy, ...] = (MOH_AUG_2021, OL_7820_SEP_2021)
VACCINE_CODES = frozenset(_BASE_VACCINES)


def series_policy_on(day: date) -> SeriesPolicy:
    """The series policy in force on `day` (the earliest one for days before all of them)."""
    in_force = [p for p in SERIES_POLICIES if p.effective <= day]
    return max(in_force, key=lambda p: p.effective) if in_force else SERIES_POLICIES[0]


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class DoseFact(NamedTuple):
    """What the series rules need to know of one valid (not voided) dose.

    A named tuple rather than a frozen dataclass: a projection rebuild makes one per dose per
    recompute, and a frozen dataclass costs four times as much to create."""

    dose_id: str
    vaccine: str
    day: date
    kind: str = "primary"
    interval_override: bool = False


@dataclass(frozen=True)
class SeriesViolation:
    rule: str
    dose_id: str
    message: str
    earliest: date | None = None


class SeriesState(NamedTuple):
    status: str  # none | partial | primary_complete | boosted
    primary_doses_given: int
    primary_doses_required: int
    primary_completed_on: date | None
    next_dose_kind: str | None
    next_dose_earliest: date | None
    policy_id: str


def _sorted(doses: list[DoseFact]) -> list[DoseFact]:
    return sorted(doses, key=lambda d: (d.day, d.dose_id))


def series_state(doses: list[DoseFact], on: date | None = None) -> SeriesState:
    """Series status and the earliest next dose for a person's valid doses."""
    ordered = _sorted(doses)
    policy = series_policy_on(on or (ordered[-1].day if ordered else date.today()))
    primary = [d for d in ordered if d.kind == "primary"]
    boosters = [d for d in ordered if d.kind == "booster"]
    if not primary:
        return SeriesState("none", 0, 0, None, "primary", None, policy.id)
    first = policy.vaccine(primary[0].vaccine)
    required = first.primary_doses
    if len(primary) < required:
        gap = first.intervals_days[len(primary) - 1]
        return SeriesState(
            "partial", len(primary), required, None, "primary", primary[-1].day + timedelta(days=gap), policy.id
        )
    completed_on = primary[required - 1].day
    # Like check_series: the next booster runs from the last booster *or additional* dose after the series.
    after_primary = [d for d in ordered if d.kind != "primary" and d.day >= completed_on]
    last = after_primary[-1].day if after_primary else completed_on
    return SeriesState(
        "boosted" if boosters else "primary_complete",
        len(primary),
        required,
        completed_on,
        "booster",
        add_months(last, policy.booster_after_months),
        policy.id,
    )


def check_series(doses: list[DoseFact]) -> list[SeriesViolation]:
    """Every rule broken by this set of doses, each judged under the policy in force on its day.

    Doses carrying an interval override are exempt from the interval (and mixing) checks;
    the override and its reason are recorded with the dose.
    """
    violations: list[SeriesViolation] = []
    ordered = _sorted(doses)
    primary = [d for d in ordered if d.kind == "primary"]
    if primary:
        first_policy = series_policy_on(primary[0].day)
        required = first_policy.vaccine(primary[0].vaccine).primary_doses
        if len(primary) > required:
            extra = primary[required]
            violations.append(
                SeriesViolation(
                    "primary_series_already_complete",
                    extra.dose_id,
                    f"the primary series needs {required} dose(s); record a booster or additional dose instead",
                )
            )
        for prev, dose in zip(primary, primary[1:required], strict=False):
            if dose.interval_override:
                continue
            policy = series_policy_on(dose.day)
            first_vaccine = policy.vaccine(primary[0].vaccine)
            if dose.vaccine != prev.vaccine and dose.vaccine not in policy.mixing.get(prev.vaccine, frozenset()):
                violations.append(
                    SeriesViolation(
                        "vaccine_mixing_not_allowed",
                        dose.dose_id,
                        f"{prev.vaccine} followed by {dose.vaccine} is not allowed under {policy.id}",
                    )
                )
            index = primary.index(prev)
            gap = first_vaccine.intervals_days[index] if index < len(first_vaccine.intervals_days) else 0
            earliest = prev.day + timedelta(days=gap)
            if dose.day < earliest:
                violations.append(
                    SeriesViolation(
                        "dose_interval",
                        dose.dose_id,
                        f"primary dose {index + 2} of {first_vaccine.code} is due on or after {earliest} "
                        f"({gap} days after {prev.day}) under {policy.id}",
                        earliest,
                    )
                )
    complete_on = None
    if primary:
        required = series_policy_on(primary[0].day).vaccine(primary[0].vaccine).primary_doses
        if len(primary) >= required:
            complete_on = primary[required - 1].day
    last_after_primary = complete_on
    for dose in ordered:
        if dose.kind == "primary":
            continue
        policy = series_policy_on(dose.day)
        if complete_on is None or dose.day < complete_on:
            violations.append(
                SeriesViolation(
                    "primary_series_incomplete",
                    dose.dose_id,
                    f"a {dose.kind} dose needs a complete primary series first",
                )
            )
            continue
        if dose.interval_override:
            last_after_primary = dose.day
            continue
        if dose.kind == "booster":
            earliest = add_months(last_after_primary, policy.booster_after_months)
        else:
            earliest = last_after_primary + timedelta(days=policy.additional_after_days)
        if dose.day < earliest:
            violations.append(
                SeriesViolation(
                    "dose_interval",
                    dose.dose_id,
                    f"a {dose.kind} dose is due on or after {earliest} under {policy.id}",
                    earliest,
                )
            )
        last_after_primary = dose.day
    return violations


def is_fully_vaccinated(doses: list[DoseFact], purpose: str, on: date) -> bool:
    """"Fully vaccinated" for a purpose on a date (DOMAIN §3): a predicate, never a flag.

    Purposes: `f1_home_quarantine` (10696/BYT-MT: primary complete, last dose 14 days to
    6 months before), `762` (762/BYT-DP: at least 2 doses, the last at least 14 days
    before), `passport` (5772/QĐ-BYT: primary complete), `coverage` (primary complete).
    """
    given = [d for d in _sorted(doses) if d.day <= on]
    state = series_state(given, on)
    complete = state.status in ("primary_complete", "boosted")
    if purpose in ("passport", "coverage"):
        return complete
    if purpose == "762":
        return len(given) >= 2 and given[-1].day + timedelta(days=14) <= on
    if purpose == "f1_home_quarantine":
        if not complete:
            return False
        last = given[-1].day
        return last + timedelta(days=14) <= on <= add_months(last, 6)
    raise ValueError(f"unknown purpose {purpose!r}")
