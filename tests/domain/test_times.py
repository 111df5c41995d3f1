"""The sane range of a client's times and days (domain/times.py), and the
visit's rules that rest on it. No I/O.

Found by an audit: times near the ends of Python's datetime range were valid
ISO 8601 and accepted, and converting them (to UTC for the views, to local
time for the calendar and a visit's day) raised OverflowError: a 500, or an
event that stopped the views for good.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from domain.actor import Actor, Role
from domain.calendar import WorkingCalendar
from domain.errors import InvalidValue
from domain.times import (
    EARLIEST,
    END,
    FIRST_DAY,
    FIRST_YEAR,
    LAST_DAY,
    LAST_YEAR,
    MAX_EXTENSION,
    VISIT_CLOCK_SKEW,
    client_day,
    client_time,
)
from domain.visit import HouseholdVisit

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
COMPOUND = uuid4()
GRID = Actor("grid-1", Role.GRID_WORKER, frozenset({COMPOUND}))

# The audit's poisonous inputs: each overflows when converted to UTC or to Shanghai.
POISONOUS = [
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:00:00-14:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00+00:00",
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ----- the range -----------------------------------------------------------------------


def test_the_range_is_the_years_2000_to_2199_in_utc() -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (2000, 2199)
    assert EARLIEST == datetime(2000, 1, 1, tzinfo=UTC)
    assert END == datetime(2200, 1, 1, tzinfo=UTC)
    assert (FIRST_DAY, LAST_DAY) == (date(2000, 1, 1), date(2199, 12, 31))


@pytest.mark.parametrize("text", POISONOUS)
def test_a_time_near_the_ends_of_the_datetime_range_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        client_time("resolve_due", at(text))
    assert refused.value.field == "resolve_due"
    assert "2000 to 2199" in refused.value.message


@pytest.mark.parametrize(
    "text",
    [
        "2000-01-01T00:00:00+00:00",
        "2000-01-01T08:00:00+08:00",
        "2199-12-31T23:59:59.999999+00:00",
        "2199-12-31T11:59:59-12:00",
        "2026-03-10T19:00:00+08:00",
    ],
)
def test_a_time_inside_the_range_is_returned_as_given(text: str) -> None:
    checked = client_time("meets_at", at(text))
    assert checked == at(text)
    assert checked.utcoffset() == at(text).utcoffset()  # the client's offset is kept


@pytest.mark.parametrize(
    "text",
    [
        "1999-12-31T23:59:59.999999+00:00",
        "2000-01-01T07:59:59+08:00",
        "2200-01-01T00:00:00+00:00",
        "2199-12-31T23:00:00-05:00",
    ],
)
def test_the_range_is_judged_in_utc(text: str) -> None:
    """2000-01-01T07:59+08:00 is 1999 in UTC; 2199-12-31T23:00-05:00 is 2200."""
    with pytest.raises(InvalidValue):
        client_time("meets_at", at(text))


@pytest.mark.parametrize(
    "value", [datetime(2026, 3, 10, 19, 0), date(2026, 3, 10), "2026-03-10", None]
)
def test_a_time_must_be_an_aware_datetime(value: object) -> None:
    with pytest.raises(InvalidValue) as refused:
        client_time("meets_at", value)
    assert refused.value.field == "meets_at"


def test_every_zone_converts_a_time_of_the_range_without_overflow() -> None:
    """The margin the range leaves: its ends convert to any offset, and a year
    and many working days can be added to them."""
    calendar = WorkingCalendar.of()
    for moment in (EARLIEST, END - timedelta(microseconds=1)):
        for hours in (-12, 14):
            moment.astimezone(timezone(timedelta(hours=hours)))
        moment.astimezone(SHANGHAI)
        calendar.add_working_days(moment + MAX_EXTENSION, 60)


@pytest.mark.parametrize(
    "value", [date(1, 1, 1), date(1999, 12, 31), date(2200, 1, 1), date(9999, 12, 31)]
)
def test_a_day_outside_the_range_is_refused(value: date) -> None:
    with pytest.raises(InvalidValue) as refused:
        client_day("due_on", value)
    assert refused.value.field == "due_on"
    assert "2000 to 2199" in refused.value.message


@pytest.mark.parametrize("value", [datetime(2026, 3, 10, tzinfo=UTC), "2026-03-10", None])
def test_a_day_must_be_a_date(value: object) -> None:
    with pytest.raises(InvalidValue):
        client_day("due_on", value)


def test_a_day_inside_the_range_is_returned() -> None:
    assert client_day("due_on", FIRST_DAY) == FIRST_DAY
    assert client_day("due_on", LAST_DAY) == LAST_DAY


# ----- a household visit ----------------------------------------------------------------


def record(visited_at: datetime) -> HouseholdVisit:
    return HouseholdVisit.record(
        by=GRID,
        compound_id=COMPOUND,
        building_id=uuid4(),
        household_id=uuid4(),
        visited_at=visited_at,
        timezone=SHANGHAI,
        now=NOW,
    )


@pytest.mark.parametrize("text", POISONOUS)
def test_a_visit_at_a_poisonous_time_is_refused_naming_the_field(text: str) -> None:
    """0001-01-01T00:00:00+05:00 raised OverflowError converting to Shanghai."""
    with pytest.raises(InvalidValue) as refused:
        record(at(text))
    assert refused.value.field == "visited_at"


def test_a_visit_may_be_a_little_ahead_of_the_server_clock() -> None:
    visit = record(NOW + VISIT_CLOCK_SKEW)
    assert visit.visited_on == "2026-03-02"


def test_a_visit_in_the_future_is_refused() -> None:
    with pytest.raises(InvalidValue) as refused:
        record(NOW + VISIT_CLOCK_SKEW + timedelta(seconds=1))
    assert refused.value.field == "visited_at"
    assert "future" in refused.value.message


def test_a_past_visit_may_be_recorded_however_long_ago_within_the_range() -> None:
    """Paper records of earlier months are brought in when a compound joins."""
    assert record(datetime(2000, 1, 1, tzinfo=UTC)).visited_at == datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidValue) as refused:
        record(datetime(1999, 12, 31, 23, 59, tzinfo=UTC))
    assert refused.value.field == "visited_at"


def test_a_visit_needs_an_offset() -> None:
    with pytest.raises(InvalidValue) as refused:
        record(datetime(2026, 3, 1, 10, 0))
    assert refused.value.field == "visited_at"


def test_a_visit_s_day_is_the_local_day() -> None:
    assert record(at("2026-03-01T17:00:00+00:00")).visited_on == "2026-03-02"
