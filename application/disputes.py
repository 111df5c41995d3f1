"""The dispute audit: needs that went through a consultation, step by step."""

from __future__ import annotations

from typing import Any

from application.readmodel import Row


def dispute_row(need: Row, consultation: Row | None) -> dict[str, Any]:
    """One need's path: report, escalation, the consultation's outcome (vote
    fractions or consensus), its action items, the need's return and evaluation."""
    row: dict[str, Any] = {
        "need_id": need["id"],
        "compound_id": need["compound_id"],
        "title": need["title"],
        "category": need["category"],
        "status": need["status"],
        "reported_at": need["reported_at"],
        "accepted_at": need["accepted_at"],
        "assigned_party_id": need["assigned_party_id"],
        "escalated_at": need.get("escalated_at"),
        "returned_at": need.get("returned_at"),
        "consultation_outcome": need.get("consultation_outcome"),
        "consultation_resolution": need.get("consultation_resolution"),
        "resolved_at": need["resolved_at"],
        "evaluation": need["evaluation"],
        "evaluated_at": need["evaluated_at"],
        "redo_count": need["redo_count"],
        "consultation_id": need["consultation_id"],
        "need_history": f"/needs/{need['id']}/history",
        "consultation_history": f"/consultations/{need['consultation_id']}/history",
    }
    if consultation is not None:
        result = consultation.get("result") or {}
        participation = result.get("participation") or {}
        approval = result.get("approval") or {}
        row.update(
            consultation_topic=consultation["topic"],
            consultation_status=consultation["status"],
            method=consultation.get("method"),
            matter=consultation.get("matter"),
            vote_outcome=result.get("outcome"),
            participation_area=participation.get("area"),
            participation_owners=participation.get("owners"),
            approval_area=approval.get("area"),
            approval_owners=approval.get("owners"),
            resolution=consultation.get("resolution"),
            action_items=consultation.get("action_items", []),
            actions_total=consultation.get("actions_total", 0),
            actions_done=consultation.get("actions_done", 0),
            consultation_closed_at=consultation.get("closed_at"),
        )
    return row
