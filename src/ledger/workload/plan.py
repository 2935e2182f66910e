"""What a plan of the national workload is made of: its actions, its residents, its calendar."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from ..commands._shared import CommandResult
from ..domain import Provenance
from ..domain.person import LOCAL_TZ
from .census import Province, Ward

if TYPE_CHECKING:
    from ..application import Ledger

NATIONAL = "KHO-QG"

CAMPAIGN_END = date(2021, 12, 31)


def local_time(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def half_month(day: date) -> tuple[int, date]:
    """The supply period of `day` (0-23) and its first day: every point is restocked twice a month."""
    second = day.day > 15
    return (day.month - 1) * 2 + second, date(day.year, day.month, 16 if second else 1)


def period_days(period: int) -> tuple[date, date]:
    """The first and last day of supply period `period` (0-23)."""
    month, second = period // 2 + 1, period % 2
    last = (date(2021, month, 15) if not second else
            date(2021, month + 1, 1) - timedelta(days=1) if month < 12 else CAMPAIGN_END)
    return date(2021, month, 16 if second else 1), last


@dataclass(slots=True)
class Resident:
    n: int
    ward: Ward
    sex: str
    dob: date
    name: str
    id_type: str
    id_number: str | None
    phone: str | None
    line: str
    #: The details as registered (with the fault, if any), and the fault's reason code.
    registered: dict = field(default_factory=dict)
    fault: str | None = None
    registered_at: datetime | None = None

    def age_on(self, day: date) -> int:
        return day.year - self.dob.year - ((day.month, day.day) < (self.dob.month, self.dob.day))


@dataclass(slots=True)
class Action:
    at: datetime
    seq: int
    org: str
    kind: str
    run: Callable[[Provenance], CommandResult]
    source: str = "app"
    person: int | None = None
    #: Other people it reads (a sample's subjects, a merge's survivor): read with the batch's first query.
    others: tuple[int, ...] = ()
    #: The rule (409) or field (422) this command is planned to be refused for.
    refused: str | None = None
    #: Aggregates to read with the batch's first query (a sample, a transfer).
    needs: tuple[UUID, ...] = ()
    #: When it happened, if not when it is recorded (`at`): a dose entered late from a paper list.
    occurred_at: datetime | None = None
    ref: str = ""


class Planner:
    """What the planners that make up `NationalWorkload` share: the seed's random stream, the
    actions planned so far (`_at`, `_person_at`), the places and people sampled, and, while
    running, the ids the commands answered. Each planner (`supply`, `identity`, `vaccination`,
    `testing`) plans one part of the year and calls the others' methods through `self` where
    the year joins them (a screening registers the resident's first contact, a dose needs its
    lot); `NationalWorkload.plan` calls them in an order that fixes the random stream."""

    rng: random.Random
    seed: int
    size: int
    ledger: Ledger
    actions: list[Action]
    persons: list[Resident]
    provinces: list[Province]
    #: Province code -> the wards sampled in it; cumulative population weights of `provinces`.
    wards: dict[str, list[Ward]]
    province_weights: list[int]
    #: Facility code -> kind, for every facility planned.
    facilities: dict[str, str]
    #: (point, lot id, supply period) -> doses planned per day: what the supply chain must deliver.
    used: dict[tuple[str, UUID, int], Counter[date]]
    used_numbers: set[str]
    checkins: dict[date, list[tuple[int, str, datetime]]]
    #: Sampled person number -> person id, and the other ids the commands answered, once they ran.
    pid: dict[int, UUID]
    ids: dict[str, UUID]

    def _at(self, at: datetime, org: str, kind: str, run: Callable[[Provenance], CommandResult], *,
            source: str = "app", person: int | None = None, refused: str | None = None, needs: tuple = (),
            occurred_at: datetime | None = None, others: tuple[int, ...] = ()) -> None:
        self.actions.append(Action(at, len(self.actions), org, kind, run, source, person, others,
                                    refused, needs, occurred_at))

    def _person_at(self, at: datetime, org: str, kind: str, p: Resident, source: str,
                   run: Callable[[Provenance, UUID], CommandResult], *, refused: str | None = None,
                   occurred_at: datetime | None = None, others: tuple[int, ...] = ()) -> None:
        """A command about person `p` (their id is known once their registration has run)."""
        self._at(at, org, kind, lambda prov: run(prov, self.pid[p.n]), source=source, person=p.n, refused=refused,
                 occurred_at=occurred_at, others=others)
