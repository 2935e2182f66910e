"""The national workload's testing (pooled rounds, retests, rapid tests) and check-ins."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

from ..domain import Facility, Sample
from .census import Ward
from .plan import CAMPAIGN_END, Planner, Resident, local_time

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


class TestingPlanner(Planner):
    """The outbreaks' pooled rounds, the rapid tests elsewhere, and the QR check-ins."""

    def _plan_testing(self) -> None:
        rng = self.rng
        by_ward: dict[str, list[Resident]] = defaultdict(list)
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

    def _sample(self, province: str, ward: Ward, day: date, people: list[Resident], number: int, *, positive: bool,
                barcodes: Iterator[int], method: str = "rt_pcr", retest_of: str | None = None) -> None:
        rng = self.rng
        if not people:
            return
        if len(people) == 1 and retest_of is None and method == "rt_pcr":
            method = "rapid_antigen"
        barcode = f"XN{province}{day:%y%m%d}{number:07d}"
        sample_id = Sample.create_id(barcode)
        point, lab = f"TYT-{ward.code}", f"LAB-{province}"
        taken = local_time(day, 7) + timedelta(minutes=rng.randrange(240))
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
                at = local_time(day, rng.choices(hours, weights)[0], rng.randrange(60))
                self._register(p, at - timedelta(days=1))
                self.checkins[day].append((p.n, f"DD-{p.ward.code}-{rng.randint(1, 2)}", at))
