"""Reference population per administrative area (the risk map's denominators).

`record_population` records one area's figures for a year (or revises them); `load_population`
records many in one transaction: either every row is valid and all are saved, or nothing is and
the refusal lists each bad row with its field (a partially invalid file is fixed and reloaded
whole). Reloading an unchanged file records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..domain import Invalid, LedgerAggregate, Provenance
from ..domain.population import AreaPopulation
from ._shared import CommandResult, locals_of

if TYPE_CHECKING:
    Built = tuple[list[LedgerAggregate], dict[str, Any]]

POPULATION_FIELDS = ("area_level", "area_code", "province_code", "year", "total", "aged_18_plus", "aged_50_plus",
                     "data_source")
MAX_ROWS = 20_000


class RiskCommands:
    """Commands of this area, mixed into `ledger.application.Ledger`."""

    # Provided by `Ledger` (declared for readers and type checkers).
    _execute: Callable[..., CommandResult]
    _find: Callable[..., Any]

    def _population(self, row: dict[str, Any], prov: Provenance) -> tuple[AreaPopulation, str]:
        """The aggregate holding the row's figures and what happened to it: recorded, revised or unchanged."""
        AreaPopulation.check_key(row["area_level"], row["area_code"], row["province_code"], row["year"])
        figures = {k: row[k] for k in ("total", "aged_18_plus", "aged_50_plus", "data_source")}
        existing = self._find(AreaPopulation.create_id(row["area_level"], row["area_code"], row["year"]))
        if isinstance(existing, AreaPopulation):
            changed = existing.revise(province_code=row["province_code"], **figures, prov=prov)
            return existing, "revised" if changed else "unchanged"
        return AreaPopulation.record(**{k: row[k] for k in POPULATION_FIELDS}, prov=prov), "recorded"

    def record_population(
        self, *, area_level: str, area_code: str, province_code: str, year: int, total: int, aged_18_plus: int,
        aged_50_plus: int, data_source: str, prov: Provenance,
    ) -> CommandResult:
        """One area's reference population for a year (a second call with new figures revises them)."""
        row = locals_of(area_level=area_level, area_code=area_code, province_code=province_code, year=year,
                        total=total, aged_18_plus=aged_18_plus, aged_50_plus=aged_50_plus, data_source=data_source)

        def build() -> Built:
            area, outcome = self._population(row, prov)
            return [area], {"population_id": str(area.id), "outcome": outcome}

        return self._execute("record_population", prov, row, build)

    def load_population(self, *, rows: list[dict[str, Any]], prov: Provenance) -> CommandResult:
        """Many areas at once, all or nothing; a refusal names every bad row (`rows` in the error's details)."""

        def build() -> Built:
            if not isinstance(rows, list) or not rows:
                raise Invalid("rows", "rows must be a non-empty list")
            if len(rows) > MAX_ROWS:
                raise Invalid("rows", f"at most {MAX_ROWS} rows per load")
            areas: dict[Any, AreaPopulation] = {}
            counts = {"recorded": 0, "revised": 0, "unchanged": 0}
            bad: list[dict[str, Any]] = []
            for i, row in enumerate(rows):
                try:
                    if not isinstance(row, dict):
                        raise Invalid("row", "each row must be an object")
                    missing = [f for f in POPULATION_FIELDS if f not in row]
                    if missing:
                        raise Invalid(missing[0], f"{missing[0]} is required")
                    key = (row["area_level"], row["area_code"], row["year"])
                    if key in areas:
                        raise Invalid("area_code", "the same area and year appear twice in the load")
                    area, outcome = self._population(row, prov)
                except Invalid as exc:
                    bad.append({"row": i, "field": exc.field, "message": exc.message})
                    continue
                areas[key] = area
                counts[outcome] += 1
            if bad:
                first = bad[0]
                raise Invalid(f"rows[{first['row']}].{first['field']}",
                              f"{len(bad)} of {len(rows)} rows are invalid; nothing was recorded", rows=bad)
            return list(areas.values()), {"rows": str(len(rows)), **{k: str(v) for k, v in counts.items()}}

        return self._execute("load_population", prov, locals_of(rows=rows), build)


_INTEGER_FIELDS = ("year", "total", "aged_18_plus", "aged_50_plus")


def read_population_file(path: str) -> list[dict[str, Any]]:
    """Rows of a population file for `load_population`: a JSON list of objects, or a CSV with a header
    naming the fields (`POPULATION_FIELDS`). CSV numbers become integers when they are whole numbers;
    anything else is passed on as text for the command to refuse with the row and the field."""
    import csv
    import json
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8-sig")
    if path.lower().endswith(".json") or text.lstrip().startswith("["):
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise Invalid("rows", "a JSON population file holds a list of objects")
        return rows
    out = []
    for row in csv.DictReader(text.splitlines()):
        clean: dict[str, Any] = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        for field in _INTEGER_FIELDS:
            value = clean.get(field)
            if isinstance(value, str) and value.isdigit():
                clean[field] = int(value)
        out.append(clean)
    return out
