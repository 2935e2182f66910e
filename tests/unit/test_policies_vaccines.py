"""Series, intervals, mixing and "fully vaccinated" (DOMAIN §3), as pure functions of dose facts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policies.vaccines import (
    MOH_AUG_2021,
    OL_7820_SEP_2021,
    SERIES_POLICIES,
    VACCINE_CODES,
    DoseFact,
    add_months,
    check_series,
    is_fully_vaccinated,
    series_policy_on,
    series_state,
)

#: A day well inside the 7820 policy, so every interval below is the Sep 2021 one.
SEP_POLICY_DAY = date(2021, 10, 1)
STATUS_RANK = {"none": 0, "partial": 1, "primary_complete": 2, "boosted": 3}


def dose(n: int, vaccine: str, day: date, kind: str = "primary", override: bool = False) -> DoseFact:
    return DoseFact(f"d{n}", vaccine, day, kind, override)


def primary_series(vaccine: str, start: date, gap_days: int | None = None) -> list[DoseFact]:
    """A complete primary series of `vaccine` at its minimum intervals under the policy of `start`."""
    spec = series_policy_on(start).vaccine(vaccine)
    doses, day = [dose(1, vaccine, start)], start
    for i in range(spec.primary_doses - 1):
        day = day + timedelta(days=gap_days if gap_days is not None else spec.intervals_days[i])
        doses.append(dose(i + 2, vaccine, day))
    return doses


def rules(violations) -> list[tuple[str, str]]:
    return [(v.rule, v.dose_id) for v in violations]


# -- policies in force ----------------------------------------------------------------


def test_policy_in_force_changes_on_20_september_2021():
    """7820/BYT-DP is in force from 20 Sep 2021; the Aug 2021 guidance the day before."""
    assert series_policy_on(date(2021, 9, 19)) is MOH_AUG_2021
    assert series_policy_on(date(2021, 9, 20)) is OL_7820_SEP_2021
    assert series_policy_on(date(2023, 1, 1)) is OL_7820_SEP_2021


def test_days_before_every_policy_fall_under_the_first():
    """A dose dated before the first policy is judged under the earliest policy, not refused for lack of one."""
    assert series_policy_on(date(2020, 1, 1)) is SERIES_POLICIES[0]


# -- intervals between primary doses --------------------------------------------------------

TWO_DOSE_INTERVALS = [
    ("pfizer", 21),
    ("moderna", 28),
    ("vero_cell", 21),
    ("sputnik_v", 21),
    ("hayat_vax", 21),
    ("astrazeneca", 28),
]


@pytest.mark.parametrize(("vaccine", "days"), TWO_DOSE_INTERVALS)
def test_second_dose_exactly_at_the_interval_is_allowed(vaccine, days):
    """Dose 2 given exactly the minimum interval after dose 1 breaks no rule."""
    doses = [dose(1, vaccine, SEP_POLICY_DAY), dose(2, vaccine, SEP_POLICY_DAY + timedelta(days=days))]
    assert check_series(doses) == []


@pytest.mark.parametrize(("vaccine", "days"), TWO_DOSE_INTERVALS)
def test_second_dose_a_day_early_is_refused_with_its_earliest_day(vaccine, days):
    """Dose 2 one day before the minimum interval is a `dose_interval` violation naming the earliest day."""
    doses = [dose(1, vaccine, SEP_POLICY_DAY), dose(2, vaccine, SEP_POLICY_DAY + timedelta(days=days - 1))]
    [violation] = check_series(doses)
    assert (violation.rule, violation.dose_id) == ("dose_interval", "d2")
    assert violation.earliest == SEP_POLICY_DAY + timedelta(days=days)


def test_pfizer_21_days_is_allowed_and_20_is_refused():
    """Pfizer's minimum interval is 21 days exactly."""
    first = date(2021, 7, 1)
    assert check_series([dose(1, "pfizer", first), dose(2, "pfizer", first + timedelta(days=21))]) == []
    assert rules(check_series([dose(1, "pfizer", first), dose(2, "pfizer", first + timedelta(days=20))])) == [
        ("dose_interval", "d2")
    ]


def test_astrazeneca_needs_56_days_under_the_august_2021_policy():
    """Before 20 Sep 2021 AstraZeneca dose 2 needs 8 weeks: 56 days pass, 55 do not."""
    first = date(2021, 6, 1)
    assert check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", first + timedelta(days=56))]) == []
    [violation] = check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", first + timedelta(days=55))])
    assert violation.rule == "dose_interval"
    assert violation.earliest == first + timedelta(days=56)


