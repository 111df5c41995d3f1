"""Working days and time limits (时限).

Pure logic: the set of public holidays and of make-up working days (调休) is
given to the calendar by the infrastructure, which reads it from the
``holidays`` package and the deployment's own file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.errors import InvalidValue


@dataclass(frozen=True)
class WorkingCalendar:
    """Decides which days are working days in the deployment's time zone."""

    holidays: frozenset[date]
    make_up_working_days: frozenset[date]
    timezone: ZoneInfo = ZoneInfo("Asia/Shanghai")

    @classmethod
    def of(
        cls,
        holidays: Iterable[date] = (),
        make_up_working_days: Iterable[date] = (),
        timezone: str = "Asia/Shanghai",
    ) -> WorkingCalendar:
        return cls(frozenset(holidays), frozenset(make_up_working_days), ZoneInfo(timezone))

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_working_days:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time on the ``days``-th working day after ``start``'s date.

        ``start`` is a time of the domain's sane range (``domain/times.py``), far
        enough from the ends of the datetime range for the conversions to the
        local zone and back never to overflow.
        """
        local = start.astimezone(self.timezone)
        day = local.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range (start, end]."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


_LIMIT = re.compile(r"^\s*(\d+)\s*(h|wd)\s*$")


@dataclass(frozen=True)
class TimeLimit:
    """A limit of clock hours (``2h``) or working days (``3wd``)."""

    amount: int
    unit: str  # "h" or "wd"

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        match = _LIMIT.match(text)
        if not match:
            raise InvalidValue("time_limit", f"'{text}' is not like '2h' or '3wd'")
        amount = int(match.group(1))
        if amount <= 0:
            raise InvalidValue("time_limit", f"'{text}' must be positive")
        return cls(amount, match.group(2))

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        if self.unit == "h":
            return start + timedelta(hours=self.amount)
        return calendar.add_working_days(start, self.amount)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class DeadlinePolicy:
    """Response and resolution limits per priority, and the working calendar."""

    respond: dict[str, TimeLimit]
    resolve: dict[str, TimeLimit]
    calendar: WorkingCalendar

    def respond_due(self, priority: str, start: datetime) -> datetime:
        return self.respond[priority].due(start, self.calendar)

    def resolve_due(self, priority: str, start: datetime) -> datetime:
        return self.resolve[priority].due(start, self.calendar)


DEFAULT_RESPOND_LIMITS = {"urgent": "2h", "normal": "1wd", "low": "3wd"}
DEFAULT_RESOLVE_LIMITS = {"urgent": "1wd", "normal": "5wd", "low": "13wd"}
