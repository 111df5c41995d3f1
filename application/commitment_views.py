"""How commitments appear on the read side: the case row, the trail's
summaries, and the fulfilment figures (履约情况) of a list and of a provider.

The case row keeps every list version with its items, so that any version
can be served from the view; inspections are kept as counters per item (the
audit trail keeps each one).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from application.readmodel import CaseType, Row, plain, register_case_type, utc_text
from application.summaries import Words, bilingual
from domain.calendar import TimeLimit, WorkingCalendar
from domain.commitment import (
    CONFIRMING_PARTIES,
    CommitmentStatus,
    ServiceCommitment,
    VersionState,
    apply_amendment,
)

SC = ServiceCommitment

# ----- the case row -----------------------------------------------------------------


def commitment_row(row: Row | None, event: Any, position: int) -> Row:
    """The list's view row after ``event`` (``row`` is None before the draft)."""
    at = utc_text(event.timestamp)
    if isinstance(event, SC.Drafted):
        row = {
            "id": str(event.originator_id),
            "compound_id": str(event.compound_id),
            "provider_party_id": str(event.provider_party_id),
            "provider_kind": event.provider_kind,
            "title": event.title,
            "status": CommitmentStatus.DRAFT.value,
            "status_reason": None,
            "drafted_at": at,
            "drafted_by": event.actor_id,
            "in_effect_version": None,
            "in_effect_items": [],
            "took_effect_at": None,
            "pending_version": None,
            "versions": [],
            "inspections": {},
            "opinions": 0,
            "suspended_at": None,
            "terminated_at": None,
        }
        _add_version(row, event, at, items=plain(event.items), based_on=None, reason=None)
    else:
        assert row is not None, f"no row for {event.originator_id}"
        # A new row; what a change alters inside it is copied by the change
        # (``_changing``), the rest is shared with ``row``, which stays as it
        # was. (A deep copy of a list's row, its versions and its inspections,
        # was most of the cost of projecting a list inspected for years.)
        row = dict(row)
        row["versions"] = list(row["versions"])
        _CHANGES[type(event).__name__](row, event, at)
    row["version"] = event.originator_version
    row["updated_at"] = at
    row["position"] = position
    return row


def _version(row: Row, list_version: int) -> Row:
    return row["versions"][list_version - 1]  # type: ignore[no-any-return]


def _changing(row: Row, list_version: int) -> Row:
    """A version about to be changed: a copy of it, put in its place in the
    row's own list of versions (``commitment_row`` copied the list)."""
    version = dict(_version(row, list_version))
    row["versions"][list_version - 1] = version
    return version


def _add_version(
    row: Row,
    event: Any,
    at: str | None,
    *,
    items: list[Row],
    based_on: int | None,
    reason: str | None,
) -> None:
    row["versions"].append(
        {
            "list_version": event.list_version,
            "state": VersionState.PENDING.value,
            "based_on": based_on,
            "reason": reason,
            "drafted_by": event.actor_id,
            "drafted_by_role": event.actor_role,
            "drafted_at": at,
            "items": items,
            # What this version changed from the one it is based on.
            "added": plain(event.added) if based_on is not None else copy.deepcopy(items),
            "changed": plain(event.changed) if based_on is not None else [],
            "removed": list(event.removed) if based_on is not None else [],
            "confirmations": {},
            "opinions": [],
            "took_effect_at": None,
            "ended_at": None,
        }
    )
    row["pending_version"] = event.list_version


def _opinion(row: Row, e: Any, at: str) -> None:
    row["opinions"] += 1
    version = _changing(row, e.list_version)
    version["opinions"] = [
        *version["opinions"],
        {
            "text": e.text,
            "item_no": e.item_no,
            "household_id": plain(e.household_id),
            "on_behalf_of_resident": e.on_behalf_of_resident,
            "subject_id": e.subject_id,  # whose text it is (domain/personal.py)
            "actor_id": e.actor_id,
            "actor_role": e.actor_role,
            "at": at,
        },
    ]


def _confirmed(row: Row, e: Any, at: str) -> None:
    version = _changing(row, e.list_version)
    version["confirmations"] = {
        **version["confirmations"],
        e.confirming_as: {
            "party_id": str(e.party_id),
            "actor_id": e.actor_id,
            "actor_role": e.actor_role,
            "at": at,
        },
    }


