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
from application.summaries import Summary, Words, bilingual
from domain.compound import Compound
from domain.need import Need, NeedStatus
from domain.offer import STATUS_LABELS_ZH as OFFER_STATUS_ZH
from domain.offer import Offer, OfferStatus, offer_allowed_commands
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
            # Whose personal data the texts are (domain/personal.py): an
            # erasure finds the rows to draw again by it.
            "subject_id": event.subject_id,
            "source": event.source,
            "category": event.category,
            "title": event.title,
            "description": event.description,
            "location": event.location,
            "attachments": list(event.attachments),
            # A party's need toward the compound (DESIGN 2.5): "compound" and
            # the raising party; None for a resident issue.
            "toward": event.toward,
            "raised_by_party_id": plain(event.raised_by_party_id),
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
            "offer_id": None,
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
            # Each time a party got the need, with that episode's deadlines and
            # how it went; ``respond_due`` and the fields beside it above are
            # the current episode's (the acceptance's before any party had it).
            "episodes": [],
            "accepted_respond_due": None,
            "accepted_resolve_due": None,
            "confirmed_resolved": None,
            # Parties whose assessment leaves the need out (不纳入考评), with the reason.
            "excluded_parties": {},
            # The party that resolved it last, and its evaluation of the
            # compound's side once the need is closed (双向评价).
            "resolved_by_party_id": None,
            "compound_side_evaluation": None,
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
        accepted_respond_due=utc_text(e.respond_due),
        accepted_resolve_due=utc_text(e.resolve_due),
    )


def _begin_episode(row: Row, e: Any, at: str, started_by: str) -> None:
    """A party gets the need (DESIGN 2.1): the one before ends here, and the
    need's deadlines become the new episode's. Events from before episodes
    carry none: the need's deadlines, and a response already given, run on."""
    episodes = [dict(episode) for episode in row.get("episodes", ())]
    if episodes and episodes[-1]["ended_at"] is None:
        episodes[-1]["ended_at"] = at
    if e.respond_due is not None:
        row.update(
            respond_due=utc_text(e.respond_due),
            resolve_due=utc_text(e.resolve_due),
            responded_at=None,
            responded_within_limit=None,
        )
    episodes.append(
        {
            "no": len(episodes) + 1,
            "party_id": row["assigned_party_id"],
            "party_role": row["assigned_party_role"],
            "started_by": started_by,
            "started_at": at,
            "respond_due": row["respond_due"],
            "resolve_due": row["resolve_due"],
            "responded_at": row["responded_at"],
            "responded_within_limit": row["responded_within_limit"],
            "resolved_at": None,
            "resolved_within_limit": None,
            "evaluation": None,
            "confirmed_resolved": None,
            "ended_at": None,
            "ended_by": None,
        }
    )
    row["episodes"] = episodes


def _current_episode(row: Row, **changes: Any) -> None:
    """Record ``changes`` on the episode under way, if a party has the need."""
    episodes = row.get("episodes")
    if episodes and episodes[-1]["ended_at"] is None:
        row["episodes"] = [*episodes[:-1], {**episodes[-1], **changes}]


def _assigned(row: Row, e: Any, at: str) -> None:
    first = row["assigned_party_id"] is None
    row.update(
        status="assigned",
        assigned_party_id=str(e.party_id),
        assigned_party_role=e.party_role,
        assigned_at=at,
        commitment_id=plain(e.commitment_id),
        commitment_item_no=e.commitment_item_no,
        offer_id=plain(e.offer_id),
    )
    _begin_episode(row, e, at, "assigned" if first else "reassigned")


def _acknowledged(row: Row, e: Any, at: str) -> None:
    row["status"] = "in_progress"
    if row["responded_at"] is None:
        row.update(responded_at=at, responded_within_limit=e.within_limit)
        _current_episode(row, responded_at=at, responded_within_limit=e.within_limit)


def _resolved(row: Row, e: Any, at: str) -> None:
    row.update(
        status="resolved",
        resolved_at=at,
        resolved_within_limit=e.within_limit,
        outcome=e.outcome,
        resolved_by_party_id=row["assigned_party_id"],
    )
    _current_episode(row, resolved_at=at, resolved_within_limit=e.within_limit)


