"""Access grants: who may call the API, in which role, over which scope.

A grant is what a bearer token stands for. Issuing and revoking one are events like any
other, so the log answers who granted what to whom and when. The grant keeps only the
SHA-256 of the token's secret: the token itself is shown once, when it is issued.

Roles and the scope each one needs (DESIGN §9):

| role | scope | may |
|---|---|---|
| `vaccinator` | `facility_id` (a vaccination point) | record vaccination facts at that point |
| `warehouse_clerk` | `facility_id` (a stock-holding facility) | record stock movements there |
| `lab` | `facility_id` (a lab) | record test facts of that lab |
| `provincial` | `province_code` | act for the provincial health department |
| `national_operator` | none | everything except audit-only reads |
| `auditor` | none | read everything, write nothing |
| `integrator` | `event_types` (topics), optional `province_codes` | read the streams it was granted |
| `citizen` | `person_id` | read their own record |
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped
from .errors import Invalid, RuleViolation

ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "vaccinator": ("facility_id",),
    "warehouse_clerk": ("facility_id",),
    "lab": ("facility_id",),
    "provincial": ("province_code",),
    "national_operator": (),
    "auditor": (),
    "integrator": ("event_types",),
    "citizen": ("person_id",),
}
ROLES = frozenset(ROLE_SCOPES)
_OPTIONAL_SCOPE = {"integrator": ("province_codes",)}
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:-]{0,199}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")
_PROVINCE = re.compile(r"^[0-9]{2}$")


def _uuid_text(field: str, value: object) -> str:
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise Invalid(field, f"{field} must be a UUID") from None


def check_scope(role: str, scope: object) -> dict[str, Any]:
    """The scope a role needs, validated and normalised; anything else is refused by field."""
    if role not in ROLE_SCOPES:
        raise Invalid("role", f"role must be one of {sorted(ROLES)}")
    if not isinstance(scope, dict):
        raise Invalid("scope", "scope must be an object")
    allowed = ROLE_SCOPES[role] + _OPTIONAL_SCOPE.get(role, ())
    extra = sorted(set(scope) - set(allowed))
    if extra:
        raise Invalid(f"scope.{extra[0]}", f"a {role} grant takes only {list(allowed) or 'no scope'}")
    clean: dict[str, Any] = {}
    for name in allowed:
        value = scope.get(name)
        if value is None:
            if name in ROLE_SCOPES[role]:
                raise Invalid(f"scope.{name}", f"a {role} grant needs scope.{name}")
            continue
        if name in ("facility_id", "person_id"):
            clean[name] = _uuid_text(f"scope.{name}", value)
        elif name == "province_code":
            if not isinstance(value, str) or not _PROVINCE.match(value):
                raise Invalid("scope.province_code", "province_code must be 2 digits")
            clean[name] = value
        else:  # event_types, province_codes: non-empty lists of strings
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise Invalid(f"scope.{name}", f"scope.{name} must be a non-empty list of strings")
            clean[name] = sorted(set(value))
    return clean


class AccessGrant(LedgerAggregate):
    """The grant behind one bearer token: subject, organisation, role, scope, expiry, revocation."""

    TOPIC = "ledger.access.AccessGrant"

    class Issued(LedgerAggregate.Created, Stamped):
        """A token was issued to `subject` (acting for `org`) in `role` over `scope`."""

        TOPIC = "ledger.access.Issued"
        subject: str
        grant_org: str
        role: str
        scope: dict
        secret_sha256: str
        expires_at: datetime | None
        label: str | None

    class Revoked(Stamped):
        """The token was revoked; it is refused from the next request on."""

        TOPIC = "ledger.access.Revoked"
        reason: str

        def apply(self, grant: AccessGrant) -> None:
            grant.revoked = True

    def __init__(
        self, subject: str, grant_org: str, role: str, scope: dict, secret_sha256: str, expires_at: datetime | None,
        label: str | None,
    ) -> None:
        self.subject = subject
        self.grant_org = grant_org
        self.role = role
        self.scope = scope
        self.secret_sha256 = secret_sha256
        self.expires_at = expires_at
        self.label = label
        self.revoked = False

    @classmethod
    def issue(
        cls, *, grant_id: UUID, subject: str, org: str, role: str, scope: dict, secret_sha256: str,
        expires_at: datetime | None, label: str | None, prov: Provenance, now: datetime,
    ) -> AccessGrant:
        if not isinstance(subject, str) or not _SUBJECT.match(subject):
            raise Invalid("subject", "subject must be 1-200 letters, digits or @._:- (a user or service id)")
        if not isinstance(org, str) or not org.strip() or len(org) > 200:
            raise Invalid("org", "org is required (at most 200 characters)")
        clean = check_scope(role, scope)
        if not isinstance(secret_sha256, str) or not _HASH.match(secret_sha256):
            raise Invalid("secret_sha256", "the secret's SHA-256 must be 64 lowercase hex digits")
        if expires_at is not None and (expires_at.tzinfo is None or expires_at <= now):
            raise Invalid("expires_at", "expires_at must carry a time zone and lie in the future")
        if label is not None and (not isinstance(label, str) or len(label) > 200):
            raise Invalid("label", "label is at most 200 characters")
        return cls._create(
            cls.Issued, id=grant_id, subject=subject, grant_org=org.strip(), role=role, scope=clean,
            secret_sha256=secret_sha256, expires_at=expires_at, label=label, **prov.fields(),
        )

    def revoke(self, *, reason: str, prov: Provenance) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise Invalid("reason", "a reason is required to revoke a token")
        if self.revoked:
            raise RuleViolation("token_already_revoked", "this token was already revoked")
        self._record(self.Revoked, prov, reason=reason.strip())

    def active(self, now: datetime) -> bool:
        """Usable at `now`: not revoked and not expired."""
        return not self.revoked and (self.expires_at is None or now < self.expires_at)
