"""The national workload's vaccination campaign, resident by resident."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from ..commands._shared import CommandResult
from ..domain import Facility, Provenance
from ..policies.screening import SCREENING_3802, derived_outcome
from ..policies.vaccines import add_months, series_policy_on
from .people import CLEAR_ANSWERS, screening_vitals
from .plan import CAMPAIGN_END, Planner, Resident, half_month, local_time

#: Shares of first doses by vaccine, per month (roughly what arrived).
FIRST_DOSE_MIX: dict[int, dict[str, int]] = {
    3: {"astrazeneca": 100}, 4: {"astrazeneca": 100}, 5: {"astrazeneca": 100},
    6: {"astrazeneca": 80, "vero_cell": 20},
    7: {"astrazeneca": 45, "vero_cell": 30, "moderna": 15, "pfizer": 10},
    8: {"astrazeneca": 35, "vero_cell": 40, "moderna": 10, "pfizer": 15},
    9: {"astrazeneca": 30, "vero_cell": 40, "moderna": 10, "pfizer": 20},
    10: {"astrazeneca": 20, "vero_cell": 35, "moderna": 15, "pfizer": 30},
    11: {"astrazeneca": 15, "vero_cell": 30, "moderna": 15, "pfizer": 40},
    12: {"astrazeneca": 15, "vero_cell": 30, "moderna": 15, "pfizer": 40},
}

#: Relative volume of the general public's first doses per month (the 2021 ramp).
MONTH_VOLUME = {3: 0.2, 4: 0.2, 5: 0.3, 6: 0.8, 7: 3.0, 8: 8.0, 9: 14.0, 10: 16.0, 11: 9.0, 12: 4.0}

PRIORITY_GROUPS = ["chronic_condition", "frontline_worker", "essential_services", "teacher", "general_public"]


@dataclass(frozen=True, slots=True)
class PlannedDose:
    visit: str
    at: datetime
    point: str
    #: Minutes of observation a `caution` screening ordered (its end is always recorded).
    caution_minutes: int | None
    administer: Callable[[Provenance, UUID], CommandResult]


class VaccinationPlanner(Planner):
    """Each resident's campaign: registration for vaccination, approval, screenings, doses and what follows them."""

    def _first_dose_day(self, p: Resident, cohort: str) -> date:
        rng = self.rng
        if cohort == "health_worker":
            return date(2021, 3, 8) + timedelta(days=rng.randrange(50))
        if cohort == "minor":
            return date(2021, 11, 1) + timedelta(days=rng.randrange(50))
        months = list(MONTH_VOLUME)
        month = rng.choices(months, [MONTH_VOLUME[m] * (1.5 if m <= 8 and p.age_on(date(2021, 7, 1)) >= 65 else 1)
                                     for m in months])[0]
        last = (date(2021, month + 1, 1) - timedelta(days=1)) if month < 12 else date(2021, 12, 20)
        first = date(2021, month, 8 if month == 3 else 1)
        return first + timedelta(days=rng.randrange((last - first).days + 1))

    def _plan_vaccination(self, p: Resident) -> None:
        rng = self.rng
        adult = p.age_on(date(2021, 7, 1)) >= 18
        if rng.random() >= 0.95:
            return
        cohort = ("health_worker" if adult and 23 <= p.age_on(date(2021, 3, 1)) <= 60 and rng.random() < 0.03
                  else "general" if adult else "minor")
        first_day = self._first_dose_day(p, cohort)
        while first_day.weekday() == 6:  # no sessions on Sundays
            first_day += timedelta(days=1)
        registered_at = local_time(first_day - timedelta(days=rng.randint(4, 20)), 8) + timedelta(
            minutes=rng.randrange(12 * 60))
        self._register(p, registered_at - timedelta(minutes=rng.randint(5, 60)))
        group = {"health_worker": "health_worker", "minor": "children_12_17"}.get(cohort) or (
            "elderly_65_plus" if p.age_on(first_day) >= 65 else rng.choice(PRIORITY_GROUPS))
        self._person_at(registered_at, "PORTAL", "vaccination_registration", p, "portal",
                        lambda prov, pid: self.ledger.register_for_vaccination(
                            person_id=pid, priority_group=group, prov=prov))
        province = p.ward.province_code
        centre = Facility.create_id(f"TTYT-{p.ward.district_code}")
        approved_at = local_time((registered_at + timedelta(days=rng.randint(1, 3))).date(), 10) + timedelta(
            minutes=rng.randrange(300))
        self._person_at(approved_at, f"SYT-{province}", "approval", p, "app",
                        lambda prov, pid: self.ledger.approve_vaccination(
                            person_id=pid, province_code=province, district_code=p.ward.district_code,
                            district_facility_id=centre, prov=prov))
        day = max(first_day, approved_at.date() + timedelta(days=1))
        if rng.random() < 0.02:
            self._visit(p, "delay", day, None, answers={"acute_illness": True})
            day += timedelta(days=rng.randint(7, 14))
        if day > CAMPAIGN_END:
            return
        vaccine = "pfizer" if cohort == "minor" else self._pick_vaccine(day)
        if vaccine is None:
            return
        first = self._visit(p, "dose1", day, vaccine, kind="primary")
        if first is None:
            return
        doses = [first]
        if rng.random() < 0.93:
            second_vaccine = vaccine
            if vaccine == "astrazeneca" and rng.random() < 0.2:
                second_vaccine = "pfizer"
            due = self._earliest_second(vaccine, day) + timedelta(days=rng.randint(0, 14 if vaccine == "astrazeneca"
                                                                                    else 6))
            if second_vaccine != vaccine:
                due = max(due, date(2021, 9, 20))
            if due.weekday() == 6:
                due += timedelta(days=1)
            second = self._visit(p, "dose2", due, second_vaccine, kind="primary") if due <= CAMPAIGN_END else None
            if second is not None:
                doses.append(second)
                booster_day = add_months(due, 6) + timedelta(days=rng.randint(0, 10))
                if cohort == "health_worker" and rng.random() < 0.75 and booster_day <= CAMPAIGN_END:
                    booster = rng.choice(("pfizer", "moderna"))
                    if booster_day.weekday() == 6:
                        booster_day += timedelta(days=1)
                    booster_dose = self._visit(p, "booster", booster_day, booster, kind="booster")
                    if booster_dose is not None:
                        doses.append(booster_dose)
        self._after_doses(p, doses)

    def _pick_vaccine(self, day: date) -> str | None:
        mix = {v: w for v, w in FIRST_DOSE_MIX[day.month].items() if self._lot_for(v, day)}
        return self.rng.choices(list(mix), list(mix.values()))[0] if mix else None

    @staticmethod
    def _earliest_second(vaccine: str, first: date) -> date:
        day = first + timedelta(days=1)
        while (day - first).days < series_policy_on(day).vaccine(vaccine).intervals_days[0]:
            day += timedelta(days=1)
        return day

    def _visit(self, p: Resident, key: str, day: date, vaccine: str | None, *, kind: str | None = None,
               answers: dict | None = None) -> PlannedDose | None:
        """A trip to the ward station: a screening and, if it allows, the dose (planned by `_after_doses`)."""
        rng = self.rng
        point = f"TYT-{p.ward.code}"
        point_id = Facility.create_id(point)
        vitals = screening_vitals(rng, p.age_on(day) >= 60)
        answers = {**CLEAR_ANSWERS, **(answers or {})}
        outcome, _ = derived_outcome(SCREENING_3802, vitals, answers)
        screen_at = local_time(day, 7, 30) + timedelta(minutes=rng.randrange(9 * 60))
        minutes = 60 if outcome == "caution" else 30
        visit = f"{p.n}/{key}"

        def screen(prov: Provenance, pid: UUID) -> CommandResult:
            result = self.ledger.screen(person_id=pid, facility_id=point_id, vitals=vitals, answers=answers,
                                        observation_minutes=minutes, prov=prov)
            self.ids[f"{visit}/screening"] = UUID(result.ids["screening_id"])
            return result

        self._person_at(screen_at, point, "screening", p, "app", screen)
        lot = self._lot_for(vaccine, day) if vaccine else None
        if lot is None or outcome not in ("eligible", "caution"):
            return None
        dose_at = screen_at + timedelta(minutes=rng.randint(8, 45))
        self.used[(point, lot.id, half_month(day)[0])][day] += 1

        def administer(prov: Provenance, pid: UUID) -> CommandResult:
            result = self.ledger.administer_dose(person_id=pid, lot_id=lot.id, facility_id=point_id,
                                                 screening_id=self.ids[f"{visit}/screening"], kind=kind, prov=prov)
            self.ids[f"{visit}/dose"] = UUID(result.ids["dose_id"])
            return result

        return PlannedDose(visit, dose_at, point, minutes if outcome == "caution" else None, administer)

    def _after_doses(self, p: Resident, doses: list[PlannedDose]) -> None:
        """Each dose entered on time (the last one 5.5 % of the time late, from a paper list) or twice;
        the end of observation; a date corrected; adverse events."""
        rng = self.rng
        for i, dose in enumerate(doses):
            visit, dose_at, point = dose.visit, dose.at, dose.point
            late = i == len(doses) - 1 and rng.random() < 0.055
            at = dose_at + timedelta(days=rng.randint(3, 45)) if late else dose_at
            self._person_at(at, point, "late_dose" if late else "dose", p, "import" if late else "app",
                            dose.administer, occurred_at=dose_at)
            if late:
                continue
            if rng.random() < 0.002:
                self._person_at(at + timedelta(minutes=2), point, "dose", p, "app", dose.administer,
                                refused="screening_already_used")
            minutes = dose.caution_minutes or (30 if rng.random() < 0.25 else None)
            if minutes:
                self._person_at(dose_at + timedelta(minutes=minutes), point, "observation", p, "app",
                                lambda prov, pid, visit=visit, minutes=minutes: self.ledger.complete_observation(
                                    person_id=pid, dose_id=self.ids[f"{visit}/dose"], minutes=minutes, reactions=[],
                                    prov=prov))
            if i == len(doses) - 1 and rng.random() < 0.003:
                self._person_at(at + timedelta(days=1, hours=2), point, "dose_correction", p, "app",
                                lambda prov, pid, visit=visit, dose_at=dose_at: self.ledger.correct_dose(
                                    person_id=pid, dose_id=self.ids[f"{visit}/dose"], reason="wrong_date",
                                    administered_at=dose_at + timedelta(days=1), prov=prov))
            if rng.random() < 0.001:
                onset = dose_at + timedelta(hours=rng.randint(4, 30))
                self._person_at(onset + timedelta(hours=2), point, "adverse_event", p, "app",
                                lambda prov, pid, visit=visit, onset=onset: self.ledger.report_adverse_event(
                                    person_id=pid, dose_id=self.ids[f"{visit}/dose"], severity="common",
                                    symptoms=["fever", "headache"], onset_at=onset, prov=prov))
