"""Reference population of one administrative area for one year: the risk map's denominators.

Loaded from published figures (census or a statistics office's yearly estimate), one aggregate per
area level + code + year, so reloading a file revises the same records instead of adding new ones.
The figures are the whole population, people aged 18+ and people aged 50+ (the groups the coverage
criteria of Decisions 4800 and 218 divide by); where they came from is part of every event.
"""

from __future__ import annotations

from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .errors import Invalid, RuleViolation
from .facility import check_area

AREA_LEVELS = ("ward", "district", "province")
_MIN_YEAR, _MAX_YEAR = 1999, 2100
_MAX_POPULATION = 200_000_000


def check_figures(total: object, aged_18_plus: object, aged_50_plus: object) -> None:
    """Whole numbers, not negative, and nested: 50+ ≤ 18+ ≤ total, and a total above zero."""
    for name, value in (("total", total), ("aged_18_plus", aged_18_plus), ("aged_50_plus", aged_50_plus)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_POPULATION:
            raise Invalid(name, f"{name} must be a whole number from 0 to {_MAX_POPULATION}")
    if total == 0:
        raise Invalid("total", "total must be above zero (an area without people has no rate)")
    if aged_18_plus > total:  # type: ignore[operator]
        raise Invalid("aged_18_plus", "aged_18_plus cannot exceed total")
    if aged_50_plus > aged_18_plus:  # type: ignore[operator]
        raise Invalid("aged_50_plus", "aged_50_plus cannot exceed aged_18_plus")


class AreaPopulation(LedgerAggregate):
    """The reference population of a ward, district or province in a year."""

    TOPIC = "ledger.population.AreaPopulation"

    class Recorded(LedgerAggregate.Created, Stamped):
        """An area's reference population for a year was first recorded, with its data_source."""

        TOPIC = "ledger.population.Recorded"
        area_level: str
        area_code: str
        province_code: str
        year: int
        total: int
        aged_18_plus: int
        aged_50_plus: int
        data_source: str

    class Revised(Stamped):
        """New figures replaced an area's reference population for the year (a corrected or reloaded data_source)."""

        TOPIC = "ledger.population.Revised"
        total: int
        aged_18_plus: int
        aged_50_plus: int
        data_source: str

        def apply(self, area: AreaPopulation) -> None:
            area.total, area.aged_18_plus, area.aged_50_plus = self.total, self.aged_18_plus, self.aged_50_plus
            area.data_source = self.data_source

    def __init__(self, area_level: str, area_code: str, province_code: str, year: int, total: int,
                 aged_18_plus: int, aged_50_plus: int, data_source: str) -> None:
        self.area_level = area_level
        self.area_code = area_code
        self.province_code = province_code
        self.year = year
        self.total = total
        self.aged_18_plus = aged_18_plus
        self.aged_50_plus = aged_50_plus
        self.data_source = data_source

    @staticmethod
    def create_id(area_level: str, area_code: str, year: int) -> UUID:
        return natural_id("population", f"{area_level}:{area_code}:{year}")

    @staticmethod
    def check_key(area_level: object, area_code: object, province_code: object, year: object) -> None:
        """The area's level and code (GSO: province 2 digits, district 3, ward 5) and a plausible year."""
        if area_level not in AREA_LEVELS:
            raise Invalid("area_level", f"area_level must be one of {list(AREA_LEVELS)}", allowed=list(AREA_LEVELS))
        if isinstance(year, bool) or not isinstance(year, int) or not _MIN_YEAR <= year <= _MAX_YEAR:
            raise Invalid("year", f"year must be from {_MIN_YEAR} to {_MAX_YEAR}")
        if not isinstance(area_code, str):
            raise Invalid("area_code", "area_code is required")
        try:
            check_area(province_code,  # type: ignore[arg-type]
                       area_code if area_level == "district" else None, area_code if area_level == "ward" else None)
        except Invalid as exc:
            raise Invalid("area_code" if exc.field != "province_code" else "province_code", exc.message) from None
        if area_level == "province" and area_code != province_code:
            raise Invalid("area_code", "a province's area_code is its province_code")

    @classmethod
    def record(cls, *, area_level: str, area_code: str, province_code: str, year: int, total: int,
               aged_18_plus: int, aged_50_plus: int, data_source: str, prov: Provenance) -> AreaPopulation:
        cls.check_key(area_level, area_code, province_code, year)
        check_figures(total, aged_18_plus, aged_50_plus)
        data_source = _source(data_source)
        return cls._create(
            cls.Recorded, id=cls.create_id(area_level, area_code, year), area_level=area_level, area_code=area_code,
            province_code=province_code, year=year, total=total, aged_18_plus=aged_18_plus,
            aged_50_plus=aged_50_plus, data_source=data_source, **prov.fields(),
        )

    def revise(self, *, province_code: str, total: int, aged_18_plus: int, aged_50_plus: int, data_source: str,
               prov: Provenance) -> bool:
        """Record new figures; False (nothing recorded) when they and the data_source are the ones already held."""
        check_figures(total, aged_18_plus, aged_50_plus)
        data_source = _source(data_source)
        if province_code != self.province_code:
            raise RuleViolation("population_area_moved",
                                f"{self.area_level} {self.area_code} is recorded in province {self.province_code}")
        if (total, aged_18_plus, aged_50_plus, data_source) == (
                self.total, self.aged_18_plus, self.aged_50_plus, self.data_source):
            return False
        self._record(self.Revised, prov, total=total, aged_18_plus=aged_18_plus, aged_50_plus=aged_50_plus,
                     data_source=data_source)
        return True


def _source(data_source: object) -> str:
    if not isinstance(data_source, str) or not data_source.strip() or len(data_source) > 200:
        raise Invalid("data_source", "data_source is required (where the figures come from, at most 200 characters)")
    return data_source.strip()
