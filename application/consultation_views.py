"""How consultations appear on the read side (registered case type and summaries).

The consultation's case row carries what ``GET /consultations/{id}`` shows;
its events also appear in the audit trail of every need it concerns
(``related``), so a need's history shows its consultation.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from application.readmodel import CaseType, Row, plain, register_case_type, utc_text
from domain.consultation import (
    CHOICE_LABELS_ZH,
    MATTER_LABELS_ZH,
    METHOD_LABELS_ZH,
    OUTCOME_LABELS_ZH,
    STATUS_LABELS_ZH,
    Consultation,
    ConsultationStatus,
)


def consultation_row(row: Row | None, event: Any, position: int) -> Row:
    """The consultation's view row after ``event`` (``row`` is None before the proposal)."""
    at = utc_text(event.timestamp)
    if isinstance(event, Consultation.Proposed):
        row = {
            "id": str(event.originator_id),
            "compound_id": str(event.compound_id),
            "status": ConsultationStatus.PROPOSED.value,
            "topic": event.topic,
            "description": event.description,
            "need_ids": [str(n) for n in event.need_ids],
            "proposed_by": event.actor_id,
            "proposed_by_role": event.actor_role,
            "proposed_at": at,
            "convened_at": None,
            "meets_at": None,
            "place": None,
            "invited_party_ids": [],
            "invited_others": [],
            "method": None,
            "motion": None,
            "matter": None,
            "electorate_source": None,
            "electorate_size": 0,
            "total_area": None,
            "votes_cast": 0,
            "voted_area": "0",
            "opinions": [],
            "outcome": None,
            "concluded_at": None,
            "result": None,
            "resolution": None,
            "resolution_recorded_at": None,
            "published_at": None,
            "publication_note": None,
            "action_items": [],
            "actions_total": 0,
            "actions_done": 0,
            "closed_at": None,
            "cancel_reason": None,
        }
    else:
        assert row is not None, f"no row for {event.originator_id}"
        row = _copy(row)
        _CHANGES[type(event).__name__](row, event, at)
    row["version"] = event.originator_version
    row["updated_at"] = at
    row["position"] = position
    return row


def _copy(row: Row) -> Row:
    copied = dict(row)
    for key in ("need_ids", "opinions", "action_items"):
        copied[key] = list(row[key])
    return copied


def _attached(row: Row, e: Any, at: str) -> None:
    row["need_ids"].append(str(e.need_id))


def _convened(row: Row, e: Any, at: str) -> None:
    row.update(
        status="convened",
        convened_at=at,
        meets_at=utc_text(e.meets_at),
        place=e.place,
        invited_party_ids=[str(p) for p in e.invited_party_ids],
        invited_others=list(e.invited_others),
        method=e.method,
        motion=e.motion,
        matter=e.matter,
        electorate_source=e.electorate_source,
        electorate_size=e.total_owners,
        total_area=plain(e.total_area),
    )


def _opinion(row: Row, e: Any, at: str) -> None:
    row["opinions"].append(
        {"speaker": e.speaker, "text": e.text, "recorded_by": e.actor_id, "recorded_at": at}
    )


def _vote(row: Row, e: Any, at: str) -> None:
    # Only the turnout while the vote is open; the choices are counted at closing.
    row["votes_cast"] += 1
    row["voted_area"] = str(Decimal(row["voted_area"]) + e.exclusive_area)


def _vote_closed(row: Row, e: Any, at: str) -> None:
    row.update(status=e.outcome, outcome=e.outcome, concluded_at=at)
    if e.outcome == "adopted":
        row["resolution"] = e.motion
    row["result"] = {
        "outcome": e.outcome,
        "outcome_zh": OUTCOME_LABELS_ZH[e.outcome],
        "matter": e.matter,
        "matter_zh": MATTER_LABELS_ZH[e.matter],
        "participation": {
            "area": e.participation_area,
            "owners": e.participation_owners,
            "area_m2": plain(e.participating_area),
            "total_area_m2": plain(e.total_area),
            "owners_count": e.participating_owners,
            "total_owners": e.total_owners,
            "rule": e.quorum_rule,
            "reached": e.quorum_reached,
        },
        "approval": {
            "area": e.approval_area,
            "owners": e.approval_owners,
            "for_area_m2": plain(e.for_area),
            "for_owners": e.for_owners,
            "rule": e.approval_rule,
            "reached": e.outcome == "adopted",
        },
        "counts": {"for": e.for_owners, "against": e.against_owners, "abstain": e.abstain_owners},
        "areas_m2": {
            "for": plain(e.for_area),
            "against": plain(e.against_area),
            "abstain": plain(e.abstain_area),
        },
    }


