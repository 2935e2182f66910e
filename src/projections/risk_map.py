"""Projection `risk_map`: community cases per area and ISO week, and the risk assessments built on them.

The projection itself keeps one row per case (`risk_cases`), from `Person.CaseConfirmed` /
`Person.CaseRetracted` alone, so it rebuilds on its own. Everything else an assessment needs is
computed at query time, for a whole level (every ward of the country) in a few grouped queries:

- **cases**: active community cases whose local (UTC+7) confirmation day falls in the ISO week;
- **denominators**: the area's reference population (`risk_population`, from `AreaPopulation`
  events: the latest year up to the week's ISO year), else the people registered in the area
  (merged-away records excluded) — the fallback of DOMAIN §6; every assessment says
  which (`denominator_source`: "reference" | "registered") and carries both figures;
- **coverage** as of the week's last day (Sunday): ≥ 1 valid (not voided) dose among people 18+,
  primary series complete among people 50+, and among everyone. A dose given to a record later
  merged into another counts for the surviving record; voids and corrections are already applied
  by `vaccination_history`. Ages by **birth year** (the only birth datum the read side keeps): a
  person is 18+ in a week if the week's ISO year minus the birth year is at least 18 (so someone
  turning 18 later that year already counts — at most one year early, stated in docs/risk-map.md).
  Residents and coverage are sums of the counters `vaccination_history` keeps per area, age and week
  (`vh_residents`, `vh_first_doses`, `vh_completions`), so a national map reads a few hundred rows
  per ward, not every person;
- **levels** under every policy version, and the version in force that week (by its Sunday and the
  province, see `ledger.policies.risk.policy_in_force`).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from ledger.domain import AreaPopulation, Person
from ledger.policies.risk import COVERAGE_MEASURES, all_policies, assess, cases_per_100k, policy_in_force

from .base import Fact, Projection, Rows, utc_text_and_day
from .db import ProjectionDB, Tx
from .testing import iso_week
from .vaccination_history import COVERAGE_YEARS

P, A = Person, AreaPopulation
LEVELS = ("ward", "district", "province")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class RiskMap(Projection):
    name = "risk_map"
    tables = {"risk_cases": ("case_id",), "risk_population": ("population_id",)}
    handlers = {
        P.CaseConfirmed: "case_confirmed",
        P.CaseRetracted: "case_retracted",
        A.Recorded: "population_recorded",
        A.Revised: "population_revised",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        cases = Rows(tx, "risk_cases", ("case_id",))
        cases.load({e.case_id for _, e in events if e.topic in _RETRACTED})
        areas = Rows(tx, "risk_population", ("population_id",))
        areas.load({e.originator_id for _, e in events if e.topic in _REVISED})
        self.dispatch(events, cases, areas)
        cases.flush()
        areas.flush()

    def population_recorded(self, e: Fact, pos: int, cases: Rows, areas: Rows) -> None:
        areas.put({
            "population_id": e.originator_id, "area_level": e.area_level, "area_code": e.area_code, "year": e.year,
            "province_code": e.province_code, "total": e.total, "aged_18_plus": e.aged_18_plus,
            "aged_50_plus": e.aged_50_plus, "data_source": e.data_source,
        })

    def population_revised(self, e: Fact, pos: int, cases: Rows, areas: Rows) -> None:
        row = areas.get(e.originator_id)
        row.update(total=e.total, aged_18_plus=e.aged_18_plus, aged_50_plus=e.aged_50_plus, data_source=e.data_source)
        areas.touch(row)

    def case_confirmed(self, e: Fact, pos: int, cases: Rows, areas: Rows) -> None:
        _, confirmed_on = utc_text_and_day(e.confirmed_at)
        area = e.area or {}
        cases.put({
            "case_id": e.case_id, "person_id": e.originator_id, "province_code": area.get("province_code"),
            "district_code": area.get("district_code"), "ward_code": area.get("ward_code"),
            "confirmed_on": confirmed_on, "iso_week": iso_week(confirmed_on), "community": bool(e.community),
            "status": "active",
        })

    def case_retracted(self, e: Fact, pos: int, cases: Rows, areas: Rows) -> None:
        row = cases.get(e.case_id)
        if row is not None:
            row["status"] = "retracted"
            cases.touch(row)


_RETRACTED = RiskMap.topics_of(P.CaseRetracted)
_REVISED = RiskMap.topics_of(A.Revised)


def parse_week(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week written '2021-W50'; ValueError when it is not one."""
    m = _WEEK.match(week)
    if not m:
        raise ValueError(f"not an ISO week (YYYY-Www): {week!r}")
    year, number = int(m.group(1)), int(m.group(2))
    monday = date.fromisocalendar(year, number, 1)  # ValueError for week 53 of a 52-week year
    return monday, monday + timedelta(days=6)


