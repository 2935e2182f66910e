"""What the routers share: how a command's result is answered, and how a read is narrowed to a
provincial caller's province."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from ledger.commands._shared import CommandResult
from ledger.domain import NotFound

from ..auth import Forbidden

#: OpenAPI entry of a `201 Created` answer's `Location` header.
LOCATION_HEADER = {"Location": {"description": "Where the created record can be read.", "schema": {"type": "string"}}}


def arguments(body: BaseModel) -> dict[str, Any]:
    """A command body as keyword arguments for the ledger (business time travels in the provenance)."""
    return body.model_dump(exclude={"occurred_at"})


def answer(model: type[BaseModel], result: CommandResult, location: str | None = None) -> Response:
    """The answer of a command as the route's `model` documents it: 201 with `Location` when a
    record was created (`location`), else 200.

    Routes return this `Response` themselves: for a plain `def` route FastAPI would validate
    and serialise the answer in the thread pool, one more hand-off per request. The model
    still validates it here, and still documents it through the route's `response_model`.
    """
    payload = model.model_validate({"ids": result.ids, "position": result.position, "replayed": result.replayed})
    return Response(
        payload.model_dump_json(), status_code=201 if location else 200, media_type="application/json",
        headers={"Location": location} if location else None,
    )


def scoped_province(request: Request, province_code: str | None) -> str | None:
    """The province a read may cover: a provincial caller's own (403 if it asks for another);
    for other callers, what they asked (`None`: every province)."""
    principal = request.state.principal
    if principal.role != "provincial":
        return province_code
    own = principal.scope["province_code"]
    if province_code not in (None, own):
        raise Forbidden
    return own


def in_scope(request: Request, province_code: str | None) -> None:
    """A provincial caller reads one record of its own province only: 403 for another's."""
    principal = request.state.principal
    if principal.role == "provincial" and province_code != principal.scope["province_code"]:
        raise Forbidden


def scoped_case(request: Request, runtime: Any, case_id: object) -> dict[str, Any]:
    """A case of the register the caller may read. A provincial caller gets 403 for a case outside its
    province whether or not it exists, so it learns nothing else; others get 404 for an unknown case."""
    case = runtime.testing.case(case_id)
    if case is None:
        if request.state.principal.role == "provincial":
            raise Forbidden
        raise NotFound("case", case_id)
    in_scope(request, case["province_code"])
    return case
