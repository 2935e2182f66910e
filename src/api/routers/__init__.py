"""One router per resource, each under its own prefix."""

from fastapi import APIRouter

from . import (
    access,
    checkins,
    facilities,
    health,
    imports,
    lots,
    people,
    projections,
    risk_map,
    stock,
    testing,
    tracing,
    transfers,
    vaccination,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    facilities.router,
    lots.router,
    stock.router,
    transfers.router,
    people.router,
    vaccination.router,
    testing.router,
    tracing.router,
    checkins.router,
    imports.router,
    risk_map.router,
    access.router,
    projections.router,
)
