"""Backlog imports: an NDJSON or CSV upload of registrations, screenings and doses entered late.

Each row is checked as its single command is (`api.backlog` for the body, `Ledger.import_backlog`
for the rules) and against the caller's permission for that command (the table in
`api.permissions`, applied row by row: a vaccinator's rows at another facility are refused in
the report, not the whole upload). The answer is a report per row, 200 even when some rows are
refused: the good ones are recorded. Re-sending the same upload (same organisation) adds nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request

from ledger.commands.backlog import BacklogRow
from ledger.domain import Invalid, RuleViolation

from ..backlog import COMMANDS, parse_csv, parse_ndjson
from ..deps import LedgerDep, ProvenanceDep
from ..errors import problem_responses
from ..permissions import PERMISSIONS, Principal, Target
from ..schemas.imports import ImportReportOut

router = APIRouter(prefix="/v1/imports", tags=["imports"])

#: Rows one request may carry: larger backlogs go through `ledger import` or several requests.
MAX_LINES = 200_000


def _row_schema() -> dict[str, Any]:
    """One line of an upload, as OpenAPI can say it: one closed object per command, its single request
    body's fields (by reference to the same component schemas) plus `command`, `ref` and the person."""
    alternatives = []
    for name, spec in COMMANDS.items():
        schema = spec.schema.model_json_schema(ref_template="#/components/schemas/{model}")
        schema.pop("$defs", None)
        properties = {"command": {"type": "string", "const": name},
                      "ref": {"type": "string", "minLength": 1, "maxLength": 200,
                              "description": "The row's own reference: its idempotency key."}}
        if spec.on_person:
            properties["person_id"] = {"type": "string", "format": "uuid"}
            properties["person"] = {"type": "object", "additionalProperties": False,
                                    "required": ["id_type", "id_number"],
                                    "properties": {"id_type": {"$ref": "#/components/schemas/IdType"},
                                                   "id_number": {"type": "string", "maxLength": 64}},
                                    "description": "The person by identity document, instead of person_id."}
        alternatives.append({**schema, "title": f"Backlog row: {name}", "additionalProperties": False,
                             "properties": {**properties, **schema.get("properties", {})},
                             "required": ["command", "ref", *schema.get("required", [])]})
    return {"oneOf": alternatives, "description": "One command per line. CSV (`text/csv`): the same fields as "
            "columns after a header line, nested ones dotted (`address.province_code`, `person.id_number`)."}


def _row_permission(principal: Principal, ledger: Any) -> Any:
    """The single routes' permission, checked for each row inside its batch (`Ledger.import_backlog`)."""

    def allow(row: BacklogRow) -> None:
        params = {"person_id": str(row.arguments["person_id"])} if "person_id" in row.arguments else {}
        if not PERMISSIONS[row.command].allows(principal, Target(params, row.arguments, ledger)):
            raise RuleViolation("row_in_caller_scope",
                                f"a {principal.role} token of {principal.org} may not {row.command} this row")

    return allow


@router.post(
    "/backlog", response_model=ImportReportOut, responses=problem_responses(409, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": _row_schema()}, "text/csv": {"schema": {"type": "string"}}}}},
)
async def import_backlog(
    request: Request, ledger: LedgerDep, prov: ProvenanceDep,
    rows: Annotated[str, Query(pattern="^(all|problems)$", description="`problems`: report only the rows "
                               "not accepted.")] = "all",
) -> dict[str, Any]:
    """A backlog, NDJSON (`application/x-ndjson`) or CSV (`text/csv`, header line first): each row checked as its
    single command and the caller's permission for it; good rows appended in large transactions; a report per
    row (accepted / duplicate / refused with the field or rule)."""
    body = await request.body()
    lines = body.splitlines()
    if len(lines) > MAX_LINES:
        raise Invalid("body", f"at most {MAX_LINES} lines per request", max_lines=MAX_LINES)
    if request.headers.get("content-type", "").split(";")[0].strip() == "text/csv":
        try:
            text = [line.decode() for line in lines]
        except UnicodeDecodeError:
            raise Invalid("body", "a CSV upload must be UTF-8") from None
        parsed = parse_csv(text)
    else:
        parsed = parse_ndjson(lines)
    allow = _row_permission(request.state.principal, ledger)
    report = await anyio.to_thread.run_sync(lambda: ledger.import_backlog(parsed, prov=prov, allow=allow))
    out = report.as_dict()
    if rows == "problems":
        out["rows"] = [r for r in out["rows"] if r["status"] != "accepted"]
    return out