def _evaluated(row: Row, e: Any, at: str) -> None:
    row.update(
        evaluation=e.evaluation,
        evaluation_comment=e.comment,
        evaluated_at=at,
        confirmed_resolved=e.resolved,
    )
    _current_episode(row, evaluation=e.evaluation, confirmed_resolved=e.resolved)
    if e.evaluation == "unsatisfied":
        row.update(
            status="assigned",
            redo_count=row["redo_count"] + 1,
            resolved_at=None,
            resolved_within_limit=None,
        )
        _begin_episode(row, e, at, "redo")
    else:
        row.update(status="closed", closed_at=at)
        _current_episode(row, ended_at=at, ended_by="closed")


def _final(status: str, **extra: str) -> Any:
    def change(row: Row, e: Any, at: str) -> None:
        row.update(status=status, closed_at=at, final_reason=e.reason)
        for column, attribute in extra.items():
            row[column] = plain(getattr(e, attribute))
        _current_episode(row, ended_at=at, ended_by=status)

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
    # The party's episode ends: while the parties deliberate, no party's clock runs.
    _current_episode(row, ended_at=at, ended_by="escalated")
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
    _begin_episode(row, e, at, "returned_from_consultation")
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


def _compound_side_evaluated(row: Row, e: Any, at: str) -> None:
    row["compound_side_evaluation"] = {
        "party_id": str(e.party_id),
        "party_role": e.party_role,
        "coordination": e.coordination,
        "cooperation": e.cooperation,
        "comment": e.comment,
        "evaluated_by": e.actor_id,
        "evaluated_at": at,
    }


def _exclusion(excluded: bool) -> Any:
    def change(row: Row, e: Any, at: str) -> None:
        party = str(e.party_id)
        parties = dict(row.get("excluded_parties") or {})
        if excluded:
            parties[party] = e.reason
        else:
            parties.pop(party, None)
        row["excluded_parties"] = parties

    return change


def _extended(row: Row, e: Any, at: str) -> None:
    row["resolve_due"] = utc_text(e.resolve_due)
    row["extensions"] += 1
    _current_episode(row, resolve_due=row["resolve_due"])


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
    "ExcludedFromAssessment": _exclusion(True),
    "ExclusionRevoked": _exclusion(False),
    "CompoundSideEvaluated": _compound_side_evaluated,
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
    """A service list's trail shows the needs assigned under its items, and
    an offer's the needs served under it, and their outcome."""
    if isinstance(event, Need.Assigned | Need.Resolved | Need.Evaluated):
        return [row[key] for key in ("commitment_id", "offer_id") if row.get(key)]
    return []


# ----- summaries (application/summaries.py) ------------------------------------------
# Each is written once for both languages: ``w.zh`` tells which is asked.


def _within(d: Row, w: Words) -> str:
    return w.t("在时限内", "within the limit") if d.get("within_limit") else w.t("超时", "late")


def _registered(d: Row, w: Words) -> str:
    source = w.label("source", d.get("source"))
    category = w.label("category", d.get("category"))
    if d.get("household_id"):
        place = w.t("，住户 ", ", household ") + w.household(d["household_id"])
    elif d.get("building_id"):
        place = w.t("，楼栋 ", ", building ") + w.building(d["building_id"])
    else:
        place = ""
    attachments = w.count(d.get("attachments"))
    if d.get("toward") == "compound":
        raiser = w.party_with_kind(d.get("raised_by_party_id"))
        place += w.t(f"，由 {raiser} 向小区提出", f", raised toward the compound by {raiser}")
    if w.zh:
        return (
            f"登记诉求「{d.get('title') or ''}」：来源 {source}，类别 {category}{place}"
            + w.opt("，地点：{}", d.get("location"))
            + w.opt("，附件 {} 个", attachments)
        )
    return (
        f"need registered: “{d.get('title') or ''}”; source: {source}, category: {category}{place}"
        + w.opt(", location: {}", d.get("location"))
        + (", " + w.plural(attachments, "", "attachment") if attachments else "")
    )


