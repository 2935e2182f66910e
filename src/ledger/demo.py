"""The demo campaign that `make demo` loads: one province's 2021 vaccination drive, from a seed.

Hà Nội (province 01), three urban districts (Ba Đình 001, Cầu Giấy 005, Đống Đa 006) and
their real ward codes. A national warehouse supplies the provincial warehouse, which
supplies three district health centres, which supply ten vaccination points (commune
health stations and a district hospital). Seven lots of four vaccines arrive from
suppliers between February and October 2021; one is recalled (August), one expires with
stock left (30 June). A few thousand people with Vietnamese names, dates of birth after
the 2019 census age pyramid and 12-digit CCCD numbers (some with none) register,
are approved by the provincial health department, are screened and vaccinated with first
and second doses at the intervals of the policy in force, and a health-worker cohort of
March gets boosters in November. Around them, the things the field data-quality reports
describe: names typed without diacritics, swapped day and month of birth, duplicate
records merged (one merge undone), doses entered in error or twice and voided, doses
corrected, adverse events, open-vial waste, damaged vials, a transfer received short,
a transfer cancelled, physical counts, and commands the ledger refuses (a dose from the
recalled lot, a dose too early, a dispatch larger than the stock on hand ...), which the
summary counts by rule name.

Everything goes through the real `Ledger` commands, so every event is a valid one, with
`Provenance(source="demo", occurred_at=...)` business times in 2021 (the recording time
is now). The campaign is planned first (pure, from `random.Random(seed)`), then its
commands run in business-time order.

Idempotent: each command carries a deterministic `client_ref`; a store that already holds
the complete demo (the receipt of its final command exists) is left alone, and a load
that was interrupted resumes by replaying what it had already written.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from .application import Ledger
from .commands._shared import CommandResult
from .demo_outbreak import OUTBREAK_END, Outbreak
from .domain import CommandReceipt, Facility, NotFound, Provenance, RuleViolation, Transfer, VaccineLot
from .domain.person import LOCAL_TZ
from .policies.screening import SCREENING_3802, derived_outcome
from .policies.vaccines import add_months, series_policy_on
from .workload.people import CLEAR_ANSWERS, full_name, screening_vitals, strip_diacritics

PROVINCE = "01"  # Hà Nội

# -- reference data ---------------------------------------------------------------------------------

#: district code -> (name, wards (code, name), streets), codes of the General Statistics Office.
DISTRICTS: dict[str, tuple[str, list[tuple[str, str]], list[str]]] = {
    "001": (
        "Ba Đình",
        [("00001", "Phúc Xá"), ("00004", "Trúc Bạch"), ("00007", "Cống Vị"), ("00008", "Liễu Giai"),
         ("00013", "Quán Thánh"), ("00016", "Ngọc Hà"), ("00022", "Đội Cấn"), ("00025", "Ngọc Khánh"),
         ("00028", "Kim Mã"), ("00031", "Giảng Võ")],
        ["Kim Mã", "Đội Cấn", "Hoàng Hoa Thám", "Liễu Giai", "Giảng Võ", "Ngọc Hà", "Phan Đình Phùng",
         "Quán Thánh", "Nguyễn Thái Học", "Văn Cao"],
    ),
    "005": (
        "Cầu Giấy",
        [("00157", "Nghĩa Đô"), ("00160", "Nghĩa Tân"), ("00163", "Mai Dịch"), ("00166", "Dịch Vọng"),
         ("00167", "Dịch Vọng Hậu"), ("00169", "Quan Hoa"), ("00172", "Yên Hòa"), ("00175", "Trung Hòa")],
        ["Xuân Thủy", "Cầu Giấy", "Trần Duy Hưng", "Nguyễn Khánh Toàn", "Hoàng Quốc Việt", "Trần Thái Tông",
         "Nguyễn Phong Sắc", "Hồ Tùng Mậu"],
    ),
    "006": (
        "Đống Đa",
        [("00178", "Cát Linh"), ("00187", "Láng Thượng"), ("00190", "Ô Chợ Dừa"), ("00193", "Văn Chương"),
         ("00199", "Láng Hạ"), ("00202", "Khâm Thiên"), ("00214", "Quang Trung"), ("00229", "Kim Liên"),
         ("00232", "Phương Mai"), ("00238", "Khương Thượng")],
        ["Tôn Đức Thắng", "Khâm Thiên", "Láng", "Tây Sơn", "Chùa Bộc", "Xã Đàn", "Giải Phóng",
         "Nguyễn Lương Bằng", "Thái Hà", "Huỳnh Thúc Kháng"],
    ),
}
#: Share of the demo population living in each district (≈ their 2019 census populations).
DISTRICT_WEIGHTS = {"001": 0.30, "005": 0.33, "006": 0.37}


@dataclass(frozen=True)
class _Site:
    code: str
    name: str
    kind: str
    district: str | None
    ward: str | None
    parent: str | None


SITES: tuple[_Site, ...] = (
    _Site("KHO-QG", "Kho vắc xin quốc gia (Viện Vệ sinh Dịch tễ Trung ương)", "national_warehouse", "007", "00247",
          None),
    _Site("KHO-HN", "Kho vắc xin CDC Hà Nội", "provincial_warehouse", "006", "00187", "KHO-QG"),
    _Site("TTYT-BADINH", "Trung tâm Y tế quận Ba Đình", "district_centre", "001", "00028", "KHO-HN"),
    _Site("TTYT-CAUGIAY", "Trung tâm Y tế quận Cầu Giấy", "district_centre", "005", "00166", "KHO-HN"),
    _Site("TTYT-DONGDA", "Trung tâm Y tế quận Đống Đa", "district_centre", "006", "00214", "KHO-HN"),
    _Site("TYT-PHUCXA", "Trạm Y tế phường Phúc Xá", "vaccination_point", "001", "00001", "TTYT-BADINH"),
    _Site("TYT-NGOCHA", "Trạm Y tế phường Ngọc Hà", "vaccination_point", "001", "00016", "TTYT-BADINH"),
    _Site("TYT-KIMMA", "Trạm Y tế phường Kim Mã", "vaccination_point", "001", "00028", "TTYT-BADINH"),
    _Site("TYT-NGHIATAN", "Trạm Y tế phường Nghĩa Tân", "vaccination_point", "005", "00160", "TTYT-CAUGIAY"),
    _Site("TYT-DICHVONG", "Trạm Y tế phường Dịch Vọng", "vaccination_point", "005", "00166", "TTYT-CAUGIAY"),
    _Site("TYT-YENHOA", "Trạm Y tế phường Yên Hòa", "vaccination_point", "005", "00172", "TTYT-CAUGIAY"),
    _Site("TYT-LANGTHUONG", "Trạm Y tế phường Láng Thượng", "vaccination_point", "006", "00187", "TTYT-DONGDA"),
    _Site("TYT-KHAMTHIEN", "Trạm Y tế phường Khâm Thiên", "vaccination_point", "006", "00202", "TTYT-DONGDA"),
    _Site("TYT-KIMLIEN", "Trạm Y tế phường Kim Liên", "vaccination_point", "006", "00229", "TTYT-DONGDA"),
    _Site("BV-DONGDA", "Bệnh viện Đa khoa Đống Đa (điểm tiêm)", "vaccination_point", "006", "00214",
          "TTYT-DONGDA"),
)
SITE = {s.code: s for s in SITES}
NATIONAL, PROVINCIAL = "KHO-QG", "KHO-HN"
CENTRE_OF = {s.district: s.code for s in SITES if s.kind == "district_centre"}
POINTS_OF: dict[str, list[str]] = {d: [s.code for s in SITES if s.kind == "vaccination_point" and s.district == d]
                                   for d in DISTRICTS}
POINT_INDEX = {code: k for k, code in enumerate(sorted(c for cs in POINTS_OF.values() for c in cs))}


@dataclass(frozen=True)
class _LotSpec:
    key: str
    vaccine: str
    manufacturer: str
    lot_number: str
    expiry: date
    doses_per_vial: int
    arrives: date
    supplier_ref: str
    #: Days on which doses are planned from this lot (first and last).
    use_from: date
    use_until: date


LOTS: tuple[_LotSpec, ...] = (
    # The first COVAX shipment reached Hà Nội on 24 Feb 2021; its leftovers expire on 30 June.
    _LotSpec("AZ1", "astrazeneca", "AstraZeneca", "ABV5300", date(2021, 6, 30), 10, date(2021, 2, 24),
             "COVAX-AZ-2021-02", date(2021, 3, 8), date(2021, 6, 30)),
    _LotSpec("MOD1", "moderna", "Moderna", "3004721", date(2021, 12, 31), 10, date(2021, 7, 15),
             "USG-DONATION-2021-07", date(2021, 8, 1), date(2021, 8, 26)),
    _LotSpec("AZ2", "astrazeneca", "AstraZeneca", "ABW6702", date(2021, 11, 30), 10, date(2021, 7, 20),
             "COVAX-AZ-2021-07", date(2021, 8, 1), date(2021, 11, 30)),
    _LotSpec("VC1", "vero_cell", "Sinopharm", "202107B2190", date(2023, 7, 14), 1, date(2021, 7, 25),
             "SINOPHARM-HN-2021-07", date(2021, 8, 1), date(2021, 11, 30)),
    _LotSpec("PF1", "pfizer", "Pfizer-BioNTech", "FF2593", date(2021, 11, 30), 6, date(2021, 8, 5),
             "PFIZER-MOH-2021-08", date(2021, 8, 16), date(2021, 10, 31)),
    _LotSpec("MOD2", "moderna", "Moderna", "061E21A", date(2022, 1, 20), 10, date(2021, 8, 20),
             "COVAX-MOD-2021-08", date(2021, 9, 1), date(2021, 11, 30)),
    _LotSpec("PF2", "pfizer", "Pfizer-BioNTech", "FK0108", date(2022, 2, 28), 6, date(2021, 10, 20),
             "PFIZER-MOH-2021-10", date(2021, 11, 1), date(2021, 11, 30)),
)
LOT = {spec.key: spec for spec in LOTS}
RECALLED_LOT, RECALLED_ON = "MOD1", date(2021, 8, 27)
EXPIRED_LOT = "AZ1"
CAMPAIGN_END = date(2021, 11, 30)

#: Adult age bands (2019 census shares among people 18+), then a 12-17 band vaccinated from November.
ADULT_AGES = [((18, 24), 13), ((25, 34), 21), ((35, 44), 20), ((45, 54), 17), ((55, 64), 15), ((65, 74), 9),
              ((75, 84), 4), ((85, 95), 1)]
#: Where people living in Hà Nội were born (first 3 digits of the CCCD): mostly Hà Nội, then neighbours.
BIRTH_PROVINCES = [("001", 70), ("030", 3), ("033", 3), ("034", 4), ("035", 2), ("036", 4), ("038", 4),
                   ("040", 4), ("022", 2), ("026", 2), ("037", 2)]
PRIORITY_GROUPS = ["elderly_65_plus", "chronic_condition", "frontline_worker", "essential_services",
                   "teacher", "general_public"]


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def _waves() -> list[tuple[date, date]]:
    """Half-month supply periods: stock for each is shipped down the chain just before it starts."""
    out = []
    for month in range(2, 13):
        last = (date(2021, month + 1, 1) if month < 12 else date(2022, 1, 1)) - timedelta(days=1)
        out += [(date(2021, month, 1), date(2021, month, 15)), (date(2021, month, 16), last)]
    return out


WAVES = _waves()


def _wave_of(day: date) -> int:
    return next(i for i, (start, end) in enumerate(WAVES) if start <= day <= end)


# -- the plan -----------------------------------------------------------------------------------------


@dataclass
class _Visit:
    """One trip to a vaccination point: a screening, and the dose it allows (if any)."""

    key: str
    point: str
    screen_at: datetime
    vitals: dict
    answers: dict
    outcome: str  # as derived from vitals and answers (the doctor orders nothing stricter here)
    lot: str | None = None  # lot key of the dose; None: no dose at this visit
    kind: str | None = None
    dose_at: datetime | None = None
    #: Set when the dose is recorded at another time than it happened (corrected later).
    recorded_at: datetime | None = None


@dataclass
class _Person:
    n: int
    full_name: str
    sex: str
    dob: date
    id_type: str
    id_number: str | None
    phone: str | None
    district: str
    ward: str
    line: str
    registered_at: datetime
    registered_name: str = ""
    registered_dob: date | None = None
    cohort: str = "general"
    priority_group: str | None = None
    vacc_registered_at: datetime | None = None
    approved_at: datetime | None = None
    visits: list[_Visit] = field(default_factory=list)
    duplicate_of: int | None = None

    def details(self) -> dict:
        return {
            "full_name": self.registered_name or self.full_name,
            "date_of_birth": self.registered_dob or self.dob,
            "sex": self.sex,
            "phone": self.phone,
            "address": {"line": self.line, "province_code": PROVINCE, "district_code": self.district,
                        "ward_code": self.ward},
        }


@dataclass
class _Action:
    at: datetime
    seq: int
    org: str
    kind: str
    run: Callable[[Provenance], CommandResult | None]
    #: The rule this command is expected to break (a refused command, counted in the summary).
    refused: str | None = None
    ref: str | None = None


class _Campaign:
    """Plans the campaign from the seed, then runs its commands in business-time order."""

    def __init__(self, ledger: Ledger, seed: int, people: int) -> None:
        self.ledger = ledger
        self.seed = seed
        self.size = people
        self.rng = random.Random(seed)
        self.actions: list[_Action] = []
        self.persons: list[_Person] = []
        self.used_ids: set[str] = set()
        # filled while running
        self.pid: dict[int, UUID] = {}
        self.screening: dict[str, UUID] = {}
        self.dose: dict[str, UUID] = {}
        self.movement: dict[str, UUID] = {}
        self.counts: Counter[str] = Counter()
        self.by_vaccine: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.replayed = 0
        self.skipped = 0

    # -- scheduling --------------------------------------------------------------------------------

    def _at(self, at: datetime, org: str, kind: str, run: Callable[[Provenance], Any], *,
            refused: str | None = None, ref: str | None = None) -> None:
        self.actions.append(_Action(at, len(self.actions), org, kind, run, refused, ref))

    # -- people --------------------------------------------------------------------------------------

    def _id_number(self, dob: date, sex: str, id_type: str) -> str:
        rng = self.rng
        while True:
            if id_type == "cmnd":
                number = f"01{rng.randrange(10**7):07d}"  # 9-digit CMND issued in Hà Nội
            else:
                province = rng.choices([p for p, _ in BIRTH_PROVINCES], [w for _, w in BIRTH_PROVINCES])[0]
                century_sex = (0 if dob.year < 2000 else 2) + (1 if sex == "female" else 0)
                number = f"{province}{century_sex}{dob.year % 100:02d}{rng.randrange(10**6):06d}"
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _new_person(self, n: int, cohort: str) -> _Person:
        rng = self.rng
        sex = "female" if rng.random() < 0.51 else "male"
        if cohort == "minor":
            age = rng.randint(12, 17)
        elif cohort == "health_worker":
            age = rng.randint(23, 60)
        else:
            lo, hi = rng.choices([b for b, _ in ADULT_AGES], [w for _, w in ADULT_AGES])[0]
            age = rng.randint(lo, hi)
        dob = date(2021 - age, 7, 1) - timedelta(days=rng.randrange(365))
        roll = rng.random()
        id_type = "none" if roll < 0.03 else ("cmnd" if roll < 0.06 and age >= 40 else "cccd")
        if cohort == "minor" and id_type == "cmnd":
            id_type = "cccd"
        id_number = None if id_type == "none" else self._id_number(dob, sex, id_type)
        phone = None
        if rng.random() < 0.88:
            phone = rng.choice(["09", "03", "08", "07"]) + f"{rng.randrange(10**8):08d}"
        district = rng.choices(list(DISTRICT_WEIGHTS), list(DISTRICT_WEIGHTS.values()))[0]
        ward = rng.choice(DISTRICTS[district][1])[0]
        line = f"Số {rng.randint(1, 180)}, ngõ {rng.randint(1, 200)} {rng.choice(DISTRICTS[district][2])}"
        return _Person(n, full_name(self.rng, sex), sex, dob, id_type, id_number, phone, district, ward, line,
                       registered_at=_local(date(2021, 7, 1), 8))

    def _vitals(self, old: bool) -> tuple[dict, dict]:
        return screening_vitals(self.rng, old), dict(CLEAR_ANSWERS)

    def _visit(self, person: _Person, key: str, day: date, point: str, *, answers: dict | None = None) -> _Visit:
        rng = self.rng
        age = (day - person.dob).days // 365
        vitals, default_answers = self._vitals(age >= 60)
        answers = {**default_answers, **(answers or {})}
        outcome, _ = derived_outcome(SCREENING_3802, vitals, answers)
        minute = rng.randrange(0, 8 * 60)  # sessions 07:30-15:30
        screen_at = _local(day, 7, 30) + timedelta(minutes=minute)
        return _Visit(key, point, screen_at, vitals, answers, outcome)

    def _lot_for(self, vaccine: str, day: date) -> str | None:
        candidates = [s.key for s in LOTS if s.vaccine == vaccine and s.use_from <= day <= s.use_until]
        return candidates[-1] if candidates else None

    def _earliest_second(self, vaccine: str, first: date) -> date:
        day = first + timedelta(days=1)
        while (day - first).days < series_policy_on(day).vaccine(vaccine).intervals_days[0]:
            day += timedelta(days=1)
        return day

    def _offer(self, point: str, day: date) -> list[str]:
        """Vaccines a point gives on a day: sessions twice a week, Vero Cell plus one multi-dose vaccine.

        Concentrating each multi-dose vaccine on a few session days keeps open-vial waste realistic.
        """
        k = POINT_INDEX[point]
        if day.weekday() not in (k % 6, (k + 3) % 6):
            return []
        multi = [v for v in ("astrazeneca", "moderna", "pfizer") if self._lot_for(v, day)]
        offer = ["vero_cell"] if self._lot_for("vero_cell", day) else []
        if multi:
            offer.append(multi[(day.toordinal() // 7 + k) % len(multi)])
        return offer

    def _session(self, points: list[str], day: date, wanted: tuple[str, ...]) -> tuple[date, str, str] | None:
        """The first session on or after `day` at one of `points` offering one of `wanted`."""
        while day <= CAMPAIGN_END:
            for point in points:
                offered = [v for v in self._offer(point, day) if v in wanted]
                if offered:
                    return day, point, offered[0] if len(offered) == 1 else self.rng.choice(offered)
            day += timedelta(days=1)
        return None

    def _first_dose(self, p: _Person, point: str, day: date) -> tuple[date, str, str] | None:
        if p.cohort == "minor":
            return self._session([point, *POINTS_OF[p.district]], day, ("pfizer",))
        while day <= CAMPAIGN_END:
            found = self._session([point], day, ("vero_cell", "astrazeneca", "moderna", "pfizer"))
            if found is None:
                return None
            day, point, _ = found
            offer = [v for v in self._offer(point, day) if v != "astrazeneca" or day <= date(2021, 9, 30)]
            if offer:  # AstraZeneca went to second doses only from October
                vaccine = offer[0] if len(offer) == 1 else self.rng.choices(offer, [40, 60][: len(offer)])[0]
                return day, point, vaccine
            day += timedelta(days=1)
        return None

    def _dose(self, p: _Person, key: str, found: tuple[date, str, str], kind: str) -> _Visit:
        day, point, vaccine = found
        visit = self._visit(p, key, day, point)
        visit.lot, visit.kind = self._lot_for(vaccine, day), kind
        visit.dose_at = visit.screen_at + timedelta(minutes=self.rng.randint(8, 45))
        p.visits.append(visit)
        return visit

    def _dose_visits(self, p: _Person, first_day: date) -> None:
        """Plan a person's screenings and doses from their first possible day on."""
        rng = self.rng
        home = rng.choice(POINTS_OF[p.district])
        district_points = [home, *[x for x in POINTS_OF[p.district] if x != home]]
        found = self._first_dose(p, home, first_day)
        if found is None:
            return
        # An acute illness at the first screening delays the dose by one to two weeks.
        if rng.random() < 0.02:
            p.visits.append(self._visit(p, "delay1", found[0], found[1], answers={"acute_illness": True}))
            found = self._first_dose(p, home, found[0] + timedelta(days=rng.randint(7, 14)))
            if found is None:
                return
        first = self._dose(p, "dose1", found, "primary")
        day, vaccine = found[0], LOT[first.lot].vaccine
        # Second dose: 93 % come back, at the policy's interval plus the wait for an appointment.
        if rng.random() >= 0.93:
            return
        due = self._earliest_second(vaccine, day) + timedelta(days=rng.randint(0, 21 if vaccine == "astrazeneca" else 6))
        wanted: tuple[str, ...] = (vaccine,)
        if vaccine == "astrazeneca" and rng.random() < 0.25:
            wanted = ("astrazeneca", "pfizer", "moderna")  # mixing, allowed from 20 Sep 2021 (7820/BYT-DP)
        found = self._session(district_points, due, wanted)
        if found and found[2] != vaccine and found[0] < date(2021, 9, 20):
            found = self._session(district_points, due, (vaccine,))
        if found is None:
            return
        if rng.random() < 0.003:
            p.visits.append(self._visit(p, "contra2", found[0], found[1],
                                        answers={"anaphylaxis_to_previous_dose": True}))
            return
        second = self._dose(p, "dose2", found, "primary")
        if p.cohort == "health_worker" and rng.random() < 0.75:
            due = add_months(second.dose_at.date(), 6) + timedelta(days=rng.randint(0, 6))
            found = self._session(district_points, due, ("pfizer", "moderna"))
            if found:
                self._dose(p, "booster", found, "booster")

    def plan_people(self) -> None:
        rng = self.rng
        for n in range(self.size):
            roll = rng.random()
            cohort = "health_worker" if roll < 0.03 else ("minor" if roll < 0.09 else "general")
            p = self._new_person(n, cohort)
            p.cohort = cohort
            if cohort == "health_worker":
                reg = date(2021, 3, 1) + timedelta(days=rng.randint(0, 4))
                p.priority_group = "health_worker"
                first = date(2021, 3, 8) + timedelta(days=rng.randint(0, 28))
            elif cohort == "minor":
                reg = date(2021, 10, 18) + timedelta(days=rng.randint(0, 10))
                p.priority_group = "children_12_17"
                first = date(2021, 11, 1) + timedelta(days=rng.randint(0, 12))
            else:
                age = (date(2021, 8, 1) - p.dob).days // 365
                reg = date(2021, 7, 15) + timedelta(days=min(int(rng.expovariate(1 / 18)), 100))
                p.priority_group = "elderly_65_plus" if age >= 65 else rng.choice(PRIORITY_GROUPS[1:])
                wait = rng.randint(2, 8) if age >= 65 else rng.randint(3, 25)
                first = max(reg + timedelta(days=wait), date(2021, 8, 1) + timedelta(days=rng.randint(0, 4)))
            p.registered_at = _local(reg, 8, 0) + timedelta(minutes=rng.randrange(9 * 60))
            if cohort != "health_worker" and rng.random() < 0.05:
                p.registered_at = _local(date(2021, 7, 1) + timedelta(days=rng.randint(0, 13)), 9)
            # Data-quality faults at registration (DOMAIN §8), corrected in October-November.
            fault = rng.random()
            if fault < 0.012 and strip_diacritics(p.full_name) != p.full_name:
                p.registered_name = strip_diacritics(p.full_name)
            elif fault < 0.018 and p.dob.day <= 12 and p.dob.day != p.dob.month:
                p.registered_dob = date(p.dob.year, p.dob.day, p.dob.month)
            if rng.random() < 0.95 or cohort == "health_worker":
                p.vacc_registered_at = p.registered_at + timedelta(minutes=rng.randint(2, 30))
                if rng.random() < 0.97 or cohort == "health_worker":
                    p.approved_at = _local(p.vacc_registered_at.date() + timedelta(days=rng.randint(1, 3)), 10) \
                        + timedelta(minutes=rng.randrange(300))
                    first = max(first, p.approved_at.date() + timedelta(days=1))
                    if cohort == "health_worker":
                        first = min(first, date(2021, 4, 5))
                    self._dose_visits(p, first)
            self.persons.append(p)
        self._check_expired_lot_use()

    def _check_expired_lot_use(self) -> None:
        """The March lot expires on 30 June: no dose may be planned from it after that."""
        for p in self.persons:
            for v in p.visits:
                if v.lot == EXPIRED_LOT and v.dose_at and v.dose_at.date() > LOT[EXPIRED_LOT].use_until:
                    raise AssertionError("planned a dose from the expired lot after its expiry")

    # -- special cases -------------------------------------------------------------------------------

    def _visit_of(self, p: _Person, key: str) -> _Visit | None:
        return next((v for v in p.visits if v.key == key), None)

    def _pick(self, k: int, predicate: Callable[[_Person], bool], taken: set[int]) -> list[_Person]:
        pool = [p for p in self.persons if p.n not in taken and p.duplicate_of is None and predicate(p)]
        chosen = self.rng.sample(pool, min(k, len(pool)))
        taken.update(p.n for p in chosen)
        return sorted(chosen, key=lambda p: p.n)

    def plan_special_cases(self) -> None:
        rng, taken = self.rng, set()
        general_two = lambda p: (p.cohort == "general" and p.id_type == "cccd"  # noqa: E731
                                 and self._visit_of(p, "dose1") is not None and self._visit_of(p, "dose2") is not None
                                 and not p.registered_name and p.registered_dob is None)
        # Doses recorded from a pre-filled list for people who left before the injection: voided.
        self.phantoms = []
        for p in self._pick(8, general_two, taken):
            d1 = self._visit_of(p, "dose1")
            day = d1.screen_at.date() - timedelta(days=3)
            if p.approved_at is None or day <= p.approved_at.date() or LOT[d1.lot].use_from > day:
                continue
            v = self._visit(p, "phantom", day, d1.point)
            v.lot, v.kind = d1.lot, "primary"
            v.dose_at = v.screen_at + timedelta(minutes=15)
            p.visits.insert(0, v)
            self.phantoms.append((p, v))
        # A dose recorded with the day of data entry instead of the day of the injection.
        self.wrong_dates = []
        for p in self._pick(5, lambda p: general_two(p) and (self._visit_of(p, "dose2").screen_at
                                                          - self._visit_of(p, "dose1").screen_at).days > 22, taken):
            d1 = self._visit_of(p, "dose1")
            if d1.screen_at.date() in {end for _, end in WAVES}:
                continue
            d1.screen_at = _local(d1.screen_at.date(), 15, rng.randint(30, 59))
            d1.dose_at = d1.screen_at + timedelta(minutes=15)
            d1.recorded_at = _local(d1.screen_at.date() + timedelta(days=1), 8, 5)
            self.wrong_dates.append((p, d1))
        # Pfizer doses in early November recorded with the new lot though the old lot's last vial was used.
        pf1_points = sorted({v.point for p in self.persons for v in p.visits
                             if v.lot == "PF1" and v.dose_at and v.dose_at.date() >= date(2021, 10, 16)})
        self.wrong_lots = []
        for p in self._pick(4, lambda p: any(v.lot == "PF2" and v.point in pf1_points
                                             and v.dose_at.date() <= date(2021, 11, 10) for v in p.visits), taken):
            v = next(v for v in p.visits if v.lot == "PF2" and v.point in pf1_points)
            if sum(1 for _, w in self.wrong_lots if w.point == v.point) < 2:
                self.wrong_lots.append((p, v))
        # Duplicate records (DOMAIN §8): people registered again without their id number.
        self.duplicates: list[tuple[_Person, _Person, str]] = []
        for p in self._pick(3, lambda p: general_two(p)
                            and self._visit_of(p, "dose2").dose_at.date() <= date(2021, 11, 10), taken):
            # A's second dose was recorded on a new record B made on the spot: merged later.
            d2 = self._visit_of(p, "dose2")
            p.visits.remove(d2)
            b = self._duplicate_record(p, d2.screen_at - timedelta(minutes=20))
            d2.key = "dose1"
            b.visits.append(d2)
            self.duplicates.append((p, b, "second_dose_on_duplicate"))
        for p in self._pick(2, general_two, taken):
            # A's first dose was entered twice, on A and on a duplicate B: merged, then the copy voided.
            d1 = self._visit_of(p, "dose1")
            b = self._duplicate_record(p, d1.screen_at - timedelta(minutes=10))
            copy = _Visit("dose1", d1.point, d1.screen_at + timedelta(minutes=1), d1.vitals, d1.answers,
                          d1.outcome, d1.lot, "primary", d1.dose_at + timedelta(minutes=2))
            b.visits.append(copy)
            self.duplicates.append((p, b, "dose_entered_twice"))
        # Two different people with the same name and date of birth, merged by mistake, then reverted.
        self.wrong_merge = None
        done_by_november = lambda p: (p.visits and all(v.screen_at.date() < date(2021, 11, 1)  # noqa: E731
                                                       for v in p.visits) and p.id_type == "cccd")
        pair = self._pick(2, done_by_november, taken)
        if len(pair) == 2:
            a, b = pair
            b.full_name, b.dob, b.sex = a.full_name, a.dob, a.sex
            b.registered_name, b.registered_dob = "", None
            b.id_number = self._id_number(b.dob, b.sex, "cccd")
            self.wrong_merge = (a, b)
        # Refused attempts: a second dose long before it is due; a dose after a 'delay' screening.
        self.too_early = self._pick(2, lambda p: general_two(p) and self._visit_of(p, "dose1").screen_at.date()
                                    + timedelta(days=12) < self._visit_of(p, "dose2").screen_at.date()
                                    and self._early_lot(p) is not None, taken)
        self.delayed = [p for p in self.persons if self._visit_of(p, "delay1")
                        and self._usable_lot(self._visit_of(p, "delay1").screen_at.date())][:2]
        # Adverse events: two common reactions and one serious, classified by the provincial council.
        self.aefi = self._pick(3, lambda p: general_two(p), taken)
        # Identity: verification against the population register; corrections of the faulty records.
        self.no_id_fixed = self._pick(max(1, self.size // 300), lambda p: p.id_type == "none"
                                      and p.approved_at is not None, taken)
        self.verified = self._pick(max(3, self.size // 12), lambda p: p.id_type == "cccd", set(taken))

    def _early_lot(self, p: _Person) -> str | None:
        d1 = self._visit_of(p, "dose1")
        return self._lot_for(LOT[d1.lot].vaccine, d1.dose_at.date() + timedelta(days=10))

    def _usable_lot(self, day: date) -> str | None:
        return next((s.key for s in LOTS if s.use_from <= day <= s.use_until and s.key != RECALLED_LOT), None)

    def _duplicate_record(self, p: _Person, at: datetime) -> _Person:
        name = p.full_name if self.rng.random() < 0.5 else strip_diacritics(p.full_name)
        b = _Person(len(self.persons), p.full_name, p.sex, p.dob, "none", None, p.phone, p.district, p.ward,
                    p.line, registered_at=at, registered_name=name if name != p.full_name else "",
                    cohort=p.cohort, priority_group=p.priority_group, duplicate_of=p.n)
        b.vacc_registered_at = at + timedelta(minutes=2)
        b.approved_at = at + timedelta(minutes=4)
        self.persons.append(b)
        return b

    # -- commands: reference data and supply -----------------------------------------------------------

    def _prov_actor(self, org: str) -> str:
        return f"{org.lower()}.staff"

    def plan_reference(self) -> None:
        lg = self.ledger
        for i, site in enumerate(SITES):
            self._at(_local(date(2021, 2, 20), 8, i), "BYT", "facility", lambda prov, s=site: lg.register_facility(
                code=s.code, name=s.name, kind=s.kind, province_code=PROVINCE, district_code=s.district,
                ward_code=s.ward, parent_code=s.parent, prov=prov))
        for spec in LOTS:
            self._at(_local(spec.arrives, 8, 30), NATIONAL, "lot", lambda prov, s=spec: lg.register_lot(
                vaccine=s.vaccine, manufacturer=s.manufacturer, lot_number=s.lot_number, expiry=s.expiry,
                doses_per_vial=s.doses_per_vial, prov=prov))
        self._at(_local(RECALLED_ON, 8), "CUC-QLD", "recall", lambda prov: lg.recall_lot(
            lot_id=self.lot_id(RECALLED_LOT), reason="quality_defect",
            note="foreign particles reported in unopened vials of this lot; quarantine remaining stock", prov=prov))

    @staticmethod
    def lot_id(key: str) -> UUID:
        spec = LOT[key]
        return VaccineLot.create_id(spec.manufacturer, spec.lot_number)

    @staticmethod
    def fid(code: str) -> UUID:
        return Facility.create_id(code)

    def plan_supply(self) -> None:
        """Ship each half-month's needs down the chain just before it starts; waste and counts after."""
        lg, rng = self.ledger, self.rng
        # Doses recorded per (point, lot, wave, day): what physically leaves the vials.
        used: dict[tuple[str, str, int], Counter[date]] = {}
        for p in self.persons:
            for v in p.visits:
                if v.lot:
                    day = v.dose_at.date()
                    used.setdefault((v.point, v.lot, _wave_of(day)), Counter())[day] += 1
        ship: dict[tuple[str, str, int], int] = {}
        waste: dict[tuple[str, str, int], int] = {}
        for (point, lot, wave), per_day in sorted(used.items()):
            dpv = LOT[lot].doses_per_vial
            vials = sum(math.ceil(n / dpv) for n in per_day.values())
            ship[(point, lot, wave)] = (vials + 1) * dpv  # one spare vial per wave
            waste[(point, lot, wave)] = vials * dpv - sum(per_day.values())
        # The wave with a short delivery gets a second spare vial, so the point never runs dry.
        multi = [k for k in sorted(ship) if LOT[k[1]].doses_per_vial > 1 and WAVES[k[2]][0] >= date(2021, 9, 1)]
        self.short = rng.choice(multi) if multi else None
        if self.short:
            ship[self.short] += LOT[self.short[1]].doses_per_vial
        # Damaged vials at a few points (each takes that wave's spare vial).
        candidates = [k for k in multi if k != self.short and k[1] != "PF1"]  # PF1's spares serve corrections
        self.damaged = rng.sample(candidates, min(4, len(candidates)))
        district_ship: dict[tuple[str, str, int], int] = Counter()
        for (point, lot, wave), q in ship.items():
            district_ship[(SITE[point].parent, lot, wave)] += q
        for key in list(district_ship):
            district_ship[key] += LOT[key[1]].doses_per_vial * 2
        province_ship: dict[tuple[str, int], int] = Counter()
        for (_centre, lot, wave), q in district_ship.items():
            province_ship[(lot, wave)] += q
        for key in list(province_ship):
            province_ship[key] += LOT[key[0]].doses_per_vial * 5
        national_total: Counter[str] = Counter()
        for (lot, _wave), q in province_ship.items():
            national_total[lot] += q
        # Supplier receipts at the national warehouse (it also serves other provinces: keep a reserve).
        for spec in LOTS:
            quantity = (math.ceil(national_total[spec.key] / 1000) + 2) * 1000
            self._at(_local(spec.arrives, 9), NATIONAL, "receipt", lambda prov, s=spec, q=quantity: lg.receive_stock(
                lot_id=self.lot_id(s.key), facility_id=self.fid(NATIONAL), quantity=q, supplier_ref=s.supplier_ref,
                prov=prov))
        # Transfers per wave: national -> province -> district centres -> points, with one line per lot.
        cancelled_done = False
        for wave, (start, _end) in enumerate(WAVES):
            lines = [(lot, q) for (lot, w), q in sorted(province_ship.items()) if w == wave]
            if lines:
                self._transfer(f"PXK-QG-{start:%Y%m%d}", NATIONAL, PROVINCIAL, lines, start - timedelta(days=5))
            for centre in sorted(CENTRE_OF.values()):
                lines = [(lot, q) for (c, lot, w), q in sorted(district_ship.items()) if w == wave and c == centre]
                if not lines:
                    continue
                doc = f"PXK-HN-{start:%Y%m%d}-{centre.split('-')[1]}"
                if not cancelled_done and start >= date(2021, 9, 16):
                    cancelled_done = True
                    self._transfer(doc, PROVINCIAL, centre, lines, start - timedelta(days=4), cancel=True)
                    doc += "-R"
                self._transfer(doc, PROVINCIAL, centre, lines, start - timedelta(days=4), hour=15)
            for point in sorted(SITE):
                lines = [(lot, q) for (pt, lot, w), q in sorted(ship.items()) if w == wave and pt == point]
                if lines:
                    self._transfer(f"PXK-{SITE[point].parent}-{start:%Y%m%d}-{point.split('-')[1]}",
                                   SITE[point].parent, point, lines, start - timedelta(days=2))
        # Open-vial waste, booked per point and lot at the end of each half-month.
        for (point, lot, wave), q in sorted(waste.items()):
            if q > 0:
                end = WAVES[wave][1]
                self._at(_local(end, 18), point, "adjustment", lambda prov, pt=point, lt=lot, q=q, w=wave:
                         lg.adjust_stock(lot_id=self.lot_id(lt), facility_id=self.fid(pt), quantity=q, direction="out",
                                         reason="open_vial_limit",
                                         note=f"opened vials past their in-use time, {WAVES[w][0]:%d/%m}-"
                                              f"{WAVES[w][1]:%d/%m}", prov=prov))
        for point, lot, wave in self.damaged:
            self._at(_local(WAVES[wave][1], 18, 30), point, "adjustment", lambda prov, pt=point, lt=lot:
                     lg.adjust_stock(lot_id=self.lot_id(lt), facility_id=self.fid(pt),
                                     quantity=LOT[lt].doses_per_vial, direction="out", reason="damaged",
                                     note="vial dropped during the session", prov=prov))
        # A damaged carton booked twice at the national warehouse; the copy is reversed the next day.
        day = date(2021, 9, 14)
        for k in range(2):
            self._at(_local(day, 16, k), NATIONAL, "adjustment", lambda prov, k=k: self._remember(
                f"dmg{k}", lg.adjust_stock(lot_id=self.lot_id("VC1"), facility_id=self.fid(NATIONAL), quantity=50,
                                           direction="out", reason="damaged", note="carton crushed in cold room 2",
                                           prov=prov)))
        self._at(_local(day + timedelta(days=1), 9), NATIONAL, "reversal", lambda prov: lg.reverse_movement(
            lot_id=self.lot_id("VC1"), facility_id=self.fid(NATIONAL), movement_id=self.movement["dmg1"],
            reason="the same damaged carton was booked twice", prov=prov))
        # The expired lot's leftovers are written off everywhere on 1 July.
        holders = sorted({NATIONAL, PROVINCIAL, *CENTRE_OF.values(), *(k[0] for k in ship if k[1] == EXPIRED_LOT)})
        for i, code in enumerate(holders):
            self._at(_local(date(2021, 7, 1), 9, i), code, "expiry", lambda prov, c=code: self._write_off(c, prov))
        # Refused: a district centre dispatches more than it holds.
        self._at(_local(date(2021, 9, 20), 10), "TTYT-DONGDA", "refused", lambda prov: lg.dispatch_transfer(
            document_number="PXK-TTYT-DONGDA-20210920-ERR", source_id=self.fid("TTYT-DONGDA"),
            destination_id=self.fid("TYT-KIMLIEN"), lines=[{"lot_id": str(self.lot_id("VC1")), "quantity": 250_000}],
            prov=prov), refused="stock_never_negative")
        # Physical counts at the end of the campaign: the provincial warehouse and three points.
        counted = [(PROVINCIAL, spec.key) for spec in LOTS if spec.key not in (EXPIRED_LOT,)]
        counted += [(k[0], k[1]) for k in sorted({(k[0], k[1]) for k in ship if k[1] == "VC1"})[:3]]
        for i, (code, lot) in enumerate(counted):
            short = 1 if i == len(counted) - 1 else 0
            self._at(_local(CAMPAIGN_END, 17, i), code, "count", lambda prov, c=code, lt=lot, s=short: self._count(
                c, lt, s, prov))

    def _transfer(self, doc: str, source: str, dest: str, lines: list[tuple[str, int]], day: date, *,
                  cancel: bool = False, hour: int = 14) -> None:
        lg = self.ledger
        payload = [{"lot_id": str(self.lot_id(lot)), "quantity": q} for lot, q in lines]
        self._at(_local(day, hour), source, "dispatch", lambda prov: lg.dispatch_transfer(
            document_number=doc, source_id=self.fid(source), destination_id=self.fid(dest), lines=payload, prov=prov))
        tid = Transfer.create_id(doc)
        if cancel:
            self._at(_local(day, hour, 40), source, "cancel", lambda prov: lg.cancel_transfer(
                transfer_id=tid, reason="refrigerated truck broke down; reissued on a new dispatch note", prov=prov))
            return
        short = None
        if self.short and dest == self.short[0] and WAVES[self.short[2]][0] - timedelta(days=2) == day:
            lot, q = next((lt, q) for lt, q in lines if lt == self.short[1])
            short = [{"lot_id": str(self.lot_id(lot)), "quantity": q - LOT[lot].doses_per_vial,
                      "discrepancy_reason": "damaged"}]
        self._at(_local(day + timedelta(days=1), 9), dest, "receive", lambda prov: lg.receive_transfer(
            transfer_id=tid, lines=short, prov=prov))

    def _remember(self, key: str, result: CommandResult) -> CommandResult:
        self.movement[key] = UUID(result.ids["movement_id"])
        return result

    def _on_hand(self, lot: str, code: str) -> int | None:
        try:
            return self.ledger.stock_card(self.lot_id(lot), self.fid(code)).on_hand
        except NotFound:
            return None

    def _already_done(self, prov: Provenance) -> CommandResult | None:
        """For commands whose content depends on the stock at the time: replay without recomputing it."""
        if prov.client_ref and _receipt_exists(self.ledger, prov.org, prov.client_ref):
            return CommandResult({}, self.ledger.head(), replayed=True)
        return None

    def _write_off(self, code: str, prov: Provenance) -> CommandResult | None:
        done = self._already_done(prov)
        if done:
            return done
        on_hand = self._on_hand(EXPIRED_LOT, code) or 0
        if on_hand <= 0:
            return None
        return self.ledger.adjust_stock(lot_id=self.lot_id(EXPIRED_LOT), facility_id=self.fid(code), quantity=on_hand,
                                        direction="out", reason="expired", note="lot expired on 30/06/2021", prov=prov)

    def _count(self, code: str, lot: str, short: int, prov: Provenance) -> CommandResult | None:
        done = self._already_done(prov)
        if done:
            return done
        on_hand = self._on_hand(lot, code)
        if on_hand is None:
            return None
        return self.ledger.count_stock(lot_id=self.lot_id(lot), facility_id=self.fid(code),
                                       counted=max(on_hand - short, 0), prov=prov)

    # -- commands: people ------------------------------------------------------------------------------

    def plan_person_commands(self) -> None:
        lg = self.ledger
        for p in self.persons:
            # People are registered by their ward's health station; duplicates on the spot at a point.
            org = p.visits[0].point if p.duplicate_of is not None and p.visits else f"TYT-{p.ward}"
            self._at(p.registered_at, org, "register", lambda prov, p=p: self._register(p, prov))
            if p.vacc_registered_at:
                self._at(p.vacc_registered_at, "PORTAL", "vaccination_registration",
                         lambda prov, p=p: lg.register_for_vaccination(
                             person_id=self.pid[p.n], priority_group=p.priority_group, prov=prov))
            if p.approved_at:
                self._at(p.approved_at, "SYT-HN", "approval", lambda prov, p=p: lg.approve_vaccination(
                    person_id=self.pid[p.n], province_code=PROVINCE, district_code=p.district,
                    district_facility_id=self.fid(CENTRE_OF[p.district]), prov=prov))
            for v in p.visits:
                self._plan_visit(p, v)

    def _register(self, p: _Person, prov: Provenance) -> CommandResult:
        result = self.ledger.register_person(id_type=p.id_type, id_number=p.id_number, details=p.details(),
                                             prov=prov)
        self.pid[p.n] = UUID(result.ids["person_id"])
        return result

    def _plan_visit(self, p: _Person, v: _Visit) -> None:
        lg = self.ledger
        key = f"{p.n}/{v.key}"
        minutes = 60 if v.outcome == "caution" else 30

        def screen(prov: Provenance) -> CommandResult:
            result = lg.screen(person_id=self.pid[p.n], facility_id=self.fid(v.point), vitals=v.vitals,
                               answers=v.answers, observation_minutes=minutes, prov=prov)
            self.screening[key] = UUID(result.ids["screening_id"])
            self.outcomes[result.ids["outcome"]] += 1
            return result

        self._at(v.screen_at, v.point, "screening", screen)
        if v.lot is None:
            return
        recorded = v.recorded_at or v.dose_at

        def administer(prov: Provenance) -> CommandResult:
            result = lg.administer_dose(person_id=self.pid[p.n], lot_id=self.lot_id(v.lot),
                                        facility_id=self.fid(v.point), screening_id=self.screening[key],
                                        kind=v.kind, prov=prov)
            self.dose[key] = UUID(result.ids["dose_id"])
            self.by_vaccine[LOT[v.lot].vaccine] += 1
            if v.kind == "booster":
                self.counts["boosters"] += 1
            return result

        self._at(recorded, v.point, "dose", administer)
        # The end of observation is recorded for every 'caution' screening, and by a quarter of the desks otherwise.
        if v.key != "phantom" and (v.outcome == "caution" or self.rng.random() < 0.25):
            self._at(recorded + timedelta(minutes=minutes), v.point, "observation",
                     lambda prov: lg.complete_observation(person_id=self.pid[p.n], dose_id=self.dose[key],
                                                          minutes=minutes, reactions=[], prov=prov))

    def plan_person_cases(self) -> None:
        lg, rng = self.ledger, self.rng
        for p, v in self.phantoms:
            key = f"{p.n}/{v.key}"
            self._at(v.dose_at + timedelta(days=1, hours=2), v.point, "void", lambda prov, p=p, key=key:
                     lg.void_dose(person_id=self.pid[p.n], dose_id=self.dose[key], reason="entered_in_error",
                                  note="recorded from the pre-filled list; the person left before the injection",
                                  prov=prov))
        for p, v in self.wrong_dates:
            key = f"{p.n}/{v.key}"
            self._at(v.recorded_at + timedelta(hours=2), v.point, "dose_correction", lambda prov, p=p, v=v, key=key:
                     lg.correct_dose(person_id=self.pid[p.n], dose_id=self.dose[key], reason="wrong_date",
                                     administered_at=v.dose_at, prov=prov))
        for p, v in self.wrong_lots:
            key = f"{p.n}/{v.key}"
            self._at(v.dose_at + timedelta(hours=5), v.point, "dose_correction", lambda prov, p=p, key=key:
                     lg.correct_dose(person_id=self.pid[p.n], dose_id=self.dose[key], reason="wrong_lot",
                                     lot_id=self.lot_id("PF1"), prov=prov))
        for a, b, how in self.duplicates:
            bv = b.visits[0]
            when = (bv.dose_at + timedelta(days=5)) if how == "dose_entered_twice" else \
                _local(max(bv.dose_at.date() + timedelta(days=3), date(2021, 11, 15)), 10)
            self._at(when, "SYT-HN", "merge", lambda prov, a=a, b=b: lg.merge_people(
                duplicate_id=self.pid[b.n], into_id=self.pid[a.n],
                reason="duplicate_person: same name, date of birth and phone; registered again without id",
                prov=prov))
            if how == "dose_entered_twice":
                self._at(when + timedelta(minutes=10), bv.point, "void", lambda prov, a=a, b=b: lg.void_dose(
                    person_id=self.pid[a.n], dose_id=self.dose[f"{b.n}/dose1"], reason="duplicate",
                    note="the same injection was entered on a duplicate record", prov=prov))
        if self.wrong_merge:
            a, b = self.wrong_merge
            self._at(_local(date(2021, 11, 10), 9), "SYT-HN", "merge", lambda prov: lg.merge_people(
                duplicate_id=self.pid[b.n], into_id=self.pid[a.n], reason="same name and date of birth", prov=prov))
            self._at(_local(date(2021, 11, 12), 14), "SYT-HN", "merge_revert", lambda prov: lg.revert_merge(
                duplicate_id=self.pid[b.n], prov=prov))
        # Refused: doses from the recalled and the expired lots, a second dose too early, a dose after 'delay'.
        refusals = []
        for p in self.persons:
            d1 = self._visit_of(p, "dose1")
            if p.duplicate_of is None and d1 and d1.lot and d1.recorded_at is None:
                day = d1.dose_at.date()
                if not any(r == "lot_recalled" for r, _, _ in refusals) and RECALLED_ON < day <= date(2021, 9, 5):
                    refusals.append(("lot_recalled", p, d1))
                elif not any(r == "lot_expired" for r, _, _ in refusals) and date(2021, 8, 2) <= day:
                    refusals.append(("lot_expired", p, d1))
        for rule, p, v in refusals:
            lot = RECALLED_LOT if rule == "lot_recalled" else EXPIRED_LOT
            key = f"{p.n}/{v.key}"
            self._at(v.dose_at - timedelta(minutes=3), v.point, "refused", lambda prov, p=p, v=v, key=key, lot=lot:
                     lg.administer_dose(person_id=self.pid[p.n], lot_id=self.lot_id(lot),
                                        facility_id=self.fid(v.point), screening_id=self.screening[key],
                                        prov=prov), refused=rule)
        for p in self.too_early:
            d1 = self._visit_of(p, "dose1")
            v = self._visit(p, "early", d1.dose_at.date() + timedelta(days=10), d1.point,
                            answers={})
            v.outcome = "eligible"
            v.vitals = {"temperature_c": 36.6, "pulse_per_min": 78, "systolic_mmhg": 118, "diastolic_mmhg": 75,
                        "respiration_per_min": 16}
            self._plan_visit(p, v)
            early_lot = self._early_lot(p)
            self._at(v.screen_at + timedelta(minutes=10), v.point, "refused", lambda prov, p=p, v=v, lot=early_lot:
                     lg.administer_dose(person_id=self.pid[p.n], lot_id=self.lot_id(lot),
                                        facility_id=self.fid(v.point), screening_id=self.screening[f"{p.n}/early"],
                                        prov=prov), refused="dose_interval")
        for p in self.delayed:
            v = self._visit_of(p, "delay1")
            lot = self._usable_lot(v.screen_at.date())
            self._at(v.screen_at + timedelta(minutes=5), v.point, "refused", lambda prov, p=p, v=v, lot=lot:
                     lg.administer_dose(person_id=self.pid[p.n], lot_id=self.lot_id(lot),
                                        facility_id=self.fid(v.point), screening_id=self.screening[f"{p.n}/delay1"],
                                        prov=prov), refused="screening_outcome_forbids_dose")
        # Refused: the same CCCD registered a second time at another point.
        for p in [p for p in self.persons if p.id_type == "cccd" and p.duplicate_of is None][:2]:
            if p.id_type == "cccd":
                self._at(p.registered_at + timedelta(days=20), "TYT-KIMMA", "refused", lambda prov, p=p:
                         lg.register_person(id_type="cccd", id_number=p.id_number, details=p.details(), prov=prov),
                         refused="one_person_per_id_number")
        # Adverse events following immunization.
        for i, p in enumerate(self.aefi):
            v = self._visit_of(p, "dose1")
            key = f"{p.n}/dose1"
            serious = i == 0
            onset = v.dose_at + (timedelta(minutes=12) if serious else timedelta(hours=rng.randint(4, 10)))
            reported = v.dose_at + (timedelta(minutes=40) if serious else timedelta(days=1, hours=1))
            symptoms = (["anaphylaxis", "hypotension", "urticaria"] if serious
                        else rng.choice([["fever 38.5 C", "injection site pain"], ["headache", "fatigue", "myalgia"]]))
            self._at(reported, v.point, "aefi", lambda prov, p=p, key=key, s=serious, sy=symptoms, o=onset:
                     self._remember_aefi(key, lg.report_adverse_event(
                         person_id=self.pid[p.n], dose_id=self.dose[key], severity="serious" if s else "common",
                         symptoms=sy, onset_at=o, prov=prov)))
            if i < 2:
                self._at(reported + timedelta(days=4), "SYT-HN", "aefi_classification",
                         lambda prov, p=p, key=key, s=serious: lg.classify_adverse_event(
                             person_id=self.pid[p.n], aefi_id=self.movement[f"aefi/{key}"],
                             causality="vaccine_product_related" if s else "coincidental",
                             note="provincial AEFI council" if s else "onset consistent with a concurrent infection",
                             prov=prov))
        # Identity: verification against the population register, then the corrections it prompts.
        for p in self.persons:
            if p.duplicate_of is not None:
                continue
            fix_at = max(_local(date(2021, 10, 4) + timedelta(days=p.n % 25), 14), p.registered_at + timedelta(days=1))
            if p.registered_name:
                self._at(fix_at, f"TYT-{p.ward}", "verification", lambda prov, p=p: lg.verify_identity(
                    person_id=self.pid[p.n], result="mismatch", register_ref=f"CSDLQG-{p.id_number}",
                    mismatched_fields=["full_name"], prov=prov) if p.id_type != "none" else None)
                self._at(fix_at + timedelta(days=2), f"TYT-{p.ward}", "correction", lambda prov, p=p:
                         lg.correct_person(person_id=self.pid[p.n], changes={"full_name": p.full_name},
                                           reason="wrong_name", prov=prov))
            elif p.registered_dob:
                self._at(fix_at, f"TYT-{p.ward}", "verification", lambda prov, p=p: lg.verify_identity(
                    person_id=self.pid[p.n], result="mismatch", register_ref=f"CSDLQG-{p.id_number}",
                    mismatched_fields=["date_of_birth"], prov=prov) if p.id_type != "none" else None)
                self._at(fix_at + timedelta(days=2), f"TYT-{p.ward}", "correction", lambda prov, p=p:
                         lg.correct_person(person_id=self.pid[p.n], changes={"date_of_birth": p.dob},
                                           reason="wrong_dob", prov=prov))
        for i, p in enumerate(self.verified):
            if p.registered_name or p.registered_dob:
                continue
            result = "not_found" if i % 40 == 7 else "match"
            at = max(_local(date(2021, 10, 1) + timedelta(days=i % 30), 15), p.registered_at + timedelta(days=1))
            self._at(at, f"TYT-{p.ward}", "verification",
                     lambda prov, p=p, r=result: lg.verify_identity(
                         person_id=self.pid[p.n], result=r, register_ref=f"CSDLQG-{p.id_number}" if r == "match"
                         else None, prov=prov))
        for p in self.no_id_fixed:
            number = self._id_number(p.dob, p.sex, "cccd")
            self._at(_local(date(2021, 11, 2) + timedelta(days=p.n % 20), 10), f"TYT-{p.ward}", "correction",
                     lambda prov, p=p, num=number: lg.correct_person(
                         person_id=self.pid[p.n], changes={"id_type": "cccd", "id_number": num}, reason="missing_id",
                         prov=prov))

    def _remember_aefi(self, key: str, result: CommandResult) -> CommandResult:
        self.movement[f"aefi/{key}"] = UUID(result.ids["aefi_id"])
        return result

    # -- running ----------------------------------------------------------------------------------------

    def plan(self) -> list[_Action]:
        self.plan_reference()
        self.plan_people()
        self.plan_special_cases()
        self.plan_supply()
        self.plan_person_commands()
        self.plan_person_cases()
        self.outbreak = Outbreak(self)
        self.outbreak.plan()
        ordered = sorted(self.actions, key=lambda a: (a.at, a.seq))
        for n, action in enumerate(ordered):
            action.ref = f"demo-{self.seed}-{self.size}-{n}"
        # The last command marks a complete load; a rerun that finds its receipt does nothing.
        self._at(_local(OUTBREAK_END, 20), NATIONAL, "count", lambda prov: self._count(NATIONAL, "VC1", 0, prov),
                 ref=f"demo-{self.seed}-{self.size}-final")
        ordered.append(self.actions[-1])
        return ordered

    def run(self, actions: list[_Action], progress: Callable[[int, int], None] | None) -> None:
        total = len(actions)
        for n, action in enumerate(actions, start=1):
            prov = Provenance(actor=self._prov_actor(action.org), org=action.org, source="demo",
                              client_ref=action.ref, occurred_at=action.at)
            try:
                result = action.run(prov)
            except RuleViolation as e:
                if action.refused is None or e.rule != action.refused:
                    raise RuntimeError(f"demo command {action.kind} at {action.at} was refused: {e.rule}: {e}") from e
                self.refused[e.rule] += 1
            else:
                if action.refused is not None:
                    raise RuntimeError(f"demo command {action.kind} at {action.at} should have broken "
                                       f"{action.refused} but was accepted")
                if result is None:
                    self.skipped += 1
                else:
                    self.counts[action.kind] += 1
                    self.replayed += result.replayed
            if progress and (n % 250 == 0 or n == total):
                progress(n, total)


def _receipt_exists(ledger: Ledger, org: str, ref: str) -> bool:
    return ledger.exists(CommandReceipt.create_id(org, ref))


def load_demo(ledger: Ledger, *, seed: int = 2021, people: int = 3000,
              progress: Callable[[int, int], None] | None = None) -> dict:
    """Load the demo campaign into `ledger` (once) and return summary counts.

    A store that already holds this demo (same seed and size) is left as it is; one that
    holds another demo is left alone too, with a message; an interrupted load resumes.
    """
    started = time.monotonic()
    campaign = _Campaign(ledger, seed, people)
    actions = campaign.plan()
    head_before = ledger.head()
    first, last = actions[0], actions[-1]
    marker = Facility.create_id(NATIONAL)
    try:
        ledger.repository.get(marker)
        has_marker = True
    except AggregateNotFoundError:
        has_marker = False
    if has_marker:
        if _receipt_exists(ledger, last.org, last.ref):
            return {"status": "already loaded (nothing written)", "seed": seed, "people": people,
                    "events_in_store": head_before}
        if not _receipt_exists(ledger, first.org, first.ref):
            return {"status": "skipped: the store holds another demo or real facilities (use a fresh store)",
                    "seed": seed, "people": people, "events_in_store": head_before}
    campaign.run(actions, progress)
    c = campaign.counts
    records = campaign.persons
    return {
        "status": "resumed" if has_marker else "loaded",
        "seed": seed,
        "people": people,
        "person_records": c["register"],
        "person_records_without_id_number": sum(1 for p in records if p.id_type == "none"),
        "facilities": c["facility"],
        "lots": c["lot"],
        "lots_recalled": c["recall"],
        "lots_written_off_expired": c["expiry"],
        "supplier_receipts": c["receipt"],
        "transfers_dispatched": c["dispatch"],
        "transfers_received": c["receive"],
        "transfers_received_short": 1 if campaign.short else 0,
        "transfers_cancelled": c["cancel"],
        "stock_adjustments": c["adjustment"] + c["expiry"],
        "movement_reversals": c["reversal"],
        "physical_counts": c["count"],
        "vaccination_registrations": c["vaccination_registration"],
        "approvals": c["approval"],
        "screenings": c["screening"],
        "screening_outcomes": dict(sorted(campaign.outcomes.items())),
        "doses": c["dose"],
        "doses_by_vaccine": dict(sorted(campaign.by_vaccine.items())),
        "boosters": c["boosters"],
        "observations": c["observation"],
        "doses_voided": c["void"],
        "doses_corrected": c["dose_correction"],
        "identity_verifications": c["verification"],
        "identity_corrections": c["correction"],
        "merges": c["merge"],
        "merges_reverted": c["merge_revert"],
        "adverse_events": c["aefi"],
        "adverse_events_classified": c["aefi_classification"],
        **campaign.outbreak.summary(c),
        "refused": dict(sorted(campaign.refused.items())),
        "commands": sum(c[k] for k in c if k != "boosters"),
        "commands_replayed": campaign.replayed,
        "events_written": ledger.head() - head_before,
        "seconds": round(time.monotonic() - started, 1),
    }


# -- tokens ---------------------------------------------------------------------------------------------

#: The demo's callers: role -> (subject, org, facility code of the scope or None).
DEMO_CALLERS: dict[str, tuple[str, str, str | None]] = {
    "national_operator": ("demo-operator", "MOH", None),
    "auditor": ("demo-auditor", "MOH-INSPECTORATE", None),
    "provincial": ("demo-hanoi-cdc", "CDC-HN", None),
    "warehouse_clerk": ("demo-clerk-kho-hn", "KHO-HN", "KHO-HN"),
    "vaccinator": ("demo-nurse-phucxa", "TYT-PHUCXA", "TYT-PHUCXA"),
    "lab": ("demo-lab-cdc-hn", "CDC-HN-LAB", "CDC-HN-LAB"),
    "integrator": ("demo-integrator", "HIS-VENDOR", None),
    "citizen": ("demo-citizen", "citizens", None),
}
#: The events the demo integrator is granted (its streams come later).
DEMO_INTEGRATOR_EVENTS = ["ledger.person.DoseAdministered", "ledger.stock.Administered"]


def demo_tokens(ledger: Ledger, path: Path) -> dict[str, str]:
    """A working token per demo role, kept in `path` (mode 0600) so a rerun shows the same ones.

    Tokens are shown once by design; the demo keeps its own in a local file so a newcomer
    can come back to them. Only their hashes are in the ledger, like any other token's.
    """
    tokens: dict[str, str] = {}
    if path.exists():
        tokens = {role: token for role, token in json.loads(path.read_text()).items()
                  if role in DEMO_CALLERS and ledger.authenticate(token) is not None}
    missing = [role for role in DEMO_CALLERS if role not in tokens]
    if missing:
        citizen = ledger.events_after(0, stop=ledger.head(), topics=["ledger.person.Registered"], limit=1)
        prov = Provenance(actor="demo", org="MOH", source="demo")
        for role in missing:
            subject, org, site = DEMO_CALLERS[role]
            scope: dict[str, Any] = {}
            if site is not None:
                scope["facility_id"] = str(Facility.create_id(site))
            elif role == "provincial":
                scope["province_code"] = PROVINCE
            elif role == "integrator":
                scope["event_types"] = DEMO_INTEGRATOR_EVENTS
            elif role == "citizen":
                if not citizen:
                    continue
                scope["person_id"] = str(citizen[0][1].originator_id)
            _, tokens[role] = ledger.issue_token(subject=subject, org=org, role=role, scope=scope,
                                                 label="make demo", prov=prov)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(tokens, indent=2) + "\n")
    return tokens
