"""The national workload's places and supply: facilities, lots, deliveries down the chain, waste."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from ..commands._shared import CommandResult
from ..domain import Facility, Provenance, Transfer, VaccineLot
from ..policies.vaccines import add_months
from .census import Ward, provinces
from .plan import NATIONAL, Planner, half_month, local_time, period_days

#: Sampled people per vaccination point (a commune health station served ~10,000 people).
PEOPLE_PER_POINT = 250


@dataclass(frozen=True, slots=True)
class Vaccine:
    code: str
    manufacturer: str
    doses_per_vial: int
    first_arrival: date
    shelf_months: int
    lot_prefix: str


VACCINES = (
    Vaccine("astrazeneca", "AstraZeneca", 10, date(2021, 2, 24), 6, "ABV"),
    Vaccine("vero_cell", "Sinopharm", 1, date(2021, 6, 5), 24, "2021"),
    Vaccine("pfizer", "Pfizer-BioNTech", 6, date(2021, 7, 5), 6, "FF"),
    Vaccine("moderna", "Moderna", 10, date(2021, 7, 5), 7, "30"),
)


@dataclass(frozen=True, slots=True)
class Lot:
    vaccine: Vaccine
    lot_number: str
    arrives: date
    expiry: date

    @property
    def id(self) -> UUID:
        return VaccineLot.create_id(self.vaccine.manufacturer, self.lot_number)


class SupplyPlanner(Planner):
    """The places (facilities from the census), the lots, and the supply chain that feeds the doses."""

    def _plan_places(self) -> None:
        rng = self.rng
        total = sum(p.population for p in self.provinces)
        points = max(len(self.provinces), self.size // PEOPLE_PER_POINT)
        self.wards: dict[str, list[Ward]] = {}
        for p in self.provinces:
            k = min(len(p.wards), max(1, round(points * p.population / total)))
            self.wards[p.code] = sorted(rng.sample(p.wards, k), key=lambda w: w.code)
        self.province_weights = list(itertools.accumulate(p.population for p in self.provinces))
        at = local_time(date(2021, 2, 1), 8)  # before the first registrations (health workers, mid-February)
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

    def _plan_lots(self) -> None:
        self.lots: dict[str, list[Lot]] = {}
        for v in VACCINES:
            lots = []
            for month in range(v.first_arrival.month, 13):
                arrives = v.first_arrival if month == v.first_arrival.month else date(2021, month, 5)
                number = f"{v.lot_prefix}{month:02d}{self.rng.randrange(1000, 9999)}"
                lots.append(Lot(v, number, arrives, add_months(arrives, v.shelf_months)))
            self.lots[v.code] = lots
            for lot in lots:
                self._at(local_time(lot.arrives, 8, 30), NATIONAL, "lot", lambda prov, lot=lot: self.ledger.register_lot(
                    vaccine=lot.vaccine.code, manufacturer=lot.vaccine.manufacturer, lot_number=lot.lot_number,
                    expiry=lot.expiry, doses_per_vial=lot.vaccine.doses_per_vial, prov=prov))
        self.lot_of = {lot.id: lot for lots in self.lots.values() for lot in lots}

    def _lot_for(self, vaccine: str, day: date) -> Lot | None:
        """The lot a point uses on `day`: the newest that reached the national warehouse a week
        before the supply period began (and has not expired)."""
        _, start = half_month(day)
        usable = [lot for lot in self.lots[vaccine] if lot.arrives <= start - timedelta(days=7) and lot.expiry > day]
        return usable[-1] if usable else None

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
                self._at(local_time(period_days(period)[1], 17, 30), point, "waste", lambda prov, point=point, lot_id=lot_id, waste=waste:
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
            self._at(local_time(lot.arrives, 10), NATIONAL, "supplier_receipt", lambda prov, lot=lot, q=quantity:
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
        start = period_days(period)[0]
        doc = f"PX{period:02d}-{dest}-{self.seed}-{self.size}"
        transfer_id = Transfer.create_id(doc)
        payload = [{"lot_id": str(lot_id), "quantity": q} for lot_id, q in sorted(lines.items(), key=lambda kv: str(kv[0]))]
        self._at(local_time(start - timedelta(days=days_before), 14), source, "dispatch",
                 lambda prov: self.ledger.dispatch_transfer(document_number=doc, source_id=Facility.create_id(source),
                                                            destination_id=Facility.create_id(dest), lines=payload,
                                                            prov=prov), needs=(transfer_id,))
        received = None
        if short:
            lot_id, q = max(lines.items(), key=lambda kv: (self.lot_of[kv[0]].vaccine.doses_per_vial, str(kv[0])))
            received = [{"lot_id": str(lot_id), "quantity": q - self.lot_of[lot_id].vaccine.doses_per_vial,
                         "discrepancy_reason": "damaged"}]
        self._at(local_time(start - timedelta(days=days_before - 1), 9), dest, "short_receipt" if short else "receipt",
                 lambda prov: self.ledger.receive_transfer(transfer_id=transfer_id, lines=received, prov=prov),
                 needs=(transfer_id,))
