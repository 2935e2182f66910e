"""Backlogs: many commands of the vaccination flow recorded at once, each by the code of one command.

In 2021 millions of doses were given but entered late, from paper lists. A backlog file names,
row by row, a command (`register_person`, `register_for_vaccination`, `screen`,
`administer_dose`), its arguments, when it happened (`occurred_at`) and the sender's reference
of the row (`ref`). `import_backlog` runs every row through the same `Ledger` method a single
command calls, so a row is refused in bulk for exactly the reason, rule and field it would be
alone, and a good row writes exactly the events it would alone, with its `CommandReceipt`.

What changes is where the commands' aggregates live and when they are saved. The rows of a
batch share a working set (`Batch`): the people, identity keys and receipts it names are read
in one query before it starts, a person registered on one row is there for the next row's dose,
and one stock card takes a whole batch's doses. A refused row is undone in the working set
(each aggregate it changed is rebuilt from the store and the batch's earlier rows) and the
batch goes on. At the end the batch's events go to the store in one transaction with the union
of the rows' read sets (lots, facilities, the caller's grant) and the versions of every other
aggregate the batch read without changing (identity keys, mostly). If a concurrent writer moved
one of its aggregates meanwhile, the transaction is refused whole and the batch is run again from
fresh state; after repeated losses it is split in halves, so a hot stock card cannot starve it.
A committed batch hands the aggregates it read on first use (stock cards, mostly) to the next
batch as committed, so a busy card is read once per import instead of once per batch, and
snapshots are taken from the copies in memory.

Idempotency is the single command's: a row's `ref` is its `client_ref`, whose receipt is written
with the row's events. A row whose receipt is already there is a `duplicate` and answers the
first result; a second row with the same `ref` and other content (or another `occurred_at`) is refused
(`client_ref_reused`). Importing a file twice adds nothing, and an import stopped part way
(every batch commits whole or not at all) is finished by importing the same file again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from .. import collector
from ..domain import (
    CommandReceipt,
    Conflict,
    IdentityKey,
    Invalid,
    LedgerError,
    NotFound,
    Provenance,
    StockCard,
)
from ..domain.identity import normalise_id_number
from ._shared import BATCH, CALLER_GRANT, READ_SET, BulkReport, CommandResult, project, request_digest

if TYPE_CHECKING:
    from ..domain import LedgerAggregate

#: The commands a backlog row may carry.
BACKLOG_COMMANDS = ("register_person", "register_for_vaccination", "screen", "administer_dose")
#: Rows per batch (one transaction): the commit, the table lock and the batch's reads are shared by
#: this many rows, and a lost race re-runs no more than this.
IMPORT_BATCH = 2000
#: Attempts of a batch that keeps losing races before it is split in halves (then each half has as many).
IMPORT_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class BacklogRow:
    """One parsed row: the `Ledger` method to call, its keyword arguments (without `prov`), the row's
    reference and business time. `person` (id type, id number) names the person instead of a
    `person_id` argument: the row then applies to whoever holds that document when it runs."""

    line: int
    command: str
    ref: str
    arguments: dict[str, Any]
    occurred_at: datetime | None = None
    person: tuple[str, str] | None = None

    def person_id(self) -> UUID | None:
        value = self.arguments.get("person_id")
        return value if isinstance(value, UUID) else None


@dataclass(frozen=True, slots=True)
class RefusedRow:
    """A row that names its reference (and command, when it is one) but is malformed: refused with
    `error` before it runs, and reported under its ref, so the sender can match the report to it."""

    ref: str | None
    command: str | None
    error: LedgerError


@dataclass(frozen=True, slots=True)
class ImportRow:
    """What became of one row: `accepted`, `duplicate` (its ref was recorded before) or `refused`."""

    line: int
    status: str
    ref: str | None = None
    command: str | None = None
    ids: dict[str, str] | None = None
    field: str | None = None
    rule: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("line", self.line), ("status", self.status), ("ref", self.ref),
                                  ("command", self.command), ("ids", self.ids), ("field", self.field),
                                  ("rule", self.rule), ("message", self.message)) if v is not None}


def refusal(line: int, error: LedgerError, row: BacklogRow | RefusedRow | None = None) -> ImportRow:
    """The report of a row refused with `error` (its field for 422s, its rule for 409s)."""
    rule = getattr(error, "rule", None)
    name = getattr(error, "field", None)
    if isinstance(error, NotFound):
        name = "person" if error.kind == "person with id number" else f"{error.kind.replace(' ', '_')}_id"
    return ImportRow(line, "refused", row.ref if row else None, row.command if row else None,
                     field=name, rule=rule, message=error.message)


class Batch:
    """The working set of one batch: aggregates as its rows have left them, and its events in order.

    `aggregates` maps an id to the batch's copy (None: known not to exist); `stored` holds the ids
    whose copy started from the store. While a row runs, `touched` remembers how many pending
    events each aggregate it used had before it, which is what `undo` rolls back to.

    `carried` holds the stock cards the batches before left as committed (`carry_over`); a card
    moves from there into `aggregates` when a row first uses it and goes back after the commit.
    So a batch costs what its rows use, not what the import has carried so far: a national
    workload carries tens of thousands of cards (every lot at every point), and copying them
    into every batch made its writes slow down as it grew.
    """

    def __init__(self, ledger: Any, known: dict[UUID, LedgerAggregate | None],
                 carried: dict[UUID, LedgerAggregate]) -> None:
        self.ledger = ledger
        self.aggregates = dict(known)
        self.stored = {i for i, a in known.items() if a is not None}
        self.carried = carried
        for aggregate_id in known.keys() & carried.keys():
            del carried[aggregate_id]  # read again with the batch's first query: that copy is the newer
        #: Ids read on first use rather than prefetched (stock cards, mostly), from `carried` or the
        #: store: the stock cards among them go back to `carried` after the commit (`carry_over`).
        self.shared: set[UUID] = set()
        self.events: list[Any] = []
        #: What the rows read without changing (lots, facilities), and the caller's grant (see `CALLER_GRANT`).
        caller = CALLER_GRANT.get()
        self.reads: dict[UUID, int] = dict([caller]) if caller is not None else {}
        self.changed: dict[UUID, LedgerAggregate] = {}
        self.touched: dict[UUID, int] = {}
        #: Every id a row asked for: only those of them that are stored guard the commit.
        self.used: set[UUID] = set()

    def get(self, ledger: Any, aggregate_id: UUID) -> LedgerAggregate:
        """`Ledger._get` inside the batch: the batch's copy, read from the store on first use."""
        try:
            aggregate = self.aggregates[aggregate_id]
        except KeyError:
            aggregate = self.carried.pop(aggregate_id, None)
            if aggregate is None:
                try:
                    aggregate = ledger.repository.get(aggregate_id, projector_func=project)
                except AggregateNotFoundError:
                    aggregate = None
            if aggregate is not None:
                self.stored.add(aggregate_id)
                self.shared.add(aggregate_id)
            self.aggregates[aggregate_id] = aggregate
        self.used.add(aggregate_id)
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        self.touched.setdefault(aggregate_id, len(aggregate._pending_events))
        return aggregate

    def execute(self, command: str, prov: Provenance, request: dict, build: Callable) -> CommandResult:
        """`Ledger._execute` inside the batch: the receipt check, the command, its receipt; nothing saved."""
        if prov.client_ref is None:
            raise Invalid("ref", "every backlog row needs its ref")
        digest = request_digest(request)
        receipt_id = CommandReceipt.create_id(prov.org, prov.client_ref)
        receipt = self.ledger._find(receipt_id)
        if isinstance(receipt, CommandReceipt):
            return CommandResult(receipt.replay(command, digest, prov.occurred_at), 0, replayed=True)
        token = READ_SET.set(self.reads)
        try:
            aggregates, ids = build()
        finally:
            READ_SET.reset(token)
        receipt = CommandReceipt.issue(command=command, request_digest=digest, result=ids, prov=prov)
        for aggregate in [*aggregates, receipt]:
            if aggregate.id not in self.touched:
                # Created by this row (or changed without being read through the batch): all its events are new.
                self.touched[aggregate.id] = 0
                self.aggregates[aggregate.id] = aggregate
        return CommandResult(ids, 0)

    def end_row(self) -> None:
        """The row was accepted (or found recorded): its new events join the batch's, in order."""
        for aggregate_id, mark in self.touched.items():
            aggregate = self.aggregates[aggregate_id]
            if aggregate is not None and len(aggregate._pending_events) > mark:
                self.events.extend(aggregate._pending_events[mark:])
                self.changed[aggregate_id] = aggregate
        self.touched = {}

    def undo(self) -> None:
        """The row was refused: every aggregate it changed goes back to what the earlier rows left."""
        for aggregate_id, mark in self.touched.items():
            aggregate = self.aggregates[aggregate_id]
            if aggregate is None or len(aggregate._pending_events) == mark:
                continue
            kept = aggregate._pending_events[:mark]
            if not kept and aggregate_id not in self.stored:
                self.aggregates[aggregate_id] = None  # created by this row: not there after all
                continue
            base = (self.ledger.repository.get(aggregate_id, projector_func=project)
                    if aggregate_id in self.stored else None)
            base = project(base, kept)
            base._pending_events = list(kept)
            self.aggregates[aggregate_id] = base
            if aggregate_id in self.changed:
                self.changed[aggregate_id] = base
        self.touched = {}

    def commit(self) -> None:
        """Append the batch's events in one transaction, guarded by what its rows read but did not change.
        Raises `IntegrityError` (a `StaleReadError` among them) when a concurrent writer got there first."""
        if not self.events:
            return
        ledger = self.ledger
        stored = [ledger.mapper.to_stored_event(event) for event in self.events]
        read_set = {i: v for i, v in self.reads.items() if i not in self.changed}
        # And every aggregate the rows read from the store (or were handed by the batch before) without
        # changing it: an identity key a row named its person by, a stock card carried over. Carried
        # cards no row used stay out: they decided nothing here (the batch that uses one checks it).
        for aggregate_id in (self.stored & self.used) - self.changed.keys():
            aggregate = self.aggregates.get(aggregate_id)
            if aggregate is not None:
                read_set[aggregate_id] = aggregate.version
        if ledger.settings.is_postgres:
            ledger._copy_events(stored, read_set)
        else:
            ledger.recorder.insert_events(stored, read_set=read_set)
        self._snapshot()

    def _snapshot(self) -> None:
        """Snapshot each changed aggregate whose versions crossed a multiple of its interval, from the
        copy in memory (the library's `take_snapshot` reads it again from the store, which for a
        busy stock card is a few hundred events)."""
        ledger = self.ledger
        if not ledger.snapshots:
            return
        snapshots = []
        for aggregate in self.changed.values():
            interval = ledger.snapshotting_intervals.get(type(aggregate))
            if interval and aggregate.version // interval > (aggregate.version - len(aggregate._pending_events)) // interval:
                snapshot_class = getattr(type(aggregate), "Snapshot", type(ledger).snapshot_class)
                snapshots.append(snapshot_class.take(aggregate))
        if snapshots:
            ledger.snapshots.put(snapshots)

    def carry_over(self) -> None:
        """After the commit: the stock cards the batch used, or opened, go to `carried` as now
        stored, for the next batches to start from instead of reading them again (their doses and
        deliveries are theirs). Should another writer have changed one meanwhile, the commit that
        uses it next is refused (its read set, or the version constraint) and re-run from the store.
        Only stock cards: they are few per batch and every batch wants them, whereas the people a
        batch read on first use (a sample's subjects) would pile up from batch to batch."""
        for aggregate_id in self.shared | self.changed.keys():
            aggregate = self.aggregates[aggregate_id]
            if isinstance(aggregate, StockCard):
                aggregate._pending_events.clear()
                self.carried[aggregate_id] = aggregate


