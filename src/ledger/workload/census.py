"""Where the synthetic population lives and how old it is: real areas, census weights.

Areas come from `vietnamadminunits` (MIT): its bundled SQLite file holds the pre-2025 hierarchy
that the 2021 campaign ran on, 63 provinces, 696 districts and 10,035 wards with the General
Statistics Office codes the ledger's addresses use. The file is opened directly, without
importing the package (whose address parser pulls in shapely and geopy).

Province populations are 2019 figures in thousands, transcribed from a public compilation of
the 2019 Population and Housing Census (GSO, census day 1 April 2019). They add up to 96.77 M
where the census counted 96.21 M, so a few provinces carry a later estimate; they are within a
few per cent of the census each, which is what weights need, and no packaged source has better.
They weight where people live. No packaged source gives ward populations, so a province's population is spread evenly over
its wards: the ward weights (and the ward reference populations the workload records) say
so in their `data_source`.

The age pyramid is the 2019 census's, in five-year bands (shares of the whole population, in
per cent, rounded); it decides dates of birth, who is an adult (vaccinated from March 2021) and
who is 12-17 (from November 2021).
"""

from __future__ import annotations

import importlib.util
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

#: 2019 population per province (GSO code -> thousands of people); see the module docstring for the source.
POPULATION_2019: dict[str, int] = {
    "01": 8054, "02": 855, "04": 530, "06": 314, "08": 786, "10": 734, "11": 599, "12": 460, "14": 1248,
    "15": 824, "17": 854, "19": 1287, "20": 783, "22": 1320, "24": 1804, "25": 1463, "26": 1154, "27": 1369,
    "30": 1892, "31": 2029, "33": 1253, "34": 1860, "35": 853, "36": 1843, "37": 984, "38": 3640, "40": 3328,
    "42": 1291, "44": 897, "45": 634, "46": 1164, "48": 1134, "49": 1493, "51": 1273, "52": 1529, "54": 900,
    "56": 1223, "58": 590, "60": 1230, "62": 540, "64": 1514, "66": 1897, "67": 642, "68": 1313, "70": 995,
    "72": 1149, "74": 2427, "75": 3097, "77": 1148, "79": 8993, "80": 1689, "82": 1752, "83": 1288, "84": 1009,
    "86": 1052, "87": 1690, "89": 1908, "91": 1810, "92": 1282, "93": 770, "94": 1200, "95": 899, "96": 1226,
}
CENSUS_SOURCE = "2019 province populations (compilation of the GSO 2019 census; synthetic workload)"
WARD_SOURCE = "GSO 2019 census province total spread evenly over the province's wards (no ward figures packaged)"

#: 2019 census age pyramid: (first age, last age) -> per cent of the population.
AGE_PYRAMID_2019: tuple[tuple[tuple[int, int], float], ...] = (
    ((0, 4), 8.0), ((5, 9), 8.6), ((10, 14), 7.6), ((15, 19), 6.7), ((20, 24), 6.9), ((25, 29), 8.3),
    ((30, 34), 8.5), ((35, 39), 7.9), ((40, 44), 7.2), ((45, 49), 6.6), ((50, 54), 6.0), ((55, 59), 5.4),
    ((60, 64), 4.4), ((65, 69), 2.9), ((70, 74), 2.0), ((75, 79), 1.3), ((80, 95), 1.6),
)


def share_aged(at_least: int) -> float:
    """Share of the population aged `at_least` or more, from the pyramid (bands split evenly by year)."""
    total = sum(w for _, w in AGE_PYRAMID_2019)
    above = 0.0
    for (lo, hi), w in AGE_PYRAMID_2019:
        years = hi - lo + 1
        above += w * max(0, min(years, hi + 1 - at_least)) / years
    return above / total


@dataclass(frozen=True, slots=True)
class Ward:
    code: str
    name: str  # with its type: "Phường Phúc Xá", "Xã Tân Lập"
    district_code: str
    district_name: str
    province_code: str
    province_name: str


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    population: int  # people, 2019 census
    wards: tuple[Ward, ...]

    @property
    def ward_population(self) -> int:
        return self.population // len(self.wards)


def dataset_path() -> Path:
    """The package's SQLite file, found without importing the package."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the vietnamadminunits package is not installed (pip install vietnamadminunits)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "dataset.db"


@cache
def provinces() -> tuple[Province, ...]:
    """The 63 provinces of 2021 with their wards (in code order) and 2019 populations."""
    with sqlite3.connect(f"file:{dataset_path()}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT provinceCode, provinceShort, districtCode, district, wardCode, ward FROM admin_units_legacy"
            " WHERE wardCode IS NOT NULL AND wardCode != '' ORDER BY wardCode").fetchall()
    names: dict[str, str] = {}
    wards: dict[str, list[Ward]] = {}
    for province_code, province_name, district_code, district, ward_code, ward in rows:
        names[province_code] = province_name
        wards.setdefault(province_code, []).append(
            Ward(ward_code, ward, district_code, district, province_code, province_name))
    if set(names) != set(POPULATION_2019):
        raise RuntimeError(f"the dataset's provinces differ from the census table: {sorted(set(names) ^ set(POPULATION_2019))}")
    return tuple(Province(code, names[code], POPULATION_2019[code] * 1000, tuple(wards[code]))
                 for code in sorted(names))
