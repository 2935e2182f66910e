"""Pre-vaccination screening (Decision 2995/QĐ-BYT, revised by 3802/QĐ-BYT), as policy data.

The screening doctor records vitals and answers; the policy derives the least strict
outcome they allow. The doctor may order a stricter outcome, never a laxer one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

OUTCOME_SEVERITY = {"eligible": 0, "caution": 1, "delay": 2, "refer_to_hospital": 3, "contraindicated": 4}


@dataclass(frozen=True)
class ScreeningPolicy:
    id: str
    document: str
    effective: date
    temperature_c: tuple[float, float] = (35.5, 37.5)
    pulse_per_min: tuple[int, int] = (60, 100)
    systolic_mmhg: tuple[int, int] = (90, 140)
    diastolic_mmhg: tuple[int, int] = (60, 90)
    respiration_max: int = 25
    #: A screening is valid for a dose given within this many hours after it.
    valid_hours: int = 24
    observation_minutes: tuple[int, ...] = (30, 60)


SCREENING_3802 = ScreeningPolicy(
    id="3802-qd-byt-2021",
    document="Decision 2995/QĐ-BYT as revised by Decision 3802/QĐ-BYT (2021)",
    effective=date(2021, 8, 10),
)


def screening_policy_on(day: date) -> ScreeningPolicy:
    return SCREENING_3802


def derived_outcome(policy: ScreeningPolicy, vitals: dict, answers: dict) -> tuple[str, list[str]]:
    """The least strict outcome the vitals and answers allow, with the triggers that set it."""
    triggers: list[str] = []
    outcome = "eligible"

    def raise_to(level: str, why: str) -> None:
        nonlocal outcome
        triggers.append(why)
        if OUTCOME_SEVERITY[level] > OUTCOME_SEVERITY[outcome]:
            outcome = level

    if answers.get("anaphylaxis_to_previous_dose") or answers.get("contraindication"):
        raise_to("contraindicated", "contraindication")
    if answers.get("needs_hospital"):
        raise_to("refer_to_hospital", "needs_hospital")
    if answers.get("covid_within_6_months"):
        raise_to("delay", "covid_within_6_months")
    if answers.get("acute_illness"):
        raise_to("delay", "acute_illness")
    if answers.get("pregnant_under_13_weeks"):
        raise_to("delay", "pregnant_under_13_weeks")
    t = vitals.get("temperature_c")
    if t is not None and not policy.temperature_c[0] <= t <= policy.temperature_c[1]:
        raise_to("caution", "temperature")
    p = vitals.get("pulse_per_min")
    if p is not None and not policy.pulse_per_min[0] <= p <= policy.pulse_per_min[1]:
        raise_to("caution", "pulse")
    s = vitals.get("systolic_mmhg")
    if s is not None and not policy.systolic_mmhg[0] <= s <= policy.systolic_mmhg[1]:
        raise_to("caution", "systolic")
    d = vitals.get("diastolic_mmhg")
    if d is not None and not policy.diastolic_mmhg[0] <= d <= policy.diastolic_mmhg[1]:
        raise_to("caution", "diastolic")
    r = vitals.get("respiration_per_min")
    if r is not None and r > policy.respiration_max:
        raise_to("caution", "respiration")
    return outcome, triggers
