"""Access grants and tokens, without I/O: scopes per role, revocation, expiry, the token format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger import tokens
from ledger.cli import ROLE_NAMES
from ledger.domain import AccessGrant, Invalid, Provenance, RuleViolation
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
