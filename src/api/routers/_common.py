"""What the routers share: how a command's result is answered."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from ledger.application import CommandResult

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