def test_astrazeneca_needs_28_days_under_7820():
    """From 20 Sep 2021 AstraZeneca dose 2 may follow after 4 weeks: 28 days pass, 27 do not."""
    first = date(2021, 9, 1)
    assert check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", date(2021, 9, 29))]) == []
    assert rules(check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", date(2021, 9, 28))])) == [
        ("dose_interval", "d2")
    ]


def test_astrazeneca_interval_is_judged_by_the_policy_on_the_second_dose_day():
    """49 days after dose 1 is too early on 19 Sep 2021 (56-day rule) and 50 days is enough on 20 Sep (28-day rule)."""
    first = date(2021, 8, 1)
    assert rules(check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", date(2021, 9, 19))])) == [
        ("dose_interval", "d2")
    ]
    assert check_series([dose(1, "astrazeneca", first), dose(2, "astrazeneca", date(2021, 9, 20))]) == []


def test_janssen_single_dose_completes_the_series():
    """One Janssen dose is a complete primary series, good for a passport."""
    doses = [dose(1, "janssen", SEP_POLICY_DAY)]
    state = series_state(doses, SEP_POLICY_DAY)
    assert state.status == "primary_complete"
    assert (state.primary_doses_given, state.primary_doses_required) == (1, 1)
    assert state.primary_completed_on == SEP_POLICY_DAY
    assert state.next_dose_kind == "booster"
    assert state.next_dose_earliest == date(2022, 4, 1)
    assert check_series(doses) == []
    assert is_fully_vaccinated(doses, "passport", SEP_POLICY_DAY)


def test_a_second_janssen_primary_dose_is_refused():
    """After a Janssen dose, another primary dose is `primary_series_already_complete`."""
    doses = [dose(1, "janssen", SEP_POLICY_DAY), dose(2, "janssen", SEP_POLICY_DAY + timedelta(days=60))]
    assert rules(check_series(doses)) == [("primary_series_already_complete", "d2")]


def test_abdala_takes_three_doses_14_days_apart():
    """Abdala's primary series is 3 doses at 0/14/28 days; two doses leave it partial."""
    doses = primary_series("abdala", SEP_POLICY_DAY)
    assert [d.day for d in doses] == [SEP_POLICY_DAY + timedelta(days=n) for n in (0, 14, 28)]
    assert check_series(doses) == []
    partial = series_state(doses[:2], doses[1].day)
    assert (partial.status, partial.primary_doses_given, partial.primary_doses_required) == ("partial", 2, 3)
    assert partial.next_dose_earliest == doses[2].day
    assert series_state(doses, doses[2].day).status == "primary_complete"


def test_abdala_third_dose_13_days_after_the_second_is_refused():
    """Abdala dose 3 is held to its own 14-day interval after dose 2."""
    doses = primary_series("abdala", SEP_POLICY_DAY)
    early = [*doses[:2], dose(3, "abdala", doses[1].day + timedelta(days=13))]
    [violation] = check_series(early)
    assert (violation.rule, violation.dose_id, violation.earliest) == ("dose_interval", "d3", doses[2].day)


# -- mixing ------------------------------------------------------------------------------------


def test_astrazeneca_then_pfizer_is_allowed_from_20_september_2021():
    """AZ dose 1 followed by Pfizer dose 2 is allowed under the Sep 2021 mixing guidance."""
    doses = [dose(1, "astrazeneca", date(2021, 9, 1)), dose(2, "pfizer", date(2021, 10, 1))]
    assert check_series(doses) == []
    assert series_state(doses, date(2021, 10, 1)).status == "primary_complete"


def test_astrazeneca_then_pfizer_is_refused_before_20_september_2021():
    """Before the Sep 2021 guidance no mixing was allowed, whatever the interval."""
    doses = [dose(1, "astrazeneca", date(2021, 6, 1)), dose(2, "pfizer", date(2021, 9, 10))]
    assert rules(check_series(doses)) == [("vaccine_mixing_not_allowed", "d2")]


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        ("astrazeneca", "moderna", True),
        ("moderna", "pfizer", True),
        ("pfizer", "moderna", True),
        ("pfizer", "astrazeneca", False),
        ("vero_cell", "pfizer", False),
        ("sputnik_v", "astrazeneca", False),
    ],
)
def test_mixing_pairs_under_7820(first, second, allowed):
    """Only the pairs the Sep 2021 guidance names may be mixed; the rest are refused."""
    doses = [dose(1, first, date(2021, 9, 1)), dose(2, second, date(2021, 11, 1))]
    expected = [] if allowed else [("vaccine_mixing_not_allowed", "d2")]
    assert rules(check_series(doses)) == expected


