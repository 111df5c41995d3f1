"""Exports for Excel users (issue 21, item 2): ``?format=csv&lang=zh`` gives
Chinese headers, labels instead of codes, names beside ids and local times to
the minute; without ``lang`` the published English columns are unchanged.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from api.export import NEED_ZH, Lookups, limit_zh, share_zh, zh_rows
from application.labels import LABELS
from domain.actor import Role
from tests.api.client import Api
from tests.api.test_commitments_api import confirm_all, draft
from tests.api.test_consultations_api import convene_vote, propose
from tests.world import World

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|[+-]\d{2}:\d{2}$|\d{2}:\d{2}:\d{2}\.\d+")
LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Every code a person might otherwise read in a cell.
CODES = {code for kind in LABELS.values() for code in kind["en"]} - {"other"}
# Codes of more than one word: never in a Chinese cell, even within text.
LONG_CODES = {code for code in CODES if "_" in code}

# The published English columns, as they were before ``lang`` (a contract).
NEED_COLUMNS = [
    "id", "compound_id", "status", "status_zh", "overdue", "source", "category", "priority",
    "title", "reporter_id", "household_id", "assigned_party_id", "assigned_party_role",
    "commitment_id", "commitment_item_no", "consultation_id", "reported_at", "accepted_at",
    "assigned_at", "responded_at", "resolved_at", "evaluated_at", "closed_at", "respond_due",
    "resolve_due", "responded_within_limit", "resolved_within_limit", "evaluation",
    "redo_count", "extensions", "supervision_notices", "version",
    # Added after the first release, at the end only: every column above keeps its place.
    "toward", "raised_by_party_id", "offer_id",
]
HISTORY_COLUMNS = [
    "case_id", "case_type", "position", "version", "occurred_at", "event", "actor_id",
    "actor_name", "actor_role", "actor_role_zh", "reason", "summary_zh", "summary_en",
]
CONSULTATION_COLUMNS = [
    "id", "compound_id", "status", "status_zh", "topic", "need_ids", "proposed_by",
    "proposed_at", "convened_at", "meets_at", "place", "method", "matter", "electorate_size",
    "total_area", "votes_cast", "outcome", "concluded_at", "resolution", "published_at",
    "actions_total", "actions_done", "closed_at", "version",
]
COMMITMENT_COLUMNS = [
    "id", "compound_id", "title", "provider_party_id", "provider_kind", "status", "status_zh",
    "status_reason", "in_effect_version", "pending_version", "awaiting_confirmation_from",
    "in_effect_items", "drafted_at", "drafted_by", "took_effect_at", "suspended_at",
    "terminated_at", "opinions", "version",
]
DISPUTE_COLUMNS = [
    "need_id", "compound_id", "title", "status", "reported_at", "accepted_at",
    "consultation_no", "escalated_at", "consultation_id", "consultation_topic", "method",
    "matter", "vote_outcome", "participation_area", "participation_owners", "approval_area",
    "approval_owners", "resolution", "actions_done", "actions_total", "consultation_closed_at",
    "returned_at", "consultation_outcome", "resolved_at", "evaluation", "evaluated_at",
    "redo_count", "need_history", "consultation_history",
]
VISIT_COLUMNS = [
    "id", "compound_id", "building_id", "household_id", "visited_at", "visited_on",
    "visitor_id", "visitor_role", "notes", "need_ids",
]
FULFILMENT_COLUMNS = [
    "commitment_id", "number", "title", "time_limit", "in_version_in_effect",
    "inspections_met", "inspections_not_met", "needs_assigned", "needs_resolved",
    "needs_resolved_within_limit", "needs_overdue", "fulfilled", "assessed", "fulfilment_rate",
]


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    """The world, with people named in Chinese acting (the world's own are
    named after their roles, which would read like codes)."""
    people = {
        "陈居民": (Role.RESIDENT, {"household_id": world.households[0]}),
        "王网格": (Role.GRID_WORKER, {}),
        "李社工": (Role.COMMUNITY_STAFF, {}),
        "张物业": (Role.PROPERTY_COMPANY, {"party_id": world.parties["property_company"]}),
    }
    for name, (role, extra) in people.items():
        person = world.services.people.register(name, created_by="test")
        issued = world.services.credentials.issue(
            person_id=person.id, role=role, compound_ids=[world.compound_id], **extra
        )
        world.tokens[name] = issued.token
        world.actors[name] = issued.actor
    return Api(client, world)


def rows_of(response) -> list[list[str]]:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())  # UTF-8 with BOM, for Excel
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def local(services: Any, iso: str) -> str:
    zone = ZoneInfo(services.settings.timezone)
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def names_of(world: World) -> set[str]:
    """The test world's names of people and parties, which are (or hold) codes:
    free text to an export, not a code it failed to turn into words."""
    parties = {row["name"] for row in world.services.views.iter_cases("party", None)}
    return parties | set(world.tokens)


def assert_for_people(
    rows: list[list[str]], *, names: set[str], skip: tuple[str, ...] = ()
) -> None:
    """Chinese headers; no cell an ISO time, a code, or JSON (names aside)."""
    header, *body = rows
    assert all(re.search(r"[\u4e00-\u9fff]", h) for h in header), header
    assert len(set(header)) == len(header)
    for row in body:
        for name, cell in zip(header, row, strict=True):
            if name in skip or cell in names:
                continue
            assert not ISO_TIME.search(cell), (name, cell)
            assert cell not in CODES, (name, cell)
            words = cell
            for known in sorted(names, key=len, reverse=True):
                words = words.replace(known, "")
            assert not any(code in words for code in LONG_CODES), (name, cell)
            assert not cell.startswith(("{", "[")), (name, cell)
            if "时间" in name or name in ("响应时限", "办结时限"):
                assert cell == "" or LOCAL_TIME.match(cell), (name, cell)


def _visited(api: Api) -> str:
    """A need a grid worker registered on a household visit."""
    body = {
        "compound_id": str(api.world.compound_id),
        "household_id": str(api.world.households[1]),
        "source": "household_visit",
        "title": "厨房漏水",
        "description": "水管渗漏",
    }
    return api.ok("王网格", "/needs", body)["id"]


def _handled(api: Api) -> str:
    """A resident's need, accepted, assigned, answered and resolved, judged
    unsatisfied by the resident (a redo), all by people with names."""
    world = api.world
    need = api.ok(
        "陈居民",
        "/needs",
        {
            "compound_id": str(world.compound_id),
            "source": "self_report",
            "category": "facilities",
            "title": "2号楼电梯停运",
            "description": "电梯自周一起停运",
        },
    )["id"]
    api.ok("李社工", f"/needs/{need}/accept", {"priority": "urgent"})
    api.ok("李社工", f"/needs/{need}/assign", {"party_id": str(world.parties["property_company"])})
    api.ok("张物业", f"/needs/{need}/acknowledge")
    api.ok("张物业", f"/needs/{need}/resolve", {"outcome": "已更换电梯主板"})
    api.ok("陈居民", f"/needs/{need}/evaluate", {"evaluation": "unsatisfied", "comment": "仍有异响"})
    return need


def test_the_zh_csv_of_the_needs_list_reads_in_chinese_with_local_times(api: Api) -> None:
    need = _handled(api)
    visited = _visited(api)
    after = api.log_position()
    as_json = api.get("supervisor", f"/needs/{need}", after=after).json()

    rows = rows_of(api.get("supervisor", "/needs", format="csv", lang="zh", after=after))
    assert rows[0][:4] == ["诉求编号", "小区", "小区编号", "状态"]
    assert_for_people(rows, names=names_of(api.world))
    [row] = [r for r in as_dicts(rows) if r["诉求编号"] == need]
    assert row["小区"] == "幸福里小区"
    assert row["来源"] == "居民自报"
    assert row["类别"] == "设施设备"
    assert row["优先级"] == "紧急"
    assert row["状态"] == "已派单"  # back with the company for redo
    assert row["评价"] == "不满意" and row["重办次数"] == "1"
    assert row["反映人"] == "陈居民" and row["反映人编号"] == as_json["reporter_id"]
    assert row["房屋"] == "1号楼 101" and row["房屋编号"] == str(api.world.households[0])
    assert row["承办单位"] == "property_company 甲"
    assert row["承办单位编号"] == str(api.world.parties["property_company"])
    assert row["承办单位类型"] == "物业服务企业"
    yes_no = {True: "是", False: "否", None: ""}
    assert row["是否超时"] == "否"
    assert row["按时响应"] == yes_no[as_json["responded_within_limit"]]
    times = {"登记时间": "reported_at", "受理时间": "accepted_at", "派单时间": "assigned_at",
             "办结时间": "resolved_at", "评价时间": "evaluated_at", "响应时限": "respond_due",
             "办结时限": "resolve_due"}
    assert as_json["reported_at"] and as_json["evaluated_at"] and as_json["resolve_due"]
    for header, field in times.items():
        expected = local(api.world.services, as_json[field]) if as_json[field] else ""
        assert row[header] == expected, header
    [row] = [r for r in as_dicts(rows) if r["诉求编号"] == visited]
    assert row["来源"] == "入户摸排" and row["类别"] == "其他" and row["状态"] == "已登记"
    assert row["反映人"] == "王网格" and row["房屋"] == "1号楼 102"
    assert row["优先级"] == row["承办单位"] == row["受理时间"] == ""


def test_the_zh_csv_of_a_need_history_reads_in_chinese_with_local_times(api: Api) -> None:
    need = _handled(api)
    after = api.log_position()
    trail = api.get("supervisor", f"/needs/{need}/history", after=after).json()["events"]

    rows = rows_of(api.get("supervisor", f"/needs/{need}/history", format="csv", lang="zh"))
    assert rows[0][:5] == ["案件编号", "案件类型", "日志位置", "版本", "时间"]
    assert "操作人" in rows[0] and "角色" in rows[0] and "摘要" in rows[0]
    # The summaries are the trail's own (application/readmodel.py): checked below.
    assert_for_people(rows, names=names_of(api.world), skip=("摘要",))
    lines = as_dicts(rows)
    assert len(lines) == len(trail)
    for line, event in zip(lines, trail, strict=True):
        assert line["案件编号"] == need and line["案件类型"] == "诉求"
        assert line["时间"] == local(api.world.services, event["occurred_at"])
        assert line["操作人编号"] == event["actor_id"]
        assert line["摘要"] == event["summary_zh"]
    assert [line["操作人"] for line in lines] == [
        "陈居民", "李社工", "李社工", "张物业", "张物业", "陈居民"
    ]
    assert [line["角色"] for line in lines][:2] == ["居民/业主", "社区工作人员"]


def test_the_summaries_in_the_zh_csv_of_a_history_are_for_people(api: Api) -> None:
    need = _handled(api)
    rows = rows_of(
        api.get("supervisor", f"/needs/{need}/history", format="csv", lang="zh",
                after=api.log_position())
    )
    assert_for_people(rows, names=names_of(api.world))
    for line in as_dicts(rows):
        assert "None" not in line["摘要"] and not UUID_TEXT.search(line["摘要"])


def test_the_english_csv_keeps_its_published_columns(api: Api) -> None:
    need = _handled(api)
    after = api.log_position()
    for lang in ({}, {"lang": "en"}):
        needs = rows_of(api.get("supervisor", "/needs", format="csv", after=after, **lang))
        assert needs[0] == NEED_COLUMNS
        [row] = [r for r in as_dicts(needs) if r["id"] == need]
        assert row["source"] == "self_report" and row["priority"] == "urgent"
        assert row["reported_at"].endswith("+00:00") and "T" in row["reported_at"]
        history = rows_of(api.get("supervisor", f"/needs/{need}/history", format="csv", **lang))
        assert history[0] == HISTORY_COLUMNS
        assert history[1][HISTORY_COLUMNS.index("event")] == "Need.Registered"
    plain = api.get("supervisor", "/needs", format="csv", after=after).content
    assert api.get("supervisor", "/needs", format="csv", lang="en").content == plain
    headers = {
        "/consultations": CONSULTATION_COLUMNS,
        "/commitments": COMMITMENT_COLUMNS,
        "/audit/disputes": DISPUTE_COLUMNS,
        "/visits": VISIT_COLUMNS,
    }
    for path, columns in headers.items():
        assert rows_of(api.get("supervisor", path, format="csv"))[0] == columns, path


def test_every_list_and_history_has_a_zh_csv(api: Api) -> None:
    world = api.world
    commitment = draft(api)
    confirm_all(api, commitment, 1)
    need = api.ok("王网格", "/needs", {
        "compound_id": str(world.compound_id), "source": "hotline",
        "title": "电梯困人", "description": "3号楼电梯困人",
    })["id"]
    api.ok("李社工", f"/needs/{need}/accept", {"priority": "urgent"})
    api.ok("李社工", f"/needs/{need}/assign", {
        "party_id": str(world.parties["property_company"]),
        "commitment_id": commitment, "commitment_item_no": 2,
    })
    disputed = api.to_in_progress()
    consultation = propose(api, [disputed])["id"]
    convene_vote(api, consultation)
    api.ok("resident", f"/consultations/{consultation}/votes", {"choice": "for"})
    api.ok("party_branch", f"/consultations/{consultation}/close-vote")
    api.ok("王网格", "/visits", {
        "compound_id": str(world.compound_id), "household_id": str(world.households[1]),
        "notes": "独居老人", "needs": [{"title": "厨房漏水", "description": "水管渗漏"}],
    })
    after = api.log_position()
    assert world.services.updater.wait_for(after, 10)

    paths = {
        "/needs": "诉求编号",
        f"/needs/{disputed}/history": "案件编号",
        "/consultations": "议事编号",
        f"/consultations/{consultation}/history": "案件编号",
        "/commitments": "清单编号",
        f"/commitments/{commitment}/history": "案件编号",
        f"/commitments/{commitment}/fulfilment": "清单编号",
        "/audit/disputes": "诉求编号",
        "/visits": "走访编号",
    }
    found: dict[str, list[dict[str, str]]] = {}
    for path, first in paths.items():
        rows = rows_of(api.get("supervisor", path, format="csv", lang="zh"))
        assert rows[0][0] == first, path
        assert len(rows) > 1, path
        assert_for_people(rows, names=names_of(world), skip=("摘要",))
        found[path] = as_dicts(rows)

    [assigned] = [r for r in found["/needs"] if r["诉求编号"] == need]
    assert assigned["来源"] == "12345 转办"
    assert assigned["服务清单事项"] == "第 2 项 电梯维保"
    [escalated] = [r for r in found["/needs"] if r["诉求编号"] == disputed]
    assert escalated["协商议事"].startswith("2号楼电梯反复停运")
    [listed] = found["/consultations"]
    assert listed["议事方式"] == "业主表决" and listed["提议人"] == "party_branch"
    assert listed["开会时间"] == "2026-03-10 19:00"  # MEETS_AT, in Beijing time
    [service_list] = found["/commitments"]
    assert service_list["服务方"] == "property_company 甲" and service_list["状态"] == "已生效"
    assert "第 2 项 电梯维保（2 小时）" in service_list["生效事项"]
    items = found[f"/commitments/{commitment}/fulfilment"]
    assert [i["时限"] for i in items] == ["24 小时", "2 小时", "3 个工作日"]
    assert {i["在生效版本中"] for i in items} == {"是"}
    [dispute] = found["/audit/disputes"]
    assert dispute["议事方式"] == "业主表决"
    assert re.match(r"^\d+/\d+（\d+\.\d%）$", dispute["参与表决人数占比"])
    [visit] = found["/visits"]
    assert visit["走访人"] == "王网格" and visit["走访人角色"] == "网格员/楼栋长"
    assert visit["楼栋"] == "1号楼" and visit["房屋"] == "1号楼 102"
    assert visit["发现诉求数"] == "1"


def test_an_unknown_lang_is_refused_naming_it(api: Api) -> None:
    need = api.register()["id"]
    paths = ["/needs", f"/needs/{need}/history", "/consultations", "/commitments",
             "/audit/disputes", "/visits"]
    for path in paths:
        for lang in ("fr", "ZH", "zh-CN", ""):
            for form in ("csv", "json"):
                response = api.get("supervisor", path, format=form, lang=lang)
                assert response.status_code == 422, (path, lang, response.text)
                assert [d["loc"] for d in response.json()["detail"]] == [["query", "lang"]]
        # Without CSV, lang changes nothing.
        answer = api.get("supervisor", path, lang="zh", after=api.log_position())
        assert answer.status_code == 200, path


# ----- without a store ----------------------------------------------------------------------


def test_people_are_named_a_batch_of_rows_at_a_time() -> None:
    asked: list[set[str]] = []

    def names(ids: set[str]) -> dict[str, str]:
        asked.append(set(ids))
        return {i: f"名{i}" for i in ids if i != "gone"}

    services = SimpleNamespace(
        settings=SimpleNamespace(timezone="Asia/Shanghai"),
        people=SimpleNamespace(names=names),
        views=SimpleNamespace(case=lambda kind, key: None),
    )
    rows = [{"id": str(n), "reporter_id": f"p{n}"} for n in range(450)]
    rows += [{"id": "again", "reporter_id": "p1"}, {"id": "x", "reporter_id": "gone"}]
    written = list(zh_rows(iter(rows), NEED_ZH, Lookups(services)))
    assert len(written) == 452
    # One read per 200 rows, for the names not yet known.
    assert [len(ids) for ids in asked] == [200, 200, 51]
    assert "p1" in asked[0] and "gone" in asked[2]
    assert written[1]["反映人"] == written[450]["反映人"] == "名p1"
    assert written[-1]["反映人"] == ""  # no longer registered: the id column still says who


def test_times_are_local_to_the_minute_and_limits_and_shares_in_words() -> None:
    services = SimpleNamespace(settings=SimpleNamespace(timezone="Asia/Shanghai"))
    look = Lookups(services)
    assert look.time("2026-12-08T05:11:59.953514+00:00") == "2026-12-08 13:11"
    assert look.time("2026-12-31T16:30:00+00:00") == "2027-01-01 00:30"
    assert look.time(None) == "" and look.time("") == ""
    assert Lookups(SimpleNamespace(settings=SimpleNamespace(timezone="UTC"))).time(
        "2026-12-08T05:11:59+00:00"
    ) == "2026-12-08 05:11"
    assert limit_zh("24h") == "24 小时" and limit_zh("3wd") == "3 个工作日"
    assert share_zh("2/3") == "2/3（66.7%）" and share_zh("1") == "1（100.0%）"
    assert share_zh(None) == ""
