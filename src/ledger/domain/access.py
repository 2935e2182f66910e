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
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
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


#: Why a caller reads a person's record (stated with every read, kept in the access log).
PURPOSES = frozenset({
    "vaccination",  # screening, dosing, certificates at a vaccination point
    "care",  # treatment or follow-up of the person
    "testing", "contact_tracing", "quarantine",  # the epidemic response
    "data_quality",  # corrections, duplicates, identity checks
    "administration",  # approvals, allocation, registration support
    "audit",  # auditors and inspectors
    "self",  # a citizen reading their own record
})
#: How long break-the-glass access lasts unless a shorter time is asked for.
BREAK_GLASS_DEFAULT_HOURS = 3
BREAK_GLASS_MAX_HOURS = 12


def check_purpose(purpose: object) -> str:
    if purpose not in PURPOSES:
        raise Invalid("X-Purpose", f"state the purpose of reading a person's record: one of {sorted(PURPOSES)}")
    return str(purpose)


class RecordAccess(LedgerAggregate):
    """One read of a person's record. Each read is its own aggregate (version 1, a random id), so
    logging reads never makes two readers of one record contend."""

    TOPIC = "ledger.access.RecordAccess"

    class Read(LedgerAggregate.Created, Stamped):
        """`actor` (token `grant_id`, in `role`) read `person_id` through `route`, for `purpose`;
        `break_glass_id` when the read was outside the token's scope."""

        TOPIC = "ledger.access.RecordRead"
        person_id: UUID
        grant_id: UUID
        role: str
        route: str
        purpose: str
        break_glass_id: UUID | None

    def __init__(self, person_id: UUID, grant_id: UUID, role: str, route: str, purpose: str,
                 break_glass_id: UUID | None) -> None:
        self.person_id = person_id
        self.grant_id = grant_id
        self.role = role
        self.route = route
        self.purpose = purpose
        self.break_glass_id = break_glass_id

    @classmethod
    def read(cls, *, access_id: UUID, person_id: UUID, grant_id: UUID, role: str, route: str, purpose: str,
             break_glass_id: UUID | None, prov: Provenance) -> RecordAccess:
        return cls._create(cls.Read, id=access_id, person_id=person_id, grant_id=grant_id, role=role, route=route,
                           purpose=check_purpose(purpose), break_glass_id=break_glass_id, **prov.fields())


class BreakGlass(LedgerAggregate):
    """Emergency access of one token to one person's record outside its scope, for a limited time and
    with a written reason. One aggregate per (token, person); every opening is an event kept for review."""

    TOPIC = "ledger.access.BreakGlass"

    class Opened(LedgerAggregate.Created, Stamped):
        """The glass was broken for the first time by this token on this record."""

        TOPIC = "ledger.access.BreakGlassOpened"
        person_id: UUID
        grant_id: UUID
        role: str
        reason: str
        expires_at: datetime

    class Reopened(Stamped):
        """The same token opened the same record again after an earlier opening had lapsed."""

        TOPIC = "ledger.access.BreakGlassReopened"
        reason: str
        expires_at: datetime

        def apply(self, glass: BreakGlass) -> None:
            glass.reason, glass.expires_at = self.reason, self.expires_at

    def __init__(self, person_id: UUID, grant_id: UUID, role: str, reason: str, expires_at: datetime) -> None:
        self.person_id = person_id
        self.grant_id = grant_id
        self.role = role
        self.reason = reason
        self.expires_at = expires_at

    @staticmethod
    def create_id(grant_id: UUID, person_id: UUID) -> UUID:
        return natural_id("break-glass", str(grant_id), str(person_id))

    @staticmethod
    def _check(role: str, reason: object, hours: object) -> str:
        if role in ("national_operator", "auditor", "citizen", "integrator"):
            raise RuleViolation("break_glass_not_for_role",
                                f"a {role} token cannot break the glass (it has no scope to step out of, or is not staff)")
        if not isinstance(reason, str) or len(reason.strip()) < 10:
            raise Invalid("reason", "write why the record must be opened (at least 10 characters)")
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not 0 < hours <= BREAK_GLASS_MAX_HOURS:
            raise Invalid("hours", f"hours must be more than 0 and at most {BREAK_GLASS_MAX_HOURS}")
        return reason.strip()

    @classmethod
    def open(cls, *, person_id: UUID, grant_id: UUID, role: str, reason: str, hours: float, prov: Provenance,
             now: datetime) -> BreakGlass:
        reason = cls._check(role, reason, hours)
        return cls._create(cls.Opened, id=cls.create_id(grant_id, person_id), person_id=person_id, grant_id=grant_id,
                           role=role, reason=reason, expires_at=now + timedelta(hours=hours), **prov.fields())

    def reopen(self, *, reason: str, hours: float, prov: Provenance, now: datetime) -> None:
        reason = self._check(self.role, reason, hours)
        if self.active(now):
            raise RuleViolation("break_glass_already_open", f"this record is open to this token until {self.expires_at}",
                                expires_at=self.expires_at.isoformat())
        self._record(self.Reopened, prov, reason=reason, expires_at=now + timedelta(hours=hours))

    def active(self, now: datetime) -> bool:
        return now < self.expires_at
