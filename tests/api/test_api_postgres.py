"""The main flows once more on PostgreSQL, where projections wake on LISTEN/NOTIFY instead of polling."""

from __future__ import annotations

import pytest

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
    assert {p["name"] for p in api.get("/v1/projections")["items"]} == {"stock", "vaccination_history"}
    assert api.get("/health/ready")["head"] == api.head()
