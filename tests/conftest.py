"""Shared fixtures: the store under test, a Ledger on it, the projection runtime, and a seeded world.

PostgreSQL, in this order of preference (psycopg's `--test-dsn` pattern, read from the environment once):

- `LEDGER_TEST_DSN`: a server URL such as `postgresql://postgres@127.0.0.1:5432/postgres`. The tests
  create their own databases on it and drop them afterwards; nothing else on the server is touched.
- otherwise, if the PostgreSQL binaries are installed (`initdb` on PATH or in /usr/lib/postgresql/*/bin),
  a throwaway server in a temporary directory on a free port, stopped at the end of the session.
  `LEDGER_TEST_NO_THROWAWAY=1` disables this (to check the skip path).
- otherwise the PostgreSQL tests are skipped, and a banner at the end of the run says how many and why.
  With `LEDGER_REQUIRE_POSTGRES=1` (CI) they fail instead.

Each PostgreSQL test gets a database cloned from a template migrated once per session
(`CREATE DATABASE ... TEMPLATE ...`, the Procrastinate pattern), dropped after the test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.domain import Provenance
from ledger.migrate import migrate
from ledger.settings import Settings
from projections.runtime import ProjectionRuntime

# The environment is read once, here; nothing below reads or changes os.environ.
TEST_DSN = os.environ.get("LEDGER_TEST_DSN", "").strip()
REQUIRE_POSTGRES = os.environ.get("LEDGER_REQUIRE_POSTGRES", "") not in ("", "0", "false", "no")
NO_THROWAWAY = os.environ.get("LEDGER_TEST_NO_THROWAWAY", "") not in ("", "0", "false", "no")
_PATH = os.environ.get("PATH", "")

#: Why the PostgreSQL tests are skipped, for the banner at the end of the run.
_pg_skip_reason: list[str] = []


# -- PostgreSQL server ----------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may create and drop databases on."""

    url: str  # the maintenance database, e.g. postgresql://postgres@127.0.0.1:5432/postgres
    description: str
    template: str | None = None

    def url_for(self, dbname: str) -> str:
        return urlunparse(urlparse(self.url)._replace(path="/" + dbname))

    def admin_execute(self, statement: Any) -> None:
        import psycopg

        with psycopg.connect(Settings(database_url=self.url).postgres_conninfo(), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, *, template: str | None = None, prefix: str = "ledger_test") -> str:
        """A new empty database (from template0) or a clone of `template`; returns its name."""
        from psycopg import sql

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.admin_execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template or "template0"))
        )
        return name

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        self.admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _find_initdb() -> Path | None:
    found = shutil.which("initdb", path=_PATH)
    if found:
        return Path(found).resolve()
    versions = [Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    versions.sort(key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0, reverse=True)
    return versions[0] if versions else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(url: str) -> str | None:
    """None if the server answers, else the error."""
    import psycopg

    try:
        with psycopg.connect(Settings(database_url=url).postgres_conninfo(), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


class ThrowawayServer:
    """A PostgreSQL server in a temporary directory: trust auth, no fsync, gone at the end of the session."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.tmpdir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.datadir = self.tmpdir / "data"
        self.port = _free_port()
        self.run_as: dict[str, int] = {}
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root; run them as the postgres (or nobody) account.
            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.run_as = {"user": entry.pw_uid, "group": entry.pw_gid}
                os.chown(self.tmpdir, entry.pw_uid, entry.pw_gid)
                break
            else:
                raise RuntimeError("running as root and no unprivileged account to run PostgreSQL as")

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True, timeout=120, **self.run_as
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> str:
        self._run("initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions", "-D", str(self.datadir))
        options = (
            f"-p {self.port} -k {self.tmpdir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir), "-l", str(self.tmpdir / "log"), "-o", options)
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if (self.datadir / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.datadir))
        finally:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if REQUIRE_POSTGRES:
        pytest.fail(f"LEDGER_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {reason}", pytrace=False)
    if not _pg_skip_reason:
        _pg_skip_reason.append(reason)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for this session, with a migrated template database."""
    throwaway: ThrowawayServer | None = None
    if TEST_DSN:
        url, description = TEST_DSN, f"LEDGER_TEST_DSN ({Settings(database_url=TEST_DSN).describe()})"
    elif NO_THROWAWAY:
        _unavailable("LEDGER_TEST_DSN is not set and LEDGER_TEST_NO_THROWAWAY=1 disables the throwaway server")
    else:
        initdb = _find_initdb()
        if initdb is None:
            _unavailable("LEDGER_TEST_DSN is not set and no PostgreSQL binaries (initdb) were found")
        throwaway = ThrowawayServer(initdb.parent)
        try:
            url = throwaway.start()
        except Exception as exc:
            throwaway.stop()
            _unavailable(f"could not start a throwaway server with {initdb.parent}: {exc}")
        description = f"throwaway server from {initdb.parent} on port {throwaway.port}"
    error = _reachable(url)
    if error is not None:
        if throwaway is not None:
            throwaway.stop()
        _unavailable(f"cannot connect to {description}: {error}")
    server = PostgresServer(url=url, description=description)
    server.template = server.create_database(prefix="ledger_tmpl")
    try:
        migrate(Settings(database_url=server.url_for(server.template)))
        yield server
    finally:
        try:
            server.drop_database(server.template)
        finally:
            if throwaway is not None:
                throwaway.stop()


@pytest.fixture
def fresh_pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, migrated database of its own, dropped after the test."""
    name = postgres_server.create_database(template=postgres_server.template)
    try:
        yield postgres_server.url_for(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def pg_settings(fresh_pg_url: str) -> Settings:
    """Settings for a fresh, migrated PostgreSQL store (for PostgreSQL-only tests)."""
    return Settings(database_url=fresh_pg_url)


# -- the store under test -------------------------------------------------------------------------------


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh, empty store: the embedded SQLite one, then PostgreSQL."""
    if request.param == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3")
    return Settings(database_url=request.getfixturevalue("fresh_pg_url"))


@pytest.fixture
def ledger(store: Settings) -> Iterator[Ledger]:
    """A Ledger on the store under test, closed after the test."""
    app = Ledger(store)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def runtime(store: Settings, ledger: Ledger) -> Iterator[ProjectionRuntime]:
    """The projection runtime, not started: tests call `runtime.engine.catch_up()` themselves."""
    rt = ProjectionRuntime(store, ledger)
    try:
        yield rt
    finally:
        rt.close()


# -- a seeded world -------------------------------------------------------------------------------------


def make_prov(client_ref: str | None = None, *, org: str = "moh-test", occurred_at: datetime | None = None) -> Provenance:
    return Provenance(actor="tester", org=org, source="app", client_ref=client_ref, occurred_at=occurred_at)


@pytest.fixture
def prov() -> Callable[..., Provenance]:
    """`prov(client_ref=None, org=..., occurred_at=...)`: the provenance of a test command."""
    return make_prov


NORMAL_VITALS = {"temperature_c": 36.6, "pulse_per_min": 72, "systolic_mmhg": 120, "diastolic_mmhg": 80}
PROVINCE, DISTRICT, WARD = "01", "001", "00001"
ADDRESS = {"line": "1 Trang Tien", "province_code": PROVINCE, "district_code": DISTRICT, "ward_code": WARD}


@dataclass
class World:
    """A provincial warehouse supplying a vaccination point, a Pfizer lot with stock, a screened person."""

    ledger: Ledger
    warehouse_id: UUID
    point_id: UUID
    lot_id: UUID
    person_id: UUID
    screening_id: UUID
    tag: str
    _people: int = field(default=0)

    def register_person(self, *, id_number: str | None = None, full_name: str = "Nguyen Van A",
                        client_ref: str | None = None) -> UUID:
        """Register a person with a fresh CCCD number (or the one given)."""
        if id_number is None:
            self._people += 1
            id_number = cccd(self.tag, self._people)
        result = self.ledger.register_person(
            id_type="cccd", id_number=id_number,
            details={"full_name": full_name, "date_of_birth": date(1980, 5, 17), "sex": "female", "address": ADDRESS},
            prov=make_prov(client_ref),
        )
        return UUID(result.ids["person_id"])

    def screen(self, person_id: UUID, facility_id: UUID | None = None, at: datetime | None = None) -> UUID:
        """An eligible screening at the vaccination point (at `at`, business time, when given)."""
        result = self.ledger.screen(
            person_id=person_id, facility_id=facility_id or self.point_id, vitals=NORMAL_VITALS, answers={},
            prov=make_prov(occurred_at=at),
        )
        assert result.ids["outcome"] == "eligible"
        return UUID(result.ids["screening_id"])

    def register_lot(self, lot_number: str, *, vaccine: str = "pfizer") -> UUID:
        result = self.ledger.register_lot(
            vaccine=vaccine, manufacturer="Pfizer-BioNTech", lot_number=lot_number,
            expiry=date.today() + timedelta(days=365), doses_per_vial=6, prov=make_prov(),
        )
        return UUID(result.ids["lot_id"])


def cccd(tag: str, n: int) -> str:
    """A valid, distinct 12-digit CCCD number for person `n` of the world tagged `tag`."""
    return f"{tag}{n:08d}"[-12:].rjust(12, "0")


def seed_world(ledger: Ledger, *, warehouse_stock: int = 1000, point_stock: int = 100, tag: str = "0790") -> World:
    """Build the seeded world on `ledger` (each call on one store needs its own 4-digit `tag`)."""
    warehouse = ledger.register_facility(
        code=f"WH-{tag}", name="Hanoi provincial warehouse", kind="provincial_warehouse", province_code=PROVINCE,
        prov=make_prov(),
    )
    point = ledger.register_facility(
        code=f"VP-{tag}", name="Hoan Kiem vaccination point", kind="vaccination_point", province_code=PROVINCE,
        district_code=DISTRICT, ward_code=WARD, parent_code=f"WH-{tag}", prov=make_prov(),
    )
    world = World(
        ledger=ledger, warehouse_id=UUID(warehouse.ids["facility_id"]), point_id=UUID(point.ids["facility_id"]),
        lot_id=UUID(int=0), person_id=UUID(int=0), screening_id=UUID(int=0), tag=tag,
    )
    world.lot_id = world.register_lot(f"FA{tag}")
    if warehouse_stock:
        ledger.receive_stock(lot_id=world.lot_id, facility_id=world.warehouse_id, quantity=warehouse_stock,
                             supplier_ref="PO-1", prov=make_prov())
    if point_stock:
        ledger.receive_stock(lot_id=world.lot_id, facility_id=world.point_id, quantity=point_stock,
                             supplier_ref="PO-2", prov=make_prov())
    world.person_id = world.register_person()
    world.screening_id = world.screen(world.person_id)
    return world


@pytest.fixture
def world(ledger: Ledger) -> World:
    """The seeded world on the store under test."""
    return seed_world(ledger)


@pytest.fixture
def world_factory() -> Callable[..., World]:
    """`seed_world(ledger, warehouse_stock=..., point_stock=..., tag=...)`, for tests that build their own."""
    return seed_world


# -- the banner -----------------------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say loudly when PostgreSQL tests were skipped, and why: a green run without them proves less."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "postgres" in getattr(r, "keywords", {})]
    if not skipped:
        return
    reason = _pg_skip_reason[0] if _pg_skip_reason else "see the skip reasons above"
    tr = terminalreporter
    tr.write_sep("!", f"{len(skipped)} PostgreSQL TESTS SKIPPED", red=True, bold=True)
    tr.write_line(f"Why: {reason}", red=True, bold=True)
    tr.write_line(
        "Run them with LEDGER_TEST_DSN=postgresql://postgres@127.0.0.1:5432/postgres, or install PostgreSQL "
        "(initdb) for a throwaway server; LEDGER_REQUIRE_POSTGRES=1 makes their absence a failure.",
        red=True,
    )
    tr.write_sep("!", red=True, bold=True)


@pytest.fixture
def lab(world, prov) -> dict[str, UUID]:
    """A lab and a district health centre that takes samples, in the world's province."""
    ledger = world.ledger
    lab_id = ledger.register_facility(code=f"LAB-{world.tag}", name="CDC lab", kind="lab", province_code=PROVINCE,
                                      prov=prov()).ids["facility_id"]
    centre_id = ledger.register_facility(code=f"DC-{world.tag}", name="District centre", kind="district_centre",
                                         province_code=PROVINCE, district_code=DISTRICT, prov=prov()).ids["facility_id"]
    return {"lab": UUID(lab_id), "centre": UUID(centre_id)}
