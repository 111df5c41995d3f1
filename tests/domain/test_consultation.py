"""The Consultation aggregate (DESIGN 2.3): its states, the vote, resolutions
and action items. Pure domain tests, in memory, with explicit UTC times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from domain.actor import Actor, Role
from domain.consultation import (
    MATTERS,
    STATUS_LABELS_ZH,
    Consultation,
    ConsultationStatus,
    allowed_commands,
    owners_of_households,
)
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotFound, NotPermitted

S = ConsultationStatus

COMPOUND = UUID("00000000-0000-4000-8000-000000000001")
H1 = UUID("00000000-0000-4000-8000-0000000000a1")
H2 = UUID("00000000-0000-4000-8000-0000000000a2")
H3 = UUID("00000000-0000-4000-8000-0000000000a3")
OUTSIDER_HOUSEHOLD = UUID("00000000-0000-4000-8000-0000000000a9")
PROPERTY_PARTY = UUID("00000000-0000-4000-8000-0000000000b1")
COMMITTEE_PARTY = UUID("00000000-0000-4000-8000-0000000000b2")
NEED_A = UUID("00000000-0000-4000-8000-0000000000c1")
NEED_B = UUID("00000000-0000-4000-8000-0000000000c2")

STAFF = Actor("staff-1", Role.COMMUNITY_STAFF, frozenset({COMPOUND}))
BRANCH = Actor("branch-1", Role.PARTY_BRANCH, frozenset({COMPOUND}))
COMMITTEE = Actor(
    "committee-1", Role.OWNERS_COMMITTEE, frozenset({COMPOUND}), party_id=COMMITTEE_PARTY
)
PROPERTY = Actor("pm-1", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=PROPERTY_PARTY)
R1 = Actor("resident-1", Role.RESIDENT, frozenset({COMPOUND}), household_id=H1)
R2 = Actor("resident-2", Role.RESIDENT, frozenset({COMPOUND}), household_id=H2)
OUTSIDER = Actor("resident-9", Role.RESIDENT, frozenset({COMPOUND}), household_id=OUTSIDER_HOUSEHOLD)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ELECTORATE = [(str(H1), Decimal("90.5")), (str(H2), Decimal("90")), (str(H3), Decimal("120.25"))]


def proposed(**kw: object) -> Consultation:
    return Consultation.propose(
        by=STAFF,
        compound_id=COMPOUND,
        topic="2号楼电梯更换",
        need_ids=kw.pop("need_ids", [NEED_A, NEED_B]),  # type: ignore[arg-type]
        now=T0,
        **kw,  # type: ignore[arg-type]
    )


def convened_vote(matter: str = "ordinary") -> Consultation:
    c = proposed()
    c.convene(
        by=BRANCH,
        meets_at=T0 + timedelta(days=3),
        place="社区活动室",
        method="vote",
        motion="使用维修资金更换2号楼电梯",
        matter=matter,
        electorate=ELECTORATE,
        invited_party_ids=[PROPERTY_PARTY],
        now=T0 + timedelta(hours=1),
    )
    return c


def convened_consensus() -> Consultation:
    c = proposed()
    c.convene(
        by=STAFF,
        meets_at=T0 + timedelta(days=1),
        place="社区活动室",
        method="consensus",
        invited_others=["街道城管科"],
        now=T0 + timedelta(hours=1),
    )
    return c


def adopted() -> Consultation:
    c = convened_vote()
    c.cast_vote(by=R1, choice="for")
    c.cast_vote(by=R2, choice="for")
    c.cast_vote(by=STAFF, choice="against", owner_id=str(H3))
    c.close_vote(by=STAFF)
    return c


def published() -> Consultation:
    c = adopted()
    c.publish(by=STAFF, note="张贴于各楼栋公告栏")
    return c


def test_every_status_has_a_chinese_label() -> None:
    assert set(STATUS_LABELS_ZH) == set(ConsultationStatus)


def test_proposal_carries_the_disputed_needs_and_refuses_repeats() -> None:
    c = proposed()
    assert c.status == S.PROPOSED
    assert c.need_ids == [NEED_A, NEED_B]
    assert c.compound_id == COMPOUND
    with pytest.raises(InvalidValue) as error:
        proposed(need_ids=[NEED_A, NEED_A])
    assert error.value.field == "need_ids"
    with pytest.raises(InvalidValue) as error:
        Consultation.propose(by=STAFF, compound_id=COMPOUND, topic="  ")
    assert error.value.field == "topic"


def test_attaching_a_need_while_open_and_not_twice() -> None:
    c = proposed(need_ids=[])
    other = uuid4()
    c.attach_need(by=STAFF, need_id=other)
    assert c.need_ids == [other]
    with pytest.raises(Conflict):
        c.attach_need(by=STAFF, need_id=other)
    c = adopted()
    with pytest.raises(IllegalTransition) as error:
        c.attach_need(by=STAFF, need_id=uuid4())
    assert error.value.status == "adopted"
    assert not c.accepts_needs


def test_convening_a_vote_fixes_motion_matter_and_electorate() -> None:
    c = convened_vote("raise_maintenance_fund")
    assert c.status == S.CONVENED
    assert c.method == "vote"
    assert c.matter == "raise_maintenance_fund"
    assert c.electorate == {
        str(H1): Decimal("90.5"),
        str(H2): Decimal("90"),
        str(H3): Decimal("120.25"),
    }
    event = c.collect_events()[-1]
    assert isinstance(event, Consultation.Convened)
    assert event.total_owners == 3
    assert event.total_area == Decimal("300.75")
    assert event.electorate_source == "explicit"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"motion": None}, "motion"),
        ({"matter": None}, "matter"),
        ({"matter": "item_9"}, "matter"),
        ({"electorate": []}, "electorate"),
        ({"electorate": [("a", Decimal("1")), ("a", Decimal("2"))]}, "electorate"),
        ({"electorate": [("a", Decimal("0"))]}, "exclusive_area"),
        ({"electorate": [("a", Decimal("-3"))]}, "exclusive_area"),
        ({"electorate": [("a", Decimal("NaN"))]}, "exclusive_area"),
        ({"electorate": [("a", Decimal("100000.01"))]}, "exclusive_area"),
        ({"electorate": [("a", 90.5)]}, "exclusive_area"),  # a float is refused
        ({"electorate": [(" ", Decimal("1"))]}, "owner_id"),
        ({"meets_at": datetime(2026, 3, 5, 9, 0)}, "meets_at"),
        # The audit's input: converting it to UTC for the view overflowed.
        ({"meets_at": datetime.fromisoformat("0001-01-01T00:00:00+14:00")}, "meets_at"),
        ({"meets_at": datetime.fromisoformat("9999-12-31T23:00:00-05:00")}, "meets_at"),
        ({"meets_at": datetime(1999, 12, 31, 23, 0, tzinfo=UTC)}, "meets_at"),
        ({"meets_at": datetime(2200, 1, 1, tzinfo=UTC)}, "meets_at"),
        ({"place": ""}, "place"),
        ({"method": "lottery"}, "method"),
        ({"invited_party_ids": [PROPERTY_PARTY, PROPERTY_PARTY]}, "invited_party_ids"),
    ],
)
def test_convening_a_vote_checks_its_fields(changes: dict, field: str) -> None:
    c = proposed()
    args = {
        "meets_at": T0 + timedelta(days=3),
        "place": "活动室",
        "method": "vote",
        "motion": "更换电梯",
        "matter": "ordinary",
        "electorate": ELECTORATE,
        **changes,
    }
    with pytest.raises(InvalidValue) as error:
        c.convene(by=STAFF, **args)
    assert error.value.field == field
    assert c.status == S.PROPOSED
    assert c.collect_events()[-1].originator_version == 1


def test_a_consensus_meeting_has_no_electorate() -> None:
    c = proposed()
    with pytest.raises(InvalidValue) as error:
        c.convene(
            by=STAFF,
            meets_at=T0,
            place="活动室",
            method="consensus",
            electorate=ELECTORATE,
        )
    assert error.value.field == "electorate"


def test_each_owner_votes_once() -> None:
    c = convened_vote()
    c.cast_vote(by=R1, choice="for")
    with pytest.raises(Conflict, match="already voted"):
        c.cast_vote(by=R1, choice="against")
    # Not by staff on the owner's behalf either.
    with pytest.raises(Conflict, match="already voted"):
        c.cast_vote(by=STAFF, choice="against", owner_id=str(H1))
    assert c.votes == {str(H1): "for"}


def test_a_vote_from_outside_the_electorate_is_refused() -> None:
    c = convened_vote()
    with pytest.raises(NotPermitted, match="not in the electorate"):
        c.cast_vote(by=OUTSIDER, choice="for")
    with pytest.raises(InvalidValue) as error:
        c.cast_vote(by=STAFF, choice="for", owner_id="somebody")
    assert error.value.field == "owner_id"
    assert "not in the electorate" in error.value.message
    assert c.votes == {}


def test_a_resident_votes_only_as_their_own_household() -> None:
    c = convened_vote()
    with pytest.raises(NotPermitted):
        c.cast_vote(by=R1, choice="for", owner_id=str(H2))
    c.cast_vote(by=R1, choice="for", owner_id=str(H1))
    assert c.votes == {str(H1): "for"}


def test_staff_must_name_the_owner_and_the_event_says_on_whose_behalf() -> None:
    c = convened_vote()
    with pytest.raises(InvalidValue) as error:
        c.cast_vote(by=STAFF, choice="for")
    assert error.value.field == "owner_id"
    c.cast_vote(by=R1, choice="for")
    c.cast_vote(by=COMMITTEE, choice="abstain", owner_id=str(H2))
    own, on_behalf = c.collect_events()[-2:]
    assert isinstance(own, Consultation.VoteCast)
    assert (own.owner_id, own.on_behalf_of_owner, own.actor_id) == (str(H1), False, "resident-1")
    assert (on_behalf.owner_id, on_behalf.on_behalf_of_owner, on_behalf.actor_id) == (
        str(H2),
        True,
        "committee-1",
    )
    assert on_behalf.exclusive_area == Decimal("90")


def test_a_bad_choice_is_refused() -> None:
    c = convened_vote()
    with pytest.raises(InvalidValue) as error:
        c.cast_vote(by=R1, choice="maybe")
    assert error.value.field == "choice"


def test_no_vote_after_the_vote_closed_nor_in_a_consensus_meeting() -> None:
    c = adopted()
    with pytest.raises(IllegalTransition) as error:
        c.cast_vote(by=STAFF, choice="for", owner_id=str(H3))
    assert error.value.status == "adopted"
    assert "vote" not in error.value.allowed
    c = convened_consensus()
    with pytest.raises(IllegalTransition):
        c.cast_vote(by=R1, choice="for")
    with pytest.raises(IllegalTransition):
        c.close_vote(by=STAFF)


def test_closing_the_vote_records_both_fractions_and_concludes() -> None:
    c = adopted()
    assert c.status == S.ADOPTED
    assert c.outcome == "adopted"
    assert c.is_concluded
    assert c.resolution == "使用维修资金更换2号楼电梯"
    closed = c.collect_events()[-1]
    assert isinstance(closed, Consultation.VoteClosed)
    assert closed.participation_area == "1/1"
    assert closed.participation_owners == "1/1"
    # For: 90.5 + 90 of 300.75 m²; 2 of 3 owners.
    assert closed.approval_area == "722/1203"  # 180.5 / 300.75
    assert closed.approval_owners == "2/3"
    assert closed.for_area == Decimal("180.5")
    assert closed.against_area == Decimal("120.25")
    assert closed.total_area == Decimal("300.75")
    assert closed.quorum_reached is True


def test_too_few_voters_is_no_quorum_and_concludes() -> None:
    c = convened_vote()
    c.cast_vote(by=R1, choice="for")
    result = c.close_vote(by=STAFF)
    assert result.outcome == "no_quorum"
    assert c.status == S.NO_QUORUM
    assert c.is_concluded
    assert c.resolution is None
    assert c.allowed_commands == []


def test_a_major_matter_needs_three_quarters() -> None:
    c = convened_vote("rebuild_or_reconstruct")
    c.cast_vote(by=R1, choice="for")
    c.cast_vote(by=R2, choice="for")
    c.cast_vote(by=STAFF, choice="against", owner_id=str(H3))
    # 2/3 of the owners for: enough for an ordinary matter, not for item 7.
    assert c.close_vote(by=STAFF).outcome == "rejected"
    assert c.status == S.REJECTED
    assert c.allowed_commands == []


def test_consensus_records_the_agreed_resolution() -> None:
    c = convened_consensus()
    assert "record_resolution" in c.allowed_commands
    assert "close_vote" not in c.allowed_commands
    c.record_resolution(by=STAFF, text="物业本月内修复，业委会监督")
    assert c.status == S.AGREED
    assert c.outcome == "consensus"
    assert c.resolution == "物业本月内修复，业委会监督"
    assert isinstance(c.collect_events()[-1], Consultation.ConsensusReached)


def test_an_adopted_resolution_may_be_worded_before_publication() -> None:
    c = adopted()
    c.record_resolution(by=STAFF, text="业主大会决议：更换2号楼电梯")
    assert c.status == S.ADOPTED
    assert c.resolution == "业主大会决议：更换2号楼电梯"
    c.publish(by=STAFF)
    event = c.collect_events()[-1]
    assert isinstance(event, Consultation.ResolutionPublished)
    assert event.resolution == "业主大会决议：更换2号楼电梯"
    with pytest.raises(IllegalTransition):
        c.record_resolution(by=STAFF, text="改了")


def test_a_rejected_vote_is_not_published() -> None:
    c = convened_vote()
    c.cast_vote(by=R1, choice="against")
    c.cast_vote(by=STAFF, choice="against", owner_id=str(H3))
    c.close_vote(by=STAFF)
    with pytest.raises(IllegalTransition) as error:
        c.publish(by=STAFF)
    assert error.value.status == "rejected"


def test_action_items_are_numbered_and_the_last_one_done_closes() -> None:
    c = published()
    due = date(2026, 4, 30)
    assert c.add_action_items(
        by=STAFF, items=[("采购电梯", PROPERTY_PARTY, due)], now=T0 + timedelta(days=5)
    ) == [1]
    assert c.add_action_items(
        by=STAFF,
        items=[("监督施工", COMMITTEE_PARTY, due), ("验收", PROPERTY_PARTY, due)],
        now=T0 + timedelta(days=5),
    ) == [2, 3]
    c.complete_action_item(by=PROPERTY, number=1, note="已签合同")
    assert c.status == S.PUBLISHED
    with pytest.raises(Conflict, match="already completed"):
        c.complete_action_item(by=PROPERTY, number=1)
    c.complete_action_item(by=COMMITTEE, number=2)
    c.complete_action_item(by=STAFF, number=3)  # a coordinator may complete any item
    assert c.status == S.CLOSED
    assert isinstance(c.collect_events()[-1], Consultation.Closed)
    assert c.allowed_commands == []


def test_only_the_responsible_party_or_a_coordinator_completes_an_item() -> None:
    c = published()
    c.add_action_items(
        by=STAFF, items=[("采购电梯", PROPERTY_PARTY, date(2026, 4, 30))], now=T0
    )
    with pytest.raises(NotPermitted):
        c.complete_action_item(by=COMMITTEE, number=1)
    with pytest.raises(NotFound):
        c.complete_action_item(by=PROPERTY, number=2)
    c.complete_action_item(by=BRANCH, number=1)
    assert c.status == S.CLOSED


def test_action_items_check_their_fields() -> None:
    c = published()
    with pytest.raises(InvalidValue) as error:
        c.add_action_items(by=STAFF, items=[], now=T0)
    assert error.value.field == "items"
    with pytest.raises(InvalidValue) as error:
        c.add_action_items(by=STAFF, items=[("x", PROPERTY_PARTY, date(2026, 3, 1))], now=T0)
    assert error.value.field == "due_on"
    with pytest.raises(InvalidValue) as error:
        c.add_action_items(by=STAFF, items=[("", PROPERTY_PARTY, date(2026, 4, 1))], now=T0)
    assert error.value.field == "title"
    assert c.action_items == []


def test_action_items_come_after_publication() -> None:
    c = adopted()
    with pytest.raises(IllegalTransition) as error:
        c.add_action_items(by=STAFF, items=[("x", PROPERTY_PARTY, date(2026, 4, 1))], now=T0)
    assert error.value.allowed == ["publish", "record_resolution"]


def test_cancelling_needs_a_reason_and_concludes() -> None:
    c = proposed()
    with pytest.raises(InvalidValue) as error:
        c.cancel(by=STAFF, reason=" ")
    assert error.value.field == "reason"
    c.cancel(by=STAFF, reason="双方已自行和解")
    assert c.status == S.CANCELLED
    assert c.outcome == "cancelled"
    assert c.is_concluded
    with pytest.raises(IllegalTransition):
        c.convene(by=STAFF, meets_at=T0, place="x", method="consensus")


def test_opinions_are_counted_and_residents_speak_for_themselves() -> None:
    c = convened_consensus()
    c.record_opinion(by=PROPERTY, text="电梯需整体更换")
    c.record_opinion(by=STAFF, text="同意更换", speaker="3号楼业主代表")
    c.record_opinion(by=R1, text="希望尽快")
    assert c.opinions == 3
    events = c.collect_events()[-3:]
    assert [e.speaker for e in events] == ["pm-1", "3号楼业主代表", "resident-1"]
    with pytest.raises(NotPermitted):
        c.record_opinion(by=R1, text="x", speaker="业委会主任")


# The state machine, written from DESIGN 2.3 independently of the module's table.
EXPECTED = {
    ("proposed", None): {"convene", "attach_need", "record_opinion", "cancel"},
    ("convened", "vote"): {"vote", "close_vote", "attach_need", "record_opinion", "cancel"},
    ("convened", "consensus"): {"record_resolution", "attach_need", "record_opinion", "cancel"},
    ("adopted", "vote"): {"record_resolution", "publish"},
    ("agreed", "consensus"): {"publish"},
    ("published", "vote"): {"add_actions", "complete_action"},
    ("rejected", "vote"): set(),
    ("no_quorum", "vote"): set(),
    ("closed", "vote"): set(),
    ("cancelled", None): set(),
}


@pytest.mark.parametrize(("state", "expected"), EXPECTED.items(), ids=lambda v: str(v))
def test_allowed_commands_follow_the_design(state: tuple, expected: set[str]) -> None:
    assert set(allowed_commands(*state)) == expected


def test_matters_are_ordinary_or_items_6_to_8() -> None:
    assert MATTERS[0] == "ordinary"
    assert len(MATTERS) == 4


def test_household_ids_match_however_they_were_typed() -> None:
    c = proposed()
    c.convene(
        by=STAFF,
        meets_at=T0,
        place="活动室",
        method="vote",
        motion="m",
        matter="ordinary",
        electorate=[(str(H1).upper(), Decimal("90")), (" 业主-王 ", Decimal("80"))],
    )
    assert set(c.electorate) == {str(H1), "业主-王"}
    c.cast_vote(by=R1, choice="for")
    c.cast_vote(by=STAFF, choice="against", owner_id="业主-王")
    assert c.votes == {str(H1): "for", "业主-王": "against"}


def test_the_same_household_typed_twice_is_a_repeat() -> None:
    c = proposed()
    with pytest.raises(InvalidValue) as error:
        c.convene(
            by=STAFF,
            meets_at=T0,
            place="活动室",
            method="vote",
            motion="m",
            matter="ordinary",
            electorate=[(str(H1).upper(), Decimal("90")), (str(H1), Decimal("80"))],
        )
    assert error.value.field == "electorate"
    assert "once" in error.value.message


# ----- owners as the law counts them ---------------------------------------------
#
# 《最高人民法院关于审理建筑物区分所有权纠纷案件具体应用法律若干问题的解释》
# Art. 9: 业主人数，按照专有部分的数量计算，一个专有部分按一人计算。但建设单位尚未
# 出售和虽已出售但尚未交付的部分，以及同一买受人拥有一个以上专有部分的，按一人计算;
# Art. 8: the total area is the sum of the exclusive parts' areas.

P = "6f1c2a3e-0b4d-4e5f-8a9b-0c1d2e3f4a5b"  # a person owning two units (H1, H2)
Q = "0a9b8c7d-6e5f-4a3b-9c1d-2e3f4a5b6c7d"  # a person owning one unit (H4)
H4 = UUID("00000000-0000-4000-8000-0000000000a4")


def households() -> dict[UUID, dict[str, object]]:
    """As Compound.households: H1 and H2 owned by P, H3 without an owner person, H4 by Q."""
    return {
        H1: {"exclusive_area": Decimal("100"), "owner_id": P, "owner_name": "业主甲"},
        H3: {"exclusive_area": Decimal("90"), "owner_id": None, "owner_name": "王五"},
        H2: {"exclusive_area": Decimal("80"), "owner_id": P, "owner_name": None},
        H4: {"exclusive_area": Decimal("70"), "owner_id": Q, "owner_name": None},
    }


def convened_by_owners() -> Consultation:
    c = proposed()
    c.convene(
        by=BRANCH,
        meets_at=T0 + timedelta(days=3),
        place="社区活动室",
        method="vote",
        motion="加装电动车充电桩",
        matter="ordinary",
        electorate=owners_of_households(households()),
        electorate_source="households",
        now=T0 + timedelta(hours=1),
    )
    return c


def test_one_buyer_of_several_units_is_one_owner_with_their_summed_area_spc_art_9() -> None:
    """同一买受人拥有一个以上专有部分的，按一人计算 (SPC interpretation on building
    unit ownership disputes, Art. 9): 4 households are 3 owners; P holds 100 + 80 m²."""
    owners = owners_of_households(households())
    assert owners == [
        (P, Decimal("180"), [str(H1), str(H2)]),
        (str(H3), Decimal("90"), [str(H3)]),  # no owner person: the household is the owner
        (Q, Decimal("70"), [str(H4)]),
    ]


def test_grouping_sums_exactly_and_keys_persons_canonically() -> None:
    owned = {
        H1: {"exclusive_area": Decimal("89.45"), "owner_id": P.upper()},
        H2: {"exclusive_area": Decimal("90.55"), "owner_id": P},
        H3: {"exclusive_area": Decimal("0.0001"), "owner_id": None},
    }
    assert owners_of_households(owned) == [
        (P, Decimal("180.00"), [str(H1), str(H2)]),
        (str(H3), Decimal("0.0001"), [str(H3)]),
    ]
    assert owners_of_households({}) == []


def test_a_vote_convened_from_households_lists_each_owner_once_with_their_households() -> None:
    c = convened_by_owners()
    assert c.electorate == {P: Decimal("180"), str(H3): Decimal("90"), Q: Decimal("70")}
    event = c.collect_events()[-1]
    assert isinstance(event, Consultation.Convened)
    assert event.total_owners == 3  # not 4 households
    assert event.total_area == Decimal("340")
    assert event.electorate_source == "households"
    assert event.electorate == [
        {"owner_id": P, "exclusive_area": Decimal("180"), "households": [str(H1), str(H2)]},
        {"owner_id": str(H3), "exclusive_area": Decimal("90"), "households": [str(H3)]},
        {"owner_id": Q, "exclusive_area": Decimal("70"), "households": [str(H4)]},
    ]


def test_an_explicit_electorate_lists_no_households_as_before() -> None:
    """Entries without ``households`` (every Convened event stored before this
    change) are what an explicit electorate still records; stored and loaded
    again, the vote goes on from them."""
    c = convened_vote()
    events = c.collect_events()
    assert all(set(entry) == {"owner_id", "exclusive_area"} for entry in events[-1].electorate)
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    mapper: Mapper[UUID] = Mapper(transcoder=transcoder)
    loaded = None
    for event in events:
        again = mapper.to_domain_event(mapper.to_stored_event(event))
        loaded = again.mutate(loaded)  # type: ignore[attr-defined]
    assert isinstance(loaded, Consultation)
    assert loaded.electorate == {
        str(H1): Decimal("90.5"),
        str(H2): Decimal("90"),
        str(H3): Decimal("120.25"),
    }
    loaded.cast_vote(by=R1, choice="for")
    assert loaded.votes == {str(H1): "for"}


def test_an_owner_of_several_units_may_hold_more_than_one_units_maximum() -> None:
    big = {
        H1: {"exclusive_area": Decimal("100000"), "owner_id": P},
        H2: {"exclusive_area": Decimal("100000"), "owner_id": P},
        H3: {"exclusive_area": Decimal("90"), "owner_id": None},
    }
    c = proposed()
    c.convene(
        by=BRANCH,
        meets_at=T0 + timedelta(days=3),
        place="社区活动室",
        method="vote",
        motion="m",
        matter="ordinary",
        electorate=owners_of_households(big),
    )
    assert c.electorate[P] == Decimal("200000")
    c.cast_vote(by=Actor(P, Role.RESIDENT, frozenset({COMPOUND}), household_id=H1), choice="for")
    c.cast_vote(by=STAFF, choice="against", owner_id=str(H3))
    result = c.close_vote(by=STAFF)
    assert result.total_area == Decimal("200090")
    assert result.outcome == "rejected"  # 1 of 2 owners for: not more than half


@pytest.mark.parametrize(
    ("electorate", "why"),
    [
        # H1 held by two owners.
        ([(P, Decimal("100"), [str(H1)]), (Q, Decimal("100"), [str(H1)])], "held by one owner"),
        # H1 counted as an owner and held by P.
        ([(P, Decimal("180"), [str(H1), str(H2)]), (str(H1), Decimal("100"))], "also held"),
        ([(P, Decimal("180"), [])], "no household"),
        # Two units, each at most 100000 m².
        ([(P, Decimal("200000.01"), [str(H1), str(H2)])], "at most 200000"),
    ],
)
def test_households_of_the_electorate_are_held_once(electorate: list, why: str) -> None:
    c = proposed()
    with pytest.raises(InvalidValue) as error:
        c.convene(
            by=BRANCH,
            meets_at=T0,
            place="活动室",
            method="vote",
            motion="m",
            matter="ordinary",
            electorate=electorate,
        )
    assert error.value.field in ("electorate", "exclusive_area")
    assert why in error.value.message
    assert c.status == S.PROPOSED


def test_an_owner_person_votes_once_for_all_their_units() -> None:
    c = convened_by_owners()
    # P's credentials name one of P's households each; P votes as the person.
    as_h2 = Actor(P, Role.RESIDENT, frozenset({COMPOUND}), household_id=H2)
    as_h1 = Actor(P, Role.RESIDENT, frozenset({COMPOUND}), household_id=H1)
    c.cast_vote(by=as_h2, choice="for")
    vote = c.collect_events()[-1]
    assert isinstance(vote, Consultation.VoteCast)
    assert (vote.owner_id, vote.exclusive_area, vote.on_behalf_of_owner) == (
        P,
        Decimal("180"),
        False,
    )
    with pytest.raises(Conflict, match="already voted"):
        c.cast_vote(by=as_h1, choice="against")
    with pytest.raises(Conflict, match="already voted"):
        c.cast_vote(by=STAFF, choice="against", owner_id=P)
    assert c.votes == {P: "for"}


def test_a_resident_votes_as_their_household_only_when_it_has_no_owner_person() -> None:
    c = convened_by_owners()
    # Someone living in P's unit H1 who is not P (a tenant, a relative): not an owner.
    tenant = Actor("tenant-1", Role.RESIDENT, frozenset({COMPOUND}), household_id=H1)
    with pytest.raises(NotPermitted, match="not in the electorate"):
        c.cast_vote(by=tenant, choice="for")
    with pytest.raises(NotPermitted):
        c.cast_vote(by=tenant, choice="for", owner_id=P)
    with pytest.raises(NotPermitted):
        c.cast_vote(by=tenant, choice="for", owner_id=str(H1))
    # H3 has no owner person: its resident votes as the household, as before;
    # a co-owner of H3 with another credential is the same owner.
    r3 = Actor("resident-3", Role.RESIDENT, frozenset({COMPOUND}), household_id=H3)
    co_owner = Actor("resident-3b", Role.RESIDENT, frozenset({COMPOUND}), household_id=H3)
    c.cast_vote(by=r3, choice="against", owner_id=str(H3).upper())
    with pytest.raises(Conflict, match="already voted"):
        c.cast_vote(by=co_owner, choice="for")
    # An owner person names only themselves.
    p = Actor(P, Role.RESIDENT, frozenset({COMPOUND}), household_id=H1)
    with pytest.raises(NotPermitted, match="votes only as the owner they are"):
        c.cast_vote(by=p, choice="for", owner_id=str(H1))
    with pytest.raises(NotPermitted):
        c.cast_vote(by=p, choice="for", owner_id=Q)
    c.cast_vote(by=p, choice="for", owner_id=P)
    assert c.votes == {str(H3): "against", P: "for"}


def test_staff_name_the_owner_by_the_electorates_key() -> None:
    c = convened_by_owners()
    # H2 is one of P's units, not an owner of its own.
    with pytest.raises(InvalidValue) as error:
        c.cast_vote(by=STAFF, choice="for", owner_id=str(H2))
    assert error.value.field == "owner_id"
    assert "not in the electorate" in error.value.message
    c.cast_vote(by=COMMITTEE, choice="abstain", owner_id=Q)
    assert c.votes == {Q: "abstain"}


def test_head_count_by_owners_changes_the_outcome() -> None:
    """P (180 m²) and H3 (90 m²) vote, Q (70 m²) does not.

    By owners: 3 owners, 340 m². Took part: 2 of 3 owners (2/3, enough:
    "at least"), 270 of 340 m² (27/34 >= 2/3). For: P alone, 180 of 270 m²
    (2/3 > 1/2) but 1 of 2 owners (1/2, not more than half): rejected.
    Per household it would have been 4 households, 3 of 4 taking part
    (H1, H2, H3), 2 of 3 for (H1, H2) with 180 of 270 m²: adopted.
    """
    c = convened_by_owners()
    c.cast_vote(by=Actor(P, Role.RESIDENT, frozenset({COMPOUND}), household_id=H1), choice="for")
    c.cast_vote(by=STAFF, choice="against", owner_id=str(H3))
    result = c.close_vote(by=STAFF)
    assert (result.total_owners, result.total_area) == (3, Decimal("340"))
    assert result.event_fields()["participation_owners"] == "2/3"
    assert result.event_fields()["participation_area"] == "27/34"
    assert result.quorum_reached is True
    assert result.event_fields()["approval_area"] == "2/3"
    assert result.event_fields()["approval_owners"] == "1/2"
    assert result.outcome == "rejected"
