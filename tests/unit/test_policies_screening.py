"""Pre-vaccination screening (2995/3802): the least strict outcome that vitals and answers allow."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.codes import SCREENING_OUTCOMES
from ledger.policies.screening import OUTCOME_SEVERITY, SCREENING_3802, derived_outcome, screening_policy_on

NORMAL = {"temperature_c": 36.6, "pulse_per_min": 80, "systolic_mmhg": 120, "diastolic_mmhg": 75, "respiration_per_min": 16}


def outcome(vitals: dict | None = None, answers: dict | None = None) -> tuple[str, list[str]]:
    return derived_outcome(SCREENING_3802, {**NORMAL, **(vitals or {})}, answers or {})


def test_normal_vitals_and_no_answers_are_eligible():
    """Normal vitals and nothing to declare give `eligible` with no triggers."""
    assert outcome() == ("eligible", [])


def test_missing_vitals_are_not_a_trigger():
    """A vital that was not measured does not raise the outcome."""
    assert derived_outcome(SCREENING_3802, {}, {}) == ("eligible", [])
    assert derived_outcome(SCREENING_3802, {"temperature_c": None}, {}) == ("eligible", [])


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("temperature_c", 35.5, "eligible"),
        ("temperature_c", 35.4, "caution"),
        ("temperature_c", 37.5, "eligible"),
        ("temperature_c", 37.6, "caution"),
        ("pulse_per_min", 60, "eligible"),
        ("pulse_per_min", 59, "caution"),
        ("pulse_per_min", 100, "eligible"),
        ("pulse_per_min", 101, "caution"),
        ("systolic_mmhg", 90, "eligible"),
        ("systolic_mmhg", 89, "caution"),
        ("systolic_mmhg", 140, "eligible"),
        ("systolic_mmhg", 141, "caution"),
        ("diastolic_mmhg", 60, "eligible"),
        ("diastolic_mmhg", 59, "caution"),
        ("diastolic_mmhg", 90, "eligible"),
        ("diastolic_mmhg", 91, "caution"),
        ("respiration_per_min", 25, "eligible"),
        ("respiration_per_min", 26, "caution"),
        ("respiration_per_min", 8, "eligible"),
    ],
)
def test_vital_sign_boundaries(field, value, expected):
    """The limits of 3802 are inclusive: on the limit is normal, one step beyond is `caution`."""
    result, triggers = outcome({field: value})
    assert result == expected
    if expected == "caution":
        assert len(triggers) == 1


@pytest.mark.parametrize(
    ("field", "trigger"),
    [
        ("temperature_c", "temperature"),
        ("pulse_per_min", "pulse"),
        ("systolic_mmhg", "systolic"),
        ("diastolic_mmhg", "diastolic"),
        ("respiration_per_min", "respiration"),
    ],
)
def test_each_abnormal_vital_names_its_trigger(field, trigger):
    """A `caution` outcome names the vital that set it."""
    assert outcome({field: 500}) == ("caution", [trigger])


def test_several_abnormal_vitals_stay_caution_and_name_each():
    """Many abnormal vitals are still `caution`, with one trigger each."""
    result, triggers = outcome({"temperature_c": 38.2, "pulse_per_min": 120, "respiration_per_min": 30})
    assert result == "caution"
    assert triggers == ["temperature", "pulse", "respiration"]


@pytest.mark.parametrize("reason", ["covid_within_6_months", "acute_illness", "pregnant_under_13_weeks"])
def test_delay_reasons(reason):
    """COVID-19 within 6 months, acute illness and early pregnancy each delay the dose."""
    assert outcome(answers={reason: True}) == ("delay", [reason])


def test_false_answers_are_no_trigger():
    """An answer given as False counts as no."""
    assert outcome(answers={"acute_illness": False, "contraindication": False}) == ("eligible", [])


def test_delay_beats_caution():
    """A delay reason with a fever is `delay`, and both are recorded as triggers."""
    result, triggers = outcome({"temperature_c": 38.5}, {"acute_illness": True})
    assert result == "delay"
    assert set(triggers) == {"acute_illness", "temperature"}


def test_needs_hospital_is_referral():
    """A person who needs hospital care is referred."""
    assert outcome(answers={"needs_hospital": True}) == ("refer_to_hospital", ["needs_hospital"])


@pytest.mark.parametrize("answer", ["anaphylaxis_to_previous_dose", "contraindication"])
def test_contraindication_beats_everything(answer):
    """A contraindication wins over referral, delay reasons and abnormal vitals."""
    answers = {
        answer: True,
        "needs_hospital": True,
        "covid_within_6_months": True,
        "acute_illness": True,
        "pregnant_under_13_weeks": True,
    }
    result, triggers = outcome({"temperature_c": 39.0, "pulse_per_min": 140}, answers)
    assert result == "contraindicated"
    assert triggers[0] == "contraindication"


def test_severity_orders_every_screening_outcome():
    """Every outcome the ledger accepts has a severity, eligible the least and contraindicated the most."""
    assert set(OUTCOME_SEVERITY) == set(SCREENING_OUTCOMES)
    assert min(OUTCOME_SEVERITY, key=OUTCOME_SEVERITY.get) == "eligible"
    assert max(OUTCOME_SEVERITY, key=OUTCOME_SEVERITY.get) == "contraindicated"


def test_screening_policy_and_its_validity():
    """The 3802 policy is in force, a screening is valid 24 hours, observation is 30 or 60 minutes."""
    policy = screening_policy_on(date(2021, 10, 1))
    assert policy is SCREENING_3802
    assert policy.valid_hours == 24
    assert policy.observation_minutes == (30, 60)


vitals = st.fixed_dictionaries(
    {},
    optional={
        "temperature_c": st.floats(min_value=30, max_value=43, allow_nan=False),
        "pulse_per_min": st.integers(min_value=20, max_value=220),
        "systolic_mmhg": st.integers(min_value=50, max_value=250),
        "diastolic_mmhg": st.integers(min_value=30, max_value=150),
        "respiration_per_min": st.integers(min_value=5, max_value=60),
    },
)
answers = st.fixed_dictionaries(
    {},
    optional={
        k: st.booleans()
        for k in (
            "anaphylaxis_to_previous_dose",
            "contraindication",
            "needs_hospital",
            "covid_within_6_months",
            "acute_illness",
            "pregnant_under_13_weeks",
        )
    },
)


@given(vitals, answers)
def test_outcome_is_eligible_exactly_when_nothing_triggers(v, a):
    """The outcome is `eligible` if and only if no trigger fired."""
    result, triggers = derived_outcome(SCREENING_3802, v, a)
    assert result in OUTCOME_SEVERITY
    assert (result == "eligible") == (triggers == [])


@given(vitals, answers, answers)
def test_more_yes_answers_never_lower_the_outcome(v, a, extra):
    """Answering yes to more questions can only make the outcome stricter."""
    more = {k: a.get(k, False) or extra.get(k, False) for k in {*a, *extra}}
    before, _ = derived_outcome(SCREENING_3802, v, a)
    after, _ = derived_outcome(SCREENING_3802, v, more)
    assert OUTCOME_SEVERITY[after] >= OUTCOME_SEVERITY[before]


@given(vitals)
def test_vitals_alone_never_go_beyond_caution(v):
    """Vital signs alone can raise the outcome to `caution`, never to `delay` or beyond."""
    result, _ = derived_outcome(SCREENING_3802, v, {})
    assert result in ("eligible", "caution")
