"""uvicorn factories for the HTTP benchmark: the real API, and the raw-insert ceiling app.

    LEDGER_DATABASE_URL=postgresql://... python -m uvicorn bench.http_app:ledger_api --factory
    BENCH_RAW_DSN=postgresql://... python -m uvicorn bench.http_app:raw_insert_api --factory

`raw_insert_api` is the ceiling: the same route shape, headers and JSON body as
`POST /v1/people/{person_id}/doses` (with its bearer token, read but not checked), a sync route like ours,
doing one plain psycopg
`INSERT ... RETURNING` (autocommit, durable) into a table shaped like `ledger_events`.

No `from __future__ import annotations` here: FastAPI must resolve the route's annotations,
which name a model defined inside the factory.
"""


import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def ledger_api():  # noqa: ANN201
    """The real application, configured from the environment like `ledger serve`."""
    from dataclasses import replace

    from api.app import create_app
    from ledger.settings import Settings

    settings = Settings.from_env()
    # Library settings to try (e.g. POSTGRES_PRE_PING=n), passed by `http_doses --ledger-env`.
    extra = dict(item.split("=", 1) for item in os.environ.get("BENCH_LEDGER_EXTRA_ENV", "").split() if item)
    if extra:
        settings = replace(settings, extra_env={**settings.extra_env, **extra})
    return create_app(settings, serving=True)


def raw_insert_api():  # noqa: ANN201
    import orjson
    from fastapi import FastAPI, Header, Request
    from psycopg_pool import ConnectionPool
    from pydantic import BaseModel

    dsn = os.environ["BENCH_RAW_DSN"]
    size = int(os.environ.get("LEDGER_POOL_SIZE", "5")) + int(os.environ.get("LEDGER_POOL_MAX_OVERFLOW", "10"))

    class Dose(BaseModel):
        lot_id: uuid.UUID
        facility_id: uuid.UUID

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = ConnectionPool(dsn, min_size=size, max_size=size, kwargs={"autocommit": True}, open=True)
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/people/{person_id}/doses", status_code=201)
    def administer_dose(
        person_id: uuid.UUID, body: Dose, request: Request, authorization: Annotated[str, Header()],
    ) -> dict:
        # The ceiling reads the same header but checks nothing: no grant lookup, no scope.
        state = orjson.dumps({"person_id": str(person_id), "lot_id": str(body.lot_id),
                              "facility_id": str(body.facility_id), "caller": authorization[-8:]})
        with request.app.state.pool.connection() as conn:
            position = conn.execute(
                "INSERT INTO raw_events (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s)"
                " RETURNING notification_id", (uuid.uuid4(), "ledger.person.DoseAdministered", state), prepare=True,
            ).fetchone()[0]
        return {"ids": {"person_id": str(person_id), "dose_id": str(uuid.uuid4())}, "position": position}

    return app


def raw_history_api():  # noqa: ANN201
    """The ceiling of the history read: the same route and headers, the projection's two reads (the
    person's row, their doses) by plain psycopg with prepared statements, the rows as JSON; no grant
    lookup, no access log, no read of the person's record."""
    from fastapi import FastAPI, Header, Request
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    dsn = os.environ["BENCH_RAW_DSN"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = ConnectionPool(dsn, min_size=4, max_size=16, kwargs={"autocommit": True}, open=True)
        try:
            yield
        finally:
            app.state.pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/people/{person_id}/vaccination-history")
    def history(person_id: uuid.UUID, request: Request, authorization: Annotated[str, Header()]) -> dict:
        with request.app.state.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            person = cur.execute("SELECT * FROM vh_people WHERE person_id = %s", (str(person_id),),
                                 prepare=True).fetchone()
            doses = cur.execute("SELECT * FROM vh_doses WHERE person_id = %s ORDER BY administered_on, dose_id",
                                (str(person_id),), prepare=True).fetchall()
        return {"person": person, "doses": doses}

    return app
