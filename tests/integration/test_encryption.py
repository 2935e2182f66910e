"""Encryption at rest, on SQLite and PostgreSQL: with a cipher key, no name, id number or phone number of a
person appears anywhere in the database files (SQLite) or tables (PostgreSQL); without one they do, which
shows the scan can see them. Production refuses to start without a real key."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger.application import Ledger
from ledger.secrets import SecretsError, check_secrets, is_placeholder, new_key_file
from ledger.settings import Settings, key_file
from projections.runtime import ProjectionRuntime

NAME = "Zyqxwvu Thị Mậtmã"
CORRECTED = "Zyqxwvu Thị Mật Mã"
ID_NUMBER = "079123456789"
PHONE = "+84987650123"
SECRETS = (NAME, CORRECTED, "Zyqxwvu", ID_NUMBER, PHONE)


def record_someone(settings: Settings, make_prov: Callable[..., Any]) -> None:
    """A person registered, corrected and screened, and every projection caught up."""
    ledger = Ledger(settings)
    runtime = ProjectionRuntime(settings, ledger)
    try:
        point = ledger.register_facility(code="VP-ENC", name="Point", kind="vaccination_point", province_code="79",
                                         prov=make_prov()).ids["facility_id"]
        person = ledger.register_person(
            id_type="cccd", id_number=ID_NUMBER, prov=make_prov(),
            details={"full_name": NAME, "date_of_birth": date(1961, 2, 3), "sex": "female", "phone": PHONE,
                     "address": {"line": "Zyqxwvu street 9", "province_code": "79"}},
        ).ids["person_id"]
        pid = UUID(person)
        ledger.correct_person(person_id=pid, changes={"full_name": CORRECTED}, reason="wrong_name", prov=make_prov())
        ledger.screen(person_id=pid, facility_id=UUID(point), vitals={"temperature_c": 36.6}, answers={},
                      prov=make_prov())
        ledger.record_read(person_id=pid, grant_id=UUID(int=1), role="vaccinator", route="get_person",
                           purpose="care", prov=make_prov())
        runtime.engine.catch_up()
        assert ledger.person(pid).full_name == CORRECTED  # the ledger itself reads it back
        assert ledger.find_person("cccd", ID_NUMBER) == pid
    finally:
        runtime.close()
        ledger.close()


def visible(settings: Settings, root: Path) -> set[str]:
    """Which of SECRETS can be found in the store: raw bytes of every SQLite file, or every PostgreSQL row as
    text (bytea shown as hex, so the hex of each secret is searched too)."""
    found = set()
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo()) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            text = "\n".join(
                conn.execute(f'SELECT coalesce(string_agg(t::text, chr(10)), \'\') FROM "{t}" t').fetchone()[0]
                for t in tables)
        for secret in SECRETS:
            if secret in text or secret.encode().hex() in text:
                found.add(secret)
    else:
        blobs = b"".join(p.read_bytes() for p in root.iterdir() if p.is_file() and "sqlite3" in p.name)
        found = {s for s in SECRETS if s.encode() in blobs}
    return found


def test_without_a_key_the_scan_finds_the_person(store: Settings, tmp_path: Path, prov):
    """The control: a store without a key holds the name and numbers in plain JSON, and the scan sees them."""
    record_someone(store, prov)
    assert visible(store, tmp_path) >= {NAME, CORRECTED, ID_NUMBER, PHONE}


def test_with_a_key_nothing_personal_is_readable_at_rest(store: Settings, tmp_path: Path, prov):
    settings = replace(store, cipher_key=base64.b64encode(os.urandom(32)).decode())
    record_someone(settings, prov)
    assert visible(settings, tmp_path) == set()
    # The wrong key cannot read the log back.
    wrong = Ledger(replace(settings, cipher_key=base64.b64encode(os.urandom(32)).decode()))
    try:
        with pytest.raises(Exception):  # noqa: B017 - the library's decryption error, whatever its class
            wrong.find_person("cccd", ID_NUMBER)
    finally:
        wrong.close()


@pytest.mark.parametrize("key", [
    None, "changeme", base64.b64encode(b"\x00" * 32).decode(), base64.b64encode(bytes(range(32))).decode(),
    base64.b64encode(b"my-secret-key-for-the-ledger-123").decode(), "bm90LWEta2V5", "%%%",
])
def test_production_refuses_missing_or_placeholder_keys(key):
    with pytest.raises(SecretsError):
        check_secrets(Settings(production=True, cipher_key=key))


def test_production_accepts_a_real_key_and_development_runs_without_one():
    key = base64.b64encode(os.urandom(32)).decode()
    assert not is_placeholder(key)
    check_secrets(Settings(production=True, cipher_key=key))
    check_secrets(Settings())
    with pytest.raises(SecretsError):
        check_secrets(Settings(cipher_key="short"))  # a malformed key is refused everywhere


def test_the_command_line_refuses_to_start_production_without_a_key(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "LEDGER_ENV": "production",
           "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.sqlite3", "LEDGER_CIPHER_KEY": "changeme"}
    r = subprocess.run([sys.executable, "-m", "ledger.cli", "tokens", "list"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "refusing to start" in r.stderr and "changeme" not in r.stderr
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_settings_find_an_embedded_stores_key_file(tmp_path: Path):
    """`ledger demo` writes var/ledger.key for a new store; `ledger serve` in that directory reads it."""
    url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    path = key_file(url)
    key = new_key_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Settings.from_env({"LEDGER_DATABASE_URL": url}).cipher_key == key
    assert Settings.from_env({"LEDGER_DATABASE_URL": url, "LEDGER_CIPHER_KEY": "b3RoZXI="}).cipher_key == "b3RoZXI="
    assert Settings.from_env({"LEDGER_DATABASE_URL": "postgresql://x@h/db"}).cipher_key is None
