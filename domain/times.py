"""Times and dates a client gives: the one range every one of them must lie in.

A client's time (a deadline, a visit, a meeting) is stored in an event and
read back for as long as the log lives; the views turn it into UTC text and
the calendar into local time. A moment near the ends of Python's datetime
range (``0001-01-01T00:00:00+14:00``, ``9999-12-31T23:00:00-05:00``) is valid
ISO 8601 but cannot be converted, and one stored event of that kind stopped
every view for good. So every time a client gives passes through
:func:`client_time` before a command records it, and every day through
:func:`client_day`: it must carry a UTC offset and lie, in UTC, in
years :data:`FIRST_YEAR` through :data:`LAST_YEAR`.

The range is far wider than any case needs (the specific rules, such as a
visit's not being in the future, are narrower) and far from the
ends of the datetime range, so that conversions to any zone (UTC-12 to
UTC+14) and adding a year or a few hundred working days never overflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.errors import InvalidValue

# The sane range of a client's time, in UTC: 2000-01-01T00:00Z up to, not
# including, 2200-01-01T00:00Z.
FIRST_YEAR = 2000
LAST_YEAR = 2199
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)  # exclusive
# The same range for calendar days (a due date, a query's first or last day).
FIRST_DAY = date(FIRST_YEAR, 1, 1)
LAST_DAY = date(LAST_YEAR, 12, 31)

# A resolution deadline moves at most this far past the current one at a time
# (a year; 366 days so that the same date a year later is allowed in a leap year).
MAX_EXTENSION = timedelta(days=366)
# A visit is not in the future beyond the clock skew between a grid worker's
# phone and the server. Past visits may be recorded however old (within the
# sane range): a compound that joins brings its paper records of earlier months.
VISIT_CLOCK_SKEW = timedelta(minutes=5)

RANGE_TEXT = f"years {FIRST_YEAR} to {LAST_YEAR} (UTC)"


def in_range(moment: datetime) -> bool:
    """Whether an aware time lies in the sane range."""
    return EARLIEST <= moment < END


def client_time(field: str, value: object) -> datetime:
    """A client's time, checked: aware, and in the sane range once in UTC.

    Returned as given (with the client's offset); raises :class:`InvalidValue`
    naming ``field`` otherwise.
    """
    if not isinstance(value, datetime):
        raise InvalidValue(field, "must be a date and time with a UTC offset")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(field, "must carry a UTC offset")
    # Comparing aware datetimes never overflows (converting them can).
    if not in_range(value):
        raise InvalidValue(
            field, f"{value.isoformat()} is out of range: it must lie in {RANGE_TEXT}"
        )
    return value


def client_day(field: str, value: object) -> date:
    """A client's calendar day, checked: a date (not a datetime) in the sane range."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise InvalidValue(field, "must be a date")
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InvalidValue(
            field,
            f"{value.isoformat()} is out of range: "
            f"it must lie in years {FIRST_YEAR} to {LAST_YEAR}",
        )
    return value
