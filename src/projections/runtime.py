"""The read side as one object: store, engine, read models, and the in-process runner thread."""

from __future__ import annotations

import threading
import time
from typing import Any

from ledger.application import Ledger
from ledger.migrate import migrate
from ledger.settings import Settings

from .access_log import AccessLog, AccessLogQueries
from .checkins import CheckInQueries, CheckIns
from .db import open_projection_db
from .engine import ProjectionEngine
from .risk_map import RiskMap, RiskMapQueries
from .stock import Stock, StockQueries
from .testing import Testing, TestingQueries
from .tracing import Tracing, TracingQueries
from .vaccination_history import VaccinationHistory, VaccinationHistoryQueries


def all_projections() -> list:
    return [
        VaccinationHistory(),
        Stock(),
        AccessLog(),
        Testing(),
        Tracing(),
        CheckIns(),
        RiskMap(),
    ]


class ProjectionRuntime:
    def __init__(self, settings: Settings, ledger: Ledger) -> None:
        self.settings = settings
        if not settings.is_postgres:
            # The embedded store sets itself up; PostgreSQL is migrated by `ledger db migrate`.
            migrate(settings)
        self.db = open_projection_db(settings)
        self.engine = ProjectionEngine(ledger, self.db, all_projections(), settings.projection_batch_size)
        self.vaccination_history = VaccinationHistoryQueries(self.db)
        self.stock = StockQueries(self.db)
        self.access_log = AccessLogQueries(self.db)
        self.testing = TestingQueries(self.db)
        self.tracing = TracingQueries(self.db)
        self.checkins = CheckInQueries(self.db)
        self.risk_map = RiskMapQueries(self.db)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.settings.run_projections_in_process and self._thread is None:
            self._thread = threading.Thread(
                target=self.engine.run_forever, args=(self._stop, self.settings.poll_interval),
                name="projection-engine", daemon=True,
            )
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.db.close()

    def wait_for(self, position: int, names: tuple[str, ...], timeout: float) -> bool:
        """Wait until each named projection has processed the log up to `position`."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            positions = self.engine.positions()
            if all(positions.get(n, 0) >= position for n in names):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def status(self) -> list[dict[str, Any]]:
        return self.engine.status()
