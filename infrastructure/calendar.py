"""The deployment's working calendar: China's public holidays and make-up
working days from the ``holidays`` package, adjusted by a local file.

The file is plain text, one date a line: ``+2026-05-06`` makes a day a
working day, ``-2026-05-06`` makes it a day off; ``#`` starts a comment.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import holidays

from domain.calendar import DeadlinePolicy, TimeLimit, WorkingCalendar
from infrastructure.settings import Settings


def load_calendar(
    holiday_file: Path | None, timezone: str = "Asia/Shanghai", years: range | None = None
) -> WorkingCalendar:
    years = years or range(2020, date.today().year + 3)
    china = holidays.China(years=years)
    days_off = set(china.keys())
    working = set(china.weekend_workdays)
    if holiday_file is not None:
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
    return WorkingCalendar.of(days_off, working, timezone)


def deadline_policy(settings: Settings) -> DeadlinePolicy:
    return DeadlinePolicy(
        respond={k: TimeLimit.parse(v) for k, v in settings.respond_limits.items()},
        resolve={k: TimeLimit.parse(v) for k, v in settings.resolve_limits.items()},
        calendar=load_calendar(settings.holiday_file, settings.timezone),
    )
