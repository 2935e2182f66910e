"""What a projection is: the events it reads, the tables it owns, and how it applies a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from ledger.domain.person import LOCAL_TZ, local_day

from .db import Tx


def utc_text(moment: str) -> str:
    """A stored moment (an ISO string) as projections store it: ISO 8601 in UTC, so rows sort and
    compare as text."""
    return utc_text_and_day(moment)[0]


#: (UTC date and hour, local day) of each hour and offset seen (`YYYY-MM-DDTHH` + `+HH:MM`), for
#: `utc_text_and_day`. Exact for offsets of whole hours, as `LOCAL_TZ` is (checked here): minutes
#: and seconds are the same in every such zone. Small: 24 entries per day and offset in the log.
#: Parsing every moment was a twelfth of a `vaccination_history` rebuild.
_HOURS: dict[str, tuple[str, date]] = {}
if LOCAL_TZ.utcoffset(None) % timedelta(hours=1):
    raise RuntimeError("utc_text_and_day keys local days by the hour: LOCAL_TZ must be whole hours from UTC")


def utc_text_and_day(moment: str) -> tuple[str, date]:
    """A stored moment (an ISO string) as `utc_text` gives it, and its local calendar day as the
    domain's `local_day` gives it.

    The log stores moments as `isoformat()` writes them (`YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM`):
    one with a whole-hour offset is shifted by its hour (`_HOURS`); any other is parsed."""
    if len(moment) in (25, 32) and moment[10] == "T" and moment.endswith(":00") and moment[-6] in "+-":
        key = moment[:13] + moment[-6:]
        hour = _HOURS.get(key)
        if hour is None:
            instant = datetime.fromisoformat(f"{moment[:13]}:00{moment[-6:]}")
            hour = _HOURS[key] = (instant.astimezone(UTC).isoformat()[:13], local_day(instant))
        return f"{hour[0]}{moment[13:-6]}+00:00", hour[1]
    parsed = datetime.fromisoformat(moment)
    return parsed.astimezone(UTC).isoformat(), local_day(parsed)


class Fact:
    """One event as a projection sees it: the fields the log stores, as attributes, in their JSON
    form (ids, dates and times as ISO strings; nested lists and dicts as stored), with `topic`,
    `originator_id` and `originator_version`. Read models keep ids and times as text, so
    handlers take them as they are, without typed domain events in between."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.__dict__ = state


class Rows:
    """The rows of one table that a batch touches: loaded once, changed in memory, written once.

    Handlers work on plain dicts, so a batch of thousands of events costs one read and
    one write per table instead of a statement per event.
    """

    def __init__(self, tx: Tx, table: str, key: Sequence[str]) -> None:
        self.tx = tx
        self.table = table
        self.key = tuple(key)
        self.rows: dict[tuple, dict[str, Any]] = {}
        self.dirty: set[tuple] = set()
        self._loaded: set[tuple] = set()
        first = self.key[0]
        # Called for every row put or touched: a closure per key shape instead of a generator.
        self._k = (lambda row: (row[first],)) if len(self.key) == 1 else (
            lambda row: tuple([row[c] for c in self.key]))

    def load(self, values: Iterable[Any], column: str | None = None) -> None:
        """Load the rows whose `column` (default: the single key column) is one of `values`."""
        column = column or self.key[0]
        wanted = {v for v in values if (v,) not in self._loaded} if column == self.key[0] else set(values)
        emptied = self.tx.emptied.get(self.table)
        if emptied is not None:
            wanted = emptied.may_exist(column, wanted)
        if not wanted:
            return
        for row in self.tx.fetch_in(self.table, column, sorted(wanted)):
            k = self._k(row)
            if k not in self.rows:
                self.rows[k] = row
        if column == self.key[0] and len(self.key) == 1:
            self._loaded.update((v,) for v in wanted)

    def get(self, *key: Any) -> dict[str, Any] | None:
        return self.rows.get(key)

    def where(self, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.rows.values() if all(r[c] == v for c, v in match.items())]

    def put(self, row: dict[str, Any]) -> dict[str, Any]:
        k = self._k(row)
        self.rows[k] = row
        self.dirty.add(k)
        return row

    def touch(self, row: dict[str, Any]) -> None:
        self.dirty.add(self._k(row))

    def flush(self) -> None:
        keys = sorted(self.dirty)
        self.dirty.clear()
        emptied = self.tx.emptied.get(self.table)
        if emptied is None:
            self.tx.upsert(self.table, self.key, [self.rows[k] for k in keys])
            return
        # In a table a build created empty, a key it never wrote is not there: a plain insert.
        new: list[dict[str, Any]] = []
        written: list[dict[str, Any]] = []
        for k in keys:
            (new if emptied.is_new(k) else written).append(self.rows[k])
        self.tx.insert(self.table, new)
        self.tx.upsert(self.table, self.key, written)
        emptied.wrote(keys, [self.rows[k] for k in keys])


class Projection:
    """A read model kept up to date from the log by the engine.

    Subclasses set `name`, `tables` (table -> primary key columns, in digest order) and
    `handlers` (event class -> method name); the topics they read follow from `handlers`, and
    each handler gets the event as a `Fact`.
    `apply` must be deterministic: the same events give the same rows, whether they come
    in one batch or many.
    """

    name: ClassVar[str]
    tables: ClassVar[dict[str, tuple[str, ...]]]
    handlers: ClassVar[dict[type, str]]
    #: Tables `apply` only ever inserts into (`Tx.insert`), never reads or changes: a build fills
    #: their copies without keys or indexes and adds them once full (`ScratchArea.complete`).
    insert_only: ClassVar[frozenset[str]] = frozenset()

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sorted(get_topic(cls) for cls in self.handlers))

    @staticmethod
    def topics_of(*classes: type) -> frozenset[str]:
        """The topics of event classes, to test a `Fact`'s `topic` against."""
        return frozenset(get_topic(cls) for cls in classes)

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        raise NotImplementedError

    def dispatch(self, events: list[tuple[int, Fact]], *args: Any) -> None:
        """Call each event's handler in log order."""
        handlers: dict[str, Callable] = {get_topic(cls): getattr(self, name) for cls, name in self.handlers.items()}
        for position, event in events:
            handlers[event.topic](event, position, *args)
