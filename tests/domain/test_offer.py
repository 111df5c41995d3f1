"""Both ways (DESIGN 2.5): a co-building unit's offers, needs a party raises
toward the compound, and the provider's evaluation of the compound's side.

Pure domain tests: aggregates in memory, explicit times, no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from domain.actor import Actor, Role
from domain.calendar import (
    DEFAULT_RESOLVE_LIMITS,
    DEFAULT_RESPOND_LIMITS,
    DeadlinePolicy,
    TimeLimit,
    WorkingCalendar,
)
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotPermitted
from domain.need import Need, NeedStatus
from domain.offer import Offer, OfferStatus

COMPOUND = UUID("00000000-0000-4000-8000-000000000001")
OTHER_COMPOUND = UUID("00000000-0000-4000-8000-000000000002")
HOUSEHOLD = UUID("00000000-0000-4000-8000-0000000000a1")
UNIT = UUID("00000000-0000-4000-8000-0000000000d1")
OTHER_UNIT = UUID("00000000-0000-4000-8000-0000000000d2")
PROPERTY_PARTY = UUID("00000000-0000-4000-8000-0000000000b1")
BRANCH_PARTY = UUID("00000000-0000-4000-8000-0000000000b3")

UNIT_STAFF = Actor("unit-1", Role.CO_BUILDING_UNIT, frozenset({COMPOUND}), party_id=UNIT)
UNIT_COLLEAGUE = Actor("unit-2", Role.CO_BUILDING_UNIT, frozenset({COMPOUND}), party_id=UNIT)
OTHER_UNIT_STAFF = Actor("unit-9", Role.CO_BUILDING_UNIT, frozenset({COMPOUND}), party_id=OTHER_UNIT)
PROPERTY = Actor("pm-1", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=PROPERTY_PARTY)
BRANCH = Actor("branch-1", Role.PARTY_BRANCH, frozenset({COMPOUND}), party_id=BRANCH_PARTY)
STAFF = Actor("staff-1", Role.COMMUNITY_STAFF, frozenset({COMPOUND}))
GRID = Actor("grid-1", Role.GRID_WORKER, frozenset({COMPOUND}))
RESIDENT = Actor("resident-1", Role.RESIDENT, frozenset({COMPOUND}), household_id=HOUSEHOLD)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
POLICY = DeadlinePolicy(
    respond={k: TimeLimit.parse(v) for k, v in DEFAULT_RESPOND_LIMITS.items()},
    resolve={k: TimeLimit.parse(v) for k, v in DEFAULT_RESOLVE_LIMITS.items()},
    calendar=WorkingCalendar.of(),
)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# ----- offers -----------------------------------------------------------------


def offer(**fields: object) -> Offer:
    values: dict[str, object] = {
        "by": UNIT_STAFF,
        "compound_id": COMPOUND,
        "party_id": UNIT,
        "party_kind": "co_building_unit",
        "category": "education",
        "title": "四点半课堂",
        "description": "放学后作业辅导",
        "capacity": 20,
        "schedule": "工作日 16:30-18:00",
        "starts_on": "2026-03-01",
        "ends_on": "2026-06-30",
        "now": T0,
    }
    values.update(fields)
    return Offer.publish(**values)  # type: ignore[arg-type]


def test_a_unit_publishes_an_offer_and_every_event_names_who_and_when() -> None:
    o = offer()
    assert o.status == OfferStatus.PUBLISHED
    assert (o.title, o.capacity, o.starts_on, o.ends_on) == ("四点半课堂", 20, "2026-03-01", "2026-06-30")
    o.change(by=UNIT_COLLEAGUE, capacity=30, schedule=None, now=at(1))
    o.withdraw(by=UNIT_STAFF, reason="场地改造", now=at(2))
    events = o.collect_events()
    assert [type(e).__name__ for e in events] == ["Published", "Changed", "Withdrawn"]
    assert [(e.actor_id, e.actor_role) for e in events] == [
        ("unit-1", "co_building_unit"), ("unit-2", "co_building_unit"), ("unit-1", "co_building_unit"),
    ]
    assert [e.timestamp for e in events] == [T0, at(1), at(2)]
    assert events[1].changed == ["capacity", "schedule"]
    assert (o.capacity, o.schedule, o.status, o.withdraw_reason) == (30, None, "withdrawn", "场地改造")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "gardening"}, "category"),
        ({"title": "  "}, "title"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": True}, "capacity"),
        ({"starts_on": None}, "starts_on"),
        ({"starts_on": "2026-02-30"}, "starts_on"),
        ({"ends_on": "2026-02-28"}, "ends_on"),
    ],
)
def test_bad_offer_fields_name_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        offer(**fields)
    assert refused.value.field == field


def test_only_a_co_building_units_own_staff_publish_change_and_withdraw() -> None:
    with pytest.raises(NotPermitted):
        offer(by=PROPERTY)
    with pytest.raises(NotPermitted):
        offer(party_id=PROPERTY_PARTY, party_kind="property_company", by=PROPERTY)
    with pytest.raises(NotPermitted):
        offer(by=OTHER_UNIT_STAFF)
    o = offer()
    with pytest.raises(NotPermitted):
        o.change(by=OTHER_UNIT_STAFF, title="别人的课堂")
    with pytest.raises(NotPermitted):
        o.withdraw(by=STAFF, reason="不需要")


def test_a_change_must_change_something_and_a_withdrawal_needs_a_reason() -> None:
    o = offer()
    with pytest.raises(InvalidValue):
        o.change(by=UNIT_STAFF, title="四点半课堂")
    with pytest.raises(InvalidValue) as unknown:
        o.change(by=UNIT_STAFF, colour="red")
    assert unknown.value.field == "colour"
    with pytest.raises(InvalidValue) as no_reason:
        o.withdraw(by=UNIT_STAFF, reason=" ")
    assert no_reason.value.field == "reason"


def test_a_withdrawn_offer_can_be_neither_changed_nor_withdrawn_again() -> None:
    o = offer()
    o.withdraw(by=UNIT_STAFF, reason="结束")
    with pytest.raises(IllegalTransition) as refused:
        o.change(by=UNIT_STAFF, title="新课堂")
    assert refused.value.status == "withdrawn" and refused.value.allowed == []
    with pytest.raises(IllegalTransition):
        o.withdraw(by=UNIT_STAFF, reason="再撤")


def test_an_offer_serves_only_its_units_needs_in_its_compound_while_published() -> None:
    o = offer()
    o.check_serves(party_id=UNIT, compound_id=COMPOUND, on=date(2026, 3, 5))
    cases = [
        ({"party_id": OTHER_UNIT, "compound_id": COMPOUND, "on": date(2026, 3, 5)}, "assigned party's own"),
        ({"party_id": UNIT, "compound_id": OTHER_COMPOUND, "on": date(2026, 3, 5)}, "no such offer"),
        ({"party_id": UNIT, "compound_id": COMPOUND, "on": date(2026, 7, 1)}, "ended on 2026-06-30"),
    ]
    for arguments, words in cases:
        with pytest.raises(InvalidValue) as refused:
            o.check_serves(**arguments)  # type: ignore[arg-type]
        assert refused.value.field == "offer_id" and words in refused.value.message
    o.withdraw(by=UNIT_STAFF, reason="结束")
    with pytest.raises(InvalidValue, match="withdrawn"):
        o.check_serves(party_id=UNIT, compound_id=COMPOUND, on=date(2026, 3, 5))


# ----- needs toward the compound ------------------------------------------------------


def raised(by: Actor = UNIT_STAFF, **fields: object) -> Need:
    values: dict[str, object] = {
        "by": by,
        "compound_id": COMPOUND,
        "source": "party_request",
        "title": "借用活动室",
        "description": "周六上午开展四点半课堂家长会",
        "now": T0,
    }
    values.update(fields)
    return Need.register(**values)  # type: ignore[arg-type]


def test_a_unit_raises_a_need_toward_the_compound_keyed_on_its_party() -> None:
    need = raised()
    assert (need.toward, need.raised_by_party_id, need.household_id) == ("compound", UNIT, None)
    assert need.speaks_for_reporter(UNIT_COLLEAGUE)  # the party's, not one person's
    assert not need.speaks_for_reporter(OTHER_UNIT_STAFF)
    assert raised(by=PROPERTY).raised_by_party_id == PROPERTY_PARTY


@pytest.mark.parametrize(
    ("by", "fields", "field"),
    [
        (UNIT_STAFF, {"source": "household_visit"}, "source"),
        (UNIT_STAFF, {"household_id": HOUSEHOLD}, "household_id"),
        (STAFF, {"toward": "compound"}, "toward"),
        (GRID, {"source": "party_request"}, "source"),
        (UNIT_STAFF, {"toward": "residents"}, "toward"),
    ],
)
def test_a_need_toward_the_compound_is_a_partys_request_with_no_household(
    by: Actor, fields: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        raised(by=by, **fields)
    assert refused.value.field == field


def accepted(need: Need) -> Need:
    need.accept(by=STAFF, priority="normal", policy=POLICY, now=at(1))
    return need


def test_a_need_toward_the_compound_goes_to_the_party_branch_through_its_lifecycle() -> None:
    need = accepted(raised())
    with pytest.raises(InvalidValue) as refused:
        need.assign(by=STAFF, party_id=PROPERTY_PARTY, party_role="property_company", now=at(2))
    assert refused.value.field == "party_id"
    need.assign(by=STAFF, party_id=BRANCH_PARTY, party_role="party_branch", policy=POLICY, now=at(2))
    with pytest.raises(NotPermitted):
        need.acknowledge(by=UNIT_STAFF, now=at(3))  # the raising party does not handle it
    need.acknowledge(by=BRANCH, now=at(3))
    need.add_note(by=UNIT_STAFF, text="家长约 30 人", now=at(4))  # the raising party may add notes
    need.resolve(by=STAFF, outcome="活动室已预留", now=at(5))  # community staff handle it too
    with pytest.raises(NotPermitted):
        need.evaluate(by=RESIDENT, evaluation="satisfied", now=at(6))
    need.evaluate(by=UNIT_COLLEAGUE, evaluation="satisfied", resolved=True, now=at(6))
    assert need.status == NeedStatus.CLOSED
    [evaluated] = [e for e in need.collect_events() if isinstance(e, Need.Evaluated)]
    assert evaluated.on_behalf_of_reporter is False
    # The party branch resolved it: no provider evaluates the compound's side.
    with pytest.raises(NotPermitted):
        need.evaluate_compound_side(by=UNIT_STAFF, coordination="satisfied", cooperation="satisfied")


def test_a_need_toward_the_compound_cites_no_offer() -> None:
    need = accepted(raised())
    with pytest.raises(InvalidValue) as refused:
        need.assign(
            by=STAFF, party_id=BRANCH_PARTY, party_role="party_branch", offer_id=UUID(int=5), now=at(2)
        )
    assert refused.value.field == "offer_id"


# ----- the provider's evaluation of the compound's side ---------------------------------------


def served(party_id: UUID = UNIT, role: str = "co_building_unit", staff: Actor = UNIT_STAFF) -> Need:
    need = Need.register(
        by=GRID, compound_id=COMPOUND, source="household_visit", title="独居老人需陪护",
        description="3号楼 2 单元", household_id=HOUSEHOLD, now=T0,
    )
    accepted(need)
    need.assign(by=STAFF, party_id=party_id, party_role=role, offer_id=UUID(int=7), policy=POLICY, now=at(2))
    need.acknowledge(by=staff, now=at(3))
    need.resolve(by=staff, outcome="志愿者每周上门两次", now=at(4))
    return need


def test_the_resolving_unit_evaluates_the_compounds_side_once_the_need_is_closed() -> None:
    need = served()
    assert need.offer_id == UUID(int=7)
    with pytest.raises(IllegalTransition) as early:
        need.evaluate_compound_side(by=UNIT_STAFF, coordination="satisfied", cooperation="satisfied")
    assert early.value.status == "resolved" and "evaluate" in early.value.allowed
    need.evaluate(by=RESIDENT, evaluation="basically_satisfied", now=at(5))
    with pytest.raises(NotPermitted):
        need.evaluate_compound_side(by=OTHER_UNIT_STAFF, coordination="satisfied", cooperation="satisfied")
    with pytest.raises(NotPermitted):
        need.evaluate_compound_side(by=STAFF, coordination="satisfied", cooperation="satisfied")
    with pytest.raises(InvalidValue) as bad:
        need.evaluate_compound_side(by=UNIT_STAFF, coordination="great", cooperation="satisfied")
    assert bad.value.field == "coordination"
    need.evaluate_compound_side(
        by=UNIT_COLLEAGUE, coordination="satisfied", cooperation="unsatisfied", comment="居民不在家", now=at(6)
    )
    event = need.collect_events()[-1]
    assert isinstance(event, Need.CompoundSideEvaluated)
    assert (event.party_id, event.party_role, event.coordination, event.cooperation) == (
        UNIT, "co_building_unit", "satisfied", "unsatisfied",
    )
    assert (event.actor_id, event.actor_role, event.timestamp) == ("unit-2", "co_building_unit", at(6))
    with pytest.raises(Conflict):
        need.evaluate_compound_side(by=UNIT_STAFF, coordination="satisfied", cooperation="satisfied")


def test_the_property_company_evaluates_the_compounds_side_too_and_only_the_last_resolver() -> None:
    need = served(PROPERTY_PARTY, "property_company", PROPERTY)
    need.evaluate(by=RESIDENT, evaluation="unsatisfied", comment="没修好", policy=POLICY, now=at(5))
    need.assign(by=STAFF, party_id=UNIT, party_role="co_building_unit", reason="改派", policy=POLICY, now=at(6))
    need.acknowledge(by=UNIT_STAFF, now=at(7))
    need.resolve(by=UNIT_STAFF, outcome="已修好", now=at(8))
    need.evaluate(by=RESIDENT, evaluation="satisfied", now=at(9))
    with pytest.raises(NotPermitted):
        need.evaluate_compound_side(by=PROPERTY, coordination="satisfied", cooperation="satisfied")
    need.evaluate_compound_side(by=UNIT_STAFF, coordination="basically_satisfied", cooperation="satisfied")
    assert need.compound_side_evaluation["party_id"] == UNIT
