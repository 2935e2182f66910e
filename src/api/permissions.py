"""Who may call which route: every route's permission, in this one table.

`PERMISSIONS` maps each route (by name) to the roles allowed and, for roles with a scope,
what in the request the scope is checked against. `api.app` refuses to start if a route
has no entry, and a test walks the OpenAPI document to prove every route answers 401
without a token, so a new route cannot be left open by accident. Only the health checks
and the OpenAPI document itself are public.

Scopes (see `ledger.domain.access`): a vaccinator, warehouse clerk or lab acts at its
facility; a provincial department in its province (through the facility, the person's
address, or the province named in the body); a citizen on its own record. National
operators and auditors have no scope; auditors only read. A request outside scope is 403
whether or not the record it names exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.application import Ledger
from ledger.domain import LedgerError

#: Public routes: liveness and readiness (the OpenAPI document and docs are not API routes).
PUBLIC = frozenset({"live", "ready"})


@dataclass(frozen=True)
class Principal:
    """The caller, as its token's grant describes it."""

    grant_id: UUID
    subject: str
    org: str
    role: str
    scope: Mapping[str, Any]
    #: The version of the ledger grant read (None for an identity provider's JWT): see `CALLER_GRANT`.
    grant_version: int | None = None


class NeedsStore(Exception):
    """A permission check needs to read the store (it cannot be made on the event loop)."""


class Target:
    """What a scope is checked against: the request's path parameters and body, and the ledger
    for the facts they point to (a transfer's locations, a person's province). Lookups that
    fail (unknown ids, malformed values) count as outside every scope."""

    def __init__(self, params: Mapping[str, str], body: Any, ledger: Ledger | None) -> None:
        self.params = params
        self.body = body if isinstance(body, dict) else {}
        self._ledger = ledger

    @property
    def ledger(self) -> Ledger:
        """The ledger, for checks that look facts up; without one (a check tried on the event
        loop, `api.auth`), `NeedsStore`."""
        if self._ledger is None:
            raise NeedsStore
        return self._ledger

    def value(self, name: str) -> Any:
        return self.params[name] if name in self.params else self.body.get(name)

    def uuid(self, name: str) -> UUID | None:
        try:
            return UUID(str(self.value(name)))
        except ValueError:
            return None

    def facility_province(self, facility_id: UUID | None) -> str | None:
        return self.ledger.facility(facility_id).province_code if facility_id else None

    def person_province(self, person_id: UUID | None) -> str | None:
        return self.ledger.person(person_id).address.get("province_code") if person_id else None


#: A scope check: (principal, target) -> allowed. Only called for roles that have a scope.
Check = Callable[[Principal, Target], bool]


def _facility_is(principal: Principal, target: Target, facility_id: UUID | None) -> bool:
    if principal.role == "provincial":
        return target.facility_province(facility_id) == principal.scope["province_code"]
    return facility_id is not None and str(facility_id) == principal.scope.get("facility_id")


def at_facility(field: str) -> Check:
    """The facility named by `field` (path or body) is the caller's, or in its province."""
    return lambda p, t: _facility_is(p, t, t.uuid(field))


def at_transfer(end: str) -> Check:
    """The transfer in the path leaves from (`source`) or arrives at (`destination`) the caller's facility."""

    def check(p: Principal, t: Target) -> bool:
        transfer_id = t.uuid("transfer_id")
        transfer = t.ledger.transfer(transfer_id) if transfer_id else None
        return transfer is not None and _facility_is(p, t, getattr(transfer, f"{end}_id"))

    return check


def at_dose_facility(p: Principal, t: Target) -> bool:
    """The dose in the path was given at the caller's facility (or in its province)."""
    person_id, dose_id = t.uuid("person_id"), t.uuid("dose_id")
    if person_id is None or dose_id is None:
        return False
    return _facility_is(p, t, UUID(t.ledger.person(person_id).dose(dose_id)["facility_id"]))


def in_province(field: str) -> Check:
    """The province code named by `field` is the caller's."""
    return lambda p, t: t.value(field) == p.scope.get("province_code")


def of_person(p: Principal, t: Target) -> bool:
    """The person in the path is the caller (a citizen), or lives in its province; staff at a
    facility serve anyone who comes, so their scope does not narrow whom they may look up."""
    person_id = t.uuid("person_id")
    if p.role == "citizen":
        return person_id is not None and str(person_id) == p.scope["person_id"]
    if p.role == "provincial":
        return t.person_province(person_id) == p.scope["province_code"]
    return True


