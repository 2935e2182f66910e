"""A stateful property test of one person's vaccination series against a plain model.

Random sequences of screenings (normal, caution, delay, contraindication), doses of
various vaccines and kinds (on the day or entered late, sometimes with an interval
override), voided doses and corrected dates run against a `Person` while a clock moves
across the policy change of 20 Sep 2021. The model is the set of valid doses and the
screenings; the policy functions judge it. After every step the person's valid doses
break no series rule, equal the model's, and give the same series state; every command
the person refuses is one the model predicts to be refused, for the same rule, and it
changes nothing.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from uuid import UUID, uuid4

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger.domain import Invalid, LedgerError, Person, Provenance, RuleViolation
from ledger.domain.codes import DOSE_ALLOWED_OUTCOMES
from ledger.domain.person import local_day
from ledger.policies.vaccines import VACCINE_CODES, DoseFact, check_series, series_policy_on, series_state

START = datetime(2021, 6, 1, 2, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)
SCREENINGS = {
    "normal": ({"temperature_c": 36.7, "pulse_per_min": 78}, {}, "eligible"),
    "caution": ({"temperature_c": 37.9, "pulse_per_min": 104}, {}, "caution"),
    "delay": ({"temperature_c": 36.7}, {"acute_illness": True}, "delay"),
    "contraindicated": ({}, {"anaphylaxis_to_previous_dose": True}, "contraindicated"),
}
KINDS = st.sampled_from([None, None, "primary", "booster", "additional"])
#: Day steps that hit the interesting intervals (21, 28, 56 days, 6 months) and their neighbours.
DAY_STEPS = st.one_of(
    st.sampled_from([0, 1, 13, 14, 20, 21, 27, 28, 55, 56, 182, 183, 184]), st.integers(min_value=0, max_value=120)
)


def prov(at: datetime) -> Provenance:
    return Provenance(actor="t", org="o", source="app", occurred_at=at)


def snapshot(person: Person) -> tuple:
    state = copy.deepcopy({k: v for k, v in vars(person).items() if k != "_pending_events"})
    return person.version, len(person.pending_events), state


def outcome_of(error: LedgerError) -> tuple[str, str]:
    if isinstance(error, RuleViolation):
        return ("refused", error.rule)
    if isinstance(error, Invalid):
        return ("invalid", error.field)
    return ("error", type(error).__name__)


def by_day(facts) -> list[DoseFact]:
    return sorted(facts, key=lambda f: (f.day, f.dose_id))


class SeriesMachine(RuleBasedStateMachine):
    """One person's screenings and doses against the policy functions applied to a plain model."""

    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.person = Person.register(
            person_id=uuid4(), id_type="none", id_number=None,
            details={"full_name": "Le Van C", "date_of_birth": date(1970, 1, 1), "sex": "male",
                     "address": {"province_code": "79"}},
            prov=Provenance(actor="t", org="o", source="app"), now=START,
        )
        self.log = list(self.person.collect_events())
        # -- the model ---------------------------------------------------------------------
        #: screening id -> when, outcome, used
        self.screenings: dict[str, dict] = {}
        #: valid doses: dose id -> fact, and the exact time recorded
        self.doses: dict[str, DoseFact] = {}
        self.times: dict[str, datetime] = {}
        self.voided: list[str] = []
        #: makes every screening time unique, so the model never has to guess between tied screenings
        self.tick = 0

    # -- helpers -------------------------------------------------------------------------

    def _attempt(self, command):
        """Run a command: its outcome, its result; a refused command must change nothing."""
        before = snapshot(self.person)
        try:
            result = command()
        except LedgerError as error:
            assert snapshot(self.person) == before
            return outcome_of(error), None
        self.log.extend(self.person.collect_events())
        return ("accepted",), result

    def _screen(self, at: datetime, case: str) -> str:
        vitals, answers, expected = SCREENINGS[case]
        self.tick += 1
        at -= timedelta(microseconds=self.tick)
        outcome, screening_id = self._attempt(
            lambda: self.person.screen(facility_id=uuid4(), vitals=vitals, answers=answers, outcome=None,
                                       observation_minutes=None, prov=prov(at), now=self.now)
        )
        assert outcome == ("accepted",)
        screening_id, recorded = screening_id
        assert recorded == expected
        self.screenings[str(screening_id)] = {"at": at, "outcome": expected, "used": False}
        return str(screening_id)

    def _screening_outcomes(self, at: datetime, screening_id: str | None) -> list[tuple[tuple, str | None]]:
        """What `_pick_screening` may decide: (refusal or None, screening key), over tied candidates."""
        if screening_id is not None:
            candidates = [screening_id]
        else:
            unused = {k: s for k, s in self.screenings.items() if not s["used"] and s["at"] <= at}
            if not unused:
                return [(("refused", "screening_required"), None)]
            latest = max(s["at"] for s in unused.values())
            candidates = [k for k, s in unused.items() if s["at"] == latest]
        results = []
        for key in candidates:
            s = self.screenings[key]
            if s["used"]:
                results.append((("refused", "screening_already_used"), key))
            elif s["outcome"] not in DOSE_ALLOWED_OUTCOMES:
                results.append((("refused", "screening_outcome_forbids_dose"), key))
            elif not s["at"] <= at <= s["at"] + timedelta(hours=24):
                results.append((("refused", "screening_expired"), key))
            else:
                results.append((None, key))
        return results

    @staticmethod
    def _verdicts(others: list[DoseFact], dose: DoseFact) -> set[tuple]:
        """What check_series may say of `others` plus `dose`, wherever a same-day tie sorts it.

        Doses sort by (day, id) and ids are random, so the dose is tried before and after each
        dose of its day. The model never keeps two doses on one day (see `_tied`), so every
        accepted dose was accepted in every order and histories stay reproducible.
        """
        verdicts = set()
        for placeholder in ["", *(f.dose_id + "0" for f in others if f.day == dose.day)]:
            violations = check_series([*others, DoseFact(placeholder, dose.vaccine, dose.day, dose.kind,
                                                         dose.interval_override)])
            verdicts.add(("refused", violations[0].rule) if violations else ("accepted",))
        return verdicts

    @staticmethod
    def _tied(others: list[DoseFact], day: date, verdicts: set[tuple]) -> bool:
        """A same-day dose that might be accepted: its fate would hang on random ids, so it is not tried."""
        return any(f.day == day for f in others) and ("accepted",) in verdicts

    def _administer(self, vaccine: str, at: datetime, kind: str | None, override: bool, screening_id: str | None):
        day = local_day(at)
        facts = list(self.doses.values())
        resolved = kind
        if kind is None:
            resolved = "primary" if series_state(facts, day).status in ("none", "partial") else "booster"
        verdicts = self._verdicts(facts, DoseFact("new", vaccine, day, resolved, override))
        if self._tied(facts, day, verdicts):
            event("administer: skipped a same-day tie")
            return
        possible = set()
        for refusal, _ in self._screening_outcomes(at, screening_id):
            possible |= {refusal} if refusal else verdicts
        outcome, dose_id = self._attempt(
            lambda: self.person.administer_dose(
                vaccine=vaccine, lot_id=uuid4(), lot_number="L1", facility_id=uuid4(),
                screening_id=UUID(screening_id) if screening_id else None, kind=kind,
                interval_override={"reason": "clinical_indication"} if override else None,
                prov=prov(at), now=self.now,
            )
        )
        event(f"administer: {outcome}")
        assert outcome in possible, (outcome, possible)
        if dose_id is None:
            return
        [recorded] = [e for e in self.log[-1:] if isinstance(e, Person.DoseAdministered)]
        assert (recorded.kind, recorded.policy_id) == (resolved, series_policy_on(day).id)
        self.screenings[str(recorded.screening_id)]["used"] = True
        fact = DoseFact(str(dose_id), vaccine, day, resolved, override)
        self.doses[fact.dose_id] = fact
        self.times[fact.dose_id] = at
        assert recorded.dose_number == by_day(self.doses.values()).index(fact) + 1

    # -- rules ---------------------------------------------------------------------------

    @rule(days=DAY_STEPS, hours=st.integers(min_value=0, max_value=23))
    def advance_clock(self, days, hours):
        self.now += timedelta(days=days, hours=hours)

    @rule(case=st.sampled_from(["normal", "normal", "caution", "delay", "contraindicated"]),
          hours_ago=st.integers(min_value=0, max_value=30))
    def screen(self, case, hours_ago):
        self._screen(self.now - timedelta(hours=hours_ago), case)

    @rule(data=st.data(), kind=KINDS, override=st.sampled_from([False] * 5 + [True]),
          hours_ago=st.integers(min_value=0, max_value=30))
    def administer(self, data, kind, override, hours_ago):
        vaccine = self._pick_vaccine(data)
        self._administer(vaccine, self.now - timedelta(hours=hours_ago), kind, override, None)

    @rule(data=st.data(), kind=KINDS, days_ago=st.integers(min_value=1, max_value=400))
    def enter_late_dose(self, data, kind, days_ago):
        """A backlog dose with its own screening, dated before doses already on file."""
        vaccine = self._pick_vaccine(data)
        at = self.now - timedelta(days=days_ago)
        screening_id = self._screen(at, "normal")
        self._administer(vaccine, at, kind, False, screening_id)

    def _pick_vaccine(self, data) -> str:
        if self.doses and data.draw(st.booleans(), label="same vaccine as the last dose"):
            return by_day(self.doses.values())[-1].vaccine
        return data.draw(st.sampled_from(sorted(VACCINE_CODES)), label="vaccine")

    @precondition(lambda self: self.doses)
    @rule(data=st.data())
    def void_dose(self, data):
        # Voiding never re-checks the series; the model voids only where the rest stays valid.
        keep_valid = [d for d in self.doses if not check_series([f for k, f in self.doses.items() if k != d])]
        if not keep_valid:
            return
        dose_id = data.draw(st.sampled_from(keep_valid), label="dose")
        outcome, _ = self._attempt(
            lambda: self.person.void_dose(dose_id=UUID(dose_id), reason="entered_in_error", note=None,
                                          prov=prov(self.now))
        )
        assert outcome == ("accepted",)
        del self.doses[dose_id]
        self.voided.append(dose_id)

    @precondition(lambda self: self.voided)
    @rule(data=st.data())
    def void_again(self, data):
        dose_id = data.draw(st.sampled_from(self.voided), label="voided dose")
        outcome, _ = self._attempt(
            lambda: self.person.void_dose(dose_id=UUID(dose_id), reason="duplicate", note=None, prov=prov(self.now))
        )
        assert outcome == ("refused", "dose_already_voided")

    @precondition(lambda self: self.doses)
    @rule(data=st.data(), days=st.integers(min_value=-90, max_value=90), hours=st.integers(min_value=-12, max_value=12))
    def correct_date(self, data, days, hours):
        dose_id = data.draw(st.sampled_from(list(self.doses)), label="dose")
        old = self.doses[dose_id]
        new_at = self.times[dose_id] + timedelta(days=days, hours=hours)
        moved = DoseFact(dose_id, old.vaccine, local_day(new_at), old.kind, old.interval_override)
        others = [f for k, f in self.doses.items() if k != dose_id]
        if new_at > self.now + SKEW:
            expected = {("invalid", "administered_at")}
        elif new_at == self.times[dose_id]:
            expected = {("refused", "correction_changes_nothing")}
        else:
            expected = self._verdicts(others, moved)
            if self._tied(others, moved.day, expected):
                event("correct: skipped a same-day tie")
                return
        outcome, _ = self._attempt(
            lambda: self.person.correct_dose(dose_id=UUID(dose_id), administered_at=new_at, lot=None,
                                             reason="wrong_date", prov=prov(self.now), now=self.now)
        )
        event(f"correct: {outcome}")
        assert outcome in expected, (outcome, expected)
        if outcome == ("accepted",):
            self.doses[dose_id] = moved
            self.times[dose_id] = new_at

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def valid_doses_break_no_rule(self):
        assert check_series(self.person.dose_facts()) == []

    @invariant()
    def valid_doses_equal_the_model(self):
        assert by_day(self.person.dose_facts()) == by_day(self.doses.values())

    @invariant()
    def series_state_matches_the_model(self):
        today = local_day(self.now)
        assert series_state(self.person.dose_facts(), today) == series_state(list(self.doses.values()), today)

    @invariant()
    def screenings_match_the_model(self):
        used = {k for k, s in self.person.screenings.items() if s["dose_id"] is not None}
        assert used == {k for k, s in self.screenings.items() if s["used"]}
        assert set(self.person.screenings) == set(self.screenings)

    @invariant()
    def replay_rebuilds_the_person(self):
        assert not self.person.pending_events
        assert vars(reduce(lambda a, e: e.mutate(a), self.log, None)) == vars(self.person)


SeriesMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class TestSeriesMachine(SeriesMachine.TestCase):
    """Random vaccination histories keep a valid series that matches the model; refusals are the predicted ones."""
