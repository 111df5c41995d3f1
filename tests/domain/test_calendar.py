"""Working days, time limits and the deployment's holiday calendar.

Two calendars: a hand-made one (explicit holidays and make-up days) and the
real China calendar as the infrastructure loads it from the ``holidays``
package. The facts checked against the real one come from DESIGN 2.1 and
the State Council's published arrangements (checked day by day below).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import (
    DEFAULT_RESOLVE_LIMITS,
    DEFAULT_RESPOND_LIMITS,
    DeadlinePolicy,
    TimeLimit,
    WorkingCalendar,
)
from domain.errors import InvalidValue
from infrastructure.calendar import load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def days(start: date, end: date) -> list[date]:
    """Every day from start to end, both included."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def at(y: int, m: int, d: int, hour: int = 10, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=tz)


# A hand-made National Day: Thursday 1 to Wednesday 7 October 2026 off;
# Sunday 20 September and Saturday 10 October worked instead.
NATIONAL_DAY = days(date(2026, 10, 1), date(2026, 10, 7))
HAND_MADE = WorkingCalendar.of(
    holidays=NATIONAL_DAY, make_up_working_days=[date(2026, 9, 20), date(2026, 10, 10)]
)


@pytest.fixture(scope="module")
def china() -> WorkingCalendar:
    return load_calendar(None)


# ----- a hand-made calendar ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 9, 28), True),  # Monday
        (date(2026, 9, 30), True),  # Wednesday
        (date(2026, 10, 1), False),  # Thursday, holiday
        (date(2026, 10, 5), False),  # Monday, holiday
        (date(2026, 10, 7), False),  # Wednesday, holiday
        (date(2026, 10, 8), True),  # Thursday
        (date(2026, 10, 10), True),  # Saturday, make-up working day
        (date(2026, 10, 11), False),  # Sunday
        (date(2026, 10, 17), False),  # an ordinary Saturday
        (date(2026, 9, 20), True),  # Sunday, make-up working day
    ],
)
def test_hand_made_calendar_working_days(day: date, working: bool) -> None:
    assert HAND_MADE.is_working_day(day) is working


def test_plain_calendar_has_only_weekends_off() -> None:
    plain = WorkingCalendar.of()
    week = days(date(2026, 3, 2), date(2026, 3, 8))  # Monday to Sunday

    assert [plain.is_working_day(d) for d in week] == [True] * 5 + [False] * 2


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Wednesday before the holiday week: the next working day is 8 October.
        (at(2026, 9, 30), 1, at(2026, 10, 8)),
        (at(2026, 9, 30), 2, at(2026, 10, 9)),
        # ... and the third is the make-up Saturday.
        (at(2026, 9, 30), 3, at(2026, 10, 10)),
        (at(2026, 9, 30), 4, at(2026, 10, 12)),
        # Accepted on a holiday: counts from the next working day.
        (at(2026, 10, 3), 1, at(2026, 10, 8)),
        # Across an ordinary weekend.
        (at(2026, 10, 16), 1, at(2026, 10, 19)),
        (at(2026, 10, 16), 5, at(2026, 10, 23)),
        # Friday before the make-up Sunday 20 September.
        (at(2026, 9, 18), 1, at(2026, 9, 20)),
        (at(2026, 9, 18, 23), 0, at(2026, 9, 18, 23)),
    ],
)
def test_hand_made_add_working_days(start: datetime, n: int, expected: datetime) -> None:
    assert HAND_MADE.add_working_days(start, n) == expected


def test_add_working_days_keeps_local_time_and_the_callers_zone() -> None:
    # 20:00 UTC on 30 September is already 1 October, 04:00, in Shanghai.
    start = datetime(2026, 9, 30, 20, 0, tzinfo=UTC)

    due = HAND_MADE.add_working_days(start, 1)

    assert due == at(2026, 10, 8, 4)
    assert due.tzinfo == UTC
    assert due == datetime(2026, 10, 7, 20, 0, tzinfo=UTC)


def test_working_days_between_is_half_open() -> None:
    assert HAND_MADE.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert HAND_MADE.working_days_between(date(2026, 9, 30), date(2026, 10, 7)) == 0
    assert HAND_MADE.working_days_between(date(2026, 10, 9), date(2026, 10, 12)) == 2
    assert HAND_MADE.working_days_between(date(2026, 10, 12), date(2026, 10, 12)) == 0