def test_the_interval_of_a_mixed_series_is_the_first_vaccines():
    """AZ followed by Pfizer waits AstraZeneca's 28 days, not Pfizer's 21."""
    doses = [dose(1, "astrazeneca", date(2021, 10, 1)), dose(2, "pfizer", date(2021, 10, 22))]
    [violation] = check_series(doses)
    assert (violation.rule, violation.earliest) == ("dose_interval", date(2021, 10, 29))


# -- boosters and additional doses -----------------------------------------------------------------


def test_booster_six_calendar_months_after_31_august_is_28_february():
    """A series completed on 31 Aug 2021 may be boosted on 28 Feb 2022 (6 calendar months), not the day before."""
    doses = [dose(1, "pfizer", date(2021, 8, 10)), dose(2, "pfizer", date(2021, 8, 31))]
    assert series_state(doses, date(2021, 9, 1)).next_dose_earliest == date(2022, 2, 28)
    assert check_series([*doses, dose(3, "pfizer", date(2022, 2, 28), "booster")]) == []
    [violation] = check_series([*doses, dose(3, "pfizer", date(2022, 2, 27), "booster")])
    assert (violation.rule, violation.dose_id, violation.earliest) == ("dose_interval", "d3", date(2022, 2, 28))


def test_booster_six_months_after_31_august_of_a_leap_year_is_29_february():
    """In a leap year the 6-month booster date of 31 Aug is 29 Feb."""
    doses = [dose(1, "pfizer", date(2023, 8, 10)), dose(2, "pfizer", date(2023, 8, 31))]
    assert series_state(doses).next_dose_earliest == date(2024, 2, 29)
    assert check_series([*doses, dose(3, "moderna", date(2024, 2, 29), "booster")]) == []


def test_booster_before_the_primary_series_is_complete_is_refused():
    """A booster after one Pfizer dose is `primary_series_incomplete`, however late it comes."""
    doses = [dose(1, "pfizer", SEP_POLICY_DAY), dose(2, "pfizer", date(2022, 6, 1), "booster")]
    assert rules(check_series(doses)) == [("primary_series_incomplete", "d2")]


def test_booster_dated_before_the_series_completed_is_refused():
    """A booster dated between the primary doses is `primary_series_incomplete`."""
    doses = [*primary_series("pfizer", SEP_POLICY_DAY), dose(3, "pfizer", SEP_POLICY_DAY + timedelta(days=5), "booster")]
    assert rules(check_series(doses)) == [("primary_series_incomplete", "d3")]


def test_boosted_status_and_next_booster_six_months_after_the_last():
    """After a booster the status is `boosted` and the next booster is due 6 months after it."""
    doses = [*primary_series("pfizer", SEP_POLICY_DAY), dose(3, "moderna", date(2022, 5, 15), "booster")]
    state = series_state(doses, date(2022, 5, 15))
    assert (state.status, state.next_dose_kind, state.next_dose_earliest) == ("boosted", "booster", date(2022, 11, 15))
    assert check_series(doses) == []


def test_additional_dose_needs_28_days_after_the_primary_series():
    """An additional dose for special groups is allowed 28 days after completion, refused at 27."""
    doses = primary_series("pfizer", SEP_POLICY_DAY)
    done = doses[-1].day
    assert check_series([*doses, dose(3, "pfizer", done + timedelta(days=28), "additional")]) == []
    [violation] = check_series([*doses, dose(3, "pfizer", done + timedelta(days=27), "additional")])
    assert (violation.rule, violation.earliest) == ("dose_interval", done + timedelta(days=28))


def test_booster_after_an_additional_dose_waits_six_months_after_it():
    """The booster interval runs from the last dose after the primary series, an additional dose included."""
    doses = [*primary_series("pfizer", SEP_POLICY_DAY), dose(3, "pfizer", date(2021, 12, 1), "additional")]
    assert rules(check_series([*doses, dose(4, "pfizer", date(2022, 5, 1), "booster")])) == [("dose_interval", "d4")]
    assert check_series([*doses, dose(4, "pfizer", date(2022, 6, 1), "booster")]) == []


