"""Dependencies of the routes, as `Annotated` aliases: the ledger, the projections, the caller.

The stores live on `app.state` (opened by the lifespan in `api.app`), never in globals.
The dependencies are `async`: FastAPI runs a plain `def` dependency in the thread pool, and
under load (py-spy, 16 clients) those hand-offs were a large share of the event loop's time.
Only the wait of `ReadAfter` blocks, and it goes to a worker thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from fastapi import Depends, Header, Query, Request

from ledger.application import Ledger
from ledger.domain import Invalid, Provenance, RuleViolation
from ledger.domain.access import PURPOSES, check_purpose
from ledger.settings import Settings
from projections import scratch
from projections.db import ProjectionDB
from projections.risk_map import RiskMapQueries
from projections.runtime import ProjectionRuntime
from projections.stock import StockQueries
from projections.vaccination_history import VaccinationHistoryQueries

from .errors import ProjectionLagging
from .permissions import Principal
from .schemas.common import Source

DEFAULT_SOURCE = Source("app")


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


async def get_runtime(request: Request) -> ProjectionRuntime:
    return request.app.state.runtime


async def get_provenance(
    request: Request,
    source: Annotated[Source, Header(alias="X-Source", description="Channel of the record.")] = DEFAULT_SOURCE,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key", min_length=1, max_length=200,
            description="The sender's own id for this command: a repeat answers the first result "
            "(`replayed: true`) and writes nothing.",
        ),
    ] = None,
) -> Provenance:
    """Who records a fact: the authenticated caller (`api.auth`), never what the request claims."""
    principal: Principal = request.state.principal
    return Provenance(actor=principal.subject, org=principal.org, source=str(source), client_ref=idempotency_key)


_DEFAULT_PURPOSE = {"citizen": "self", "auditor": "audit"}


class RecordReads:
    """Logs reads of a person's record (the access log): who, which person, through which route, why.

    Routes that answer a person's record call `log(person_id)` before they answer: a read that
    cannot be logged is not served. The purpose comes from `X-Purpose` (required of staff; a
    citizen reads for `self`, an auditor for `audit`).
    """

    def __init__(self, request: Request, ledger: Ledger, purpose: str | None) -> None:
        self.request = request
        self.ledger = ledger
        self.principal: Principal = request.state.principal
        self.purpose = purpose or _DEFAULT_PURPOSE.get(self.principal.role)
        check_purpose(self.purpose)  # 422 on X-Purpose before anything is read

    def log(self, person_id: UUID) -> None:
        p = self.principal
        self.ledger.record_read(
            person_id=person_id, grant_id=p.grant_id, role=p.role, route=self.request.scope["route"].name,
            purpose=self.purpose, break_glass_id=getattr(self.request.state, "break_glass_id", None),
            prov=Provenance(actor=p.subject, org=p.org, source="app"),
        )


async def get_record_reads(
    request: Request,
    ledger: Annotated[Ledger, Depends(get_ledger)],
    purpose: Annotated[
        str | None,
        Header(alias="X-Purpose", description="Why the record is read (kept in the access log): one of "
               + ", ".join(f"`{p}`" for p in sorted(PURPOSES)) + ". Citizens and auditors may omit it."),
    ] = None,
) -> RecordReads:
    return RecordReads(request, ledger, purpose)


def occurred(prov: Provenance, occurred_at: datetime | None) -> Provenance:
    """The caller's provenance with the business time a command body carries."""
    return prov if occurred_at is None else replace(prov, occurred_at=occurred_at)


MinPosition = Annotated[
    int | None,
    Query(ge=0, le=2**63 - 1, description="Wait until the projection has processed this position "
          "(the `position` a write answered)."),
]