def _took_effect(row: Row, e: Any, at: str) -> None:
    if e.replaced_version is not None:
        old = _changing(row, e.replaced_version)
        old.update(state=VersionState.REPLACED.value, ended_at=at)
    new = _changing(row, e.list_version)
    new.update(state=VersionState.IN_EFFECT.value, took_effect_at=at)
    row.update(
        in_effect_version=e.list_version,
        in_effect_items=copy.deepcopy(new["items"]),
        took_effect_at=at,
        pending_version=None,
    )
    if row["status"] == CommitmentStatus.DRAFT.value:
        row["status"] = CommitmentStatus.IN_EFFECT.value


def _amended(row: Row, e: Any, at: str) -> None:
    if e.superseded_version is not None:
        _changing(row, e.superseded_version).update(
            state=VersionState.SUPERSEDED.value, ended_at=at
        )
    base = _version(row, e.based_on)["items"]
    items = apply_amendment(base, plain(e.added), plain(e.changed), e.removed)
    _add_version(row, e, at, items=items, based_on=e.based_on, reason=e.reason)


def _inspected(row: Row, e: Any, at: str) -> None:
    inspections = row["inspections"] = dict(row["inspections"])
    key = str(e.item_no)
    counts = dict(inspections.get(key) or {"item_no": e.item_no, "met": 0, "not_met": 0, "last": None})
    inspections[key] = counts
    counts[e.result] += 1
    counts["last"] = {
        "result": e.result,
        "note": e.note,
        "list_version": e.list_version,
        "actor_id": e.actor_id,
        "actor_role": e.actor_role,
        "at": at,
    }


def _status(status: CommitmentStatus, stamp: str | None = None) -> Any:
    def change(row: Row, e: Any, at: str) -> None:
        row.update(status=status.value, status_reason=e.reason)
        if stamp:
            row[stamp] = at
        if status == CommitmentStatus.TERMINATED:
            if row["pending_version"] is not None:
                _changing(row, row["pending_version"]).update(
                    state=VersionState.WITHDRAWN.value, ended_at=at
                )
                row["pending_version"] = None
            if row["in_effect_version"] is not None:
                _changing(row, row["in_effect_version"]).update(
                    state=VersionState.ENDED.value, ended_at=at
                )

    return change


_CHANGES = {
    "OpinionRecorded": _opinion,
    "Confirmed": _confirmed,
    "TookEffect": _took_effect,
    "Amended": _amended,
    "ItemInspected": _inspected,
    "Suspended": _status(CommitmentStatus.SUSPENDED, "suspended_at"),
    "Resumed": _status(CommitmentStatus.IN_EFFECT),
    "Terminated": _status(CommitmentStatus.TERMINATED, "terminated_at"),
}


def awaiting_confirmation_from(row: Row) -> list[str]:
    """The confirming parties that have not yet confirmed the pending draft."""
    if row["pending_version"] is None:
        return []
    done = _version(row, row["pending_version"])["confirmations"]
    return [party for party in CONFIRMING_PARTIES if party not in done]


# ----- summaries (application/summaries.py) ------------------------------------------

_LISTED_ITEMS = 5


def _item_text(item: Any, w: Words) -> str:
    """``第 1 项 电梯维保（响应时限 24 小时）``: an item as an event carries it."""
    if not isinstance(item, dict):
        return w.t("一项", "an item")
    number = w.number(item.get("number"))
    limit = w.limit(item.get("time_limit"))
    return w.t(
        f"第 {number} 项 {item.get('title') or ''}" + w.opt("（响应时限 {}）", limit),
        f"item {number} “{item.get('title') or ''}”" + w.opt(" (respond within {})", limit),
    )


def _items_text(items: Any, w: Words) -> str:
    listed = [_item_text(i, w) for i in (items if isinstance(items, list) else [])]
    more = len(listed) - _LISTED_ITEMS
    text = ("；" if w.zh else "; ").join(listed[:_LISTED_ITEMS])
    if more > 0:
        text += w.t(f"；另有 {more} 项", f"; and {more} more")
    return text


def _drafted(d: Row, w: Words) -> str:
    provider = w.party_with_kind(d.get("provider_party_id"), d.get("provider_kind"))
    version = w.number(d.get("list_version"))
    count = w.count(d.get("items"))
    items = _items_text(d.get("items"), w)
    return w.t(
        f"草拟服务清单《{d.get('title') or ''}》第 {version} 版，服务方 {provider}，共 {count} 项"
        + w.opt("：{}", items),
        f"service list “{d.get('title') or ''}” drafted as version {version} for {provider}, "
        f"{w.plural(count, '', 'item')}" + w.opt(": {}", items),
    )


