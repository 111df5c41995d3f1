"""Working days and time limits (时限).

Pure logic: the set of public holidays and of make-up working days (调休) is
given to the calendar by the infrastructure, which reads it from the
``holidays`` package and the deployment's own file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.errors import InvalidValue

# A year's days off and make-up working days (调休).
YearDays = tuple[frozenset[date], frozenset[date]]


@dataclass(frozen=True)
class WorkingCalendar:
    """Decides which days are working days in the deployment's time zone.

    ``days_of_year(year)`` gives a year's days off and make-up working days;
    it is asked once per year, when a day of that year is first looked at, so
    that any year of the domain's range is known without loading them all."""

    days_of_year: Callable[[int], YearDays]
    timezone: ZoneInfo = ZoneInfo("Asia/Shanghai")
    _years: dict[int, YearDays] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls,
        holidays: Iterable[date] = (),
        make_up_working_days: Iterable[date] = (),
        timezone: str = "Asia/Shanghai",
    ) -> WorkingCalendar:
        """A calendar of the given days (and weekends) alone."""
        off, on = frozenset(holidays), frozenset(make_up_working_days)
        return cls(lambda year: (off, on), ZoneInfo(timezone))

    def is_working_day(self, day: date) -> bool:
        known = self._years.get(day.year)
        if known is None:
            known = self._years.setdefault(day.year, self.days_of_year(day.year))
        days_off, make_up = known
        if day in make_up:
            return True
        if day in days_off:
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


_LIMIT = re.compile(r"^\s*(\d+)\s*(m|h|d|wd)\s*$")
# The longest limit of each unit: a year.
LONGEST = {"m": 525_600, "h": 8_760, "d": 366, "wd": 250}


@dataclass(frozen=True)
class TimeLimit:
    """A limit of minutes (``30m``), clock hours (``2h``), calendar days
    (``7d``, 自然日) or working days (``3wd``)."""

    amount: int
    unit: str  # "m", "h", "d" or "wd"

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        match = _LIMIT.match(text)
        if not match:
            raise InvalidValue(
                "time_limit", f"'{text}' is not like '30m', '2h', '7d' or '3wd'"
            )
        amount, unit = int(match.group(1)), match.group(2)
        if amount <= 0:
            raise InvalidValue("time_limit", f"'{text}' must be positive")
        if amount > LONGEST[unit]:
            raise InvalidValue(
                "time_limit",
                f"'{text}' is more than a year; at most "
                + ", ".join(f"{most}{u}" for u, most in LONGEST.items()),
            )
        return cls(amount, unit)

    def due(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        """When the limit runs out for a clock started at ``start``: minutes and
        hours as elapsed time; calendar days at the same local time that many
        days later; working days as ``WorkingCalendar.add_working_days``."""
        if self.unit == "m":
            return start + timedelta(minutes=self.amount)
        if self.unit == "h":
            return start + timedelta(hours=self.amount)
        if self.unit == "d":
            local = start.astimezone(calendar.timezone)
            later = datetime.combine(local.date() + timedelta(days=self.amount), local.timetz())
            return later.astimezone(start.tzinfo)
        return calendar.add_working_days(start, self.amount)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class DeadlinePolicy:
    """Response and resolution limits per priority, and the working calendar."""

    respond: dict[str, TimeLimit]
    resolve: dict[str, TimeLimit]
    calendar: WorkingCalendar
    # A redo's own limits (重办), where a deployment sets them; else the priority's.
    redo_respond: dict[str, TimeLimit] | None = None
    redo_resolve: dict[str, TimeLimit] | None = None

    def respond_due(self, priority: str, start: datetime) -> datetime:
        return self.respond[priority].due(start, self.calendar)

    def resolve_due(self, priority: str, start: datetime) -> datetime:
        return self.resolve[priority].due(start, self.calendar)

    def episode_dues(
        self, priority: str, start: datetime, *, redo: bool = False
    ) -> tuple[datetime, datetime]:
        """The response and resolution deadlines of a party's episode that starts
        at ``start``: the priority's limits, or a redo's own where set."""
        respond = (self.redo_respond if redo and self.redo_respond else self.respond)[priority]
        resolve = (self.redo_resolve if redo and self.redo_resolve else self.resolve)[priority]
        return respond.due(start, self.calendar), resolve.due(start, self.calendar)


DEFAULT_RESPOND_LIMITS = {"urgent": "2h", "normal": "1wd", "low": "3wd"}
DEFAULT_RESOLVE_LIMITS = {"urgent": "1wd", "normal": "5wd", "low": "13wd"}
