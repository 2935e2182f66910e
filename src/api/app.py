"""`create_app(settings)`: the FastAPI application, with a lifespan that owns the stores.

Nothing is opened at import time. The lifespan builds the `Ledger` (the write side) and
the `ProjectionRuntime` (the read side, with its in-process engine thread) unless the
caller passes them in, keeps them on `app.state`, and closes what it opened on shutdown.

Responses: FastAPI serialises routes that declare a response model straight to JSON
bytes with pydantic-core; the FastAPI we run (0.165) deprecates `ORJSONResponse` for that
reason, and a custom default class would turn that fast path off. So the default
response class is kept, and problem documents are rendered with orjson
(`api.errors.ProblemResponse`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ledger.application import Ledger
from ledger.collector import tune_for_serving
from ledger.settings import Settings
from projections.runtime import ProjectionRuntime

from .auth import authorize
from .errors import install_error_handlers, problem_responses, problem_schemas
from .identity_provider import IdentityProvider
from .permissions import PERMISSIONS, PUBLIC
from .routers import ROUTERS

TITLE = "National health data ledger"
DESCRIPTION = """\
An event-sourced national record of vaccination, vaccine logistics and identity.

* **Every call** but the health checks needs `Authorization: Bearer <token>`. The token's grant
  says who the caller is (recorded as the `actor` and `org` of every fact it writes), its role,
  and its scope (a facility, a province, one's own record): 401 without a valid token, 403
  outside its role or scope.
* **Writes** answer the ids they created or changed and the `position` of their last event.
  Optionally send `X-Source` (the channel) and an `Idempotency-Key` (a repeat answers the first
  result with `replayed: true`).
  Bodies may carry `occurred_at` (with a time zone) when the fact happened before it is recorded.
* **Reads** of projections accept `min_position` and wait (bounded) until the projection has
  processed that position: pass the `position` a write answered to read your own writes.
  Stock, a person's vaccination history and the risk map also accept `as_of_position` instead:
  the figure as it stood at that position, from an as-of build an operator made
  (`ledger projections build NAME --as-of-position N`; 409 `as_of_not_built` otherwise).
* **Errors** are RFC 9457 `application/problem+json`: 422 with the `field`, 404 with the `kind`
  and `key`, 409 with the `rule` that refused the command, 503 with `Retry-After`.
"""


def _version() -> str:
    try:
        return version("health-ledger")
    except PackageNotFoundError:
        return "0.0.0+source"


def _operation_id(route: APIRoute) -> str:
    # Route functions have unique names, so generated clients get `register_facility()`, not `..._post`.
    return route.name


def create_app(
    settings: Settings, *, ledger: Ledger | None = None, runtime: ProjectionRuntime | None = None,
    serving: bool = False,
) -> FastAPI:
    """The API over `settings`; a given `ledger` or `runtime` is used as is and left open on shutdown.
    `serving`: this process only serves the API (`ledger serve`), so the garbage collector is tuned
    for it once started (`ledger.collector`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_ledger = ledger is None
        the_ledger = Ledger(settings) if ledger is None else ledger
        own_runtime = runtime is None
        try:
            the_runtime = ProjectionRuntime(settings, the_ledger) if runtime is None else runtime
        except BaseException:
            if own_ledger:
                the_ledger.close()
            raise
        the_runtime.start()
        app.state.settings = settings
        app.state.identity_provider = IdentityProvider.from_settings(settings)
        app.state.ledger = the_ledger
        app.state.runtime = the_runtime
        if serving:
            tune_for_serving()
        try:
            yield
        finally:
            if own_runtime:
                the_runtime.close()
            if own_ledger:
                the_ledger.close()

    app = FastAPI(
        title=TITLE,
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    install_error_handlers(app)
    for router in ROUTERS:
        names = {route.name for route in router.routes if isinstance(route, APIRoute)}
        if names <= PUBLIC:
            app.include_router(router)
            continue
        missing = sorted(names - set(PERMISSIONS))
        if missing or names & PUBLIC:
            raise RuntimeError(f"routes without a permission in api.permissions: {missing or sorted(names & PUBLIC)}")
        app.include_router(router, dependencies=[Depends(authorize)], responses=problem_responses(401, 403))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).update(problem_schemas())
            components["securitySchemes"] = {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "A token from `ledger tokens issue` (`lgr_...`), or printed by `make demo`; "
                "or a JWT of the configured identity provider.",
            }}
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if operation.get("operationId") not in PUBLIC:
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """The app of one `ledger serve --workers N` process: settings and logging from the environment,
    as `ledger serve` reads them (a worker is a fresh process)."""
    from ledger.logs import configure_logging

    configure_logging(logging.INFO)
    return create_app(Settings.from_env(), serving=True)
