"""One router per resource, each under its own prefix."""

from fastapi import APIRouter

from . import access, facilities, health, lots, people, projections, stock, transfers, vaccination

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    facilities.router,
    lots.router,
    stock.router,
    transfers.router,
    people.router,
    vaccination.router,
    access.router,
    projections.router,
)
