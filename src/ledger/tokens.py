"""Bearer tokens: `lgr_<grant id, 32 hex>_<secret, 43 url-safe characters>`.

The grant id says which `AccessGrant` to load; the secret (256 random bits) is checked
against the SHA-256 kept in the grant. A plain hash suffices (no slow KDF) because the
secret is random, not a password someone chose; the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from uuid import UUID

_TOKEN = re.compile(r"^lgr_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(grant_id: UUID) -> tuple[str, str]:
    """A fresh token for `grant_id`, and the SHA-256 of its secret (all the grant keeps)."""
    secret = secrets.token_urlsafe(32)
    return f"lgr_{grant_id.hex}_{secret}", secret_sha256(secret)


def parse(token: str) -> tuple[UUID, str] | None:
    """(grant id, secret) of a well-formed token; None for anything else."""
    match = _TOKEN.match(token)
    return (UUID(match[1]), match[2]) if match else None


def matches(secret: str, expected_sha256: str) -> bool:
    return hmac.compare_digest(secret_sha256(secret), expected_sha256)
