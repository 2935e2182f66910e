"""Reads as of a position (`?as_of_position`) through HTTP, from an as-of build kept in a scratch area."""

from __future__ import annotations

import pytest

from projections.rebuild import Build


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_api(request, api):
    """The default SQLite client, or one on a fresh PostgreSQL database (where an as-of build is a schema)."""
    if request.param == "sqlite":
        return api
    return request.getfixturevalue("make_api")(database_url=request.getfixturevalue("fresh_pg_url"))


def test_a_figure_read_as_of_a_position_is_what_the_live_read_said_then(backend_api, seeder):
    """Stock levels and a person's history read with `as_of_position=N` equal what a live read answered at N,
    after later writes changed both; an as-of read nobody built is 409 `as_of_not_built`. On both backends."""
    api = backend_api
    seeded = seeder(api)
    first = api.dose(seeded.person_id, seeded.lot_id, seeded.point_id)
    n = first["position"]
    stock_then = api.get("/v1/stock", min_position=n, facility_id=seeded.point_id)
    history_path = f"/v1/people/{seeded.person_id}/vaccination-history"
    history_then = api.get(history_path, min_position=n)
    totals_then = api.get("/v1/stock/totals", min_position=n, by="vaccine")
    later = api.register_person(id_number="001090000002")
    screening = api.screen(later, seeded.point_id)["ids"]["screening_id"]
    api.dose(later, seeded.lot_id, seeded.point_id, screening_id=screening)
    void = api.post(f"/v1/people/{seeded.person_id}/doses/{first['ids']['dose_id']}/void",
                    {"reason": "entered_in_error", "note": "wrong person"}, expect=200)
    adjusted = api.post("/v1/stock/adjustments", {"lot_id": seeded.lot_id, "facility_id": seeded.point_id,
                                                  "quantity": 6, "direction": "out", "reason": "damaged"}, expect=201)
    assert api.get("/v1/stock", min_position=adjusted["position"], facility_id=seeded.point_id) != stock_then
    assert api.get(history_path, min_position=void["position"]) != history_then
    assert api.get("/v1/stock/totals", min_position=adjusted["position"], by="vaccine") != totals_then

    refused = api.get("/v1/stock", expect=409, as_of_position=n)
    assert refused["rule"] == "as_of_not_built" and refused["as_of_position"] == n
    assert f"ledger projections build stock --as-of-position {n}" in refused["detail"]

    runtime = api.client.app.state.runtime
    Build(runtime.engine, ["stock", "vaccination_history"], until=n).as_of()
    [area] = api.get("/v1/projections")["scratch_areas"]
    assert area["name"].startswith(f"asof_{n}_") and area["positions"] == {"stock": n, "vaccination_history": n}
    assert api.get("/v1/stock", as_of_position=n, facility_id=seeded.point_id) == stock_then
    assert api.get(history_path, as_of_position=n) == history_then
    assert api.get("/v1/stock/totals", as_of_position=n, by="vaccine") == totals_then
    # The risk map reads `risk_map` too, which this build left out.
    assert api.get("/v1/risk-map", expect=409, as_of_position=n, level="province", week="2021-W30")["rule"] \
        == "as_of_not_built"
    both = api.get("/v1/stock", expect=422, as_of_position=n, min_position=n)
    assert both["field"] == "as_of_position"
