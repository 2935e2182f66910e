"""The national workload's residents: who they are, how they were registered (faults included), and the cleaning."""

from __future__ import annotations

import bisect
from datetime import date, datetime, timedelta
from uuid import UUID

from ..commands._shared import CommandResult
from ..domain import IdentityKey, Provenance
from ..domain.identity import normalise_id_number
from .census import AGE_PYRAMID_2019
from .people import full_name, strip_diacritics
from .plan import Planner, Resident, local_time


class IdentityPlanner(Planner):
    """Who the residents are, their registration (with its faults) and the identity cleaning of the autumn."""

    def _new_person(self, n: int) -> Resident | None:
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
        p = Resident(n, ward, sex, dob, full_name(rng, sex), id_type, number, phone, line)
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
    def _details(p: Resident) -> dict:
        return {"full_name": p.name, "date_of_birth": p.dob, "sex": p.sex, "phone": p.phone,
                "address": {"line": p.line, "province_code": p.ward.province_code,
                            "district_code": p.ward.district_code, "ward_code": p.ward.code}}

    def _register(self, p: Resident, at: datetime) -> None:
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

    def _registration(self, p: Resident) -> None:
        number = p.id_number if p.id_type != "none" else None

        def register(prov: Provenance) -> CommandResult:
            result = self.ledger.register_person(id_type=p.id_type, id_number=number, details=p.registered, prov=prov)
            self.pid[p.n] = UUID(result.ids["person_id"])
            return result

        key = (IdentityKey.create_id(p.id_type, normalise_id_number(p.id_type, number)),) if number else ()
        self._at(p.registered_at, f"TYT-{p.ward.code}", "register", register, person=p.n,  # type: ignore[arg-type]
                 needs=key)

    def _plan_cleaning(self) -> None:
        rng = self.rng
        registered = [p for p in self.persons if p.registered_at is not None]
        for p in registered:
            at = local_time(date(2021, 10, 4) + timedelta(days=rng.randrange(80)), 9) + timedelta(
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

    def _plan_duplicates(self, registered: list[Resident]) -> None:
        rng = self.rng
        for p in registered:
            if rng.random() >= 0.015 or p.id_type == "none":
                continue
            n = -1 - p.n  # the second record's own index
            copy = Resident(n, p.ward, p.sex, p.dob, p.name, "none", None, p.phone, p.line,
                           registered={**p.registered, "full_name": strip_diacritics(p.name)})
            at = p.registered_at + timedelta(days=rng.randint(1, 30))  # type: ignore[operator]
            copy.registered_at = at
            self.persons.append(copy)
            self._registration(copy)
            merge_at = max(at, local_time(date(2021, 10, 15), 9)) + timedelta(days=rng.randint(1, 70))
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
