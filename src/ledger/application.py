"""The `Ledger` application: the service layer of the write side.

Each command loads the aggregates it needs, lets them check their rules, and saves
every aggregate that changed in one transaction. A concurrent writer makes the save
fail with `IntegrityError`; the command is then re-run from fresh state a bounded
number of times before it is answered with `Conflict`. A command that carries a
`client_ref` is recorded with a receipt in the same transaction, and a repeat returns
the first result. Library errors are translated into domain errors here.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, LRUCache, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Mapper, Recording
from eventsourcing.utils import get_topic

from .commands import BacklogCommands, CheckInCommands, RiskCommands, TestingCommands, TracingCommands
from .commands._shared import BATCH, CALLER_GRANT, CommandResult, locals_of, project, request_digest, uuid_of
from .commands._shared import READ_SET as _READ_SET
from .domain import (
    AccessGrant,
    BreakGlass,
    CommandReceipt,
    Conflict,
    Facility,
    IdentityKey,
    Invalid,
    LedgerAggregate,
    NotFound,
    Person,
    Provenance,
    RecordAccess,
    RuleViolation,
    StockCard,
    Transfer,
    VaccineLot,
    natural_id,
)
from .domain.access import BREAK_GLASS_DEFAULT_HOURS, check_scope
from .domain.codes import STOCK_HOLDING_KINDS, VACCINATING_KINDS
from .domain.identity import normalise_id_number
from .domain.person import local_day
from .mapper import PlainJSONMapper, snapshot_transcoder
from .persistence import ledger_env
from .recorders import GroupCommit, LedgerPostgresRecorder, StaleReadError
from .secrets import check_secrets
from .settings import Settings
from .tokens import matches as token_matches
from .tokens import new_token
from .tokens import parse as parse_token

A = TypeVar("A", bound=LedgerAggregate)

#: How many times a command is run when it keeps losing races, before answering 409. When many writers
#: share one aggregate (16 nurses on one stock card) each attempt loses with a probability of about 0.6
#: however they are spread, so the bound must be high: 8 immediate attempts left 5-20% of such commands
#: answered 409 (tests/integration/test_concurrency.py); 24 with backoff leave ~0.6**24 (5e-6).
MAX_ATTEMPTS = 24
#: Backoff after a lost race: a random wait of up to min(CAP, BASE * 2**retry) seconds ("full jitter"), so
#: racing writers spread out instead of colliding again in lockstep (at most ~5 s in all before a 409).
RETRY_BACKOFF_BASE = 0.01
RETRY_BACKOFF_CAP = 0.25


class Turns:
    """Commands on one aggregate take turns within a process: each waits for the one before it to commit,
    then reads the state it left.

    Without turns, two commands on one stock card (two vaccinators at one point) both read version v;
    the second to reach the store loses (`StaleReadError`), is run again, and a third arriving
    meanwhile may beat it again: measured with 16 clients over 16 points, 7 % of doses ran twice and
    1.3 % three times or more, and those made the p99 (BENCHMARKS.md §3). Taking turns, a command waits
    once for those ahead of it instead of losing to them. It is only an ordering: every guard stays,
    so commands of other processes still race and a loser is still run again.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held: dict[UUID, list] = {}  # key -> [lock, holders and waiters]

    @contextlib.contextmanager
    def of(self, key: UUID | None) -> Iterator[None]:
        if key is None:
            yield
            return
        with self._mutex:
            entry = self._held.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._mutex:
                entry[1] -= 1
                if not entry[1]:
                    del self._held[key]


#: The facility kinds each facility-scoped role may be granted.
_ROLE_FACILITY_KINDS = {"vaccinator": VACCINATING_KINDS, "warehouse_clerk": STOCK_HOLDING_KINDS,
                        "lab": frozenset({"lab"})}


class NotCached(LookupError):
    """`Ledger.authenticate(cached_only=True)` would have to read the store."""


class GrantRevoked(Exception):
    """The token a command was made under was revoked (or expired) before the command committed."""


