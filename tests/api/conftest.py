"""Fixtures for the API tests: a fresh SQLite ledger per test, driven through `TestClient`.

`api` wraps the client with small helpers that assert the status (showing the body when
it differs); `seeded` builds the chain most tests start from: a national warehouse that
supplies a vaccination point, a lot received and transferred, a person, and a screening.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import Ledger
from ledger.domain import Provenance
from ledger.settings import Settings

PROBLEM = "application/problem+json"
#: Who the default test client is: a national operator (no scope), so tests of the domain are not
#: about permissions; tests/api/test_api_auth.py covers those with a token per role.
OPERATOR = {"subject": "operator-017", "org": "MOH", "role": "national_operator", "scope": {}}
CLI = Provenance(actor="test-admin", org="MOH", source="cli")


def issue_token(ledger: Ledger, **grant: Any) -> str:
    """A bearer token for `grant` (subject, org, role, scope, ...), issued straight on the ledger."""
    _, token = ledger.issue_token(**{**OPERATOR, **grant}, prov=CLI)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def authenticated(client: TestClient) -> TestClient:
    """The client as the default operator, stating a purpose for the reads of people's records it makes."""
    client.headers.update({**bearer(issue_token(client.app.state.ledger)), "X-Purpose": "administration"})
    return client


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3", poll_interval=0.01, read_wait_seconds=5.0)


@pytest.fixture
def make_client(tmp_path) -> Iterator[Callable[..., TestClient]]:
    """Open more clients (each with its lifespan) on this test's store, with settings overridden."""
    opened: list[TestClient] = []

    def make(*, raise_server_exceptions: bool = True, **overrides: Any) -> TestClient:
        values = {"database_url": f"sqlite:///{tmp_path}/ledger.sqlite3", "poll_interval": 0.01, **overrides}
        client = TestClient(create_app(Settings(**values)), raise_server_exceptions=raise_server_exceptions)
        opened.append(client.__enter__())
        return authenticated(client)

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield authenticated(client)