def previous_week(week: str) -> str:
    monday, _ = parse_week(week)
    return iso_week(monday - timedelta(days=7))


def _decimal(value: Fraction | None, places: int = 2) -> str | None:
    """An exact rate shown rounded half up to `places` decimals (display only: levels use the Fraction)."""
    if value is None:
        return None
    scaled = value * 10**places
    q = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    sign, q = ("-" if q < 0 else ""), abs(q)
    return f"{sign}{q // 10**places}.{q % 10**places:0{places}d}"


def _narrowed(column: str, code: str | None, province_code: str | None) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for one area's `code` in `column` and for one province."""
    where: list[str] = []
    params: list[Any] = []
    if code is not None:
        where.append(f"{column} = %s")
        params.append(code)
    if province_code is not None:
        where.append("province_code = %s")
        params.append(province_code)
    return where, params


class RiskMapQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    # -- inputs ---------------------------------------------------------------------------------------

    def _cases(self, level: str, week: str, code: str | None, province_code: str | None) -> dict[str, dict]:
        col = f"{level}_code"
        where, params = _narrowed(col, code, province_code)
        where += ["iso_week = %s", "community = %s", "status = 'active'", f"{col} IS NOT NULL"]
        params += [week, True]
        rows = self.db.query(
            f"SELECT {col} AS code, MIN(province_code) AS province_code, COUNT(*) AS cases FROM risk_cases"
            f" WHERE {' AND '.join(where)} GROUP BY {col}", params)
        return {r["code"]: r for r in rows}

    def _residents(self, level: str, week: str, code: str | None, province_code: str | None) -> dict[str, dict]:
        """Registered residents per area with the coverage numerators, as of the week's Sunday: sums of
        the counters `vaccination_history` keeps, ages by year of birth in the week's ISO year."""
        monday, _ = parse_week(week)
        year = int(week[:4])
        first, last = COVERAGE_YEARS
        if not first <= year <= last:
            raise ValueError(f"coverage is kept for the years {first}-{last}, not {year}")
        col = f"{level}_code"
        where, params = _narrowed(col, code, province_code)
        filters = " AND ".join([f"{col} <> ''", *where])
        out: dict[str, dict] = {}
        for r in self.db.query(
            f"SELECT {col} AS code, MIN(province_code) AS province_code, SUM(people) AS total,"
            " SUM(CASE WHEN adult_from <= %s THEN people ELSE 0 END) AS adults,"
            " SUM(CASE WHEN older_from <= %s THEN people ELSE 0 END) AS older"
            f" FROM vh_residents WHERE {filters} GROUP BY {col}", [year, year, *params],
        ):
            out[r["code"]] = {**r, "adults_dose1": 0, "older_full": 0, "everyone_full": 0}
        for r in self.db.query(
            f"SELECT {col} AS code, SUM(people) AS adults_dose1 FROM vh_first_doses"
            f" WHERE adult_from <= %s AND week <= %s AND {filters} GROUP BY {col}", [year, monday, *params],
        ):
            out[r["code"]]["adults_dose1"] = r["adults_dose1"]
        for r in self.db.query(
            f"SELECT {col} AS code, SUM(people) AS everyone_full,"
            " SUM(CASE WHEN older_from <= %s THEN people ELSE 0 END) AS older_full"
            f" FROM vh_completions WHERE week <= %s AND {filters} GROUP BY {col}", [year, monday, *params],
        ):
            out[r["code"]].update(everyone_full=r["everyone_full"], older_full=r["older_full"])
        return out

    def _reference(self, level: str, week: str, code: str | None, province_code: str | None) -> dict[str, dict]:
        """Each area's reference population of the latest year up to the week's ISO year."""
        where, params = _narrowed("area_code", code, province_code)
        where += ["area_level = %s", "year <= %s"]
        params += [level, int(week[:4])]
        rows = self.db.query(f"SELECT * FROM risk_population WHERE {' AND '.join(where)} ORDER BY area_code, year",
                             params)
        return {r["area_code"]: r for r in rows}  # the latest year wins

    # -- assessments ----------------------------------------------------------------------------------

    def risk_map(
        self, level: str, week: str, *, code: str | None = None, province_code: str | None = None,
        capacity: dict[str, bool] | None = None,
    ) -> list[dict[str, Any]]:
        """The assessment of every area of a level that has residents or cases in the week, by code."""
        if level not in LEVELS:
            raise ValueError(f"unknown area level: {level!r}")
        _, sunday = parse_week(week)
        cases = self._cases(level, week, code, province_code)
        people = self._residents(level, week, code, province_code)
        reference = self._reference(level, week, code, province_code)
        capacity = capacity or {}
        return [
            self._assessment(level, area, week, sunday, cases.get(area), people.get(area), reference.get(area),
                             capacity.get(area))
            for area in sorted(set(cases) | set(people) | set(reference))
        ]

    def assessment(self, level: str, code: str, week: str) -> dict[str, Any]:
        """One area's assessment (an area with neither residents nor cases has no level)."""
        found = self.risk_map(level, week, code=code)
        if found:
            return found[0]
        _, sunday = parse_week(week)
        return self._assessment(level, code, week, sunday, None, None, None, None)

    def changes(self, level: str, week: str, *, province_code: str | None = None) -> list[dict[str, Any]]:
        """Areas whose level (under the version in force) differs from the previous week's."""
        before = {a["area_code"]: a for a in self.risk_map(level, previous_week(week), province_code=province_code)}
        out = []
        for now in self.risk_map(level, week, province_code=province_code):
            then = before.pop(now["area_code"], None)
            previous = then["level"] if then else None
            if now["level"] != previous:
                out.append({"area_level": level, "area_code": now["area_code"], "week": week,
                            "previous_level": previous, "level": now["level"], "policy_id": now["policy_id"]})
        for code, then in sorted(before.items()):  # areas with no residents nor cases left this week
            if then["level"] is not None:
                out.append({"area_level": level, "area_code": code, "week": week, "previous_level": then["level"],
                            "level": None, "policy_id": then["policy_id"]})
        return sorted(out, key=lambda a: a["area_code"])

    @staticmethod
    def _assessment(
        level: str, code: str, week: str, sunday: date, c: dict | None, p: dict | None, ref: dict | None,
        capacity: bool | None,
    ) -> dict[str, Any]:
        """Numerators always come from the ledger (cases, registered people's doses); denominators from
        the reference population when one is loaded, else from the registered residents."""
        n_cases = int(c["cases"]) if c else 0
        province = (c or p or ref or {}).get("province_code") if level != "province" else code
        dose1, full50, full_all = ((int(p["adults_dose1"]), int(p["older_full"]), int(p["everyone_full"]))
                                   if p else (0, 0, 0))
        if ref is not None:
            source, population = "reference", int(ref["total"])
            adults, older = int(ref["aged_18_plus"]), int(ref["aged_50_plus"])
        elif p is not None:
            source, population, adults, older = "registered", int(p["total"]), int(p["adults"]), int(p["older"])
        else:
            source, population, adults, older = None, 0, 0, 0
        counts = {"dose1_18plus": (dose1, adults), "full_50plus": (full50, older), "full_all": (full_all, population)}
        coverage = {
            m: {"numerator": num, "denominator": den, "share": _decimal(Fraction(num, den), 4) if den else None,
                "measures": COVERAGE_MEASURES[m]}
            for m, (num, den) in counts.items()
        }
        by_policy = [assess(policy, n_cases, population, counts, capacity) for policy in all_policies()
                     if policy.province_code is None or policy.province_code == province]
        in_force = policy_in_force(sunday, province)
        current = next((a for a in by_policy if in_force and a["policy_id"] == in_force.id), None)
        rate = cases_per_100k(n_cases, population)
        return {
            "area_level": level, "area_code": code, "province_code": province, "week": week,
            "cases": n_cases, "population": population,
            "denominator_source": source,
            "reference": {"year": int(ref["year"]), "data_source": ref["data_source"]} if ref else None,
            "registered_residents": int(p["total"]) if p else 0,
            "cases_per_100k": _decimal(rate), "coverage": coverage, "capacity_adequate": capacity,
            "policy_id": in_force.id if in_force else None,
            "level": current["level"] if current else None, "colour": current["colour"] if current else None,
            "band_label": current["band_label"] if current else None,
            "by_policy": by_policy,
        }
