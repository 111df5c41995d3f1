"""What the read side makes of each event: case rows and audit-trail entries.

Pure functions of the events, shared by every store's view tables, so that a
view and a fresh replay of the events can only agree.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.actor import ROLE_LABELS_ZH
from domain.compound import Compound
from domain.need import STATUS_LABELS_ZH, Need, NeedStatus
from domain.party import PARTY_KIND_LABELS_ZH, Party

Row = dict[str, Any]

# Aggregate topics' case types, by the event's module-level owner class.
CASE_TYPES: dict[type, str] = {Need: "need", Compound: "compound", Party: "party"}

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
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def event_data(event: Any) -> Row:
    return {f.name: plain(getattr(event, f.name)) for f in fields(event) if f.name not in _COMMON}


def case_type_of(event: Any) -> str | None:
    for cls, name in CASE_TYPES.items():
        if isinstance(event, cls.Event):
            return name
    return None


# ----- the need's case row ---------------------------------------------------


def need_row(row: Row | None, event: Need.Event, position: int) -> Row:
    """The need's view row after ``event`` (``row`` is None before registration)."""
    at = utc_text(event.timestamp)
    if isinstance(event, Need.Registered):
        row = {
            "id": str(event.originator_id),
            "compound_id": str(event.compound_id),
            "building_id": plain(event.building_id),
            "household_id": plain(event.household_id),
            "reporter_id": event.reporter_id,
            "reporter_role": event.actor_role,
            "source": event.source,
            "category": event.category,
            "title": event.title,
            "description": event.description,
            "location": event.location,
            "attachments": list(event.attachments),
            "status": NeedStatus.REPORTED.value,
            "priority": None,
            "reported_at": at,
            "registered_position": position,
            "accepted_at": None,
            "respond_due": None,
            "resolve_due": None,
            "assigned_party_id": None,
            "assigned_party_role": None,
            "assigned_at": None,
            "commitment_id": None,
            "commitment_item_no": None,
            "responded_at": None,
            "responded_within_limit": None,
            "resolved_at": None,
            "resolved_within_limit": None,
            "outcome": None,
            "evaluation": None,
            "evaluation_comment": None,
            "evaluated_at": None,
            "closed_at": None,
            "final_reason": None,
            "merged_into": None,
            "transferred_to": None,
            "redo_count": 0,
            "extensions": 0,
            "notes": 0,
            "supervision_notices": 0,
            "consultation_id": None,
        }
    else:
        assert row is not None, f"no row for {event.originator_id}"
        row = dict(row)
        _NEED_CHANGES[type(event).__name__](row, event, at)
    row["version"] = event.originator_version
    row["updated_at"] = at
    row["position"] = position
    return row


def _accepted(row: Row, e: Any, at: str) -> None:
    row.update(
        status="accepted",
        category=e.category,
        priority=e.priority,
        accepted_at=at,
        respond_due=utc_text(e.respond_due),
        resolve_due=utc_text(e.resolve_due),
    )


def _assigned(row: Row, e: Any, at: str) -> None:
    row.update(
        status="assigned",
        assigned_party_id=str(e.party_id),
        assigned_party_role=e.party_role,
        assigned_at=at,
        commitment_id=plain(e.commitment_id),
        commitment_item_no=e.commitment_item_no,
    )


def _acknowledged(row: Row, e: Any, at: str) -> None:
    row["status"] = "in_progress"
    if row["responded_at"] is None:
        row.update(responded_at=at, responded_within_limit=e.within_limit)


def _resolved(row: Row, e: Any, at: str) -> None:
    row.update(
        status="resolved", resolved_at=at, resolved_within_limit=e.within_limit, outcome=e.outcome
    )


def _evaluated(row: Row, e: Any, at: str) -> None:
    row.update(evaluation=e.evaluation, evaluation_comment=e.comment, evaluated_at=at)
    if e.evaluation == "unsatisfied":
        row.update(
            status="assigned",
            redo_count=row["redo_count"] + 1,
            resolved_at=None,
            resolved_within_limit=None,
        )
    else:
        row.update(status="closed", closed_at=at)


def _final(status: str, **extra: str) -> Any:
    def change(row: Row, e: Any, at: str) -> None:
        row.update(status=status, closed_at=at, final_reason=e.reason)
        for column, attribute in extra.items():
            row[column] = plain(getattr(e, attribute))

    return change


def _counter(column: str) -> Any:
    def change(row: Row, e: Any, at: str) -> None:
        row[column] += 1
        if isinstance(e, Need.NoteAdded):
            row["attachments"] = row["attachments"] + list(e.attachments)

    return change


def _extended(row: Row, e: Any, at: str) -> None:
    row["resolve_due"] = utc_text(e.resolve_due)
    row["extensions"] += 1


_NEED_CHANGES = {
    "Accepted": _accepted,
    "Assigned": _assigned,
    "Acknowledged": _acknowledged,
    "Resolved": _resolved,
    "Evaluated": _evaluated,
    "Closed": _final("closed"),
    "Rejected": _final("rejected"),
    "Merged": _final("merged", merged_into="into_need_id"),
    "Transferred": _final("transferred", transferred_to="to_body"),
    "Withdrawn": _final("withdrawn"),
    "NoteAdded": _counter("notes"),
    "DeadlineExtended": _extended,
    "SupervisionNoticeIssued": _counter("supervision_notices"),
}


