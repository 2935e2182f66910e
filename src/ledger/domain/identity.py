"""Identity keys: one person per identity document (id type + number).

A person's id number can be corrected, so uniqueness cannot rest on the person's own
id alone: each document number is its own small aggregate, claimed by one person at a
time and saved atomically with that person. Two concurrent registrations of the same
number collide on the key's first version, and only one wins.
"""

from __future__ import annotations

import re
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import ID_TYPES, require_code
from .errors import Invalid, RuleViolation

ID_FORMATS = {
    "cccd": re.compile(r"^[0-9]{12}$"),  # citizen identity card: 12 digits
    "cmnd": re.compile(r"^([0-9]{9}|[0-9]{12})$"),  # older identity card: 9 or 12 digits
    "passport": re.compile(r"^[A-Z0-9]{6,9}$"),
    "insurance": re.compile(r"^([A-Z]{2}[0-9]{13}|[0-9]{10})$"),  # card number or social insurance code
}


def normalise_id_number(id_type: str, id_number: str | None) -> str | None:
    """Validate an id number against its type's format; `none` has no number."""
    require_code("id_type", id_type, ID_TYPES)
    if id_type == "none":
        if id_number:
            raise Invalid("id_number", "id_type 'none' takes no id_number")
        return None
    if not isinstance(id_number, str):
        raise Invalid("id_number", f"id_number is required for id_type {id_type}")
    number = id_number.strip().upper().replace(" ", "")
    if not ID_FORMATS[id_type].match(number):
        raise Invalid("id_number", f"id_number is not a valid {id_type} number")
    return number


class IdentityKey(LedgerAggregate):
    """An identity document number and the person who holds it."""

    TOPIC = "ledger.identity.IdentityKey"

    class Claimed(LedgerAggregate.Created, Stamped):
        """A person registered with, or was corrected to, this document number."""

        TOPIC = "ledger.identity.Claimed"
        id_type: str
        person_id: UUID

    class Reclaimed(Stamped):
        """A released number was claimed again by a person."""

        TOPIC = "ledger.identity.Reclaimed"
        person_id: UUID

        def apply(self, key: IdentityKey) -> None:
            key.person_id = self.person_id

    class Released(Stamped):
        """The person holding this number was corrected to another number."""

        TOPIC = "ledger.identity.Released"

        def apply(self, key: IdentityKey) -> None:
            key.person_id = None

    def __init__(self, id_type: str, person_id: UUID) -> None:
        self.id_type = id_type
        self.person_id: UUID | None = person_id

    @staticmethod
    def create_id(id_type: str, id_number: str) -> UUID:
        return natural_id("identity", id_type, id_number)

    @classmethod
    def claim(cls, *, id_type: str, id_number: str, person_id: UUID, prov: Provenance) -> IdentityKey:
        return cls._create(
            cls.Claimed, id=cls.create_id(id_type, id_number), id_type=id_type, person_id=person_id, **prov.fields()
        )

    def reclaim(self, *, person_id: UUID, prov: Provenance) -> None:
        if self.person_id is not None:
            raise RuleViolation(
                "one_person_per_id_number",
                "another person is registered with this id number",
                person_id=str(self.person_id),
            )
        self._record(self.Reclaimed, prov, person_id=person_id)

    def release(self, *, person_id: UUID, prov: Provenance) -> None:
        """The holder gives the number up (its own number was corrected to another)."""
        if self.person_id != person_id:
            raise RuleViolation(
                "identity_key_not_held", "only the person holding an id number can give it up"
            )
        self._record(self.Released, prov)