def anywhere(p: Principal, t: Target) -> bool:
    """No narrowing by scope (reference data, searches by document)."""
    return True


@dataclass(frozen=True)
class Permission:
    roles: frozenset[str]
    check: Check = anywhere

    def allows(self, principal: Principal, target: Target) -> bool:
        """Whether the principal may make this request. Unscoped roles pass on role alone."""
        if principal.role not in self.roles:
            return False
        if not principal.scope:
            return True
        try:
            return bool(self.check(principal, target))
        except (LedgerError, KeyError, ValueError):
            return False


def _p(*roles: str, check: Check = anywhere) -> Permission:
    return Permission(frozenset(roles), check)


#: Reads of a person's record that a break-the-glass opening lets a staff token make outside its scope.
BREAK_GLASS_ROUTES = frozenset({"get_person", "vaccination_history"})

NATIONAL = "national_operator"
READERS = ("vaccinator", "warehouse_clerk", "lab", "provincial", NATIONAL, "auditor")
STOCK_KEEPERS = ("warehouse_clerk", "provincial", NATIONAL)

PERMISSIONS: dict[str, Permission] = {
    # reference data
    "register_facility": _p("provincial", NATIONAL, check=in_province("province_code")),
    "get_facility": _p(*READERS),
    "register_lot": _p(NATIONAL),
    "get_lot": _p(*READERS),
    "recall_lot": _p(NATIONAL),
    # supply chain
    "receive_stock": _p(*STOCK_KEEPERS, check=at_facility("facility_id")),
    "adjust_stock": _p(*STOCK_KEEPERS, check=at_facility("facility_id")),
    "count_stock": _p(*STOCK_KEEPERS, "vaccinator", check=at_facility("facility_id")),
    "reverse_movement": _p(*STOCK_KEEPERS, check=at_facility("facility_id")),
    "list_stock_levels": _p(*READERS),
    "stock_totals": _p(*READERS),
    "get_stock_card": _p(*READERS),
    "dispatch_transfer": _p(*STOCK_KEEPERS, check=at_facility("source_id")),
    "receive_transfer": _p(*STOCK_KEEPERS, check=at_transfer("destination")),
    "cancel_transfer": _p(*STOCK_KEEPERS, check=at_transfer("source")),
    "get_transfer": _p(*READERS),
    # people
    "register_person": _p("vaccinator", "provincial", NATIONAL),
    "find_person": _p("vaccinator", "provincial", NATIONAL, "auditor"),
    "get_person": _p("vaccinator", "provincial", NATIONAL, "auditor", "citizen", check=of_person),
    "correct_person": _p("vaccinator", "provincial", NATIONAL, check=of_person),
    "verify_identity": _p("vaccinator", "provincial", NATIONAL, check=of_person),
    "merge_people": _p("provincial", NATIONAL, check=of_person),
    "revert_merge": _p("provincial", NATIONAL, check=of_person),
    # vaccination
    "register_for_vaccination": _p("vaccinator", "provincial", NATIONAL, "citizen", check=of_person),
    "approve_vaccination": _p("provincial", NATIONAL, check=in_province("province_code")),
    "screen": _p("vaccinator", NATIONAL, check=at_facility("facility_id")),
    "administer_dose": _p("vaccinator", NATIONAL, check=at_facility("facility_id")),
    "complete_observation": _p("vaccinator", NATIONAL, check=at_dose_facility),
    "void_dose": _p("vaccinator", "provincial", NATIONAL, check=at_dose_facility),
    "correct_dose": _p("vaccinator", "provincial", NATIONAL, check=at_dose_facility),
    "report_adverse_event": _p("vaccinator", "provincial", NATIONAL, check=of_person),
    "classify_adverse_event": _p("provincial", NATIONAL, check=of_person),
    "vaccination_history": _p("vaccinator", "provincial", NATIONAL, "auditor", "citizen", check=of_person),
    # testing and cases
    "collect_sample": _p("lab", "provincial", NATIONAL, check=at_facility("facility_id")),
    "receive_sample": _p("lab", "provincial", NATIONAL, check=at_facility("lab_id")),
    # Results are the receiving lab's (or its province's): the sample names the lab.
    "record_result": _p("lab", "provincial", NATIONAL,
                        check=lambda p, t: _facility_is(p, t, t.ledger.sample(t.uuid("sample_id")).lab_id)),
    "correct_result": _p("lab", "provincial", NATIONAL,
                         check=lambda p, t: _facility_is(p, t, t.ledger.sample(t.uuid("sample_id")).lab_id)),
    "reject_result": _p("lab", "provincial", NATIONAL,
                        check=lambda p, t: _facility_is(p, t, t.ledger.sample(t.uuid("sample_id")).lab_id)),
    # A sample is read where it was taken or tested.
    "get_sample": _p("lab", "provincial", NATIONAL, "auditor", check=lambda p, t: (
        _facility_is(p, t, t.ledger.sample(t.uuid("sample_id")).facility_id)
        or _facility_is(p, t, t.ledger.sample(t.uuid("sample_id")).lab_id))),
    "person_test_results": _p("lab", "provincial", NATIONAL, "auditor", "citizen", check=of_person),
    # Lists narrow themselves to a scoped caller's province or lab (api.routers.testing).
    "pools_awaiting_retest": _p("lab", "provincial", NATIONAL, "auditor"),
    "list_cases": _p("provincial", NATIONAL, "auditor"),
    "get_case": _p("provincial", NATIONAL, "auditor"),
    # tracing: contacts, quarantine, declarations
    "record_contact": _p("provincial", NATIONAL, check=of_person),
    "case_contacts": _p("provincial", NATIONAL, "auditor"),
    "order_quarantine": _p("provincial", NATIONAL, check=of_person),
    "follow_up_quarantine": _p("provincial", NATIONAL, check=of_person),
    "release_quarantine": _p("provincial", NATIONAL, check=of_person),
    "person_tracing": _p("provincial", NATIONAL, "auditor", "citizen", check=of_person),
    # The register narrows itself to a provincial caller's province (api.routers.tracing).
    "quarantine_register": _p("provincial", NATIONAL, "auditor"),
    "declare_health": _p("provincial", NATIONAL, "citizen", check=of_person),
    "health_declarations": _p("provincial", NATIONAL, "auditor", "citizen", check=of_person),
    # venues and check-ins
    "venue_qr": _p(*READERS, "citizen"),
    # A citizen checks itself in; a provincial department at venues of its province.
    "check_in": _p("provincial", NATIONAL, "citizen", check=lambda p, t: (
        str(t.value("person_id")) == p.scope["person_id"] if p.role == "citizen"
        else t.ledger.checkin_venue_province(t.value("venue_id"), t.value("qr")) == p.scope["province_code"])),
    "get_checkin": _p("provincial", NATIONAL, "auditor", check=lambda p, t: (
        t.ledger.facility(t.ledger.checkin(t.uuid("checkin_id")).venue_id).province_code
        == p.scope["province_code"])),
    # Bulk rows are scope-checked one by one (api.routers.checkins): a provincial token's rows outside its
    # province are refused in the report.
    "bulk_check_in": _p("provincial", NATIONAL, "integrator"),
    # Backlog rows are checked one by one against their own command's entry here (api.routers.imports).
    "import_backlog": _p("vaccinator", "provincial", NATIONAL),
    # The router narrows a provincial caller to the cases of its province.
    "exposure_candidates": _p("provincial", NATIONAL, "auditor"),
    # risk map and reference population
    # Reads narrow themselves to a provincial caller's province (api.routers.risk_map).
    "risk_map": _p(*READERS),
    "risk_level_changes": _p(*READERS),
    "area_risk": _p(*READERS),
    "record_population": _p("provincial", NATIONAL, check=in_province("province_code")),
    # A provincial department loads its own province's rows only (a malformed body is left to the 422).
    "load_population": _p("provincial", NATIONAL, check=lambda p, t: not isinstance(t.value("rows"), list) or all(
        not isinstance(r, dict) or r.get("province_code") == p.scope.get("province_code") for r in t.value("rows"))),
    # access log and break-the-glass
    "person_access_log": _p("provincial", NATIONAL, "auditor", "citizen", check=of_person),
    "token_access_log": _p(NATIONAL, "auditor"),
    # Only a provincial department is narrowed by scope on people's records (staff at a facility or a
    # lab serve anyone who comes).
    "break_glass": _p("provincial"),
    "break_glass_review": _p(NATIONAL, "auditor"),
    # operations
    "projection_status": _p("provincial", NATIONAL, "auditor"),
}
