"""Projection `vaccination_history`: each person's doses and where their series stands.

Doses are rows keyed by dose id; voided doses stay, marked voided. Names and dates of
birth are not copied here (only the birth year, for coverage by age), so an encrypted event
store leaves none of them readable in the projection tables; the API takes them from the
person's record. After each batch,
every person it touched gets their dose numbers and series status recomputed from
their valid doses (and those of records merged into them) under the series policy.

It also keeps the coverage counters the risk map sums: how many people of an area and an age by
year of birth there are (`vh_residents`), had their first valid dose in which week
(`vh_first_doses`) and completed their primary series in which week (`vh_completions`). Each
person row remembers what it is counted under (`counted_as`), so a dose, a void, a correction, a
merge or a move changes a few counts, never a scan.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from ledger.domain import Person
from ledger.policies.vaccines import DoseFact, series_state

from .base import Fact, Projection, Rows, utc_text_and_day
from .db import ProjectionDB, Tx

P = Person

#: The ISO years the coverage counters answer for. The year a person turns 18 (or 50) is clamped to
#: this range (one past its end: not in any of its years), so the people of an area fall into about two
#: dozen age combinations instead of a hundred birth years; a risk map for a year outside it is refused.
COVERAGE_YEARS = (2020, 2030)
AREA = ("province_code", "district_code", "ward_code")
#: Each counter table with its key: the area, then the dimensions of its measure.
COUNTERS = {
    "vh_residents": (*AREA, "adult_from", "older_from"),
    "vh_first_doses": (*AREA, "adult_from", "week"),
    "vh_completions": (*AREA, "older_from", "week"),
}


#: Monday of each day seen, as the text `counted_as` holds ("" for none): few thousand days in all.
_WEEKS: dict[date | None, str] = {None: ""}
#: "adult_from|older_from" of each year of birth seen (None: unknown), clamped to `COVERAGE_YEARS`.
_AGES: dict[int | None, str] = {None: f"{COVERAGE_YEARS[1] + 1}|{COVERAGE_YEARS[1] + 1}"}


def _week(day: date | None) -> str:
    week = _WEEKS.get(day)
    if week is None:
        week = _WEEKS[day] = (day - timedelta(days=day.weekday())).isoformat()
    return week


def _ages(born: int | None) -> str:
    ages = _AGES.get(born)
    if ages is None:
        first, last = COVERAGE_YEARS
        ages = _AGES[born] = f"{min(max(born + 18, first), last + 1)}|{min(max(born + 50, first), last + 1)}"
    return ages


def coverage_key(person: dict[str, Any]) -> str | None:
    """What a person row is counted under, as `counted_as` holds it: `province|district|ward|adult_from|
    older_from|first_week|completed_week`, the area codes ('' for none), the years they turn 18 and
    50 (clamped to `COVERAGE_YEARS`, one past its end for an unknown birth), the Mondays of their
    first valid dose and completed series ('' for not yet); None for a record merged into another,
    or with no area code at all. Text, built from cached parts: it is computed for every person a
    batch changes."""
    if person["merged_into"] is not None:
        return None
    p, d, w = person["province_code"] or "", person["district_code"] or "", person["ward_code"] or ""
    if not (p or d or w):
        return None
    return (f"{p}|{d}|{w}|{_ages(person['birth_year'])}|{_week(person['first_dose_on'])}"
            f"|{_week(person['primary_completed_on'])}")


def _counts(key: str) -> list[tuple[str, tuple]]:
    """The counter rows (table, key) that one person counted under `key` (a `coverage_key`) adds one to."""
    p, d, w, adult, older, dose1, full = key.split("|")
    area = (p, d, w)
    rows = [("vh_residents", (*area, int(adult), int(older)))]
    if dose1:
        rows.append(("vh_first_doses", (*area, int(adult), date.fromisoformat(dose1))))
    if full:
        rows.append(("vh_completions", (*area, int(older), date.fromisoformat(full))))
    return rows


class VaccinationHistory(Projection):
    name = "vaccination_history"
    tables = {"vh_people": ("person_id",), "vh_doses": ("dose_id",), **COUNTERS}
    handlers = {
        P.Registered: "registered",
        P.DetailsCorrected: "details_corrected",
        P.IdentityVerified: "identity_verified",
        P.MergedInto: "merged_into",
        P.MergeAbsorbed: "merge_absorbed",
        P.MergeReverted: "merge_reverted",
        P.DoseAdministered: "dose_administered",
        P.ObservationCompleted: "observation_completed",
        P.DoseVoided: "dose_voided",
        P.DoseCorrected: "dose_corrected",
    }

    def apply(self, tx: Tx, events: list[tuple[int, Fact]]) -> None:
        people = Rows(tx, "vh_people", ("person_id",))
        doses = Rows(tx, "vh_doses", ("dose_id",))
        people.load({e.originator_id for _, e in events})
        doses.load({e.dose_id for _, e in events if "dose_id" in e.__dict__})
        touched: set[str] = set()
        self.dispatch(events, people, doses, touched)
        # The recompute works on the same in-memory rows, so each row is written once per batch.
        self._recompute(tx, touched, people, doses)
        self._count(tx, people)
        people.flush()
        doses.flush()

    # -- handlers ------------------------------------------------------------------------------------

    def registered(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        people.put(
            {
                "person_id": e.originator_id,
                "birth_year": int(e.date_of_birth[:4]),
                "sex": e.sex,
                "province_code": e.address.get("province_code"),
                "district_code": e.address.get("district_code"),
                "ward_code": e.address.get("ward_code"),
                "verification": None,
                "merged_into": None,
                "series_status": "none",
                "primary_doses_given": 0,
                "primary_doses_required": 0,
                "primary_completed_on": None,
                "next_dose_kind": "primary",
                "next_dose_earliest": None,
                "policy_id": None,
                "valid_doses": 0,
                "first_dose_on": None,
                "counted_as": None,
            }
        )

    def details_corrected(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = people.get(e.originator_id)
        for name, value in e.changes.items():
            if name == "date_of_birth":
                row["birth_year"] = int(value[:4])
            elif name == "sex":
                row[name] = value
            elif name == "address":
                for part in ("province_code", "district_code", "ward_code"):
                    row[part] = value.get(part)
        people.touch(row)

    def identity_verified(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = people.get(e.originator_id)
        row["verification"] = e.result
        people.touch(row)

    def merged_into(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = people.get(e.originator_id)
        row["merged_into"] = e.into_person_id
        people.touch(row)
        touched.update((row["person_id"], row["merged_into"]))

    def merge_absorbed(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        touched.add(e.originator_id)

    def merge_reverted(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = people.get(e.originator_id)
        if row["merged_into"] == e.other_person_id:
            row["merged_into"] = None
            people.touch(row)
        touched.update((row["person_id"], e.other_person_id))

    def dose_administered(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        administered_at, administered_on = utc_text_and_day(e.administered_at)
        doses.put(
            {
                "dose_id": e.dose_id,
                "person_id": e.originator_id,
                "vaccine": e.vaccine,
                "lot_id": e.lot_id,
                "lot_number": e.lot_number,
                "facility_id": e.facility_id,
                "administered_at": administered_at,
                "administered_on": administered_on,
                "kind": e.kind,
                "dose_number": e.dose_number,
                "interval_override_reason": (e.interval_override or {}).get("reason"),
                "voided": False,
                "void_reason": None,
                "corrected": False,
                "observation_minutes": None,
            }
        )
        touched.add(e.originator_id)

    def observation_completed(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = doses.get(e.dose_id)
        row["observation_minutes"] = e.minutes
        doses.touch(row)

    def dose_voided(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = doses.get(e.dose_id)
        row["voided"], row["void_reason"], row["dose_number"] = True, e.reason, None
        doses.touch(row)
        touched.update((e.originator_id, row["person_id"]))

    def dose_corrected(self, e: Fact, pos: int, people: Rows, doses: Rows, touched: set[str]) -> None:
        row = doses.get(e.dose_id)
        if "administered_at" in e.changes:
            row["administered_at"], row["administered_on"] = utc_text_and_day(e.changes["administered_at"])
        if "lot_id" in e.changes:
            row["lot_id"], row["lot_number"] = e.changes["lot_id"], e.changes["lot_number"]
        row["corrected"] = True
        doses.touch(row)
        touched.update((e.originator_id, row["person_id"]))

    # -- series ---------------------------------------------------------------------------------------

    def _recompute(self, tx: Tx, touched: set[str], members: Rows, doses: Rows) -> None:
        """Dose numbers and series status of each touched person, over their merged records too.

        `members` and `doses` are the batch's rows (changed, not yet flushed): rows already
        in memory are the current ones; the others are loaded from the table.
        """
        if not touched:
            return
        members.load(touched)
        members.load(touched, column="merged_into")
        group: dict[str, set[str]] = {pid: {pid} for pid in touched}
        for row in members.rows.values():
            if row["merged_into"] in group:
                group[row["merged_into"]].add(row["person_id"])
        doses.load({m for ids in group.values() for m in ids}, column="person_id")
        by_person: dict[str, list[dict]] = {}
        for dose in doses.rows.values():
            by_person.setdefault(dose["person_id"], []).append(dose)
        for pid in sorted(touched):
            person = members.get(pid)
            if person is None:
                continue
            valid = sorted(
                (d for m in group[pid] for d in by_person.get(m, []) if not d["voided"]),
                key=lambda d: (d["administered_on"], d["dose_id"]),
            )
            for number, dose in enumerate(valid, start=1):
                if dose["dose_number"] != number:
                    dose["dose_number"] = number
                    doses.touch(dose)
            state = series_state(
                [DoseFact(d["dose_id"], d["vaccine"], d["administered_on"], d["kind"],
                          d["interval_override_reason"] is not None) for d in valid]
            )
            person.update(
                series_status=state.status,
                primary_doses_given=state.primary_doses_given,
                primary_doses_required=state.primary_doses_required,
                primary_completed_on=state.primary_completed_on,
                next_dose_kind=state.next_dose_kind,
                next_dose_earliest=state.next_dose_earliest,
                policy_id=state.policy_id if valid else None,
                valid_doses=len(valid),
                first_dose_on=valid[0]["administered_on"] if valid else None,
            )
            members.touch(person)

    @staticmethod
    def _count(tx: Tx, people: Rows) -> None:
        """Move each changed person from the counts they were counted under to their current ones
        (rows are changed only through `touch`/`put`, so the dirty ones are all there are). People
        are moved between keys first and each key is split into its counter rows once: a batch
        moves thousands of people between a few hundred keys."""
        moved: dict[str, int] = {}
        for k in people.dirty:
            row = people.rows[k]
            now, was = coverage_key(row), row["counted_as"]
            if now == was:
                continue
            if was is not None:
                moved[was] = moved.get(was, 0) - 1
            if now is not None:
                moved[now] = moved.get(now, 0) + 1
            row["counted_as"] = now
        deltas: dict[str, dict[tuple, int]] = {table: {} for table in COUNTERS}
        for key, n in moved.items():
            if n:
                for table, counter in _counts(key):
                    deltas[table][counter] = deltas[table].get(counter, 0) + n
        for table, columns in COUNTERS.items():
            tx.add_counts(table, columns, "people", deltas[table])


#: A person's row and those of the records merged into it, each joined with its doses (a row with no
#: dose columns for a record without doses). The dose's `person_id` is `recorded_on_person_id`.
HISTORY = (
    "SELECT p.*, " + ", ".join(
        f"d.{c}" for c in ("dose_id", "vaccine", "lot_id", "lot_number", "facility_id", "administered_at",
                           "administered_on", "kind", "dose_number", "interval_override_reason", "voided",
                           "void_reason", "corrected", "observation_minutes"))
    + ", d.person_id AS recorded_on_person_id"
    " FROM vh_people p LEFT JOIN vh_doses d ON d.person_id = p.person_id"
    " WHERE p.person_id = %s OR p.merged_into = %s"
)


class VaccinationHistoryQueries:
    def __init__(self, db: ProjectionDB) -> None:
        self.db = db

    def history(self, person_id: UUID) -> dict[str, Any] | None:
        """A person's record as the projection holds it, with every dose (voided ones marked).

        One statement (`HISTORY`), so the series status and the doses shown are of one state (a batch
        of the engine cannot land between two reads) in one round trip to the database: the person's
        row, the rows of the records merged into it, and each one's doses."""
        pid = str(person_id)
        rows = self.db.query(HISTORY, (pid, pid))
        person = next((r for r in rows if r["person_id"] == pid), None)
        if person is None:
            return None
        merged = sorted({r["person_id"] for r in rows if r["person_id"] != pid})
        doses = sorted((r for r in rows if r["dose_id"] is not None),
                       key=lambda d: (d["administered_on"], d["dose_id"]))
        return {
            "person_id": pid,
            "birth_year": person["birth_year"],
            "area": {k: person[k] for k in ("province_code", "district_code", "ward_code")},
            "verification": person["verification"],
            "merged_into": person["merged_into"],
            "merged_records": merged,
            "series": {
                "status": person["series_status"],
                "primary_doses_given": person["primary_doses_given"],
                "primary_doses_required": person["primary_doses_required"],
                "primary_completed_on": person["primary_completed_on"],
                "next_dose_kind": person["next_dose_kind"],
                "next_dose_earliest": person["next_dose_earliest"],
                "policy_id": person["policy_id"],
                "valid_doses": person["valid_doses"],
            },
            "doses": [
                {
                    "dose_id": d["dose_id"],
                    "recorded_on_person_id": d["recorded_on_person_id"],
                    "dose_number": d["dose_number"],
                    "kind": d["kind"],
                    "vaccine": d["vaccine"],
                    "lot_id": d["lot_id"],
                    "lot_number": d["lot_number"],
                    "facility_id": d["facility_id"],
                    "administered_at": d["administered_at"],
                    "administered_on": d["administered_on"],
                    "interval_override_reason": d["interval_override_reason"],
                    "voided": bool(d["voided"]),
                    "void_reason": d["void_reason"],
                    "corrected": bool(d["corrected"]),
                    "observation_minutes": d["observation_minutes"],
                }
                for d in doses
            ],
        }
