"""The Consultation (协商议事): one deliberation, and the vote rule it applies.

A consultation is proposed on a topic, possibly carrying needs in dispute;
it is convened (time, place, invited parties) to decide either by consensus
or by an owners' vote; opinions are recorded; a vote is closed by the rule
of PRC Civil Code Art. 278 (``tally`` below); an adopted or agreed
resolution is published (公示) and split into action items whose completion
closes the consultation. Every conclusion (adopted, rejected, no quorum,
consensus, cancelled) hands the escalated needs back to their parties: the
application saves the consultation and those needs together.

The vote rule, and the choices this module makes where the article is silent:

* The electorate is fixed at convening: each owner once, with the exclusive
  floor area (专有部分面积, m²) they hold. An owner of several units is listed
  once with the sum of their areas (the article counts owners by head; the
  Supreme People's Court's interpretation on building unit ownership disputes,
  Art. 9: 同一买受人拥有一个以上专有部分的，按一人计算). Taken from the
  compound's households (``owners_of_households``), an owner is a person
  (key: the person's id) or, for a household without an owner person, that
  household (key: the household id; its co-owners are one owner).
* Quorum: owners holding **at least 2/3** of the total exclusive area **and**
  **at least 2/3** of all owners took part in the vote (参与表决). An owner who
  abstains takes part: abstaining is a way of voting.
* Passing: measured against the area and the owners that took part (参与表决
  专有部分面积 / 参与表决人数), abstentions included in that base: **more than
  1/2** of both for ordinary matters; **at least 3/4** of both for items 6 to 8
  of the article (raising the maintenance fund; rebuilding or reconstructing
  the buildings and their facilities; changing the use of common parts or
  running a business on them).
* "At least" (以上) includes the bound; "more than" (过半数) does not. All
  comparisons use exact fractions (``fractions.Fraction``), never floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import Actor, Role
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotFound, NotPermitted
from domain.text import optional_text, reason_text, required_text
from domain.times import client_day, client_time

# ----- vocabulary -------------------------------------------------------------


class ConsultationStatus(StrEnum):
    PROPOSED = "proposed"
    CONVENED = "convened"
    ADOPTED = "adopted"
    REJECTED = "rejected"
    NO_QUORUM = "no_quorum"
    AGREED = "agreed"
    PUBLISHED = "published"
    CLOSED = "closed"
    CANCELLED = "cancelled"


S = ConsultationStatus

STATUS_LABELS_ZH = {
    S.PROPOSED: "已提议",
    S.CONVENED: "已召集",
    S.ADOPTED: "表决通过",
    S.REJECTED: "表决未通过",
    S.NO_QUORUM: "参与表决未达法定比例",
    S.AGREED: "协商一致",
    S.PUBLISHED: "决议已公示",
    S.CLOSED: "已办结",
    S.CANCELLED: "已取消",
}

METHODS = ("vote", "consensus")
METHOD_LABELS_ZH = {"vote": "业主表决", "consensus": "协商一致"}

# The matter decided by vote: ordinary (Art. 278 items 1-5 and 9), or one of
# the three matters of items 6 to 8 that need 3/4.
MATTERS = (
    "ordinary",
    "raise_maintenance_fund",
    "rebuild_or_reconstruct",
    "change_common_parts_use",
)
MAJOR_MATTERS = frozenset(MATTERS[1:])
MATTER_LABELS_ZH = {
    "ordinary": "一般事项（第二百七十八条第一款其他事项）",
    "raise_maintenance_fund": "筹集建筑物及其附属设施的维修资金（第六项）",
    "rebuild_or_reconstruct": "改建、重建建筑物及其附属设施（第七项）",
    "change_common_parts_use": "改变共有部分的用途或者利用共有部分从事经营活动（第八项）",
}

CHOICES = ("for", "against", "abstain")
CHOICE_LABELS_ZH = {"for": "赞成", "against": "反对", "abstain": "弃权"}

OUTCOMES = ("adopted", "rejected", "no_quorum")
OUTCOME_LABELS_ZH = {
    "adopted": "通过",
    "rejected": "未通过",
    "no_quorum": "参与表决未达法定比例",
    "consensus": "协商一致",
    "cancelled": "已取消",
}

QUORUM = Fraction(2, 3)
MAJORITY = Fraction(1, 2)
SUPERMAJORITY = Fraction(3, 4)
QUORUM_RULE = "at least 2/3 of the total exclusive area and at least 2/3 of all owners"
ORDINARY_RULE = "more than 1/2 of the participating area and of the participating owners"
MAJOR_RULE = "at least 3/4 of the participating area and of the participating owners"

MAX_ELECTORATE = 20000
# One exclusive part (a household); an owner holds at most this per unit they own.
MAX_AREA = Decimal("100000")
# What tally accepts for one owner: the sum of the units they hold.
MAX_OWNER_AREA = MAX_AREA * MAX_ELECTORATE
MAX_NEEDS = 50
MAX_INVITED = 50
MAX_ACTION_ITEMS = 100

OPEN_STATUSES = frozenset({S.PROPOSED, S.CONVENED})
FINAL_STATUSES = frozenset({S.REJECTED, S.NO_QUORUM, S.CLOSED, S.CANCELLED})


def fraction_text(value: Fraction | None) -> str | None:
    """``7/9``; always numerator/denominator, also for 0/1 and 1/1."""
    if value is None:
        return None
    return f"{value.numerator}/{value.denominator}"


# ----- the vote rule (Civil Code Art. 278) -----------------------------------


@dataclass(frozen=True)
class VoteResult:
    """The outcome of a vote and every figure it was decided from."""

    matter: str
    total_owners: int
    total_area: Decimal
    participating_owners: int
    participating_area: Decimal
    for_owners: int
    for_area: Decimal
    against_owners: int
    against_area: Decimal
    abstain_owners: int
    abstain_area: Decimal
    participation_area: Fraction
    participation_owners: Fraction
    approval_area: Fraction | None
    approval_owners: Fraction | None
    quorum_reached: bool
    outcome: str

    @property
    def approval_rule(self) -> str:
        return MAJOR_RULE if self.matter in MAJOR_MATTERS else ORDINARY_RULE

    def event_fields(self) -> dict[str, Any]:
        """The figures as a VoteClosed event carries them (fractions as ``a/b``)."""
        return {
            "outcome": self.outcome,
            "matter": self.matter,
            "total_owners": self.total_owners,
            "total_area": self.total_area,
            "participating_owners": self.participating_owners,
            "participating_area": self.participating_area,
            "for_owners": self.for_owners,
            "for_area": self.for_area,
            "against_owners": self.against_owners,
            "against_area": self.against_area,
            "abstain_owners": self.abstain_owners,
            "abstain_area": self.abstain_area,
            "participation_area": fraction_text(self.participation_area),
            "participation_owners": fraction_text(self.participation_owners),
            "approval_area": fraction_text(self.approval_area),
            "approval_owners": fraction_text(self.approval_owners),
            "quorum_reached": self.quorum_reached,
            "quorum_rule": QUORUM_RULE,
            "approval_rule": self.approval_rule,
        }


def tally(electorate: Mapping[str, Decimal], votes: Mapping[str, str], matter: str) -> VoteResult:
    """Apply Art. 278 to the votes of an electorate (owner id -> exclusive area).

    ``votes`` maps each owner who voted to ``for``, ``against`` or ``abstain``.
    """
    _choice("matter", matter, MATTERS)
    if not electorate:
        raise InvalidValue("electorate", "a vote needs at least one owner")
    area_of = {owner: _area(area, limit=MAX_OWNER_AREA) for owner, area in electorate.items()}
    by_choice: dict[str, list[str]] = {choice: [] for choice in CHOICES}
    for owner, choice in votes.items():
        if owner not in area_of:
            raise InvalidValue("owner_id", f"'{owner}' is not in the electorate")
        by_choice[_choice("choice", choice, CHOICES)].append(owner)
    voters = [owner for choice in CHOICES for owner in by_choice[choice]]

    def area(owners: Sequence[str]) -> Decimal:
        return _exact_sum(area_of[o] for o in owners)

    total_area = area(list(area_of))
    voted_area = area(voters)
    for_area = area(by_choice["for"])

    participation_area = Fraction(voted_area) / Fraction(total_area)
    participation_owners = Fraction(len(voters), len(area_of))
    quorum = participation_area >= QUORUM and participation_owners >= QUORUM

    approval_area = Fraction(for_area) / Fraction(voted_area) if voters else None
    approval_owners = Fraction(len(by_choice["for"]), len(voters)) if voters else None
    if not quorum:
        outcome = "no_quorum"
    else:
        assert approval_area is not None and approval_owners is not None
        if matter in MAJOR_MATTERS:
            passed = approval_area >= SUPERMAJORITY and approval_owners >= SUPERMAJORITY
        else:
            passed = approval_area > MAJORITY and approval_owners > MAJORITY
        outcome = "adopted" if passed else "rejected"

    return VoteResult(
        matter=matter,
        total_owners=len(area_of),
        total_area=total_area,
        participating_owners=len(voters),
        participating_area=voted_area,
        for_owners=len(by_choice["for"]),
        for_area=for_area,
        against_owners=len(by_choice["against"]),
        against_area=area(by_choice["against"]),
        abstain_owners=len(by_choice["abstain"]),
        abstain_area=area(by_choice["abstain"]),
        participation_area=participation_area,
        participation_owners=participation_owners,
        approval_area=approval_area,
        approval_owners=approval_owners,
        quorum_reached=quorum,
        outcome=outcome,
    )


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    """A sum of areas, exact or an error (never silently rounded)."""
    with localcontext() as context:
        context.prec = 60
        context.traps[Inexact] = True
        return sum(values, Decimal(0))


def _area(value: Any, field: str = "exclusive_area", limit: Decimal = MAX_AREA) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidValue(field, "must be a decimal number of m²")
    area = Decimal(value)
    if not area.is_finite() or not Decimal(0) < area <= limit:
        raise InvalidValue(field, f"must be more than 0 and at most {limit} m²")
    if area.as_tuple().exponent < -4:  # type: ignore[operator]
        raise InvalidValue(field, "at most 4 decimal places")
    return area


def _choice(field: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidValue(field, f"'{value}' is not one of {', '.join(choices)}")
    return str(value)


# ----- which command each status allows ---------------------------------------

_ALWAYS_OPEN = ("attach_need", "record_opinion", "cancel")


def allowed_commands(status: str, method: str | None = None) -> list[str]:
    """The commands a consultation in ``status`` (deciding by ``method``) accepts."""
    if status == S.PROPOSED:
        return ["convene", *_ALWAYS_OPEN]
    if status == S.CONVENED:
        deciding = ["vote", "close_vote"] if method == "vote" else ["record_resolution"]
        return [*deciding, *_ALWAYS_OPEN]
    if status == S.ADOPTED:
        return ["record_resolution", "publish"]
    if status == S.AGREED:
        return ["publish"]
    if status == S.PUBLISHED:
        return ["add_actions", "complete_action"]
    return []


# ----- the aggregate -----------------------------------------------------------


class Consultation(Aggregate):
    """One deliberation (协商议事) among the parties and owners of a compound."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Proposed(Event, Aggregate.Created):
        compound_id: UUID
        topic: str
        description: str | None
        need_ids: list[UUID]

        def apply(self, c: Consultation) -> None:
            c.compound_id = self.compound_id
            c.topic = self.topic
            c.description = self.description
            c.need_ids = list(self.need_ids)
            c.proposed_by = self.actor_id
            c.status = S.PROPOSED
            c.method = None
            c.motion = None
            c.matter = None
            c.meets_at = None
            c.place = None
            c.invited_party_ids = []
            c.electorate = {}
            c.votes = {}
            c.opinions = 0
            c.outcome = None
            c.resolution = None
            c.action_items = []

    class NeedAttached(Event):
        need_id: UUID

        def apply(self, c: Consultation) -> None:
            c.need_ids.append(self.need_id)

    class Convened(Event):
        meets_at: datetime
        place: str
        invited_party_ids: list[UUID]
        invited_others: list[str]
        method: str
        motion: str | None
        matter: str | None
        electorate_source: str | None
        electorate: list[dict[str, Any]]
        total_owners: int
        total_area: Decimal | None

        def apply(self, c: Consultation) -> None:
            c.status = S.CONVENED
            c.meets_at = self.meets_at
            c.place = self.place
            c.invited_party_ids = list(self.invited_party_ids)
            c.method = self.method
            c.motion = self.motion
            c.matter = self.matter
            c.electorate = {e["owner_id"]: e["exclusive_area"] for e in self.electorate}

    class OpinionRecorded(Event):
        speaker: str
        text: str
        # The speaker's (domain/personal.py); None in events before release 0.4.
        subject_id: str | None = None

        personal_fields = ("text",)

        def apply(self, c: Consultation) -> None:
            c.opinions += 1

    class VoteCast(Event):
        owner_id: str
        choice: str
        exclusive_area: Decimal
        on_behalf_of_owner: bool

        def apply(self, c: Consultation) -> None:
            c.votes[self.owner_id] = self.choice

    class VoteClosed(Event):
        outcome: str
        matter: str
        motion: str
        total_owners: int
        total_area: Decimal
        participating_owners: int
        participating_area: Decimal
        for_owners: int
        for_area: Decimal
        against_owners: int
        against_area: Decimal
        abstain_owners: int
        abstain_area: Decimal
        participation_area: str
        participation_owners: str
        approval_area: str | None
        approval_owners: str | None
        quorum_reached: bool
        quorum_rule: str
        approval_rule: str

        def apply(self, c: Consultation) -> None:
            c.status = ConsultationStatus(self.outcome)
            c.outcome = self.outcome
            if self.outcome == "adopted":
                c.resolution = self.motion

    class ConsensusReached(Event):
        resolution: str

        def apply(self, c: Consultation) -> None:
            c.status = S.AGREED
            c.outcome = "consensus"
            c.resolution = self.resolution

    class ResolutionRecorded(Event):
        resolution: str

        def apply(self, c: Consultation) -> None:
            c.resolution = self.resolution

    class ResolutionPublished(Event):
        resolution: str
        note: str | None

        def apply(self, c: Consultation) -> None:
            c.status = S.PUBLISHED

    class ActionItemAdded(Event):
        number: int
        title: str
        party_id: UUID
        due_on: str

        def apply(self, c: Consultation) -> None:
            c.action_items.append(
                {
                    "number": self.number,
                    "party_id": self.party_id,
                    "due_on": self.due_on,
                    "done": False,
                }
            )

    class ActionItemCompleted(Event):
        number: int
        note: str | None

        def apply(self, c: Consultation) -> None:
            c.action_items[self.number - 1]["done"] = True

    class Closed(Event):
        def apply(self, c: Consultation) -> None:
            c.status = S.CLOSED

    class Cancelled(Event):
        reason: str

        def apply(self, c: Consultation) -> None:
            c.status = S.CANCELLED
            c.outcome = "cancelled"

    # The state is set by the events' apply methods (no class annotations:
    # the library would turn them into constructor arguments).

    # ----- commands -------------------------------------------------------

    @classmethod
    def propose(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        topic: str,
        description: str | None = None,
        need_ids: Sequence[UUID] = (),
        id: UUID | None = None,  # noqa: A002 - the library's name
        now: datetime | None = None,
    ) -> Consultation:
        needs = list(need_ids)
        if len(needs) > MAX_NEEDS:
            raise InvalidValue("need_ids", f"at most {MAX_NEEDS} needs")
        _no_repeats("need_ids", [str(n) for n in needs])
        return cls._create(
            cls.Proposed,
            id=id,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            topic=required_text("topic", topic, 200),
            description=optional_text("description", description, 5000),
            need_ids=needs,
        )

    def attach_need(self, *, by: Actor, need_id: UUID, now: datetime | None = None) -> None:
        """A need in dispute joins this consultation (it is escalated to it)."""
        self._check("attach_need")
        if need_id in self.need_ids:
            raise Conflict(f"need {need_id} is already part of this consultation")
        if len(self.need_ids) >= MAX_NEEDS:
            raise Conflict(f"a consultation takes at most {MAX_NEEDS} needs")
        self._trigger(self.NeedAttached, by, now, need_id=need_id)

    def convene(
        self,
        *,
        by: Actor,
        meets_at: datetime,
        place: str,
        method: str,
        invited_party_ids: Sequence[UUID] = (),
        invited_others: Sequence[str] = (),
        motion: str | None = None,
        matter: str | None = None,
        electorate: Sequence[Elector] | None = None,
        electorate_source: str = "explicit",
        now: datetime | None = None,
    ) -> None:
        """Fix the meeting and, for a vote, the motion, the matter and the electorate.

        Each owner of the electorate is ``(owner_id, exclusive_area)``, or
        ``(owner_id, exclusive_area, household_ids)`` naming the households
        (exclusive parts) whose areas they hold (``owners_of_households``)."""
        self._check("convene")
        meets_at = client_time("meets_at", meets_at)
        _choice("method", method, METHODS)
        invited = list(invited_party_ids)
        if len(invited) > MAX_INVITED:
            raise InvalidValue("invited_party_ids", f"at most {MAX_INVITED} parties")
        _no_repeats("invited_party_ids", [str(p) for p in invited])
        others = [required_text("invited_others", o, 100) for o in invited_others]
        if len(others) > MAX_INVITED:
            raise InvalidValue("invited_others", f"at most {MAX_INVITED} entries")
        owners: list[dict[str, Any]] = []
        total_area: Decimal | None = None
        if method == "vote":
            motion = required_text("motion", motion, 2000)
            if matter is None:
                raise InvalidValue(
                    "matter", f"a vote needs its matter: one of {', '.join(MATTERS)}"
                )
            _choice("matter", matter, MATTERS)
            if not electorate:
                raise InvalidValue("electorate", "a vote needs at least one owner")
            if len(electorate) > MAX_ELECTORATE:
                raise InvalidValue("electorate", f"at most {MAX_ELECTORATE} owners")
            owners = [_elector(entry) for entry in electorate]
            _no_repeats(
                "electorate",
                [o["owner_id"] for o in owners],
                "list each owner once, with the sum of their exclusive areas",
            )
            held = [h for o in owners for h in o.get("households", ())]
            _no_repeats("electorate", held, "each household is held by one owner")
            listed = {o["owner_id"] for o in owners}
            for o in owners:
                for household in o.get("households", ()):
                    if household != o["owner_id"] and household in listed:
                        raise InvalidValue(
                            "electorate",
                            f"household '{household}' is listed as an owner and is also "
                            f"held by owner '{o['owner_id']}'",
                        )
            total_area = _exact_sum(o["exclusive_area"] for o in owners)
        else:
            for field, value in (
                ("motion", motion),
                ("matter", matter),
                ("electorate", electorate),
            ):
                if value is not None:
                    raise InvalidValue(field, "only a decision by owners' vote has one")
            electorate_source = None  # type: ignore[assignment]
        self._trigger(
            self.Convened,
            by,
            now,
            meets_at=meets_at,
            place=required_text("place", place, 200),
            invited_party_ids=invited,
            invited_others=others,
            method=method,
            motion=motion,
            matter=matter,
            electorate_source=electorate_source,
            electorate=owners,
            total_owners=len(owners),
            total_area=total_area,
        )

    def record_opinion(
        self, *, by: Actor, text: str, speaker: str | None = None, now: datetime | None = None
    ) -> None:
        """A participant's opinion (意见); a resident speaks only for themselves."""
        self._check("record_opinion")
        if by.role == Role.RESIDENT:
            if speaker is not None and speaker.strip() and speaker.strip() != by.id:
                raise NotPermitted("a resident records only their own opinion")
            speaker = None
        speaker = optional_text("speaker", speaker, 100) or by.id
        self._trigger(
            self.OpinionRecorded,
            by,
            now,
            speaker=speaker,
            text=required_text("text", text, 5000),
            subject_id=speaker,
        )

    def cast_vote(
        self,
        *,
        by: Actor,
        choice: str,
        owner_id: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """One owner's vote, once. A resident votes as the owner they are:
        themselves when their person id is in the electorate (an owner of
        several units votes once, for all of them), else their household when
        it is in the electorate (a household without an owner person). Staff
        record a vote on an owner's behalf, naming the electorate's key for
        that owner (a person id or a household id), and the event says so."""
        self._check("vote")
        _choice("choice", choice, CHOICES)
        if by.role == Role.RESIDENT:
            own = self._owner_voting_as(by)
            if owner_id is not None and owner_key(owner_id) != own:
                raise NotPermitted(
                    "a resident votes only as the owner they are: themselves, or their "
                    "own household when no owner person is recorded for it"
                )
            if own is None:
                raise NotPermitted(
                    "you are not in the electorate fixed when this vote was convened: "
                    "neither as an owner nor through your household (a household with an "
                    "owner person votes through that person)"
                )
            owner = own
            on_behalf = False
        else:
            if owner_id is None:
                raise InvalidValue("owner_id", "name the owner whose vote you record")
            owner = owner_key(owner_id)
            if owner not in self.electorate:
                raise InvalidValue(
                    "owner_id",
                    f"'{owner}' is not in the electorate fixed when this vote was convened",
                )
            on_behalf = True
        if owner in self.votes:
            raise Conflict(
                f"owner '{owner}' has already voted; each owner votes once and a vote "
                "is not changed"
            )
        self._trigger(
            self.VoteCast,
            by,
            now,
            owner_id=owner,
            choice=choice,
            exclusive_area=self.electorate[owner],
            on_behalf_of_owner=on_behalf,
        )

    def close_vote(self, *, by: Actor, now: datetime | None = None) -> VoteResult:
        """Close the vote and decide it by Art. 278; this concludes the consultation."""
        self._check("close_vote")
        assert self.matter is not None and self.motion is not None
        result = tally(self.electorate, self.votes, self.matter)
        self._trigger(self.VoteClosed, by, now, motion=self.motion, **result.event_fields())
        return result

    def record_resolution(self, *, by: Actor, text: str, now: datetime | None = None) -> None:
        """A consensus meeting's agreed resolution (this concludes it), or the
        wording of the resolution a vote adopted, before it is published."""
        self._check("record_resolution")
        text = required_text("resolution", text, 5000)
        if self.status == S.CONVENED:
            self._trigger(self.ConsensusReached, by, now, resolution=text)
        else:
            self._trigger(self.ResolutionRecorded, by, now, resolution=text)

    def publish(self, *, by: Actor, note: str | None = None, now: datetime | None = None) -> None:
        """Publish (公示) the adopted or agreed resolution."""
        self._check("publish")
        assert self.resolution is not None
        self._trigger(
            self.ResolutionPublished,
            by,
            now,
            resolution=self.resolution,
            note=optional_text("note", note, 2000),
        )

    def add_action_items(
        self,
        *,
        by: Actor,
        items: Sequence[tuple[str, UUID, date]],
        now: datetime | None = None,
    ) -> list[int]:
        """Split the published resolution into action items (title, responsible party, due date)."""
        self._check("add_actions")
        if not items:
            raise InvalidValue("items", "give at least one action item")
        if len(self.action_items) + len(items) > MAX_ACTION_ITEMS:
            raise InvalidValue("items", f"a resolution has at most {MAX_ACTION_ITEMS} action items")
        now = now or self.ActionItemAdded.create_timestamp()
        checked = []
        for title, party_id, due_on in items:
            due_on = client_day("due_on", due_on)
            if due_on < now.date():
                raise InvalidValue("due_on", f"{due_on.isoformat()} is in the past")
            if due_on > now.date() + timedelta(days=3660):
                raise InvalidValue("due_on", "must be within ten years")
            checked.append((required_text("title", title, 500), party_id, due_on))
        numbers = []
        for title, party_id, due_on in checked:
            number = len(self.action_items) + 1
            self._trigger(
                self.ActionItemAdded,
                by,
                now,
                number=number,
                title=title,
                party_id=party_id,
                due_on=due_on.isoformat(),
            )
            numbers.append(number)
        return numbers

    def complete_action_item(
        self, *, by: Actor, number: int, note: str | None = None, now: datetime | None = None
    ) -> None:
        """The responsible party's staff, or a coordinator, mark an item done;
        the last one done closes the consultation."""
        self._check("complete_action")
        if not isinstance(number, int) or not 1 <= number <= len(self.action_items):
            raise NotFound(f"action item {number} not found")
        item = self.action_items[number - 1]
        coordinator = by.role in (Role.COMMUNITY_STAFF, Role.PARTY_BRANCH)
        if not coordinator and not (by.is_party_staff and by.party_id == item["party_id"]):
            raise NotPermitted(
                "only the responsible party's staff, the party branch or community staff "
                "complete an action item"
            )
        if item["done"]:
            raise Conflict(f"action item {number} is already completed")
        now = now or self.ActionItemCompleted.create_timestamp()
        self._trigger(
            self.ActionItemCompleted,
            by,
            now,
            number=number,
            note=optional_text("note", note, 2000),
        )
        if all(i["done"] for i in self.action_items):
            self._trigger(self.Closed, by, now)

    def cancel(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        """Call off a consultation that has not concluded; its needs go back."""
        self._check("cancel")
        self._trigger(self.Cancelled, by, now, reason=reason_text(reason, "cancelling"))

    # ----- queries --------------------------------------------------------

    @property
    def allowed_commands(self) -> list[str]:
        return allowed_commands(self.status, self.method)

    @property
    def is_concluded(self) -> bool:
        """Whether it reached an outcome (or was cancelled): its needs go back then."""
        return self.status not in OPEN_STATUSES

    @property
    def accepts_needs(self) -> bool:
        return "attach_need" in self.allowed_commands

    # ----- helpers --------------------------------------------------------

    def _owner_voting_as(self, by: Actor) -> str | None:
        """The electorate's key a resident votes as: their person id, else
        their household's id, else None (not an owner of this vote)."""
        person = _key_or_none(by.id)
        if person is not None and person in self.electorate:
            return person
        if by.household_id is not None and str(by.household_id) in self.electorate:
            return str(by.household_id)
        return None

    def _check(self, command: str) -> None:
        allowed = self.allowed_commands
        if command not in allowed:
            raise IllegalTransition(command, self.status, allowed)

    def _trigger(
        self,
        event_class: type[Consultation.Event],
        by: Actor,
        now: datetime | None,
        **kwargs: Any,
    ) -> None:
        self.trigger_event(
            event_class, timestamp=now, actor_id=by.id, actor_role=str(by.role), **kwargs
        )


def owner_key(value: str) -> str:
    """An owner's id as the electorate keys it: a household id in its canonical
    UUID form (so that a resident's household matches however it was typed),
    any other id as typed, trimmed."""
    text = required_text("owner_id", value, 100)
    try:
        return str(UUID(text))
    except ValueError:
        return text


def _key_or_none(value: str) -> str | None:
    try:
        return owner_key(value)
    except InvalidValue:
        return None


# One owner of an electorate: (owner id, exclusive area) or, taken from the
# compound's households, (owner id, exclusive area, the household ids held).
Elector = tuple[str, Decimal] | tuple[str, Decimal, Sequence[str]]


def _elector(entry: Elector) -> dict[str, Any]:
    """An owner as the Convened event lists them (``households`` only when known)."""
    if len(entry) == 2:
        owner_id, area = entry  # type: ignore[misc]
        return {"owner_id": owner_key(owner_id), "exclusive_area": _area(area)}
    owner_id, area, households = entry  # type: ignore[misc]
    held = [owner_key(str(h)) for h in households]
    if not held:
        raise InvalidValue("electorate", f"owner '{owner_id}' is listed with no household")
    return {
        "owner_id": owner_key(owner_id),
        # Each unit is at most MAX_AREA; an owner holds their units' sum.
        "exclusive_area": _area(area, limit=MAX_AREA * len(held)),
        "households": held,
    }


def owners_of_households(
    households: Mapping[Any, Mapping[str, Any]],
) -> list[tuple[str, Decimal, list[str]]]:
    """The owners of a compound's households, as a vote's default electorate.

    ``households`` maps each household id to its record (``exclusive_area``,
    ``owner_id``: the owning person's id or None), as ``Compound.households``.

    The Supreme People's Court's interpretation on building unit ownership
    disputes (《最高人民法院关于审理建筑物区分所有权纠纷案件具体应用法律若干问题
    的解释》), Art. 9: 业主人数，按照专有部分的数量计算，一个专有部分按一人计算。
    但建设单位尚未出售和虽已出售但尚未交付的部分，以及同一买受人拥有一个以上专有
    部分的，按一人计算; 总人数，按照前项的统计总和计算. Art. 8: the total area is
    the sum of the exclusive parts' areas. So households with an owner person
    are grouped under that person's id, one owner with the sum of their areas
    (a developer registered as the owner of its unsold units is one owner
    likewise); a household without one is one owner keyed by its own id (its
    co-owners are one owner). Owners come in the order of their first household.
    """
    grouped: dict[str, tuple[list[Decimal], list[str]]] = {}
    for household_id, household in households.items():
        person = household.get("owner_id")
        key = owner_key(person) if person else owner_key(str(household_id))
        areas, held = grouped.setdefault(key, ([], []))
        areas.append(household["exclusive_area"])
        held.append(owner_key(str(household_id)))
    return [(key, _exact_sum(areas), held) for key, (areas, held) in grouped.items()]


def _no_repeats(field: str, values: Sequence[str], hint: str = "") -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise InvalidValue(field, f"'{value}' is listed twice" + (f"; {hint}" if hint else ""))
        seen.add(value)
