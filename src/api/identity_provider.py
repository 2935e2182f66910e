"""JWTs from an external identity provider (the national ID provider in the real deployment).

When `Settings` names the provider's public keys (a JWKS document), its issuer and the
audience it issues tokens for, `Authorization: Bearer <JWT>` is accepted beside the
ledger's own tokens. A JWT must be signed with one of the provider's keys (by `kid`), with
that key's asymmetric algorithm (never `none`, never a shared secret), name the issuer and
this audience, and carry `sub`, `exp` and `iat`; it is read within 30 s of clock skew.
The caller's organisation, role and scope come from the claims `org`, `ledger_role` and
`ledger_scope`, checked like a grant's. Anything else makes the token unusable (401).

A JWT cannot be revoked here: the provider keeps them short-lived. Its holder is logged
under a stable id derived from issuer and subject, so reads and break-the-glass openings
of one person stay together across their tokens.
"""

from __future__ import annotations

from typing import Any

import jwt

from ledger.domain import Invalid
from ledger.domain.access import check_scope
from ledger.domain.base import natural_id
from ledger.settings import Settings

from .permissions import Principal

#: Asymmetric algorithms only: with an HMAC algorithm a public key would become a shared secret.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
LEEWAY_SECONDS = 30


class IdentityProvider:
    def __init__(self, jwks: str, issuer: str, audience: str) -> None:
        self.keys = {key.key_id: key for key in jwt.PyJWKSet.from_json(jwks).keys if key.key_id}
        if not self.keys:
            raise ValueError("the identity provider's JWKS holds no key with a `kid`")
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> IdentityProvider | None:
        if not settings.jwt_jwks:
            return None
        assert settings.jwt_issuer and settings.jwt_audience  # ledger.secrets.check_secrets
        return cls(settings.jwt_jwks, settings.jwt_issuer, settings.jwt_audience)

    @staticmethod
    def looks_like_jwt(token: str) -> bool:
        return token.count(".") == 2

    def principal(self, token: str) -> Principal | None:
        """The caller a valid JWT stands for; None for any token that is not one."""
        try:
            header = jwt.get_unverified_header(token)
            key = self.keys[header["kid"]]
            algorithm = key.algorithm_name
            if algorithm not in ALGORITHMS or header.get("alg") != algorithm:
                return None
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                leeway=LEEWAY_SECONDS, options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            subject, org, role = claims["sub"], claims.get("org"), claims.get("ledger_role")
            if not (isinstance(subject, str) and subject and isinstance(org, str) and org):
                return None
            scope = check_scope(role, claims.get("ledger_scope") or {})
        except (jwt.PyJWTError, KeyError, TypeError, ValueError, Invalid):
            return None
        holder = natural_id("jwt", self.issuer, subject)
        return Principal(grant_id=holder, subject=subject, org=org, role=role, scope=scope)