def test_series_state_after_an_additional_dose_agrees_with_check_series():
    """The earliest booster that series_state announces after an additional dose is one check_series accepts."""
    doses = [*primary_series("pfizer", SEP_POLICY_DAY), dose(3, "pfizer", date(2021, 12, 1), "additional")]
    state = series_state(doses, date(2021, 12, 1))
    assert state.status == "primary_complete"
    assert state.next_dose_earliest == date(2022, 6, 1)
    assert check_series([*doses, dose(4, "pfizer", state.next_dose_earliest, "booster")]) == []


def test_a_third_primary_dose_is_refused():
    """A primary dose beyond the series is `primary_series_already_complete`: it should be a booster."""
    doses = [*primary_series("pfizer", SEP_POLICY_DAY), dose(3, "pfizer", date(2022, 6, 1))]
    assert rules(check_series(doses)) == [("primary_series_already_complete", "d3")]


# -- late-entered doses and overrides -----------------------------------------------------------


def test_late_entered_dose_is_checked_against_its_earlier_neighbour():
    """A backlog Abdala dose dated 10 days after dose 1 breaks the interval on itself."""
    on_file = [dose(1, "abdala", SEP_POLICY_DAY), dose(3, "abdala", SEP_POLICY_DAY + timedelta(days=28))]
    late = dose(2, "abdala", SEP_POLICY_DAY + timedelta(days=10))
    assert check_series(on_file) == []
    assert rules(check_series([*on_file, late])) == [("dose_interval", "d2")]


def test_late_entered_dose_is_checked_against_its_later_neighbour():
    """A backlog Abdala dose dated 8 days before the dose after it makes that later dose too early."""
    on_file = [dose(1, "abdala", SEP_POLICY_DAY), dose(3, "abdala", SEP_POLICY_DAY + timedelta(days=28))]
    late = dose(2, "abdala", SEP_POLICY_DAY + timedelta(days=20))
    [violation] = check_series([*on_file, late])
    assert (violation.rule, violation.dose_id) == ("dose_interval", "d3")
    assert violation.earliest == late.day + timedelta(days=14)


def test_late_entered_dose_between_neighbours_fitting_both_is_accepted():
    """A backlog dose exactly 14 days from each neighbour breaks no rule."""
    on_file = [dose(1, "abdala", SEP_POLICY_DAY), dose(3, "abdala", SEP_POLICY_DAY + timedelta(days=28))]
    assert check_series([*on_file, dose(2, "abdala", SEP_POLICY_DAY + timedelta(days=14))]) == []


def test_interval_override_exempts_the_dose_from_the_interval():
    """A dose recorded with an interval override is not held to the minimum interval."""
    doses = [dose(1, "pfizer", SEP_POLICY_DAY), dose(2, "pfizer", SEP_POLICY_DAY + timedelta(days=10), override=True)]
    assert check_series(doses) == []
    assert series_state(doses).status == "primary_complete"


def test_interval_override_exempts_the_dose_from_the_mixing_rule():
    """An overridden dose is exempt from the mixing check as well."""
    doses = [dose(1, "vero_cell", SEP_POLICY_DAY), dose(2, "pfizer", date(2021, 11, 1), override=True)]
    assert check_series(doses) == []


def test_interval_override_exempts_a_booster_from_the_six_months():
    """An overridden booster may come early, but still needs a complete primary series."""
    series = primary_series("pfizer", SEP_POLICY_DAY)
    assert check_series([*series, dose(3, "pfizer", date(2021, 11, 1), "booster", override=True)]) == []
    assert rules(check_series([series[0], dose(3, "pfizer", date(2021, 11, 1), "booster", override=True)])) == [
        ("primary_series_incomplete", "d3")
    ]


def test_doses_are_judged_in_date_order_whatever_the_input_order():
    """check_series sorts by day, so the order of the input list does not matter."""
    doses = primary_series("abdala", SEP_POLICY_DAY)
    assert check_series(list(reversed(doses))) == []


# -- series_state ---------------------------------------------------------------------------------


def test_series_state_of_nobody_is_none():
    """No doses: status `none`, next dose a primary with no earliest day."""
    state = series_state([], SEP_POLICY_DAY)
    assert (state.status, state.primary_doses_given, state.next_dose_kind, state.next_dose_earliest) == (
        "none", 0, "primary", None,
    )
    assert state.policy_id == OL_7820_SEP_2021.id