def is_overdue(row: Row, now: datetime) -> bool:
    if row["status"] not in ("accepted", "assigned", "in_progress", "escalated"):
        return False
    now_text = utc_text(now)
    assert now_text is not None
    if row["responded_at"] is None and row["respond_due"] and row["respond_due"] < now_text:
        return True
    return bool(row["resolve_due"] and row["resolve_due"] < now_text)


# ----- compounds and parties ------------------------------------------------------


def compound_row(row: Row | None, event: Compound.Event, position: int) -> Row:
    if isinstance(event, Compound.Registered):
        row = {
            "id": str(event.originator_id),
            "name": event.name,
            "community": event.community,
            "address": event.address,
            "buildings": [],
            "households": [],
            "registered_at": utc_text(event.timestamp),
        }
    else:
        assert row is not None
        row = dict(row)
        if isinstance(event, Compound.BuildingAdded):
            row["buildings"] = [*row["buildings"], {"id": str(event.building_id), "name": event.name}]
        elif isinstance(event, Compound.HouseholdAdded):
            household = {
                "id": str(event.household_id),
                "building_id": str(event.building_id),
                "number": event.number,
                "exclusive_area": str(event.exclusive_area),
                "owner_name": event.owner_name,
            }
            row["households"] = [*row["households"], household]
    row["version"] = event.originator_version
    row["position"] = position
    return row


def party_row(event: Party.Registered, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": str(event.compound_id),
        "kind": event.kind,
        "kind_zh": PARTY_KIND_LABELS_ZH[event.kind],
        "name": event.name,
        "contact": event.contact,
        "version": event.originator_version,
        "position": position,
    }


# ----- the audit trail ------------------------------------------------------------


def history_entry(event: Any, position: int) -> Row:
    """One line of a case's audit trail, with summaries in zh-CN and English."""
    data = event_data(event)
    name = type(event).__name__
    zh, en = _summaries(name, data)
    role = data.pop("actor_role")
    actor = data.pop("actor_id")
    return {
        "case_id": str(event.originator_id),
        "case_type": case_type_of(event),
        "position": position,
        "version": event.originator_version,
        "event_type": name,
        "actor_id": actor,
        "actor_role": role,
        "actor_role_zh": _ROLE_ZH.get(role, role),
        "occurred_at": utc_text(event.timestamp),
        "reason": data.get("reason"),
        "summary_zh": zh,
        "summary_en": en,
        "data": data,
    }


def _summaries(name: str, d: Row) -> tuple[str, str]:
    status = {s.value: label for s, label in STATUS_LABELS_ZH.items()}
    templates: dict[str, tuple[str, str]] = {
        "Registered": (
            "登记：{title}（来源 {source}，类别 {category}）"
            if "title" in d
            else "登记：{name}",
            "registered: {title} (source {source}, category {category})"
            if "title" in d
            else "registered: {name}",
        ),
        "Accepted": (
            "受理：类别 {category}，优先级 {priority}，响应时限 {respond_due}，办结时限 {resolve_due}",
            "accepted: category {category}, priority {priority}, respond by {respond_due}, "
            "resolve by {resolve_due}",
        ),
        "Assigned": ("派单给 {party_role} {party_id}", "assigned to {party_role} {party_id}"),
        "Acknowledged": (
            "责任方已响应（{within_zh}）",
            "acknowledged by the assigned party ({within_en})",
        ),
        "Resolved": (
            "办结（{within_zh}）：{outcome}",
            "resolved ({within_en}): {outcome}",
        ),
        "Evaluated": ("评价：{evaluation_zh}", "evaluated: {evaluation}"),
        "Closed": ("工作人员归档：{reason}", "closed by staff: {reason}"),
        "Rejected": ("不予受理：{reason}", "rejected: {reason}"),
        "Merged": ("合并到诉求 {into_need_id}：{reason}", "merged into need {into_need_id}: {reason}"),
        "Transferred": ("转办至 {to_body}：{reason}", "transferred to {to_body}: {reason}"),
        "Withdrawn": ("撤回：{reason}", "withdrawn: {reason}"),
        "NoteAdded": ("进展记录：{text}", "progress note: {text}"),
        "DeadlineExtended": (
            "办结时限由 {previous_due} 延长至 {resolve_due}：{reason}",
            "resolution deadline extended from {previous_due} to {resolve_due}: {reason}",
        ),
        "SupervisionNoticeIssued": ("督办：{text}", "supervision notice: {text}"),
        "BuildingAdded": ("新增楼栋 {name}", "building added: {name}"),
        "HouseholdAdded": (
            "新增住户 {number}（专有面积 {exclusive_area} m²）",
            "household added: {number} ({exclusive_area} m²)",
        ),
    }
    zh_template, en_template = templates.get(name, (name, name))
    within = d.get("within_limit")
    evaluation_zh = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
    values = {
        **d,
        "within_zh": "在时限内" if within else "超时",
        "within_en": "within the limit" if within else "late",
        "evaluation_zh": evaluation_zh.get(d.get("evaluation", ""), ""),
        "status_zh": status.get(d.get("status", ""), ""),
    }
    if name == "Evaluated" and d.get("comment"):
        return (
            zh_template.format_map(values) + f"：{d['comment']}",
            en_template.format_map(values) + f": {d['comment']}",
        )
    return zh_template.format_map(_Missing(values)), en_template.format_map(_Missing(values))


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "-"
