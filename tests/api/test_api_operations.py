"""Operational endpoints: health checks and projection status."""

from __future__ import annotations

import eventsourcing.persistence as es

from projections.runtime import all_projections


def test_liveness_is_always_200(api):
    """/health/live answers 200 without touching the store."""
    assert api.get("/health/live") == {"status": "ok"}


def test_readiness_reports_the_head(api, seeded):
    """/health/ready answers 200 with the log's head when the store answers."""
    assert api.get("/health/ready") == {"status": "ok", "head": api.head()}


def test_readiness_is_503_when_the_store_fails(api, monkeypatch):
    """/health/ready answers 503 `store_unavailable` with Retry-After when the store does not answer."""

    def down():
        raise es.OperationalError("database is locked")

    monkeypatch.setattr(api.ledger, "head", down)
    r = api.client.get("/health/ready")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/store_unavailable") and r.headers["retry-after"]


def test_projection_status_reports_position_head_and_lag(api, seeded):
    """/v1/projections lists every projection; once caught up their position is the head and lag is 0."""
    api.get(f"/v1/people/{seeded.person_id}/vaccination-history", min_position=api.head())
    head = api.head()  # the read above was logged: one event more
    names = tuple(p.name for p in all_projections())
    assert api.client.app.state.runtime.wait_for(head, names, 5.0)
    status = {p["name"]: p for p in api.get("/v1/projections")["items"]}
    assert set(status) == set(names)
    for row in status.values():
        assert row["head"] == head and row["position"] == head and row["lag"] == 0
        assert row["events_per_second"] >= 0
