"""How events are stored: plain JSON, written and read with orjson.

The library's default transcoder wraps dates, datetimes and UUIDs in
`{"_type_": ..., "_data_": ...}` objects. We store plain JSON instead (ids as strings,
dates and times as ISO 8601) so an auditor or integrator can read a stored event
without Python, and restore the types on read from each event class's annotations.
Only top-level attributes are typed; nested lists and dicts stay plain JSON.

Snapshots hold arbitrary aggregate state, so they keep the library's tagged transcoder.
"""

from __future__ import annotations

import typing
from datetime import date, datetime
from functools import cache
from types import NoneType, UnionType
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import get_topic, resolve_topic

_CONVERTERS: dict[type, typing.Callable[[Any], Any]] = {
    UUID: UUID,
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
}


@cache
def _field_converters(cls: type) -> tuple[tuple[str, typing.Callable[[Any], Any]], ...]:
    """(field, converter) for each annotated top-level field whose JSON form is a string."""
    converters = []
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint) if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union else ()
        base = next((a for a in args if a is not NoneType), hint) if args else hint
        if base in _CONVERTERS:
            converters.append((name, _CONVERTERS[base]))
    return tuple(converters)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def snapshot_transcoder() -> JSONTranscoder:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder


class PlainJSONMapper(Mapper):
    """Stores events as plain JSON (orjson), optionally compressed and encrypted."""

    def __init__(self, transcoder=None, compressor=None, cipher=None) -> None:  # noqa: ANN001
        super().__init__(transcoder or snapshot_transcoder(), compressor, cipher)

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, Snapshot):
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        state = dict(domain_event.__dict__)
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = orjson.dumps(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version, topic=get_topic(cls),
                           state=data)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        if issubclass(cls, Snapshot):
            return super().to_domain_event(stored_event)
        return self.decode(
            stored_event.topic, stored_event.originator_id, stored_event.originator_version, stored_event.state
        )

    def decode(self, topic: str, originator_id: UUID | str, originator_version: int, data: bytes) -> Any:
        """The domain event of one stored row (not a snapshot), without building a `StoredEvent` first."""
        cls = resolve_topic(topic)
        state = self.stored_state(topic, originator_id, originator_version, data)
        for name, convert in _field_converters(cls):
            value = state.get(name)
            if isinstance(value, str):
                state[name] = convert(value)
        state["originator_id"] = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        state["originator_version"] = originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def stored_state(self, topic: str, originator_id: UUID | str, originator_version: int, data: bytes) -> dict:
        """The JSON state of one stored event (not a snapshot), upcast to its class's current version:
        the event's fields as plain JSON (ids, dates and times as strings), without its id and version."""
        cls = resolve_topic(topic)
        try:
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state = orjson.loads(data)
        except Exception as e:
            raise MapperDeserialisationError(
                f"cannot read stored event {originator_id} v{originator_version} ({topic}): {e}"
            ) from e
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        return state
