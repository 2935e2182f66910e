"""The synthetic national workload: 2021 in all 63 provinces, from a seed, at any size.

`NationalWorkload(seed, people)` plans a year of the pandemic for a sample of `people`
residents (pure: `random.Random(seed)`, nothing read from the store), then runs it through the
real `Ledger` commands, so every event is one the application would write for the same input
and every rule is applied. Sizes run from a few hundred people (a thousand events, in tests
and `make demo`) to millions (tens of millions of events, in `bench/national.py`);
`people_for_events` turns an event budget into a sample size.

What it plans, with the rates it uses (DOMAIN.md §2-5, §8, §9):

- *Where people live*: provinces by their 2019 population, a sample of wards in each (one
  commune health station per ward, about one per 250 sampled people; at least one per
  province), all from `ledger.workload.census`. Each ward station is a vaccination point under
  its district health centre, under the provincial warehouse, under the national warehouse;
  each province has its CDC laboratory; each ward has two check-in venues (a market and a shop).
- *Who they are*: sex, date of birth after the 2019 age pyramid, Vietnamese names, 12-digit CCCD
  numbers (older people partly 9-digit CMND, a few passports); 4.6 % have no id number (3.5 M of
  76.6 M vaccinees, Mar 2022). Children under 12 (not vaccinated in 2021) are not registered.
- *Registration faults*: 25 % of records carry wrong information (19.0 M of 76.6 M): a name
  without diacritics (half), a date of birth with day and month swapped or set to 1 January
  (a third), the wrong sex (the rest); 1 % of desks first type a CCCD one digit short (refused,
  `id_number`), then register the person without a number. 1.5 % of vaccinees are registered a
  second time by another desk.
- *Vaccination*: 95 % of adults register (portal), are approved by the province and allocated
  to their district, are screened (Decision 3802 vitals and questions; 2 % delayed by an acute
  illness, who come back one to two weeks later) and get a first dose, on a day drawn from
  the 2021 ramp (a few in March-June, most August-November); health workers (3 % of adults)
  from 8 March; 12-17-year-olds Pfizer from November. 93 % come back for the second dose at the
  interval of the policy in force plus the wait for a session; AstraZeneca's second dose is
  Pfizer for a fifth of them after 20 September (mixing, 7820/BYT-DP). Three quarters of health
  workers get a booster six months later. A quarter of desks record the end of observation.
  0.2 % of doses are entered twice (the second refused, `screening_already_used`), 0.3 % are
  corrected a day later (`wrong_date`), 0.1 % have a common adverse event reported.
- *Late entries*: 5.5 % of last doses are entered from paper lists 3-45 days later (247.3 M
  doses given vs 233.7 M recorded, Aug 2022), as backlog rows (`source = import`).
- *Supply*: monthly lots of four vaccines with their shelf lives and vials; every half month
  each point gets what its doses need in whole vials plus one spare, shipped national →
  province → district → point in the days before, with 0.5 % of deliveries a vial short
  (`damaged`); open-vial waste is written off at the end of each half month.
- *Identity cleaning*, October-December: every record with a number is checked against the
  population register (`match`, `mismatch` with the fields, `not_found` for a mistyped number);
  the ward station corrects 60 % of the mismatches with the reason code, adds the number to
  40 % of records without one (`missing_id`), merges duplicates (`duplicate_person`) and
  reverts 3 % of those merges.
- *Testing*: the 2021 outbreaks (Bắc Giang and Bắc Ninh in May-June; Hồ Chí Minh City and the
  south-east from June; Hà Nội, Đà Nẵng, Cần Thơ from July) bring weekly community pooled
  RT-PCR rounds (pools of 10 at the ward station, the provincial lab's result the next day); a
  positive pool's members are retested one by one, and one of them is positive. Elsewhere
  0.5 % of adults a month take a rapid antigen test (2 % positive).
- *Check-ins*: from 20 September (the national QR app), people aged 16-70 with a phone check in
  at their ward's venues, more at weekends, at the hours of markets, lunch and evening; they go
  in through the bulk check-in import, 20,000 at a time (after the commands that registered them).

Idempotent and resumable: every command carries a deterministic `client_ref` (the plan's
order), each check-in too; a store holding the complete run (its final command's receipt) is
left alone, and an interrupted run resumes by replaying what is already there.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from ..application import Ledger
from ..commands._shared import CommandResult
from ..domain import (
    CommandReceipt,
    Facility,
    IdentityKey,
    LedgerError,
    Provenance,
    Sample,
    Transfer,
    VaccineLot,
)
from ..domain.identity import normalise_id_number
from ..domain.person import LOCAL_TZ
from ..policies.screening import SCREENING_3802, derived_outcome
from ..policies.vaccines import add_months, series_policy_on
from .census import AGE_PYRAMID_2019, Ward, provinces
from .people import CLEAR_ANSWERS, full_name, screening_vitals, strip_diacritics

NATIONAL = "KHO-QG"
CAMPAIGN_END = date(2021, 12, 31)
#: Sampled people per vaccination point (a commune health station served ~10,000 people).
PEOPLE_PER_POINT = 250
#: Commands per batch (one transaction each; see `Ledger.run_batch`).
BATCH = 2000
#: Check-ins gathered (over days) before they go in, in the check-in import's own batches.
CHECKIN_BATCH = 20_000
#: Events a sampled person brings on average (measured: `bench/national.py` prints the figure).
EVENTS_PER_PERSON = 30


@dataclass(frozen=True, slots=True)
class _Vaccine:
    code: str
    manufacturer: str
    doses_per_vial: int
    first_arrival: date
    shelf_months: int
    lot_prefix: str


VACCINES = (
    _Vaccine("astrazeneca", "AstraZeneca", 10, date(2021, 2, 24), 6, "ABV"),
    _Vaccine("vero_cell", "Sinopharm", 1, date(2021, 6, 5), 24, "2021"),
    _Vaccine("pfizer", "Pfizer-BioNTech", 6, date(2021, 7, 5), 6, "FF"),
    _Vaccine("moderna", "Moderna", 10, date(2021, 7, 5), 7, "30"),
)
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
#: Outbreaks of 2021: province -> (first day, last day, weekly share of people pooled, share of pools positive).
OUTBREAKS: dict[str, tuple[date, date, float, float]] = {
    "24": (date(2021, 5, 10), date(2021, 6, 30), 0.40, 0.04),
    "27": (date(2021, 5, 10), date(2021, 6, 30), 0.30, 0.03),
    "79": (date(2021, 6, 1), date(2021, 10, 15), 0.50, 0.06),
    "74": (date(2021, 6, 15), date(2021, 10, 15), 0.50, 0.06),
    "75": (date(2021, 7, 1), date(2021, 10, 15), 0.30, 0.04),
    "80": (date(2021, 7, 1), date(2021, 9, 30), 0.30, 0.03),
    "01": (date(2021, 7, 20), date(2021, 9, 30), 0.30, 0.01),
    "48": (date(2021, 7, 25), date(2021, 9, 15), 0.40, 0.02),
    "92": (date(2021, 7, 15), date(2021, 10, 15), 0.20, 0.03),
}
CHECKINS_FROM = date(2021, 9, 20)
#: Check-ins per person per day (weekday, weekend), and their weights by hour of the day.
CHECKIN_RATE = (0.12, 0.2)
CHECKIN_HOURS = {6: 4, 7: 6, 8: 4, 9: 2, 10: 2, 11: 5, 12: 5, 13: 2, 14: 1, 15: 1, 16: 2, 17: 5, 18: 6, 19: 5,
                 20: 3, 21: 1}
PRIORITY_GROUPS = ["chronic_condition", "frontline_worker", "essential_services", "teacher", "general_public"]


def people_for_events(events: int) -> int:
    """A sample size whose run writes roughly `events` events."""
    return max(30, events // EVENTS_PER_PERSON)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def _half_month(day: date) -> tuple[int, date]:
    """The supply period of `day` (0-23) and its first day: every point is restocked twice a month."""
    second = day.day > 15
    return (day.month - 1) * 2 + second, date(day.year, day.month, 16 if second else 1)


def _period_days(period: int) -> tuple[date, date]:
    """The first and last day of supply period `period` (0-23)."""
    month, second = period // 2 + 1, period % 2
    last = (date(2021, month, 15) if not second else
            date(2021, month + 1, 1) - timedelta(days=1) if month < 12 else CAMPAIGN_END)
    return date(2021, month, 16 if second else 1), last


@dataclass(frozen=True, slots=True)
class _Lot:
    vaccine: _Vaccine
    lot_number: str
    arrives: date
    expiry: date

    @property
    def id(self) -> UUID:
        return VaccineLot.create_id(self.vaccine.manufacturer, self.lot_number)


@dataclass(slots=True)
class _Person:
    n: int
    ward: Ward
    sex: str
    dob: date
    name: str
    id_type: str
    id_number: str | None
    phone: str | None
    line: str
    #: The details as registered (with the fault, if any), and the fault's reason code.
    registered: dict = field(default_factory=dict)
    fault: str | None = None
    registered_at: datetime | None = None

    def age_on(self, day: date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))


@dataclass(slots=True)
class _Action:
    at: datetime
    seq: int
    org: str
    kind: str
    run: Callable[[Provenance], CommandResult]
    source: str = "app"
    person: int | None = None
    #: Other people it reads (a sample's subjects, a merge's survivor): read with the batch's first query.
    others: tuple[int, ...] = ()
    #: The rule (409) or field (422) this command is planned to be refused for.
    refused: str | None = None
    #: Aggregates to read with the batch's first query (a sample, a transfer).
    needs: tuple[UUID, ...] = ()
    #: When it happened, if not when it is recorded (`at`): a dose entered late from a paper list.
    occurred_at: datetime | None = None
    ref: str = ""


@dataclass(frozen=True, slots=True)
class _Dose:
    visit: str
    at: datetime
    point: str
    #: Minutes of observation a `caution` screening ordered (its end is always recorded).
    caution_minutes: int | None
    administer: Callable[[Provenance, UUID], CommandResult]


class NationalWorkload:
    """Plans the year from `seed` for `people` residents, then runs it (`run`)."""

    def __init__(self, seed: int = 2021, people: int = 10_000, *, exclude_provinces: frozenset[str] = frozenset()):
        self.seed, self.size = seed, people
        self.rng = random.Random(seed)
        self.tag = f"nat-{seed}-{people}" + "".join(f"-x{code}" for code in sorted(exclude_provinces))
        self.provinces = [p for p in provinces() if p.code not in exclude_provinces]
        self.actions: list[_Action] = []
        self.checkins: dict[date, list[tuple[int, str, datetime]]] = defaultdict(list)
        self.persons: list[_Person] = []
        self.used_numbers: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        # Filled while running: ids the commands answered.
        self.pid: dict[int, UUID] = {}
        self.ids: dict[str, UUID] = {}
        self.replayed = 0

    # -- places ------------------------------------------------------------------------------------

    def _plan_places(self) -> None:
        rng = self.rng
        total = sum(p.population for p in self.provinces)
        points = max(len(self.provinces), self.size // PEOPLE_PER_POINT)
        self.wards: dict[str, list[Ward]] = {}
        for p in self.provinces:
            k = min(len(p.wards), max(1, round(points * p.population / total)))
            self.wards[p.code] = sorted(rng.sample(p.wards, k), key=lambda w: w.code)
        self.province_weights = list(itertools.accumulate(p.population for p in self.provinces))
        at = _local(date(2021, 2, 1), 8)  # before the first registrations (health workers, mid-February)
        hanoi = next(w for p in provinces() if p.code == "01" for w in p.wards)
        self._facility(at, NATIONAL, "Kho vắc xin quốc gia", "national_warehouse", hanoi, None)
        for p in self.provinces:
            first = self.wards[p.code][0]
            self._facility(at, f"KHO-{p.code}", f"Kho vắc xin CDC {p.name}", "provincial_warehouse", first, NATIONAL)
            self._facility(at, f"LAB-{p.code}", f"Phòng xét nghiệm CDC {p.name}", "lab", first, None)
            for w in self.wards[p.code]:
                centre = f"TTYT-{w.district_code}"
                if centre not in self.facilities:
                    self._facility(at, centre, f"Trung tâm Y tế {w.district_name}", "district_centre", w,
                                   f"KHO-{p.code}")
                self._facility(at, f"TYT-{w.code}", f"Trạm Y tế {w.name}", "vaccination_point", w, centre)
                for k, kind in enumerate(("Chợ", "Cửa hàng tiện lợi"), start=1):
                    self._facility(at, f"DD-{w.code}-{k}", f"{kind} {w.name}", "venue", w, None)

    def _facility(self, at: datetime, code: str, name: str, kind: str, ward: Ward, parent: str | None) -> None:
        self.facilities[code] = kind

        def register(prov: Provenance) -> CommandResult:
            if code == NATIONAL and self.national_exists:
                return CommandResult({}, 0, replayed=True)  # the demo's national warehouse: the chain starts there
            return self.ledger.register_facility(
                code=code, name=name, kind=kind, province_code=ward.province_code, district_code=ward.district_code,
                ward_code=ward.code, parent_code=parent, prov=prov)

        self._at(at, "BYT", "facility", register)
        if code == NATIONAL:
            self.national_action = self.actions[-1]

    # -- lots ----------------------------------------------------------------------------------------

    def _plan_lots(self) -> None:
        self.lots: dict[str, list[_Lot]] = {}
        for v in VACCINES:
            lots = []
            for month in range(v.first_arrival.month, 13):
                arrives = v.first_arrival if month == v.first_arrival.month else date(2021, month, 5)
                number = f"{v.lot_prefix}{month:02d}{self.rng.randrange(1000, 9999)}"
                lots.append(_Lot(v, number, arrives, add_months(arrives, v.shelf_months)))
            self.lots[v.code] = lots
            for lot in lots:
                self._at(_local(lot.arrives, 8, 30), NATIONAL, "lot", lambda prov, lot=lot: self.ledger.register_lot(
                    vaccine=lot.vaccine.code, manufacturer=lot.vaccine.manufacturer, lot_number=lot.lot_number,
                    expiry=lot.expiry, doses_per_vial=lot.vaccine.doses_per_vial, prov=prov))
        self.lot_of = {lot.id: lot for lots in self.lots.values() for lot in lots}

    def _lot_for(self, vaccine: str, day: date) -> _Lot | None:
        """The lot a point uses on `day`: the newest that reached the national warehouse a week
        before the supply period began (and has not expired)."""
        _, start = _half_month(day)
        usable = [lot for lot in self.lots[vaccine] if lot.arrives <= start - timedelta(days=7) and lot.expiry > day]
        return usable[-1] if usable else None

    # -- people --------------------------------------------------------------------------------------

    def _new_person(self, n: int) -> _Person | None:
        rng = self.rng
        province = self.provinces[bisect.bisect(self.province_weights, rng.random() * self.province_weights[-1])]
        ward = rng.choice(self.wards[province.code])
        sex = "female" if rng.random() < 0.505 else "male"
        (lo, hi), = rng.choices([b for b, _ in AGE_PYRAMID_2019], [w for _, w in AGE_PYRAMID_2019])
        age = rng.randint(lo, hi)
        if age < 12:
            return None
        dob = date(2021 - age, 7, 1) - timedelta(days=rng.randrange(365))
        roll = rng.random()
        id_type = ("none" if roll < 0.046 else "passport" if roll < 0.048
                   else "cmnd" if roll < 0.2 and age >= 30 else "cccd")
        number = None if id_type == "none" else self._id_number(dob, sex, id_type, province.code)
        phone = rng.choice(["09", "03", "08", "07"]) + f"{rng.randrange(10**8):08d}" if rng.random() < 0.9 else None
        line = f"Số {rng.randint(1, 250)}, thôn {rng.randint(1, 12)}"
        p = _Person(n, ward, sex, dob, full_name(rng, sex), id_type, number, phone, line)
        p.registered = self._details(p)
        fault = rng.random()
        if fault < 0.125 and strip_diacritics(p.name) != p.name:
            p.fault, p.registered = "wrong_name", {**p.registered, "full_name": strip_diacritics(p.name)}
        elif fault < 0.21:
            wrong = (date(dob.year, dob.day, dob.month) if dob.day <= 12 and dob.day != dob.month
                     else date(dob.year, 1, 1) if (dob.month, dob.day) != (1, 1) else None)
            if wrong is not None:
                p.fault, p.registered = "wrong_dob", {**p.registered, "date_of_birth": wrong}
        elif fault < 0.25:
            p.fault, p.registered = "wrong_sex", {**p.registered, "sex": "male" if sex == "female" else "female"}
        return p

    def _id_number(self, dob: date, sex: str, id_type: str, province: str) -> str:
        rng = self.rng
        while True:
            if id_type == "passport":
                number = f"{rng.choice('BCN')}{rng.randrange(10**7):07d}"
            elif id_type == "cmnd":
                number = f"{int(province) % 100:02d}{rng.randrange(10**7):07d}"
            else:
                # Mostly born where they live; CCCD: birth province (3 digits), century and sex, year, serial.
                born = province if rng.random() < 0.8 else rng.choice(self.provinces).code
                century_sex = (0 if dob.year < 2000 else 2) + (sex == "female")
                number = f"0{born}{century_sex}{dob.year % 100:02d}{rng.randrange(10**6):06d}"
            if number not in self.used_numbers:
                self.used_numbers.add(number)
                return number

    @staticmethod
    def _details(p: _Person) -> dict:
        return {"full_name": p.name, "date_of_birth": p.dob, "sex": p.sex, "phone": p.phone,
                "address": {"line": p.line, "province_code": p.ward.province_code,
                            "district_code": p.ward.district_code, "ward_code": p.ward.code}}

    def _register(self, p: _Person, at: datetime) -> None:
        """The person's first contact: the ward station registers them (once)."""
        if p.registered_at is not None and p.registered_at <= at:
            return
        p.registered_at = at

    def _plan_registrations(self) -> None:
        """Registration commands, once each person's first contact is known; 1 % of desks first type
        the CCCD a digit short (refused) and register the person without a number."""
        for p in self.persons:
            if p.registered_at is None:
                continue
            if p.id_type == "cccd" and self.rng.random() < 0.01:
                short = p.id_number[:-1]  # type: ignore[index]
                self._at(p.registered_at - timedelta(minutes=3), f"TYT-{p.ward.code}", "register",
                         lambda prov, p=p, short=short: self.ledger.register_person(
                             id_type="cccd", id_number=short, details=p.registered, prov=prov), refused="id_number")
                p.fault, p.id_type = "invalid_id_format", "none"
            self._registration(p)

    def _registration(self, p: _Person) -> None:
        number = p.id_number if p.id_type != "none" else None

        def register(prov: Provenance) -> CommandResult:
            result = self.ledger.register_person(id_type=p.id_type, id_number=number, details=p.registered, prov=prov)
            self.pid[p.n] = UUID(result.ids["person_id"])
            return result

        key = (IdentityKey.create_id(p.id_type, normalise_id_number(p.id_type, number)),) if number else ()
        self._at(p.registered_at, f"TYT-{p.ward.code}", "register", register, person=p.n,  # type: ignore[arg-type]
                 needs=key)

    # -- vaccination ------------------------------------------------------------------------------

    def _first_dose_day(self, p: _Person, cohort: str) -> date:
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

    def _plan_vaccination(self, p: _Person) -> None:
        rng = self.rng
        adult = p.age_on(date(2021, 7, 1)) >= 18
        if rng.random() >= 0.95:
            return
        cohort = ("health_worker" if adult and 23 <= p.age_on(date(2021, 3, 1)) <= 60 and rng.random() < 0.03
                  else "general" if adult else "minor")
        first_day = self._first_dose_day(p, cohort)
        while first_day.weekday() == 6:  # no sessions on Sundays
            first_day += timedelta(days=1)
        registered_at = _local(first_day - timedelta(days=rng.randint(4, 20)), 8) + timedelta(
            minutes=rng.randrange(12 * 60))
        self._register(p, registered_at - timedelta(minutes=rng.randint(5, 60)))
        group = {"health_worker": "health_worker", "minor": "children_12_17"}.get(cohort) or (
            "elderly_65_plus" if p.age_on(first_day) >= 65 else rng.choice(PRIORITY_GROUPS))
        self._person_at(registered_at, "PORTAL", "vaccination_registration", p, "portal",
                        lambda prov, pid: self.ledger.register_for_vaccination(
                            person_id=pid, priority_group=group, prov=prov))
        province = p.ward.province_code
        centre = Facility.create_id(f"TTYT-{p.ward.district_code}")
        approved_at = _local((registered_at + timedelta(days=rng.randint(1, 3))).date(), 10) + timedelta(
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

    def _visit(self, p: _Person, key: str, day: date, vaccine: str | None, *, kind: str | None = None,
               answers: dict | None = None) -> _Dose | None:
        """A trip to the ward station: a screening and, if it allows, the dose (planned by `_after_doses`)."""
        rng = self.rng
        point = f"TYT-{p.ward.code}"
        point_id = Facility.create_id(point)
        vitals = screening_vitals(rng, p.age_on(day) >= 60)
        answers = {**CLEAR_ANSWERS, **(answers or {})}
        outcome, _ = derived_outcome(SCREENING_3802, vitals, answers)
        screen_at = _local(day, 7, 30) + timedelta(minutes=rng.randrange(9 * 60))
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
        self.used[(point, lot.id, _half_month(day)[0])][day] += 1

        def administer(prov: Provenance, pid: UUID) -> CommandResult:
            result = self.ledger.administer_dose(person_id=pid, lot_id=lot.id, facility_id=point_id,
                                                 screening_id=self.ids[f"{visit}/screening"], kind=kind, prov=prov)
            self.ids[f"{visit}/dose"] = UUID(result.ids["dose_id"])
            return result

        return _Dose(visit, dose_at, point, minutes if outcome == "caution" else None, administer)

    def _after_doses(self, p: _Person, doses: list[_Dose]) -> None:
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

    # -- identity cleaning ------------------------------------------------------------------------

    def _plan_cleaning(self) -> None:
        rng = self.rng
        registered = [p for p in self.persons if p.registered_at is not None]
        for p in registered:
            at = _local(date(2021, 10, 4) + timedelta(days=rng.randrange(80)), 9) + timedelta(
                minutes=rng.randrange(480))
            if at <= p.registered_at:  # type: ignore[operator]
                at = p.registered_at + timedelta(days=7)  # type: ignore[operator]
            station = f"TYT-{p.ward.code}"
            if p.id_type == "none":
                # The number mistyped at registration, or one the person never gave (40 % found).
                if p.fault == "invalid_id_format" or rng.random() < 0.4:
                    number = p.id_number or self._id_number(p.dob, p.sex, "cccd", p.ward.province_code)
                    reason = "invalid_id_format" if p.fault == "invalid_id_format" else "missing_id"
                    self._person_at(at, station, "correction", p, "app",
                                    lambda prov, pid, number=number, reason=reason: self.ledger.correct_person(
                                        person_id=pid, changes={"id_type": "cccd", "id_number": number},
                                        reason=reason, prov=prov))
                continue
            police = f"CA-{p.ward.province_code}"
            if p.fault is None:
                self._person_at(at, police, "verification", p, "integration",
                                lambda prov, pid: self.ledger.verify_identity(person_id=pid, result="match", prov=prov))
                continue
            fields = {"wrong_name": ["full_name"], "wrong_dob": ["date_of_birth"], "wrong_sex": ["sex"]}[p.fault]
            self._person_at(at, police, "verification", p, "integration",
                            lambda prov, pid, fields=fields: self.ledger.verify_identity(
                                person_id=pid, result="mismatch", mismatched_fields=fields, prov=prov))
            if rng.random() < 0.6:
                changes = {"full_name": p.name, "date_of_birth": p.dob, "sex": p.sex}
                changes = {f: changes[f] for f in fields}
                self._person_at(at + timedelta(days=rng.randint(2, 20)), station, "correction", p, "app",
                                lambda prov, pid, changes=changes, fault=p.fault: self.ledger.correct_person(
                                    person_id=pid, changes=changes, reason=fault, prov=prov))
        self._plan_duplicates(registered)

    def _plan_duplicates(self, registered: list[_Person]) -> None:
        rng = self.rng
        for p in registered:
            if rng.random() >= 0.015 or p.id_type == "none":
                continue
            n = -1 - p.n  # the second record's own index
            copy = _Person(n, p.ward, p.sex, p.dob, p.name, "none", None, p.phone, p.line,
                           registered={**p.registered, "full_name": strip_diacritics(p.name)})
            at = p.registered_at + timedelta(days=rng.randint(1, 30))  # type: ignore[operator]
            copy.registered_at = at
            self.persons.append(copy)
            self._registration(copy)
            merge_at = max(at, _local(date(2021, 10, 15), 9)) + timedelta(days=rng.randint(1, 70))
            survivor = p.n
            self._person_at(merge_at, f"TYT-{p.ward.code}", "merge", copy, "app",
                            lambda prov, pid, survivor=survivor: self.ledger.merge_people(
                                duplicate_id=pid, into_id=self.pid[survivor], reason="duplicate_person", prov=prov),
                            others=(survivor,))
            if rng.random() < 0.03:
                self._person_at(merge_at + timedelta(days=rng.randint(1, 10)), f"SYT-{p.ward.province_code}",
                                "merge_revert", copy, "app",
                                lambda prov, pid: self.ledger.revert_merge(duplicate_id=pid, prov=prov),
                                others=(survivor,))

    # -- testing ----------------------------------------------------------------------------------

    def _plan_testing(self) -> None:
        rng = self.rng
        by_ward: dict[str, list[_Person]] = defaultdict(list)
        for p in self.persons:
            if p.n >= 0:
                by_ward[p.ward.code].append(p)
        barcodes = itertools.count(1)
        for p in self.provinces:
            outbreak = OUTBREAKS.get(p.code)
            for ward in self.wards[p.code]:
                people = by_ward.get(ward.code, [])
                if outbreak:
                    start, end, weekly, positive = outbreak
                    day = start + timedelta(days=rng.randrange(7))
                    while day <= end:
                        tested = [q for q in people if rng.random() < weekly]
                        for k in range(0, len(tested), 10):
                            pool = tested[k:k + 10]
                            self._sample(p.code, ward, day, pool, next(barcodes), positive=rng.random() < positive,
                                         barcodes=barcodes)
                        day += timedelta(days=7)
                for q in people:
                    for month in range(3, 13):
                        if q.age_on(date(2021, 7, 1)) >= 18 and rng.random() < 0.005:
                            day = date(2021, month, 1) + timedelta(days=rng.randrange(28))
                            self._sample(p.code, ward, day, [q], next(barcodes), positive=rng.random() < 0.02,
                                         barcodes=barcodes, method="rapid_antigen")

    def _sample(self, province: str, ward: Ward, day: date, people: list[_Person], number: int, *, positive: bool,
                barcodes: Iterator[int], method: str = "rt_pcr", retest_of: str | None = None) -> None:
        rng = self.rng
        if not people:
            return
        if len(people) == 1 and retest_of is None and method == "rt_pcr":
            method = "rapid_antigen"
        barcode = f"XN{province}{day:%y%m%d}{number:07d}"
        sample_id = Sample.create_id(barcode)
        point, lab = f"TYT-{ward.code}", f"LAB-{province}"
        taken = _local(day, 7) + timedelta(minutes=rng.randrange(240))
        for q in people:
            self._register(q, taken - timedelta(minutes=rng.randint(5, 30)))
        pooled = len(people) > 1
        members = [q.n for q in people]
        retest_id = Sample.create_id(retest_of) if retest_of else None
        self._at(taken, point, "pooled_sample" if pooled else "sample", lambda prov: self.ledger.collect_sample(
            barcode=barcode, method=method, subject_ids=[self.pid[n] for n in members], pool_kind="community"
            if pooled else None, facility_id=Facility.create_id(point), retest_of=retest_id, prov=prov),
            needs=(sample_id, *((retest_id,) if retest_id else ())),
            others=tuple(members))
        lab_id = Facility.create_id(lab)
        rapid = method == "rapid_antigen"
        self._at(taken + timedelta(hours=1 if rapid else 5), lab, "sample_received",
                 lambda prov: self.ledger.receive_sample(sample_id=sample_id, lab_id=lab_id, prov=prov),
                 needs=(sample_id,))
        result_at = taken + timedelta(hours=2 if rapid else 20)
        outcome = "positive" if positive else "negative"
        ct = round(rng.uniform(18, 32), 1) if positive and method == "rt_pcr" else None
        self._at(result_at, lab, "result", lambda prov: self.ledger.record_result(
            sample_id=sample_id, result=outcome, ct_value=ct, prov=prov), needs=(sample_id,), others=tuple(members))
        if positive and pooled:
            case = rng.randrange(len(people))
            for i, q in enumerate(people):
                self._sample(province, ward, day + timedelta(days=1), [q], next(barcodes), positive=i == case,
                             barcodes=barcodes, method="rt_pcr", retest_of=barcode)

    # -- check-ins ---------------------------------------------------------------------------------

    def _plan_checkins(self) -> None:
        rng = self.rng
        hours, weights = list(CHECKIN_HOURS), list(CHECKIN_HOURS.values())
        days = [CHECKINS_FROM + timedelta(days=d) for d in range((CAMPAIGN_END - CHECKINS_FROM).days + 1)]
        for p in self.persons:
            if p.n < 0 or p.phone is None or not 16 <= p.age_on(CHECKINS_FROM) <= 70:
                continue
            for day in days:
                rate = CHECKIN_RATE[day.weekday() >= 5]
                if rng.random() >= rate:
                    continue
                at = _local(day, rng.choices(hours, weights)[0], rng.randrange(60))
                self._register(p, at - timedelta(days=1))
                self.checkins[day].append((p.n, f"DD-{p.ward.code}-{rng.randint(1, 2)}", at))

    # -- supply ----------------------------------------------------------------------------------

    def _plan_supply(self) -> None:
        """Every half month, each point's doses in whole vials plus one spare, down the chain; waste after."""
        rng = self.rng
        ship: dict[tuple[str, int], dict[UUID, int]] = defaultdict(dict)
        for (point, lot_id, period), per_day in sorted(self.used.items(), key=lambda kv: (kv[0][0], str(kv[0][1]),
                                                                                         kv[0][2])):
            dpv = self.lot_of[lot_id].vaccine.doses_per_vial
            vials = sum(math.ceil(n / dpv) for n in per_day.values())
            ship[(point, period)][lot_id] = (vials + 1) * dpv
            waste = vials * dpv - sum(per_day.values())
            if waste:
                self._at(_local(_period_days(period)[1], 17, 30), point, "waste", lambda prov, point=point, lot_id=lot_id, waste=waste:
                         self.ledger.adjust_stock(lot_id=lot_id, facility_id=Facility.create_id(point),
                                                  quantity=waste, direction="out", reason="open_vial_limit",
                                                  note="opened vials past their in-use time", prov=prov))
        ward_district = {w.code: w.district_code for ws in self.wards.values() for w in ws}
        ward_province = {w.code: w.province_code for ws in self.wards.values() for w in ws}
        district: dict[tuple[str, int], Counter[UUID]] = defaultdict(Counter)
        province: dict[tuple[str, int], Counter[UUID]] = defaultdict(Counter)
        centre_province: dict[str, str] = {}
        for (point, period), lines in ship.items():
            ward = point[4:]
            centre = f"TTYT-{ward_district[ward]}"
            centre_province[centre] = ward_province[ward]
            district[(centre, period)].update(lines)
            province[(f"KHO-{ward_province[ward]}", period)].update(lines)
        national: Counter[UUID] = Counter()
        for (_, _), lines in province.items():
            national.update(lines)
        for lot_id, quantity in sorted(national.items(), key=lambda kv: str(kv[0])):
            lot = self.lot_of[lot_id]
            quantity += lot.vaccine.doses_per_vial * 10
            self._at(_local(lot.arrives, 10), NATIONAL, "supplier_receipt", lambda prov, lot=lot, q=quantity:
                     self.ledger.receive_stock(lot_id=lot.id, facility_id=Facility.create_id(NATIONAL), quantity=q,
                                               supplier_ref=f"PO-{lot.lot_number}", prov=prov))
        for (warehouse, period), lines in sorted(province.items()):
            self._transfer(NATIONAL, warehouse, period, lines, 6)
        for (centre, period), lines in sorted(district.items()):
            self._transfer(f"KHO-{centre_province[centre]}", centre, period, lines, 4)
        for (point, period), lines in sorted(ship.items()):
            short = rng.random() < 0.005
            self._transfer(f"TTYT-{ward_district[point[4:]]}", point, period, lines, 2, short=short)

    def _transfer(self, source: str, dest: str, period: int, lines: dict[UUID, int], days_before: int, *,
                  short: bool = False) -> None:
        start = _period_days(period)[0]
        doc = f"PX{period:02d}-{dest}-{self.seed}-{self.size}"
        transfer_id = Transfer.create_id(doc)
        payload = [{"lot_id": str(lot_id), "quantity": q} for lot_id, q in sorted(lines.items(), key=lambda kv: str(kv[0]))]
        self._at(_local(start - timedelta(days=days_before), 14), source, "dispatch",
                 lambda prov: self.ledger.dispatch_transfer(document_number=doc, source_id=Facility.create_id(source),
                                                            destination_id=Facility.create_id(dest), lines=payload,
                                                            prov=prov), needs=(transfer_id,))
        received = None
        if short:
            lot_id, q = max(lines.items(), key=lambda kv: (self.lot_of[kv[0]].vaccine.doses_per_vial, str(kv[0])))
            received = [{"lot_id": str(lot_id), "quantity": q - self.lot_of[lot_id].vaccine.doses_per_vial,
                         "discrepancy_reason": "damaged"}]
        self._at(_local(start - timedelta(days=days_before - 1), 9), dest, "short_receipt" if short else "receipt",
                 lambda prov: self.ledger.receive_transfer(transfer_id=transfer_id, lines=received, prov=prov),
                 needs=(transfer_id,))

    # -- scheduling -----------------------------------------------------------------------------------

    def _at(self, at: datetime, org: str, kind: str, run: Callable[[Provenance], CommandResult], *,
            source: str = "app", person: int | None = None, refused: str | None = None, needs: tuple = (),
            occurred_at: datetime | None = None, others: tuple[int, ...] = ()) -> None:
        self.actions.append(_Action(at, len(self.actions), org, kind, run, source, person, others,
                                    refused, needs, occurred_at))

    def _person_at(self, at: datetime, org: str, kind: str, p: _Person, source: str,
                   run: Callable[[Provenance, UUID], CommandResult], *, refused: str | None = None,
                   occurred_at: datetime | None = None, others: tuple[int, ...] = ()) -> None:
        """A command about person `p` (their id is known once their registration has run)."""
        self._at(at, org, kind, lambda prov: run(prov, self.pid[p.n]), source=source, person=p.n, refused=refused,
                 occurred_at=occurred_at, others=others)

    def plan(self) -> list[_Action]:
        """The whole year's commands in business-time order, each with its `client_ref` (a function of
        the seed and size alone, so that a second run finds the first one's receipts)."""
        self.facilities: dict[str, str] = {}
        self.used: dict[tuple[str, UUID, int], Counter[date]] = defaultdict(Counter)
        self._plan_places()
        self._plan_lots()
        for n in range(self.size):
            p = self._new_person(n)
            if p is not None:
                self.persons.append(p)
                self._plan_vaccination(p)
        self._plan_testing()
        self._plan_checkins()
        self._plan_registrations()
        self._plan_cleaning()
        self._plan_supply()
        ordered = sorted(self.actions, key=lambda a: (a.at, a.seq))
        for n, action in enumerate(ordered):
            action.ref = f"{self.tag}-{n}"
        return ordered

    # -- running ---------------------------------------------------------------------------------

    def run(self, ledger: Ledger, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Plan and run the workload into `ledger` (once); a summary of what it wrote."""
        started = time.monotonic()
        self.ledger = ledger
        actions = self.plan()
        # A national warehouse registered by someone else (the demo's) is used as it is.
        ours = CommandReceipt.create_id(self.national_action.org, self.national_action.ref)
        self.national_exists = ledger.exists(Facility.create_id(NATIONAL)) and not ledger.exists(ours)
        self.planning_seconds = time.monotonic() - started
        # The plan is millions of objects that live to the end: a full collection walking them takes
        # seconds, long enough, inside a batch's transaction, for the server to end it as idle.
        gc.collect()
        gc.freeze()
        try:
            return self._run(ledger, actions, progress, started)
        finally:
            gc.unfreeze()

    def _run(self, ledger: Ledger, actions: list[_Action], progress: Callable[[int, int], None] | None,
             started: float) -> dict[str, Any]:
        head_before = ledger.head()
        last = actions[-1]
        if ledger.exists(CommandReceipt.create_id(last.org, last.ref)):
            return {"status": "already loaded (nothing written)", "seed": self.seed, "people": self.size,
                    "events_in_store": head_before}
        total = len(actions) + sum(len(rows) for rows in self.checkins.values())
        done = 0
        days = sorted(self.checkins)
        carried: dict[UUID, Any] = {}
        batch: list[_Action] = []
        checkins: list[tuple[int, str, datetime]] = []
        for action in actions:
            while days and days[0] < action.at.date():
                checkins += self.checkins[days.pop(0)]
            if len(batch) >= BATCH or len(checkins) >= CHECKIN_BATCH:
                # The check-ins' people are registered by the commands before them: those commit first.
                self._flush(batch, carried)
                done += len(batch) + self._checkins(checkins)
                batch, checkins = [], []
                if progress:
                    progress(done, total)
            batch.append(action)
        for day in days:
            checkins += self.checkins[day]
        self._flush(batch, carried)
        done += len(batch) + self._checkins(checkins)
        if progress:
            progress(done, total)
        return self.summary(ledger.head() - head_before, time.monotonic() - started)

    def _flush(self, batch: list[_Action], carried: dict[UUID, Any]) -> None:
        if not batch:
            return
        prefetch: set[UUID] = set()
        for a in batch:
            prefetch.add(CommandReceipt.create_id(a.org, a.ref))
            prefetch.update(a.needs)
            for n in (a.person, *a.others):
                if n in self.pid:
                    prefetch.add(self.pid[n])
        steps = [self._step(a) for a in batch]
        results = self.ledger.run_batch(steps, prefetch=prefetch, carried=carried)
        for action, result in zip(batch, results, strict=True):
            if isinstance(result, LedgerError):
                name = getattr(result, "rule", None) or getattr(result, "field", None)
                if action.refused is None or name != action.refused:
                    raise RuntimeError(f"workload command {action.kind} ({action.ref}, {action.at:%Y-%m-%d %H:%M}) "
                                       f"was refused: {name}: {result}")
                self.refused[name] += 1
            else:
                if action.refused is not None:
                    raise RuntimeError(f"workload command {action.kind} ({action.ref}) should have been refused "
                                       f"({action.refused}) but was accepted")
                self.counts[action.kind] += 1
                self.replayed += result.replayed

    def _step(self, action: _Action) -> Callable[[], CommandResult]:
        prov = Provenance(actor=f"{action.org.lower()}-staff", org=action.org, source=action.source,
                          client_ref=action.ref, occurred_at=action.occurred_at or action.at)
        return lambda: action.run(prov)

    def _checkins(self, rows: list[tuple[int, str, datetime]]) -> int:
        """Check-ins through the bulk import (`import_checkins`), each with its own `client_ref`."""
        if not rows:
            return 0
        body = [(i, {"venue_id": str(Facility.create_id(venue)), "person_id": str(self.pid[n]),
                     "checked_in_at": at.astimezone(UTC).isoformat(), "mode": "citizen_scan",
                     "client_ref": f"{self.tag}-ci-{n}-{at:%m%d%H%M}-{venue[-1]}"})
                for i, (n, venue, at) in enumerate(rows, start=1)]
        refusals: list[Any] = []
        report = self.ledger.import_checkins(
            body, prov=Provenance(actor="pc-covid", org="PC-COVID", source="app"),
            on_report=lambda r: refusals.append(r) if r.status == "refused" else None)
        if refusals:
            raise RuntimeError(f"{len(refusals)} check-ins were refused, the first: {refusals[0].as_dict()}")
        self.counts["checkin"] += report.accepted
        self.replayed += report.duplicate
        return len(rows)

    def summary(self, events: int, seconds: float) -> dict[str, Any]:
        c = self.counts
        registered = [p for p in self.persons if p.registered_at is not None]
        return {
            "status": "loaded",
            "seed": self.seed,
            "people_sampled": self.size,
            "person_records": c["register"],
            "records_without_id_number": sum(1 for p in registered if p.id_type == "none"),
            "records_with_wrong_details": sum(1 for p in registered if p.fault in ("wrong_name", "wrong_dob",
                                                                                     "wrong_sex")),
            "provinces": len(self.provinces),
            "facilities": c["facility"],
            "vaccination_points": sum(1 for k in self.facilities.values() if k == "vaccination_point"),
            "lots": c["lot"],
            "supplier_receipts": c["supplier_receipt"],
            "transfers": c["dispatch"],
            "transfers_received_short": c["short_receipt"],
            "waste_adjustments": c["waste"],
            "vaccination_registrations": c["vaccination_registration"],
            "approvals": c["approval"],
            "screenings": c["screening"],
            "doses": c["dose"] + c["late_dose"],
            "doses_entered_late": c["late_dose"],
            "observations": c["observation"],
            "dose_corrections": c["dose_correction"],
            "adverse_events": c["adverse_event"],
            "identity_verifications": c["verification"],
            "identity_corrections": c["correction"],
            "merges": c["merge"],
            "merges_reverted": c["merge_revert"],
            "samples": c["sample"] + c["pooled_sample"],
            "pooled_samples": c["pooled_sample"],
            "results": c["result"],
            "checkins": c["checkin"],
            "refused": dict(sorted(self.refused.items())),
            "commands": len(self.actions),
            "commands_replayed": self.replayed,
            "events_written": events,
            "seconds": round(seconds, 1),
            "events_per_second": round(events / seconds) if seconds else None,
        }