# ----- the real China calendar ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 28), True),  # Sunday, make-up working day (DESIGN 2.1)
        (date(2026, 2, 14), True),  # Saturday, make-up working day (DESIGN 2.1)
        (date(2026, 10, 1), False),  # National Day (DESIGN 2.1)
        (date(2025, 9, 27), False),  # an ordinary Saturday
        (date(2026, 2, 17), False),  # Spring Festival, a Tuesday
        (date(2026, 3, 4), True),  # an ordinary Wednesday
    ],
)
def test_china_calendar_checked_facts(china: WorkingCalendar, day: date, working: bool) -> None:
    assert china.is_working_day(day) is working


def test_china_national_day_week_2026_is_off(china: WorkingCalendar) -> None:
    for day in days(date(2026, 10, 1), date(2026, 10, 7)):
        assert not china.is_working_day(day), day
    assert china.is_working_day(date(2026, 9, 30))
    assert china.is_working_day(date(2026, 10, 8))


def test_china_add_one_working_day_across_national_day(china: WorkingCalendar) -> None:
    start = at(2026, 9, 30)

    due = china.add_working_days(start, 1)

    assert due == at(2026, 10, 8)
    # The result agrees with the calendar: every day in between is off.
    assert china.is_working_day(due.date())
    for day in days(date(2026, 10, 1), due.date() - timedelta(days=1)):
        assert not china.is_working_day(day), day


def test_china_make_up_saturday_counts(china: WorkingCalendar) -> None:
    # Saturday 10 October 2026 is worked after the National Day week.
    assert date(2026, 10, 10).weekday() == 5
    assert china.is_working_day(date(2026, 10, 10))
    assert china.add_working_days(at(2026, 10, 9), 1) == at(2026, 10, 10)
    # Friday 13 February 2026 + 1 working day is Saturday 14 February.
    assert china.add_working_days(at(2026, 2, 13), 1) == at(2026, 2, 14)
    # Friday 26 September 2025 + 1 working day is Sunday 28 September.
    assert china.add_working_days(at(2025, 9, 26), 1) == at(2025, 9, 28)


def test_china_spring_festival_is_skipped(china: WorkingCalendar) -> None:
    # Saturday 14 February 2026 (worked) + 1 working day: the holiday runs
    # from Sunday 15 to Monday 23 February.
    due = china.add_working_days(at(2026, 2, 14), 1)

    assert due == at(2026, 2, 24)
    for day in days(date(2026, 2, 15), date(2026, 2, 23)):
        assert not china.is_working_day(day), day


def test_china_across_an_ordinary_weekend(china: WorkingCalendar) -> None:
    assert not china.is_working_day(date(2026, 11, 21))
    assert not china.is_working_day(date(2026, 11, 22))

    assert china.add_working_days(at(2026, 11, 20), 1) == at(2026, 11, 23)


# ----- TimeLimit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("2h", 2, "h"),
        ("3wd", 3, "wd"),
        ("13wd", 13, "wd"),
        (" 1 wd ", 1, "wd"),
        ("48h", 48, "h"),
        ("7d", 7, "d"),
        ("30m", 30, "m"),
        ("366d", 366, "d"),
    ],
)
def test_time_limit_parse(text: str, amount: int, unit: str) -> None:
    limit = TimeLimit.parse(text)

    assert (limit.amount, limit.unit) == (amount, unit)
    assert str(limit) == f"{amount}{unit}"


@pytest.mark.parametrize(
    "text",
    [
        "0h", "0wd", "-1wd", "-2h", "abc", "", "2", "wd", "2x", "1.5h", "2 hours", "3WD",
        "0d", "0m", "30s", "367d", "251wd", "8761h", "99999999999h",
    ],
)
def test_time_limit_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        TimeLimit.parse(text)

    assert refused.value.field == "time_limit"


def test_hour_limits_are_clock_hours_even_on_holidays() -> None:
    start = at(2026, 10, 1, 23)  # a holiday, late evening

    assert TimeLimit.parse("2h").due(start, HAND_MADE) == at(2026, 10, 2, 1)


def test_minute_limits_are_elapsed_minutes() -> None:
    start = datetime(2026, 10, 1, 23, 45, tzinfo=SHANGHAI)
    assert TimeLimit.parse("30m").due(start, HAND_MADE) == datetime(2026, 10, 2, 0, 15, tzinfo=SHANGHAI)


def test_calendar_day_limits_count_every_day_holidays_included() -> None:
    """自然日: seven days from a Wednesday evening before the National Day week
    is the next Wednesday evening, the holidays counted like any day."""
    assert TimeLimit.parse("7d").due(at(2026, 9, 30, 20), HAND_MADE) == at(2026, 10, 7, 20)


def test_calendar_days_keep_the_local_time_of_day() -> None:
    """A day is a local day: the deadline is at the same local time (Beijing has
    no daylight saving, so that is the same UTC hour too)."""
    start = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 in Beijing
    assert TimeLimit.parse("1d").due(start, HAND_MADE) == datetime(2027, 1, 1, 15, 59, tzinfo=UTC)


