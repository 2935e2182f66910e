"""Secrets at start-up: the cipher key that encrypts stored events, checked before anything opens.

Production (`LEDGER_ENV=production`) refuses to start without a key, and refuses keys that
are placeholders (a documented example, the same byte repeated, a word such as
"changeme"); development and the embedded demo may run without one, and the demo makes
its own (`var/ledger.key`) when it creates a new store.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from .settings import Settings

_PLACEHOLDER_WORDS = ("change", "secret", "example", "placeholder", "default", "xxxx", "test", "dummy")


class SecretsError(RuntimeError):
    """The configured secrets cannot be used (the message says which and why, never the value)."""


def key_bytes(key: str) -> bytes:
    try:
        raw = base64.b64decode(key.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise SecretsError("LEDGER_CIPHER_KEY is not base64") from None
    if len(raw) not in (16, 24, 32):
        raise SecretsError(f"LEDGER_CIPHER_KEY must encode 16, 24 or 32 bytes, not {len(raw)}")
    return raw


def is_placeholder(key: str) -> bool:
    lowered = key.lower()
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    raw = key_bytes(key)
    # Random bytes are all printable text with a chance of about 1e-14 for 32 bytes: such a key was typed.
    typed = all(32 <= b < 127 for b in raw)
    return typed or len(set(raw)) <= 2 or raw == bytes(range(len(raw)))


def check_secrets(settings: Settings) -> None:
    """Refuse to run with an unusable key anywhere, and without a real one in production."""
    if settings.cipher_key is not None:
        key_bytes(settings.cipher_key)
    jwt = (settings.jwt_jwks, settings.jwt_issuer, settings.jwt_audience)
    if any(jwt) and not all(jwt):
        raise SecretsError("an external identity provider needs LEDGER_JWT_JWKS (or _FILE), LEDGER_JWT_ISSUER "
                           "and LEDGER_JWT_AUDIENCE together: a JWT is only accepted for the audience it names")
    if not settings.production:
        return
    if settings.cipher_key is None:
        raise SecretsError("production needs LEDGER_CIPHER_KEY (or LEDGER_CIPHER_KEY_FILE): stored events hold "
                           "people's health records and are encrypted at rest")
    if is_placeholder(settings.cipher_key):
        raise SecretsError("LEDGER_CIPHER_KEY is a placeholder; generate one with "
                           "`python -c 'import os,base64; print(base64.b64encode(os.urandom(32)).decode())'`")


def new_key_file(path: Path) -> str:
    """Generate a 256-bit key into `path` (mode 0600) and return it."""
    key = base64.b64encode(os.urandom(32)).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key
