"""The ServiceCommitment aggregate (DESIGN 2.2): drafts, confirmations, versions,
inspections and the list's status.

Pure domain tests: aggregates are built in memory, every command gets an
explicit, timezone-aware ``now``.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.actor import Actor, Role
from domain.commitment import (
    CONFIRMING_PARTIES,
    TRANSITIONS,
    CommitmentStatus,
    ServiceCommitment,
    VersionState,
    allowed_commands,
    apply_amendment,
    parse_time_limit,
)
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotPermitted

S = CommitmentStatus
SC = ServiceCommitment

COMPOUND = UUID("00000000-0000-4000-8000-000000000001")
HOUSEHOLD = UUID("00000000-0000-4000-8000-0000000000a1")
PROPERTY_PARTY = UUID("00000000-0000-4000-8000-0000000000b1")
OTHER_PROPERTY_PARTY = UUID("00000000-0000-4000-8000-0000000000b2")
CO_BUILDING_PARTY = UUID("00000000-0000-4000-8000-0000000000b3")
BRANCH_PARTY = UUID("00000000-0000-4000-8000-0000000000c1")
COMMITTEE_PARTY = UUID("00000000-0000-4000-8000-0000000000c2")

MINE = frozenset({COMPOUND})
BRANCH = Actor("branch-1", Role.PARTY_BRANCH, MINE, party_id=BRANCH_PARTY)
COMMITTEE = Actor("committee-1", Role.OWNERS_COMMITTEE, MINE, party_id=COMMITTEE_PARTY)
PROPERTY = Actor("pm-1", Role.PROPERTY_COMPANY, MINE, party_id=PROPERTY_PARTY)
OTHER_PROPERTY = Actor("pm-2", Role.PROPERTY_COMPANY, MINE, party_id=OTHER_PROPERTY_PARTY)
CO_BUILDING = Actor("cb-1", Role.CO_BUILDING_UNIT, MINE, party_id=CO_BUILDING_PARTY)
STAFF = Actor("staff-1", Role.COMMUNITY_STAFF, MINE)
GRID = Actor("grid-1", Role.GRID_WORKER, MINE)
RESIDENT = Actor("resident-1", Role.RESIDENT, MINE, household_id=HOUSEHOLD)
SUPERVISOR = Actor("supervisor-1", Role.SUPERVISOR, None)
BRANCH_WITHOUT_PARTY = Actor("branch-2", Role.PARTY_BRANCH, MINE)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def tick(self) -> datetime:
        self.now += timedelta(minutes=5)
        return self.now


def item(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"服务项目 {number}",
        "standard": f"标准 {number}",
        "frequency": "每日",
        "time_limit": "24h",
        **fields,
    }


ITEMS = [item(1), item(2, time_limit="3wd"), item(3, title="电梯维保", time_limit="2h")]


def drafted(clock: Clock | None = None, items: list[dict[str, Any]] | None = None) -> SC:
    clock = clock or Clock()
    return SC.draft(
        by=BRANCH,
        compound_id=COMPOUND,
        provider_party_id=PROPERTY_PARTY,
        provider_kind="property_company",
        title="幸福里物业服务清单",
        items=ITEMS if items is None else items,
        now=clock.tick(),
    )


def confirm_all(c: SC, clock: Clock, list_version: int) -> None:
    for who in (BRANCH, COMMITTEE, PROPERTY):
        c.confirm(by=who, list_version=list_version, now=clock.tick())


def in_effect(clock: Clock | None = None) -> SC:
    clock = clock or Clock()
    c = drafted(clock)
    confirm_all(c, clock, 1)
    return c


def event_names(c: SC) -> list[str]:
    return [type(e).__qualname__ for e in c.collect_events()]


def replay(events: list[Any]) -> SC:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert aggregate is not None
    return aggregate


# ----- drafting -----------------------------------------------------------------


def test_a_draft_is_version_1_pending_with_its_items_sorted() -> None:
    c = drafted(items=[item(3), item(1)])
    assert c.status == S.DRAFT
    assert c.pending_version == 1
    assert c.in_effect_version is None
    assert [i["number"] for i in c.pending_draft["items"]] == [1, 3]
    assert c.latest_version["state"] == VersionState.PENDING
    events = c.collect_events()
    assert type(events[0]).__qualname__ == "ServiceCommitment.Drafted"
    assert events[0].actor_id == "branch-1"
    assert events[0].actor_role == "party_branch"
    assert events[0].timestamp.tzinfo is not None


@pytest.mark.parametrize("who", [BRANCH, COMMITTEE])
def test_the_party_branch_or_the_owners_committee_drafts(who: Actor) -> None:
    c = SC.draft(
        by=who,
        compound_id=COMPOUND,
        provider_party_id=CO_BUILDING_PARTY,
        provider_kind="co_building_unit",
        title="志愿服务清单",
        items=ITEMS,
    )
    assert c.provider_kind == "co_building_unit"


@pytest.mark.parametrize("who", [STAFF, PROPERTY, RESIDENT, GRID, SUPERVISOR])
def test_no_one_else_drafts(who: Actor) -> None:
    with pytest.raises(NotPermitted):
        SC.draft(
            by=who,
            compound_id=COMPOUND,
            provider_party_id=PROPERTY_PARTY,
            provider_kind="property_company",
            title="清单",
            items=ITEMS,
        )


@pytest.mark.parametrize("kind", ["owners_committee", "party_branch", "resident"])
def test_a_list_is_for_a_property_company_or_a_co_building_unit(kind: str) -> None:
    with pytest.raises(InvalidValue) as error:
        SC.draft(
            by=BRANCH,
            compound_id=COMPOUND,
            provider_party_id=COMMITTEE_PARTY,
            provider_kind=kind,
            title="清单",
            items=ITEMS,
        )
    assert error.value.field == "provider_party_id"


@pytest.mark.parametrize(
    ("items", "field", "words"),
    [
        ([item(1), item(2), item(1)], "items[2].number", "more than once"),
        ([item(1, title="")], "items[0].title", "empty"),
        ([item(1, title="   ")], "items[0].title", "empty"),
        ([item(1, standard=" ")], "items[0].standard", "empty"),
        ([item(1, frequency="")], "items[0].frequency", "empty"),
        ([item(1, title="x" * 201)], "items[0].title", "200"),
        ([item(1, title="坏\x00")], "items[0].title", "control"),
        ([item(1, time_limit="-3h")], "items[0].time_limit", "positive"),
        ([item(1, time_limit="0h")], "items[0].time_limit", "positive"),
        ([item(1, time_limit="0wd")], "items[0].time_limit", "positive"),
        ([item(1, time_limit="8761h")], "items[0].time_limit", "year"),
        ([item(1, time_limit="251wd")], "items[0].time_limit", "year"),
        ([item(1, time_limit="99999999999h")], "items[0].time_limit", "year"),
        ([item(1, time_limit="soon")], "items[0].time_limit", "like"),
        ([item(1, time_limit="3 days")], "items[0].time_limit", "like"),
        ([item(1, time_limit="367d")], "items[0].time_limit", "year"),
        ([item(1, time_limit=24)], "items[0].time_limit", "text"),
        ([item(0)], "items[0].number", "between"),
        ([item(1001)], "items[0].number", "between"),
        ([item(-1)], "items[0].number", "between"),
        ([item(True)], "items[0].number", "whole"),
        ([item(1.5)], "items[0].number", "whole"),
        ([{**item(1), "price": 3}], "items[0].price", "not a field"),
        ([{k: v for k, v in item(1).items() if k != "standard"}], "items[0].standard", "required"),
        (["电梯"], "items[0]", "item"),
        ([], "items", "at least one"),
        ([item(n) for n in range(1, 202)], "items", "at most"),
    ],
)
def test_bad_items_are_refused_naming_the_field(
    items: list[Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        drafted(items=items)
    assert error.value.field == field
    assert words in error.value.message


def test_time_limits_up_to_a_year_are_kept_in_normal_form() -> None:
    c = drafted(items=[item(1, time_limit=" 8760h "), item(2, time_limit="250wd")])
    assert [i["time_limit"] for i in c.pending_draft["items"]] == ["8760h", "250wd"]
    assert str(parse_time_limit("t", "1wd")) == "1wd"


def test_the_list_needs_a_title() -> None:
    with pytest.raises(InvalidValue) as error:
        SC.draft(
            by=BRANCH,
            compound_id=COMPOUND,
            provider_party_id=PROPERTY_PARTY,
            provider_kind="property_company",
            title="  ",
            items=ITEMS,
        )
    assert error.value.field == "title"


# ----- opinions -------------------------------------------------------------------


def test_opinions_are_recorded_on_the_pending_draft() -> None:
    clock = Clock()
    c = drafted(clock)
    c.record_opinion(by=RESIDENT, text="希望增加夜间巡逻", item_no=2, now=clock.tick())
    c.record_opinion(
        by=GRID, text="老人希望电梯维保提前通知", household_id=HOUSEHOLD, now=clock.tick()
    )
    events = c.collect_events()
    own, recorded = events[1], events[2]
    assert own.household_id == HOUSEHOLD  # a resident speaks for their own household
    assert own.on_behalf_of_resident is False
    assert recorded.on_behalf_of_resident is True
    assert own.list_version == 1
    assert c.opinions == 2
    assert c.pending_draft["opinions"] == 2


def test_a_resident_cannot_speak_for_another_household() -> None:
    c = drafted()
    other = UUID("00000000-0000-4000-8000-0000000000a9")
    c.record_opinion(by=RESIDENT, text="意见", household_id=other)
    assert c.collect_events()[-1].household_id == HOUSEHOLD


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": " "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "意见", "item_no": 9}, "item_no"),
        ({"text": "意见", "item_no": 0}, "item_no"),
        ({"text": "意见", "list_version": 5}, "list_version"),
    ],
)
def test_bad_opinions_are_refused(kwargs: dict[str, Any], field: str) -> None:
    c = drafted()
    with pytest.raises(InvalidValue) as error:
        c.record_opinion(by=RESIDENT, **kwargs)
    assert error.value.field == field
    assert c.opinions == 0


@pytest.mark.parametrize("who", [PROPERTY, SUPERVISOR])
def test_only_residents_and_those_who_collect_opinions_record_them(who: Actor) -> None:
    with pytest.raises(NotPermitted):
        drafted().record_opinion(by=who, text="意见")


def test_no_opinion_without_a_pending_draft() -> None:
    c = in_effect()
    with pytest.raises(IllegalTransition) as error:
        c.record_opinion(by=RESIDENT, text="意见")
    assert error.value.status == "in_effect"
    assert "opinion" not in error.value.allowed


def test_an_opinion_on_a_superseded_draft_is_refused() -> None:
    clock = Clock()
    c = drafted(clock)
    c.amend(by=COMMITTEE, reason="征求意见后调整", remove=[3], now=clock.tick())
    with pytest.raises(Conflict, match="superseded"):
        c.record_opinion(by=RESIDENT, text="意见", list_version=1)
    c.record_opinion(by=RESIDENT, text="意见", list_version=2)


# ----- confirmations ---------------------------------------------------------------


def test_the_list_takes_effect_only_when_all_three_have_confirmed() -> None:
    clock = Clock()
    c = drafted(clock)
    c.confirm(by=PROPERTY, list_version=1, now=clock.tick())
    c.confirm(by=BRANCH, list_version=1, now=clock.tick())
    assert c.status == S.DRAFT
    assert c.in_effect_version is None
    assert set(c.pending_draft["confirmations"]) == {"provider", "party_branch"}
    c.confirm(by=COMMITTEE, list_version=1, now=clock.tick())
    assert c.status == S.IN_EFFECT
    assert c.in_effect_version == 1
    assert c.pending_version is None
    assert c.version_record(1)["state"] == VersionState.IN_EFFECT
    assert c.version_record(1)["took_effect_at"] == clock.now
    names = event_names(c)
    assert names[1:] == [
        "ServiceCommitment.Confirmed",
        "ServiceCommitment.Confirmed",
        "ServiceCommitment.Confirmed",
        "ServiceCommitment.TookEffect",
    ]


def test_confirmations_name_the_party_confirmed_for() -> None:
    clock = Clock()
    c = in_effect(clock)
    confirmations = c.version_record(1)["confirmations"]
    assert confirmations["party_branch"]["party_id"] == BRANCH_PARTY
    assert confirmations["owners_committee"]["party_id"] == COMMITTEE_PARTY
    assert confirmations["provider"]["party_id"] == PROPERTY_PARTY
    assert confirmations["provider"]["actor_id"] == "pm-1"


@pytest.mark.parametrize(
    "who",
    [
        STAFF,  # not a confirming role
        SUPERVISOR,
        RESIDENT,
        OTHER_PROPERTY,  # a property company, but not this list's provider
        CO_BUILDING,  # a provider kind, but the list is a property company's
        BRANCH_WITHOUT_PARTY,  # a party branch credential that names no party
    ],
)
def test_a_confirmation_by_the_wrong_role_or_party_is_refused(who: Actor) -> None:
    c = drafted()
    c.collect_events()
    with pytest.raises(NotPermitted):
        c.confirm(by=who, list_version=1)
    assert c.pending_draft["confirmations"] == {}
    assert c.collect_events() == []


def test_a_second_confirmation_by_the_same_party_is_refused() -> None:
    c = drafted()
    c.confirm(by=COMMITTEE, list_version=1)
    another_member = Actor("committee-2", Role.OWNERS_COMMITTEE, MINE, party_id=COMMITTEE_PARTY)
    with pytest.raises(Conflict, match="already confirmed version 1"):
        c.confirm(by=another_member, list_version=1)
    with pytest.raises(Conflict):
        c.confirm(by=COMMITTEE, list_version=1)
    assert c.status == S.DRAFT


def test_a_superseded_draft_is_not_confirmed_and_earlier_confirmations_do_not_carry_over() -> None:
    clock = Clock()
    c = drafted(clock)
    c.confirm(by=BRANCH, list_version=1, now=clock.tick())
    c.confirm(by=COMMITTEE, list_version=1, now=clock.tick())
    c.amend(by=BRANCH, reason="采纳居民意见", change=[item(2, frequency="每周两次")], now=clock.tick())
    assert c.version_record(1)["state"] == VersionState.SUPERSEDED
    with pytest.raises(Conflict, match="version 1 was superseded.*version 2"):
        c.confirm(by=PROPERTY, list_version=1, now=clock.tick())
    c.confirm(by=PROPERTY, list_version=2, now=clock.tick())
    assert c.status == S.DRAFT  # the branch and committee confirmed version 1 only
    c.confirm(by=BRANCH, list_version=2, now=clock.tick())
    c.confirm(by=COMMITTEE, list_version=2, now=clock.tick())
    assert c.in_effect_version == 2
    assert c.version_record(1)["took_effect_at"] is None


def test_confirming_a_version_already_in_effect_or_unknown_is_refused() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(by=BRANCH, reason="新增项目", add=[item(4)], now=clock.tick())
    with pytest.raises(Conflict, match="already in effect"):
        c.confirm(by=BRANCH, list_version=1)
    with pytest.raises(InvalidValue) as error:
        c.confirm(by=BRANCH, list_version=9)
    assert error.value.field == "list_version"


def test_no_confirmation_without_a_pending_draft() -> None:
    c = in_effect()
    with pytest.raises(IllegalTransition) as error:
        c.confirm(by=BRANCH, list_version=1)
    assert "no draft" in error.value.message
    assert "confirm" not in error.value.allowed


# ----- amendments ---------------------------------------------------------------------


def test_an_amendment_is_a_new_version_and_the_old_one_stays_in_effect_until_confirmed() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(
        by=COMMITTEE,
        reason="业主大会意见",
        add=[item(4, title="垃圾分类督导")],
        change=[item(1, standard="楼道每日清扫两次")],
        remove=[3],
        now=clock.tick(),
    )
    assert c.status == S.IN_EFFECT
    assert c.in_effect_version == 1
    assert c.pending_version == 2
    assert [i["number"] for i in c.version_in_effect["items"]] == [1, 2, 3]
    # The version in effect still answers for item 3 and can be inspected on it.
    c.inspect(by=STAFF, item_no=3, result="met", note="维保记录齐全", now=clock.tick())
    with pytest.raises(InvalidValue):
        c.inspect(by=STAFF, item_no=4, result="met", note="x", now=clock.tick())
    draft = c.pending_draft
    assert [i["number"] for i in draft["items"]] == [1, 2, 4]
    assert draft["items"][0]["standard"] == "楼道每日清扫两次"
    assert draft["based_on"] == 1
    assert draft["reason"] == "业主大会意见"
    assert draft["drafted_by"] == "committee-1"
    confirm_all(c, clock, 2)
    assert c.in_effect_version == 2
    assert c.version_record(1)["state"] == VersionState.REPLACED
    assert c.version_record(1)["ended_at"] == c.version_record(2)["took_effect_at"]
    # Every version stays readable.
    assert [i["number"] for i in c.version_record(1)["items"]] == [1, 2, 3]
    assert [i["number"] for i in c.version_record(2)["items"]] == [1, 2, 4]
    amended = [e for e in c.collect_events() if isinstance(e, SC.Amended)][0]
    assert amended.actor_id == "committee-1"
    assert amended.removed == [3]
    assert [i["number"] for i in amended.added] == [4]
    assert [i["number"] for i in amended.changed] == [1]
    assert amended.reason == "业主大会意见"


def test_an_amendment_of_a_pending_amendment_builds_on_it() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(by=BRANCH, reason="一", add=[item(4)], now=clock.tick())
    c.amend(by=BRANCH, reason="二", remove=[1], now=clock.tick())
    assert c.pending_version == 3
    assert c.version_record(3)["based_on"] == 2
    assert [i["number"] for i in c.version_record(3)["items"]] == [2, 3, 4]
    assert c.version_record(2)["state"] == VersionState.SUPERSEDED
    assert c.in_effect_version == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"remove": [9]}, "remove", "item 9 is not in version 1"),
        ({"change": [item(9)]}, "change", "not in version 1"),
        ({"add": [item(2)]}, "add", "already in version 1"),
        ({"change": [item(2, time_limit="3wd")]}, "change", "unchanged"),
        ({"add": [item(4)], "remove": [4]}, "remove", "also in 'add'"),
        ({"change": [item(2, title="新")], "remove": [2]}, "remove", "also in 'change'"),
        ({"remove": [2, 2]}, "remove[1]", "twice"),
        ({"add": [item(4), item(4)]}, "add[1].number", "more than once"),
        ({"add": [item(4, title=" ")]}, "add[0].title", "empty"),
        ({"add": [item(4, time_limit="-1wd")]}, "add[0].time_limit", "positive"),
        ({"change": [item(1, time_limit="9000h")]}, "change[0].time_limit", "year"),
        ({"remove": [0]}, "remove[0]", "between"),
        ({}, "add", "at least one"),
        ({"remove": [1, 2, 3]}, "remove", "at least one item"),
        ({"remove": [1], "reason": " "}, "reason", "required"),
    ],
)
def test_bad_amendments_are_refused_and_record_nothing(
    kwargs: dict[str, Any], field: str, words: str
) -> None:
    c = in_effect()
    c.collect_events()
    kwargs = {"reason": "调整", **kwargs}
    with pytest.raises(InvalidValue) as error:
        c.amend(by=BRANCH, **kwargs)
    assert error.value.field == field
    assert words in error.value.message
    assert c.collect_events() == []
    assert len(c.versions) == 1


@pytest.mark.parametrize("who", [STAFF, PROPERTY, RESIDENT])
def test_only_the_party_branch_or_the_owners_committee_amends(who: Actor) -> None:
    with pytest.raises(NotPermitted):
        in_effect().amend(by=who, reason="调整", remove=[1])


def test_apply_amendment_is_by_number_and_leaves_its_inputs_alone() -> None:
    base = [item(1), item(2)]
    before = copy.deepcopy(base)
    result = apply_amendment(base, [item(5)], [item(2, title="新")], [1])
    assert [(i["number"], i["title"]) for i in result] == [(2, "新"), (5, "服务项目 5")]
    assert base == before


def test_events_and_state_share_no_mutable_data() -> None:
    clock = Clock()
    c = drafted(clock)
    created = c.collect_events()[0]
    items_as_drafted = copy.deepcopy(created.items)
    c.pending_draft["items"][0]["title"] = "被改动"
    assert created.items == items_as_drafted


# ----- inspections ----------------------------------------------------------------------


def test_inspections_count_per_item() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.inspect(by=STAFF, item_no=1, result="met", note="干净", now=clock.tick())
    c.inspect(by=BRANCH, item_no=1, result="not_met", note="三楼未扫", now=clock.tick())
    c.inspect(by=COMMITTEE, item_no=2, result="met", note="按时", attachments=["photo-1"])
    assert c.inspections == {"1": {"met": 1, "not_met": 1}, "2": {"met": 1, "not_met": 0}}
    last = c.collect_events()[-1]
    assert type(last).__qualname__ == "ServiceCommitment.ItemInspected"
    assert last.list_version == 1
    assert last.attachments == ["photo-1"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"item_no": 7}, "item_no"),
        ({"item_no": 0}, "item_no"),
        ({"result": "partly"}, "result"),
        ({"note": ""}, "note"),
        ({"attachments": ["x"] * 21}, "attachments"),
    ],
)
def test_bad_inspections_are_refused(kwargs: dict[str, Any], field: str) -> None:
    c = in_effect()
    with pytest.raises(InvalidValue) as error:
        c.inspect(by=STAFF, **{"item_no": 1, "result": "met", "note": "ok", **kwargs})
    assert error.value.field == field
    assert c.inspections == {}


def test_an_item_removed_by_the_version_in_effect_cannot_be_inspected() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(by=BRANCH, reason="删除", remove=[3], now=clock.tick())
    confirm_all(c, clock, 2)
    with pytest.raises(InvalidValue, match="item 3 is not in version 2"):
        c.inspect(by=STAFF, item_no=3, result="met", note="x")


@pytest.mark.parametrize("who", [PROPERTY, RESIDENT, GRID, SUPERVISOR])
def test_only_the_branch_the_committee_or_staff_inspect(who: Actor) -> None:
    with pytest.raises(NotPermitted):
        in_effect().inspect(by=who, item_no=1, result="met", note="x")


def test_a_draft_cannot_be_inspected() -> None:
    with pytest.raises(IllegalTransition) as error:
        drafted().inspect(by=STAFF, item_no=1, result="met", note="x")
    assert error.value.status == "draft"


# ----- suspend, resume, terminate ----------------------------------------------------------


def test_suspend_resume_terminate_with_reasons() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.suspend(by=STAFF, reason="物业更换中", now=clock.tick())
    assert c.status == S.SUSPENDED
    assert c.status_reason == "物业更换中"
    with pytest.raises(IllegalTransition):
        c.inspect(by=STAFF, item_no=1, result="met", note="x")
    assert c.item_in_effect(1) is None  # a suspended list is not cited by new needs
    c.resume(by=BRANCH, reason="新物业进场", now=clock.tick())
    assert c.status == S.IN_EFFECT
    assert c.item_in_effect(1)["title"] == "服务项目 1"
    c.terminate(by=COMMITTEE, reason="合同到期", now=clock.tick())
    assert c.status == S.TERMINATED
    assert c.version_record(1)["state"] == VersionState.ENDED
    assert c.allowed_commands == []
    for command in (
        lambda: c.amend(by=BRANCH, reason="x", remove=[1]),
        lambda: c.resume(by=STAFF, reason="x"),
        lambda: c.suspend(by=STAFF, reason="x"),
        lambda: c.terminate(by=STAFF, reason="x"),
        lambda: c.inspect(by=STAFF, item_no=1, result="met", note="x"),
    ):
        with pytest.raises(IllegalTransition) as error:
            command()
        assert error.value.status == "terminated"
        assert error.value.allowed == []


@pytest.mark.parametrize("command", ["suspend", "resume", "terminate"])
def test_status_changes_need_a_reason(command: str) -> None:
    c = in_effect()
    if command == "resume":
        c.suspend(by=STAFF, reason="暂停")
    with pytest.raises(InvalidValue) as error:
        getattr(c, command)(by=STAFF, reason="  ")
    assert error.value.field == "reason"


@pytest.mark.parametrize("command", ["suspend", "resume", "terminate"])
def test_providers_and_residents_do_not_change_the_lists_status(command: str) -> None:
    c = in_effect()
    if command == "resume":
        c.suspend(by=STAFF, reason="暂停")
    with pytest.raises(NotPermitted):
        getattr(c, command)(by=PROPERTY, reason="理由")


def test_terminating_a_list_withdraws_its_pending_draft() -> None:
    clock = Clock()
    c = drafted(clock)
    c.terminate(by=BRANCH, reason="放弃", now=clock.tick())
    assert c.pending_version is None
    assert c.version_record(1)["state"] == VersionState.WITHDRAWN


def test_a_suspended_list_may_be_amended_and_the_amendment_take_effect() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.suspend(by=STAFF, reason="整改", now=clock.tick())
    c.amend(by=BRANCH, reason="整改后调整", add=[item(4)], now=clock.tick())
    confirm_all(c, clock, 2)
    assert c.in_effect_version == 2
    assert c.status == S.SUSPENDED


# ----- the state machine as a whole ------------------------------------------------------

# DESIGN 2.2, as commands per status (with / without a pending draft).
EXPECTED = {
    (S.DRAFT, True): {"opinion", "confirm", "amend", "terminate"},
    (S.IN_EFFECT, False): {"amend", "inspect", "suspend", "terminate"},
    (S.IN_EFFECT, True): {"opinion", "confirm", "amend", "inspect", "suspend", "terminate"},
    (S.SUSPENDED, False): {"amend", "resume", "terminate"},
    (S.SUSPENDED, True): {"opinion", "confirm", "amend", "resume", "terminate"},
    (S.TERMINATED, False): set(),
}


@pytest.mark.parametrize(("state", "expected"), list(EXPECTED.items()))
def test_allowed_commands_follow_the_design(
    state: tuple[CommitmentStatus, bool], expected: set[str]
) -> None:
    assert set(allowed_commands(*state)) == expected


def test_every_command_is_in_the_table() -> None:
    assert set(TRANSITIONS) == {
        "opinion",
        "confirm",
        "amend",
        "inspect",
        "suspend",
        "resume",
        "terminate",
    }
    assert set(CONFIRMING_PARTIES) == {"party_branch", "owners_committee", "provider"}


def test_event_names_are_past_tense_and_stable() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(by=BRANCH, reason="x", add=[item(4)], now=clock.tick())
    c.record_opinion(by=RESIDENT, text="好", now=clock.tick())
    c.inspect(by=STAFF, item_no=1, result="met", note="ok", now=clock.tick())
    c.suspend(by=STAFF, reason="x", now=clock.tick())
    c.resume(by=STAFF, reason="x", now=clock.tick())
    c.terminate(by=STAFF, reason="x", now=clock.tick())
    events = c.collect_events()
    assert sorted({type(e).__qualname__ for e in events}) == [
        "ServiceCommitment.Amended",
        "ServiceCommitment.Confirmed",
        "ServiceCommitment.Drafted",
        "ServiceCommitment.ItemInspected",
        "ServiceCommitment.OpinionRecorded",
        "ServiceCommitment.Resumed",
        "ServiceCommitment.Suspended",
        "ServiceCommitment.Terminated",
        "ServiceCommitment.TookEffect",
    ]
    assert {type(e).__module__ for e in events} == {"domain.commitment"}
    for event in events:
        assert event.actor_id and event.actor_role
        assert event.timestamp.tzinfo is not None


def test_a_replay_of_the_events_builds_the_same_state() -> None:
    clock = Clock()
    c = in_effect(clock)
    c.amend(by=BRANCH, reason="x", add=[item(4)], change=[item(1, title="新")], now=clock.tick())
    c.inspect(by=STAFF, item_no=2, result="not_met", note="迟", now=clock.tick())
    c.confirm(by=PROPERTY, list_version=2, now=clock.tick())
    events = c.collect_events()
    rebuilt = replay(events)
    assert vars(rebuilt) == {**vars(c), "_pending_events": []}
