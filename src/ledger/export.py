"""The log exported for analysis: every event decoded, one row per event, in Parquet files.

Analysts work in DuckDB, pandas or R, not in our API. `export_events` writes one Parquet file
per event type (`events/ledger.person.DoseAdministered.parquet`, ...), in log order, each with the
columns every event has (`position`, `topic`, `originator_id`, `originator_version`,
`timestamp`, and the provenance: `actor`, `org`, `source`, `client_ref`, `occurred_at`) and
then the event type's own fields, typed from the event class's annotations: text, integers,
floats, booleans, dates, UTC timestamps; ids as their canonical text; nested values (an
address, vitals, a transfer's lines) as JSON text (the column's Parquet metadata says
`json`), which DuckDB reads with `->>` and pandas with `json.loads`. The schema comes from
the class, not the data, so a file has the same columns whatever rows it holds.

An export stops at a position (`up_to`, by default the head when it starts), so it is a
snapshot that can be cited, reproduced and compared with projections built as of the same
position. It reads the log in pages and writes row groups as it goes: its memory does not
grow with the log.

**Personal data stays out unless asked for.** By default the fields that name, reach or
locate a person are left out: the identity document's number, the name, the phone, the
street line of an address (the province, district and ward codes stay), the birth date (its
year stays, as `birth_year`), the national register's reference, and free text (`note`,
`place`) at any depth, where anything may have been typed. With `personal_data=True` every
field is exported as recorded. Either way the manifest says which. Note that ids are kept
(they are what rows join on), and a person registered with a document has a deterministic id
(`Person` registration: uuid5 of the document), so whoever holds a document number can find
that person's rows: an export without personal data is pseudonymous, not anonymous.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from eventsourcing.utils import resolve_topic

#: Events read from the log per query.
PAGE = 5_000
#: Rows per Parquet row group (and per write): what a file's buffer holds at most.
ROW_GROUP = 20_000

_TIMESTAMP = pa.timestamp("us", tz="UTC")
#: The columns every event's row begins with, and their types.
COMMON = {"position": pa.int64(), "topic": pa.string(), "originator_id": pa.string(), "originator_version": pa.int64(),
          "timestamp": _TIMESTAMP, "actor": pa.string(), "org": pa.string(), "source": pa.string(),
          "client_ref": pa.string(), "occurred_at": _TIMESTAMP}
_LIBRARY_FIELDS = {"originator_topic"}

#: Fields left out of an export without personal data, by event type: None drops the field,
#: `area` keeps only the area codes of an address in it, `year` keeps a date's year (as `birth_year`).
PERSONAL: dict[str, dict[str, str | None]] = {
    "ledger.person.Registered": {"id_number": None, "full_name": None, "phone": None, "address": "area",
                                 "date_of_birth": "year"},
    "ledger.person.DetailsCorrected": {"changes": "area", "previous": "area"},
    "ledger.person.IdentityVerified": {"register_ref": None},
    "ledger.access.Issued": {"secret_sha256": None},
    # Written by staff in their own words: anything may be in them.
    "ledger.access.Revoked": {"reason": None},
    "ledger.access.BreakGlassOpened": {"reason": None},
    "ledger.access.BreakGlassReopened": {"reason": None},
}
#: Free-text fields, left out at any depth (a declaration's contacts, a travel's place, notes).
FREE_TEXT = frozenset({"note", "place"})
AREA_CODES = ("province_code", "district_code", "ward_code")


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of an event type's file. Values come from the event's stored JSON state (ids, dates
    and times as text), so `convert` maps a JSON value; dates and times stay text until Arrow parses
    the whole column (`parsed`: the type they are written as)."""

    name: str
    type: pa.DataType
    #: The field of the stored state the value comes from (or `position`, `topic`, `originator_*`).
    source: str
    convert: Callable[[Any], Any] | None = None
    json: bool = False

    @property
    def parsed(self) -> bool:
        return self.type == _TIMESTAMP or self.type == pa.date32()


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def without_free_text(value: Any) -> Any:
    """`value` without the `FREE_TEXT` keys of any dict in it, at any depth."""
    if isinstance(value, dict):
        return {k: without_free_text(v) for k, v in value.items() if k not in FREE_TEXT}
    if isinstance(value, list):
        return [without_free_text(v) for v in value]
    return value