def _opinion_recorded(d: Row, w: Words) -> str:
    version = w.number(d.get("list_version"))
    details = []
    if d.get("item_no") is not None:
        details.append(w.item(w.case_id, d.get("item_no"), version=d.get("list_version")))
    if d.get("household_id"):
        details.append(w.t("住户 ", "household ") + w.household(d.get("household_id")))
    if d.get("on_behalf_of_resident") is True:
        details.append(w.t("工作人员代为录入", "recorded on the resident's behalf"))
    more = ("，" if w.zh else ", ").join(details)
    return w.t(
        f"征求意见（第 {version} 版" + w.opt("，{}", more) + "）",
        f"opinion on version {version}" + w.opt(" ({})", more),
    ) + w.then("：{}", ": {}", d.get("text"))


def _confirmed(d: Row, w: Words) -> str:
    party = w.party(d.get("party_id"))
    role = w.label("confirming_party", d.get("confirming_as"))
    version = w.number(d.get("list_version"))
    return w.t(
        f"{party} 以{role}身份确认第 {version} 版",
        f"version {version} confirmed by {party} as {role}",
    )


def _took_effect(d: Row, w: Words) -> str:
    version = w.number(d.get("list_version"))
    replaced = d.get("replaced_version")
    return w.t(
        f"第 {version} 版经党支部、业委会和服务方确认，公示生效"
        + w.opt("，取代第 {} 版", replaced),
        f"version {version} confirmed by the party branch, the owners' committee and the "
        "provider: in effect" + w.opt(", replacing version {}", replaced),
    )


def _amended(d: Row, w: Words) -> str:
    version, based_on = w.number(d.get("list_version")), w.number(d.get("based_on"))
    changes = []
    for key, zh, en in (("added", "新增", "added"), ("changed", "修改", "changed")):
        listed = d.get(key) if isinstance(d.get(key), list) else []
        if listed:
            changes.append(w.t(zh, en + " ") + _items_text(listed, w))
    removed = [n for n in (d.get("removed") if isinstance(d.get("removed"), list) else [])]
    if removed:
        base = d.get("based_on")
        changes.append(
            w.t("删除", "removed ")
            + ("、" if w.zh else ", ").join(w.item(w.case_id, n, version=base) for n in removed)
        )
    what = ("；" if w.zh else "; ").join(changes)
    superseded = d.get("superseded_version")
    return w.t(
        f"动态调整：以第 {based_on} 版为基础形成第 {version} 版"
        + w.opt("（{}）", what)
        + w.opt("，第 {} 版草案不再生效", superseded)
        + "，待三方确认",
        f"amended: version {version} drafted from version {based_on}"
        + w.opt(" ({})", what)
        + w.opt(", superseding the draft of version {}", superseded)
        + ", awaiting the three confirmations",
    ) + w.then("；理由：{}", "; reason: {}", d.get("reason"))


def _inspected(d: Row, w: Words) -> str:
    item = w.item(w.case_id, d.get("item_no"), version=d.get("list_version"))
    result = w.label("inspection_result", d.get("result"))
    attachments = w.count(d.get("attachments"))
    return w.t(
        f"履约检查 {item}（第 {w.number(d.get('list_version'))} 版）：{result}",
        f"inspection of {item} (version {w.number(d.get('list_version'))}): {result}",
    ) + w.then("；{}", "; {}", d.get("note")) + (
        w.t(f"（附件 {attachments} 个）", f" ({w.plural(attachments, '', 'attachment')})")
        if attachments
        else ""
    )


def _status(zh: str, en: str) -> Any:
    def summary(d: Row, w: Words) -> str:
        return w.t(zh, en) + w.then("：{}", ": {}", d.get("reason"))

    summary.__name__ = en
    return summary


register_case_type(
    CaseType("commitment", ServiceCommitment, commitment_row),
    {
        "ServiceCommitment.Drafted": bilingual(_drafted),
        "ServiceCommitment.OpinionRecorded": bilingual(_opinion_recorded),
        "ServiceCommitment.Confirmed": bilingual(_confirmed),
        "ServiceCommitment.TookEffect": bilingual(_took_effect),
        "ServiceCommitment.Amended": bilingual(_amended),
        "ServiceCommitment.ItemInspected": bilingual(_inspected),
        "ServiceCommitment.Suspended": bilingual(_status("暂停执行", "suspended")),
        "ServiceCommitment.Resumed": bilingual(_status("恢复执行", "resumed")),
        "ServiceCommitment.Terminated": bilingual(_status("终止", "terminated")),
    },
)


# ----- fulfilment (履约情况) ---------------------------------------------------------

