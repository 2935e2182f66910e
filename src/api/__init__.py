"""The HTTP API of the ledger: FastAPI over the `Ledger` service layer and the projections.

`create_app(settings)` builds the application; its lifespan opens the event store and the
projection runtime and closes them on shutdown. One router per resource lives in
`api.routers`, request and response schemas in `api.schemas` (never the domain events),
and `api.errors` maps the ledger's errors once to RFC 9457 `application/problem+json`.
Writes answer the ids they touched and the `position` of their last event; reads that
come from a projection accept `min_position` and wait (bounded) until it is reached.
"""