def _area(value: Any) -> Any:
    """An address's area codes only; in a dict of changes, those of the address it holds."""
    if not isinstance(value, dict):
        return None
    if "address" in value:
        return {"address": _area(value["address"])} if isinstance(value["address"], dict) else {}
    return {k: value[k] for k in AREA_CODES if k in value}


def _arrow_type(annotation: Any) -> tuple[pa.DataType, Callable[[Any], Any] | None, bool]:
    """The Arrow type of an event field's annotation, the conversion of its JSON values (None: as they are),
    and whether it is JSON."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            return _arrow_type(present[0])
        return pa.string(), _json, True
    simple = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_(), UUID: pa.string(),
              datetime: _TIMESTAMP, date: pa.date32()}
    if annotation in simple:
        return simple[annotation], None, False
    return pa.string(), _json, True


def columns_of(topic: str, cls: type, *, personal_data: bool) -> list[Column]:
    """The columns of an event type's rows (the common ones, then its own fields in declaration order)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else list(hints)
    own = [n for n in names if n not in COMMON and n not in _LIBRARY_FIELDS]
    out = [Column(name, kind, name) for name, kind in COMMON.items()]
    redact = {} if personal_data else PERSONAL.get(topic, {})
    for name in own:
        if not personal_data and name in FREE_TEXT:
            continue
        kind, convert, is_json = _arrow_type(hints.get(name, Any))
        if name in redact:
            how = redact[name]
            if how is None:
                continue
            if how == "year":
                out.append(Column("birth_year", pa.int32(), name, lambda d: None if d is None else int(d[:4])))
                continue
            out.append(Column(name, pa.string(), name, lambda v: _json(_area(v)), json=True))
            continue
        if is_json and not personal_data:
            out.append(Column(name, kind, name, lambda v: _json(without_free_text(v)), json=True))
        else:
            out.append(Column(name, kind, name, convert, json=is_json))
    return out


class _TopicFile:
    """One event type's Parquet file, written a row group at a time."""

    def __init__(self, path: Path, columns: list[Column]) -> None:
        self.path = path
        self.columns = columns
        self.schema = pa.schema([pa.field(c.name, c.type, metadata={"encoding": "json"} if c.json else None)
                                 for c in columns])
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.buffer: list[list[Any]] = [[] for _ in columns]
        self.rows = 0

    def add(self, state: dict[str, Any]) -> None:
        """One event: its stored JSON state, with `position`, `topic` and the originator's id and version."""
        get = state.get
        for values, column in zip(self.buffer, self.columns, strict=True):
            value = get(column.source)
            values.append(value if column.convert is None else column.convert(value))
        self.rows += 1
        if len(self.buffer[0]) >= ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.buffer[0]:
            arrays = [pa.array(values, type=pa.string()).cast(c.type) if c.parsed else pa.array(values, type=c.type)
                      for values, c in zip(self.buffer, self.columns, strict=True)]
            self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
            self.buffer = [[] for _ in self.columns]

    def close(self) -> None:
        self.flush()
        self.writer.close()


def export_events(ledger: Any, directory: Path, *, up_to: int | None = None, personal_data: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write every event at positions 1..`up_to` (default: the head now) to `directory/events/<topic>.parquet`.

    Returns what the manifest records of them: the position reached and each file's topic and rows.
    """
    head = ledger.head()
    up_to = head if up_to is None else min(up_to, head)
    target = directory / "events"
    target.mkdir(parents=True, exist_ok=True)
    files: dict[str, _TopicFile] = {}
    done = after = 0
    try:
        while after < up_to:
            page = ledger.stored_after(after, stop=up_to, topics=(), limit=PAGE)
            if not page:
                break
            for position, state in page:
                topic = state["topic"]
                file = files.get(topic)
                if file is None:
                    columns = columns_of(topic, resolve_topic(topic), personal_data=personal_data)
                    file = files[topic] = _TopicFile(target / f"{topic}.parquet", columns)
                state["position"] = position
                file.add(state)
            done += len(page)
            after = page[-1][0]
            if progress is not None:
                progress(after, up_to)
    finally:
        for file in files.values():
            file.close()
    return {"up_to_position": up_to, "events": done,
            "files": {f"events/{topic}.parquet": {"topic": topic, "rows": f.rows} for topic, f in sorted(files.items())}}
