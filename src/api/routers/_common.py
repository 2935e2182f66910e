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


def answer(result: CommandResult, response: Response | None = None, location: str | None = None) -> dict[str, Any]:
    """The JSON answer of a command; `location` sets the `Location` header of a 201."""
    if response is not None and location is not None:
        response.headers["Location"] = location
    return {"ids": result.ids, "position": result.position, "replayed": result.replayed}