def _consensus(row: Row, e: Any, at: str) -> None:
    row.update(
        status="agreed",
        outcome="consensus",
        concluded_at=at,
        resolution=e.resolution,
        resolution_recorded_at=at,
    )


def _resolution(row: Row, e: Any, at: str) -> None:
    row.update(resolution=e.resolution, resolution_recorded_at=at)


def _published(row: Row, e: Any, at: str) -> None:
    row.update(status="published", published_at=at, publication_note=e.note)


def _action_added(row: Row, e: Any, at: str) -> None:
    row["action_items"].append(
        {
            "number": e.number,
            "title": e.title,
            "party_id": str(e.party_id),
            "due_on": e.due_on,
            "added_at": at,
            "done": False,
            "completed_at": None,
            "completed_by": None,
            "note": None,
        }
    )
    row["actions_total"] = len(row["action_items"])


def _action_completed(row: Row, e: Any, at: str) -> None:
    items = row["action_items"]
    items[e.number - 1] = {
        **items[e.number - 1],
        "done": True,
        "completed_at": at,
        "completed_by": e.actor_id,
        "note": e.note,
    }
    row["actions_done"] = sum(1 for item in items if item["done"])


def _closed(row: Row, e: Any, at: str) -> None:
    row.update(status="closed", closed_at=at)


def _cancelled(row: Row, e: Any, at: str) -> None:
    row.update(status="cancelled", outcome="cancelled", concluded_at=at, cancel_reason=e.reason)


_CHANGES: dict[str, Callable[[Row, Any, str], None]] = {
    "NeedAttached": _attached,
    "Convened": _convened,
    "OpinionRecorded": _opinion,
    "VoteCast": _vote,
    "VoteClosed": _vote_closed,
    "ConsensusReached": _consensus,
    "ResolutionRecorded": _resolution,
    "ResolutionPublished": _published,
    "ActionItemAdded": _action_added,
    "ActionItemCompleted": _action_completed,
    "Closed": _closed,
    "Cancelled": _cancelled,
}


def consultation_related(event: Any, row: Row) -> list[str]:
    """Every event of a consultation also appears in the trail of each of its needs."""
    return list(dict.fromkeys(row["need_ids"]))


def status_label_zh(status: str) -> str:
    return STATUS_LABELS_ZH[ConsultationStatus(status)]


# ----- summaries ------------------------------------------------------------------


class _Template(str):
    """A summary template whose values are first completed by ``extra(values)``.

    The read model formats each template with ``format_map``; this one adds
    computed labels (a choice in Chinese, who recorded a vote) before it does.
    """

    extra: Callable[[dict[str, Any]], dict[str, Any]]

    def __new__(cls, text: str, extra: Callable[[dict[str, Any]], dict[str, Any]]) -> _Template:
        template = super().__new__(cls, text)
        template.extra = extra
        return template

    def format_map(self, mapping: Any) -> str:  # type: ignore[override]
        return str(self).format_map(_Completed(mapping, self.extra(mapping)))


class _Completed(dict[str, Any]):
    def __init__(self, values: Any, extra: dict[str, Any]) -> None:
        super().__init__(values)
        self.update(extra)
        self._values = values

    def __missing__(self, key: str) -> Any:
        return self._values[key]  # the read model's mapping answers "-" for a missing field


def _labels(values: dict[str, Any]) -> dict[str, Any]:
    on_behalf = values.get("on_behalf_of_owner") is True
    need_ids = values.get("need_ids")
    matter = values.get("matter")
    method = values.get("method")
    outcome = values.get("outcome")
    return {
        "choice_zh": CHOICE_LABELS_ZH.get(values.get("choice") or "", "-"),
        "by_zh": "（工作人员代为录入）" if on_behalf else "（本人投票）",
        "by_en": " (recorded by staff on the owner's behalf)" if on_behalf else " (own vote)",
        "needs_zh": f"，涉及诉求 {len(need_ids)} 件" if need_ids else "",
        "needs_en": f", concerning {len(need_ids)} need(s)" if need_ids else "",
        "matter_zh": f"，事项：{MATTER_LABELS_ZH[matter]}" if matter in MATTER_LABELS_ZH else "",
        "matter_en": f", matter: {matter}" if matter in MATTER_LABELS_ZH else "",
        "method_zh": METHOD_LABELS_ZH.get(method or "", "-"),
        "outcome_zh": OUTCOME_LABELS_ZH.get(outcome or "", "-"),
        "electorate_zh": (
            f"，表决业主 {values.get('total_owners')} 人、专有面积 {values.get('total_area')} m²"
            if method == "vote"
            else ""
        ),
        "electorate_en": (
            f", electorate {values.get('total_owners')} owners, "
            f"{values.get('total_area')} m²"
            if method == "vote"
            else ""
        ),
        "approval_zh": (
            f"；同意：面积 {values.get('approval_area')}、人数 {values.get('approval_owners')}"
            if values.get("approval_area")
            else ""
        ),
        "approval_en": (
            f"; approval: area {values.get('approval_area')}, "
            f"owners {values.get('approval_owners')}"
            if values.get("approval_area")
            else ""
        ),
        "note_zh": f"：{values['note']}" if values.get("note") not in (None, "-") else "",
        "note_en": f": {values['note']}" if values.get("note") not in (None, "-") else "",
    }


def _t(text: str) -> _Template:
    return _Template(text, _labels)


SUMMARIES: dict[str, tuple[str, str]] = {
    "Consultation.Proposed": (
        _t("提议协商议事：{topic}{needs_zh}"),
        _t("consultation proposed: {topic}{needs_en}"),
    ),
    "Consultation.NeedAttached": (
        "诉求 {need_id} 提交本次协商议事",
        "need {need_id} brought to this consultation",
    ),
    "Consultation.Convened": (
        _t("召集会议：{meets_at}，{place}；议事方式：{method_zh}{matter_zh}{electorate_zh}"),
        _t("convened for {meets_at} at {place}; decided by {method}{matter_en}{electorate_en}"),
    ),
    "Consultation.OpinionRecorded": (
        "{speaker} 发表意见：{text}",
        "opinion of {speaker}: {text}",
    ),
    "Consultation.VoteCast": (
        _t("业主 {owner_id} 表决：{choice_zh}{by_zh}"),
        _t("owner {owner_id} voted {choice}{by_en}"),
    ),
    "Consultation.VoteClosed": (
        _t(
            "表决结束，结果：{outcome_zh}。参与表决：面积 {participation_area}、"
            "人数 {participation_owners}{approval_zh}"
        ),
        _t(
            "vote closed: {outcome}. Participation: area {participation_area}, "
            "owners {participation_owners}{approval_en}"
        ),
    ),
    "Consultation.ConsensusReached": (
        "协商一致，形成决议：{resolution}",
        "consensus reached; resolution: {resolution}",
    ),
    "Consultation.ResolutionRecorded": (
        "记录决议文本：{resolution}",
        "resolution text recorded: {resolution}",
    ),
    "Consultation.ResolutionPublished": (
        _t("决议公示{note_zh}"),
        _t("resolution published{note_en}"),
    ),
    "Consultation.ActionItemAdded": (
        "分解任务 {number}：{title}（责任方 {party_id}，完成期限 {due_on}）",
        "action item {number}: {title} (responsible party {party_id}, due {due_on})",
    ),
    "Consultation.ActionItemCompleted": (
        _t("任务 {number} 已完成{note_zh}"),
        _t("action item {number} completed{note_en}"),
    ),
    "Consultation.Closed": ("全部任务完成，协商议事办结", "all action items done; consultation closed"),
    "Consultation.Cancelled": ("取消协商议事：{reason}", "consultation cancelled: {reason}"),
}

register_case_type(
    CaseType("consultation", Consultation, consultation_row, consultation_related), SUMMARIES
)
