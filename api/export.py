"""Lists and trails as CSV (UTF-8 with BOM, so Excel reads Chinese) streamed row by row:
the published English columns, or with ``lang=zh`` columns for people (see below)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query
from fastapi.responses import StreamingResponse

from application.labels import label

Format = Literal["json", "csv"]

NEED_COLUMNS = (
    "id",
    "compound_id",
    "status",
    "status_zh",
    "overdue",
    "source",
    "category",
    "priority",
    "title",
    "reporter_id",
    "household_id",
    "assigned_party_id",
    "assigned_party_role",
    "commitment_id",
    "commitment_item_no",
    "consultation_id",
    "reported_at",
    "accepted_at",
    "assigned_at",
    "responded_at",
    "resolved_at",
    "evaluated_at",
    "closed_at",
    "respond_due",
    "resolve_due",
    "responded_within_limit",
    "resolved_within_limit",
    "evaluation",
    "redo_count",
    "extensions",
    "supervision_notices",
    "version",
    # Both ways (DESIGN 2.5), added at the end: the columns above keep their places.
    "toward",
    "raised_by_party_id",
    "offer_id",
)

HISTORY_COLUMNS = (
    "case_id",
    "case_type",
    "position",
    "version",
    "occurred_at",
    "event",
    "actor_id",
    "actor_name",
    "actor_role",
    "actor_role_zh",
    "reason",
    "summary_zh",
    "summary_en",
)


# A cell that starts with one of these is a formula to Excel and LibreOffice
# (OWASP "CSV injection"); a leading single quote makes it text again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> Any:
    """One value as a CSV cell. Text is written as it is, except text a
    spreadsheet would run as a formula; numbers are never changed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return _text(json.dumps(value, ensure_ascii=False))
    if isinstance(value, str):
        return _text(value)
    return value


def csv_rows(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(row.get(column)) for column in columns])
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_response(head: dict[str, Any], key: str, rows: Iterable[dict[str, Any]]) -> StreamingResponse:
    """``{**head, key: [rows...]}`` as one JSON document, written as the rows
    are read (a page at a time), so that a long trail never sits in memory."""

    def chunks() -> Iterator[str]:
        opening = json.dumps(head, ensure_ascii=False)
        yield opening[:-1] + ("," if head else "") + json.dumps(key) + ":["
        batch: list[str] = []
        first = True
        for row in rows:
            batch.append(json.dumps(row, ensure_ascii=False))
            if len(batch) == 200:
                yield ("" if first else ",") + ",".join(batch)
                first, batch = False, []
        if batch:
            yield ("" if first else ",") + ",".join(batch)
        yield "]}"

    return StreamingResponse(chunks(), media_type="application/json")


