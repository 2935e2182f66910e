"""Vaccine lots: what a vial is, until when it may be used, and whether it was recalled."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from ..policies.vaccines import VACCINE_CODES
from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import LOT_RECALL_REASONS, require_code
from .errors import Invalid, RuleViolation


class VaccineLot(LedgerAggregate):
    """One manufacturer's lot of one vaccine; identified by manufacturer + lot number."""

    TOPIC = "ledger.lot.VaccineLot"

    class Registered(LedgerAggregate.Created, Stamped):
        """A vaccine lot was registered with its vaccine, expiry and doses per vial."""

        TOPIC = "ledger.lot.Registered"
        vaccine: str
        manufacturer: str
        lot_number: str
        expiry: date
        doses_per_vial: int

    class Recalled(Stamped):
        """The lot was recalled: no further dose may be given from it."""

        TOPIC = "ledger.lot.Recalled"
        reason: str
        note: str | None

        def apply(self, lot: VaccineLot) -> None:
            lot.recalled = True

    class ExpiryExtended(Stamped):
        """The regulator extended the lot's expiry date."""

        TOPIC = "ledger.lot.ExpiryExtended"
        expiry: date
        document: str

        def apply(self, lot: VaccineLot) -> None:
            lot.expiry = self.expiry

    def __init__(self, vaccine: str, manufacturer: str, lot_number: str, expiry: date, doses_per_vial: int) -> None:
        self.vaccine = vaccine
        self.manufacturer = manufacturer
        self.lot_number = lot_number
        self.expiry = expiry
        self.doses_per_vial = doses_per_vial
        self.recalled = False

    @staticmethod
    def create_id(manufacturer: str, lot_number: str) -> UUID:
        return natural_id("lot", manufacturer.strip().lower(), lot_number.strip().upper())

    @classmethod
    def register(
        cls,
        *,
        vaccine: str,
        manufacturer: str,
        lot_number: str,
        expiry: date,
        doses_per_vial: int,
        prov: Provenance,
    ) -> VaccineLot:
        require_code("vaccine", vaccine, VACCINE_CODES)
        if not isinstance(manufacturer, str) or not manufacturer.strip():
            raise Invalid("manufacturer", "manufacturer is required")
        if not isinstance(lot_number, str) or not lot_number.strip() or len(lot_number) > 64:
            raise Invalid("lot_number", "lot_number is required (at most 64 characters)")
        if not isinstance(expiry, date):
            raise Invalid("expiry", "expiry must be a date")
        if not isinstance(doses_per_vial, int) or not 1 <= doses_per_vial <= 20:
            raise Invalid("doses_per_vial", "doses_per_vial must be between 1 and 20")
        return cls._create(
            cls.Registered,
            id=cls.create_id(manufacturer, lot_number),
            vaccine=vaccine,
            manufacturer=manufacturer.strip(),
            lot_number=lot_number.strip().upper(),
            expiry=expiry,
            doses_per_vial=doses_per_vial,
            **prov.fields(),
        )

    def recall(self, *, reason: str, note: str | None, prov: Provenance) -> None:
        require_code("reason", reason, LOT_RECALL_REASONS)
        if self.recalled:
            raise RuleViolation("lot_already_recalled", f"lot {self.lot_number} is already recalled")
        self._record(self.Recalled, prov, reason=reason, note=note)

    def extend_expiry(self, *, expiry: date, document: str, prov: Provenance) -> None:
        if not isinstance(expiry, date):
            raise Invalid("expiry", "expiry must be a date")
        if not document or not isinstance(document, str):
            raise Invalid("document", "the regulator's document is required")
        if expiry <= self.expiry:
            raise RuleViolation("expiry_extension_must_extend", f"new expiry must be after {self.expiry}")
        self._record(self.ExpiryExtended, prov, expiry=expiry, document=document)

    def check_usable(self, on: date) -> None:
        """Refuse a dose from this lot on `on` if it is recalled or expired (DOMAIN §4)."""
        if self.recalled:
            raise RuleViolation("lot_recalled", f"lot {self.lot_number} is recalled", lot_id=str(self.id))
        if on > self.expiry:
            raise RuleViolation(
                "lot_expired", f"lot {self.lot_number} expired on {self.expiry}", lot_id=str(self.id)
            )
