"""The deployment's working calendar: China's public holidays and make-up
working days from the ``holidays`` package, adjusted by a local file.

The file is plain text, one date a line: ``+2026-05-06`` makes a day a
working day, ``-2026-05-06`` makes it a day off; ``#`` starts a comment.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from domain.calendar import DeadlinePolicy, TimeLimit, WorkingCalendar, YearDays
from infrastructure.settings import Settings

log = logging.getLogger(__name__)


def load_calendar(holiday_file: Path | None, timezone: str = "Asia/Shanghai") -> WorkingCalendar:
    """China's calendar for any year, each year read from the ``holidays``
    package when first needed, with the local file's changes on top. A year
    the package does not cover counts its weekdays as working days (and its
    statutory holidays are not known): the first such year is logged."""
    local_on, local_off = _local_changes(holiday_file) if holiday_file else (set(), set())
    china = holidays.China(years=[])
    first, last = china.start_year, china.end_year

    def days_of_year(year: int) -> YearDays:
        if first <= year <= last:
            known = holidays.China(years=[year])
            days_off = {d for d in known if d.year == year}
            working = {d for d in known.weekend_workdays if d.year == year}
        else:
            _unknown_year(year)
            days_off, working = set(), set()
        days_off = (days_off | {d for d in local_off if d.year == year}) - local_on
        working = (working | {d for d in local_on if d.year == year}) - local_off
        return frozenset(days_off), frozenset(working)

    return WorkingCalendar(days_of_year, ZoneInfo(timezone))


_warned: set[str] = set()


def _unknown_year(year: int) -> None:
    if "unknown year" not in _warned:
        _warned.add("unknown year")
        log.warning(
            "the holidays package knows China's calendar up to %d only: in %d and later "
            "years every weekday counts as a working day (add days off in LINLI_HOLIDAY_FILE)",
            holidays.China(years=[]).end_year,
            year,
        )


def _local_changes(holiday_file: Path) -> tuple[set[date], set[date]]:
    """The file's working days (+) and days off (-)."""
    working: set[date] = set()
    days_off: set[date] = set()
    for number, line in enumerate(holiday_file.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        sign, day_text = text[0], text[1:].strip()
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise ValueError(f"{holiday_file}:{number}: '{text}' is not a date") from None
        if sign == "+":
            working.add(day)
            days_off.discard(day)
        elif sign == "-":
            days_off.add(day)
            working.discard(day)
        else:
            raise ValueError(f"{holiday_file}:{number}: start the line with + or -")
    return working, days_off


def deadline_policy(settings: Settings) -> DeadlinePolicy:
    def limits(texts: dict[str, str] | None) -> dict[str, TimeLimit] | None:
        return None if texts is None else {k: TimeLimit.parse(v) for k, v in texts.items()}

    return DeadlinePolicy(
        respond=limits(settings.respond_limits),  # type: ignore[arg-type]
        resolve=limits(settings.resolve_limits),  # type: ignore[arg-type]
        calendar=load_calendar(settings.holiday_file, settings.timezone),
        redo_respond=limits(settings.redo_respond_limits),
        redo_resolve=limits(settings.redo_resolve_limits),
    )