def test_series_state_partial_names_the_earliest_second_dose():
    """After one Moderna dose the status is `partial` and dose 2 is due 28 days later."""
    state = series_state([dose(1, "moderna", SEP_POLICY_DAY)], SEP_POLICY_DAY)
    assert (state.status, state.next_dose_kind) == ("partial", "primary")
    assert state.next_dose_earliest == SEP_POLICY_DAY + timedelta(days=28)


def test_series_state_policy_follows_the_day_asked_about():
    """The same AZ dose 1 has dose 2 due after 56 days under the Aug 2021 policy and 28 under 7820."""
    doses = [dose(1, "astrazeneca", date(2021, 9, 1))]
    assert series_state(doses, date(2021, 9, 1)).next_dose_earliest == date(2021, 10, 27)
    assert series_state(doses, date(2021, 9, 20)).next_dose_earliest == date(2021, 9, 29)


# -- fully vaccinated -----------------------------------------------------------------------------


def test_fully_vaccinated_for_f1_home_quarantine_window():
    """F1 home quarantine needs a complete series with the last dose 14 days to 6 months before."""
    doses = primary_series("pfizer", SEP_POLICY_DAY)
    last = doses[-1].day
    assert not is_fully_vaccinated(doses, "f1_home_quarantine", last + timedelta(days=13))
    assert is_fully_vaccinated(doses, "f1_home_quarantine", last + timedelta(days=14))
    assert is_fully_vaccinated(doses, "f1_home_quarantine", add_months(last, 6))
    assert not is_fully_vaccinated(doses, "f1_home_quarantine", add_months(last, 6) + timedelta(days=1))
    assert not is_fully_vaccinated(doses[:1], "f1_home_quarantine", last + timedelta(days=30))


def test_fully_vaccinated_under_762_needs_two_doses_14_days_before():
    """762/BYT-DP counts 2 doses with the last 14 days before; one Janssen dose is not enough."""
    doses = primary_series("pfizer", SEP_POLICY_DAY)
    last = doses[-1].day
    assert not is_fully_vaccinated(doses, "762", last + timedelta(days=13))
    assert is_fully_vaccinated(doses, "762", last + timedelta(days=14))
    assert not is_fully_vaccinated([dose(1, "janssen", SEP_POLICY_DAY)], "762", date(2022, 3, 1))


def test_fully_vaccinated_ignores_doses_after_the_day_asked_about():
    """A dose dated after `on` does not count towards being fully vaccinated on `on`."""
    doses = primary_series("pfizer", SEP_POLICY_DAY)
    assert not is_fully_vaccinated(doses, "passport", doses[-1].day - timedelta(days=1))
    assert is_fully_vaccinated(doses, "coverage", doses[-1].day)


def test_fully_vaccinated_for_an_unknown_purpose_is_an_error():
    """Asking about a purpose the policy does not know is a programming error, not False."""
    with pytest.raises(ValueError, match="unknown purpose"):
        is_fully_vaccinated([], "cinema", SEP_POLICY_DAY)


# -- add_months ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2021, 8, 31), 6, date(2022, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2021, 1, 31), 1, date(2021, 2, 28)),
        (date(2021, 3, 31), 1, date(2021, 4, 30)),
        (date(2021, 12, 15), 1, date(2022, 1, 15)),
        (date(2021, 7, 15), 6, date(2022, 1, 15)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2022, 3, 31), -1, date(2022, 2, 28)),
        (date(2022, 1, 10), -1, date(2021, 12, 10)),
        (date(2022, 1, 10), 0, date(2022, 1, 10)),
    ],
)
def test_add_months_examples(day, months, expected):
    """Calendar months clamp to the last day of the target month."""
    assert add_months(day, months) == expected


days = st.dates(min_value=date(1950, 1, 1), max_value=date(2090, 12, 31))


@given(day=days, months=st.integers(min_value=-120, max_value=120))
def test_add_months_lands_in_the_right_month_on_the_same_or_clamped_day(day, months):
    """The result is in the month `months` away, on the same day or, if that month is shorter, its last day."""
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    if result.day != day.day:
        assert result.day < day.day
        assert (result + timedelta(days=1)).month != result.month


@given(first=days, second=days, months=st.integers(min_value=0, max_value=60))
def test_add_months_is_monotone(first, second, months):
    """A later day never gets an earlier result."""
    low, high = sorted((first, second))
    assert add_months(low, months) <= add_months(high, months)


