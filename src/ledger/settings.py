"""Settings, read once at the edge (`Settings.from_env()`) and passed down as values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

DEFAULT_DATABASE_URL = "sqlite:///var/ledger.sqlite3"


@dataclass(frozen=True)
class Settings:
    #: `sqlite:///relative/path.sqlite3`, `sqlite:////absolute/path`, or `postgresql://user:pw@host:port/db`.
    database_url: str = DEFAULT_DATABASE_URL
    #: Seconds a writer waits for the event table's lock before giving up (PostgreSQL).
    lock_timeout: int = 5
    pool_size: int = 5
    pool_max_overflow: int = 10
    #: Aggregates kept in memory per process (fast-forwarded on every read).
    aggregate_cache_size: int = 10_000
    #: How long a token's grant read from the store may serve plain reads (`Ledger.authenticate`).
    grant_cache_seconds: float = 1.0
    #: How long a read with `min_position` waits for its projection before answering 503.
    read_wait_seconds: float = 5.0
    #: Run the projection engine inside `ledger serve`.
    run_projections_in_process: bool = True
    #: PostgreSQL: concurrent commands of a process share transactions (`ledger.recorders.GroupCommit`).
    group_commit: bool = True
    projection_batch_size: int = 1000
    #: Seconds between polls when the store cannot notify (SQLite), and the LISTEN timeout.
    poll_interval: float = 0.1
    #: AES key (base64 of 16, 24 or 32 bytes) encrypting stored event state; None stores plain JSON.
    cipher_key: str | None = field(default=None, repr=False)
    #: Production refuses to start without a cipher key, or with a placeholder one (`check_secrets`).
    production: bool = False
    #: An external identity provider whose JWTs the API accepts: its public keys (a JWKS document),
    #: the issuer (`iss`) and the audience (`aud`) its tokens must name. All three, or none.
    jwt_jwks: str | None = field(default=None, repr=False)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = env.get("LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL)
        return cls(
            database_url=database_url,
            lock_timeout=int(env.get("LEDGER_LOCK_TIMEOUT", "5")),
            pool_size=int(env.get("LEDGER_POOL_SIZE", "5")),
            pool_max_overflow=int(env.get("LEDGER_POOL_MAX_OVERFLOW", "10")),
            aggregate_cache_size=int(env.get("LEDGER_AGGREGATE_CACHE_SIZE", "10000")),
            grant_cache_seconds=float(env.get("LEDGER_GRANT_CACHE_SECONDS", "1")),
            read_wait_seconds=float(env.get("LEDGER_READ_WAIT_SECONDS", "5")),
            run_projections_in_process=env.get("LEDGER_PROJECTIONS_IN_PROCESS", "1") not in ("0", "false", "no"),
            group_commit=env.get("LEDGER_GROUP_COMMIT", "1") not in ("0", "false", "no"),
            projection_batch_size=int(env.get("LEDGER_PROJECTION_BATCH_SIZE", "1000")),
            cipher_key=_cipher_key(env, database_url),
            production=env.get("LEDGER_ENV", "development") == "production",
            jwt_jwks=env.get("LEDGER_JWT_JWKS") or (
                Path(env["LEDGER_JWT_JWKS_FILE"]).read_text() if env.get("LEDGER_JWT_JWKS_FILE") else None),
            jwt_issuer=env.get("LEDGER_JWT_ISSUER") or None,
            jwt_audience=env.get("LEDGER_JWT_AUDIENCE") or None,
        )

    @property
    def is_postgres(self) -> bool:
        return urlparse(self.database_url).scheme in ("postgresql", "postgres")

    @property
    def sqlite_path(self) -> Path:
        """Path of the SQLite event store (`sqlite:///var/x.sqlite3` is relative to the working directory)."""
        parsed = urlparse(self.database_url)
        if parsed.scheme != "sqlite":
            raise ValueError(f"not a SQLite URL: {self.database_url}")
        path = unquote(parsed.path)
        return Path(path[1:] if path.startswith("/") and not path.startswith("//") else path[1:])

    @property
    def sqlite_projections_path(self) -> Path:
        """Projections live in a second SQLite file, so a long rebuild never blocks the writers."""
        path = self.sqlite_path
        return path.with_name(path.stem + ".projections" + path.suffix)

    def postgres_params(self) -> dict[str, str]:
        parsed = urlparse(self.database_url)
        return {
            "host": parsed.hostname or "127.0.0.1",
            "port": str(parsed.port or 5432),
            "dbname": unquote(parsed.path.lstrip("/")) or "postgres",
            "user": unquote(parsed.username or "postgres"),
            "password": unquote(parsed.password or ""),
        }

    def postgres_conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.postgres_params())

    def describe(self) -> str:
        """The store in words, without secrets."""
        if self.is_postgres:
            p = self.postgres_params()
            return f"PostgreSQL {p['user']}@{p['host']}:{p['port']}/{p['dbname']}"
        return f"SQLite {self.sqlite_path}"


#: The file an embedded store keeps its generated cipher key in (`ledger demo`), beside the database.
KEY_FILE_NAME = "ledger.key"


def key_file(database_url: str) -> Path | None:
    """Where an embedded (SQLite) store's generated key lives; None for PostgreSQL, whose key is configured."""
    settings = Settings(database_url=database_url)
    return None if settings.is_postgres else settings.sqlite_path.parent / KEY_FILE_NAME


def _cipher_key(env: Mapping[str, str], database_url: str) -> str | None:
    """`LEDGER_CIPHER_KEY`, else the file `LEDGER_CIPHER_KEY_FILE`, else an embedded store's own key file."""
    if env.get("LEDGER_CIPHER_KEY"):
        return env["LEDGER_CIPHER_KEY"]
    path = Path(env["LEDGER_CIPHER_KEY_FILE"]) if env.get("LEDGER_CIPHER_KEY_FILE") else key_file(database_url)
    if path is not None and path.exists():
        return path.read_text().strip()
    return None
