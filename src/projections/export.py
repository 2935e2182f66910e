"""Projection tables exported for analysis, as Parquet files, each with the position and digest it had.

`export_projections` writes `projections/<name>/<table>.parquet` for each named projection:
every row of each of its tables, in primary-key order, with the columns and types the table
has (text, integers, booleans, dates). A projection's tables and its position are read in one
snapshot (`ProjectionDB.snapshot`: REPEATABLE READ on PostgreSQL, a WAL read transaction on
SQLite); the engine writes rows and position in one transaction, so the files, the position and
the digest recorded beside them (`ProjectionEngine.digest`, the figure `ledger projections
digest` prints) describe one state, and the engine goes on applying events meanwhile.

Projections hold no names, document numbers, phones or street addresses (they are not copied
out of the events). Without `personal_data`, what free text they keep is left out as in
`ledger.export`: the reason written for a break-glass opening, and the notes and places in a
health declaration's contacts and travel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ledger.export import without_free_text

from .db import quote_ident
from .engine import ProjectionEngine

#: Columns written by people in their own words, left out without personal data: None drops the column,
#: `json` keeps its JSON without the free-text keys.
FREE_TEXT_COLUMNS: dict[tuple[str, str], str | None] = {
    ("access_break_glass", "reason"): None,
    ("health_declarations", "travel"): "json",
    ("health_declarations", "contact_history"): "json",
}


def export_projections(engine: ProjectionEngine, names: list[str], directory: Path, *,
                       personal_data: bool = False) -> dict[str, Any]:
    """Write each projection's tables; returns, per projection, its position, digest and each table's rows."""
    out: dict[str, Any] = {}
    for name in names:
        projection = engine.projection(name)
        target = directory / "projections" / name
        target.mkdir(parents=True, exist_ok=True)
        tables: dict[str, int] = {}
        with engine.db.snapshot() as tx:
            rows = tx.fetch("SELECT position FROM projection_positions WHERE name = %s", (name,))
            position = rows[0]["position"] if rows else 0
            digest = engine.digest_in(tx, projection)
            for table, key in sorted(projection.tables.items()):
                order = ", ".join(quote_ident(c) for c in key)
                redact = {} if personal_data else {c: how for (t, c), how in FREE_TEXT_COLUMNS.items() if t == table}
                tables[table] = _write_table(
                    target / f"{table}.parquet", tx.stream_tuples(f"SELECT * FROM {quote_ident(table)} ORDER BY {order}"),
                    _schema(tx, table), redact)
        out[name] = {"position": position, "digest": digest,
                     "tables": {f"projections/{name}/{t}.parquet": {"table": t, "rows": n} for t, n in tables.items()}}
    return out


#: Arrow types of the SQL column types projections use (both backends' spellings); others become text.
_TYPES = {"text": pa.string(), "character varying": pa.string(), "varchar": pa.string(), "integer": pa.int64(),
          "bigint": pa.int64(), "smallint": pa.int64(), "int": pa.int64(), "boolean": pa.bool_(),
          "date": pa.date32(), "double precision": pa.float64(), "real": pa.float64()}


def _schema(tx: Any, table: str) -> pa.Schema:
    """The table's columns and their types, from the database's catalogue (not from the values, which an
    empty table or a column of nulls would not tell)."""
    if tx.dialect == "sqlite":
        declared = [(r["name"], r["type"].lower()) for r in tx.fetch(f"PRAGMA table_info({quote_ident(table)})")]
    else:
        declared = [(r["column_name"], r["data_type"]) for r in tx.fetch(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = %s ORDER BY ordinal_position", (table,))]
    return pa.schema([pa.field(name, _TYPES.get(kind, pa.string())) for name, kind in declared])


def _write_table(path: Path, batches: Any, schema: pa.Schema, redact: dict[str, str | None]) -> int:
    """Rows from `batches` (column names, rows) into one Parquet file of `schema`, without the `redact`ed
    columns (or their JSON's free text)."""
    text = {f.name for f in schema if pa.types.is_string(f.type)}
    schema = pa.schema([f for f in schema if f.name not in redact or redact[f.name] is not None])
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for names, batch in batches:
            arrays = []
            for i, name in enumerate(names):
                if name not in schema.names:
                    continue
                values = [row[i] for row in batch]
                if name in text:
                    values = [v if v is None or isinstance(v, str) else str(v) for v in values]
                if name in redact:
                    values = [None if v is None else orjson.dumps(without_free_text(orjson.loads(v))).decode()
                              for v in values]
                arrays.append(pa.array(values, type=schema.field(name).type))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            rows += len(batch)
    return rows
