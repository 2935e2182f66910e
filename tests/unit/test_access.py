"""Access grants and tokens, without I/O: scopes per role, revocation, expiry, the token format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger import tokens
from ledger.cli import ROLE_NAMES
from ledger.domain import AccessGrant, BreakGlass, Invalid, Provenance, RecordAccess, RuleViolation
from ledger.domain.access import ROLES, check_scope

NOW = datetime(2021, 8, 1, 9, 0, tzinfo=UTC)
PROV = Provenance(actor="admin-1", org="MOH", source="cli")
FACILITY = str(uuid4())


def grant(role: str = "vaccinator", scope: dict | None = None, **kw) -> AccessGrant:
    return AccessGrant.issue(
        grant_id=uuid4(), subject=kw.pop("subject", "nurse-17"), org=kw.pop("org", "TYT-PHUCXA"), role=role,
        scope={"facility_id": FACILITY} if scope is None else scope, secret_sha256=kw.pop("secret", "0f" * 32),
        expires_at=kw.pop("expires_at", None), label=None, prov=PROV, now=NOW,
    )


def test_the_command_line_offers_exactly_the_domain_roles():
    assert set(ROLE_NAMES) == ROLES


@pytest.mark.parametrize(("role", "scope", "field"), [
    ("vaccinator", {}, "scope.facility_id"),
    ("vaccinator", {"facility_id": "not-a-uuid"}, "scope.facility_id"),
    ("vaccinator", {"facility_id": FACILITY, "province_code": "01"}, "scope.province_code"),
    ("provincial", {"province_code": "1"}, "scope.province_code"),
    ("provincial", {}, "scope.province_code"),
    ("citizen", {"person_id": 7}, "scope.person_id"),
    ("integrator", {"event_types": []}, "scope.event_types"),
    ("national_operator", {"province_code": "01"}, "scope.province_code"),
    ("superuser", {}, "role"),
])
def test_each_role_takes_exactly_its_scope(role, scope, field):
    with pytest.raises(Invalid) as info:
        check_scope(role, scope)
    assert info.value.field == field


def test_scopes_are_normalised():
    upper = FACILITY.upper()
    assert check_scope("vaccinator", {"facility_id": upper}) == {"facility_id": FACILITY}
    assert check_scope("integrator", {"event_types": ["b", "a", "a"]}) == {"event_types": ["a", "b"]}
    assert check_scope("auditor", {}) == {}


@pytest.mark.parametrize(("kw", "field"), [
    ({"subject": "has space"}, "subject"),
    ({"org": " "}, "org"),
    ({"secret": "plain-text-secret"}, "secret_sha256"),
    ({"expires_at": NOW - timedelta(seconds=1)}, "expires_at"),
    ({"expires_at": datetime(2030, 1, 1)}, "expires_at"),
])
def test_a_malformed_grant_is_refused_by_field(kw, field):
    with pytest.raises(Invalid) as info:
        grant(**kw)
    assert info.value.field == field


def test_revocation_and_expiry_end_a_grant():
    g = grant(expires_at=NOW + timedelta(days=1))
    assert g.active(NOW) and not g.active(NOW + timedelta(days=1))
    g.revoke(reason="tablet lost", prov=PROV)
    assert not g.active(NOW)
    with pytest.raises(RuleViolation) as info:
        g.revoke(reason="again", prov=PROV)
    assert info.value.rule == "token_already_revoked"
    with pytest.raises(Invalid):
        grant().revoke(reason=" ", prov=PROV)


def test_tokens_carry_the_grant_id_and_only_their_hash_is_kept():
    grant_id = uuid4()
    token, digest = tokens.new_token(grant_id)
    parsed = tokens.parse(token)
    assert parsed is not None and parsed[0] == grant_id
    assert tokens.matches(parsed[1], digest) and parsed[1] not in digest
    assert not tokens.matches(parsed[1][:-1] + ("A" if parsed[1][-1] != "A" else "B"), digest)
    assert tokens.new_token(grant_id)[0] != token
    for bad in ("", "lgr_", token + "x", token.replace("lgr_", "xyz_"), token.upper(), f"lgr_{grant_id.hex}"):
        assert tokens.parse(bad) is None


def test_a_read_states_a_purpose_from_the_closed_set():
    with pytest.raises(Invalid) as info:
        RecordAccess.read(access_id=uuid4(), person_id=uuid4(), grant_id=uuid4(), role="vaccinator",
                          route="get_person", purpose="curiosity", break_glass_id=None, prov=PROV)
    assert info.value.field == "X-Purpose"


def test_break_the_glass_is_reasoned_bounded_and_not_for_unscoped_roles():
    person, token = uuid4(), uuid4()
    for role in ("national_operator", "auditor", "citizen", "integrator"):
        with pytest.raises(RuleViolation) as info:
            BreakGlass.open(person_id=person, grant_id=token, role=role, reason="a long enough reason", hours=1,
                            prov=PROV, now=NOW)
        assert info.value.rule == "break_glass_not_for_role"
    with pytest.raises(Invalid):
        BreakGlass.open(person_id=person, grant_id=token, role="provincial", reason="short", hours=1, prov=PROV, now=NOW)
    for hours in (0, 13, True, "2"):
        with pytest.raises(Invalid):
            BreakGlass.open(person_id=person, grant_id=token, role="provincial", reason="a long enough reason",
                            hours=hours, prov=PROV, now=NOW)
    glass = BreakGlass.open(person_id=person, grant_id=token, role="provincial", reason="patient in emergency care",
                            hours=3, prov=PROV, now=NOW)
    assert glass.id == BreakGlass.create_id(token, person)
    assert glass.active(NOW + timedelta(hours=2, minutes=59)) and not glass.active(NOW + timedelta(hours=3))
    with pytest.raises(RuleViolation) as info:
        glass.reopen(reason="still in emergency care", hours=1, prov=PROV, now=NOW + timedelta(hours=1))
    assert info.value.rule == "break_glass_already_open"
    glass.reopen(reason="readmitted the next day", hours=1, prov=PROV, now=NOW + timedelta(days=1))
    assert glass.active(NOW + timedelta(days=1, minutes=30))