@given(day=days, a=st.integers(min_value=0, max_value=60), b=st.integers(min_value=0, max_value=60))
def test_add_months_in_steps_never_overshoots(day, a, b):
    """Adding months in two steps can only clamp more, never land later than adding them at once."""
    assert add_months(add_months(day, a), b) <= add_months(day, a + b)


@given(day=days, months=st.integers(min_value=1, max_value=60))
def test_add_months_stays_within_28_and_31_days_a_month(day, months):
    """Six calendar months are between 6x28 and 6x31 days, and so for any count."""
    delta = (add_months(day, months) - day).days
    assert 28 * months - 3 <= delta <= 31 * months


# -- properties of legal series ------------------------------------------------------------------------------


@st.composite
def legal_series(draw):
    """Doses of one vaccine at legal intervals under every policy: primary doses, then boosters or additional doses."""
    vaccine = draw(st.sampled_from(sorted(VACCINE_CODES)))
    day = draw(st.dates(min_value=date(2021, 3, 8), max_value=date(2023, 12, 31)))
    doses = [dose(1, vaccine, day)]
    spec = MOH_AUG_2021.vaccine(vaccine)
    for i in range(spec.primary_doses - 1):
        longest = max(p.vaccine(vaccine).intervals_days[i] for p in SERIES_POLICIES)
        day = day + timedelta(days=longest + draw(st.integers(min_value=0, max_value=60)))
        doses.append(dose(len(doses) + 1, vaccine, day))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        kind = draw(st.sampled_from(["booster", "additional"]))
        if kind == "booster":
            day = add_months(day, 6) + timedelta(days=draw(st.integers(min_value=0, max_value=90)))
        else:
            day = day + timedelta(days=28 + draw(st.integers(min_value=0, max_value=90)))
        other = draw(st.sampled_from(["pfizer", "moderna", vaccine]))
        doses.append(dose(len(doses) + 1, other, day, kind))
    return doses


@given(legal_series())
def test_doses_at_legal_intervals_break_no_rule(doses):
    """Every prefix of a series given at legal intervals passes check_series."""
    for n in range(len(doses) + 1):
        assert check_series(doses[:n]) == []


@given(legal_series())
def test_series_status_never_goes_back_as_legal_doses_are_appended(doses):
    """none -> partial -> primary_complete -> boosted, never backwards, as legal doses accumulate."""
    ranks = [STATUS_RANK[series_state(doses[:n], doses[max(n - 1, 0)].day).status] for n in range(len(doses) + 1)]
    assert ranks == sorted(ranks)
    assert ranks[0] == 0
    assert ranks[-1] >= STATUS_RANK["primary_complete"]


@given(legal_series(), st.randoms(use_true_random=False))
def test_check_series_does_not_depend_on_input_order(doses, rnd):
    """check_series sorts doses itself: any permutation gives the same verdict."""
    shuffled = list(doses)
    rnd.shuffle(shuffled)
    assert check_series(shuffled) == check_series(doses) == []


@given(legal_series())
def test_the_announced_next_booster_is_accepted_on_its_earliest_day(doses):
    """A booster given on the earliest day series_state announces passes check_series, and a day earlier does not."""
    state = series_state(doses, doses[-1].day)
    assert state.next_dose_kind == "booster"
    on_time = dose(len(doses) + 1, "pfizer", state.next_dose_earliest, "booster")
    early = dose(len(doses) + 1, "pfizer", state.next_dose_earliest - timedelta(days=1), "booster")
    assert check_series([*doses, on_time]) == []
    assert rules(check_series([*doses, early])) == [("dose_interval", early.dose_id)]


@given(
    vaccine=st.sampled_from([v for v, _ in TWO_DOSE_INTERVALS]),
    first=st.dates(min_value=date(2021, 9, 20), max_value=date(2023, 12, 31)),
    short=st.integers(min_value=1, max_value=20),
)
def test_a_second_dose_short_of_the_interval_is_always_refused(vaccine, first, short):
    """Under 7820, any dose 2 given before its interval is exactly one `dose_interval` violation."""
    gap = OL_7820_SEP_2021.vaccine(vaccine).intervals_days[0]
    doses = [dose(1, vaccine, first), dose(2, vaccine, first + timedelta(days=gap - short))]
    [violation] = check_series(doses)
    assert (violation.rule, violation.dose_id, violation.earliest) == ("dose_interval", "d2", first + timedelta(days=gap))
