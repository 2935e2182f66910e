"""What every aggregate and event of the ledger shares: provenance and explicit topics.

Every event carries who recorded it (`actor`), for which organisation (`org`), through
which channel (`source`), the sender's own reference (`client_ref`, for idempotency) and,
when the fact happened at another time than it is recorded, `occurred_at` (business
time). The library's `timestamp` is the recording time; backlog imports rely on the
difference.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from eventsourcing.domain import (
    Aggregate,
    CanMutateAggregate,
    DomainEvent,
    ProgrammingError,
    _check_explicit_topic_is_registered,
    get_topic,
)

from .codes import SOURCES
from .errors import Invalid

#: Namespace of every natural-key id in the ledger (uuid5). Changing it would orphan every record.
LEDGER_NAMESPACE = uuid.UUID("6f1a3c0e-54d1-5b8e-9a57-2b0c1d7e4f10")


_NAMESPACE_BYTES = LEDGER_NAMESPACE.bytes
#: The version (5) and variant (RFC 4122) bits of a uuid5, over the first 16 bytes of its SHA-1.
_UUID5_KEEP = ~(0xF000 << 64 | 0xC000 << 48) & ((1 << 128) - 1)
_UUID5_SET = 5 << 76 | 0x8000 << 48


@functools.lru_cache(maxsize=1 << 16)
def natural_id(kind: str, *parts: str) -> uuid.UUID:
    """A deterministic id for a natural key, so a repeated registration finds the first one.

    `uuid.uuid5(LEDGER_NAMESPACE, "kind/part/...")`, computed in a third of its time: the UUID is
    set from its integer as `UUID.__setstate__` (unpickling) sets it, skipping `__init__`'s
    parsing of its arguments. A backlog import makes a new one for every row's receipt (5 % of
    its CPU through `uuid5`). Cached: a command looks up the same keys (receipt, identity key,
    stock card) several times."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + "/".join((kind, *parts)).encode()).digest()
    value = object.__new__(uuid.UUID)
    object.__setattr__(value, "int", int.from_bytes(digest[:16]) & _UUID5_KEEP | _UUID5_SET)
    object.__setattr__(value, "is_safe", uuid.SafeUUID.unknown)
    return value


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

    def trigger_event(self, event_class: type[CanMutateAggregate], **kwargs: Any) -> None:
        """The library's `trigger_event` (the same checks, version and timestamp), with the event
        built by `new_event` from `kwargs` itself (the library copies it first)."""
        _check_registered(event_class)
        kwargs["originator_id"] = self.id
        kwargs["originator_version"] = self.version + 1
        if kwargs.get("timestamp") is None:
            kwargs["timestamp"] = event_class.create_timestamp()
        event = new_event(event_class, kwargs)
        event.mutate(self)
        self._pending_events.append(event)

    @classmethod
    def _create(cls, event_class: type[Any], *, id: uuid.UUID | None = None, **kwargs: Any) -> Any:  # noqa: A002
        """The library's `_create` for a given id (every ledger aggregate's id is given or natural),
        with the event built by `new_event` and the aggregate initialised as the creation event's
        `CanInitAggregate.mutate` does, without looking up its class by topic and filtering the
        event's attributes by `__init__`'s signature on every call (a replay still goes through
        `mutate`; `test_replay_of_stored_events_rebuilds_each_aggregate` holds the two together).
        Six in ten events of a backlog import are creations: receipts, people, identity keys."""
        if not isinstance(id, uuid.UUID):
            return super()._create(event_class, id=id, **kwargs)
        _check_registered(event_class)
        kwargs["originator_topic"] = get_topic(cls)
        kwargs["originator_id"] = id
        kwargs["originator_version"] = cls.INITIAL_VERSION
        if kwargs.get("timestamp") is None:
            kwargs["timestamp"] = event_class.create_timestamp()
        event = new_event(event_class, kwargs)
        state = event.__dict__
        aggregate = cls.__new__(cls)
        aggregate.__base_init__(id, cls.INITIAL_VERSION, state["timestamp"])
        names, wants_id = _init_parameters(cls)
        arguments = {name: state[name] for name in names if name in state}
        if wants_id:
            arguments["id"] = id
        aggregate.__init__(**arguments)
        event.apply(aggregate)
        aggregate.pending_events.append(event)
        return aggregate

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


@functools.cache
def _check_registered(event_class: type) -> None:
    """The library's check that an event class is the one its explicit topic names, once per class
    (it raises, so a class that fails is never cached)."""
    if event_class.__name__ == "Event":
        raise ProgrammingError("Triggering base 'Event' class is prohibited.")
    _check_explicit_topic_is_registered(event_class)


@functools.cache
def _init_parameters(cls: type) -> tuple[tuple[str, ...], bool]:
    """The names `CanInitAggregate.mutate` picks from a creation event for `cls.__init__`, and
    whether it also passes the aggregate's `id`."""
    names = tuple(inspect.signature(cls.__init__).parameters)
    return tuple(n for n in names if n != "self"), "id" in names


@functools.cache
def _blank_state(event_class: type) -> dict[str, None] | None:
    """The event class's fields in declaration order (all None), or None when its dataclass
    `__init__` does more than assign them (a default, or a `__post_init__` other than the library's
    check of the id)."""
    fields = dataclasses.fields(event_class)
    if event_class.__post_init__ is not DomainEvent.__post_init__ or any(
        f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING or not f.init
        for f in fields
    ):
        return None
    return dict.fromkeys(f.name for f in fields)


def new_event(event_class: type, attrs: dict[str, Any]) -> Any:
    """An instance of the frozen event dataclass `event_class` with exactly `attrs`.

    What its generated `__init__` would build, in a third of the time: that `__init__` sets each
    field through `object.__setattr__`, and building events was 7 % of a backlog import's CPU.
    This fills a copy of the class's blank state (so the fields keep their declared order, and the
    stored JSON is the same) and sets it at once, as the mapper does when it reads an event back.
    What the fast path cannot vouch for (a missing or unknown attribute, a non-UUID id, a class
    with defaults) goes through the real `__init__`, with its errors.
    """
    blank = _blank_state(event_class)
    if blank is None or len(attrs) != len(blank) or type(attrs.get("originator_id")) is not uuid.UUID:
        return event_class(**attrs)
    state = blank.copy()
    state.update(attrs)
    if len(state) != len(blank):  # as many attributes as fields, so some are not fields
        return event_class(**attrs)
    event = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


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
