"""The synthetic national workload: 2021 in all 63 provinces, from a seed, at any size.

`NationalWorkload(seed, people)` plans a year of the pandemic for a sample of `people`
residents (pure: `random.Random(seed)`, nothing read from the store), then runs it through the
real `Ledger` commands, so every event is one the application would write for the same input
and every rule is applied. Sizes run from a few hundred people (a thousand events, in tests
and `make demo`) to millions (tens of millions of events, in `bench/national.py`);
`people_for_events` turns an event budget into a sample size.

What it plans, with the rates it uses (DOMAIN.md §2-5, §8, §9):

- *Where people live*: provinces by their 2019 population, a sample of wards in each (one
  commune health station per ward, about one per 250 sampled people; at least one per
  province), all from `ledger.workload.census`. Each ward station is a vaccination point under
  its district health centre, under the provincial warehouse, under the national warehouse;
  each province has its CDC laboratory; each ward has two check-in venues (a market and a shop).
- *Who they are*: sex, date of birth after the 2019 age pyramid, Vietnamese names, 12-digit CCCD
  numbers (older people partly 9-digit CMND, a few passports); 4.6 % have no id number (3.5 M of
  76.6 M vaccinees, Mar 2022). Children under 12 (not vaccinated in 2021) are not registered.
- *Registration faults*: 25 % of records carry wrong information (19.0 M of 76.6 M): a name
  without diacritics (half), a date of birth with day and month swapped or set to 1 January
  (a third), the wrong sex (the rest); 1 % of desks first type a CCCD one digit short (refused,
  `id_number`), then register the person without a number. 1.5 % of vaccinees are registered a
  second time by another desk.
- *Vaccination*: 95 % of adults register (portal), are approved by the province and allocated
  to their district, are screened (Decision 3802 vitals and questions; 2 % delayed by an acute
  illness, who come back one to two weeks later) and get a first dose, on a day drawn from
  the 2021 ramp (a few in March-June, most August-November); health workers (3 % of adults)
  from 8 March; 12-17-year-olds Pfizer from November. 93 % come back for the second dose at the
  interval of the policy in force plus the wait for a session; AstraZeneca's second dose is
  Pfizer for a fifth of them after 20 September (mixing, 7820/BYT-DP). Three quarters of health
  workers get a booster six months later. A quarter of desks record the end of observation.
  0.2 % of doses are entered twice (the second refused, `screening_already_used`), 0.3 % are
  corrected a day later (`wrong_date`), 0.1 % have a common adverse event reported.
- *Late entries*: 5.5 % of last doses are entered from paper lists 3-45 days later (247.3 M
  doses given vs 233.7 M recorded, Aug 2022), as backlog rows (`source = import`).
- *Supply*: monthly lots of four vaccines with their shelf lives and vials; every half month
  each point gets what its doses need in whole vials plus one spare, shipped national →
  province → district → point in the days before, with 0.5 % of deliveries a vial short
  (`damaged`); open-vial waste is written off at the end of each half month.
- *Identity cleaning*, October-December: every record with a number is checked against the
  population register (`match`, `mismatch` with the fields, `not_found` for a mistyped number);
  the ward station corrects 60 % of the mismatches with the reason code, adds the number to
  40 % of records without one (`missing_id`), merges duplicates (`duplicate_person`) and
  reverts 3 % of those merges.
- *Testing*: the 2021 outbreaks (Bắc Giang and Bắc Ninh in May-June; Hồ Chí Minh City and the
  south-east from June; Hà Nội, Đà Nẵng, Cần Thơ from July) bring weekly community pooled
  RT-PCR rounds (pools of 10 at the ward station, the provincial lab's result the next day); a
  positive pool's members are retested one by one, and one of them is positive. Elsewhere
  0.5 % of adults a month take a rapid antigen test (2 % positive).
- *Check-ins*: from 20 September (the national QR app), people aged 16-70 with a phone check in
  at their ward's venues, more at weekends, at the hours of markets, lunch and evening; they go
  in through the bulk check-in import, 20,000 at a time (after the commands that registered them).

Each part of the plan has its module, a planner `NationalWorkload` is made of: `supply`
(places, lots, the chain), `identity` (residents, registration, cleaning), `vaccination`,
`testing` (and check-ins), over what `plan` defines (actions, residents, the calendar). This
module orders them and runs the result.

Idempotent and resumable: every command carries a deterministic `client_ref` (the plan's
order), each check-in too; a store holding the complete run (its final command's receipt) is
left alone, and an interrupted run resumes by replaying what is already there.
"""


