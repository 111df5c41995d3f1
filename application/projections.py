"""How needs, compounds and parties appear on the read side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.readmodel import (
    CaseType,
    Row,
    plain,
    register_case_type,
    utc_text,
    uuid_text,
)
from domain.compound import Compound
from domain.need import Need, NeedStatus
from domain.party import PARTY_KIND_LABELS_ZH, Party
from domain.visit import HouseholdVisit

# ----- the need's case row ---------------------------------------------------


def need_row(row: Row | None, event: Any, position: int) -> Row:
    """The need's view row after ``event`` (``row`` is None before registration)."""
    at = utc_text(event.timestamp)
    if isinstance(event, Need.Registered):
        row = {
            "id": uuid_text(event.originator_id),
            "compound_id": uuid_text(event.compound_id),
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
            "consultation_outcome": None,
            "consultation_resolution": None,
            "consultations": [],
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


def _escalated(row: Row, e: Any, at: str) -> None:
    """The need goes to a consultation. ``consultation_id`` and the fields
    beside it are the latest consultation's; ``consultations`` keeps every
    one the need went through, in order, for the dispute audit."""
    consultation_id = str(e.consultation_id)
    row.update(
        status="escalated",
        consultation_id=consultation_id,
        escalated_at=at,
        returned_at=None,
        consultation_outcome=None,
        consultation_resolution=None,
    )
    row["consultations"] = [
        *row["consultations"],
        {
            "consultation_id": consultation_id,
            "escalated_at": at,
            "returned_at": None,
            "consultation_outcome": None,
            "consultation_resolution": None,
        },
    ]


def _returned(row: Row, e: Any, at: str) -> None:
    row.update(
        status="assigned",
        consultation_outcome=e.outcome,
        consultation_resolution=e.resolution,
        returned_at=at,
    )
    consultation_id = str(e.consultation_id)
    path = [dict(step) for step in row["consultations"]]
    for step in reversed(path):
        if step["consultation_id"] == consultation_id and step["returned_at"] is None:
            step.update(
                returned_at=at,
                consultation_outcome=e.outcome,
                consultation_resolution=e.resolution,
            )
            break
    row["consultations"] = path


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
    "Escalated": _escalated,
    "ReturnedFromConsultation": _returned,
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


def compound_row(row: Row | None, event: Any, position: int) -> Row:
    if isinstance(event, Compound.Registered):
        row = {
            "id": str(event.originator_id),
            "compound_id": str(event.originator_id),
            "status": "registered",
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
                # The owning person's id (None for events from before persons).
                "owner_id": event.owner_id,
            }
            row["households"] = [*row["households"], household]
    row["version"] = event.originator_version
    row["position"] = position
    return row


def party_row(row: Row | None, event: Any, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": str(event.compound_id),
        "status": "registered",
        "kind": event.kind,
        "kind_zh": PARTY_KIND_LABELS_ZH[event.kind],
        "name": event.name,
        "contact": event.contact,
        "version": event.originator_version,
        "position": position,
    }


def need_related(event: Any, row: Row) -> list[str]:
    """A service list's trail shows the needs assigned under its items, and their outcome."""
    if row.get("commitment_id") and isinstance(
        event, Need.Assigned | Need.Resolved | Need.Evaluated
    ):
        return [row["commitment_id"]]
    return []


register_case_type(
    CaseType("need", Need, need_row, need_related),
    {
        "Need.Registered": (
            "登记：{title}（来源 {source}，类别 {category}）",
            "registered: {title} (source {source}, category {category})",
        ),
        "Need.Accepted": (
            "受理：类别 {category}，优先级 {priority}，响应时限 {respond_due}，"
            "办结时限 {resolve_due}",
            "accepted: category {category}, priority {priority}, respond by {respond_due}, "
            "resolve by {resolve_due}",
        ),
        "Need.Assigned": (
            "派单给 {party_role} {party_id}（服务清单 {commitment_id} 第 {commitment_item_no} 项）",
            "assigned to {party_role} {party_id} (service list {commitment_id} "
            "item {commitment_item_no})",
        ),
        "Need.Acknowledged": (
            "责任方已响应（{within_zh}）",
            "acknowledged by the assigned party ({within_en})",
        ),
        "Need.Resolved": ("办结（{within_zh}）：{outcome}", "resolved ({within_en}): {outcome}"),
        "Need.Evaluated": ("评价：{evaluation_zh}{comment_zh}", "evaluated: {evaluation}{comment_en}"),
        "Need.Closed": ("工作人员归档：{reason}", "closed by staff: {reason}"),
        "Need.Rejected": ("不予受理：{reason}", "rejected: {reason}"),
        "Need.Merged": (
            "合并到诉求 {into_need_id}：{reason}",
            "merged into need {into_need_id}: {reason}",
        ),
        "Need.Transferred": ("转办至 {to_body}：{reason}", "transferred to {to_body}: {reason}"),
        "Need.Withdrawn": ("撤回：{reason}", "withdrawn: {reason}"),
        "Need.NoteAdded": ("进展记录：{text}", "progress note: {text}"),
        "Need.DeadlineExtended": (
            "办结时限由 {previous_due} 延长至 {resolve_due}：{reason}",
            "resolution deadline extended from {previous_due} to {resolve_due}: {reason}",
        ),
        "Need.SupervisionNoticeIssued": ("督办：{text}", "supervision notice: {text}"),
        "Need.Escalated": (
            "提交协商议事 {consultation_id}",
            "escalated to consultation {consultation_id}",
        ),
        "Need.ReturnedFromConsultation": (
            "协商议事 {consultation_id} 结束（{outcome}），回到责任方办理：{resolution}",
            "consultation {consultation_id} concluded ({outcome}); back to the assigned party: "
            "{resolution}",
        ),
    },
)
register_case_type(
    CaseType("compound", Compound, compound_row),
    {
        "Compound.Registered": ("登记小区：{name}", "compound registered: {name}"),
        "Compound.BuildingAdded": ("新增楼栋 {name}", "building added: {name}"),
        "Compound.HouseholdAdded": (
            "新增住户 {number}（专有面积 {exclusive_area} m²）",
            "household added: {number} ({exclusive_area} m²)",
        ),
    },
)
register_case_type(
    CaseType("party", Party, party_row),
    {"Party.Registered": ("登记责任主体：{name}（{kind}）", "party registered: {name} ({kind})")},
)

def visit_row(row: Row | None, event: Any, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": str(event.compound_id),
        "status": "recorded",
        "building_id": str(event.building_id),
        "household_id": str(event.household_id),
        "visited_at": utc_text(event.visited_at),
        "visited_on": event.visited_on,
        "period": event.visited_on[:7],
        "notes": event.notes,
        "need_ids": [str(n) for n in event.need_ids],
        "visitor_id": event.actor_id,
        "visitor_role": event.actor_role,
        "version": event.originator_version,
        "position": position,
    }


register_case_type(
    CaseType("visit", HouseholdVisit, visit_row),
    {
        "HouseholdVisit.Recorded": (
            "入户走访 {visited_on}：{notes}",
            "household visited on {visited_on}: {notes}",
        )
    },
)

# The other aggregates' read-side registrations live beside their commands.
import application.commitment_views  # noqa: E402, F401
import application.consultation_views  # noqa: E402, F401
