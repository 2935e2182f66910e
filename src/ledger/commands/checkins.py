"""Venue check-ins, one at a time and in bulk.

A check-in is valid when its shape is (`ledger.domain.checkin.check_checkin`), its venue is a
registered facility of kind `venue` (else 409 `checkin_at_registered_venue`) and its person is
registered (else 422 `person_id`). The single command and the bulk path apply the same function
(`_check_row`), so a row is refused in bulk for the same reason, field and message.

The bulk path (`import_checkins`) is the highest-volume stream (tens of millions a day). The
library's per-aggregate save costs about a millisecond, so a batch is written here directly:
each check-in's `CheckIn.CheckedIn` event is built as `CheckIn.record` builds it (same class, same
fields, same timestamps) and encoded by the application's own mapper (same JSON, compression and
cipher), then the whole batch goes through the recorder's insert in one transaction (with the
venues read as its read set, like any command). Stored rows are therefore ordinary events: they
decode to the same domain event as a single check-in, the projections, the digest and the audit
paths see nothing different. What the fast path does not do: write a `CommandReceipt` per row
(the check-in's own id is its idempotency key) or keep the aggregates in the cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, StoredEvent
from eventsourcing.utils import get_topic, retry
from psycopg.pq import TransactionStatus
from psycopg.sql import SQL, Identifier

from ..domain import CheckIn, Facility, Invalid, LedgerError, Person, Provenance, RuleViolation, natural_id
from ..domain.checkin import check_checkin, checkin_id, venue_id_of, venue_qr_payload
from ..recorders import StaleReadError
from ._shared import BulkReport, CommandResult, csv_records, json_lines, locals_of

if TYPE_CHECKING:
    from ..domain import LedgerAggregate

    Built = tuple[list[LedgerAggregate], dict[str, Any]]

#: Rows written per transaction by the bulk path: large enough that the commit and the table lock
#: are amortised, small enough that a refused batch retry or a report stays cheap.
BULK_BATCH = 5000
#: How many times a batch is re-checked and re-sent when a concurrent writer recorded one of its ids
#: (or changed one of its venues) first.
BULK_ATTEMPTS = 8
_REGISTERED = get_topic(Person.Registered)
_CHECKED_IN = get_topic(CheckIn.CheckedIn)
_CHECKIN_TOPIC = get_topic(CheckIn)


@dataclass(frozen=True, slots=True)
class RowReport:
    """What became of one bulk row: `accepted`, `duplicate` (already recorded) or `refused`."""

    line: int
    status: str
    checkin_id: str | None = None
    field: str | None = None
    rule: str | None = None
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("line", self.line), ("status", self.status), ("checkin_id", self.checkin_id),
                                  ("field", self.field), ("rule", self.rule), ("message", self.message))
                if v is not None}


@dataclass(frozen=True, slots=True)
class _Checked:
    line: int
    checkin_id: UUID
    venue_id: UUID
    person_id: UUID
    checked_in_at: datetime
    mode: str
    client_ref: str | None


def _refusal(line: int, error: LedgerError) -> RowReport:
    return RowReport(line, "refused", field=getattr(error, "field", None), rule=getattr(error, "rule", None),
                     message=error.message)


class CheckInCommands:
    """Commands of this area, mixed into `ledger.application.Ledger`."""

    # Provided by `Ledger` (declared for readers and type checkers).
    _execute: Callable[..., CommandResult]
    _load: Callable[..., Any]
    _reference: Callable[..., Any]
    _find: Callable[..., Any]
    _forget_references: Callable[..., Any]
    clock: Callable[[], datetime]
    recorder: Any
    mapper: Any
    settings: Any

    # -- venues ----------------------------------------------------------------------------------------

    def venue(self, venue_id: UUID) -> Facility:
        """A registered venue (404 for an unknown id or another kind of facility)."""
        facility = self._load(Facility, venue_id, kind="venue")
        if facility.kind != "venue":
            from ..domain import NotFound

            raise NotFound("venue", venue_id)
        return facility

    def venue_qr(self, venue_id: UUID) -> dict[str, str]:
        """The venue's QR payload (derived from its code: stable, no secret)."""
        venue = self.venue(venue_id)
        return {"venue_id": str(venue.id), "code": venue.code, "name": venue.name, "qr": venue_qr_payload(venue.code)}

    def checkin_venue_province(self, venue_id: object, qr: object) -> str | None:
        """The province of the venue a check-in request names (for scope checks); None if it names none."""
        try:
            return self._venue_for_checkin(venue_id_of(venue_id, qr)).province_code
        except LedgerError:
            return None

    def _venue_for_checkin(self, venue_id: UUID) -> Facility:
        """The check-in's venue, from memory when it can (`Ledger._reference`: it joins the read set)."""
        try:
            facility = self._reference(Facility, venue_id, kind="venue", field="venue_id")
        except Invalid:
            raise RuleViolation("checkin_at_registered_venue", f"no venue is registered as {venue_id}",
                                venue_id=str(venue_id)) from None
        if facility.kind != "venue":
            raise RuleViolation("checkin_at_registered_venue", f"{facility.code} is a {facility.kind}, not a venue",
                                venue_id=str(venue_id))
        return facility

    # -- one check-in ----------------------------------------------------------------------------------

    def check_in(
        self, *, person_id: UUID | str, checked_in_at: datetime | str, mode: str, venue_id: UUID | str | None = None,
        qr: str | None = None, prov: Provenance,
    ) -> CommandResult:
        """One check-in at a registered venue (by `venue_id`, or the scanned `qr` payload)."""

        def build() -> Built:
            row = self._check_row(0, {"venue_id": venue_id, "qr": qr, "person_id": person_id,
                                      "checked_in_at": checked_in_at, "mode": mode}, prov.org, prov.client_ref,
                                  self.clock(), content_id=False)
            if not self._registered_people([row.person_id]):
                raise Invalid("person_id", f"unknown person {row.person_id}")
            ids = {"checkin_id": str(row.checkin_id)}
            existing = self._find(row.checkin_id) if prov.client_ref else None
            if existing is not None:
                # Recorded by the bulk path under the same reference (no receipt there): the same
                # check-in is answered as recorded; another one under that reference is refused.
                if isinstance(existing, CheckIn) and existing.same_as(
                        venue_id=row.venue_id, person_id=row.person_id, checked_in_at=row.checked_in_at,
                        mode=row.mode):
                    return [], ids
                raise RuleViolation("checkin_reference_reused",
                                    f"client_ref {prov.client_ref!r} already names another check-in")
            checkin = CheckIn.record(checkin_id=row.checkin_id, venue_id=row.venue_id, person_id=row.person_id,
                                     checked_in_at=row.checked_in_at, mode=row.mode, prov=prov)
            return [checkin], ids

        return self._execute("check_in", prov, locals_of(
            venue_id=venue_id, qr=qr, person_id=person_id, checked_in_at=checked_in_at, mode=mode), build)

    def checkin(self, checkin_id: UUID) -> CheckIn:
        return self._load(CheckIn, checkin_id, kind="check-in")

    def _check_row(
        self, line: int, row: dict[str, Any], org: str, client_ref: str | None, now: datetime, *, content_id: bool,
        provinces: frozenset[str] | None = None,
    ) -> _Checked:
        """Every rule of a check-in but the person's registration (checked per batch): the same for
        one check-in and for each bulk row. Raises `Invalid` (422) or `RuleViolation` (409)."""
        if not isinstance(row, dict):
            raise Invalid("row", "a check-in must be an object")
        venue_id = venue_id_of(row.get("venue_id"), row.get("qr"))
        person_id, at = check_checkin(person_id=row.get("person_id"), checked_in_at=row.get("checked_in_at"),
                                      mode=row.get("mode"), now=now)
        if client_ref is not None and (not isinstance(client_ref, str) or not 1 <= len(client_ref) <= 200):
            raise Invalid("client_ref", "client_ref must be 1-200 characters")
        venue = self._venue_for_checkin(venue_id)
        if provinces is not None and venue.province_code not in provinces:
            raise RuleViolation("checkin_venue_in_caller_scope",
                                f"venue {venue.code} is outside the caller's provinces")
        if client_ref is None and content_id:
            # A bulk row without a reference is identified by what it says, so a re-sent file adds nothing.
            cid = natural_id("checkin", org, "row", str(venue_id), str(person_id),
                             at.astimezone(UTC).isoformat(), row["mode"])
        else:
            cid = checkin_id(org, client_ref)
        return _Checked(line, cid, venue_id, person_id, at, row["mode"], client_ref)

    # -- bulk ------------------------------------------------------------------------------------------

    def import_checkins(
        self, rows: Iterable[tuple[int, dict[str, Any] | LedgerError]], *, prov: Provenance,
        batch_size: int = BULK_BATCH, on_report: Callable[[RowReport], None] | None = None,
        provinces: frozenset[str] | None = None,
    ) -> BulkReport:
        """Record many check-ins: `rows` are (line number, row or the parse error of that line).

        Each row is checked as `check_in` checks one; good rows are appended `batch_size` at a time,
        one transaction per batch; every row gets a `RowReport` (in line order). A row whose id is
        already recorded (same `client_ref`, or the same content when it has none) is a `duplicate`.
        `on_report`, when given, receives each report instead of the report keeping it (for files of
        millions of rows); the counts are kept either way. `provinces`, when given, is the caller's
        reach (a provincial department's scope): a row at a venue outside it is refused
        (`checkin_venue_in_caller_scope`), since a bulk body cannot be scope-checked as a whole.
        """
        report = BulkReport()
        for batch in _chunks(rows, batch_size):
            report.take(self._import_batch(batch, prov, provinces), on_report)
        report.position = self.head()
        return report

    def _import_batch(
        self, batch: list[tuple[int, Any]], prov: Provenance, provinces: frozenset[str] | None,
    ) -> list[RowReport]:
        for attempt in range(BULK_ATTEMPTS):
            if attempt:
                time.sleep(0.01 * attempt)
            now = self.clock()
            reports: dict[int, RowReport] = {}
            good: list[_Checked] = []
            for i, (line, row) in enumerate(batch):
                if isinstance(row, LedgerError):
                    reports[i] = _refusal(line, row)
                    continue
                try:
                    ref = row.get("client_ref") if isinstance(row, dict) else None
                    good.append(self._check_row(line, row, prov.org, ref, now, content_id=True, provinces=provinces))
                except LedgerError as e:
                    reports[i] = _refusal(line, e)
            registered = self._registered_people({c.person_id for c in good})
            existing = self._existing_ids({c.checkin_id for c in good})
            to_write: list[_Checked] = []
            seen: set[UUID] = set()
            status: dict[int, RowReport] = {}
            for c in good:
                if c.person_id not in registered:
                    status[c.line] = RowReport(c.line, "refused", field="person_id",
                                               message=f"unknown person {c.person_id}")
                elif c.checkin_id in existing or c.checkin_id in seen:
                    status[c.line] = RowReport(c.line, "duplicate", checkin_id=str(c.checkin_id),
                                               message="already recorded")
                else:
                    seen.add(c.checkin_id)
                    to_write.append(c)
                    status[c.line] = RowReport(c.line, "accepted", checkin_id=str(c.checkin_id))
            venues = {c.venue_id for c in to_write}
            try:
                self._append_checkins(to_write, prov, venues)
            except IntegrityError:
                # A concurrent writer recorded one of these ids, or changed a venue: check the batch again.
                self._forget_references(venues)
                continue
            return [reports[i] if i in reports else status[line] for i, (line, _) in enumerate(batch)]
        from ..domain import Conflict

        raise Conflict(command="import_checkins")

    def _append_checkins(self, checked: list[_Checked], prov: Provenance, venues: set[UUID]) -> None:
        """Encode the batch's events as `CheckIn.record` and the mapper would, and insert them at once."""
        if not checked:
            return
        stored = [self.mapper.to_stored_event(event) for event in _checked_in_events(checked, prov)]
        read_set = {}
        for venue_id in venues:
            venue = self._reference(Facility, venue_id, kind="venue", field="venue_id")
            read_set[venue.id] = venue.version
        if self.settings.is_postgres:
            self._copy_events(stored, read_set)
        else:
            self.recorder.insert_events(stored, read_set=read_set)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _copy_events(self, stored: list[StoredEvent], read_set: dict[UUID, int]) -> None:
        """The PostgreSQL recorder's insert (`ledger.recorders.LedgerPostgresRecorder.insert_events`) for a
        large batch: the same transaction (the recorder's table lock, so insert order is commit order;
        its NOTIFY; the read-set check after the lock), with the rows sent by binary COPY. The recorder's
        insert sends them as one array of composites in text form, whose per-row escaping of the
        encrypted state cost a third of the bulk path's CPU. A duplicate id fails the whole batch with
        `IntegrityError`, as the recorder's would."""
        rec = self.recorder
        table = SQL("{}.{}").format(Identifier(rec.datastore.schema), Identifier(rec.events_table_name))
        copy = SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)").format(
            table)
        with rec.datastore.get_connection() as conn:
            try:
                with conn.cursor() as curs:
                    curs.execute("BEGIN")
                    rec._lock_table(curs)
                    if read_set:
                        ids, versions = zip(*read_set.items(), strict=True)
                        curs.execute(SQL(
                            "SELECT 1 FROM unnest(%s::uuid[], %s::bigint[]) AS r(id, version) WHERE EXISTS"
                            " (SELECT 1 FROM {} e WHERE e.originator_id = r.id AND e.originator_version > r.version)"
                            " LIMIT 1").format(table), (list(ids), list(versions)))
                        if curs.fetchone() is not None:
                            raise StaleReadError(f"read set changed before commit: {sorted(map(str, ids))}")
                    rec._notify_channel(curs)
                    with curs.copy(copy) as cp:
                        cp.set_types(["uuid", "int8", "text", "bytea"])
                        write = cp.write_row
                        for e in stored:
                            write((e.originator_id, e.originator_version, e.topic, e.state))
                    curs.execute("COMMIT")
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE and not conn.closed:
                    conn.rollback()
                raise

    # -- what the store knows, many ids at once -----------------------------------------------------

    def _registered_people(self, ids: Iterable[UUID]) -> set[UUID]:
        """The ids among `ids` of registered people (one indexed query per thousand ids)."""
        return self._existing_ids(ids, topic=_REGISTERED)

    def _existing_ids(self, ids: Iterable[UUID], topic: str | None = None) -> set[UUID]:
        """The ids among `ids` that the log holds a first event for (of `topic`, when given)."""
        ids = list(ids)
        if not ids:
            return set()
        table = self.recorder.events_table_name
        found: set[UUID] = set()
        if self.settings.is_postgres:
            sql = (f"SELECT originator_id FROM {table} WHERE originator_id = ANY(%s::uuid[])"
                   " AND originator_version = 1" + (" AND topic = %s" if topic else ""))
            with self.recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                for part in _slices(ids, 10_000):
                    curs.execute(sql, [part, topic] if topic else [part], prepare=True)
                    found.update(r["originator_id"] for r in curs.fetchall())
                conn.commit()
            return found
        with self.recorder.datastore.transaction(commit=False) as c:
            for part in _slices(ids, 500):
                marks = ",".join("?" * len(part))
                c.execute(f"SELECT originator_id FROM {table} WHERE originator_id IN ({marks})"
                          " AND originator_version = 1" + (" AND topic = ?" if topic else ""),
                          [i.hex for i in part] + ([topic] if topic else []))
                found.update(UUID(r[0]) for r in c.fetchall())
        return found


