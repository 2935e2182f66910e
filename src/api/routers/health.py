"""Health checks for orchestrators: liveness (the process answers) and readiness (the store answers)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response

from ..deps import LedgerDep
from ..errors import STORE_RETRY_AFTER, problem, problem_responses
from ..schemas import Liveness, Readiness

log = logging.getLogger(__name__)
router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Liveness)
def live() -> dict[str, Any]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses=problem_responses(503))
def ready(ledger: LedgerDep) -> dict[str, Any] | Response:
    """200 when the event store answers; 503 `store_unavailable` otherwise."""
    try:
        head = ledger.head()
    except Exception as exc:  # any failure means "not ready": the probe must answer, not crash
        log.warning("readiness check failed", exc_info=exc)
        return problem(503, "store_unavailable", f"the event store does not answer: {type(exc).__name__}",
                       title="Store unavailable", headers={"Retry-After": str(STORE_RETRY_AFTER)})
    return {"status": "ok", "head": head}
