"""Authentication and authorisation of every API call but the health checks.

`authorize` is attached to every router (`api.app`): it reads `Authorization: Bearer
<token>`, asks the ledger for the token's grant (`Ledger.authenticate`: a revocation refuses
every later write at once, and plain reads within a second) or, for a JWT, the configured identity provider
(`api.identity_provider`), checks the route's permission (`api.permissions`) against
the request, and leaves the `Principal` on `request.state` for the routes' provenance.

A refused call changes nothing and reveals nothing: 401 for a missing, malformed, unknown,
forged, expired or revoked token (all alike, with `WWW-Authenticate: Bearer`); 403 for a
valid token outside its role or scope, whether or not the record named exists. A staff token
outside its scope may still read a person's record its holder broke the glass for
(`POST /v1/people/{id}/break-glass`, with a reason, for a few hours); such reads are logged
with the opening's id.
"""

from __future__ import annotations

from uuid import UUID

import anyio.to_thread
from fastapi import Request
from fastapi.routing import APIRoute

from ledger.application import CALLER_GRANT, Ledger, NotCached

from .identity_provider import IdentityProvider
from .permissions import BREAK_GLASS_ROUTES, PERMISSIONS, NeedsStore, Principal, Target


class Unauthenticated(Exception):
    """No usable credentials (401)."""


class Forbidden(Exception):
    """Valid credentials, outside their role or scope (403)."""


def _caller(ledger: Ledger, provider: IdentityProvider | None, token: str, inline: bool) -> Principal:
    """Who a token stands for: one of the ledger's own (`lgr_...`), or a JWT of the identity provider."""
    if provider is not None and provider.looks_like_jwt(token):
        principal = provider.principal(token)
        if principal is None:
            raise Unauthenticated
        return principal
    try:
        grant = ledger.authenticate(token, cached_only=inline)
    except NotCached:
        raise NeedsStore from None
    if grant is None:
        raise Unauthenticated
    return Principal(grant_id=grant.id, subject=grant.subject, org=grant.grant_org, role=grant.role,
                     scope=dict(grant.scope), grant_version=grant.version)


def _check(
    ledger: Ledger, provider: IdentityProvider | None, token: str, route: str, params: dict[str, str], body: object,
    inline: bool = False,
) -> tuple[Principal, UUID | None]:
    """The caller, and the break-the-glass opening its request relies on (None within scope).

    `inline`: on the event loop, from memory only; `NeedsStore` if the store must be read
    (a grant not cached, a scope check that looks a fact up, a break-the-glass fallback)."""
    principal = _caller(ledger, provider, token, inline)
    permission = PERMISSIONS[route]
    if permission.allows(principal, Target(params, body, None if inline else ledger)):
        return principal, None
    if route in BREAK_GLASS_ROUTES and principal.role in permission.roles:
        if inline:
            raise NeedsStore
        # Outside scope: a record its holder broke the glass for (with a reason, for a few hours) opens.
        try:
            glass = ledger.open_glass(principal.grant_id, UUID(params["person_id"]))
        except ValueError:
            glass = None
        if glass is not None:
            return principal, glass.id
    raise Forbidden


async def authorize(request: Request) -> None:
    """Router dependency: authenticate the caller and check the route's permission."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated
    route = request.scope.get("route")
    assert isinstance(route, APIRoute), "authorize runs only on API routes"
    body: object = None
    if request.method in ("POST", "PUT", "PATCH"):
        try:
            body = await request.json()
        except (ValueError, RecursionError):
            body = None  # malformed JSON: the route answers 422 if the caller may call it at all
    args = (request.app.state.ledger, request.app.state.identity_provider, token.strip(), route.name,
            dict(request.path_params), body)
    try:
        # Most requests need nothing from the store (a cached grant, a scope in the token): no thread hop.
        principal, request.state.break_glass_id = _check(*args, inline=True)
    except NeedsStore:
        principal, request.state.break_glass_id = await anyio.to_thread.run_sync(_check, *args)
    request.state.principal = principal
    if principal.grant_version is not None:
        # Set in the request's context, which the route's worker thread runs in: every command of
        # this request carries the grant in its read set (a revocation refuses it, even mid-command).
        CALLER_GRANT.set((principal.grant_id, principal.grant_version))