class Ledger(BacklogCommands, TestingCommands, TracingCommands, CheckInCommands, RiskCommands, Application):
    """The national health data ledger (write side)."""

    name = "Ledger"
    snapshotting_intervals = {Person: 200, StockCard: 200, Transfer: 200}

    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None) -> None:
        check_secrets(settings)
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        #: Facilities and lots as last read, shared by commands that only read them (see `_reference`).
        self._references: LRUCache[UUID, LedgerAggregate] = LRUCache(maxsize=settings.aggregate_cache_size)
        #: Grants as last read, with when (monotonic): see `authenticate`.
        self._grants: LRUCache[UUID, tuple[AccessGrant, float]] = LRUCache(maxsize=settings.aggregate_cache_size)
        self._turns = Turns()
        super().__init__(env=ledger_env(settings))
        if settings.group_commit and isinstance(self.recorder, LedgerPostgresRecorder):
            self.recorder.group_commit = GroupCommit()

    def save(self, *aggregates: Any, **kwargs: Any) -> list[Recording]:
        """The library's `save`, collecting the aggregates' events without its runtime Protocol
        checks (`ProcessingEvent.collect_events`): every object saved here is one of our aggregates."""
        processing_event: ProcessingEvent = ProcessingEvent()
        for aggregate in aggregates:
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings

    def construct_mapper(self) -> Mapper:
        return self.factory.mapper(transcoder=snapshot_transcoder(), mapper_class=PlainJSONMapper)

    # -- plumbing ---------------------------------------------------------------------------

    def head(self) -> int:
        """The position of the newest event (0 when the log is empty)."""
        return self.recorder.max_notification_id() or 0

    def position_at(self, moment: datetime) -> int:
        """The position of the newest event recorded at or before `moment` (0 if none was), by
        bisection over positions: about 30 single-event reads, even on an encrypted log.

        Recording times rise with positions, except among commands committed within the same
        few milliseconds (each takes its time before its transaction gets a position), so at
        such a moment the answer is one of the positions recorded within those milliseconds."""
        if moment.tzinfo is None:
            raise ValueError("moment must carry its time zone")
        lo, hi = 0, self.head()
        while lo < hi:
            mid = (lo + hi + 1) // 2
            n = self.recorder.select_notifications(mid, 1)[0]  # the first event at or after mid
            state = self.mapper.stored_state(n.topic, n.originator_id, n.originator_version, n.state)
            if datetime.fromisoformat(state["timestamp"]) <= moment:
                lo = min(n.id, hi)
            else:
                hi = mid - 1
        return lo

    def events_after(self, after: int, *, stop: int, topics: Sequence[str], limit: int) -> list[tuple[int, Any]]:
        """Up to `limit` decoded events of `topics` after position `after` and not after `stop`, with their
        positions."""
        decode = self.mapper.decode
        return [(p, decode(t, o, v, s)) for p, o, v, t, s in self.recorder.select_rows(after, stop, topics, limit)]

    def stored_after(self, after: int, *, stop: int, topics: Sequence[str], limit: int) -> list[tuple[int, dict]]:
        """Like `events_after`, each event as the log stores it: its fields as plain JSON (ids, dates and
        times as strings), upcast, with `topic`, `originator_id` and `originator_version` added.
        What the projection engine reads: read models keep ids and times as text, so building
        typed domain events only to turn them back into text would cost most of a rebuild."""
        state_of = self.mapper.stored_state
        out = []
        for p, o, v, t, s in self.recorder.select_rows(after, stop, topics, limit):
            state = state_of(t, o, v, s)
            state["topic"], state["originator_id"], state["originator_version"] = t, o, v
            out.append((p, state))
        return out

    def _get(self, aggregate_id: UUID) -> LedgerAggregate:
        """The aggregate as the running command sees it: from the store, or, inside a bulk import's
        batch, as the batch's earlier rows left it (`ledger.commands.backlog`)."""
        batch = BATCH.get()
        if batch is not None:
            return batch.get(self, aggregate_id)
        return self.repository.get(aggregate_id, projector_func=project)

    def _load(self, cls: type[A], aggregate_id: UUID, *, kind: str, field: str | None = None) -> A:
        """Load an aggregate; unknown ids are 404 (`field=None`, an id in the path) or 422 (`field`)."""
        try:
            aggregate = self._get(aggregate_id)
        except AggregateNotFoundError:
            if field is not None:
                raise Invalid(field, f"unknown {kind} {aggregate_id}") from None
            raise NotFound(kind, aggregate_id) from None
        return self._expect(cls, aggregate, kind=kind, field=field)

    def _reference(self, cls: type[A], aggregate_id: UUID, *, kind: str, field: str | None = None) -> A:
        """An aggregate the command reads but does not change (a dose's lot and facility).

        It comes from memory when it can, without a query, and joins the command's read set:
        if it changed in the store meanwhile, the insert is refused as a lost race
        (`ledger.recorders`) and the retry reads it afresh. The copy is shared, so it must
        never be changed: commands that change a lot or facility use `_load`.
        """
        try:
            aggregate = self._references.get(aggregate_id)
        except KeyError:
            aggregate = self._load(cls, aggregate_id, kind=kind, field=field)
            self._references.put(aggregate_id, aggregate)
        else:
            aggregate = self._expect(cls, aggregate, kind=kind, field=field)
        reads = _READ_SET.get()
        if reads is not None:
            reads[aggregate.id] = aggregate.version
        return aggregate

    @staticmethod
    def _read_only(aggregate: LedgerAggregate) -> LedgerAggregate:
        """Put an aggregate the command decided on but does not change into its read set (a contact's
        source person, a sample's people): if it changes before the commit, the command is re-run."""
        reads = _READ_SET.get()
        if reads is not None:
            reads[aggregate.id] = aggregate.version
        return aggregate

    def _forget_references(self, aggregate_ids: Iterable[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            for cache in (self._references, self._grants):
                with contextlib.suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    @staticmethod
    def _expect(cls: type[A], aggregate: LedgerAggregate, *, kind: str, field: str | None) -> A:
        """`aggregate` if it is a `cls`; otherwise the id names something else: 422 or 404 as in `_load`."""
        if not isinstance(aggregate, cls):
            if field is not None:
                raise Invalid(field, f"{aggregate.id} is not a {kind}")
            raise NotFound(kind, aggregate.id)
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        """Whether any event of `aggregate_id` is stored (a receipt, a facility)."""
        return self._find(aggregate_id) is not None

    def _find(self, aggregate_id: UUID) -> LedgerAggregate | None:
        try:
            return self._get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _card(self, lot_id: UUID, facility_id: UUID, prov: Provenance) -> StockCard:
        card = self._find(StockCard.create_id(lot_id, facility_id))
        return card if isinstance(card, StockCard) else StockCard.open(lot_id=lot_id, facility_id=facility_id, prov=prov)

    def _execute(
        self,
        command: str,
        prov: Provenance,
        request: dict,
        build: Callable[[], tuple[list[LedgerAggregate], dict[str, Any]]],
        turn: UUID | None = None,
    ) -> CommandResult:
        """Run `build` (load, decide) and save what it changed, with retries and idempotency.
        Inside a bulk import's batch, the batch runs it and saves it with the batch's other rows.
        `turn`: the aggregate the command contends on (a stock card), known before `build` runs; each
        attempt runs in that aggregate's turn (`Turns`)."""
        batch = BATCH.get()
        if batch is not None:
            return batch.execute(command, prov, request, build)
        digest = request_digest(request) if prov.client_ref else ""
        receipt_id = CommandReceipt.create_id(prov.org, prov.client_ref) if prov.client_ref else None
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(RETRY_BACKOFF_CAP, RETRY_BACKOFF_BASE * 2 ** (attempt - 1))))
            if receipt_id is not None:
                receipt = self._find(receipt_id)
                if isinstance(receipt, CommandReceipt):
                    first = receipt.replay(command, digest, prov.occurred_at)
                    # The receipt is the last event of the first command's transaction: its position is
                    # the one the first answer carried, so a replayed answer reads the same writes.
                    return CommandResult(first, self.recorder.position_of(receipt_id, 1) or 0, replayed=True)
            caller = CALLER_GRANT.get()
            if caller is not None and attempt:
                self._check_caller(caller)
            reads: dict[UUID, int] = dict([caller]) if caller is not None else {}
            with self._turns.of(turn):
                token = _READ_SET.set(reads)
                try:
                    aggregates, ids = build()
                finally:
                    _READ_SET.reset(token)
                changed = [a for a in aggregates if a.pending_events]
                if receipt_id is not None:
                    changed.append(CommandReceipt.issue(command=command, request_digest=digest, result=ids,
                                                        prov=prov))
                for aggregate in changed:
                    reads.pop(aggregate.id, None)
                try:
                    recordings = self.save(*changed, read_set=reads)
                except StaleReadError:
                    self._forget_references(reads)
                    continue
                except IntegrityError:
                    continue
            self._forget_references(a.id for a in changed)
            return CommandResult(ids, recordings[-1].notification.id if recordings else self.head())
        raise Conflict(command=command)

    # -- reference data -----------------------------------------------------------------------

    def register_facility(
        self,
        *,
        code: str,
        name: str,
        kind: str,
        province_code: str,
        district_code: str | None = None,
        ward_code: str | None = None,
        parent_code: str | None = None,
        prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            if not isinstance(code, str):
                raise Invalid("code", "code is required")
            parent = None
            if parent_code is not None:
                parent = self._reference(Facility, Facility.create_id(parent_code), kind="facility", field="parent_code")
            if self._find(Facility.create_id(code)) is not None:
                raise RuleViolation("facility_code_exists", f"facility {code} is already registered")
            facility = Facility.register(
                code=code, name=name, kind=kind, province_code=province_code, district_code=district_code,
                ward_code=ward_code, parent=parent, prov=prov,
            )
            return [facility], {"facility_id": str(facility.id)}

        return self._execute("register_facility", prov, locals_of(code=code, name=name, kind=kind,
                             province_code=province_code, district_code=district_code, ward_code=ward_code,
                             parent_code=parent_code), build)

    def register_lot(
        self, *, vaccine: str, manufacturer: str, lot_number: str, expiry: date, doses_per_vial: int, prov: Provenance
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            lot = VaccineLot.register(
                vaccine=vaccine, manufacturer=manufacturer, lot_number=lot_number, expiry=expiry,
                doses_per_vial=doses_per_vial, prov=prov,
            )
            if self._find(lot.id) is not None:
                raise RuleViolation("lot_exists", f"lot {lot_number} of {manufacturer} is already registered")
            return [lot], {"lot_id": str(lot.id)}

        return self._execute("register_lot", prov, locals_of(vaccine=vaccine, manufacturer=manufacturer,
                             lot_number=lot_number, expiry=expiry, doses_per_vial=doses_per_vial), build)

    def recall_lot(self, *, lot_id: UUID, reason: str, note: str | None = None, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            lot = self._load(VaccineLot, lot_id, kind="lot")
            lot.recall(reason=reason, note=note, prov=prov)
            return [lot], {"lot_id": str(lot_id)}

        return self._execute("recall_lot", prov, locals_of(lot_id=lot_id, reason=reason, note=note), build)

    # -- supply chain ---------------------------------------------------------------------------

    def _stock_facility(self, facility_id: UUID, field: str) -> Facility:
        facility = self._reference(Facility, facility_id, kind="facility", field=field)
        if facility.kind not in STOCK_HOLDING_KINDS:
            raise RuleViolation("facility_holds_no_stock", f"a {facility.kind} does not hold vaccine stock")
        return facility

    def receive_stock(
        self, *, lot_id: UUID, facility_id: UUID, quantity: int, supplier_ref: str | None = None, prov: Provenance
    ) -> CommandResult:
        """Doses arrive from a supplier (not from a transfer: see `receive_transfer`)."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            self._reference(VaccineLot, lot_id, kind="lot", field="lot_id")
            self._stock_facility(facility_id, "facility_id")
            card = self._card(lot_id, facility_id, prov)
            movement_id = card.receive(quantity=quantity, supplier_ref=supplier_ref, prov=prov)
            return [card], {"stock_card_id": str(card.id), "movement_id": str(movement_id)}

        return self._execute("receive_stock", prov, locals_of(lot_id=lot_id, facility_id=facility_id,
                             quantity=quantity, supplier_ref=supplier_ref), build,
                             turn=StockCard.create_id(lot_id, facility_id))

    def adjust_stock(
        self, *, lot_id: UUID, facility_id: UUID, quantity: int, direction: str, reason: str,
        note: str | None = None, prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            self._reference(VaccineLot, lot_id, kind="lot", field="lot_id")
            self._stock_facility(facility_id, "facility_id")
            card = self._card(lot_id, facility_id, prov)
            movement_id = card.adjust(quantity=quantity, direction=direction, reason=reason, note=note, prov=prov)
            return [card], {"stock_card_id": str(card.id), "movement_id": str(movement_id)}

        return self._execute("adjust_stock", prov, locals_of(lot_id=lot_id, facility_id=facility_id,
                             quantity=quantity, direction=direction, reason=reason, note=note), build,
                             turn=StockCard.create_id(lot_id, facility_id))

    def count_stock(self, *, lot_id: UUID, facility_id: UUID, counted: int, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            self._reference(VaccineLot, lot_id, kind="lot", field="lot_id")
            self._stock_facility(facility_id, "facility_id")
            card = self._card(lot_id, facility_id, prov)
            movement_id = card.count(counted=counted, prov=prov)
            difference = card.pending_events[-1].difference
            return [card], {"stock_card_id": str(card.id), "movement_id": str(movement_id), "difference": difference}

        return self._execute("count_stock", prov, locals_of(lot_id=lot_id, facility_id=facility_id,
                             counted=counted), build,
                             turn=StockCard.create_id(lot_id, facility_id))

    def reverse_movement(
        self, *, lot_id: UUID, facility_id: UUID, movement_id: UUID, reason: str, prov: Provenance
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            card = self._load(StockCard, StockCard.create_id(lot_id, facility_id), kind="stock card")
            new_id = card.reverse(movement_id=movement_id, reason=reason, prov=prov)
            return [card], {"stock_card_id": str(card.id), "movement_id": str(new_id)}

        return self._execute("reverse_movement", prov, locals_of(lot_id=lot_id, facility_id=facility_id,
                             movement_id=movement_id, reason=reason), build)

    def dispatch_transfer(
        self, *, document_number: str, source_id: UUID, destination_id: UUID, lines: list[dict], prov: Provenance
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            self._stock_facility(source_id, "source_id")
            self._stock_facility(destination_id, "destination_id")
            transfer = Transfer.dispatch(
                document_number=document_number, source_id=source_id, destination_id=destination_id, lines=lines,
                prov=prov,
            )
            if self._find(transfer.id) is not None:
                raise RuleViolation("transfer_document_exists", f"transfer {document_number} is already recorded")
            cards = []
            for i, line in enumerate(transfer.lines):
                lot_id = uuid_of(line["lot_id"], f"lines[{i}].lot_id")
                self._reference(VaccineLot, lot_id, kind="lot", field=f"lines[{i}].lot_id")
                card = self._card(lot_id, source_id, prov)
                card.dispatch(quantity=line["quantity"], transfer_id=transfer.id, prov=prov)
                cards.append(card)
            return [transfer, *cards], {"transfer_id": str(transfer.id)}

        return self._execute("dispatch_transfer", prov, locals_of(document_number=document_number,
                             source_id=source_id, destination_id=destination_id, lines=lines), build)

    def receive_transfer(self, *, transfer_id: UUID, lines: list[dict] | None = None, prov: Provenance) -> CommandResult:
        """Receive a transfer; `lines` name only the lots whose quantity differs (with a reason)."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            transfer = self._load(Transfer, transfer_id, kind="transfer")
            received: list[dict] = []
            for i, line in enumerate(lines or []):
                if not isinstance(line, dict):
                    raise Invalid(f"lines[{i}]", "each line must be an object")
                lot_id = str(uuid_of(line.get("lot_id"), f"lines[{i}].lot_id"))
                received.append({"lot_id": lot_id} | {k: line[k] for k in ("quantity", "discrepancy_reason") if k in line})
            result = transfer.receive(lines=received, prov=prov)
            cards = []
            for line in result:
                if line["received"] > 0:
                    card = self._card(UUID(line["lot_id"]), transfer.destination_id, prov)
                    card.receive(quantity=line["received"], transfer_id=transfer.id, prov=prov)
                    cards.append(card)
            return [transfer, *cards], {"transfer_id": str(transfer.id)}

        return self._execute("receive_transfer", prov, locals_of(transfer_id=transfer_id, lines=lines), build)

    def cancel_transfer(self, *, transfer_id: UUID, reason: str, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            transfer = self._load(Transfer, transfer_id, kind="transfer")
            transfer.cancel(reason=reason, prov=prov)
            cards = []
            for line in transfer.lines:
                card = self._card(UUID(line["lot_id"]), transfer.source_id, prov)
                card.return_cancelled(quantity=line["quantity"], transfer_id=transfer.id, prov=prov)
                cards.append(card)
            return [transfer, *cards], {"transfer_id": str(transfer.id)}

        return self._execute("cancel_transfer", prov, locals_of(transfer_id=transfer_id, reason=reason), build)

    # -- people ------------------------------------------------------------------------------------

    def register_person(self, *, id_type: str, id_number: str | None, details: dict, prov: Provenance) -> CommandResult:
        """Register a person; one person per identity document (`one_person_per_id_number`)."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            number = normalise_id_number(id_type, id_number)
            changed: list[LedgerAggregate] = []
            if number is None:
                person_id = uuid4()
            else:
                key = self._find(IdentityKey.create_id(id_type, number))
                if isinstance(key, IdentityKey):
                    person_id = uuid4()
                    key.reclaim(person_id=person_id, prov=prov)
                else:
                    person_id = natural_id("person", id_type, number)
                    key = IdentityKey.claim(id_type=id_type, id_number=number, person_id=person_id, prov=prov)
                changed.append(key)
            person = Person.register(
                person_id=person_id, id_type=id_type, id_number=number, details=details, prov=prov, now=self.clock()
            )
            return [person, *changed], {"person_id": str(person.id)}

        return self._execute("register_person", prov, locals_of(id_type=id_type, id_number=id_number,
                             details=details), build)

    def correct_person(self, *, person_id: UUID, changes: dict, reason: str, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            changed: list[LedgerAggregate] = [person]
            if isinstance(changes, dict) and ("id_type" in changes or "id_number" in changes):
                new_type = changes.get("id_type", person.id_type)
                new_number = normalise_id_number(new_type, changes.get("id_number", person.id_number))
                changes_ = {**changes, "id_type": new_type, "id_number": new_number}
                if (new_type, new_number) != (person.id_type, person.id_number):
                    if new_number is not None:
                        key = self._find(IdentityKey.create_id(new_type, new_number))
                        if isinstance(key, IdentityKey):
                            key.reclaim(person_id=person.id, prov=prov)
                        else:
                            key = IdentityKey.claim(
                                id_type=new_type, id_number=new_number, person_id=person.id, prov=prov
                            )
                        changed.append(key)
                    if person.id_number is not None:
                        old = self._load(IdentityKey, IdentityKey.create_id(person.id_type, person.id_number),
                                         kind="identity key")
                        old.release(person_id=person.id, prov=prov)
                        changed.append(old)
            else:
                changes_ = changes
            person.correct_details(changes=changes_, reason=reason, prov=prov, now=self.clock())
            return changed, {"person_id": str(person.id)}

        return self._execute("correct_person", prov, locals_of(person_id=person_id, changes=changes,
                             reason=reason), build)

    def verify_identity(
        self, *, person_id: UUID, result: str, register_ref: str | None = None,
        mismatched_fields: list[str] | None = None, prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            person.record_verification(
                result=result, register_ref=register_ref, mismatched_fields=mismatched_fields or [], prov=prov
            )
            return [person], {"person_id": str(person.id)}

        return self._execute("verify_identity", prov, locals_of(person_id=person_id, result=result,
                             register_ref=register_ref, mismatched_fields=mismatched_fields), build)

    def merge_people(self, *, duplicate_id: UUID, into_id: UUID, reason: str, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            duplicate = self._load(Person, duplicate_id, kind="person")
            survivor = self._load(Person, into_id, kind="person", field="into_person_id")
            duplicate.merge_into(survivor, reason=reason, prov=prov)
            return [duplicate, survivor], {"person_id": str(duplicate.id), "into_person_id": str(survivor.id)}

        return self._execute("merge_people", prov, locals_of(duplicate_id=duplicate_id, into_id=into_id,
                             reason=reason), build)

    def revert_merge(self, *, duplicate_id: UUID, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            duplicate = self._load(Person, duplicate_id, kind="person")
            if duplicate.merged_into is None:
                raise RuleViolation("not_merged", "this record is not merged into another")
            survivor = self._load(Person, duplicate.merged_into, kind="person")
            duplicate.revert_merge(survivor, prov=prov)
            return [duplicate, survivor], {"person_id": str(duplicate.id), "into_person_id": str(survivor.id)}

        return self._execute("revert_merge", prov, locals_of(duplicate_id=duplicate_id), build)

    # -- vaccination --------------------------------------------------------------------------------

    def register_for_vaccination(
        self, *, person_id: UUID, priority_group: str | None = None, preferred_facility_id: UUID | None = None,
        prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            if preferred_facility_id is not None:
                self._reference(Facility, preferred_facility_id, kind="facility", field="preferred_facility_id")
            person.register_for_vaccination(
                priority_group=priority_group, preferred_facility_id=preferred_facility_id, prov=prov
            )
            return [person], {"person_id": str(person.id)}

        return self._execute("register_for_vaccination", prov, locals_of(person_id=person_id,
                             priority_group=priority_group, preferred_facility_id=preferred_facility_id), build)

    def approve_vaccination(
        self, *, person_id: UUID, province_code: str, district_code: str, district_facility_id: UUID | None = None,
        prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            if district_facility_id is not None:
                centre = self._reference(Facility, district_facility_id, kind="facility", field="district_facility_id")
                if centre.district_code != district_code:
                    raise Invalid("district_facility_id", "the facility is not in the allocated district")
            person.approve_vaccination(
                province_code=province_code, district_code=district_code,
                district_facility_id=district_facility_id, prov=prov,
            )
            return [person], {"person_id": str(person.id)}

        return self._execute("approve_vaccination", prov, locals_of(person_id=person_id,
                             province_code=province_code, district_code=district_code,
                             district_facility_id=district_facility_id), build)

    def _vaccinating_facility(self, facility_id: UUID) -> Facility:
        facility = self._reference(Facility, facility_id, kind="facility", field="facility_id")
        if facility.kind not in VACCINATING_KINDS:
            raise RuleViolation("facility_does_not_vaccinate", f"a {facility.kind} does not vaccinate")
        return facility

    def screen(
        self, *, person_id: UUID, facility_id: UUID, vitals: dict, answers: dict, outcome: str | None = None,
        observation_minutes: int | None = None, prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            self._vaccinating_facility(facility_id)
            screening_id, final = person.screen(
                facility_id=facility_id, vitals=vitals, answers=answers, outcome=outcome,
                observation_minutes=observation_minutes, prov=prov, now=self.clock(),
            )
            return [person], {"person_id": str(person.id), "screening_id": str(screening_id), "outcome": final}

        return self._execute("screen", prov, locals_of(person_id=person_id, facility_id=facility_id,
                             vitals=vitals, answers=answers, outcome=outcome,
                             observation_minutes=observation_minutes), build)

    def administer_dose(
        self, *, person_id: UUID, lot_id: UUID, facility_id: UUID, screening_id: UUID | None = None,
        kind: str | None = None, interval_override: dict | None = None, prov: Provenance,
    ) -> CommandResult:
        """Record a dose and consume it from the stock card, atomically."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            lot = self._reference(VaccineLot, lot_id, kind="lot", field="lot_id")
            self._vaccinating_facility(facility_id)
            now = self.clock()
            lot.check_usable(local_day(prov.when(now)))
            card = self._card(lot_id, facility_id, prov)
            dose_id = person.administer_dose(
                vaccine=lot.vaccine, lot_id=lot.id, lot_number=lot.lot_number, facility_id=facility_id,
                screening_id=screening_id, kind=kind, interval_override=interval_override, prov=prov, now=now,
            )
            card.administer(dose_id=dose_id, person_id=person.id, prov=prov)
            return [person, card], {"person_id": str(person.id), "dose_id": str(dose_id)}

        return self._execute("administer_dose", prov, locals_of(person_id=person_id, lot_id=lot_id,
                             facility_id=facility_id, screening_id=screening_id, kind=kind,
                             interval_override=interval_override), build,
                             turn=StockCard.create_id(lot_id, facility_id))

    def complete_observation(
        self, *, person_id: UUID, dose_id: UUID, minutes: int, reactions: list[str] | None = None, prov: Provenance
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            person.complete_observation(dose_id=dose_id, minutes=minutes, reactions=reactions or [], prov=prov)
            return [person], {"person_id": str(person.id), "dose_id": str(dose_id)}

        return self._execute("complete_observation", prov, locals_of(person_id=person_id, dose_id=dose_id,
                             minutes=minutes, reactions=reactions), build)

    def void_dose(
        self, *, person_id: UUID, dose_id: UUID, reason: str, note: str | None = None, prov: Provenance
    ) -> CommandResult:
        """Void a dose record; its dose goes back to the stock card it was taken from."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            dose = person.void_dose(dose_id=dose_id, reason=reason, note=note, prov=prov)
            card = self._card(UUID(dose["lot_id"]), UUID(dose["facility_id"]), prov)
            card.reverse_consumption(dose_id=dose_id, reason=reason, prov=prov)
            return [person, card], {"person_id": str(person.id), "dose_id": str(dose_id)}

        return self._execute("void_dose", prov, locals_of(person_id=person_id, dose_id=dose_id, reason=reason,
                             note=note), build)

    def correct_dose(
        self, *, person_id: UUID, dose_id: UUID, reason: str, administered_at: datetime | None = None,
        lot_id: UUID | None = None, prov: Provenance,
    ) -> CommandResult:
        """Correct a dose's date or lot; a lot change moves the consumption between stock cards."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            lot = self._reference(VaccineLot, lot_id, kind="lot", field="lot_id") if lot_id is not None else None
            if lot is not None:
                current = person.dose(dose_id)
                if lot.vaccine != current["vaccine"]:
                    raise RuleViolation("corrected_lot_is_another_vaccine", "the new lot is of another vaccine")
            before = person.correct_dose(
                dose_id=dose_id, administered_at=administered_at,
                lot=(lot.id, lot.lot_number) if lot is not None else None, reason=reason, prov=prov,
                now=self.clock(),
            )
            changed: list[LedgerAggregate] = [person]
            if lot is not None and str(lot.id) != before["lot_id"]:
                facility_id = UUID(before["facility_id"])
                lot.check_usable(local_day(administered_at or datetime.fromisoformat(before["administered_at"])))
                old_card = self._card(UUID(before["lot_id"]), facility_id, prov)
                old_card.reverse_consumption(dose_id=dose_id, reason="corrected_lot", prov=prov)
                new_card = self._card(lot.id, facility_id, prov)
                new_card.administer(dose_id=dose_id, person_id=person.id, prov=prov)
                changed += [old_card, new_card]
            return changed, {"person_id": str(person.id), "dose_id": str(dose_id)}

        return self._execute("correct_dose", prov, locals_of(person_id=person_id, dose_id=dose_id, reason=reason,
                             administered_at=administered_at, lot_id=lot_id), build)

    def report_adverse_event(
        self, *, person_id: UUID, dose_id: UUID, severity: str, symptoms: list[str], onset_at: datetime,
        prov: Provenance,
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            aefi_id = person.report_adverse_event(
                dose_id=dose_id, severity=severity, symptoms=symptoms, onset_at=onset_at, prov=prov, now=self.clock()
            )
            return [person], {"person_id": str(person.id), "aefi_id": str(aefi_id)}

        return self._execute("report_adverse_event", prov, locals_of(person_id=person_id, dose_id=dose_id,
                             severity=severity, symptoms=symptoms, onset_at=onset_at), build)

    def classify_adverse_event(
        self, *, person_id: UUID, aefi_id: UUID, causality: str, note: str | None = None, prov: Provenance
    ) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            person = self._load(Person, person_id, kind="person")
            person.classify_adverse_event(aefi_id=aefi_id, causality=causality, note=note, prov=prov)
            return [person], {"person_id": str(person.id), "aefi_id": str(aefi_id)}

        return self._execute("classify_adverse_event", prov, locals_of(person_id=person_id, aefi_id=aefi_id,
                             causality=causality, note=note), build)

    # -- access --------------------------------------------------------------------------------------

    def issue_token(
        self, *, subject: str, org: str, role: str, scope: dict, expires_at: datetime | None = None,
        label: str | None = None, prov: Provenance,
    ) -> tuple[CommandResult, str]:
        """Grant `subject` a bearer token; answers the result and the token, which is never stored or shown again.

        A facility in the scope must exist and fit the role (a vaccinator's is a vaccination
        point, a clerk's holds stock, a lab's is a lab); a citizen's person must exist.
        """
        if prov.client_ref is not None:
            # A replay could only answer the grant id: the token itself is not kept anywhere.
            raise Invalid("client_ref", "issuing a token is not idempotent; issue another one instead")
        grant_id = uuid4()
        token, digest = new_token(grant_id)

        def build() -> tuple[list[LedgerAggregate], dict]:
            clean = check_scope(role, scope)
            if "facility_id" in clean:
                facility = self._reference(Facility, UUID(clean["facility_id"]), kind="facility",
                                           field="scope.facility_id")
                if facility.kind not in _ROLE_FACILITY_KINDS[role]:
                    raise Invalid("scope.facility_id", f"a {role} works at one of {sorted(_ROLE_FACILITY_KINDS[role])}")
            if "person_id" in clean:
                self._load(Person, UUID(clean["person_id"]), kind="person", field="scope.person_id")
            grant = AccessGrant.issue(
                grant_id=grant_id, subject=subject, org=org, role=role, scope=clean, secret_sha256=digest,
                expires_at=expires_at, label=label, prov=prov, now=self.clock(),
            )
            return [grant], {"grant_id": str(grant_id)}

        result = self._execute("issue_token", prov, locals_of(subject=subject, org=org, role=role, scope=scope,
                               expires_at=expires_at, label=label), build)
        return result, token

    def revoke_token(self, *, grant_id: UUID, reason: str, prov: Provenance) -> CommandResult:
        def build() -> tuple[list[LedgerAggregate], dict]:
            grant = self._load(AccessGrant, grant_id, kind="token")
            grant.revoke(reason=reason, prov=prov)
            return [grant], {"grant_id": str(grant_id)}

        return self._execute("revoke_token", prov, locals_of(grant_id=grant_id, reason=reason), build)

    def authenticate(self, token: str, *, cached_only: bool = False) -> AccessGrant | None:
        """The active grant a bearer token stands for; None when the token is malformed, unknown,
        forged, revoked or expired (the caller learns nothing more). With `cached_only`, raises
        `NotCached` instead of reading the store (the API tries that first on its event loop).

        A grant read from the store serves for `grant_cache_seconds` (one query saved per
        request). A revocation still counts at once for everything that writes, person reads
        included (they write the access log): the API puts the grant in `CALLER_GRANT`, every
        command's read set, so a command under a grant that changed is refused in the insert
        itself, and its retry finds the revocation (`GrantRevoked`). Plain reads of other data
        see a revocation made in another process within `grant_cache_seconds`; in this process
        at once, since saving the revocation drops the cached copy.
        """
        parsed = parse_token(token)
        if parsed is None:
            return None
        grant = self._grant(parsed[0], cached_only=cached_only)
        if grant is None or not token_matches(parsed[1], grant.secret_sha256):
            return None
        return grant if grant.active(self.clock()) else None

    def _grant(self, grant_id: UUID, *, fresh: bool = False, cached_only: bool = False) -> AccessGrant | None:
        if not fresh:
            with contextlib.suppress(KeyError):
                grant, read_at = self._grants.get(grant_id)
                if time.monotonic() - read_at < self.settings.grant_cache_seconds:
                    return grant
        if cached_only:
            raise NotCached(grant_id)
        read_at = time.monotonic()
        grant = self._find(grant_id)
        if not isinstance(grant, AccessGrant):
            return None
        self._grants.put(grant_id, (grant, read_at))
        return grant

    def _check_caller(self, caller: tuple[UUID, int]) -> None:
        """Before a retry: the caller's grant, read afresh, is still the one the command started under."""
        grant = self._grant(caller[0], fresh=True)
        if grant is None or grant.version != caller[1] or not grant.active(self.clock()):
            raise GrantRevoked

    def record_read(
        self, *, person_id: UUID, grant_id: UUID, role: str, route: str, purpose: str,
        break_glass_id: UUID | None = None, prov: Provenance,
    ) -> CommandResult:
        """Log one read of a person's record (the access log). Callers log before they answer: a read
        that cannot be logged is not served."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            access = RecordAccess.read(access_id=uuid4(), person_id=person_id, grant_id=grant_id, role=role,
                                       route=route, purpose=purpose, break_glass_id=break_glass_id, prov=prov)
            return [access], {"access_id": str(access.id)}

        return self._execute("record_read", prov, locals_of(person_id=person_id, route=route), build)

    def break_glass(
        self, *, person_id: UUID, grant_id: UUID, role: str, reason: str,
        hours: float = BREAK_GLASS_DEFAULT_HOURS, prov: Provenance,
    ) -> CommandResult:
        """Open a person's record to a token outside its scope, for `hours`, with a written reason."""

        def build() -> tuple[list[LedgerAggregate], dict]:
            self._load(Person, person_id, kind="person")
            glass = self._find(BreakGlass.create_id(grant_id, person_id))
            if isinstance(glass, BreakGlass):
                glass.reopen(reason=reason, hours=hours, prov=prov, now=self.clock())
            else:
                glass = BreakGlass.open(person_id=person_id, grant_id=grant_id, role=role, reason=reason,
                                        hours=hours, prov=prov, now=self.clock())
            return [glass], {"break_glass_id": str(glass.id), "expires_at": glass.expires_at.isoformat()}

        return self._execute("break_glass", prov, locals_of(person_id=person_id, grant_id=grant_id, reason=reason,
                             hours=hours), build)

    def open_glass(self, grant_id: UUID, person_id: UUID) -> BreakGlass | None:
        """The break-the-glass opening that lets this token read this person's record now, if any."""
        glass = self._find(BreakGlass.create_id(grant_id, person_id))
        return glass if isinstance(glass, BreakGlass) and glass.active(self.clock()) else None

    def grants(self) -> list[dict[str, Any]]:
        """Every token ever issued, with who issued it and its state (from the log; tokens are few)."""
        topics = [get_topic(AccessGrant.Issued), get_topic(AccessGrant.Revoked)]
        out: dict[UUID, dict[str, Any]] = {}
        after, head = 0, self.head()
        while after < head:
            batch = self.events_after(after, stop=head, topics=topics, limit=1000)
            for _, e in batch:
                if isinstance(e, AccessGrant.Issued):
                    out[e.originator_id] = {
                        "grant_id": str(e.originator_id), "subject": e.subject, "org": e.grant_org, "role": e.role,
                        "scope": e.scope, "label": e.label, "expires_at": e.expires_at, "issued_at": e.timestamp,
                        "issued_by": e.actor, "revoked_at": None, "revoked_by": None, "revoke_reason": None,
                    }
                elif e.originator_id in out:
                    out[e.originator_id].update(revoked_at=e.timestamp, revoked_by=e.actor, revoke_reason=e.reason)
            after = batch[-1][0] if len(batch) == 1000 else head
        return list(out.values())

    # -- queries (write-model state; lists and searches read projections) --------------------------

    def facility(self, facility_id: UUID) -> Facility:
        return self._load(Facility, facility_id, kind="facility")

    def lot(self, lot_id: UUID) -> VaccineLot:
        return self._load(VaccineLot, lot_id, kind="lot")

    def transfer(self, transfer_id: UUID) -> Transfer:
        return self._load(Transfer, transfer_id, kind="transfer")

    def person(self, person_id: UUID) -> Person:
        return self._load(Person, person_id, kind="person")

    def stock_card(self, lot_id: UUID, facility_id: UUID) -> StockCard:
        return self._load(StockCard, StockCard.create_id(lot_id, facility_id), kind="stock card")

    def find_person(self, id_type: str, id_number: str) -> UUID:
        """The person holding an identity document (following merges to the surviving record)."""
        number = normalise_id_number(id_type, id_number)
        if number is None:
            raise Invalid("id_type", "people without an id number are found by their person id")
        key = self._find(IdentityKey.create_id(id_type, number))
        if not isinstance(key, IdentityKey) or key.person_id is None:
            raise NotFound("person with id number", f"{id_type}:{number}")
        person = self.person(key.person_id)
        return person.merged_into or person.id
