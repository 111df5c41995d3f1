"""The Need (诉求): one resident issue, from registration to archive."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import PARTY_ROLES, Actor, Role
from domain.calendar import DeadlinePolicy
from domain.errors import Conflict, IllegalTransition, InvalidValue, NotPermitted
from domain.text import optional_text, reason_text, required_text
from domain.times import MAX_EXTENSION, RANGE_TEXT, client_time


class NeedStatus(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    MERGED = "merged"
    TRANSFERRED = "transferred"
    WITHDRAWN = "withdrawn"


STATUS_LABELS_ZH = {
    NeedStatus.REPORTED: "已登记",
    NeedStatus.ACCEPTED: "已受理",
    NeedStatus.ASSIGNED: "已派单",
    NeedStatus.IN_PROGRESS: "办理中",
    NeedStatus.ESCALATED: "协商中",
    NeedStatus.RESOLVED: "已办结",
    NeedStatus.CLOSED: "已归档",
    NeedStatus.REJECTED: "不予受理",
    NeedStatus.MERGED: "已合并",
    NeedStatus.TRANSFERRED: "已转办",
    NeedStatus.WITHDRAWN: "已撤回",
}

SOURCES = (
    "household_visit",
    "self_report",
    "hotline",
    "inspection",
    "consultation",
    # A co-building unit or the property company asks something of the
    # compound (DESIGN 2.5): a need ``toward`` the compound.
    "party_request",
)
# Whom a need asks something of: ``None`` for a resident issue (the parties
# serve it), ``"compound"`` for a party's request of the compound (a room,
# volunteers, residents' cooperation), handled by the party branch or
# community staff.
TOWARD = ("compound",)
# The parties that raise needs toward the compound, and that evaluate the
# compound's side of the needs they served (DESIGN 2.5).
RAISING_ROLES = frozenset({Role.PROPERTY_COMPANY, Role.CO_BUILDING_UNIT})
PROVIDER_ROLES = frozenset({Role.PROPERTY_COMPANY.value, Role.CO_BUILDING_UNIT.value})
# Who handles a need toward the compound: the party branch (assigned), or
# community staff on the compound's behalf.
COMPOUND_HANDLER_KINDS = frozenset({Role.PARTY_BRANCH.value})
CATEGORIES = (
    "property_service",
    "facilities",
    "environment",
    "safety",
    "neighbour_dispute",
    "public_service",
    "owners_rights",
    "other",
)
PRIORITIES = ("urgent", "normal", "low")
EVALUATIONS = ("satisfied", "basically_satisfied", "unsatisfied")
# How an evaluation recorded on the reporter's behalf was obtained.
OBTAINED_BY = ("phone", "visit", "in_person")

FINAL_STATUSES = frozenset(
    {
        NeedStatus.CLOSED,
        NeedStatus.REJECTED,
        NeedStatus.MERGED,
        NeedStatus.TRANSFERRED,
        NeedStatus.WITHDRAWN,
    }
)
OPEN_STATUSES = frozenset(NeedStatus) - FINAL_STATUSES
S = NeedStatus

# Which commands each status allows: DESIGN 2.1's state machine.
TRANSITIONS: dict[str, frozenset[NeedStatus]] = {
    "accept": frozenset({S.REPORTED}),
    "reject": frozenset({S.REPORTED, S.ACCEPTED}),
    "merge": frozenset({S.REPORTED, S.ACCEPTED}),
    "withdraw": frozenset({S.REPORTED, S.ACCEPTED, S.ASSIGNED}),
    "assign": frozenset({S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS}),
    "transfer": frozenset({S.ACCEPTED, S.ASSIGNED}),
    "acknowledge": frozenset({S.ASSIGNED}),
    "escalate": frozenset({S.ASSIGNED, S.IN_PROGRESS}),
    "resolve": frozenset({S.IN_PROGRESS}),
    "evaluate": frozenset({S.RESOLVED}),
    "close": frozenset({S.RESOLVED}),
    "extend": frozenset({S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS, S.ESCALATED}),
    "add_note": OPEN_STATUSES,
    "supervise": OPEN_STATUSES,
}

# Commands that change the status, as the state machine's table lists them.
STATUS_COMMANDS = (
    "accept",
    "reject",
    "merge",
    "withdraw",
    "assign",
    "transfer",
    "acknowledge",
    "escalate",
    "resolve",
    "evaluate",
    "close",
)


def allowed_commands(status: NeedStatus) -> list[str]:
    return [name for name, statuses in TRANSITIONS.items() if status in statuses]


def _choice(field: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidValue(field, f"'{value}' is not one of {', '.join(choices)}")
    return value


class Need(Aggregate):
    """A resident's need or dispute and how it was handled."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Registered(Event, Aggregate.Created):
        compound_id: UUID
        building_id: UUID | None
        household_id: UUID | None
        reporter_id: str
        source: str
        category: str
        title: str
        description: str
        location: str | None
        attachments: list[str]
        visit_id: UUID | None
        # Added in release 0.3 with defaults, which events stored before
        # them read as (no upcast needed: an older event simply lacks them).
        toward: str | None = None  # "compound" for a party's request of the compound
        raised_by_party_id: UUID | None = None  # the party that raised it, then
        # Whose personal data the texts are (domain/personal.py); added in
        # release 0.4, None in older events and for needs about common parts.
        subject_id: str | None = None

        personal_fields = ("title", "description", "location")

        def apply(self, need: Need) -> None:
            need.subject_id = self.subject_id
            need.compound_id = self.compound_id
            need.building_id = self.building_id
            need.household_id = self.household_id
            need.reporter_id = self.reporter_id
            need.reporter_role = self.actor_role
            need.source = self.source
            need.category = self.category
            need.title = self.title
            need.description = self.description
            need.location = self.location
            need.attachments = list(self.attachments)
            need.visit_id = self.visit_id
            need.toward = self.toward
            need.raised_by_party_id = self.raised_by_party_id
            need.offer_id = None
            need.resolved_by_party_id = None
            need.resolved_by_party_role = None
            need.compound_side_evaluation = None
            need.status = NeedStatus.REPORTED
            need.priority = None
            need.respond_due = None
            need.resolve_due = None
            need.assigned_party_id = None
            need.commitment_id = None
            need.commitment_item_no = None
            need.responded_at = None
            need.resolved_at = None
            need.responded_within_limit = None
            need.resolved_within_limit = None
            need.outcome = None
            need.evaluation = None
            need.redo_count = 0
            need.consultation_id = None
            need.consultation_outcome = None
            need.consultation_resolution = None
            need.extensions = 0
            need.notes = 0
            need.supervision_notices = 0
            need.episodes = 0
            need.handled_by = []
            need.exclusions = {}

    class Accepted(Event):
        category: str
        priority: str
        respond_due: datetime
        resolve_due: datetime

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.ACCEPTED
            need.category = self.category
            need.priority = self.priority
            need.respond_due = self.respond_due
            need.resolve_due = self.resolve_due

    class Assigned(Event):
        """The need goes to a party: an episode of that party begins, with its
        own deadlines (None in events from before episodes: the need's ran on)."""

        class_version = 2
        party_id: UUID
        party_role: str
        commitment_id: UUID | None
        commitment_item_no: int | None
        reason: str | None
        respond_due: datetime | None
        resolve_due: datetime | None
        # The unit's offer (服务项目) it is served under; an event stored
        # before offers lacks it and reads the default.
        offer_id: UUID | None = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["respond_due"] = state["resolve_due"] = None

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.ASSIGNED
            need.assigned_party_id = self.party_id
            need.assigned_party_role = self.party_role
            need.commitment_id = self.commitment_id
            need.commitment_item_no = self.commitment_item_no
            need.offer_id = self.offer_id
            if self.party_id not in need.handled_by:
                need.handled_by.append(self.party_id)
            need.begin_episode(self.respond_due, self.resolve_due)

    class Acknowledged(Event):
        within_limit: bool

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.IN_PROGRESS
            if need.responded_at is None:
                need.responded_at = self.timestamp
                need.responded_within_limit = self.within_limit

    class Resolved(Event):
        outcome: str
        within_limit: bool

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.RESOLVED
            need.resolved_at = self.timestamp
            need.resolved_within_limit = self.within_limit
            need.outcome = self.outcome
            need.resolved_by_party_id = need.assigned_party_id
            need.resolved_by_party_role = need.assigned_party_role

    class Evaluated(Event):
        """The reporter's evaluation (or one recorded on their behalf, saying how
        it was obtained). Unsatisfied, it reopens the need for redo (重办): a new
        episode of the same party, with its deadlines."""

        class_version = 2
        evaluation: str
        comment: str | None
        on_behalf_of_reporter: bool
        resolved: bool | None  # whether the resident considers the matter resolved (回访)
        obtained_by: str | None  # phone, visit or in_person, when recorded on their behalf
        respond_due: datetime | None  # the redo's deadlines
        resolve_due: datetime | None
        subject_id: str | None = None  # the need's (domain/personal.py)

        personal_fields = ("comment",)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["resolved"] = state["obtained_by"] = None
            state["respond_due"] = state["resolve_due"] = None

        def apply(self, need: Need) -> None:
            need.evaluation = self.evaluation
            if self.evaluation == "unsatisfied":
                need.status = NeedStatus.ASSIGNED
                need.redo_count += 1
                need.resolved_at = None
                need.resolved_within_limit = None
                need.begin_episode(self.respond_due, self.resolve_due)
            else:
                need.status = NeedStatus.CLOSED

    class CompoundSideEvaluated(Event):
        """The provider that resolved a closed need evaluates the compound's
        side of it (双向评价): how the compound coordinated (协调配合) and how
        the residents cooperated (居民配合)."""

        party_id: UUID
        party_role: str
        coordination: str
        cooperation: str
        comment: str | None

        def apply(self, need: Need) -> None:
            need.compound_side_evaluation = {
                "party_id": self.party_id,
                "coordination": self.coordination,
                "cooperation": self.cooperation,
            }

    class Closed(Event):
        reason: str

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.CLOSED

    class Rejected(Event):
        reason: str

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.REJECTED

    class Merged(Event):
        into_need_id: UUID
        reason: str

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.MERGED
            need.merged_into = self.into_need_id

    class Transferred(Event):
        to_body: str
        reason: str

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.TRANSFERRED
            need.transferred_to = self.to_body

    class Withdrawn(Event):
        reason: str
        on_behalf_of_reporter: bool
        subject_id: str | None = None  # the need's (domain/personal.py)

        personal_fields = ("reason",)

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.WITHDRAWN

    class NoteAdded(Event):
        text: str
        attachments: list[str]
        subject_id: str | None = None  # the need's (domain/personal.py)

        personal_fields = ("text",)

        def apply(self, need: Need) -> None:
            need.notes += 1
            need.attachments.extend(self.attachments)

    class DeadlineExtended(Event):
        previous_due: datetime
        resolve_due: datetime
        reason: str

        def apply(self, need: Need) -> None:
            need.resolve_due = self.resolve_due
            need.extensions += 1

    class Escalated(Event):
        consultation_id: UUID

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.ESCALATED
            need.consultation_id = self.consultation_id

    class ReturnedFromConsultation(Event):
        """Back to the assigned party after a consultation: a new episode of it."""

        class_version = 2
        consultation_id: UUID
        outcome: str
        resolution: str | None
        respond_due: datetime | None
        resolve_due: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["respond_due"] = state["resolve_due"] = None

        def apply(self, need: Need) -> None:
            need.status = NeedStatus.ASSIGNED
            need.consultation_outcome = self.outcome
            need.consultation_resolution = self.resolution
            need.begin_episode(self.respond_due, self.resolve_due)

    class SupervisionNoticeIssued(Event):
        text: str

        def apply(self, need: Need) -> None:
            need.supervision_notices += 1

    class ExcludedFromAssessment(Event):
        """A supervisor leaves the need out of a party's assessment (不纳入考评),
        for example a demand found unreasonable on review."""

        party_id: UUID
        reason: str

        def apply(self, need: Need) -> None:
            need.exclusions = {**need.exclusions, self.party_id: self.reason}

    class ExclusionRevoked(Event):
        party_id: UUID
        reason: str

        def apply(self, need: Need) -> None:
            need.exclusions = {k: v for k, v in need.exclusions.items() if k != self.party_id}

    # The state is set by the events' apply methods (no class annotations:
    # the library would turn them into constructor arguments).

    # ----- commands -------------------------------------------------------

    @classmethod
    def register(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        source: str,
        title: str,
        description: str,
        category: str = "other",
        building_id: UUID | None = None,
        household_id: UUID | None = None,
        location: str | None = None,
        attachments: list[str] | None = None,
        visit_id: UUID | None = None,
        toward: str | None = None,
        household_owner_id: str | None = None,
        id: UUID | None = None,  # noqa: A002 - the library's name
        now: datetime | None = None,
    ) -> Need:
        """``household_owner_id`` is the owner person of ``household_id`` (the
        application looks it up): whose personal data the texts of a need
        collected from that household are, unless a resident reports it."""
        _choice("source", source, SOURCES)
        _choice("category", category, CATEGORIES)
        if toward is not None:
            _choice("toward", toward, TOWARD)
        raised_by_party_id = None
        if by.role in RAISING_ROLES:
            # A property company's or co-building unit's staff raise needs of
            # their party toward the compound, and only those.
            toward = toward or "compound"
            if by.party_id is None:
                raise NotPermitted(f"your credential names no {by.role} party")
            raised_by_party_id = by.party_id
            if source != "party_request":
                raise InvalidValue(
                    "source", "a party's need toward the compound is registered as 'party_request'"
                )
            if household_id is not None:
                raise InvalidValue("household_id", "a need toward the compound names no household")
            if visit_id is not None:
                raise InvalidValue("visit_id", "a need toward the compound comes of no visit")
        elif toward is not None:
            raise InvalidValue(
                "toward",
                "only a property company's or co-building unit's staff raise a need "
                "toward the compound",
            )
        elif source == "party_request":
            raise InvalidValue(
                "source", "'party_request' is for a party's need toward the compound"
            )
        if by.role == Role.RESIDENT:
            if source != "self_report":
                raise InvalidValue("source", "a resident reports needs as 'self_report'")
            if household_id is not None and household_id != by.household_id:
                raise InvalidValue(
                    "household_id", "a resident reports for their own household only; leave it out"
                )
            household_id = by.household_id
        return cls._create(
            cls.Registered,
            id=id,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            building_id=building_id,
            household_id=household_id,
            reporter_id=by.id,
            source=source,
            category=category,
            title=required_text("title", title, 200),
            description=required_text("description", description, 5000),
            location=optional_text("location", location, 200),
            attachments=_attachments(attachments),
            visit_id=visit_id,
            toward=toward,
            raised_by_party_id=raised_by_party_id,
            subject_id=data_subject(by, household_id, household_owner_id),
        )

    def accept(
        self,
        *,
        by: Actor,
        priority: str,
        policy: DeadlinePolicy,
        category: str | None = None,
        now: datetime | None = None,
    ) -> None:
        self._check("accept")
        _choice("priority", priority, PRIORITIES)
        if category is not None:
            _choice("category", category, CATEGORIES)
        now = now or self.Accepted.create_timestamp()
        self._trigger(
            self.Accepted,
            by,
            now,
            category=category or self.category,
            priority=priority,
            respond_due=policy.respond_due(priority, now),
            resolve_due=policy.resolve_due(priority, now),
        )

    def assign(
        self,
        *,
        by: Actor,
        party_id: UUID,
        party_role: str,
        commitment_id: UUID | None = None,
        commitment_item_no: int | None = None,
        offer_id: UUID | None = None,
        reason: str | None = None,
        policy: DeadlinePolicy | None = None,
        now: datetime | None = None,
    ) -> None:
        """Give the need to a party: an episode of that party begins now, its
        limits running from now (with ``policy``; without, the need's own
        deadlines run on, as before episodes). A need toward the compound
        goes to the party branch; ``offer_id`` cites a co-building unit's
        offer (checked by the application against the offer)."""
        self._check("assign")
        if party_role not in PARTY_ROLES:
            raise InvalidValue("party_id", f"a party of kind '{party_role}' cannot handle needs")
        if self.toward == "compound":
            if party_role not in COMPOUND_HANDLER_KINDS:
                raise InvalidValue(
                    "party_id",
                    "a need toward the compound is handled by the party branch "
                    f"(or community staff), not a party of kind '{party_role}'",
                )
            if offer_id is not None or commitment_id is not None:
                field = "offer_id" if offer_id is not None else "commitment_id"
                raise InvalidValue(field, "a need toward the compound is served under no offer or list")
        reassigning = self.status != NeedStatus.ACCEPTED
        if reassigning:
            reason = reason_text(reason, "reassigning a need")
        else:
            reason = optional_text("reason", reason, 2000)
        if (commitment_id is None) != (commitment_item_no is None):
            raise InvalidValue(
                "commitment_item_no", "cite a commitment and an item number together"
            )
        now = now or self.Assigned.create_timestamp()
        self._trigger(
            self.Assigned,
            by,
            now,
            party_id=party_id,
            party_role=party_role,
            commitment_id=commitment_id,
            commitment_item_no=commitment_item_no,
            reason=reason,
            **self._episode_dues(policy, now),
            offer_id=offer_id,
        )

    def acknowledge(self, *, by: Actor, now: datetime | None = None) -> None:
        self._check_staff_handling(by, "acknowledge")
        self._check("acknowledge")
        self._check_assigned_party(by, "acknowledge")
        now = now or self.Acknowledged.create_timestamp()
        within = self.respond_due is None or now <= self.respond_due
        self._trigger(self.Acknowledged, by, now, within_limit=within)

    def resolve(self, *, by: Actor, outcome: str, now: datetime | None = None) -> None:
        self._check_staff_handling(by, "resolve")
        self._check("resolve")
        self._check_assigned_party(by, "resolve")
        outcome = required_text("outcome", outcome, 5000)
        now = now or self.Resolved.create_timestamp()
        within = self.resolve_due is None or now <= self.resolve_due
        self._trigger(self.Resolved, by, now, outcome=outcome, within_limit=within)

    def evaluate(
        self,
        *,
        by: Actor,
        evaluation: str,
        comment: str | None = None,
        resolved: bool | None = None,
        obtained_by: str | None = None,
        policy: DeadlinePolicy | None = None,
        now: datetime | None = None,
    ) -> None:
        """The reporter's evaluation, and whether they consider the matter
        resolved (回访). Recorded by staff or a grid worker on the reporter's
        behalf, it says how it was obtained (phone, visit, in person)."""
        self._check("evaluate")
        _choice("evaluation", evaluation, EVALUATIONS)
        on_behalf = self._on_behalf_of_reporter(by, "evaluates")
        if on_behalf:
            if obtained_by is None:
                raise InvalidValue(
                    "obtained_by",
                    "say how the reporter's evaluation was obtained: "
                    + ", ".join(OBTAINED_BY),
                )
            _choice("obtained_by", obtained_by, OBTAINED_BY)
        elif obtained_by is not None:
            raise InvalidValue(
                "obtained_by",
                "only an evaluation recorded on the reporter's behalf says how it was obtained",
            )
        if evaluation == "unsatisfied":
            comment = required_text("comment", comment, 2000)
        else:
            comment = optional_text("comment", comment, 2000)
        now = now or self.Evaluated.create_timestamp()
        dues = (
            self._episode_dues(policy, now, redo=True)
            if evaluation == "unsatisfied"
            else {"respond_due": None, "resolve_due": None}
        )
        self._trigger(
            self.Evaluated,
            by,
            now,
            evaluation=evaluation,
            comment=comment,
            on_behalf_of_reporter=on_behalf,
            resolved=resolved,
            obtained_by=obtained_by,
            subject_id=self.subject_id,
            **dues,
        )

    def close(
        self,
        *,
        by: Actor,
        reason: str,
        evaluation_window: timedelta,
        now: datetime | None = None,
    ) -> None:
        """Staff archive a resolved need whose reporter did not evaluate in time."""
        self._check("close")
        reason = reason_text(reason, "closing without an evaluation")
        now = now or self.Closed.create_timestamp()
        assert self.resolved_at is not None  # resolved status sets it
        window_ends = self.resolved_at + evaluation_window
        if now < window_ends:
            # Everything allowed now but closing (evaluate, reopen, notes, ...).
            raise IllegalTransition(
                f"close before the evaluation window ends at {window_ends.isoformat()}",
                self.status,
                [command for command in self.allowed_commands if command != "close"],
            )
        self._trigger(self.Closed, by, now, reason=reason)

    def evaluate_compound_side(
        self,
        *,
        by: Actor,
        coordination: str,
        cooperation: str,
        comment: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """The other way of the two-way evaluation (双向评价): once a need
        served by a property company or a co-building unit is closed, the
        staff of the party that resolved it (in its last episode) evaluate
        the compound's coordination (协调配合) and the residents' cooperation
        (居民配合), once."""
        if self.status != NeedStatus.CLOSED:
            raise IllegalTransition("evaluate_compound", self.status, self.allowed_commands)
        if self.resolved_by_party_role not in PROVIDER_ROLES:
            raise NotPermitted(
                "only a property company or a co-building unit that resolved a need "
                "evaluates the compound's side of it"
            )
        if not by.is_party_staff or by.party_id != self.resolved_by_party_id:
            raise NotPermitted(
                "only the staff of the party that resolved this need evaluate the compound's side"
            )
        if self.compound_side_evaluation is not None:
            raise Conflict("the compound's side of this need was already evaluated")
        _choice("coordination", coordination, EVALUATIONS)
        _choice("cooperation", cooperation, EVALUATIONS)
        self._trigger(
            self.CompoundSideEvaluated,
            by,
            now,
            party_id=self.resolved_by_party_id,
            party_role=self.resolved_by_party_role,
            coordination=coordination,
            cooperation=cooperation,
            comment=optional_text("comment", comment, 2000),
        )

    def reject(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._check("reject")
        self._trigger(self.Rejected, by, now, reason=reason_text(reason, "rejecting"))

    def merge(
        self, *, by: Actor, into: Need, reason: str, now: datetime | None = None
    ) -> None:
        self._check("merge")
        if into.id == self.id:
            raise InvalidValue("into_need_id", "a need cannot be merged into itself")
        if into.compound_id != self.compound_id:
            raise InvalidValue("into_need_id", "the need merged into is in another compound")
        if into.status in FINAL_STATUSES - {NeedStatus.CLOSED}:
            raise InvalidValue(
                "into_need_id", f"the need merged into is '{into.status}', not a live case"
            )
        self._trigger(
            self.Merged, by, now, into_need_id=into.id, reason=reason_text(reason, "merging")
        )

    def transfer(
        self, *, by: Actor, to_body: str, reason: str, now: datetime | None = None
    ) -> None:
        self._check("transfer")
        self._trigger(
            self.Transferred,
            by,
            now,
            to_body=required_text("to_body", to_body, 200),
            reason=reason_text(reason, "transferring"),
        )

    def withdraw(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._check("withdraw")
        on_behalf = self._on_behalf_of_reporter(by, "withdraws")
        self._trigger(
            self.Withdrawn,
            by,
            now,
            reason=reason_text(reason, "withdrawing"),
            on_behalf_of_reporter=on_behalf,
            subject_id=self.subject_id,
        )

    def add_note(
        self,
        *,
        by: Actor,
        text: str,
        attachments: list[str] | None = None,
        now: datetime | None = None,
    ) -> None:
        self._check("add_note")
        own = by.party_id is not None and by.party_id in (
            self.assigned_party_id,
            self.raised_by_party_id,
        )
        if by.is_party_staff and not own and by.role not in (Role.PARTY_BRANCH,):
            raise NotPermitted(
                "only the assigned party's (or the raising party's) staff add notes among the parties"
            )
        self._trigger(
            self.NoteAdded,
            by,
            now,
            text=required_text("text", text, 5000),
            attachments=_attachments(attachments),
            subject_id=self.subject_id,
        )

    def extend(
        self,
        *,
        by: Actor,
        reason: str,
        resolve_due: datetime | None = None,
        working_days: int | None = None,
        policy: DeadlinePolicy | None = None,
        now: datetime | None = None,
    ) -> None:
        self._check("extend")
        reason = reason_text(reason, "extending a deadline")
        assert self.resolve_due is not None  # accepted needs have deadlines
        if (resolve_due is None) == (working_days is None):
            raise InvalidValue("resolve_due", "give either resolve_due or working_days")
        if working_days is not None:
            if not 1 <= working_days <= 60:
                raise InvalidValue("working_days", "must be between 1 and 60")
            if policy is None:
                raise ValueError("extending by working days needs the deadline policy")
            try:
                resolve_due = policy.calendar.add_working_days(self.resolve_due, working_days)
            except OverflowError:  # only a deadline outside the sane range gets here
                raise InvalidValue(
                    "working_days", f"the new deadline would lie outside {RANGE_TEXT}"
                ) from None
            field = "working_days"
        else:
            field = "resolve_due"
        resolve_due = client_time(field, resolve_due)
        if resolve_due <= self.resolve_due:
            raise InvalidValue(
                field,
                f"must be later than the current deadline {self.resolve_due.isoformat()}",
            )
        if resolve_due - self.resolve_due > MAX_EXTENSION:
            raise InvalidValue(
                field,
                f"must be at most {MAX_EXTENSION.days} days after the current deadline "
                f"{self.resolve_due.isoformat()}",
            )
        self._trigger(
            self.DeadlineExtended,
            by,
            now,
            previous_due=self.resolve_due,
            resolve_due=resolve_due,
            reason=reason,
        )

    def escalate(self, *, by: Actor, consultation_id: UUID, now: datetime | None = None) -> None:
        """Refer the need to a consultation (协商议事) because the parties disagree."""
        self._check("escalate")
        self._trigger(self.Escalated, by, now, consultation_id=consultation_id)

    def return_from_consultation(
        self,
        *,
        by: Actor,
        consultation_id: UUID,
        outcome: str,
        resolution: str | None = None,
        policy: DeadlinePolicy | None = None,
        now: datetime | None = None,
    ) -> None:
        """The consultation concluded: the need goes back to its assigned party,
        in a new episode of it."""
        if self.status != NeedStatus.ESCALATED:
            raise IllegalTransition("return from consultation", self.status, self.allowed_commands)
        if consultation_id != self.consultation_id:
            raise InvalidValue("consultation_id", "the need was escalated to another consultation")
        now = now or self.ReturnedFromConsultation.create_timestamp()
        self._trigger(
            self.ReturnedFromConsultation,
            by,
            now,
            consultation_id=consultation_id,
            outcome=required_text("outcome", outcome, 50),
            resolution=optional_text("resolution", resolution, 5000),
            **self._episode_dues(policy, now),
        )

    def supervise(self, *, by: Actor, text: str, now: datetime | None = None) -> None:
        """Record a supervision notice (督办); the status never changes."""
        self._check("supervise")
        self._trigger(
            self.SupervisionNoticeIssued, by, now, text=required_text("text", text, 5000)
        )

    def exclude_from_assessment(
        self, *, by: Actor, party_id: UUID, reason: str, now: datetime | None = None
    ) -> None:
        """Leave the need out of ``party_id``'s figures (the raw ones keep it).

        A supervisor's review of how a party is assessed (不纳入考评), not a step
        of the case: allowed in any status, once the party has had the need."""
        reason = reason_text(reason, "excluding a need from a party's assessment")
        if party_id not in self.handled_by:
            raise InvalidValue("party_id", "that party never had this need")
        if party_id in self.exclusions:
            raise Conflict("the need is already excluded from that party's assessment")
        self._trigger(self.ExcludedFromAssessment, by, now, party_id=party_id, reason=reason)

    def revoke_exclusion(
        self, *, by: Actor, party_id: UUID, reason: str, now: datetime | None = None
    ) -> None:
        reason = reason_text(reason, "revoking an exclusion")
        if party_id not in self.exclusions:
            raise Conflict("the need is not excluded from that party's assessment")
        self._trigger(self.ExclusionRevoked, by, now, party_id=party_id, reason=reason)

    # ----- queries --------------------------------------------------------

    @property
    def allowed_commands(self) -> list[str]:
        return allowed_commands(self.status)

    def is_overdue(self, now: datetime) -> bool:
        if self.status not in OPEN_STATUSES or self.status == NeedStatus.RESOLVED:
            return False
        if self.responded_at is None and self.respond_due is not None and now > self.respond_due:
            return True
        return self.resolve_due is not None and now > self.resolve_due

    # ----- episodes -------------------------------------------------------

    def begin_episode(self, respond_due: datetime | None, resolve_due: datetime | None) -> None:
        """A party gets the need: its response and resolution clocks start
        again. Events from before episodes carry no deadlines; then the need's
        own run on, and a response given before still stands, as they did."""
        self.episodes += 1
        if respond_due is None or resolve_due is None:
            return
        self.respond_due = respond_due
        self.resolve_due = resolve_due
        self.responded_at = None
        self.responded_within_limit = None

    def _episode_dues(
        self, policy: DeadlinePolicy | None, start: datetime, *, redo: bool = False
    ) -> dict[str, datetime | None]:
        if policy is None or self.priority is None:
            return {"respond_due": None, "resolve_due": None}
        respond_due, resolve_due = policy.episode_dues(self.priority, start, redo=redo)
        return {"respond_due": respond_due, "resolve_due": resolve_due}

    # ----- helpers --------------------------------------------------------

    def _check(self, command: str) -> None:
        if self.status not in TRANSITIONS[command]:
            raise IllegalTransition(command, self.status, self.allowed_commands)

    @property
    def collected_from(self) -> UUID | None:
        """The household this need was collected from for its residents, if any."""
        return collected_from(self.household_id, self.reporter_role)

    def speaks_for_reporter(self, by: Actor) -> bool:
        """The reporter, or a resident of the household a need was collected
        from; for a need toward the compound, the raising party's staff."""
        if self.raised_by_party_id is not None:
            return by.is_party_staff and by.party_id == self.raised_by_party_id
        if by.role == Role.RESIDENT and self.collected_from is not None:
            if by.household_id == self.collected_from:
                return True
        return by.id == self.reporter_id and (
            by.role == Role.RESIDENT or self.household_id is None
        )

    def _on_behalf_of_reporter(self, by: Actor, verb: str) -> bool:
        if self.speaks_for_reporter(by):
            return False
        if by.role not in (Role.COMMUNITY_STAFF, Role.GRID_WORKER):
            raise NotPermitted(
                f"only the reporter, or community staff or a grid worker on their behalf, {verb}"
            )
        return True

    def _check_staff_handling(self, by: Actor, command: str) -> None:
        """Community staff handle only needs toward the compound, whatever their status."""
        if by.role == Role.COMMUNITY_STAFF and self.toward != "compound":
            raise NotPermitted(f"only the staff of the assigned party may {command} this need")

    def _check_assigned_party(self, by: Actor, command: str) -> None:
        if self.toward == "compound" and by.role == Role.COMMUNITY_STAFF:
            return  # community staff handle the compound's side themselves
        if not by.is_party_staff or by.party_id != self.assigned_party_id:
            raise NotPermitted(f"only the staff of the assigned party may {command} this need")

    def _trigger(
        self, event_class: type[Need.Event], by: Actor, now: datetime | None, **kwargs: Any
    ) -> None:
        self.trigger_event(
            event_class, timestamp=now, actor_id=by.id, actor_role=str(by.role), **kwargs
        )


def data_subject(
    by: Actor, household_id: UUID | None, household_owner_id: str | None
) -> str | None:
    """Whose personal data a need's texts are (domain/personal.py): the
    resident's who reports it; else the owner's of the household it was
    collected from; else nobody's (a need about the compound's common parts,
    or raised by a party: its texts are the compound's record)."""
    if by.role == Role.RESIDENT:
        return by.id
    if household_id is not None and household_owner_id:
        return household_owner_id
    return None


def collected_from(household_id: UUID | None, reporter_role: str) -> UUID | None:
    """The household a need was collected from on its residents' behalf.

    A need someone else registered for a household (a grid worker at the door,
    staff taking a call) is the household's: its residents follow and evaluate
    it. A resident's own report names their household too, but it is theirs
    alone, not their housemates'.
    """
    return None if reporter_role == Role.RESIDENT else household_id


def _attachments(refs: list[str] | None) -> list[str]:
    refs = list(refs or [])
    if len(refs) > 20:
        raise InvalidValue("attachments", "at most 20 references")
    return [required_text("attachments", ref, 500) for ref in refs]
