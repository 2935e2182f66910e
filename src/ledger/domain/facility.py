"""Facilities: warehouses, district health centres, vaccination points, labs and venues."""

from __future__ import annotations

import re
from uuid import UUID

from .base import LedgerAggregate, Provenance, Stamped, natural_id
from .codes import FACILITY_KINDS, require_code
from .errors import Invalid

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
_PROVINCE = re.compile(r"^[0-9]{2}$")
_DISTRICT = re.compile(r"^[0-9]{3}$")
_WARD = re.compile(r"^[0-9]{5}$")


def check_area(province_code: str, district_code: str | None, ward_code: str | None) -> None:
    """Administrative codes as the General Statistics Office numbers them (2/3/5 digits)."""
    if not isinstance(province_code, str) or not _PROVINCE.match(province_code):
        raise Invalid("province_code", "province_code must be 2 digits")
    if district_code is not None and (not isinstance(district_code, str) or not _DISTRICT.match(district_code)):
        raise Invalid("district_code", "district_code must be 3 digits")
    if ward_code is not None and (not isinstance(ward_code, str) or not _WARD.match(ward_code)):
        raise Invalid("ward_code", "ward_code must be 5 digits")


class Facility(LedgerAggregate):
    """A place that holds stock, vaccinates, tests or hosts check-ins; identified by its code."""

    TOPIC = "ledger.facility.Facility"

    class Registered(LedgerAggregate.Created, Stamped):
        """A facility was registered with its kind, area and parent."""

        TOPIC = "ledger.facility.Registered"
        code: str
        name: str
        kind: str
        province_code: str
        district_code: str | None
        ward_code: str | None
        parent_id: UUID | None

    def __init__(
        self,
        code: str,
        name: str,
        kind: str,
        province_code: str,
        district_code: str | None,
        ward_code: str | None,
        parent_id: UUID | None,
    ) -> None:
        self.code = code
        self.name = name
        self.kind = kind
        self.province_code = province_code
        self.district_code = district_code
        self.ward_code = ward_code
        self.parent_id = parent_id

    @staticmethod
    def create_id(code: str) -> UUID:
        return natural_id("facility", code.upper())

    @classmethod
    def register(
        cls,
        *,
        code: str,
        name: str,
        kind: str,
        province_code: str,
        district_code: str | None,
        ward_code: str | None,
        parent: Facility | None,
        prov: Provenance,
    ) -> Facility:
        if not isinstance(code, str) or not _CODE.match(code):
            raise Invalid("code", "code must be 2-64 letters, digits, '.', '_' or '-'")
        if not isinstance(name, str) or not name.strip():
            raise Invalid("name", "name is required")
        require_code("kind", kind, FACILITY_KINDS)
        check_area(province_code, district_code, ward_code)
        return cls._create(
            cls.Registered,
            id=cls.create_id(code),
            code=code.upper(),
            name=name.strip(),
            kind=kind,
            province_code=province_code,
            district_code=district_code,
            ward_code=ward_code,
            parent_id=parent.id if parent else None,
            **prov.fields(),
        )
