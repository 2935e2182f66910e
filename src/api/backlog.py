"""Backlog rows: NDJSON or CSV lines into the commands `Ledger.import_backlog` runs.

A row is the single command's request body (the same schema, so the same 422s, field for field)
plus what the route's path and headers would carry:

* `command`: `register_person`, `register_for_vaccination`, `screen` or `administer_dose`;
* `ref`: the sender's reference of the row, its idempotency key (1-200 characters);
* for the commands on a person: `person_id`, or `person` (`{"id_type", "id_number"}`) to name the
  person by identity document, as paper lists do (the holder when the row runs, merges followed).

CSV files have a header line; a nested field is a dotted column (`address.province_code`,
`vitals.temperature_c`, `person.id_number`), an empty cell is an absent value, and cells are
read as JSON reads strings (`"30"` is a valid `observation_minutes`). `ledger import` and
`POST /v1/imports/backlog` both parse here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from ledger.commands._shared import csv_records, json_lines
from ledger.commands.backlog import BACKLOG_COMMANDS, BacklogRow, RefusedRow
from ledger.domain import Invalid, LedgerError

from .errors import field_of
from .schemas import DoseAdministration, PersonRegistration, Screening, VaccinationRegistration
from .schemas.common import IdType


@dataclass(frozen=True)
class _Command:
    schema: type[BaseModel]
    #: Whether the command is on an existing person (named by `person_id` or `person`).
    on_person: bool
    #: The validated body as the `Ledger` method's keyword arguments (`occurred_at` aside).
    arguments: Callable[[Any], dict[str, Any]]


def _registration(body: Any) -> dict[str, Any]:
    details = body.model_dump(include={"full_name", "date_of_birth", "sex", "phone", "address"})
    return {"id_type": body.id_type, "id_number": body.id_number, "details": details}


def _screening(body: Any) -> dict[str, Any]:
    return {"facility_id": body.facility_id, "vitals": body.vitals.model_dump(exclude_none=True),
            "answers": body.answers.model_dump(exclude_none=True), "outcome": body.outcome,
            "observation_minutes": body.observation_minutes}


def _plain(body: Any) -> dict[str, Any]:
    return body.model_dump(exclude={"occurred_at"})


#: Each command's body schema and arguments, as its single route has them (`api.routers.people`,
#: `api.routers.vaccination`).
COMMANDS: dict[str, _Command] = {
    "register_person": _Command(PersonRegistration, False, _registration),
    "register_for_vaccination": _Command(VaccinationRegistration, True, _plain),
    "screen": _Command(Screening, True, _screening),
    "administer_dose": _Command(DoseAdministration, True, _plain),
}
assert tuple(COMMANDS) == BACKLOG_COMMANDS

#: The fields a row carries besides its command's body.
ROW_FIELDS = ("command", "ref", "person_id", "person")


def parse_row(line: int, row: object, *, strings: bool = False) -> BacklogRow | RefusedRow | LedgerError:
    """One row as a `BacklogRow`, or as a `RefusedRow` with the `Invalid` naming its first bad field
    (with the row's ref and command, when they are valid), or that `Invalid` alone for a row that is
    not an object. `strings`: the values are text (CSV cells), read as JSON reads them."""
    if not isinstance(row, dict):
        return Invalid("row", "a backlog row must be an object")
    ref, command = row.get("ref"), row.get("command")
    ref = ref if isinstance(ref, str) and 1 <= len(ref) <= 200 and "\x00" not in ref else None
    command = command if isinstance(command, str) and command in COMMANDS else None
    if command is None:
        return RefusedRow(ref, None, Invalid("command", f"command must be one of {list(COMMANDS)}"))
    if ref is None:
        return RefusedRow(None, command, Invalid("ref", "ref (the row's own reference) must be 1-200 characters"))
    result = _parse_body(line, row, command, ref, strings)
    return RefusedRow(ref, command, result) if isinstance(result, LedgerError) else result


def _parse_body(line: int, row: dict, command: str, ref: str, strings: bool) -> BacklogRow | LedgerError:
    spec = COMMANDS[command]
    body = {k: v for k, v in row.items() if k not in ROW_FIELDS}
    person_id, person = row.get("person_id"), row.get("person")
    if not spec.on_person and (person_id is not None or person is not None):
        field = "person_id" if person_id is not None else "person"
        return Invalid(field, f"{command} names no existing person")
    try:
        parsed = spec.schema.model_validate_strings(body) if strings else spec.schema.model_validate(body)
    except ValidationError as e:
        error = e.errors()[0]
        return Invalid(field_of(tuple(error.get("loc", ()))), str(error.get("msg", "invalid value")))
    arguments = spec.arguments(parsed)
    document = None
    if spec.on_person:
        if (person_id is None) == (person is None):
            return Invalid("person_id", "name the person by person_id or by person (id_type and id_number)")
        if person_id is not None:
            try:
                arguments["person_id"] = UUID(str(person_id))
            except ValueError:
                return Invalid("person_id", "person_id must be a UUID")
        else:
            document = _document(person)
            if isinstance(document, Invalid):
                return document
    return BacklogRow(line, command, ref, arguments, parsed.occurred_at, document)  # type: ignore[attr-defined]


#: The document types a row may name a person by.
_DOCUMENT_TYPES = frozenset(t.value for t in IdType) - {"none"}


def _document(person: object) -> tuple[str, str] | Invalid:
    if not isinstance(person, dict) or set(person) != {"id_type", "id_number"}:
        return Invalid("person", "person must be {id_type, id_number}")
    id_type, number = person["id_type"], person["id_number"]
    if not isinstance(id_type, str) or id_type not in _DOCUMENT_TYPES:
        return Invalid("person.id_type", "person.id_type must be a document type other than none")
    if not isinstance(number, str) or not 1 <= len(number) <= 64:
        return Invalid("person.id_number", "person.id_number must be 1-64 characters")
    return id_type, number


def parse_ndjson(lines: Iterable[bytes | str]) -> Iterator[tuple[int, BacklogRow | RefusedRow | LedgerError]]:
    """(line number, row) of each non-blank NDJSON line."""
    for number, row in json_lines(lines):
        yield number, row if isinstance(row, LedgerError) else parse_row(number, row)


def parse_csv(lines: Iterable[str]) -> Iterator[tuple[int, BacklogRow | RefusedRow | LedgerError]]:
    """(line number, row) of each CSV record after the header line."""

    def check_header(names: list[str]) -> LedgerError | None:
        if len(set(names)) != len(names) or not all(names):
            return Invalid("header", "column names must be distinct and not empty")
        return None

    for number, record in csv_records(lines, check_header):
        if isinstance(record, LedgerError):
            yield number, record
            continue
        row: dict[str, Any] = {}
        for name, cell in record.items():
            if cell is not None:
                *path, last = name.split(".")
                node = row
                for part in path:
                    node = node.setdefault(part, {})
                    if not isinstance(node, dict):
                        break
                else:
                    node[last] = cell
        yield number, parse_row(number, row, strings=True)