from __future__ import annotations

import gc
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ..application import Ledger
from ..commands._shared import CommandResult
from ..domain import CommandReceipt, Facility, LedgerError, Provenance
from .census import provinces
from .identity import IdentityPlanner
from .plan import NATIONAL, Action
from .supply import SupplyPlanner
from .testing import TestingPlanner
from .vaccination import VaccinationPlanner

#: Commands per batch (one transaction each; see `Ledger.run_batch`).
BATCH = 2000

#: Check-ins gathered (over days) before they go in, in the check-in import's own batches.
CHECKIN_BATCH = 20_000

#: Events a sampled person brings on average (measured: `bench/national.py` prints the figure).
EVENTS_PER_PERSON = 30


def people_for_events(events: int) -> int:
    """A sample size whose run writes roughly `events` events."""
    return max(30, events // EVENTS_PER_PERSON)


class NationalWorkload(IdentityPlanner, VaccinationPlanner, TestingPlanner, SupplyPlanner):
    """Plans the year from `seed` for `people` residents, then runs it (`run`)."""

    def __init__(self, seed: int = 2021, people: int = 10_000, *, exclude_provinces: frozenset[str] = frozenset()):
        self.seed, self.size = seed, people
        self.rng = random.Random(seed)
        self.tag = f"nat-{seed}-{people}" + "".join(f"-x{code}" for code in sorted(exclude_provinces))
        self.provinces = [p for p in provinces() if p.code not in exclude_provinces]
        self.actions = []
        self.checkins = defaultdict(list)
        self.persons = []
        self.used_numbers = set()
        self.counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        # Filled while running: ids the commands answered.
        self.pid = {}
        self.ids = {}
        self.replayed = 0

    def plan(self) -> list[Action]:
        """The whole year's commands in business-time order, each with its `client_ref` (a function of
        the seed and size alone, so that a second run finds the first one's receipts)."""
        self.facilities = {}
        self.used = defaultdict(Counter)
        self._plan_places()
        self._plan_lots()
        for n in range(self.size):
            p = self._new_person(n)
            if p is not None:
                self.persons.append(p)
                self._plan_vaccination(p)
        self._plan_testing()
        self._plan_checkins()
        self._plan_registrations()
        self._plan_cleaning()
        self._plan_supply()
        ordered = sorted(self.actions, key=lambda a: (a.at, a.seq))
        for n, action in enumerate(ordered):
            action.ref = f"{self.tag}-{n}"
        return ordered

    def run(self, ledger: Ledger, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Plan and run the workload into `ledger` (once); a summary of what it wrote."""
        started = time.monotonic()
        self.ledger = ledger
        actions = self.plan()
        # A national warehouse registered by someone else (the demo's) is used as it is.
        ours = CommandReceipt.create_id(self.national_action.org, self.national_action.ref)
        self.national_exists = ledger.exists(Facility.create_id(NATIONAL)) and not ledger.exists(ours)
        self.planning_seconds = time.monotonic() - started
        # The plan is millions of objects that live to the end: a full collection walking them takes
        # seconds, long enough, inside a batch's transaction, for the server to end it as idle.
        gc.collect()
        gc.freeze()
        try:
            return self._run(ledger, actions, progress, started)
        finally:
            gc.unfreeze()

    def _run(self, ledger: Ledger, actions: list[Action], progress: Callable[[int, int], None] | None,
             started: float) -> dict[str, Any]:
        head_before = ledger.head()
        last = actions[-1]
        if ledger.exists(CommandReceipt.create_id(last.org, last.ref)):
            return {"status": "already loaded (nothing written)", "seed": self.seed, "people": self.size,
                    "events_in_store": head_before}
        total = len(actions) + sum(len(rows) for rows in self.checkins.values())
        done = 0
        days = sorted(self.checkins)
        carried: dict[UUID, Any] = {}
        batch: list[Action] = []
        checkins: list[tuple[int, str, datetime]] = []
        for action in actions:
            while days and days[0] < action.at.date():
                checkins += self.checkins[days.pop(0)]
            if len(batch) >= BATCH or len(checkins) >= CHECKIN_BATCH:
                # The check-ins' people are registered by the commands before them: those commit first.
                self._flush(batch, carried)
                done += len(batch) + self._checkins(checkins)
                batch, checkins = [], []
                if progress:
                    progress(done, total)
            batch.append(action)
        for day in days:
            checkins += self.checkins[day]
        self._flush(batch, carried)
        done += len(batch) + self._checkins(checkins)
        if progress:
            progress(done, total)
        return self.summary(ledger.head() - head_before, time.monotonic() - started)

    def _flush(self, batch: list[Action], carried: dict[UUID, Any]) -> None:
        if not batch:
            return
        prefetch: set[UUID] = set()
        for a in batch:
            prefetch.add(CommandReceipt.create_id(a.org, a.ref))
            prefetch.update(a.needs)
            for n in (a.person, *a.others):
                if n in self.pid:
                    prefetch.add(self.pid[n])
        steps = [self._step(a) for a in batch]
        results = self.ledger.run_batch(steps, prefetch=prefetch, carried=carried)
        for action, result in zip(batch, results, strict=True):
            if isinstance(result, LedgerError):
                name = getattr(result, "rule", None) or getattr(result, "field", None)
                if action.refused is None or name != action.refused:
                    raise RuntimeError(f"workload command {action.kind} ({action.ref}, {action.at:%Y-%m-%d %H:%M}) "
                                       f"was refused: {name}: {result}")
                self.refused[name] += 1
            else:
                if action.refused is not None:
                    raise RuntimeError(f"workload command {action.kind} ({action.ref}) should have been refused "
                                       f"({action.refused}) but was accepted")
                self.counts[action.kind] += 1
                self.replayed += result.replayed

    def _step(self, action: Action) -> Callable[[], CommandResult]:
        prov = Provenance(actor=f"{action.org.lower()}-staff", org=action.org, source=action.source,
                          client_ref=action.ref, occurred_at=action.occurred_at or action.at)
        return lambda: action.run(prov)

    def _checkins(self, rows: list[tuple[int, str, datetime]]) -> int:
        """Check-ins through the bulk import (`import_checkins`), each with its own `client_ref`."""
        if not rows:
            return 0
        body = [(i, {"venue_id": str(Facility.create_id(venue)), "person_id": str(self.pid[n]),
                     "checked_in_at": at.astimezone(UTC).isoformat(), "mode": "citizen_scan",
                     "client_ref": f"{self.tag}-ci-{n}-{at:%m%d%H%M}-{venue[-1]}"})
                for i, (n, venue, at) in enumerate(rows, start=1)]
        refusals: list[Any] = []
        report = self.ledger.import_checkins(
            body, prov=Provenance(actor="pc-covid", org="PC-COVID", source="app"),
            on_report=lambda r: refusals.append(r) if r.status == "refused" else None)
        if refusals:
            raise RuntimeError(f"{len(refusals)} check-ins were refused, the first: {refusals[0].as_dict()}")
        self.counts["checkin"] += report.accepted
        self.replayed += report.duplicate
        return len(rows)

    def summary(self, events: int, seconds: float) -> dict[str, Any]:
        c = self.counts
        registered = [p for p in self.persons if p.registered_at is not None]
        return {
            "status": "loaded",
            "seed": self.seed,
            "people_sampled": self.size,
            "person_records": c["register"],
            "records_without_id_number": sum(1 for p in registered if p.id_type == "none"),
            "records_with_wrong_details": sum(1 for p in registered if p.fault in ("wrong_name", "wrong_dob",
                                                                                     "wrong_sex")),
            "provinces": len(self.provinces),
            "facilities": c["facility"],
            "vaccination_points": sum(1 for k in self.facilities.values() if k == "vaccination_point"),
            "lots": c["lot"],
            "supplier_receipts": c["supplier_receipt"],
            "transfers": c["dispatch"],
            "transfers_received_short": c["short_receipt"],
            "waste_adjustments": c["waste"],
            "vaccination_registrations": c["vaccination_registration"],
            "approvals": c["approval"],
            "screenings": c["screening"],
            "doses": c["dose"] + c["late_dose"],
            "doses_entered_late": c["late_dose"],
            "observations": c["observation"],
            "dose_corrections": c["dose_correction"],
            "adverse_events": c["adverse_event"],
            "identity_verifications": c["verification"],
            "identity_corrections": c["correction"],
            "merges": c["merge"],
            "merges_reverted": c["merge_revert"],
            "samples": c["sample"] + c["pooled_sample"],
            "pooled_samples": c["pooled_sample"],
            "results": c["result"],
            "checkins": c["checkin"],
            "refused": dict(sorted(self.refused.items())),
            "commands": len(self.actions),
            "commands_replayed": self.replayed,
            "events_written": events,
            "seconds": round(seconds, 1),
            "events_per_second": round(events / seconds) if seconds else None,
        }
