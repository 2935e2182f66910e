"""Epidemic risk levels (DOMAIN §6), as versioned policy data.

A level 1-4 (green, yellow, orange, red) is read from a matrix: the row is the **band** of new
community cases per 100,000 people per week (criterion 1), the column whether **coverage** is
high (criterion 2). Criterion 3 (treatment capacity) is an input flag only: DOMAIN.md says,
provisionally, that failing it keeps the level as computed, so `assess` records it and changes
nothing.

Versions (each chosen by the assessed week's last day, and by province for overrides):

- `4800/QĐ-BYT` (Decision 4800, 12 Oct 2021): bands 0 | < 20 | 20-< 50 | 50-< 150 | ≥ 150;
  coverage high when ≥ 70% of people 18+ have ≥ 1 dose and ≥ 80% of people 50+ are fully
  vaccinated. The ≥ 150 + high-coverage cell (level 3) is provisional in DOMAIN.md.
- `218/QĐ-BYT` (Decision 218, 27 Jan 2022): level 4 needs > 600 cases / 100k / week; coverage
  high when ≥ 75% of the whole population and ≥ 90% of vulnerable people are fully vaccinated.
  DOMAIN.md gives no full table for 218, so everything beyond those two facts is **provisional**
  here: the bands keep 4800's lower bounds and add an open bound at 600 (600.0 is *not* above
  600); the matrix is chosen monotonic; "vulnerable" is measured as people aged 50+ (the only
  age group the ledger counts besides 18+; 218 also names chronic illness, which the ledger does
  not record).
- Provincial overrides: a `RiskPolicy` with `province_code` set, its own id and effective date;
  it replaces the national version in that province from its date (see `policy_in_force`).

Arithmetic is exact: rates and shares are `Fraction`s of integers, bounds are integers, so 20.0
per 100k falls in 20-< 50 and 69.9% is below 70% with no float rounding in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

PER = 100_000
LEVEL_COLOURS = {1: "green", 2: "yellow", 3: "orange", 4: "red"}


@dataclass(frozen=True)
class Bound:
    """A band's lower bound: a rate reaches it at `value` when `closed` (≥), only above it otherwise (>)."""

    value: int
    closed: bool = True

    def reached(self, rate: Fraction) -> bool:
        return rate >= self.value if self.closed else rate > self.value

    @property
    def label(self) -> str:
        return f"{'≥' if self.closed else '>'} {self.value}"


@dataclass(frozen=True)
class CoverageRule:
    """Coverage is high when every (measure, minimum share) holds; the measures name the
    numerator/denominator pairs an assessment supplies (see `COVERAGE_MEASURES`)."""

    minimums: tuple[tuple[str, Fraction], ...]

    def is_high(self, counts: dict[str, tuple[int, int]]) -> bool:
        """A measure with no denominator (nobody in the age group) is not high: nothing shows coverage."""
        for measure, minimum in self.minimums:
            num, den = counts[measure]
            if den <= 0 or Fraction(num, den) < minimum:
                return False
        return True


#: measure -> what it counts (numerator among denominator); the risk map computes all of them.
COVERAGE_MEASURES = {
    "dose1_18plus": "people aged 18+ with at least one valid dose, among people aged 18+",
    "full_50plus": "people aged 50+ with the primary series complete, among people aged 50+",
    "full_all": "people with the primary series complete, among the whole population",
}


@dataclass(frozen=True)
class RiskPolicy:
    id: str
    document: str
    effective: date
    #: Lower bounds of bands 2.. (band 0 is exactly zero cases, band 1 anything above zero below the first bound).
    bounds: tuple[Bound, ...]
    coverage: CoverageRule
    #: Level per band when coverage is high / low (index = band).
    high: tuple[int, ...]
    low: tuple[int, ...]
    province_code: str | None = None
    provisional: tuple[str, ...] = field(default=())

    def band(self, rate: Fraction) -> int:
        if rate <= 0:
            return 0
        return 1 + sum(1 for b in self.bounds if b.reached(rate))

    def band_label(self, band: int) -> str:
        if band == 0:
            return "0"
        if band == 1:
            return f"< {self.bounds[0].value}"
        lower = self.bounds[band - 2]
        if band - 1 < len(self.bounds):
            upper = self.bounds[band - 1]
            return f"{lower.value}–{'< ' if upper.closed else ''}{upper.value}"
        return lower.label

    def level(self, rate: Fraction, coverage_high: bool) -> int:
        return (self.high if coverage_high else self.low)[self.band(rate)]


