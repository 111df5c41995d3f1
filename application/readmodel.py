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
from typing import Any
from uuid import UUID

from domain.actor import ROLE_LABELS_ZH

Row = dict[str, Any]

_ROLE_ZH = {str(role): label for role, label in ROLE_LABELS_ZH.items()}
_COMMON = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def utc_text(moment: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so that text order is time order in every store."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def plain(value: Any) -> Any:
    """An event attribute as JSON-ready data."""
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


def event_data(event: Any) -> Row:
    return {f.name: plain(getattr(event, f.name)) for f in fields(event) if f.name not in _COMMON}


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


def case_type_of(event: Any) -> CaseType | None:
    for case_type in CASE_TYPES:
        if isinstance(event, case_type.aggregate.Event):
            return case_type
    return None


_EVALUATION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}


def history_entry(event: Any, position: int, case_type: str) -> Row:
    """One line of a case's audit trail, with summaries in zh-CN and English."""
    data = event_data(event)
    name = event_name(event)
    zh, en = summaries(name, data)
    role = data.pop("actor_role", None)
    actor = data.pop("actor_id", None)
    return {
        "case_id": str(event.originator_id),
        "case_type": case_type,
        "position": position,
        "version": event.originator_version,
        "event_type": type(event).__name__,
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
    values = _Missing(
        data,
        within_zh="在时限内" if within else "超时",
        within_en="within the limit" if within else "late",
        evaluation_zh=_EVALUATION_ZH.get(data.get("evaluation") or "", ""),
        comment_zh=f"：{comment}" if comment else "",
        comment_en=f": {comment}" if comment else "",
    )
    return zh.format_map(values), en.format_map(values)


class _Missing(dict[str, Any]):
    def __init__(self, data: Row, **extra: Any) -> None:
        super().__init__({**data, **extra})

    def __missing__(self, key: str) -> str:
        return "-"
