"""The ledger's domain model: aggregates, their events, and the rules they guard.

Pure by design: it imports only the standard library, `eventsourcing.domain` and
`ledger.policies` (a test enforces it), so it runs and is tested without any I/O.
"""

from .access import AccessGrant, BreakGlass, RecordAccess
from .base import LedgerAggregate, Provenance, natural_id
from .checkin import CheckIn
from .errors import Conflict, Invalid, LedgerError, NotFound, RuleViolation
from .facility import Facility
from .identity import IdentityKey
from .lot import VaccineLot
from .person import Person
from .population import AreaPopulation
from .receipt import CommandReceipt
from .sample import Sample
from .stock import StockCard
from .transfer import Transfer

AGGREGATES = (Facility, VaccineLot, StockCard, Transfer, Person, IdentityKey, CommandReceipt, AccessGrant,
              RecordAccess, BreakGlass, Sample, CheckIn, AreaPopulation)

__all__ = [
    "AGGREGATES",
    "AccessGrant",
    "AreaPopulation",
    "BreakGlass",
    "CheckIn",
    "CommandReceipt",
    "Conflict",
    "Facility",
    "IdentityKey",
    "Invalid",
    "LedgerAggregate",
    "LedgerError",
    "NotFound",
    "Person",
    "Provenance",
    "RecordAccess",
    "RuleViolation",
    "Sample",
    "StockCard",
    "Transfer",
    "VaccineLot",
    "natural_id",
]