def _accepted(d: Row, w: Words) -> str:
    category = w.label("category", d.get("category"))
    priority = w.label("priority", d.get("priority"))
    respond, resolve = w.time(d.get("respond_due")), w.time(d.get("resolve_due"))
    if w.zh:
        return f"受理：类别 {category}，优先级 {priority}；应于 {respond} 前响应，{resolve} 前办结"
    return (
        f"accepted: category {category}, priority {priority}; respond by {respond}, "
        f"resolve by {resolve}"
    )


def _dues(d: Row, w: Words) -> str:
    """An episode's deadlines (events from before episodes have none): "" or
    ``，应于 … 前响应、… 前办结``."""
    if not d.get("respond_due") and not d.get("resolve_due"):
        return ""
    respond, resolve = w.time(d.get("respond_due")), w.time(d.get("resolve_due"))
    return w.t(
        f"，应于 {respond} 前响应、{resolve} 前办结",
        f", to respond by {respond} and resolve by {resolve}",
    )


def _assigned(d: Row, w: Words) -> str:
    party = w.party_with_kind(d.get("party_id"), d.get("party_role"))
    held = w.holder()
    again = held is not None and held[0] is not None
    item = None
    if d.get("commitment_id"):
        listed = w.commitment(d["commitment_id"])
        at_item = w.item(d["commitment_id"], d.get("commitment_item_no"), at=w.at)
        item = w.t(f"服务清单{listed}{at_item}", f"{at_item} of the service list {listed}".rstrip())
    elif d.get("offer_id"):
        offer = w.offer(d["offer_id"])
        item = w.t(f"服务项目{offer}", f"the offer {offer}".rstrip())
    if w.zh:
        return (
            f"{'改派' if again else '派单'}给 {party}"
            + w.opt("，依据{}", item)
            + _dues(d, w)
            + w.opt("；理由：{}", d.get("reason"))
        )
    return (
        f"{'reassigned' if again else 'assigned'} to {party}"
        + w.opt(", under {}", item)
        + _dues(d, w)
        + w.opt("; reason: {}", d.get("reason"))
    )


def _acknowledged(d: Row, w: Words) -> str:
    return w.t(
        f"{w.holder_name()} 已响应（{_within(d, w)}）",
        f"{w.holder_name()} responded ({_within(d, w)})",
    )


def _resolved(d: Row, w: Words) -> str:
    return w.t(
        f"办结：{d.get('outcome') or ''}（{w.holder_name()}办理，{_within(d, w)}）",
        f"resolved: {d.get('outcome') or ''} (by {w.holder_name()}, {_within(d, w)})",
    )


def _evaluated(d: Row, w: Words) -> str:
    evaluation = w.label("evaluation", d.get("evaluation"))
    comment = w.then("：{}", ": {}", d.get("comment"))
    behalf = ""
    if d.get("on_behalf_of_reporter") is True:
        obtained = d.get("obtained_by")
        behalf = w.t(
            "（工作人员代为录入" + w.opt("，{}", obtained and w.label("obtained_by", obtained)) + "）",
            " (recorded on the resident's behalf"
            + w.opt(", obtained {}", obtained and w.label("obtained_by", obtained))
            + ")",
        )
    resolved = d.get("resolved")
    if resolved is True:
        view = w.t("；居民认为问题已解决", "; the resident considers the matter resolved")
    elif resolved is False:
        view = w.t("；居民认为问题未解决", "; the resident considers the matter unresolved")
    else:
        view = ""
    if d.get("evaluation") == "unsatisfied":
        held = w.holder()
        redo = held[2] + 1 if held is not None else None
        redo_text = w.then("，第 {} 次重办", ", redo no. {}", redo)
        return w.t(
            f"评价：{evaluation}{comment}{behalf}{view}。诉求重新交由 {w.holder_name()} "
            f"办理{redo_text}{_dues(d, w)}",
            f"evaluated: {evaluation}{comment}{behalf}{view}. The need is reopened for redo by "
            f"{w.holder_name()}{redo_text}{_dues(d, w)}",
        )
    return w.t(
        f"评价：{evaluation}{comment}{behalf}{view}。诉求归档",
        f"evaluated: {evaluation}{comment}{behalf}{view}. The need is closed",
    )


def _reasoned(zh: str, en: str) -> Summary:
    def summary(d: Row, w: Words) -> str:
        return w.t(zh, en) + w.then("：{}", ": {}", d.get("reason"))

    summary.__name__ = en.replace(" ", "_")
    return summary


def _merged(d: Row, w: Words) -> str:
    return w.t(f"合并到{w.need(d.get('into_need_id'))}", f"merged into {w.need(d.get('into_need_id'))}") + w.then(
        "：{}", ": {}", d.get("reason")
    )


def _transferred(d: Row, w: Words) -> str:
    return w.t(
        f"转办至 {d.get('to_body') or ''}", f"transferred to {d.get('to_body') or ''}"
    ) + w.then("：{}", ": {}", d.get("reason"))


def _withdrawn(d: Row, w: Words) -> str:
    behalf = (
        w.t("（工作人员代为办理）", " (on the reporter's behalf)")
        if d.get("on_behalf_of_reporter") is True
        else ""
    )
    return w.t("撤回", "withdrawn") + behalf + w.then("：{}", ": {}", d.get("reason"))


def _note(d: Row, w: Words) -> str:
    attachments = w.count(d.get("attachments"))
    more = w.t(f"（附件 {attachments} 个）", f" ({w.plural(attachments, '', 'attachment')})")
    return w.t("进展记录", "progress note") + w.then("：{}", ": {}", d.get("text")) + (
        more if attachments else ""
    )


def _extended(d: Row, w: Words) -> str:
    before, after = w.time(d.get("previous_due")), w.time(d.get("resolve_due"))
    return w.t(
        f"办结时限由 {before} 延长至 {after}",
        f"resolution deadline extended from {before} to {after}",
    ) + w.then("：{}", ": {}", d.get("reason"))


def _supervised(d: Row, w: Words) -> str:
    return w.t("督办", "supervision notice") + w.then("：{}", ": {}", d.get("text"))


def _escalated(d: Row, w: Words) -> str:
    topic = w.topic(d.get("consultation_id"))
    return w.t(
        f"提交协商议事{topic}，暂停派单办理",
        f"escalated to the consultation {topic}".rstrip() + "; handling waits for its outcome",
    )


def _returned(d: Row, w: Words) -> str:
    topic = w.topic(d.get("consultation_id"))
    outcome = w.label("outcome", d.get("outcome"))
    resolution = w.then("；决议：{}", "; resolution: {}", d.get("resolution"))
    holder = w.holder_name()
    return w.t(
        f"协商议事{topic}结束，结果：{outcome}{resolution}。诉求回到 {holder} 办理{_dues(d, w)}",
        f"consultation {topic} concluded: {outcome}{resolution}. The need is back with "
        f"{holder}{_dues(d, w)}".replace("consultation  ", "consultation "),
    )


def _excluded(d: Row, w: Words) -> str:
    party = w.party(d.get("party_id"))
    return w.t(
        f"不纳入 {party} 的考评", f"left out of the assessment of {party}"
    ) + w.then("：{}", ": {}", d.get("reason"))


def _compound_side(d: Row, w: Words) -> str:
    party = w.party_with_kind(d.get("party_id"), d.get("party_role"))
    coordination = w.label("evaluation", d.get("coordination"))
    cooperation = w.label("evaluation", d.get("cooperation"))
    return w.t(
        f"{party} 评价小区方面：协调配合{coordination}，居民配合{cooperation}",
        f"{party} evaluated the compound's side: coordination {coordination}, "
        f"residents' cooperation {cooperation}",
    ) + w.then("；意见：{}", "; comment: {}", d.get("comment"))


def _exclusion_revoked(d: Row, w: Words) -> str:
    party = w.party(d.get("party_id"))
    return w.t(
        f"撤销不纳入考评，重新计入 {party} 的考评",
        f"counted again in the assessment of {party}",
    ) + w.then("：{}", ": {}", d.get("reason"))