def test_working_day_limits_use_the_calendar() -> None:
    assert TimeLimit.parse("1wd").due(at(2026, 9, 30), HAND_MADE) == at(2026, 10, 8)


def test_default_deadline_policy() -> None:
    policy = DeadlinePolicy(
        respond={k: TimeLimit.parse(v) for k, v in DEFAULT_RESPOND_LIMITS.items()},
        resolve={k: TimeLimit.parse(v) for k, v in DEFAULT_RESOLVE_LIMITS.items()},
        calendar=HAND_MADE,
    )
    start = at(2026, 9, 30)  # Wednesday before the holiday week

    assert {p: str(policy.respond[p]) for p in policy.respond} == {
        "urgent": "2h",
        "normal": "1wd",
        "low": "3wd",
    }
    assert {p: str(policy.resolve[p]) for p in policy.resolve} == {
        "urgent": "1wd",
        "normal": "5wd",
        "low": "13wd",
    }
    assert policy.respond_due("urgent", start) == at(2026, 9, 30, 12)
    assert policy.respond_due("normal", start) == at(2026, 10, 8)
    assert policy.respond_due("low", start) == at(2026, 10, 10)
    assert policy.resolve_due("urgent", start) == at(2026, 10, 8)
    assert policy.resolve_due("normal", start) == at(2026, 10, 13)
    assert policy.resolve_due("low", start) == at(2026, 10, 23)


# ----- the deployment's holiday file ----------------------------------------------------


def test_holiday_file_adds_and_removes_days(tmp_path: Path) -> None:
    holiday_file = tmp_path / "holidays.txt"
    holiday_file.write_text(
        "# local arrangements for 2026\n"
        "\n"
        "+2026-10-05   # the district works this holiday Monday\n"
        "-2026-11-27\n"
        "  # an indented comment\n"
        "- 2026-12-01\n",
        encoding="utf-8",
    )
    real = load_calendar(None)
    assert not real.is_working_day(date(2026, 10, 5))
    assert real.is_working_day(date(2026, 11, 27))

    local = load_calendar(holiday_file)

    assert local.is_working_day(date(2026, 10, 5))
    assert not local.is_working_day(date(2026, 11, 27))
    assert not local.is_working_day(date(2026, 12, 1))
    # Everything else is still the national calendar.
    assert not local.is_working_day(date(2026, 10, 4))
    assert not local.is_working_day(date(2026, 10, 6))
    assert local.is_working_day(date(2026, 10, 10))
    assert local.is_working_day(date(2026, 11, 26))
    # And deadlines follow it: 30 September + 1 working day is now 5 October.
    assert local.add_working_days(at(2026, 9, 30), 1) == at(2026, 10, 5)


def test_national_day_is_a_day_off_in_any_year_the_package_knows() -> None:
    """Years are read when first needed, not two years ahead only: National Day
    2029 is a day off (before, 2029-10-01 counted as a working day)."""
    calendar = load_calendar(None)
    assert not calendar.is_working_day(date(2029, 10, 1))
    assert not calendar.is_working_day(date(2040, 10, 1))
    assert calendar.is_working_day(date(2029, 10, 8))  # a Monday after the week off


def test_a_year_the_package_does_not_know_counts_its_weekdays_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = load_calendar(None)
    with caplog.at_level("WARNING", logger="infrastructure.calendar"):
        assert calendar.is_working_day(date(2150, 10, 1))  # a Thursday
        assert not calendar.is_working_day(date(2150, 10, 4))  # a Sunday
        assert calendar.is_working_day(date(2151, 10, 6))  # a Wednesday
    warnings = [r for r in caplog.records if "every weekday counts" in r.getMessage()]
    assert len(warnings) <= 1  # once per process, whichever calendar met it first


def test_holiday_file_can_cancel_a_make_up_day(tmp_path: Path) -> None:
    holiday_file = tmp_path / "holidays.txt"
    holiday_file.write_text("-2026-10-10\n", encoding="utf-8")

    assert not load_calendar(holiday_file).is_working_day(date(2026, 10, 10))


@pytest.mark.parametrize(
    "bad_line", ["2026-10-05", "*2026-10-05", "+2026-13-01", "+tomorrow", "+"]
)
def test_holiday_file_bad_line_names_the_line(tmp_path: Path, bad_line: str) -> None:
    holiday_file = tmp_path / "holidays.txt"
    holiday_file.write_text(f"# ok\n+2026-10-05\n{bad_line}\n", encoding="utf-8")

    with pytest.raises(ValueError, match=r"holidays\.txt:3\b"):
        load_calendar(holiday_file)
