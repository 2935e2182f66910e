"""End to end: the real `ledger serve` process, spoken to over HTTP on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from projections.runtime import all_projections

SRC = Path(__file__).resolve().parents[2] / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TOKEN: dict[str, str] = {}


def _call(method: str, url: str, body: dict | None = None, **extra: str) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **extra}
    if TOKEN:
        headers["Authorization"] = f"Bearer {TOKEN['token']}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path):
    """`ledger serve` on a fresh SQLite store, with one worker process (or `request.param` of them)."""
    workers = getattr(request, "param", 1)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3",
    }
    # A token from the real command line: only its hash is stored, the token is printed once (last line).
    issued = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "tokens", "issue", "--subject", "e2e", "--grant-org", "NW-E2E",
         "--role", "national_operator"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    TOKEN["token"] = issued.stdout.strip().splitlines()[-1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if _call("GET", f"{base}/health/ready")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start:\n" + proc.stdout.read().decode(errors="replace"))
        time.sleep(0.1)
    server = Server(base, proc)
    yield server
    server.stop()
    TOKEN.clear()


class Server:
    """A running `ledger serve`: its base URL, and its output once stopped."""

    def __init__(self, base: str, proc: subprocess.Popen) -> None:
        self.base, self.proc, self.output = base, proc, ""

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            out, _ = self.proc.communicate(timeout=15)
            self.output = out.decode(errors="replace")
        return self.output


@pytest.mark.parametrize("server", [1, 2], indirect=True, ids=["1-worker", "2-workers"])
def test_server_records_and_projects_a_facility_chain(server: Server) -> None:
    """A server accepts writes, refuses a broken rule with 409, and its projections catch up; the same
    with two worker processes sharing the store (the second registration may reach the other one)."""
    base = server.base
    status, created = _call("POST", f"{base}/v1/facilities", {
        "code": "NW-E2E", "name": "National warehouse", "kind": "national_warehouse", "province_code": "01",
    })
    assert status == 201, created
    facility_id = created["ids"]["facility_id"]
    status, again = _call("POST", f"{base}/v1/facilities", {
        "code": "NW-E2E", "name": "Again", "kind": "national_warehouse", "province_code": "01",
    })
    assert status == 409 and again["rule"] == "facility_code_exists"
    status, lot = _call("POST", f"{base}/v1/lots", {
        "vaccine": "pfizer", "manufacturer": "Pfizer", "lot_number": "E2E1", "expiry": "2030-01-01",
        "doses_per_vial": 6,
    })
    assert status == 201, lot
    status, receipt = _call("POST", f"{base}/v1/stock/receipts", {
        "lot_id": lot["ids"]["lot_id"], "facility_id": facility_id, "quantity": 500,
    })
    assert status in (200, 201), receipt
    status, levels = _call("GET", f"{base}/v1/stock?facility_id={facility_id}&min_position={receipt['position']}")
    assert status == 200, levels
    assert levels["items"][0]["on_hand"] == 500
    status, projections = _call("GET", f"{base}/v1/projections")
    assert status == 200
    by_name = {p["name"]: p for p in projections["items"]}
    assert set(by_name) == {p.name for p in all_projections()}
    assert by_name["stock"]["position"] >= receipt["position"]
    # The same server refuses a caller without a token, and learns nothing from it.
    token = TOKEN.pop("token")
    try:
        status, refused = _call("GET", f"{base}/v1/facilities/{facility_id}")
    finally:
        TOKEN["token"] = token
    assert status == 401 and refused["type"].endswith("/unauthenticated")


def test_server_logs_carry_no_names_or_numbers(server: Server) -> None:
    """Registrations, refusals, searches by document, reads and a store error leave the person's name, id
    number and phone number nowhere in the server's output."""
    base = server.base
    name, number, phone = "Zyqxwvu Thị Logtest", "079123456780", "+84987650199"
    person = {"id_type": "cccd", "id_number": number, "full_name": name, "date_of_birth": "1970-01-01",
              "sex": "female", "phone": phone, "address": {"province_code": "79"}}
    status, created = _call("POST", f"{base}/v1/people", person)
    assert status == 201, created
    assert _call("POST", f"{base}/v1/people", person)[0] == 409
    assert _call("POST", f"{base}/v1/people", {**person, "id_number": "07912345678X"})[0] == 422
    assert _call("POST", f"{base}/v1/people", {**person, "phone": f"{phone}{name}"})[0] == 422
    assert _call("GET", f"{base}/v1/people?id_type=cccd&id_number={number}", **{"X-Purpose": "care"})[0] == 200
    assert _call("GET", f"{base}/v1/people/{created['ids']['person_id']}")[0] == 422  # no X-Purpose
    output = server.stop()
    assert "Application startup complete" in output  # the server did log
    for secret in (name, "Zyqxwvu", number, phone, phone[1:]):
        assert secret not in output, secret