class Api:
    """The test client with helpers that check statuses and return the JSON body."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def ledger(self) -> Ledger:
        return self.client.app.state.ledger

    def head(self) -> int:
        return self.ledger.head()

    def token(self, **grant: Any) -> dict[str, str]:
        """Headers with a fresh token for `grant` (subject, org, role, scope; defaults: the operator)."""
        return bearer(issue_token(self.ledger, **grant))

    def call(self, method: str, path: str, body: Any = None, *, expect: int, key: str | None = None,
             headers: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> Any:
        extra = dict(headers or {})
        if key is not None:
            extra["Idempotency-Key"] = key
        r = self.client.request(method, path, json=body, headers=extra, params=params)
        assert r.status_code == expect, f"{method} {path} answered {r.status_code}, not {expect}: {r.text}"
        return r.json()

    def post(self, path: str, body: Any = None, *, expect: int, **kw: Any) -> Any:
        return self.call("POST", path, body, expect=expect, **kw)

    def get(self, path: str, *, expect: int = 200, **params: Any) -> Any:
        return self.call("GET", path, expect=expect, params=params or None)

    def get_as(self, path: str, headers: dict[str, str], *, expect: int = 200, **params: Any) -> Any:
        """GET as another caller (`headers` with its token)."""
        return self.call("GET", path, expect=expect, headers=headers, params=params or None)

    def refused(self, path: str, body: Any = None, *, status: int, rule: str | None = None,
                field: str | None = None, **kw: Any) -> dict[str, Any]:
        """POST, expect a problem document with `status` (and `rule` or `field`), and that nothing was written."""
        before = self.head()
        extra = dict(kw.pop("headers", None) or {})
        r = self.client.post(path, json=body, headers=extra, **kw)
        assert r.status_code == status, f"POST {path} answered {r.status_code}, not {status}: {r.text}"
        assert r.headers["content-type"].startswith(PROBLEM)
        doc = r.json()
        assert doc["status"] == status
        if rule is not None:
            assert doc["rule"] == rule, doc
            assert doc["type"].endswith("/" + rule)
        if field is not None:
            assert doc["field"] == field, doc
        assert self.head() == before, "a refused command wrote events"
        return doc

    # -- common steps -------------------------------------------------------------------------------------

    def register_person(self, id_number: str | None = "001090000001", **overrides: Any) -> str:
        body = {
            "id_type": "cccd" if id_number else "none",
            "id_number": id_number,
            "full_name": "Nguyễn Văn An",
            "date_of_birth": "1990-04-30",
            "sex": "male",
            "phone": "+84912345678",
            "address": {"line": "12 Hàng Bài", "province_code": "01", "district_code": "001", "ward_code": "00001"},
            **overrides,
        }
        return self.post("/v1/people", body, expect=201)["ids"]["person_id"]

    def screen(self, person_id: str, facility_id: str, **overrides: Any) -> dict[str, Any]:
        body = {"facility_id": facility_id, "vitals": {"temperature_c": 36.6, "pulse_per_min": 78}, "answers": {},
                **overrides}
        return self.post(f"/v1/people/{person_id}/screenings", body, expect=201)

    def dose(self, person_id: str, lot_id: str, facility_id: str, **overrides: Any) -> dict[str, Any]:
        body = {"lot_id": lot_id, "facility_id": facility_id, **overrides}
        return self.post(f"/v1/people/{person_id}/doses", body, expect=201)


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def make_api(make_client) -> Callable[..., Api]:
    """`make_client`, wrapped in `Api`."""
    return lambda **kw: Api(make_client(**kw))


@dataclass(frozen=True)
class Seed:
    warehouse_id: str
    point_id: str
    lot_id: str
    transfer_id: str
    person_id: str
    screening_id: str
    position: int
    #: Doses received at the warehouse, and sent on to the vaccination point.
    received: int = 1000
    transferred: int = 100


def seed_chain(api: Api) -> Seed:
    """National warehouse -> vaccination point, a Pfizer lot received and transferred, a person screened."""
    warehouse = api.post("/v1/facilities", {"code": "NW-01", "name": "National warehouse",
                                            "kind": "national_warehouse", "province_code": "01"}, expect=201)
    warehouse_id = warehouse["ids"]["facility_id"]
    point_id = api.post("/v1/facilities", {
        "code": "VP-01", "name": "Ward 1 vaccination point", "kind": "vaccination_point", "province_code": "01",
        "district_code": "001", "ward_code": "00001", "parent_code": "NW-01",
    }, expect=201)["ids"]["facility_id"]
    lot_id = api.post("/v1/lots", {"vaccine": "pfizer", "manufacturer": "Pfizer-BioNTech", "lot_number": "FK1234",
                                   "expiry": "2099-12-31", "doses_per_vial": 6}, expect=201)["ids"]["lot_id"]
    api.post("/v1/stock/receipts", {"lot_id": lot_id, "facility_id": warehouse_id, "quantity": Seed.received}, expect=201)
    transfer_id = api.post("/v1/transfers", {
        "document_number": "PX-0001", "source_id": warehouse_id, "destination_id": point_id,
        "lines": [{"lot_id": lot_id, "quantity": Seed.transferred}],
    }, expect=201)["ids"]["transfer_id"]
    api.post(f"/v1/transfers/{transfer_id}/receipt", {}, expect=200)
    person_id = api.register_person()
    screening = api.screen(person_id, point_id)
    return Seed(warehouse_id, point_id, lot_id, transfer_id, person_id, screening["ids"]["screening_id"],
                screening["position"])


@pytest.fixture
def seeded(api) -> Seed:
    return seed_chain(api)


@pytest.fixture
def seeder() -> Callable[[Api], Seed]:
    """`seed_chain`, for tests that seed a client of their own."""
    return seed_chain
