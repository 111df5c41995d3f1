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
from string import Formatter
from typing import Any
from uuid import UUID

from domain.actor import ROLE_LABELS_ZH

Row = dict[str, Any]

_ROLE_ZH = {str(role): label for role, label in ROLE_LABELS_ZH.items()}
_COMMON = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def utc_text(moment: datetime | None) -> str | None:
    """A fixed-width UTC timestamp, so that text order is time order in every store:
    ``strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")`` of the moment in UTC, as
    ``isoformat`` writes it at a fraction of strftime's cost. (A memo of each
    second's text was slower as soon as the moments spread over many seconds,
    as a decade's log does: 5.3 against 1.8 us a call, and saved 0.4 us at best.)"""
    if moment is None:
        return None
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")


# Ids written lately, by value: a case's id comes with each of its events, and
# the ids of compounds, buildings, households and parties with many.
_UUID_TEXTS: dict[int, str] = {}
_MEMO_SIZE = 4096


def uuid_text(value: UUID) -> str:
    """``str(value)``, from a memo for a ``UUID`` (whose text is its number's)."""
    if type(value) is not UUID:
        return str(value)
    text = _UUID_TEXTS.get(value.int)
    if text is None:
        text = str(value)
        if len(_UUID_TEXTS) >= _MEMO_SIZE:
            _UUID_TEXTS.clear()
        _UUID_TEXTS[value.int] = text
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
        return uuid_text(value)
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

# Summaries, zh-CN and English, by event name: a summary function each
# (``application.summaries.bilingual``), or a template each, where ``{field}``
# is the event's field of that name and helpers below add a few computed ones.
SUMMARIES: dict[str, tuple[Any, Any]] = {}


def register_case_type(case_type: CaseType, summaries: dict[str, tuple[Any, Any]]) -> None:
    if any(c.name == case_type.name for c in CASE_TYPES):
        return
    CASE_TYPES.append(case_type)
    SUMMARIES.update(summaries)
    _CASE_TYPE_OF.clear()
    _ENTRY_PLANS.clear()


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


def history_entry(event: Any, position: int, case_type: str, names: Any = None) -> Row:
    """One line of a case's audit trail, with summaries in zh-CN and English.

    ``names`` (an ``application.summaries.Names``) is what the summaries name
    people, parties, places and cases by, as looked up for the page of entries
    this one is on; without it they say "an unregistered person" and the like.
    """
    cls = type(event)
    plan = _ENTRY_PLANS.get(cls)
    if plan is None:
        plan = _entry_plan(cls)
    names_, values, name, event_type, summarize = plan
    data = dict(zip(names_, map(plain, values(event)), strict=True))
    zh, en = summarize(data, (names, event))
    role = data.pop("actor_role", None)
    actor = data.pop("actor_id", None)
    return {
        "case_id": str(event.originator_id),
        "case_type": case_type,
        "position": position,
        "version": event.originator_version,
        "event_type": event_type,
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


Context = tuple[Any, Any] | None  # (names, event) for a summary function, or None


def _render(template: Any, data: Row, context: Context) -> str:
    """One language's summary: a summary function's (``application.summaries.Render``)
    or a template's, whose ``{field}``s are the event's and the computed ones."""
    if callable(template):
        return template(data, context)  # type: ignore[no-any-return]
    values = _Missing(data)
    for key, value in _COMPUTED.items():
        values[key] = value(data)
    return template.format_map(values)  # type: ignore[no-any-return]


def summaries(name: str, data: Row, context: Context = None) -> tuple[str, str]:
    zh, en = SUMMARIES.get(name, (name, name))
    return _render(zh, data, context), _render(en, data, context)


# The fields the summary templates may name that are worked out from the event's.
_COMPUTED: dict[str, Callable[[Row], str]] = {
    "within_zh": lambda data: "在时限内" if data.get("within_limit") else "超时",
    "within_en": lambda data: "within the limit" if data.get("within_limit") else "late",
    "evaluation_zh": lambda data: _EVALUATION_ZH.get(data.get("evaluation") or "", ""),
    "comment_zh": lambda data: f"：{data['comment']}" if data.get("comment") else "",
    "comment_en": lambda data: f": {data['comment']}" if data.get("comment") else "",
}

# Per event class: its fields, their getter, its names and its summarizer.
_ENTRY_PLANS: dict[type, tuple[Any, ...]] = {}


def _entry_plan(cls: type) -> tuple[Any, ...]:
    names, values = _data_fields(cls)
    name = cls.__qualname__
    plan = (names, values, name, cls.__name__, _summarizer(name))
    _ENTRY_PLANS[cls] = plan
    return plan


def _summarizer(name: str) -> Callable[..., tuple[str, str]]:
    """``summaries`` for one event name: ``summarize(data, context)``. Summary
    functions are called as they are; templates of plain ``{field}``s are
    given only the fields they name; any other goes the general way."""
    zh, en = SUMMARIES.get(name, (name, name))
    if callable(zh) or callable(en):
        return lambda data, context=None: (_render(zh, data, context), _render(en, data, context))
    wanted = _named_fields(zh), _named_fields(en)
    if wanted[0] is None or wanted[1] is None:
        return lambda data, context=None: summaries(name, data)
    fields = sorted(wanted[0] | wanted[1])
    if not fields:
        constant = zh.format_map({}), en.format_map({})
        return lambda data, context=None: constant
    computed = [(key, _COMPUTED[key]) for key in fields if key in _COMPUTED]
    own = [key for key in fields if key not in _COMPUTED]

    def summarize(data: Row, context: Context = None) -> tuple[str, str]:
        if not computed:
            try:  # the event has every field named (as it mostly has)
                return zh.format_map(data), en.format_map(data)
            except KeyError:
                pass
        values = {key: data.get(key, "-") for key in own}
        for key, value in computed:
            values[key] = value(data)
        return zh.format_map(values), en.format_map(values)

    return summarize


def _named_fields(template: Any) -> set[str] | None:
    """The fields a ``str`` template names, if it names them plainly (``{name}``:
    no conversion, format spec, attribute or index); else None."""
    if type(template) is not str:
        return None
    found = set()
    try:
        parsed = list(Formatter().parse(template))
    except ValueError:
        return None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            return None
        found.add(field)
    return found


class _Missing(dict[str, Any]):
    """The event's fields and the computed ones; "-" for any other."""

    def __missing__(self, key: str) -> str:
        return "-"
