"""Errors, mapped once to RFC 9457 `application/problem+json`.

| raised                                             | status | `type` ends with          | extras            |
|----------------------------------------------------|--------|---------------------------|-------------------|
| `Invalid` (domain), request validation, bad JSON   | 422    | `invalid`                 | `field`, `errors` |
| `NotFound`                                         | 404    | `not_found`               | `kind`, `key`     |
| `RuleViolation`, `Conflict`                        | 409    | the rule's name           | `rule`, details   |
| store errors (operational / interface)             | 503    | `store_unavailable`       | `Retry-After`     |
| `ProjectionLagging` (a read's `min_position`)      | 503    | `projection_lagging`      | `Retry-After`     |
| `Unauthenticated` (no usable bearer token)         | 401    | `unauthenticated`         | `WWW-Authenticate`|
| `GrantRevoked` (token revoked during the command)  | 401    | `unauthenticated`         | `WWW-Authenticate`|
| `Forbidden` (outside the token's role or scope)    | 403    | `forbidden`               |                   |

Routes never catch these themselves: they call the ledger and let this module answer.
Anything else is a bug and answers a bare 500 problem without internals.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import eventsourcing.persistence as es
import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ledger.application import GrantRevoked
from ledger.domain import Invalid, NotFound, RuleViolation

from .auth import Forbidden, Unauthenticated
from .schemas import Problem, ProblemError

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://ledger.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Seconds a client should wait before retrying when the store is unavailable, or a projection lags.
STORE_RETRY_AFTER = 5
LAG_RETRY_AFTER = 1

#: Store failures that say "try again later", not "your request is wrong".
STORE_ERRORS: tuple[type[Exception], ...] = (
    es.OperationalError,
    es.InterfaceError,
    es.ConnectionPoolClosedError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)

_LOCATIONS = ("body", "query", "path", "header", "cookie")
#: FastAPI's detail when a request body cannot be decoded at all.
_BODY_PARSE_ERROR = "There was an error parsing the body"


class ProjectionLagging(Exception):
    """A read asked for `min_position`, and its projections did not reach it in time."""

    def __init__(self, names: Sequence[str], position: int, waited: float) -> None:
        super().__init__(f"projections {', '.join(names)} have not reached position {position} after {waited:g}s")
        self.names = tuple(names)
        self.position = position


class ProblemResponse(Response):
    """An `application/problem+json` response, rendered with orjson."""

    media_type = PROBLEM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS, default=str)


def problem(
    status: int,
    name: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extras: Any,
) -> ProblemResponse:
    """A problem document; `name` ends its type URI (a rule, `invalid`, `not_found`, ...)."""
    body = {
        **{k: v for k, v in extras.items() if v is not None},
        "type": PROBLEM_BASE + name if name != "about:blank" else name,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    return ProblemResponse(body, status_code=status, headers=headers)


def field_of(loc: Sequence[str | int]) -> str:
    """`("body", "lines", 0, "quantity")` -> `lines[0].quantity`; a whole-body error is `body`."""
    parts = list(loc[1:] if loc and loc[0] in _LOCATIONS else loc)
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or (str(loc[0]) if loc else "body")


# -- handlers ---------------------------------------------------------------------------------------------


def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Invalid)
    errors = [{"field": exc.field, "message": exc.message, "type": "invalid"}]
    return problem(422, "invalid", exc.message, title="Invalid request", field=exc.field, errors=errors,
                   **_extras(exc.details))


def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFound)
    return problem(404, "not_found", exc.message, title="Not found", kind=exc.kind, key=str(exc.key))


def _rule_violation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RuleViolation)
    title = exc.rule.replace("_", " ").capitalize()
    return problem(409, exc.rule, exc.message, title=title, rule=exc.rule, **_extras(exc.details))


def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", "invalid"))
        field = "body" if kind == "json_invalid" else field_of(loc)
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid" and error.get("ctx", {}).get("error"):
            message = f"{message}: {error['ctx']['error']}"
        errors.append({"field": field, "message": message, "type": kind})
    first = errors[0] if errors else {"field": "body", "message": "invalid request"}
    detail = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem(422, "invalid", detail, title="Invalid request", field=first["field"], errors=errors)


def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
        # FastAPI answers 400 when the body cannot even be decoded (bad UTF-8, nesting too deep):
        # to a client that is malformed JSON like any other, so it gets the same 422.
        message = "the body is not valid JSON"
        errors = [{"field": "body", "message": message, "type": "json_invalid"}]
        return problem(422, "invalid", f"body: {message}", title="Invalid request", field="body", errors=errors)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem(exc.status_code, "about:blank", detail, headers=dict(exc.headers or {}))


def _unauthenticated(request: Request, exc: Exception) -> Response:
    return problem(401, "unauthenticated", "a valid bearer token is required", title="Unauthenticated",
                   headers={"WWW-Authenticate": 'Bearer realm="ledger"'})


def _forbidden(request: Request, exc: Exception) -> Response:
    return problem(403, "forbidden", "this token does not allow this request", title="Forbidden")


def _store_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        503, "store_unavailable", "the event store is unavailable; retry later", title="Store unavailable",
        headers={"Retry-After": str(STORE_RETRY_AFTER)},
    )


def _projection_lagging(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProjectionLagging)
    return problem(
        503, "projection_lagging", str(exc), title="Projection lagging", headers={"Retry-After": str(LAG_RETRY_AFTER)},
        projections=list(exc.names), min_position=exc.position,
    )


def _internal(request: Request, exc: Exception) -> Response:
    # Logged (with the traceback) by the server; the client learns nothing of the internals.
    return problem(500, "internal_error", "an unexpected error occurred", title="Internal error")


_RESERVED = {"type", "title", "status", "detail", "instance", "rule", "field", "errors", "kind", "key"}


def _extras(details: dict[str, Any]) -> dict[str, Any]:
    """A domain error's details as extension members, never overriding the standard ones."""
    return {k: v for k, v in details.items() if k not in _RESERVED}


def install_error_handlers(app: FastAPI) -> None:
    """Map every error class once; routes never catch them."""
    app.add_exception_handler(Invalid, _invalid)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(RuleViolation, _rule_violation)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(ProjectionLagging, _projection_lagging)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(GrantRevoked, _unauthenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    for cls in STORE_ERRORS:
        app.add_exception_handler(cls, _store_unavailable)
    app.add_exception_handler(Exception, _internal)


# -- OpenAPI -----------------------------------------------------------------------------------------------

_DESCRIPTIONS = {
    401: "No valid bearer token (missing, malformed, unknown, expired or revoked).",
    403: "The token's role or scope does not allow this request (whether or not the record exists).",
    404: "Unknown id (`kind`, `key`).",
    409: "A domain rule refused the command (`rule` names it), or a concurrent update won the race "
    "(`concurrent_modification`).",
    422: "Malformed request: `field` names the first offending input, `errors` lists them all.",
    503: "The store is unavailable, or (reads with `min_position`) the projection did not catch up in time; "
    "retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem documents for `statuses`."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 503:
            entry["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
        responses[status] = entry
    return responses


def problem_schemas() -> dict[str, Any]:
    """JSON schemas of `Problem` and its parts, for `components.schemas`."""
    schemas: dict[str, Any] = {}
    for model in (Problem, ProblemError):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas
