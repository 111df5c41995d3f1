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
from application.summaries import Words, area_text, bilingual
from domain.consultation import (
    MATTER_LABELS_ZH,
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


def _proposed(d: Row, w: Words) -> str:
    count = w.count(d.get("need_ids"))
    titles = w.need_titles(d.get("need_ids"))
    listed = ("、" if w.zh else ", ").join(titles)
    if count > len(titles) and titles:
        listed += w.t(f" 等 {count} 件", f" and {count - len(titles)} more")
    needs = ""
    if count:
        needs = w.t(
            f"，涉及诉求{listed or f' {count} 件'}",
            f", concerning {listed or f'{count} need(s)'}",
        )
    topic = d.get("topic") or ""
    return w.t(f"提议协商议事「{topic}」{needs}", f"consultation proposed: “{topic}”{needs}")


def _need_attached(d: Row, w: Words) -> str:
    need = w.need(d.get("need_id"))
    return w.t(f"{need}提交本次协商议事", f"{need} brought to this consultation")


def _convened(d: Row, w: Words) -> str:
    at = w.time(d.get("meets_at"))
    method = w.label("method", d.get("method"))
    parts = []
    if d.get("method") == "vote":
        parts.append(w.t("表决事项：", "matter: ") + w.label("matter", d.get("matter")))
        parts.append(w.opt(w.t("动议：{}", "motion: {}"), d.get("motion")))
        owners = d.get("total_owners")
        area = w.area(d.get("total_area"))
        source_code = d.get("electorate_source")
        source = (
            w.t("（{}）", " ({})").format(w.label("electorate_source", source_code))
            if source_code
            else ""
        )
        parts.append(
            w.t(
                f"表决业主 {w.number(owners)} 人，专有面积共 {area}{source}",
                f"electorate: {w.plural(owners, '人', 'owner')}, {area} in all{source}",
            )
        )
    invited = [w.party(p) for p in (d.get("invited_party_ids") or [])[:10] if p]
    if w.count(d.get("invited_party_ids")) > len(invited):
        invited.append(w.t("等", "and others"))
    invited += [o for o in d.get("invited_others") or [] if isinstance(o, str)]
    if invited:
        parts.append(w.t("邀请：", "invited: ") + ("、" if w.zh else ", ").join(invited))
    rest = ("；" if w.zh else "; ").join(p for p in parts if p)
    return w.t(
        f"召集会议：{at}，{d.get('place') or ''}；议事方式：{method}" + w.opt("；{}", rest),
        f"meeting convened for {at} at {d.get('place') or ''}; decided by {method}"
        + w.opt("; {}", rest),
    )


def _opinion_recorded(d: Row, w: Words) -> str:
    speaker = w.speaker(d.get("speaker"))
    return w.t(f"{speaker} 发表意见", f"opinion of {speaker}") + w.then(
        "：{}", ": {}", d.get("text")
    )


def _vote_cast(d: Row, w: Words) -> str:
    owner = w.owner(d.get("owner_id"))
    choice = w.label("choice", d.get("choice"))
    area = w.area(d.get("exclusive_area"))
    if d.get("on_behalf_of_owner") is True:
        by = w.t("工作人员代为录入", "recorded by staff on the owner's behalf")
    else:
        by = w.t("本人投票", "own vote")
    return w.t(f"{owner} 表决：{choice}（专有面积 {area}，{by}）", f"{owner} voted {choice} ({area}, {by})")


def _share(w: Words, owners: Any, all_owners: Any, area: Any, all_area: Any) -> str:
    """``4/6 人，400/600 m²``: head counts as they are, beside areas."""
    a, b = area_text(area) or "?", area_text(all_area) or "?"
    return w.t(
        f"{w.number(owners)}/{w.number(all_owners)} 人，{a}/{b} m²",
        f"{w.number(owners)}/{w.number(all_owners)} owners, {a}/{b} m²",
    )


def _vote_closed(d: Row, w: Words) -> str:
    outcome = w.label("outcome", d.get("outcome"))
    turnout = _share(
        w, d.get("participating_owners"), d.get("total_owners"),
        d.get("participating_area"), d.get("total_area"),
    )
    quorum = (
        w.t("达到法定比例", "quorum reached")
        if d.get("quorum_reached") is True
        else w.t("未达法定比例", "no quorum")
    )
    text = w.t(
        f"表决结束，结果：{outcome}。参与表决 {turnout}（{quorum}）",
        f"vote closed: {outcome}. Turnout {turnout} ({quorum})",
    )
    if d.get("participating_owners"):
        agree = _share(
            w, d.get("for_owners"), d.get("participating_owners"),
            d.get("for_area"), d.get("participating_area"),
        )
        against = w.plural(d.get("against_owners"), "人", "owner") + w.t("，", ", ")
        against += w.area(d.get("against_area"))
        abstain = w.plural(d.get("abstain_owners"), "人", "owner") + w.t("，", ", ")
        abstain += w.area(d.get("abstain_area"))
        text += w.t(
            f"；赞成 {agree}；反对 {against}；弃权 {abstain}",
            f"; for: {agree}; against: {against}; abstaining: {abstain}",
        )
    return text


def _consensus(d: Row, w: Words) -> str:
    return w.t("协商一致，形成决议", "consensus reached; resolution") + w.then(
        "：{}", ": {}", d.get("resolution")
    )


def _resolution_recorded(d: Row, w: Words) -> str:
    return w.t("记录决议文本", "resolution text recorded") + w.then(
        "：{}", ": {}", d.get("resolution")
    )


def _published(d: Row, w: Words) -> str:
    return w.t("决议公示", "resolution published") + w.then("：{}", ": {}", d.get("note"))


def _action_added(d: Row, w: Words) -> str:
    party = w.party(d.get("party_id"))
    due = d.get("due_on") or w.t("未定", "not set")
    return w.t(
        f"分解任务 {w.number(d.get('number'))}：{d.get('title') or ''}（责任方 {party}，完成期限 {due}）",
        f"action item {w.number(d.get('number'))}: {d.get('title') or ''} "
        f"(responsible: {party}, due {due})",
    )


def _action_completed(d: Row, w: Words) -> str:
    title = w.action_title(w.case_id, d.get("number"))
    return w.t(
        f"任务 {w.number(d.get('number'))}" + (f"「{title}」" if title else " ") + "已完成",
        f"action item {w.number(d.get('number'))}" + w.opt(" “{}”", title) + " completed",
    ) + w.then("：{}", ": {}", d.get("note"))


def _closed(d: Row, w: Words) -> str:
    return w.t("全部任务完成，协商议事办结", "all action items done; consultation closed")


def _cancelled(d: Row, w: Words) -> str:
    return w.t("取消协商议事", "consultation cancelled") + w.then("：{}", ": {}", d.get("reason"))


SUMMARIES: dict[str, tuple[Any, Any]] = {
    "Consultation.Proposed": bilingual(_proposed),
    "Consultation.NeedAttached": bilingual(_need_attached),
    "Consultation.Convened": bilingual(_convened),
    "Consultation.OpinionRecorded": bilingual(_opinion_recorded),
    "Consultation.VoteCast": bilingual(_vote_cast),
    "Consultation.VoteClosed": bilingual(_vote_closed),
    "Consultation.ConsensusReached": bilingual(_consensus),
    "Consultation.ResolutionRecorded": bilingual(_resolution_recorded),
    "Consultation.ResolutionPublished": bilingual(_published),
    "Consultation.ActionItemAdded": bilingual(_action_added),
    "Consultation.ActionItemCompleted": bilingual(_action_completed),
    "Consultation.Closed": bilingual(_closed),
    "Consultation.Cancelled": bilingual(_cancelled),
}

register_case_type(
    CaseType("consultation", Consultation, consultation_row, consultation_related), SUMMARIES
)