_OPEN_NEED_STATUSES = frozenset({"assigned", "in_progress", "escalated"})
_COUNTERS = (
    "inspections_met",
    "inspections_not_met",
    "needs_assigned",
    "needs_resolved",
    "needs_resolved_within_limit",
    "needs_overdue",
)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _rate(counts: Row) -> None:
    """Fulfilled checks over assessed checks: inspections met and needs resolved within
    the item's time limit, over all inspections, resolved needs and needs still open
    past the limit. Needs still open within the limit, or withdrawn, are not assessed."""
    counts["fulfilled"] = counts["inspections_met"] + counts["needs_resolved_within_limit"]
    counts["assessed"] = (
        counts["inspections_met"]
        + counts["inspections_not_met"]
        + counts["needs_resolved"]
        + counts["needs_overdue"]
    )
    counts["fulfilment_rate"] = (
        round(counts["fulfilled"] / counts["assessed"], 4) if counts["assessed"] else None
    )


def _item_when_assigned(row: Row, number: int, assigned_at: str | None) -> Row | None:
    """The item as the version in effect when the need was assigned defined it;
    else its latest definition in any version that took effect."""
    effective = [v for v in row["versions"] if v["took_effect_at"] is not None]
    if assigned_at is not None:
        for version in reversed(effective):
            if version["took_effect_at"] <= assigned_at:
                found = next((i for i in version["items"] if i["number"] == number), None)
                if found is not None:
                    return found  # type: ignore[no-any-return]
                break
    for version in reversed(effective):
        found = next((i for i in version["items"] if i["number"] == number), None)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


def fulfilment(
    row: Row, needs: Iterable[Row], calendar: WorkingCalendar, now: datetime
) -> Row:
    """Per item and in total: inspections met and not met, needs assigned under the
    item, resolved, resolved within the item's time limit (from assignment to
    resolution, working days by ``calendar``), still open past it, and the rate.

    Pure: ``row`` is the list's case row and ``needs`` the need rows citing it.
    """
    now_text = utc_text(now)
    in_effect = {i["number"] for i in row["in_effect_items"]}
    items: dict[int, Row] = {}

    def entry(number: int) -> Row:
        if number not in items:
            item = _item_when_assigned(row, number, None) or {}
            items[number] = {
                "number": number,
                "title": item.get("title"),
                "time_limit": item.get("time_limit"),
                "in_version_in_effect": number in in_effect,
                **dict.fromkeys(_COUNTERS, 0),
            }
        return items[number]

    for number in sorted(in_effect):
        entry(number)
    for key, counts in row["inspections"].items():
        e = entry(int(key))
        e["inspections_met"] += counts["met"]
        e["inspections_not_met"] += counts["not_met"]
    for need in needs:
        if need.get("commitment_id") != row["id"] or need.get("commitment_item_no") is None:
            continue
        number = int(need["commitment_item_no"])
        e = entry(number)
        e["needs_assigned"] += 1
        item = _item_when_assigned(row, number, need.get("assigned_at"))
        if item is None or need.get("assigned_at") is None:
            continue
        due = TimeLimit.parse(item["time_limit"]).due(_moment(need["assigned_at"]), calendar)
        if need.get("resolved_at"):
            e["needs_resolved"] += 1
            if _moment(need["resolved_at"]) <= due:
                e["needs_resolved_within_limit"] += 1
        elif need.get("status") in _OPEN_NEED_STATUSES and now > due:
            e["needs_overdue"] += 1
    ordered = [items[n] for n in sorted(items)]
    for e in ordered:
        _rate(e)
    totals = {name: sum(e[name] for e in ordered) for name in _COUNTERS}
    _rate(totals)
    return {
        "commitment_id": row["id"],
        "compound_id": row["compound_id"],
        "provider_party_id": row["provider_party_id"],
        "title": row["title"],
        "status": row["status"],
        "in_effect_version": row["in_effect_version"],
        "as_of": now_text,
        "items": ordered,
        "totals": totals,
    }


def provider_fulfilment(party_id: str, lists: Iterable[Row], now: datetime) -> Row:
    """One provider's figures across its lists (each from ``fulfilment``)."""
    per_list = [f for f in lists if f["provider_party_id"] == party_id]
    totals = {name: sum(f["totals"][name] for f in per_list) for name in _COUNTERS}
    _rate(totals)
    return {
        "party_id": party_id,
        "as_of": utc_text(now),
        "lists": [
            {k: f[k] for k in ("commitment_id", "compound_id", "title", "status", "totals")}
            for f in per_list
        ],
        "totals": totals,
    }
