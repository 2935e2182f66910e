"""The demo's outbreak: the Omicron wave in the demo's three districts, Dec 2021 - Mar 2022.

After the vaccination campaign (`ledger.demo`), the same people live through a wave: they
check in at venues every day, the provincial CDC's lab tests samples (individual RT-PCR and
rapid tests, pools of five in the wards where cases appear, routine pools that come back
negative), cases are confirmed by each rule of the case definition in force (RT-PCR
positive; after Official Dispatch 11042 on 29 Dec 2021, an F1 with a positive rapid test, and
two positive rapid tests with an epidemiological link), their close contacts (F1) and the
contacts of those (F2) are recorded, quarantine orders follow the policy version in force on
the day (10696 in December and January, 762 from 21 February), people file health
declarations, and the risk map is assessed per ward each week from the reference population
the province loads and the vaccination the campaign recorded.

The plan is pure (from its own `random.Random`, so the campaign before it is unchanged) and
its commands join the campaign's, in business-time order, each with a deterministic
`client_ref`. The field's mistakes show here too: a result keyed in wrong and corrected (the
case it confirmed is retracted), a second result for a sample that has one, a pool too large,
a check-in at a place that is not a venue, a quarantine released twice.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .commands._shared import CommandResult
from .domain import Provenance, Sample
from .domain.checkin import checkin_id, venue_qr_payload
from .domain.person import LOCAL_TZ
from .domain.sample import normalise_barcode
from .policies.quarantine import quarantine_policy_on

if TYPE_CHECKING:
    from .demo import _Campaign, _Person

LAB = "CDC-HN-LAB"
#: Who orders quarantine and records contacts: the provincial CDC's tracing team.
TRACERS = "CDC-HN"
#: The national QR check-in service, which sends each day's check-ins in bulk.
QR_SERVICE = "NHDL-QR"
#: The citizens' app, through which people file health declarations.
APP = "NHDL-APP"
LAB_SITE = ("Phòng xét nghiệm CDC Hà Nội", "006", "00187")
#: Monday of ISO week 2021-W49, and the number of weeks the wave lasts.
OUTBREAK_START = date(2021, 12, 6)
OUTBREAK_WEEKS = 13
#: Cases per week for a 3,000-person demo (scaled with its size): the wave rises to a peak in
#: February and falls, as Hà Nội's did.
WEEKLY_CASES = (1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 10, 7, 4)
#: The day the outbreak's last commands happen; the campaign's completion marker follows it.
OUTBREAK_END = OUTBREAK_START + timedelta(weeks=OUTBREAK_WEEKS + 2)
CASE_DEFINITION_11042 = date(2021, 12, 29)

#: Venues (code, name, district, ward): markets, a supermarket, cafés, offices, a gym, a church.
VENUES: tuple[tuple[str, str, str, str], ...] = (
    ("VN-CHO-NGOCHA", "Chợ Ngọc Hà", "001", "00016"),
    ("VN-LOTTE-LIEUGIAI", "Siêu thị Lotte Mart Liễu Giai", "001", "00008"),
    ("VN-CAFE-TRUCBACH", "Cà phê Trúc Bạch", "001", "00004"),
    ("VN-VP-KIMMA", "Tòa văn phòng Kim Mã", "001", "00028"),
    ("VN-CHO-NGHIATAN", "Chợ Nghĩa Tân", "005", "00160"),
    ("VN-GYM-DICHVONG", "Phòng tập Dịch Vọng", "005", "00166"),
    ("VN-CAFE-YENHOA", "Cà phê Yên Hòa", "005", "00172"),
    ("VN-CHO-KIMLIEN", "Chợ Kim Liên", "006", "00229"),
    ("VN-NHATHO-KHAMTHIEN", "Nhà thờ Khâm Thiên", "006", "00202"),
    ("VN-VP-LANGHA", "Tòa văn phòng Láng Hạ", "006", "00199"),
)
#: When people check in: (first hour, last hour, weight) of the day's rhythm.
RHYTHM = ((6, 9, 3), (11, 13, 3), (17, 20, 4))
#: Share of the people who check in somewhere on a given day.
DAILY_CHECKIN_SHARE = 0.06
#: Days a quarantine order may last (10696's unprotected F1: 14 in a facility + 14 at home): a person
#: ordered into quarantine is not chosen for another case's order within this many days.
ORDER_SPAN = timedelta(days=30)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


@dataclass
class _Case:
    """A person who will be confirmed as a case, and how."""

    n: int
    person: _Person
    route: str  # rt_pcr | pool | f1_rapid | two_rapid
    collected_at: datetime
    #: Set for a case whose positive result is keyed in wrong and corrected the next day.
    corrected: bool = False
    contacts: list[_Person] = field(default_factory=list)
    #: The barcode of the sample whose result confirms the case.
    barcode: str = ""
    #: When the confirming result is recorded (the case is confirmed then).
    confirmed_at: datetime | None = None


@dataclass
class _Order:
    """A quarantine order the demo makes, and how it ends."""

    key: str
    person: _Person
    level: str
    ordered_at: datetime
    #: Set when the person became a case while under this order (released as `became_case`).
    became_case_at: datetime | None = None
    #: Set for a case's isolation ordered before its evidence was corrected (released as `ordered_in_error`).
    in_error_at: datetime | None = None


class Outbreak:
    """Plans the wave's commands into a `_Campaign`."""

    def __init__(self, campaign: _Campaign) -> None:
        self.c = campaign
        self.rng = random.Random(f"{campaign.seed}-outbreak")
        self.scale = campaign.size / 3000
        self.barcodes = 0
        self.cases: list[_Case] = []
        # Adults and children with one active record (duplicates are merged away in November).
        self.people = [p for p in campaign.persons if p.duplicate_of is None]
        self.busy: set[tuple[int, date]] = set()
        #: person n -> days from which they are under (or about to be under) a quarantine order.
        self.ordered: dict[int, list[date]] = {}
        self.result_at: dict[str, datetime] = {}
        self.orders: list[_Order] = []
        #: order key -> the order id the ledger answered (known once the order's command has run).
        self.order_ids: dict[str, str] = {}
        #: day -> the check-in rows the QR service sends at the end of it.
        self.checkin_rows: dict[date, list[dict[str, Any]]] = {}
        self.checkins: Counter[str] = Counter()
        self.f2_refusal_planned = False

    def summary(self, counts: Counter[str]) -> dict[str, Any]:
        """The wave's part of the demo's summary (`counts`: accepted commands per kind)."""
        return {
            "samples": counts["sample"] + counts["pool"],
            "pooled_samples": counts["pool"],
            "results": counts["result"],
            "results_corrected": counts["result_correction"],
            "cases_by_route": dict(sorted(Counter(c.route for c in self.cases).items())),
            "cases_retracted": sum(c.corrected for c in self.cases),
            "contacts": counts["contact"],
            "quarantine_orders": counts["quarantine_order"],
            "quarantine_follow_ups": counts["follow_up"],
            "quarantine_releases": counts["release"],
            "health_declarations": counts["declaration"],
            "check_ins": self.checkins["accepted"],
            "check_in_batches": counts["checkin_batch"],
            "population_loads": counts["population"],
        }

    # -- helpers ------------------------------------------------------------------------------------

    def _at(self, at: datetime, org: str, kind: str, run: Callable[[Provenance], Any], *,
            refused: str | None = None) -> None:
        self.c._at(at, org, kind, run, refused=refused)

    def _barcode(self) -> str:
        self.barcodes += 1
        return f"HN-{self.c.seed}-{self.barcodes:06d}"

    @staticmethod
    def sample_id(barcode: str) -> UUID:
        return Sample.create_id(normalise_barcode(barcode))

    def _sampling_site(self, p: _Person) -> str:
        from .demo import CENTRE_OF, SITES

        station = next((s.code for s in SITES if s.kind == "vaccination_point" and s.ward == p.ward), None)
        return station or CENTRE_OF[p.district]

    def _under_order(self, p: _Person, day: date) -> bool:
        """Whether `p` is, or may still be, under an order around `day` (so another order would be refused)."""
        return any(start - ORDER_SPAN <= day <= start + ORDER_SPAN for start in self.ordered.get(p.n, ()))

    def _free(self, candidates: list[_Person], day: date, k: int) -> list[_Person]:
        cased = {c.person.n for c in self.cases}
        free = [p for p in candidates
                if (p.n, day) not in self.busy and p.n not in cased and not self._under_order(p, day)]
        chosen = self.rng.sample(free, min(k, len(free)))
        self.busy.update((p.n, day) for p in chosen)
        return sorted(chosen, key=lambda p: p.n)

    # -- the plan ----------------------------------------------------------------------------------------

    def plan(self) -> None:
        self.plan_reference()
        self.plan_population()
        self.plan_cases()
        self.plan_routine_pools()
        self.plan_tracing()
        self.plan_daily_checkins()
        self.plan_declarations()
        self.plan_mistakes()
        self.plan_releases()
        self.plan_checkin_batches()

    def plan_reference(self) -> None:
        lg = self.c.ledger
        name, district, ward = LAB_SITE
        self._at(_local(date(2021, 12, 1), 8), "BYT", "facility", lambda prov: lg.register_facility(
            code=LAB, name=name, kind="lab", province_code="01", district_code=district, ward_code=ward, prov=prov))
        for i, (code, venue, district, ward) in enumerate(VENUES):
            self._at(_local(date(2021, 12, 1), 9, i), "BYT", "facility", lambda prov, c=code, v=venue, d=district,
                     w=ward: lg.register_facility(code=c, name=v, kind="venue", province_code="01", district_code=d,
                                                  ward_code=w, prov=prov))

    def plan_population(self) -> None:
        """The reference population the risk map divides by, loaded by the provincial CDC before the wave:
        the demo's residents per ward, district and the province (ages by year of birth, as the map counts)."""
        year = OUTBREAK_START.year
        counts: dict[tuple[str, str], list[int]] = {}
        for p in self.people:
            age = year - p.dob.year
            for key in (("ward", p.ward), ("district", p.district), ("province", "01")):
                row = counts.setdefault(key, [0, 0, 0])
                row[0] += 1
                row[1] += age >= 18
                row[2] += age >= 50
        rows = [{"area_level": level, "area_code": code, "province_code": "01", "year": year, "total": total,
                 "aged_18_plus": adults, "aged_50_plus": older,
                 "data_source": f"demo: the demo's {self.c.size} residents, counted by area"}
                for (level, code), (total, adults, older) in sorted(counts.items())]
        lg = self.c.ledger
        self._at(_local(date(2021, 12, 3), 10), TRACERS, "population", lambda prov: lg.load_population(
            rows=rows, prov=prov))

    def plan_cases(self) -> None:
        rng = self.rng
        for week, base in enumerate(WEEKLY_CASES):
            monday = OUTBREAK_START + timedelta(weeks=week)
            for _ in range(max(1, round(base * self.scale))):
                day = monday + timedelta(days=rng.randrange(7))
                routes = ["rt_pcr", "pool"]
                if day >= CASE_DEFINITION_11042 + timedelta(days=2):
                    routes += ["two_rapid"]
                    if any(c.contacts for c in self.cases):
                        routes += ["f1_rapid", "f1_rapid"]
                route = rng.choice(routes)
                person = self._case_person(route, day)
                if person is None:
                    continue
                case = _Case(len(self.cases), person, route, _local(day, 9, rng.randrange(60)))
                # The first RT-PCR positive is keyed in wrong: the lab corrects it the next day.
                case.corrected = route == "rt_pcr" and not any(c.route == "rt_pcr" for c in self.cases)
                self.cases.append(case)
                self._plan_case(case)

    def _case_person(self, route: str, day: date) -> _Person | None:
        if route == "f1_rapid":
            # An F1 of a case confirmed 2-10 days before (in quarantine, followed up), not a case yet.
            cased = {c.person.n for c in self.cases}
            contacts = [q for c in self.cases if c.confirmed_at is not None
                        and day - timedelta(days=10) <= c.confirmed_at.date() <= day - timedelta(days=2)
                        for q in c.contacts if q.n not in cased]
            return self.rng.choice(contacts) if contacts else None
        chosen = self._free(self.people, day, 1)
        return chosen[0] if chosen else None

    def _plan_case(self, case: _Case) -> None:
        {"rt_pcr": self._rt_pcr, "pool": self._pool, "f1_rapid": self._f1_rapid,
         "two_rapid": self._two_rapid}[case.route](case)
        case.confirmed_at = self.result_at[case.barcode]
        p = case.person
        self.ordered.setdefault(p.n, []).append(case.confirmed_at.date())
        if case.corrected:
            return  # retracted the next day: nobody is traced from it
        # Close contacts: two or three people of the case's ward, met the day before the sample.
        case.contacts = self._free([q for q in self.people if q.ward == p.ward and q.n != p.n],
                                   case.collected_at.date() - timedelta(days=1), self.rng.randint(2, 3))
        for q in case.contacts:
            self.ordered.setdefault(q.n, []).append(case.confirmed_at.date())

    def _individual(self, p: _Person, method: str, at: datetime, result: str, *, ct: float | None = None,
                    onset: date | None = None, retest_of: str | None = None, epi_link: dict | None = None,
                    result_at: datetime | None = None) -> str:
        """Collect, receive and result one person's sample; returns its barcode."""
        lg, c = self.c.ledger, self.c
        barcode = self._barcode()
        site = self._sampling_site(p)
        self._at(at, site, "sample", lambda prov: lg.collect_sample(
            barcode=barcode, method=method, subject_ids=[c.pid[p.n]], facility_id=c.fid(site),
            symptom_onset=onset, retest_of=self.sample_id(retest_of) if retest_of else None, epi_link=epi_link,
            prov=prov))
        received = at + (timedelta(hours=3) if method == "rt_pcr" else timedelta(minutes=5))
        self._at(received, LAB, "sample_receipt", lambda prov: lg.receive_sample(
            sample_id=self.sample_id(barcode), lab_id=c.fid(LAB), prov=prov))
        if result_at is None:
            result_at = received + (timedelta(hours=18) if method == "rt_pcr" else timedelta(minutes=20))
        self._at(result_at, LAB, "result", lambda prov: lg.record_result(
            sample_id=self.sample_id(barcode), result=result, ct_value=ct if method == "rt_pcr" else None,
            prov=prov))
        self.result_at[barcode] = result_at
        return barcode

    def _ct(self) -> float:
        return round(self.rng.uniform(16, 31), 1)

    def _rt_pcr(self, case: _Case) -> None:
        onset = case.collected_at.date() - timedelta(days=self.rng.randint(0, 2))
        barcode = case.barcode = self._individual(case.person, "rt_pcr", case.collected_at, "positive",
                                                  ct=self._ct(), onset=onset)
        if case.corrected:
            lg = self.c.ledger
            self._at(case.collected_at + timedelta(days=1, hours=6), LAB, "result_correction",
                     lambda prov: lg.correct_result(
                         sample_id=self.sample_id(barcode), result="negative", reason="transcription_error",
                         prov=prov))

    def _pool(self, case: _Case) -> None:
        """A community pool of five in the case's ward: positive, then each member retested alone."""
        lg, c, p = self.c.ledger, self.c, case.person
        day = case.collected_at.date()
        members = [p, *self._free([q for q in self.people if q.ward == p.ward and q.n != p.n], day, 4)]
        if len(members) < 2:
            case.route = "rt_pcr"
            self._rt_pcr(case)
            return
        barcode = self._barcode()
        site = self._sampling_site(p)
        at = case.collected_at
        self._at(at, site, "pool", lambda prov: lg.collect_sample(
            barcode=barcode, method="rt_pcr", subject_ids=[c.pid[m.n] for m in members], facility_id=c.fid(site),
            pool_kind="community", prov=prov))
        self._at(at + timedelta(hours=3), LAB, "sample_receipt", lambda prov: lg.receive_sample(
            sample_id=self.sample_id(barcode), lab_id=c.fid(LAB), prov=prov))
        self._at(at + timedelta(hours=20), LAB, "result", lambda prov: lg.record_result(
            sample_id=self.sample_id(barcode), result="positive", ct_value=self._ct(), prov=prov))
        retest_at = at + timedelta(days=1, hours=5)
        for m in members:
            positive = m is p
            retest = self._individual(m, "rt_pcr", retest_at, "positive" if positive else "negative",
                                      ct=self._ct() if positive else None, retest_of=barcode)
            if positive:
                case.barcode = retest
        case.collected_at = retest_at

    def _f1_rapid(self, case: _Case) -> None:
        """An F1 in quarantine tests positive with a rapid test: a case under 11042 rule 2."""
        case.barcode = self._individual(case.person, "rapid_antigen", case.collected_at, "positive")

    def _two_rapid(self, case: _Case) -> None:
        """Two positive rapid tests four hours apart, with a declared link: 11042 rule 3."""
        link = {"kind": "declared", "ref": "shares a workplace with a confirmed case"}
        self._individual(case.person, "rapid_antigen", case.collected_at, "positive")
        case.barcode = self._individual(case.person, "rapid_antigen", case.collected_at + timedelta(hours=4),
                                        "positive", epi_link=link)

    # -- tracing: contacts, orders, follow-ups ------------------------------------------------------------

    def plan_tracing(self) -> None:
        """For each case: its isolation, its close contacts (F1) met at a venue the evening before the
        sample, an F2 of the first F1, their quarantine under the policy in force, a first day's follow-up."""
        lg, c = self.c.ledger, self.c
        for case in self.cases:
            p, confirmed = case.person, case.confirmed_at
            assert confirmed is not None
            if case.route == "f1_rapid":
                # An F1 who became a case: released from the F1 order, then isolated.
                for order in self.orders:
                    if order.person is p and order.level == "F1" and order.became_case_at is None:
                        order.became_case_at = confirmed + timedelta(minutes=50)
            isolation = self._order(p, "F0", confirmed + timedelta(hours=1))
            if case.corrected:
                isolation.in_error_at = confirmed + timedelta(days=1, hours=7)
                continue
            evening = _local(case.collected_at.date() - timedelta(days=1), 18, self.rng.randrange(30))
            venue = self._venue_near(p)
            self._checkin(p, venue, evening, ref=f"case-{case.n}")
            traced = confirmed + timedelta(hours=3)
            for i, q in enumerate(case.contacts):
                at = evening + timedelta(minutes=self.rng.randint(-40, 40))
                ref = self._checkin(q, venue, at, ref=f"case-{case.n}-contact-{i}")
                close = self.rng.choice((("physical", None, None), ("within_2m", False, 25),
                                         ("same_closed_space", True, 45)))
                self._at(traced + timedelta(minutes=i), TRACERS, "contact", lambda prov, p=p, q=q, close=close,
                         at=at, ref=ref: lg.record_contact(
                    person_id=c.pid[q.n], source_person_id=c.pid[p.n], level="F1", proximity=close[0],
                    masked=close[1], duration_minutes=close[2], exposed_at=at,
                    checkin_id=checkin_id(QR_SERVICE, ref), prov=prov))
                order = self._order(q, "F1", traced + timedelta(hours=2, minutes=i))
                self._follow_up(order, q)
            if case.contacts:
                self._f2(case, case.contacts[0], traced)

    def _f2(self, case: _Case, f1: _Person, traced: datetime) -> None:
        """A household member of the F1, met the morning of the case's sample (before the F1 was isolated)."""
        lg, c = self.c.ledger, self.c
        found = self._free([q for q in self.people if q.ward == f1.ward and q.n != f1.n],
                           case.collected_at.date(), 1)
        if not found:
            return
        f2 = found[0]
        exposed = _local(case.collected_at.date(), 7, 15)
        self._at(traced + timedelta(hours=1), TRACERS, "contact", lambda prov: lg.record_contact(
            person_id=c.pid[f2.n], source_person_id=c.pid[f1.n], level="F2", proximity="physical",
            exposed_at=exposed, prov=prov))
        ordered_at = traced + timedelta(hours=2, minutes=30)
        if quarantine_policy_on(ordered_at.date()).unprotected.get("F2") is not None:  # 5599 yes, 10696 on no
            self.ordered.setdefault(f2.n, []).append(ordered_at.date())
            self._order(f2, "F2", ordered_at)
        elif not self.f2_refusal_planned:
            self.f2_refusal_planned = True  # once: the tracers learn that 10696 has no F2 quarantine
            self._at(ordered_at, TRACERS, "quarantine_order", lambda prov: lg.order_quarantine(
                person_id=c.pid[f2.n], level="F2", prov=prov), refused="no_quarantine_for_level")

    def _order(self, p: _Person, level: str, at: datetime) -> _Order:
        lg, c = self.c.ledger, self.c
        order = _Order(f"{level}-{p.n}-{at.isoformat()}", p, level, at)
        self.orders.append(order)

        def run(prov: Provenance) -> CommandResult:
            result = lg.order_quarantine(person_id=c.pid[p.n], level=level, prov=prov)
            self.order_ids[order.key] = result.ids["order_id"]
            return result

        self._at(at, TRACERS, "quarantine_order", run)
        return order

    def _follow_up(self, order: _Order, p: _Person) -> None:
        lg, c = self.c.ledger, self.c
        day = order.ordered_at.date() + timedelta(days=1)
        symptoms = ["cough"] if self.rng.random() < 0.2 else []
        temperature = round(self.rng.uniform(36.2, 37.4), 1)
        self._at(_local(day, 9, self.rng.randrange(60)), f"TYT-{p.ward}", "follow_up",
                 lambda prov: lg.follow_up_quarantine(
                     person_id=c.pid[p.n], order_id=UUID(self.order_ids[order.key]), day=day, symptoms=symptoms,
                     temperature_c=temperature, prov=prov))

    def plan_releases(self) -> None:
        """Each order ends: completed the day after its end (recorded by the ward's station once the
        longest order could have ended), or when the person became a case, or as made in error."""
        lg, c = self.c.ledger, self.c
        twice = False
        for order in self.orders:
            p = order.person
            if order.became_case_at is not None:
                at, reason = order.became_case_at, "became_case"
            elif order.in_error_at is not None:
                at, reason = order.in_error_at, "ordered_in_error"
            else:
                at, reason = order.ordered_at + ORDER_SPAN, "completed"

            def run(prov: Provenance, o: _Order = order, p: _Person = p, reason: str = reason) -> CommandResult:
                person_id, order_id = c.pid[p.n], UUID(self.order_ids[o.key])
                stored = lg.person(person_id).quarantines[str(order_id)]
                released_on = (date.fromisoformat(stored["ends_on"]) + timedelta(days=1) if reason == "completed"
                               else prov.occurred_at.astimezone(LOCAL_TZ).date())
                return lg.release_quarantine(person_id=person_id, order_id=order_id, released_on=released_on,
                                             reason=reason, prov=prov)

            self._at(at, TRACERS if reason != "completed" else f"TYT-{p.ward}", "release", run)
            if reason == "completed" and not twice:
                # The station's list is sent again the next day: the release is refused, not doubled.
                twice = True
                self._at(at + timedelta(days=1), f"TYT-{p.ward}", "release", run,
                         refused="quarantine_already_released")

    # -- check-ins ---------------------------------------------------------------------------------------

    def _venue_near(self, p: _Person) -> str:
        near = [v[0] for v in VENUES if v[2] == p.district]
        return self.rng.choice(near or [v[0] for v in VENUES])

    def _checkin(self, p: _Person, venue: str, at: datetime, *, ref: str) -> str:
        """A row of the day's bulk file from the QR service; returns its reference (the check-in's id)."""
        mode = "citizen_scan" if self.rng.random() < 0.85 else "staff_scan"
        ref = f"{self.c.seed}-{ref}"
        self.checkin_rows.setdefault(at.date(), []).append({
            "qr": venue_qr_payload(venue), "person_id": p.n, "checked_in_at": at.isoformat(), "mode": mode,
            "client_ref": ref})
        return ref

    def plan_daily_checkins(self) -> None:
        """Everyday life: a few percent of the people check in somewhere each day of the wave."""
        rng = self.rng
        day = OUTBREAK_START
        while day < OUTBREAK_START + timedelta(weeks=OUTBREAK_WEEKS):
            for p in rng.sample(self.people, round(len(self.people) * DAILY_CHECKIN_SHARE)):
                first, last, _ = rng.choices(RHYTHM, [w for *_, w in RHYTHM])[0]
                at = _local(day, rng.randint(first, last - 1), rng.randrange(60))
                self._checkin(p, self._venue_near(p), at, ref=f"{day.isoformat()}-{p.n}")
            day += timedelta(days=1)

    def plan_checkin_batches(self) -> None:
        """The QR service sends each day's check-ins just before midnight, in one bulk import."""
        lg, c = self.c.ledger, self.c
        for day, rows in sorted(self.checkin_rows.items()):
            def run(prov: Provenance, rows: list[dict[str, Any]] = rows) -> CommandResult:
                sent = [(i, {**r, "person_id": str(c.pid[r["person_id"]])}) for i, r in enumerate(rows, start=1)]
                report = lg.import_checkins(sent, prov=prov)
                if report.refused:
                    raise RuntimeError(f"demo check-ins refused: {[r for r in report.rows if r.status == 'refused']}")
                self.checkins["accepted"] += report.accepted
                self.checkins["duplicate"] += report.duplicate
                return CommandResult({"accepted": str(report.accepted)}, report.position,
                                     replayed=report.accepted == 0 and report.duplicate > 0)

            self._at(_local(day, 23, 50), QR_SERVICE, "checkin_batch", run)

    # -- declarations ------------------------------------------------------------------------------------

    def plan_declarations(self) -> None:
        """Domestic declarations (the cases the day of their sample, with their symptoms and contacts), and
        one entry declaration of a traveller back from Korea."""
        lg, c = self.c.ledger, self.c
        for case in self.cases:
            day = case.collected_at.date()
            history = [{"kind": "contact_of_case", "on": (day - timedelta(days=3)).isoformat(), "note": None}] \
                if case.route in ("f1_rapid", "two_rapid") else []
            symptoms = self.rng.sample(["fever", "cough", "sore_throat", "fatigue", "headache"], self.rng.randint(1, 3))
            self._at(case.collected_at - timedelta(minutes=30), APP, "declaration", lambda prov, p=case.person,
                     s=symptoms, h=history: lg.declare_health(person_id=c.pid[p.n], kind="domestic", symptoms=s,
                                                              contact_history=h, prov=prov))
        for p in self.rng.sample(self.people, max(1, len(self.people) // 50)):
            day = OUTBREAK_START + timedelta(days=self.rng.randrange(OUTBREAK_WEEKS * 7))
            self._at(_local(day, 7, self.rng.randrange(60)), APP, "declaration", lambda prov, p=p: lg.declare_health(
                person_id=c.pid[p.n], kind="domestic", symptoms=[], prov=prov))
        traveller = self.people[len(self.people) // 2]
        back = date(2022, 1, 18)
        self._at(_local(back, 14), APP, "declaration", lambda prov: lg.declare_health(
            person_id=c.pid[traveller.n], kind="entry", symptoms=[],
            travel=[{"country": "KR", "place": "Seoul", "from": "2022-01-04", "to": back.isoformat()}],
            entry={"port_of_entry": "Nội Bài", "from_country": "KR", "flight": "VN417", "arrival_on": back.isoformat()},
            prov=prov))

    def plan_routine_pools(self) -> None:
        """Screening of market traders: a pool of ten per district every other week, all negative."""
        from .demo import DISTRICTS

        lg, c = self.c.ledger, self.c
        for week in range(0, OUTBREAK_WEEKS, 2):
            day = OUTBREAK_START + timedelta(weeks=week, days=2)
            for district in DISTRICTS:
                members = self._free([p for p in self.people if p.district == district], day, 10)
                if len(members) < 2:
                    continue
                barcode = self._barcode()
                site = self._sampling_site(members[0])
                at = _local(day, 7, 30)
                self._at(at, site, "pool", lambda prov, b=barcode, ms=members, s=site: lg.collect_sample(
                    barcode=b, method="rt_pcr", subject_ids=[c.pid[m.n] for m in ms], facility_id=c.fid(s),
                    pool_kind="community", prov=prov))
                self._at(at + timedelta(hours=4), LAB, "sample_receipt", lambda prov, b=barcode: lg.receive_sample(
                    sample_id=self.sample_id(b), lab_id=c.fid(LAB), prov=prov))
                self._at(at + timedelta(hours=22), LAB, "result", lambda prov, b=barcode: lg.record_result(
                    sample_id=self.sample_id(b), result="negative", prov=prov))

    def plan_mistakes(self) -> None:
        """Commands the ledger refuses, as the field sent them."""
        lg, c = self.c.ledger, self.c
        day = OUTBREAK_START + timedelta(days=10)
        # A pool of eleven (the policy allows ten in a community pool).
        members = self._free(self.people, day, 11)
        if len(members) == 11:
            site = self._sampling_site(members[0])
            barcode = self._barcode()
            self._at(_local(day, 8), site, "pool", lambda prov: lg.collect_sample(
                barcode=barcode, method="rt_pcr", subject_ids=[c.pid[m.n] for m in members],
                facility_id=c.fid(site), pool_kind="community", prov=prov), refused="pool_size_within_policy")
        # A check-in at a vaccination point (its staff printed their own QR code): not a venue.
        someone = self.people[0]
        site = self._sampling_site(someone)
        self._at(_local(day, 10), site, "checkin", lambda prov: lg.check_in(
            person_id=c.pid[someone.n], venue_id=c.fid(site), checked_in_at=_local(day, 10), mode="staff_scan",
            prov=prov), refused="checkin_at_registered_venue")
        # A second result for a sample that has one (the lab's system sent it twice, changed).
        first = next((cs for cs in self.cases if cs.route == "rt_pcr" and not cs.corrected), None)
        if first is not None:
            barcode = first.barcode
            self._at(first.collected_at + timedelta(days=1, hours=2), LAB, "result", lambda prov: lg.record_result(
                sample_id=self.sample_id(barcode), result="negative", prov=prov), refused="one_result_per_sample")
