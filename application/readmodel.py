"""The read side's shared vocabulary: rows, timestamps, the registry of case
types and the audit trail's entries.

Each aggregate module registers a ``CaseType``: how its events change its
case row, and which other cases' trails show its events. The view tables of
every store apply the same functions, so a view and a fresh replay of the
events can only agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any
from uuid import UUID

from domain.actor import ROLE_LABELS_ZH

Row = dict[str, Any]

_ROLE_ZH = {str(role): label for role, label in ROLE_LABELS_ZH.items()}
_COMMON = {"originator_id", "originator_version", "timestamp", "originator_topic"}


# The last moment formatted and its text (one tuple, so that threads read a pair).
_last_text: tuple[datetime | None, str] = (None, "")


def utc_text(moment: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so that text order is time order in every store."""
    global _last_text
    if moment is None:
        return None
    last = _last_text
    if last[0] is moment:  # the event's timestamp, for its row and then its trail entry
        return last[1]
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # isoformat is the strftime "%Y-%m-%dT%H:%M:%S.%f+00:00" of a UTC moment, at a
    # fraction of its cost (the read side formats two or three per event).
    text = utc.isoformat(timespec="microseconds")
    _last_text = (moment, text)
    return text


# Values that ``plain`` hands back as they are (exact types: a StrEnum goes the long way).
_AS_IS = frozenset({str, int, bool, float, type(None)})


def plain(value: Any) -> Any:
    """An event attribute as JSON-ready data."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


# Per event class: the names of its own fields, in declaration order, and a getter of them.
_DATA_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], Any]]] = {}


def _data_fields(cls: type) -> tuple[tuple[str, ...], Callable[[Any], Any]]:
    found = _DATA_FIELDS.get(cls)
    if found is None:
        names = tuple(f.name for f in fields(cls) if f.name not in _COMMON)
        if len(names) == 1:
            one = attrgetter(names[0])
            found = (names, lambda event: (one(event),))
        elif names:
            found = (names, attrgetter(*names))
        else:
            found = (names, lambda event: ())
        _DATA_FIELDS[cls] = found
    return found


def event_data(event: Any) -> Row:
    names, values = _data_fields(type(event))
    return dict(zip(names, map(plain, values(event)), strict=True))


def event_name(event: Any) -> str:
    """``Need.Accepted``: the aggregate and the event, as the trail and summaries name them."""
    return type(event).__qualname__


@dataclass(frozen=True)
class CaseType:
    """How one aggregate's events become its case row.

    ``project(row, event, position)`` returns the new row (``row`` is None
    before the first event); the row has at least ``id``, ``compound_id`` and
    ``status``. ``related(event, row)`` names other cases whose audit trail
    shows the event too (a consultation's events on its needs' trails).
    """

    name: str
    aggregate: type
    project: Callable[[Row | None, Any, int], Row]
    related: Callable[[Any, Row], list[str]] = lambda event, row: []


CASE_TYPES: list[CaseType] = []

# Summary templates, zh-CN and English, by event name; ``{field}`` is the
# event's field of that name, and helpers below add a few computed ones.
SUMMARIES: dict[str, tuple[str, str]] = {}


def register_case_type(case_type: CaseType, summaries: dict[str, tuple[str, str]]) -> None:
    if any(c.name == case_type.name for c in CASE_TYPES):
        return
    CASE_TYPES.append(case_type)
    SUMMARIES.update(summaries)
    _CASE_TYPE_OF.clear()


_CASE_TYPE_OF: dict[type, CaseType | None] = {}


def case_type_of(event: Any) -> CaseType | None:
    cls = type(event)
    try:
        return _CASE_TYPE_OF[cls]
    except KeyError:
        pass
    found = None
    for case_type in CASE_TYPES:
        if isinstance(event, case_type.aggregate.Event):
            found = case_type
            break
    _CASE_TYPE_OF[cls] = found
    return found


_EVALUATION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


def history_entry(event: Any, position: int, case_type: str, case_id: str | None = None) -> Row:
    """One line of a case's audit trail, with summaries in zh-CN and English.

    ``case_id`` is ``str(event.originator_id)``, when the caller has it already."""
    cls = type(event)
    data = event_data(event)
    name = cls.__qualname__
    zh, en = summaries(name, data)
    role = data.pop("actor_role", None)
    actor = data.pop("actor_id", None)
    return {
        "case_id": str(event.originator_id) if case_id is None else case_id,
        "case_type": case_type,
        "position": position,
        "version": event.originator_version,
        "event_type": cls.__name__,
        "event": name,
        "actor_id": actor,
        "actor_role": role,
        "actor_role_zh": _ROLE_ZH.get(role or "", role),
        "occurred_at": utc_text(event.timestamp),
        "reason": data.get("reason"),
        "summary_zh": zh,
        "summary_en": en,
        "data": data,
    }


def summaries(name: str, data: Row) -> tuple[str, str]:
    zh, en = SUMMARIES.get(name, (name, name))
    within = data.get("within_limit")
    comment = data.get("comment")
    values = _Missing(data)
    values["within_zh"] = "在时限内" if within else "超时"
    values["within_en"] = "within the limit" if within else "late"
    values["evaluation_zh"] = _EVALUATION_ZH.get(data.get("evaluation") or "", "")
    values["comment_zh"] = f"：{comment}" if comment else ""
    values["comment_en"] = f": {comment}" if comment else ""
    return zh.format_map(values), en.format_map(values)


class _Missing(dict[str, Any]):
    """The event's fields and the computed ones; "-" for any other."""

    def __missing__(self, key: str) -> str:
        return "-"
