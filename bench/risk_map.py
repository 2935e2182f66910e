"""Risk map for every ward of the country for one week, recomputed from the projection (target: < 5 s).

1. A fresh, migrated PostgreSQL database gets national-shaped read-model rows, written straight into
   the projection tables (the figure measured is the query, not the event processing, which
   `bench.rebuild` measures): `--wards` wards (default 10,600) in 63 provinces and ~700 districts,
   a reference population for each (`risk_population`), the coverage counters of `--people`
   registered residents per ward on average (default 9,434: 100 M people; `vh_coverage` as
   `vaccination_history` keeps them: birth years 1930-2015, 70% with a first dose, 60% with a
   complete primary series, over 29 weeks), and community cases for the week and the week before
   (`risk_cases`, 0-20 per ward, 5% retracted).
2. `RiskMapQueries.risk_map("ward", week)` (cases, residents and coverage as of Sunday, reference
   population, levels under every policy version), `--repeats` times; then `changes("ward", week)`
   (two weeks). The raw ceiling in the same run: the same three grouped scans with `SELECT count(*)`
   only, to show what the assessment adds to reading the rows.

    python -m bench.risk_map                                        # 10,600 wards, 100 M residents
    python -m bench.risk_map --wards 2000 --people 100 --repeats 2   # smoke run
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import date, timedelta

from projections.vaccination_history import COVERAGE_YEARS

from .common import Stopwatch, connect, fresh_database, log, ratio, repeat, write_results

WEEK = "2021-W50"


def _areas(n_wards: int) -> list[tuple[str, str, str]]:
    """(province, district, ward) codes: 63 provinces, ~15 wards per district."""
    out = []
    for i in range(n_wards):
        district = i // 15
        out.append((f"{district % 63 + 1:02d}", f"{district % 1000:03d}", f"{i:05d}"))
    return out


def fill(url: str, n_wards: int, people_per_ward: int, seed: int = 4) -> dict[str, int]:
    rng = random.Random(seed)
    areas = _areas(n_wards)
    counts = {"wards": n_wards, "cases": 0}
    with connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY risk_population (population_id, area_level, area_code, year, province_code, total,"
                      " aged_18_plus, aged_50_plus, data_source) FROM STDIN") as copy:
            for province, _district, ward in areas:
                total = rng.randint(3_000, 30_000)
                copy.write_row((str(uuid.uuid4()), "ward", ward, 2021, province, total, total * 7 // 10,
                                total * 2 // 10, "bench"))
        # The coverage counters as `vaccination_history` keeps them, for `people_per_ward` residents per ward
        # on average (3,000 to 30,000 times people_per_ward / 16,500): every age combination of birth years
        # 1930-2015, 70% with a first dose in one of 29 weeks from July 2021, 86% of those complete 4 weeks later.
        cur.execute("CREATE TEMP TABLE bench_areas (province_code text, district_code text, ward_code text,"
                    " people bigint)")
        with cur.copy("COPY bench_areas FROM STDIN") as copy:
            for province, district, ward in areas:
                copy.write_row((province, district, ward, rng.randint(3_000, 30_000) * people_per_ward // 16_500))
        first, last = COVERAGE_YEARS
        combos: dict[tuple[int, int], int] = {}
        for born in range(1930, 2016):
            key = (min(max(born + 18, first), last + 1), min(max(born + 50, first), last + 1))
            combos[key] = combos.get(key, 0) + 1
        cur.execute("CREATE TEMP TABLE bench_combos (adult_from int, older_from int, share float8)")
        with cur.copy("COPY bench_combos FROM STDIN") as copy:
            for (adult, older), years in combos.items():
                copy.write_row((adult, older, years / 86))
        cur.execute("CREATE TEMP TABLE bench_weeks (week date)")
        with cur.copy("COPY bench_weeks FROM STDIN") as copy:
            for w in range(29):
                copy.write_row((date(2021, 7, 5) + timedelta(weeks=w),))
        area = "a.province_code, a.district_code, a.ward_code"
        counters = {
            "vh_residents": f"SELECT {area}, c.adult_from, c.older_from, round(a.people * c.share)::bigint"
                            " FROM bench_areas a CROSS JOIN bench_combos c",
            "vh_first_doses": f"SELECT {area}, c.adult_from, w.week, round(a.people * sum(c.share) * 0.7 / 29)::bigint"
                              " FROM bench_areas a CROSS JOIN bench_combos c CROSS JOIN bench_weeks w"
                              f" GROUP BY {area}, a.people, c.adult_from, w.week",
            "vh_completions": f"SELECT {area}, c.older_from, w.week + 28,"
                              " round(a.people * sum(c.share) * 0.7 * 0.86 / 29)::bigint"
                              " FROM bench_areas a CROSS JOIN bench_combos c CROSS JOIN bench_weeks w"
                              f" GROUP BY {area}, a.people, c.older_from, w.week",
        }
        counts["counter_rows"] = 0
        for table, select in counters.items():
            cur.execute(f"INSERT INTO {table} SELECT * FROM ({select}) s WHERE s.round > 0")
            counts["counter_rows"] += cur.rowcount
        cur.execute("SELECT sum(people) FROM vh_residents")
        counts["residents"] = int(cur.fetchone()[0])
        with cur.copy("COPY risk_cases (case_id, person_id, province_code, district_code, ward_code, confirmed_on,"
                      " iso_week, community, status) FROM STDIN") as cases:
            for province, district, ward in areas:
                for week, monday in ((WEEK, date(2021, 12, 13)), ("2021-W49", date(2021, 12, 6))):
                    for _ in range(rng.randint(0, 20)):
                        cases.write_row((str(uuid.uuid4()), str(uuid.uuid4()), province, district, ward,
                                         monday + timedelta(days=rng.randint(0, 6)), week, rng.random() < 0.9,
                                         "retracted" if rng.random() < 0.05 else "active"))
                        counts["cases"] += 1
        cur.execute("ANALYZE")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wards", type=int, default=10_600)
    parser.add_argument("--people", type=int, default=9_434,
                        help="registered residents per ward on average (default: 100 M in 10,600 wards)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from ledger.settings import Settings
    from projections.db import PostgresProjectionDB
    from projections.risk_map import RiskMapQueries

    with fresh_database("risk_map") as url:
        with Stopwatch() as fill_time:
            counts = fill(url, args.wards, args.people)
        log(f"filled {counts} in {fill_time.seconds:.1f} s")
        db = PostgresProjectionDB(Settings(database_url=url))
        try:
            queries = RiskMapQueries(db)
            sizes: list[int] = []

            def one_map() -> float:
                t = time.perf_counter()
                sizes.append(len(queries.risk_map("ward", WEEK)))
                return time.perf_counter() - t

            def ceiling() -> float:
                t = time.perf_counter()
                db.query("SELECT ward_code, COUNT(*) FROM risk_cases WHERE iso_week = %s GROUP BY ward_code", (WEEK,))
                for table in ("vh_residents", "vh_first_doses", "vh_completions"):
                    db.query(f"SELECT ward_code, COUNT(*) FROM {table} GROUP BY ward_code")
                db.query("SELECT area_code, COUNT(*) FROM risk_population GROUP BY area_code")
                return time.perf_counter() - t

            ours = repeat(one_map, args.repeats, "risk map, every ward, one week")
            raw = repeat(ceiling, args.repeats, "raw grouped scans")
            changes = repeat(lambda: _timed(lambda: queries.changes("ward", WEEK)), max(1, args.repeats // 2),
                             "changes vs previous week")
            assert set(sizes) == {args.wards}, sizes
        finally:
            db.close()
    log(f"risk map: {ours.fmt(' s', 2)}; raw scans: {raw.fmt(' s', 2)}; ratio {ratio(ours, raw):.1f}x; "
        f"changes: {changes.fmt(' s', 2)}")
    write_results("risk_map", {"counts": counts, "risk_map_seconds": ours.as_dict(), "raw_seconds": raw.as_dict(),
                               "changes_seconds": changes.as_dict(), "ratio_to_raw": ratio(ours, raw),
                               "target_seconds": 5})


def _timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