def _pct(n: int) -> Fraction:
    return Fraction(n, 100)


POLICY_4800 = RiskPolicy(
    id="4800/QĐ-BYT",
    document="Decision 4800/QĐ-BYT (12 Oct 2021) guiding Resolution 128/NQ-CP",
    effective=date(2021, 10, 12),
    bounds=(Bound(20), Bound(50), Bound(150)),
    coverage=CoverageRule((("dose1_18plus", _pct(70)), ("full_50plus", _pct(80)))),
    high=(1, 1, 2, 3, 3),
    low=(1, 2, 3, 4, 4),
    provisional=("level 3 for >= 150 with high coverage",),
)
POLICY_218 = RiskPolicy(
    id="218/QĐ-BYT",
    document="Decision 218/QĐ-BYT (27 Jan 2022) replacing the 4800 guidance",
    effective=date(2022, 1, 27),
    bounds=(Bound(20), Bound(50), Bound(150), Bound(600, closed=False)),
    coverage=CoverageRule((("full_all", _pct(75)), ("full_50plus", _pct(90)))),
    high=(1, 1, 2, 2, 3, 4),
    low=(1, 2, 2, 3, 3, 4),
    provisional=(
        "bands other than > 600 (level 4) and the whole matrix",
        "vulnerable people measured as people aged 50+",
    ),
)
#: National versions, oldest first.
NATIONAL_POLICIES: tuple[RiskPolicy, ...] = (POLICY_4800, POLICY_218)
#: Provincial overrides (none loaded; each would be a RiskPolicy with province_code set).
PROVINCIAL_OVERRIDES: tuple[RiskPolicy, ...] = ()


def all_policies() -> tuple[RiskPolicy, ...]:
    return NATIONAL_POLICIES + PROVINCIAL_OVERRIDES


def policy_in_force(
    on: date, province_code: str | None = None, overrides: tuple[RiskPolicy, ...] | None = None,
) -> RiskPolicy | None:
    """The version in force on a day: the newest of the national versions and the province's
    overrides already effective (an override made before a new national version gives way to it);
    None before the first national version (no levels then)."""
    overrides = PROVINCIAL_OVERRIDES if overrides is None else overrides
    candidates = [p for p in NATIONAL_POLICIES if p.effective <= on]
    if province_code is not None:
        candidates += [p for p in overrides if p.province_code == province_code and p.effective <= on]
    # The newest wins; on the same day an override wins over the national version.
    return max(candidates, key=lambda p: (p.effective, p.province_code is not None), default=None)


def cases_per_100k(cases: int, population: int) -> Fraction | None:
    """Exact weekly rate; None without a population to divide by."""
    if population <= 0:
        return None
    return Fraction(cases * PER, population)


def assess(
    policy: RiskPolicy, cases: int, population: int, coverage_counts: dict[str, tuple[int, int]],
    capacity_adequate: bool | None = None,
) -> dict:
    """One area's level under one policy version, with the inputs that produced it.

    `capacity_adequate` (criterion 3) is recorded; provisionally it keeps the level as computed.
    Without a population there is no rate and no level (`level` None)."""
    rate = cases_per_100k(cases, population)
    high = policy.coverage.is_high(coverage_counts)
    out = {"policy_id": policy.id, "coverage_high": high, "capacity_adequate": capacity_adequate,
           "band": None, "band_label": None, "level": None, "colour": None}
    if rate is None:
        return out
    band = policy.band(rate)
    level = policy.level(rate, high)
    out.update(band=band, band_label=policy.band_label(band), level=level, colour=LEVEL_COLOURS[level])
    return out