register_case_type(
    CaseType("need", Need, need_row, need_related),
    {
        "Need.Registered": bilingual(_registered),
        "Need.Accepted": bilingual(_accepted),
        "Need.Assigned": bilingual(_assigned),
        "Need.Acknowledged": bilingual(_acknowledged),
        "Need.Resolved": bilingual(_resolved),
        "Need.Evaluated": bilingual(_evaluated),
        "Need.Closed": bilingual(_reasoned("工作人员归档（未获评价）", "closed by staff without an evaluation")),
        "Need.Rejected": bilingual(_reasoned("不予受理", "rejected")),
        "Need.Merged": bilingual(_merged),
        "Need.Transferred": bilingual(_transferred),
        "Need.Withdrawn": bilingual(_withdrawn),
        "Need.NoteAdded": bilingual(_note),
        "Need.DeadlineExtended": bilingual(_extended),
        "Need.SupervisionNoticeIssued": bilingual(_supervised),
        "Need.Escalated": bilingual(_escalated),
        "Need.ReturnedFromConsultation": bilingual(_returned),
        "Need.ExcludedFromAssessment": bilingual(_excluded),
        "Need.ExclusionRevoked": bilingual(_exclusion_revoked),
        "Need.CompoundSideEvaluated": bilingual(_compound_side),
    },
)


def _compound_registered(d: Row, w: Words) -> str:
    where = "，".join(x for x in (d.get("community"), d.get("address")) if x)
    return w.t(
        f"登记小区 {d.get('name') or ''}" + w.opt("（{}）", where),
        f"compound registered: {d.get('name') or ''}" + w.opt(" ({})", where.replace("，", ", ")),
    )


def _building_added(d: Row, w: Words) -> str:
    return w.t(f"新增楼栋 {d.get('name') or ''}", f"building added: {d.get('name') or ''}")


def _household_added(d: Row, w: Words) -> str:
    building = w.building(d.get("building_id"))
    owner = None
    if d.get("owner_id"):
        owner = w.person(d["owner_id"])
    elif d.get("owner_name"):
        owner = d["owner_name"]
    area = w.area(d.get("exclusive_area"))
    return w.t(
        f"新增住户 {building} {d.get('number') or ''}，专有面积 {area}" + w.opt("，业主 {}", owner),
        f"household added: {building} {d.get('number') or ''}, {area}" + w.opt(", owner {}", owner),
    )


register_case_type(
    CaseType("compound", Compound, compound_row),
    {
        "Compound.Registered": bilingual(_compound_registered),
        "Compound.BuildingAdded": bilingual(_building_added),
        "Compound.HouseholdAdded": bilingual(_household_added),
    },
)


def _party_registered(d: Row, w: Words) -> str:
    kind = w.label("party_kind", d.get("kind"))
    return w.t(
        f"登记责任主体 {d.get('name') or ''}（{kind}）",
        f"party registered: {d.get('name') or ''} ({kind})",
    )


register_case_type(
    CaseType("party", Party, party_row),
    {"Party.Registered": bilingual(_party_registered)},
)

def visit_row(row: Row | None, event: Any, position: int) -> Row:
    return {
        "id": str(event.originator_id),
        "compound_id": uuid_text(event.compound_id),
        "status": "recorded",
        "building_id": uuid_text(event.building_id),
        "household_id": uuid_text(event.household_id),
        "visited_at": utc_text(event.visited_at),
        "visited_on": event.visited_on,
        "period": event.visited_on[:7],
        "notes": event.notes,
        "subject_id": event.subject_id,
        "need_ids": [str(n) for n in event.need_ids],
        "visitor_id": event.actor_id,
        "visitor_role": event.actor_role,
        "version": event.originator_version,
        "position": position,
    }


def _visited(d: Row, w: Words) -> str:
    household = w.household(d.get("household_id"))
    at = w.time(d.get("visited_at"))
    needs = w.count(d.get("need_ids"))
    return w.t(
        f"入户走访 {household}（{at}）"
        + w.opt("：{}", d.get("notes"))
        + w.opt("；当场登记诉求 {} 件", needs),
        f"household visit to {household} at {at}"
        + w.opt(": {}", d.get("notes"))
        + ("; " + w.plural(needs, "", "need") + " registered on the spot" if needs else ""),
    )


register_case_type(
    CaseType("visit", HouseholdVisit, visit_row),
    {"HouseholdVisit.Recorded": bilingual(_visited)},
)

# ----- offers (服务项目) ----------------------------------------------------------