#: The columns of a CSV upload (a header line names them, in any order; `venue_id` or `qr`).
CSV_COLUMNS = ("venue_id", "qr", "person_id", "checked_in_at", "mode", "client_ref")


def parse_ndjson(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | LedgerError]]:
    """(line number, row) of each non-blank NDJSON line; a line that is not a JSON object gives its error."""
    for number, row in json_lines(lines):
        yield number, row if isinstance(row, dict | LedgerError) else Invalid("row", "a check-in must be an object")


def parse_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | LedgerError]]:
    """(line number, row) of each CSV record after the header; empty cells are absent values."""

    def check_header(names: list[str]) -> LedgerError | None:
        unknown = sorted(set(names) - set(CSV_COLUMNS))
        return Invalid("header", f"unknown columns {unknown}; expected some of {list(CSV_COLUMNS)}") if unknown else None

    return csv_records(lines, check_header)


def _checked_in_events(checked: list[_Checked], prov: Provenance) -> Iterator[CheckIn.CheckedIn]:
    """The `CheckIn.CheckedIn` events `CheckIn.record` would trigger for `checked`, with the same
    attributes (`LedgerAggregate._create` adds the aggregate's topic, id, version 1 and a timestamp).
    Each is built as the mapper builds a decoded event, without the frozen dataclass's `__init__`
    (a quarter of the bulk path's CPU for a check that `_check_row` has already made); a test
    compares them with the single command's."""
    cls = CheckIn.CheckedIn
    new, setattr_ = object.__new__, object.__setattr__
    create_timestamp = cls.create_timestamp
    fields = prov.fields()
    for c in checked:
        event = new(cls)
        setattr_(event, "__dict__", {
            "originator_topic": _CHECKIN_TOPIC, "originator_id": c.checkin_id, "originator_version": 1,
            "timestamp": create_timestamp(), "venue_id": c.venue_id, "person_id": c.person_id,
            "checked_in_at": c.checked_in_at, "mode": c.mode, **fields, "client_ref": c.client_ref,
        })
        yield event


def _slices(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list]:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
