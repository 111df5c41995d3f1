"""The trail's summaries as a person reads them (issue 21, item 1).

Every event type of every aggregate has a summary in zh-CN and in English
that names people, parties, households, service items and consultations by
their names, codes by their labels and times in the deployment's zone, with
no id, ``None``, code or ISO timestamp; and a need's trail read through HTTP,
on both stores, says what happened to it: the item it was assigned under,
the redo after an unsatisfied evaluation and to whom, and the consultation's
outcome it came back with.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate
from fastapi.testclient import TestClient

import application.projections  # noqa: F401 - registers the case types
from api.app import create_app
from application.labels import LABELS
from application.readmodel import CASE_TYPES, SUMMARIES, history_entry, utc_text
from application.summaries import (
    CommitmentFacts,
    CompoundFacts,
    ConsultationFacts,
    Names,
    NeedFacts,
    PartyFacts,
    area_text,
    limit_text,
    local_time,
)
from domain.consultation import QUORUM_RULE
from infrastructure.store import Services
from tests.api.client import Api
from tests.world import World, build_world

# ----- what a summary must never hold ------------------------------------------------

UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}:\d{2}|[+-]\d{2}:\d{2}\b")
# Every code a person may be shown, from the labels' tables.
CODES = sorted(
    {code for kinds in LABELS.values() for lang in kinds.values() for code in lang}
    | {"household_visit", "owners_committee", "adopted", "no_quorum", "in_effect", "not_met"}
)
CODE_TEXT = re.compile(
    r"(?<![A-Za-z_])(" + "|".join(re.escape(c) for c in CODES if re.fullmatch(r"[a-z_]+", c)) + r")(?![A-Za-z_])"
)


def machine_text_in(text: str, *, zh: bool, allowed: tuple[str, ...] = ()) -> list[str]:
    """What a person should not read in ``text``: ids, None, ISO moments,
    codes (in zh-CN: any Latin word at all); ``allowed`` are registered names."""
    for name in sorted(allowed, key=len, reverse=True):
        text = text.replace(name, "")
    found = UUID_TEXT.findall(text) + ISO_MOMENT.findall(text)
    found += re.findall(r"\bNone\b", text)
    if zh:
        found += re.findall(r"[A-Za-z_]{2,}", text)
    else:
        found += re.findall(r"\b[a-z]+_[a-z_]+\b", text)
    return found


# ----- every event type, rendered from a made-up event ----------------------------------

ACTOR, OWNER = str(uuid4()), str(uuid4())
COMPOUND, BUILDING, HOUSEHOLD, HOUSEHOLD2 = uuid4(), uuid4(), uuid4(), uuid4()
PARTY, OTHER_PARTY = uuid4(), uuid4()
NEED, OTHER_NEED, CONSULTATION, COMMITMENT = uuid4(), uuid4(), uuid4(), uuid4()
MOMENT = datetime(2026, 12, 8, 5, 11, 59, 953514, tzinfo=UTC)  # 13:11 in Shanghai
ITEMS = [
    {"number": 1, "title": "电梯维保", "standard": "每月两次", "frequency": "每月", "time_limit": "24h"},
    {"number": 2, "title": "楼道保洁", "standard": "每日一次", "frequency": "每日", "time_limit": "3wd"},
]

# By field name: values as events carry them (codes where a field holds a code).
SAMPLES: dict[str, Any] = {
    "actor_id": ACTOR,
    "actor_role": "community_staff",
    "compound_id": COMPOUND,
    "building_id": BUILDING,
    "household_id": HOUSEHOLD,
    "reporter_id": ACTOR,
    "source": "household_visit",
    "category": "neighbour_dispute",
    "priority": "normal",
    "title": "楼道堆放杂物",
    "description": "三单元楼道长期堆放杂物",
    "location": "三单元楼道",
    "attachments": ["照片.jpg"],
    "visit_id": uuid4(),
    "respond_due": MOMENT,
    "resolve_due": MOMENT,
    "previous_due": MOMENT,
    "meets_at": MOMENT,
    "visited_at": MOMENT,
    "party_id": PARTY,
    "party_role": "owners_committee",
    "commitment_id": COMMITMENT,
    "commitment_item_no": 1,
    "reason": "居民多次反映",
    "within_limit": True,
    "outcome": "已清理完毕",
    "evaluation": "unsatisfied",
    "comment": "仍有杂物",
    "on_behalf_of_reporter": True,
    "resolved": False,
    "obtained_by": "phone",
    "into_need_id": OTHER_NEED,
    "to_body": "街道城管科",
    "text": "已联系清运",
    "consultation_id": CONSULTATION,
    "resolution": "同意加装电梯",
    "name": "幸福里小区",
    "community": "和平社区",
    "address": "和平路1号",
    "number": 1,
    "exclusive_area": Decimal("90.50"),
    "owner_name": "李强",
    "owner_id": OWNER,
    "kind": "property_company",
    "contact": "13800000000",
    "visited_on": "2026-12-08",
    "notes": "独居老人，身体尚可",
    "need_ids": [NEED, OTHER_NEED],
    "need_id": OTHER_NEED,
    "topic": "加装电梯",
    "place": "社区议事厅",
    "invited_party_ids": [PARTY, OTHER_PARTY],
    "invited_others": ["街道城建科"],
    "method": "vote",
    "motion": "同意加装电梯",
    "matter": "change_common_parts_use",
    "electorate_source": "households",
    "electorate": [{"owner_id": OWNER, "exclusive_area": Decimal("90")}],
    "total_owners": 12,
    "total_area": Decimal("1080.0"),
    "speaker": OWNER,
    "choice": "for",
    "on_behalf_of_owner": False,
    "participating_owners": 10,
    "participating_area": Decimal("900"),
    "for_owners": 8,
    "for_area": Decimal("720"),
    "against_owners": 1,
    "against_area": Decimal("90"),
    "abstain_owners": 1,
    "abstain_area": Decimal("90"),
    "participation_area": "5/6",
    "participation_owners": "5/6",
    "approval_area": "4/5",
    "approval_owners": "4/5",
    "quorum_reached": True,
    "quorum_rule": QUORUM_RULE,
    "approval_rule": QUORUM_RULE,
    "due_on": "2026-12-31",
    "note": "已完成",
    "provider_party_id": PARTY,
    "provider_kind": "property_company",
    "drafter_party_id": OTHER_PARTY,
    "list_version": 2,
    "items": ITEMS,
    "item_no": 1,
    "on_behalf_of_resident": True,
    "confirming_as": "owners_committee",
    "replaced_version": 1,
    "based_on": 1,
    "superseded_version": None,
    "added": [{**ITEMS[0], "number": 3, "title": "垃圾清运", "time_limit": "7d"}],
    "changed": [{**ITEMS[0], "time_limit": "30m"}],
    "removed": [2],
    "result": "not_met",
    "month": "2026-11",
    "position": 12345,
    "figures": {},
    # both ways (DESIGN 2.5): offers, needs toward the compound, the providers' evaluations
    "toward": "compound",
    "raised_by_party_id": OTHER_PARTY,
    "offer_id": uuid4(),
    "coordination": "satisfied",
    "cooperation": "basically_satisfied",
    "party_kind": "co_building_unit",
    "capacity": 30,
    "schedule": "每周二、四下午",
    "starts_on": "2026-12-01",
    "ends_on": "2027-05-31",
    # personal data (domain/personal.py): whose it is, and an erasure
    "subject_id": OWNER,
    "person_id": OWNER,
}
# Where one event's field of a name holds something else than the others'.
EVENT_SAMPLES: dict[tuple[str, str], Any] = {
    ("Need.ReturnedFromConsultation", "outcome"): "adopted",
    ("Consultation.VoteClosed", "outcome"): "adopted",
    ("Consultation.ActionItemAdded", "title"): "更换电梯",
    ("ServiceCommitment.Drafted", "title"): "物业服务清单",
    ("ServiceCommitment.Drafted", "list_version"): 1,
    ("ServiceCommitment.TookEffect", "list_version"): 2,
    ("Party.Registered", "name"): "幸福物业",
    ("Compound.HouseholdAdded", "number"): "302",
    ("Compound.BuildingAdded", "name"): "2号楼",
    ("Offer.Published", "category"): "education",
    ("Offer.Published", "title"): "四点半课堂",
    ("Offer.Changed", "category"): "education",
    ("Offer.Changed", "title"): "四点半课堂",
    ("Offer.Changed", "changed"): ["capacity", "schedule"],
}

NAMES = Names(
    persons={ACTOR: "王芳", OWNER: "李强"},
    facts={
        str(PARTY): PartyFacts("幸福物业", "property_company"),
        str(OTHER_PARTY): PartyFacts("幸福里业委会", "owners_committee"),
        str(COMPOUND): CompoundFacts(
            "幸福里小区",
            {str(BUILDING): "1号楼"},
            {str(HOUSEHOLD): (str(BUILDING), "302"), str(HOUSEHOLD2): (str(BUILDING), "303")},
        ),
        str(NEED): NeedFacts("楼道堆放杂物"),
        str(OTHER_NEED): NeedFacts("电梯异响"),
        str(CONSULTATION): ConsultationFacts("加装电梯", str(COMPOUND), {1: "更换电梯"}),
        str(COMMITMENT): CommitmentFacts(
            "物业服务清单",
            str(COMPOUND),
            {1: {1: ("电梯维保", "24h"), 2: ("楼道保洁", "3wd")}, 2: {1: ("电梯维保", "24h")}},
            ((utc_text(datetime(2026, 1, 1, tzinfo=UTC)) or "", 1),),
            100,
        ),
    },
    histories={str(NEED): [(3, str(PARTY), "property_company", False), (6, None, None, True)]},
)


def event_classes() -> Iterator[tuple[str, type]]:
    """Every event type of every aggregate with a case type (read from the
    aggregates' classes: a new event type is found here without a word)."""
    for case_type in CASE_TYPES:
        aggregate = case_type.aggregate
        found = [
            value
            for value in vars(aggregate).values()
            if isinstance(value, type)
            and issubclass(value, aggregate.Event)
            and value is not aggregate.Event
        ]
        created = [c for c in found if issubclass(c, Aggregate.Created) and c.__name__ != "Created"]
        for value in found:
            if value.__name__ == "Created" and created:
                continue  # the library's default, never recorded: the aggregate has its own
            yield value.__qualname__, value


EVENT_TYPES = sorted(event_classes())


def made_up(name: str, cls: type, **changes: Any) -> Any:
    """An event of ``cls`` with the samples' values (id and version as ``changes`` say)."""
    values: dict[str, Any] = {
        "originator_id": changes.pop("originator_id", {"Need": NEED, "Consultation": CONSULTATION, "ServiceCommitment": COMMITMENT, "Compound": COMPOUND}.get(name.split(".")[0], uuid4())),
        "originator_version": changes.pop("originator_version", 7),
        "timestamp": MOMENT,
    }
    for f in dataclasses.fields(cls):
        if f.name in values:
            continue
        if f.name == "originator_topic":
            values[f.name] = f"{cls.__module__}:{cls.__qualname__.split('.')[0]}"
            continue
        if (name, f.name) in EVENT_SAMPLES:
            values[f.name] = EVENT_SAMPLES[(name, f.name)]
        elif f.name in SAMPLES:
            values[f.name] = SAMPLES[f.name]
        else:
            raise AssertionError(f"{name}.{f.name}: add a sample value for this field to SAMPLES")
    values.update(changes)
    return cls(**values)


def test_every_event_type_of_every_aggregate_has_a_summary() -> None:
    assert len(EVENT_TYPES) >= 40
    missing = [name for name, _ in EVENT_TYPES if name not in SUMMARIES]
    assert missing == []


@pytest.mark.parametrize("name,cls", EVENT_TYPES, ids=[n for n, _ in EVENT_TYPES])
@pytest.mark.parametrize("names", [NAMES, Names()], ids=["names", "no-names"])
def test_each_summary_reads_as_text_for_people_in_both_languages(
    name: str, cls: type, names: Names
) -> None:
    entry = history_entry(made_up(name, cls), 42, "need", names)
    zh, en = entry["summary_zh"], entry["summary_en"]
    assert zh and en and zh != name and en != name
    assert machine_text_in(zh, zh=True) == [], zh
    assert not CODE_TEXT.search(zh), zh
    assert machine_text_in(en, zh=False) == [], en
    assert re.search(r"[\u4e00-\u9fff]", zh), zh  # Chinese, not English
    # The machine fields keep ids and codes as they were.
    assert entry["actor_id"] == ACTOR and entry["actor_role"] == "community_staff"
    if "party_id" in entry["data"]:
        assert entry["data"]["party_id"] == str(PARTY)
    if names is NAMES:
        assert "未登记" not in zh, zh  # whoever is named is named by name
    else:
        assert "Unregistered" not in en  # (the labels' capitals stay mid-sentence words)


def _summary(name: str, names: Names = NAMES, **changes: Any) -> tuple[str, str]:
    cls = dict(EVENT_TYPES)[name]
    entry = history_entry(made_up(name, cls, **changes), 1, "need", names)
    return entry["summary_zh"], entry["summary_en"]


def test_the_words_people_read() -> None:
    zh, en = _summary("Need.Registered")
    assert zh.startswith("登记诉求「楼道堆放杂物」：来源 入户摸排，类别 邻里纠纷，住户 1号楼 302")
    assert "source: household visit, category: neighbour dispute" in en and "1号楼 302" in en

    zh, en = _summary("Need.Accepted")
    assert zh == "受理：类别 邻里纠纷，优先级 一般；应于 2026-12-08 13:11 前响应，2026-12-08 13:11 前办结"
    assert "respond by 2026-12-08 13:11" in en

    zh, en = _summary("Need.Assigned", originator_version=8)
    assert zh.startswith("改派给 幸福物业（物业服务企业），依据服务清单《物业服务清单》第 1 项 电梯维保")
    assert "reassigned to 幸福物业 (property company), under item 1 “电梯维保”" in en
    zh, _ = _summary("Need.Assigned", originator_version=2)
    assert zh.startswith("派单给 幸福物业")

    # Unsatisfied: back to the party that held it, for its second redo.
    zh, en = _summary("Need.Evaluated", originator_version=9)
    assert "评价：不满意：仍有杂物（工作人员代为录入，电话回访）" in zh
    assert "诉求重新交由 幸福物业 办理，第 2 次重办" in zh
    assert "reopened for redo by 幸福物业, redo no. 2" in en
    zh, en = _summary("Need.Evaluated", evaluation="satisfied", comment=None, on_behalf_of_reporter=False)
    assert zh == "评价：满意；居民认为问题未解决。诉求归档"

    zh, en = _summary("Need.ReturnedFromConsultation", originator_version=9)
    assert zh.startswith("协商议事「加装电梯」结束，结果：通过；决议：同意加装电梯。诉求回到 幸福物业 办理")
    assert en.startswith("consultation “加装电梯” concluded: adopted; resolution: 同意加装电梯. The need is back with 幸福物业")

    zh, en = _summary("Consultation.VoteCast")
    assert zh == "业主 李强 表决：赞成（专有面积 90.5 m²，本人投票）"
    zh, en = _summary("Consultation.VoteCast", owner_id=str(HOUSEHOLD2), on_behalf_of_owner=True)
    assert zh == "1号楼 303 的业主 表决：赞成（专有面积 90.5 m²，工作人员代为录入）"
    assert "the owner of 1号楼 303" in en
    zh, en = _summary("Consultation.VoteCast", owner_id="owner-7")
    assert "未登记人员" in zh and "an unregistered person" in en and "owner-7" not in zh + en

    zh, en = _summary("Consultation.VoteClosed")
    assert "参与表决 10/12 人，900/1080 m²（达到法定比例）" in zh
    assert "赞成 8/10 人，720/900 m²" in zh
    assert en.startswith("vote closed: adopted. Turnout 10/12 owners, 900/1080 m² (quorum reached)")

    zh, en = _summary("ServiceCommitment.Drafted")
    assert "第 1 项 电梯维保（响应时限 24 小时）；第 2 项 楼道保洁（响应时限 3 个工作日）" in zh
    assert "item 2 “楼道保洁” (respond within 3 working days)" in en
    zh, en = _summary("ServiceCommitment.Amended")
    assert "新增第 3 项 垃圾清运（响应时限 7 天）" in zh
    assert "修改第 1 项 电梯维保（响应时限 30 分钟）" in zh
    assert "删除第 2 项 楼道保洁" in zh
    zh, en = _summary("ServiceCommitment.ItemInspected", list_version=1)
    assert zh.startswith("履约检查 第 1 项 电梯维保（第 1 版）：未履约")

    zh, en = _summary("HouseholdVisit.Recorded")
    assert zh.startswith("入户走访 1号楼 302（2026-12-08 13:11）：独居老人")

    zh, en = _summary("Compound.HouseholdAdded", building_id=BUILDING, owner_id=OWNER)
    assert zh == "新增住户 1号楼 302，专有面积 90.5 m²，业主 李强"


def test_an_entry_of_another_case_on_a_trail_names_that_case() -> None:
    on_need = dataclasses.replace(NAMES, trail_case=str(NEED))
    zh, en = _summary("Consultation.Closed", on_need)
    assert zh == "协商议事「加装电梯」：全部任务完成，协商议事办结"
    assert en.startswith("consultation “加装电梯”: ")
    on_list = dataclasses.replace(NAMES, trail_case=str(COMMITMENT))
    zh, _ = _summary("Need.Resolved", on_list)
    assert zh.startswith("诉求「楼道堆放杂物」：办结：已清理完毕")


def test_times_in_the_deployments_zone_limits_and_areas() -> None:
    text = utc_text(MOMENT)
    assert local_time(text) == "2026-12-08 13:11"
    assert local_time(text, ZoneInfo("Europe/Berlin")) == "2026-12-08 06:11"
    assert local_time("not a time") is None and local_time(None) is None
    zh, _ = _summary("Need.Accepted", dataclasses.replace(NAMES, timezone=ZoneInfo("Asia/Urumqi")))
    assert "2026-12-08 11:11" in zh
    assert [limit_text(t) for t in ("24h", "3wd", "7d", "30m")] == ["24 小时", "3 个工作日", "7 天", "30 分钟"]
    assert [limit_text(t, "en") for t in ("1h", "3wd", "1d")] == ["1 hour", "3 working days", "1 day"]
    assert limit_text("soon") is None
    assert [area_text(v) for v in ("90.0000", Decimal("1080.50"), "100")] == ["90", "1080.5", "100"]


# ----- a need's trail through HTTP, on both stores -------------------------------------


@pytest.fixture
def api(services: Services) -> Iterator[Api]:
    world = build_world(services)
    with TestClient(create_app(services=services)) as client:
        yield Api(client, world)


def _registered_names(world: World) -> tuple[str, ...]:
    people = [p.display_name for p in world.services.people.all()]
    parties = [f"{kind} 甲" for kind in world.parties] + ["光明物业"]
    return tuple(people + parties)


def test_a_needs_trail_through_http_reads_as_natural_text(api: Api) -> None:
    world = api.world
    pc = str(world.parties["property_company"])
    items = [
        {"number": 1, "title": "楼道保洁", "standard": "每日一次", "frequency": "每日", "time_limit": "24h"},
        {"number": 2, "title": "电梯维保", "standard": "故障两小时内到场", "frequency": "随时", "time_limit": "2h"},
    ]
    cid = api.ok(
        "party_branch",
        "/commitments",
        {"compound_id": str(world.compound_id), "provider_party_id": pc, "title": "幸福里物业服务清单", "items": items},
    )["id"]
    for who in ("party_branch", "owners_committee", "property_company"):
        api.ok(who, f"/commitments/{cid}/confirm", {"list_version": 1})

    need = api.ok(
        "resident",
        "/needs",
        {"compound_id": str(world.compound_id), "source": "self_report", "title": "电梯异响", "description": "2号梯运行时异响"},
    )["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": pc, "commitment_id": cid, "commitment_item_no": 2})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已更换导靴"})
    api.ok("resident", f"/needs/{need}/evaluate", {"evaluation": "unsatisfied", "comment": "仍有异响"})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    consultation = api.ok(
        "party_branch",
        "/consultations",
        {"compound_id": str(world.compound_id), "topic": "2号梯更换方案", "need_ids": [need]},
    )["id"]
    api.ok(
        "owners_committee",
        f"/consultations/{consultation}/convene",
        {
            "meets_at": "2026-03-10T19:00:00+08:00",
            "place": "社区党群服务中心",
            "method": "vote",
            "motion": "使用维修资金更换2号梯",
            "matter": "ordinary",
        },
    )
    api.ok("resident", f"/consultations/{consultation}/votes", {"choice": "for"})
    api.ok("resident2", f"/consultations/{consultation}/votes", {"choice": "for"})
    api.ok("staff", f"/consultations/{consultation}/votes", {"choice": "against", "owner_id": str(world.households[2])})
    last = api.ok("party_branch", f"/consultations/{consultation}/close-vote")

    response = api.get("supervisor", f"/needs/{need}/history", after=last["position"])
    assert response.status_code == 200, response.text
    trail = response.json()["events"]
    by_event = {}
    for entry in trail:
        by_event.setdefault(entry["event"], []).append(entry)
    names = _registered_names(world)
    for entry in trail:
        assert machine_text_in(entry["summary_zh"], zh=True, allowed=names) == [], entry["summary_zh"]
        assert machine_text_in(entry["summary_en"], zh=False, allowed=names) == [], entry["summary_en"]

    assert by_event["Need.Registered"][0]["summary_zh"].startswith(
        "登记诉求「电梯异响」：来源 居民自报，类别 其他，住户 1号楼 101"
    )
    accepted = by_event["Need.Accepted"][0]
    respond = datetime.fromisoformat(accepted["data"]["respond_due"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"应于 {respond:%Y-%m-%d %H:%M} 前响应" in accepted["summary_zh"]

    assigned = by_event["Need.Assigned"][0]
    assert assigned["summary_zh"].startswith(
        "派单给 property_company 甲（物业服务企业），依据服务清单《幸福里物业服务清单》第 2 项 电梯维保"
    )
    assert assigned["data"]["commitment_id"] == cid and assigned["data"]["commitment_item_no"] == 2

    evaluated = by_event["Need.Evaluated"][0]
    assert evaluated["summary_zh"].startswith(
        "评价：不满意：仍有异响。诉求重新交由 property_company 甲 办理，第 1 次重办"
    )
    assert "reopened for redo by property_company 甲, redo no. 1" in evaluated["summary_en"]
    assert evaluated["data"]["evaluation"] == "unsatisfied"

    # The consultation's events on the need's trail name it, and the owners.
    votes = by_event["Consultation.VoteCast"]
    assert votes[0]["summary_zh"] == "协商议事「2号梯更换方案」：1号楼 101 的业主 表决：赞成（专有面积 90 m²，本人投票）"
    assert "1号楼 103 的业主 表决：反对" in votes[2]["summary_zh"] and "工作人员代为录入" in votes[2]["summary_zh"]
    closed = by_event["Consultation.VoteClosed"][0]
    assert "参与表决 3/3 人，270/270 m²（达到法定比例）；赞成 2/3 人，180/270 m²" in closed["summary_zh"]
    assert closed["data"]["participation_owners"] == "1/1" and closed["data"]["approval_owners"] == "2/3"

    returned = by_event["Need.ReturnedFromConsultation"][0]
    assert returned["summary_zh"].startswith(
        "协商议事「2号梯更换方案」结束，结果：通过；决议：使用维修资金更换2号梯。诉求回到 property_company 甲 办理"
    )
    assert returned["data"]["outcome"] == "adopted"
    assert returned["data"]["consultation_id"] == consultation
    assert by_event["Need.Acknowledged"][0]["summary_zh"] == "property_company 甲 已响应（在时限内）"

    # Read a page at a time (the holders then come from the log), the trail reads the same.
    views = world.services.views
    paged = list(views.iter_history(need, page_size=2))
    assert [(e["summary_zh"], e["summary_en"]) for e in paged] == [
        (e["summary_zh"], e["summary_en"]) for e in trail
    ]
    # The service list's trail shows the need's events under its item, naming the need.
    listed = api.get("supervisor", f"/commitments/{cid}/history", after=last["position"]).json()["events"]
    of_need = [e["summary_zh"] for e in listed if e["case_id"] == need]
    assert of_need[0].startswith("诉求「电梯异响」：派单给 property_company 甲")
    assert any("第 1 次重办" in text for text in of_need)
    for entry in listed:
        assert machine_text_in(entry["summary_zh"], zh=True, allowed=names) == [], entry["summary_zh"]


def test_kept_facts_answer_only_what_they_hold() -> None:
    from application.summaries import Ask, Facts, answers, facts_of

    compound = facts_of(
        {
            "case_type": "compound",
            "name": "幸福里小区",
            "buildings": [{"id": "b1", "name": "1号楼"}],
            "households": [
                {"id": "h1", "building_id": "b1", "number": "101"},
                {"id": "h2", "building_id": "b1", "number": "102"},
            ],
        },
        households=["h1"],
    )
    assert dict(compound.households) == {"h1": ("b1", "101")}  # only those asked are kept
    assert answers(compound, Ask(households={"h1"}, buildings={"b1"}))
    assert not answers(compound, Ask(households={"h2"}))  # read the compound again
    listed = facts_of({"case_type": "commitment", "title": "清单", "position": 40, "versions": []}, read_through=50)
    assert answers(listed, Ask(position=50)) and not answers(listed, Ask(position=51))
    assert not answers(listed, Ask(versions={2}))
    assert not answers(None, None)
    kept = Facts(limit=2)
    for n in range(3):
        kept.put(str(n), compound)
    assert len(kept) == 1 and kept.get("2") is compound  # full: it starts again