class BacklogCommands:
    """Commands of this area, mixed into `ledger.application.Ledger`."""

    # Provided by `Ledger` (declared for readers and type checkers).
    clock: Callable[[], datetime]
    recorder: Any
    mapper: Any
    settings: Any
    _forget_references: Callable[..., Any]
    find_person: Callable[..., UUID]
    head: Callable[[], int]

    def import_backlog(
        self, rows: Iterable[tuple[int, BacklogRow | RefusedRow | LedgerError]], *, prov: Provenance,
        batch_size: int = IMPORT_BATCH, on_report: Callable[[ImportRow], None] | None = None,
        allow: Callable[[BacklogRow], None] | None = None,
    ) -> BulkReport:
        """Record a backlog: `rows` are (line number, parsed row or the error that line has).

        Rows run in line order, `batch_size` to a transaction; every row gets an `ImportRow`.
        `prov` is the importer's (actor, org); each row's provenance adds `source` = `import`, its
        `ref` as `client_ref` and its `occurred_at`. `allow`, when given, is called with each row
        inside its batch and raises a `LedgerError` to refuse it (the API checks the caller's
        permission for the row's command there). `on_report` receives each report instead of the
        report keeping it (for files of millions of rows); the counts are kept either way.
        """
        report = BulkReport()
        carried: dict[UUID, LedgerAggregate] = {}
        batch: list[tuple[int, BacklogRow | RefusedRow | LedgerError]] = []
        # The cyclic collector is paused for the whole import (`ledger.collector`), parsing included:
        # a batch's working set is thousands of aggregates, and collections walking it over and over
        # took a sixth of an import's time; with only the batches paused, collections while the next
        # batch was parsed still took 4-5 %. What an import leaves in reference cycles is little:
        # 241 objects after 40,000 rows, collected once it ends.
        with collector.paused():
            for item in rows:
                batch.append(item)
                if len(batch) >= batch_size:
                    report.take(self._backlog_batch(batch, prov, allow, carried), on_report)
                    batch = []
            if batch:
                report.take(self._backlog_batch(batch, prov, allow, carried), on_report)
        report.position = self.head()
        return report

    def run_batch(
        self, steps: list[Callable[[], CommandResult]], *, prefetch: Iterable[UUID] = (),
        carried: dict[UUID, LedgerAggregate] | None = None,
    ) -> list[CommandResult | LedgerError]:
        """Run `steps` (each calls one `Ledger` command with a `client_ref`) as one batch: one
        transaction, the working set of `Batch`; each step's result, or the error that refused it
        (its changes undone, the others kept). `prefetch` names aggregates to read in one query
        first (the steps' receipts and people); `carried` is handed from one call to the next, as
        in an import. Re-run from fresh state after a lost race; raises `Conflict` after
        `IMPORT_ATTEMPTS` of them. The synthetic workload (`ledger.workload`) runs on this."""
        wanted = set(prefetch)
        with collector.paused():
            results = self._batched(lambda: self._aggregates_of(wanted), steps, {} if carried is None else carried)
        if results is None:
            raise Conflict(command="batch")
        return results

    def _batched(
        self, prefetch: Callable[[], dict[UUID, LedgerAggregate | None]], steps: list[Callable[[], Any]],
        carried: dict[UUID, LedgerAggregate],
    ) -> list[Any] | None:
        """Run and commit one batch, starting from the shared aggregates the batch before left in
        `carried` (and leaving its own there); after a lost race again from the store alone. Each
        step's result or `LedgerError`; None when it lost `IMPORT_ATTEMPTS` races."""
        for attempt in range(IMPORT_ATTEMPTS):
            if attempt:
                time.sleep(0.01 * attempt)
            batch = Batch(self, prefetch(), carried)
            results = [_step(batch, step) for step in steps]
            try:
                batch.commit()
            except IntegrityError:
                self._forget_references(batch.reads)
                carried.clear()  # the cards this batch took hold its refused events; the others may be stale
                continue
            batch.carry_over()
            return results
        return None

    def _backlog_batch(
        self, items: list[tuple[int, BacklogRow | RefusedRow | LedgerError]], prov: Provenance,
        allow: Callable[[BacklogRow], None] | None, carried: dict[UUID, LedgerAggregate],
    ) -> list[ImportRow]:
        """One batch of an import; after repeated lost races each half on its own."""
        rows = [r for _, r in items if isinstance(r, BacklogRow)]
        results = self._batched(lambda: self._backlog_prefetch(prov.org, rows),
                                [self._backlog_step(row, prov, allow) for _, row in items], carried)
        if results is not None:
            return [_report(line, row, result) for (line, row), result in zip(items, results, strict=True)]
        if len(items) == 1:
            line, row = items[0]
            return [refusal(line, Conflict(command=row.command), row)]  # type: ignore[union-attr]
        half = len(items) // 2
        return (self._backlog_batch(items[:half], prov, allow, carried)
                + self._backlog_batch(items[half:], prov, allow, carried))

    def _backlog_step(
        self, row: BacklogRow | RefusedRow | LedgerError, prov: Provenance, allow: Callable[[BacklogRow], None] | None,
    ) -> Callable[[], CommandResult]:
        def step() -> CommandResult:
            if isinstance(row, LedgerError):
                raise row
            if isinstance(row, RefusedRow):
                raise row.error
            arguments = row.arguments
            if row.person is not None:
                arguments = {**arguments, "person_id": self.find_person(*row.person)}
            if allow is not None:
                allow(replace(row, arguments=arguments))
            # Built directly rather than by `dataclasses.replace`, which costs twice as much, once a row.
            row_prov = Provenance(prov.actor, prov.org, "import", row.ref, row.occurred_at)
            return getattr(self, row.command)(**arguments, prov=row_prov)

        return step

    def _backlog_prefetch(self, org: str, rows: list[BacklogRow]) -> dict[UUID, LedgerAggregate | None]:
        """The receipts, identity keys and people a batch's rows name, read in two queries: what each
        holds, or None for those that do not exist yet."""
        wanted: set[UUID] = set()
        for row in rows:
            wanted.add(CommandReceipt.create_id(org, row.ref))
            if row.person_id() is not None:
                wanted.add(row.person_id())  # type: ignore[arg-type]
            document = row.person or ((row.arguments.get("id_type"), row.arguments.get("id_number"))
                                      if row.command == "register_person" else None)
            if document is not None:
                try:
                    number = normalise_id_number(*document)
                except LedgerError:
                    number = None
                if number is not None:
                    wanted.add(IdentityKey.create_id(document[0], number))
        known = self._aggregates_of(wanted)
        holders = {a.person_id for a in known.values() if isinstance(a, IdentityKey) and a.person_id is not None}
        known.update(self._aggregates_of(holders - known.keys()))
        return known

    def _aggregates_of(self, ids: set[UUID]) -> dict[UUID, LedgerAggregate | None]:
        """`ids`' aggregates from all their events (one query), None for ids with none."""
        found: dict[UUID, LedgerAggregate | None] = dict.fromkeys(ids)
        if not ids:
            return found
        decode = self.mapper.to_domain_event
        for aggregate_id, events in _by_originator(self.recorder.select_events_of(sorted(ids))):
            found[aggregate_id] = project(None, map(decode, events))
        return found


def _by_originator(stored: list[Any]) -> Iterator[tuple[UUID, list[Any]]]:
    current: UUID | None = None
    events: list[Any] = []
    for event in stored:
        if event.originator_id != current:
            if events:
                yield current, events  # type: ignore[misc]
            current, events = event.originator_id, []
        events.append(event)
    if events:
        yield current, events  # type: ignore[misc]


def _step(batch: Batch, step: Callable[[], Any]) -> Any:
    """One row of a batch: its result, or the error that refused it with its changes undone."""
    token = BATCH.set(batch)
    try:
        result = step()
    except LedgerError as error:
        batch.undo()
        return error
    finally:
        BATCH.reset(token)
    batch.end_row()
    return result


def _report(line: int, row: BacklogRow | RefusedRow | LedgerError, result: CommandResult | LedgerError) -> ImportRow:
    if isinstance(result, LedgerError):
        return refusal(line, result, None if isinstance(row, LedgerError) else row)
    assert isinstance(row, BacklogRow)
    return ImportRow(line, "duplicate" if result.replayed else "accepted", row.ref, row.command, result.ids)

