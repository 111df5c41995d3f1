"""How monthly assessments appear on the read side."""

from __future__ import annotations

from typing import Any

from application.readmodel import CaseType, Row, register_case_type, utc_text
from domain.assessment import Assessment


def assessment_row(row: Row | None, event: Any, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": str(event.compound_id),
        "status": "closed",
        "month": event.month,
        "period": event.month,
        "position": event.position,
        "computed_at": utc_text(event.timestamp),
        "closed_by": event.actor_id,
        "closed_by_role": event.actor_role,
        "figures": event.figures,
        "version": event.originator_version,
    }


register_case_type(
    CaseType("assessment", Assessment, assessment_row),
    {
        "Assessment.Closed": (
            "关闭 {month} 月度考评（按日志位置 {position} 计算）",
            "closed the assessment of {month} (computed at log position {position})",
        ),
    },
)
