"""The main flows once more on PostgreSQL, where projections wake on LISTEN/NOTIFY instead of polling."""

from __future__ import annotations

from uuid import UUID

import pytest

from conftest import CLI
from projections.runtime import all_projections

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_api(make_api, fresh_pg_url):
    return make_api(database_url=fresh_pg_url)


def test_dose_is_read_back_from_the_projections_on_postgresql(pg_api, seeder):
    """On PostgreSQL a dose is refused or recorded by the same rules and read back after its position."""
    api = pg_api
    seeded = seeder(api)
    api.refused(f"/v1/people/{seeded.person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id},
                status=409, rule="facility_does_not_vaccinate")
    dose = api.post(f"/v1/people/{seeded.person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                    expect=201, key="pg-dose-1")
    again = api.post(f"/v1/people/{seeded.person_id}/doses", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id},
                     expect=201, key="pg-dose-1")
    assert again["replayed"] is True and again["ids"] == dose["ids"]
    history = api.get(f"/v1/people/{seeded.person_id}/vaccination-history", min_position=dose["position"])
    assert [d["dose_id"] for d in history["doses"]] == [dose["ids"]["dose_id"]]
    [level] = api.get("/v1/stock", min_position=dose["position"], facility_id=seeded.point_id)["items"]
    assert level["on_hand"] == seeded.transferred - 1
    totals = api.get("/v1/stock/totals", by="vaccine", min_position=dose["position"])["items"]
    assert totals[0]["on_hand"] == seeded.received - 1
    assert {p["name"] for p in api.get("/v1/projections")["items"]} == {p.name for p in all_projections()}
    assert api.get("/health/ready")["head"] == api.head()


def test_tokens_scopes_and_revocation_on_postgresql(pg_api, seeder):
    """On PostgreSQL too: a vaccinator doses at its point, is refused at another, and a revoked token is
    refused from the next request, with nothing written by the refused calls."""
    api = pg_api
    seeded = seeder(api)
    nurse = api.token(subject="nurse-pg", org="VP-01", role="vaccinator", scope={"facility_id": seeded.point_id})
    path = f"/v1/people/{seeded.person_id}/doses"
    before = api.head()
    r = api.client.post(path, json={"lot_id": seeded.lot_id, "facility_id": seeded.warehouse_id}, headers=nurse)
    assert r.status_code == 403 and api.head() == before
    dose = api.post(path, {"lot_id": seeded.lot_id, "facility_id": seeded.point_id}, expect=201, headers=nurse)
    [event] = [e for e in api.ledger.events.get(UUID(seeded.person_id)) if e.__class__.__name__ == "DoseAdministered"]
    assert (event.actor, event.org) == ("nurse-pg", "VP-01") and dose["position"] > before
    grant_id = UUID(nurse["Authorization"].split("_")[1])
    api.ledger.revoke_token(grant_id=grant_id, reason="left the service", prov=CLI)
    assert api.client.get(f"/v1/facilities/{seeded.point_id}", headers=nurse).status_code == 401
