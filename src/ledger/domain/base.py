"""What every aggregate and event of the ledger shares: provenance and explicit topics.

Every event carries who recorded it (`actor`), for which organisation (`org`), through
which channel (`source`), the sender's own reference (`client_ref`, for idempotency) and,
when the fact happened at another time than it is recorded, `occurred_at` (business
time). The library's `timestamp` is the recording time; backlog imports rely on the
difference.
"""

from __future__ import annotations

import copy
import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate

from .codes import SOURCES
from .errors import Invalid

#: Namespace of every natural-key id in the ledger (uuid5). Changing it would orphan every record.
LEDGER_NAMESPACE = uuid.UUID("6f1a3c0e-54d1-5b8e-9a57-2b0c1d7e4f10")


@functools.lru_cache(maxsize=1 << 16)
def natural_id(kind: str, *parts: str) -> uuid.UUID:
    """A deterministic id for a natural key, so a repeated registration finds the first one.
    Cached: a command looks up the same keys (receipt, identity key, stock card) several times."""
    return uuid.uuid5(LEDGER_NAMESPACE, "/".join((kind, *parts)))


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who records a fact, for whom, through which channel, and when it happened."""

    actor: str
    org: str
    source: str
    client_ref: str | None = None
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.actor or not isinstance(self.actor, str):
            raise Invalid("actor", "actor is required")
        if not self.org or not isinstance(self.org, str):
            raise Invalid("org", "org is required")
        if self.source not in SOURCES:
            raise Invalid("source", f"source must be one of {sorted(SOURCES)}")
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise Invalid("occurred_at", "occurred_at must carry a time zone")

    def fields(self) -> dict[str, object]:
        return {
            "actor": self.actor,
            "org": self.org,
            "source": self.source,
            "client_ref": self.client_ref,
            "occurred_at": self.occurred_at,
        }

    def when(self, now: datetime) -> datetime:
        """Business time of the fact: `occurred_at` when given, else `now`."""
        return self.occurred_at or now


class Stamped(Aggregate.Event):
    """Mixin of the provenance attributes every ledger event carries."""

    actor: str
    org: str
    source: str
    client_ref: str | None
    occurred_at: datetime | None


class MixinEvent(Stamped):
    """Base of the events nested in a mixin of `Person`.

    The library gives `Person` its own subclass of every event class nested in a base (here, the
    mixin), registered under the inherited `TOPIC`; that subclass is the class events are created
    and stored as. So it carries the `TOPIC` explicitly, and the mixin's own classes are not
    registered (registering them too would claim the topics first and make `Person` fail).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TOPIC" not in cls.__dict__ and isinstance(getattr(cls, "TOPIC", None), str):
            cls.TOPIC = cls.TOPIC


class LedgerAggregate(Aggregate):
    """Base of the ledger's aggregates.

    Each subclass names a `TOPIC` and defines its own creation event (a subclass of
    `Aggregate.Created` with a domain name, such as `Person.Registered`), so stored
    topics never depend on module paths.
    """

    def _record(self, event_class: type[Aggregate.Event], prov: Provenance, **attrs: object) -> None:
        """Trigger `event_class` with `attrs` and the provenance attributes (then applied)."""
        self.trigger_event(event_class, **attrs, **prov.fields())

    def __deepcopy__(self, memo: dict) -> LedgerAggregate:
        """A copy whose state can be changed without touching this one.

        The library copies every aggregate it hands out from its cache, so a command that fails
        leaves the cached one as it was. `copy.deepcopy` rebuilds every UUID and datetime in the
        state (they are immutable, but it does not know): that was a tenth of a dose command's
        CPU. Aggregate state is a tree of dicts, lists and sets over immutable values and events,
        so it is copied as such.
        """
        new = object.__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update({name: _copy_state(value) for name, value in self.__dict__.items()})
        return new


#: Values that copies of aggregate state share: immutable.
_IMMUTABLE = frozenset({str, int, float, bool, type(None), uuid.UUID, datetime, date, timedelta, frozenset})


def _copy_state(value: object) -> object:
    kind = type(value)
    if kind in _IMMUTABLE or isinstance(value, Aggregate.Event):  # events are frozen
        return value
    if kind is dict:
        return {k: _copy_state(v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind is list:
        return [_copy_state(v) for v in value]  # type: ignore[attr-defined]
    if kind is set:
        return set(value)  # type: ignore[call-overload]  # members are hashable, so immutable here
    return copy.deepcopy(value)


# The library would otherwise define a `Created` class on every subclass, which with
# explicit topics must itself carry one; our aggregates name their own creation events.
del LedgerAggregate.Created