class ReadAfter:
    """Read-your-writes: wait until the named projections have reached `?min_position`.

    A write answers the `position` of its last event; passing it here makes the read
    wait (at most `settings.read_wait_seconds`) until the projection has processed it,
    and answer 503 `projection_lagging` otherwise.
    """

    def __init__(self, *names: str) -> None:
        self.names = names

    async def __call__(
        self,
        runtime: Annotated[ProjectionRuntime, Depends(get_runtime)],
        settings: Annotated[Settings, Depends(get_settings)],
        min_position: MinPosition = None,
    ) -> None:
        await self.wait(runtime, settings, min_position)

    async def wait(self, runtime: ProjectionRuntime, settings: Settings, min_position: int | None) -> None:
        if min_position is None:
            return
        waited = await anyio.to_thread.run_sync(runtime.wait_for, min_position, self.names, settings.read_wait_seconds)
        if not waited:
            raise ProjectionLagging(self.names, min_position, settings.read_wait_seconds)


class ReadAt(ReadAfter):
    """The queries of projections (`queries(db)`): live after `?min_position`, as `ReadAfter`; or as
    they stood at `?as_of_position`, from an as-of build kept in a scratch area (`ledger projections
    build NAME... --as-of-position N`), so a published figure can be read again exactly. An as-of
    position nobody built is refused (409 `as_of_not_built`, naming the command that builds it)."""

    def __init__(self, queries: Callable[[ProjectionDB], Any], *names: str) -> None:
        super().__init__(*names)
        self.queries = queries

    async def __call__(  # type: ignore[override]
        self,
        runtime: Annotated[ProjectionRuntime, Depends(get_runtime)],
        settings: Annotated[Settings, Depends(get_settings)],
        min_position: MinPosition = None,
        as_of_position: Annotated[
            int | None,
            Query(ge=0, le=2**63 - 1, description="Read the projection as it stood at this position (an as-of "
                  "build of it must exist: `ledger projections build NAME --as-of-position N`)."),
        ] = None,
    ) -> AsyncIterator[Any]:
        if as_of_position is None:
            await self.wait(runtime, settings, min_position)
            yield self.queries(runtime.db)
            return
        if min_position is not None:
            raise Invalid("as_of_position", "give min_position or as_of_position, not both")
        db = await anyio.to_thread.run_sync(scratch.as_of, runtime.db, self.names, as_of_position)
        if db is None:
            raise RuleViolation(
                "as_of_not_built", f"no as-of build of {', '.join(self.names)} at position {as_of_position}; "
                f"build it with `ledger projections build {' '.join(self.names)} --as-of-position {as_of_position}`",
                projections=list(self.names), as_of_position=as_of_position)
        try:
            yield self.queries(db)
        finally:
            db.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
RuntimeDep = Annotated[ProjectionRuntime, Depends(get_runtime)]
ProvenanceDep = Annotated[Provenance, Depends(get_provenance)]
#: Routes that answer a person's record log each read with this.
ReadsDep = Annotated[RecordReads, Depends(get_record_reads)]
#: The `stock` projection's queries, after `?min_position` or as of `?as_of_position`.
StockRead = Annotated[StockQueries, Depends(ReadAt(StockQueries, "stock"))]
#: The `vaccination_history` projection's queries, after `?min_position` or as of `?as_of_position`.
HistoryRead = Annotated[VaccinationHistoryQueries, Depends(ReadAt(VaccinationHistoryQueries, "vaccination_history"))]
#: Reads of the `access_log` projection, after `?min_position`.
AccessLogFresh = Annotated[None, Depends(ReadAfter("access_log"))]
#: Reads of the `testing` projection (samples, results, the case register).
TestingFresh = Annotated[None, Depends(ReadAfter("testing"))]
#: Reads of the `tracing` projection.
TracingFresh = Annotated[None, Depends(ReadAfter("tracing"))]
#: Reads of a case's contacts: the `tracing` projection and the case register of `testing`.
CaseTracingFresh = Annotated[None, Depends(ReadAfter("tracing", "testing"))]
#: Reads of the `checkins` projection and the case register it joins.
CheckInsFresh = Annotated[None, Depends(ReadAfter("checkins", "testing"))]
#: The risk map's queries: its cases (`risk_map`) and the coverage counters of `vaccination_history`,
#: after `?min_position` or as of `?as_of_position`.
RiskMapRead = Annotated[RiskMapQueries, Depends(ReadAt(RiskMapQueries, "risk_map", "vaccination_history"))]
