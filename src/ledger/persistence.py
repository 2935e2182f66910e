"""The library's environment for our store, built from `Settings` (never from os.environ).

Decisions kept here, with their reasons (see docs/architecture.md):
- PostgreSQL tables come from `migrations/` (`CREATE_TABLE=n`); SQLite tables are made by
  the library, since the embedded store must work with no set-up.
- The library's table lock stays on (insert order == commit order, so a reader following
  positions never skips a late commit); `POSTGRES_ENABLE_DB_FUNCTIONS` is never set,
  because that path does not lock and was seen to lose events for live readers.
- A lock timeout is always set, so a stuck writer fails fast instead of queueing forever.
- Our recorders (`ledger.recorders`) add a read-set check to the library's insert.
- No pre-ping: it cost one `SELECT 1` per pool checkout, about six per command. A dead
  connection fails its statement with `OperationalError`, which the library's recorders
  retry on a fresh connection, and the pool discards broken connections when they return.
"""

from __future__ import annotations

from .settings import Settings


def ledger_env(settings: Settings) -> dict[str, str]:
    env: dict[str, str] = {
        "AGGREGATE_CACHE_MAXSIZE": str(settings.aggregate_cache_size),
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }
    if settings.is_postgres:
        p = settings.postgres_params()
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_HOST": p["host"],
                "POSTGRES_PORT": p["port"],
                "POSTGRES_DBNAME": p["dbname"],
                "POSTGRES_USER": p["user"],
                "POSTGRES_PASSWORD": p["password"],
                "POSTGRES_SCHEMA": "public",
                "POSTGRES_LOCK_TIMEOUT": str(settings.lock_timeout),
                "POSTGRES_POOL_SIZE": str(settings.pool_size),
                "POSTGRES_MAX_OVERFLOW": str(settings.pool_max_overflow),
                "POSTGRES_PRE_PING": "n",
                "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
                "CREATE_TABLE": "n",
                "APPLICATION_RECORDER_TOPIC": "ledger.recorders:LedgerPostgresRecorder",
            }
        )
    else:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": str(settings.lock_timeout),
                "CREATE_TABLE": "y",
                "APPLICATION_RECORDER_TOPIC": "ledger.recorders:LedgerSQLiteRecorder",
            }
        )
    if settings.cipher_key is not None:
        # AES-GCM over each stored event's (and snapshot's) state: ids, versions, topics and positions
        # stay readable for the engine and for auditors; names, numbers and answers do not.
        env.update({"CIPHER_TOPIC": "ledger.cipher:LedgerCipher", "CIPHER_KEY": settings.cipher_key})
    env.update(settings.extra_env)
    return env