def offer_row(row: Row | None, event: Any, position: int) -> Row:
    """The offer's case row after ``event``. The needs served under it are
    counted from the need view (``offer_id``), when the offer is read."""
    at = utc_text(event.timestamp)
    if isinstance(event, Offer.Published):
        row = {
            "id": uuid_text(event.originator_id),
            "compound_id": uuid_text(event.compound_id),
            "party_id": uuid_text(event.party_id),
            "party_kind": event.party_kind,
            "status": OfferStatus.PUBLISHED.value,
            "category": event.category,
            "title": event.title,
            "description": event.description,
            "capacity": event.capacity,
            "schedule": event.schedule,
            "starts_on": event.starts_on,
            "ends_on": event.ends_on,
            "published_at": at,
            "published_by": event.actor_id,
            "changed_at": None,
            "changes": 0,
            "withdrawn_at": None,
            "withdraw_reason": None,
        }
    else:
        assert row is not None, f"no row for {event.originator_id}"
        row = dict(row)
        if isinstance(event, Offer.Changed):
            row.update({name: getattr(event, name) for name in _OFFER_FIELDS})
            row.update(changed_at=at, changes=row["changes"] + 1)
        elif isinstance(event, Offer.Withdrawn):
            row.update(
                status=OfferStatus.WITHDRAWN.value, withdrawn_at=at, withdraw_reason=event.reason
            )
    row["version"] = event.originator_version
    row["updated_at"] = at
    row["position"] = position
    return row


_OFFER_FIELDS = ("category", "title", "description", "capacity", "schedule", "starts_on", "ends_on")


def offer_for_reading(row: Row, need_ids: list[str]) -> Row:
    """An offer's row as the API answers it: with labels, the commands its
    status admits, and the needs served under it (their count and ids)."""
    status = OfferStatus(row["status"])
    return {
        **row,
        "status_zh": OFFER_STATUS_ZH[status],
        "allowed_commands": offer_allowed_commands(status),
        "needs_served": len(need_ids),
        "served_need_ids": need_ids,
    }


def _offer_period(d: Row, w: Words) -> str:
    start, end = d.get("starts_on"), d.get("ends_on")
    if not start:
        return ""
    if end:
        return w.t(f"，{start} 至 {end}", f", {start} to {end}")
    return w.t(f"，自 {start} 起", f", from {start}")


def _offer_published(d: Row, w: Words) -> str:
    party = w.party_with_kind(d.get("party_id"), d.get("party_kind"))
    category = w.label("offer_category", d.get("category"))
    capacity = d.get("capacity")
    if w.zh:
        return (
            f"{party} 发布服务项目「{d.get('title') or ''}」：类别 {category}"
            + _offer_period(d, w)
            + w.opt("，名额 {} 个", capacity)
            + w.opt("，安排：{}", d.get("schedule"))
        )
    return (
        f"{party} published the offer “{d.get('title') or ''}”: {category}"
        + _offer_period(d, w)
        + w.opt(", capacity {}", capacity)
        + w.opt(", schedule: {}", d.get("schedule"))
    )


_OFFER_FIELD_ZH = {
    "category": "类别",
    "title": "标题",
    "description": "内容",
    "capacity": "名额",
    "schedule": "时间安排",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
}


def _offer_changed(d: Row, w: Words) -> str:
    changed = [c for c in d.get("changed") or () if isinstance(c, str)]
    if w.zh:
        names = "、".join(_OFFER_FIELD_ZH.get(c, c) for c in changed)
        return (
            f"修改服务项目「{d.get('title') or ''}」" + w.opt("：{}", names)
            + w.then("；理由：{}", "", d.get("reason"))
        )
    names = ", ".join(c.replace("_", " ") for c in changed)
    return (
        f"offer “{d.get('title') or ''}” changed" + w.opt(": {}", names)
        + w.then("", "; reason: {}", d.get("reason"))
    )


def _offer_withdrawn(d: Row, w: Words) -> str:
    return w.t("撤回服务项目", "offer withdrawn") + w.then("：{}", ": {}", d.get("reason"))


register_case_type(
    CaseType("offer", Offer, offer_row),
    {
        "Offer.Published": bilingual(_offer_published),
        "Offer.Changed": bilingual(_offer_changed),
        "Offer.Withdrawn": bilingual(_offer_withdrawn),
    },
)

# The other aggregates' read-side registrations live beside their commands.
import application.commitment_views  # noqa: E402, F401
import application.consultation_views  # noqa: E402, F401
