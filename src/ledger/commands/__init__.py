"""The ledger's commands by area, as mixins of `ledger.application.Ledger`.

Each mixin's methods run on the `Ledger` itself: they load aggregates (`_load`, `_reference`,
`_find`), let them decide, and save what changed through `_execute` (retries, idempotency,
read sets). The supply chain, people and vaccination commands are still on `Ledger` itself.
"""

from .backlog import BacklogCommands
from .checkins import CheckInCommands
from .risk import RiskCommands
from .testing import TestingCommands
from .tracing import TracingCommands

__all__ = ["BacklogCommands", "CheckInCommands", "RiskCommands", "TestingCommands", "TracingCommands"]
