"""How projections store a moment from the log: its UTC text and its local calendar day, as the
domain counts days (`local_day`), whatever offset the moment was written with."""

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.person import local_day
from projections.base import utc_text, utc_text_and_day

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5)),
                                                  timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=14)),
                                                  timezone(timedelta(hours=-12))]))


@given(moments)
def test_a_moment_gives_its_utc_text_and_the_local_day_of_its_instant(moment: datetime) -> None:
    text = moment.isoformat()
    utc = moment.astimezone(UTC).isoformat()
    assert utc_text_and_day(text) == (utc, local_day(moment))
    assert utc_text(text) == utc


def test_the_local_day_turns_at_17_00_utc() -> None:
    assert utc_text_and_day("2021-08-01T16:59:59.999999+00:00")[1].isoformat() == "2021-08-01"
    assert utc_text_and_day("2021-08-01T17:00:00+00:00")[1].isoformat() == "2021-08-02"
    assert utc_text_and_day("2021-12-31T23:30:00+00:00")[1].isoformat() == "2022-01-01"


def test_a_local_moment_is_shifted_to_utc_and_keeps_its_local_day() -> None:
    assert utc_text_and_day("2021-08-02T06:59:00+07:00") == ("2021-08-01T23:59:00+00:00",
                                                              utc_text_and_day("2021-08-02T00:00:00+00:00")[1])
    assert utc_text_and_day("2021-08-02T06:59:00.250000+07:00")[0] == "2021-08-01T23:59:00.250000+00:00"
    assert str(utc_text_and_day("2021-08-02T06:59:00+07:00")[1]) == "2021-08-02"
