"""Schemas of contacts, quarantine orders (follow-ups, releases, the register) and health declarations."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, Field, StrictStr

from ledger.domain import codes

from .common import CommandBody, CommandResponse, RequestModel, ResponseModel, _enum

ContactLevel = _enum("ContactLevel", codes.CONTACT_LEVELS, "F1 (close contact of a case) or F2 (of an F1).")
Proximity = _enum("Proximity", codes.CONTACT_PROXIMITIES, "How close the contact was.")
QuarantineLevel = _enum("QuarantineLevel", codes.QUARANTINE_LEVELS, "Whom the order is for: F0, F1 or F2.")
ReleaseReason = _enum("ReleaseReason", codes.QUARANTINE_RELEASE_REASONS, "Why an order was released.")
Symptom = _enum("Symptom", codes.SYMPTOMS, "A symptom code.")
DeclarationKind = _enum("DeclarationKind", codes.DECLARATION_KINDS, "Domestic or entry declaration.")
DeclaredContactKind = _enum("DeclaredContactKind", codes.DECLARED_CONTACT_KINDS, "Kind of declared contact.")
Country = Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code.")]
Note = Annotated[StrictStr, Field(max_length=500)]


class ContactRecording(CommandBody):
    """The person in the path was exposed to `source_person_id` (an active case for F1, an F1 for F2)."""

    source_person_id: UUID
    level: ContactLevel
    proximity: Proximity
    masked: bool | None = Field(None, description="Required unless the contact was physical.")
    duration_minutes: int | None = Field(None, ge=0, le=20160, strict=True,
                                         description="Required unless the contact was physical.")
    exposed_at: AwareDatetime
    checkin_id: UUID | None = None


class QuarantineOrdering(CommandBody):
    """Order quarantine under the policy of the identification day; `ends_on` overrides the computed end."""

    level: QuarantineLevel
    ends_on: date | None = None
    override_reason: Annotated[StrictStr, Field(min_length=3, max_length=500)] | None = None


class FollowUp(CommandBody):
    """A day's check of a person under an order."""

    day: date
    symptoms: list[Symptom] = Field(default_factory=list, max_length=20)
    temperature_c: float | None = Field(None, ge=30, le=45, allow_inf_nan=False)
    sample_id: UUID | None = Field(None, description="A sample of this person taken that day.")
    note: Annotated[StrictStr, Field(max_length=1000)] | None = None


class Release(CommandBody):
    released_on: date
    reason: ReleaseReason


class Travel(RequestModel):
    country: Country
    place: Annotated[StrictStr, Field(max_length=200)] | None = None
    from_: date = Field(alias="from")
    to: date


class DeclaredContact(RequestModel):
    kind: DeclaredContactKind
    on: date
    note: Note | None = None


class Entry(RequestModel):
    port_of_entry: Annotated[StrictStr, Field(min_length=2, max_length=100)]
    from_country: Country
    flight: Annotated[StrictStr, Field(pattern=r"^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$")] | None = None
    arrival_on: date


class HealthDeclaration(CommandBody):
    """A domestic or entry declaration (`entry` for an entry declaration only)."""

    kind: DeclarationKind
    symptoms: list[Symptom] = Field(default_factory=list, max_length=20)
    travel: list[Travel] = Field(default_factory=list, max_length=50)
    contact_history: list[DeclaredContact] = Field(default_factory=list, max_length=50)
    entry: Entry | None = None


class TracingChanged(CommandResponse):
    """`ids`: `person_id` and the record created or changed (`contact_id`, `order_id` with `policy_id`,
    `declaration_id`)."""


class ContactRow(ResponseModel):
    contact_id: str
    person_id: str
    level: str
    case_id: str
    source_person_id: str
    proximity: str
    masked: bool | None
    duration_minutes: int | None
    exposed_at: str
    identified_at: str
    checkin_id: str | None


class OrderRow(ResponseModel):
    order_id: str
    person_id: str
    province_code: str | None
    level: str
    policy_id: str
    basis: dict[str, Any]
    starts_on: date
    ends_on: date
    monitoring_ends_on: date
    test_days: list[date]
    setting: str
    provisional: bool
    status: str
    released_on: date | None
    release_reason: str | None
    follow_ups: int
    last_follow_up_on: date | None


class RegisterRow(OrderRow):
    test_due: bool
    release_due: bool


class RegisterPage(ResponseModel):
    items: list[RegisterRow]
    next: str | None


class CaseContactsOut(ResponseModel):
    case_id: str
    contacts: list[ContactRow]


class PersonTracingOut(ResponseModel):
    person_id: str
    contacts: list[ContactRow]
    orders: list[OrderRow]


class DeclarationRow(ResponseModel):
    declaration_id: str
    kind: str
    declared_at: str
    symptoms: list[str]
    travel: list[dict[str, Any]]
    contact_history: list[dict[str, Any]]
    entry: dict[str, Any] | None


class DeclarationsOut(ResponseModel):
    person_id: str
    declarations: list[DeclarationRow]