def csv_response(
    rows: Iterable[dict[str, Any]], columns: tuple[str, ...], filename: str
) -> StreamingResponse:
    return StreamingResponse(
        csv_rows(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ----- exports for people: ``?format=csv&lang=zh`` ------------------------------------
#
# The English columns above are a published contract: added at the end only,
# never renamed or removed. With
# ``lang=zh`` a list or a trail is written for a person who opens it in Excel:
# Chinese headers, labels instead of codes (application/labels.py), names
# beside ids, and times in the deployment's zone to the minute.

Lang = Literal["en", "zh"]
LangQuery = Annotated[
    Lang,
    Query(
        description=(
            "with format=csv: zh for Chinese headers, labels instead of codes, names beside "
            "ids and local times (for Excel users); en (default) for the published columns"
        )
    ),
]

Row = dict[str, Any]
TIME_FORMAT = "%Y-%m-%d %H:%M"
CASE_TYPES_ZH = {"need": "诉求", "consultation": "协商议事", "commitment": "服务清单"}
_LIMIT = re.compile(r"^(\d+)(h|wd)$")
_BATCH = 200  # rows whose people are named with one read


class Lookups:
    """What a Chinese export reads beside its rows: the names of people,
    parties and compounds, households' labels, service items' titles and
    consultations' topics, and the local zone. Each is read once per export
    (people once per batch of rows); only names and titles are kept."""

    def __init__(self, services: Any) -> None:
        self.services = services
        self.zone = ZoneInfo(services.settings.timezone)
        self._people: dict[str, str] = {}
        self._parties: dict[str, str] = {}
        self._compounds: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {}
        self._consultations: dict[str, str] = {}
        self._items: dict[str, dict[int, str]] = {}
        self._offers: dict[str, str] = {}

    def learn_people(self, ids: Iterable[Any]) -> None:
        wanted = {str(i) for i in ids if i and str(i) not in self._people}
        if wanted:
            found = self.services.people.names(wanted)
            self._people.update({i: found.get(i, "") for i in wanted})

    def person(self, person_id: Any) -> str:
        if not person_id:
            return ""
        if str(person_id) not in self._people:
            self.learn_people([person_id])
        return self._people[str(person_id)]

    def party(self, party_id: Any) -> str:
        if not party_id:
            return ""
        key = str(party_id)
        if key not in self._parties:
            row = self.services.views.case("party", key)
            self._parties[key] = row["name"] if row else ""
        return self._parties[key]

    def _compound(self, compound_id: Any) -> tuple[str, dict[str, str], dict[str, str]]:
        key = str(compound_id)
        if key not in self._compounds:
            row = self.services.views.case("compound", key) or {}
            buildings = {b["id"]: b["name"] for b in row.get("buildings") or []}
            households = {
                h["id"]: " ".join(
                    p for p in (buildings.get(h.get("building_id") or ""), h["number"]) if p
                )
                for h in row.get("households") or []
            }
            self._compounds[key] = (row.get("name") or "", buildings, households)
        return self._compounds[key]

    def compound(self, compound_id: Any) -> str:
        return self._compound(compound_id)[0] if compound_id else ""

    def building(self, compound_id: Any, building_id: Any) -> str:
        if not compound_id or not building_id:
            return ""
        return self._compound(compound_id)[1].get(str(building_id), "")

    def household(self, compound_id: Any, household_id: Any) -> str:
        if not compound_id or not household_id:
            return ""
        return self._compound(compound_id)[2].get(str(household_id), "")

    def consultation(self, consultation_id: Any) -> str:
        if not consultation_id:
            return ""
        key = str(consultation_id)
        if key not in self._consultations:
            row = self.services.views.case("consultation", key)
            self._consultations[key] = row["topic"] if row else ""
        return self._consultations[key]

    def offer(self, offer_id: Any) -> str:
        """A co-building unit's offer (服务项目) by its title."""
        if not offer_id:
            return ""
        key = str(offer_id)
        if key not in self._offers:
            row = self.services.views.case("offer", key)
            self._offers[key] = row["title"] if row else ""
        return self._offers[key]

    def service_item(self, commitment_id: Any, number: Any) -> str:
        """``第 2 项 电梯维保``: an item of a service list, by the title it has
        in any version of the list (the latest that has it)."""
        if not commitment_id or number in (None, ""):
            return ""
        key = str(commitment_id)
        if key not in self._items:
            row = self.services.views.case("commitment", key) or {}
            titles: dict[int, str] = {}
            for version in row.get("versions") or []:
                titles.update({int(i["number"]): i["title"] for i in version.get("items") or []})
            self._items[key] = titles
        title = self._items[key].get(int(number), "")
        return f"第 {number} 项 {title}".rstrip()

    def time(self, value: Any) -> str:
        """An instant as local time to the minute: ``2026-12-08 13:11``."""
        if not value:
            return ""
        try:
            instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
        if instant.tzinfo is None:
            return instant.strftime(TIME_FORMAT)
        return instant.astimezone(self.zone).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class Column:
    """One column of a Chinese export: its header and how a row's cell is
    written; ``people`` names the fields that hold person ids to look up."""

    header: str
    cell: Callable[[Row, Lookups], Any]
    people: tuple[str, ...] = ()


def plain(header: str, name: str) -> Column:
    return Column(header, lambda row, _: row.get(name))


def coded(header: str, name: str, kind: str) -> Column:
    return Column(header, lambda row, _: _label(kind, row.get(name)))


def when(header: str, name: str) -> Column:
    return Column(header, lambda row, look: look.time(row.get(name)))


def yes_no(header: str, name: str) -> Column:
    return Column(header, lambda row, _: _yes_no(row.get(name)))


def person(header: str, name: str) -> Column:
    return Column(header, lambda row, look: look.person(row.get(name)), people=(name,))


def party(header: str, name: str) -> Column:
    return Column(header, lambda row, look: look.party(row.get(name)))


def compound(header: str = "小区", name: str = "compound_id") -> Column:
    return Column(header, lambda row, look: look.compound(row.get(name)))


def joined(header: str, name: str) -> Column:
    return Column(header, lambda row, _: "、".join(str(v) for v in row.get(name) or []))


def _label(kind: str, code: Any) -> str:
    return "" if code is None or code == "" else label(kind, code, "zh")


def _labels(kind: str, codes: Any) -> str:
    return "、".join(_label(kind, code) for code in codes or [])


def _yes_no(value: Any) -> str:
    if value is None or value == "":
        return ""
    return "是" if value else "否"


def limit_zh(value: Any) -> str:
    """A time limit as a person reads it: ``24h`` → ``24 小时``, ``3wd`` → ``3 个工作日``."""
    match = _LIMIT.match(str(value or ""))
    if not match:
        return "" if value is None else str(value)
    count, unit = match.groups()
    return f"{count} 小时" if unit == "h" else f"{count} 个工作日"


def share_zh(value: Any) -> str:
    """A fraction as text Excel keeps as it is (``1/3`` alone would become
    a date): ``1/3（33.3%）``."""
    if not value:
        return ""
    try:
        number = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return str(value)
    return f"{value}（{float(number) * 100:.1f}%）"


def _rate(value: Any) -> str:
    return "" if value is None or value == "" else f"{float(value) * 100:.1f}%"


def _items_zh(items: Any) -> str:
    return "；".join(
        f"第 {i['number']} 项 {i['title']}（{limit_zh(i.get('time_limit'))}）" for i in items or []
    )


NEED_ZH = (
    plain("诉求编号", "id"),
    compound(),
    plain("小区编号", "compound_id"),
    coded("状态", "status", "need_status"),
    yes_no("是否超时", "overdue"),
    coded("来源", "source", "source"),
    coded("类别", "category", "category"),
    coded("优先级", "priority", "priority"),
    plain("标题", "title"),
    person("反映人", "reporter_id"),
    plain("反映人编号", "reporter_id"),
    Column("房屋", lambda r, look: look.household(r.get("compound_id"), r.get("household_id"))),
    plain("房屋编号", "household_id"),
    party("承办单位", "assigned_party_id"),
    plain("承办单位编号", "assigned_party_id"),
    coded("承办单位类型", "assigned_party_role", "party_kind"),
    Column(
        "服务清单事项",
        lambda r, look: look.service_item(r.get("commitment_id"), r.get("commitment_item_no")),
    ),
    plain("服务清单编号", "commitment_id"),
    Column("协商议事", lambda r, look: look.consultation(r.get("consultation_id"))),
    plain("协商议事编号", "consultation_id"),
    when("登记时间", "reported_at"),
    when("受理时间", "accepted_at"),
    when("派单时间", "assigned_at"),
    when("响应时间", "responded_at"),
    when("办结时间", "resolved_at"),
    when("评价时间", "evaluated_at"),
    when("归档时间", "closed_at"),
    when("响应时限", "respond_due"),
    when("办结时限", "resolve_due"),
    yes_no("按时响应", "responded_within_limit"),
    yes_no("按时办结", "resolved_within_limit"),
    coded("评价", "evaluation", "evaluation"),
    plain("重办次数", "redo_count"),
    plain("延期次数", "extensions"),
    plain("督办次数", "supervision_notices"),
    plain("版本", "version"),
    coded("提出方向", "toward", "toward"),
    party("提出单位", "raised_by_party_id"),
    plain("提出单位编号", "raised_by_party_id"),
    Column("服务项目", lambda r, look: look.offer(r.get("offer_id"))),
    plain("服务项目编号", "offer_id"),
)

HISTORY_ZH = (
    plain("案件编号", "case_id"),
    Column("案件类型", lambda r, _: CASE_TYPES_ZH.get(r.get("case_type") or "", r.get("case_type"))),
    plain("日志位置", "position"),
    plain("版本", "version"),
    when("时间", "occurred_at"),
    Column("操作人", lambda r, look: r.get("actor_name") or look.person(r.get("actor_id"))),
    plain("操作人编号", "actor_id"),
    Column("角色", lambda r, _: r.get("actor_role_zh") or label("role", r.get("actor_role"), "zh")),
    plain("理由", "reason"),
    plain("摘要", "summary_zh"),
)

CONSULTATION_ZH = (
    plain("议事编号", "id"),
    compound(),
    plain("小区编号", "compound_id"),
    coded("状态", "status", "consultation_status"),
    plain("议题", "topic"),
    Column("涉及诉求数", lambda r, _: len(r.get("need_ids") or [])),
    joined("涉及诉求编号", "need_ids"),
    person("提议人", "proposed_by"),
    plain("提议人编号", "proposed_by"),
    when("提议时间", "proposed_at"),
    when("召集时间", "convened_at"),
    when("开会时间", "meets_at"),
    plain("地点", "place"),
    coded("议事方式", "method", "method"),
    coded("事项", "matter", "matter"),
    plain("表决业主人数", "electorate_size"),
    plain("专有部分总面积（m²）", "total_area"),
    plain("已表决人数", "votes_cast"),
    coded("结果", "outcome", "outcome"),
    when("结束时间", "concluded_at"),
    plain("决议", "resolution"),
    when("公示时间", "published_at"),
    plain("行动事项数", "actions_total"),
    plain("已完成行动事项数", "actions_done"),
    when("归档时间", "closed_at"),
    plain("版本", "version"),
)

COMMITMENT_ZH = (
    plain("清单编号", "id"),
    compound(),
    plain("小区编号", "compound_id"),
    plain("标题", "title"),
    party("服务方", "provider_party_id"),
    plain("服务方编号", "provider_party_id"),
    coded("服务方类型", "provider_kind", "party_kind"),
    coded("状态", "status", "commitment_status"),
    plain("状态说明", "status_reason"),
    plain("生效版本", "in_effect_version"),
    plain("待确认版本", "pending_version"),
    Column("待确认方", lambda r, _: _labels("confirming_party", r.get("awaiting_confirmation_from"))),
    Column("生效事项", lambda r, _: _items_zh(r.get("in_effect_items"))),
    person("起草人", "drafted_by"),
    plain("起草人编号", "drafted_by"),
    when("起草时间", "drafted_at"),
    when("生效时间", "took_effect_at"),
    when("暂停时间", "suspended_at"),
    when("终止时间", "terminated_at"),
    plain("意见数", "opinions"),
    plain("版本", "version"),
)

FULFILMENT_ZH = (
    plain("清单编号", "commitment_id"),
    plain("事项序号", "number"),
    plain("事项", "title"),
    Column("时限", lambda r, _: limit_zh(r.get("time_limit"))),
    yes_no("在生效版本中", "in_version_in_effect"),
    plain("检查达标次数", "inspections_met"),
    plain("检查未达标次数", "inspections_not_met"),
    plain("派单诉求数", "needs_assigned"),
    plain("已办结诉求数", "needs_resolved"),
    plain("按时办结诉求数", "needs_resolved_within_limit"),
    plain("超时诉求数", "needs_overdue"),
    plain("履约次数", "fulfilled"),
    plain("考核次数", "assessed"),
    Column("履约率", lambda r, _: _rate(r.get("fulfilment_rate"))),
)

DISPUTE_ZH = (
    plain("诉求编号", "need_id"),
    compound(),
    plain("小区编号", "compound_id"),
    plain("标题", "title"),
    coded("诉求状态", "status", "need_status"),
    when("登记时间", "reported_at"),
    when("受理时间", "accepted_at"),
    plain("第几次协商", "consultation_no"),
    when("提交协商时间", "escalated_at"),
    plain("协商议事编号", "consultation_id"),
    plain("议题", "consultation_topic"),
    coded("议事方式", "method", "method"),
    coded("事项", "matter", "matter"),
    coded("表决结果", "vote_outcome", "outcome"),
    Column("参与表决面积占比", lambda r, _: share_zh(r.get("participation_area"))),
    Column("参与表决人数占比", lambda r, _: share_zh(r.get("participation_owners"))),
    Column("同意面积占比", lambda r, _: share_zh(r.get("approval_area"))),
    Column("同意人数占比", lambda r, _: share_zh(r.get("approval_owners"))),
    plain("决议", "resolution"),
    plain("已完成行动事项数", "actions_done"),
    plain("行动事项数", "actions_total"),
    when("协商归档时间", "consultation_closed_at"),
    when("退回时间", "returned_at"),
    coded("协商结果", "consultation_outcome", "outcome"),
    when("办结时间", "resolved_at"),
    coded("评价", "evaluation", "evaluation"),
    when("评价时间", "evaluated_at"),
    plain("重办次数", "redo_count"),
)

VISIT_ZH = (
    plain("走访编号", "id"),
    compound(),
    plain("小区编号", "compound_id"),
    Column("楼栋", lambda r, look: look.building(r.get("compound_id"), r.get("building_id"))),
    Column("房屋", lambda r, look: look.household(r.get("compound_id"), r.get("household_id"))),
    plain("房屋编号", "household_id"),
    when("走访时间", "visited_at"),
    plain("走访日期", "visited_on"),
    person("走访人", "visitor_id"),
    plain("走访人编号", "visitor_id"),
    coded("走访人角色", "visitor_role", "role"),
    plain("记录", "notes"),
    Column("发现诉求数", lambda r, _: len(r.get("need_ids") or [])),
    joined("诉求编号", "need_ids"),
)

COMPOUND_ZH = (
    plain("小区编号", "id"),
    plain("名称", "name"),
    plain("社区", "community"),
    plain("地址", "address"),
    Column("楼栋数", lambda r, _: len(r.get("buildings") or [])),
    Column("户数", lambda r, _: len(r.get("households") or [])),
    plain("版本", "version"),
)

PARTY_ZH = (
    plain("单位编号", "id"),
    compound(),
    plain("小区编号", "compound_id"),
    coded("类型", "kind", "party_kind"),
    plain("名称", "name"),
    plain("联系方式", "contact"),
    plain("版本", "version"),
)


def zh_rows(rows: Iterable[Row], columns: tuple[Column, ...], lookups: Lookups) -> Iterator[Row]:
    """``rows`` as Chinese cells keyed by header, the people of a batch of
    rows named with one read."""
    people = [name for column in columns for name in column.people]
    source = iter(rows)
    while batch := list(itertools.islice(source, _BATCH)):
        if people:
            lookups.learn_people(row.get(name) for row in batch for name in people)
        for row in batch:
            yield {column.header: column.cell(row, lookups) for column in columns}


def export_response(
    rows: Iterable[Row],
    columns: tuple[str, ...],
    filename: str,
    *,
    lang: Lang = "en",
    zh: tuple[Column, ...] | None = None,
    services: Any = None,
) -> StreamingResponse:
    """A list or trail as CSV: the published ``columns`` in English, or the
    ``zh`` columns for ``lang=zh``."""
    if lang == "zh" and zh is not None:
        headers = tuple(column.header for column in zh)
        return csv_response(zh_rows(rows, zh, Lookups(services)), headers, filename)
    return csv_response(rows, columns, filename)
