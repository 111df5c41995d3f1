"""The Need aggregate (DESIGN 2.1): its state machine and its rules.

Pure domain tests: aggregates are built in memory, every command gets an
explicit, timezone-aware ``now`` so that time limits are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from domain.errors import IllegalTransition, InvalidValue, NotPermitted
from domain.need import STATUS_COMMANDS, TRANSITIONS, Need, NeedStatus, allowed_commands

S = NeedStatus

# ----- the world ------------------------------------------------------------

COMPOUND = UUID("00000000-0000-4000-8000-000000000001")
OTHER_COMPOUND = UUID("00000000-0000-4000-8000-000000000002")
HOUSEHOLD = UUID("00000000-0000-4000-8000-0000000000a1")
OTHER_HOUSEHOLD = UUID("00000000-0000-4000-8000-0000000000a2")
PROPERTY_PARTY = UUID("00000000-0000-4000-8000-0000000000b1")
OTHER_PARTY = UUID("00000000-0000-4000-8000-0000000000b2")
CONSULTATION = UUID("00000000-0000-4000-8000-0000000000c1")

RESIDENT = Actor("resident-1", Role.RESIDENT, frozenset({COMPOUND}), household_id=HOUSEHOLD)
OTHER_RESIDENT = Actor(
    "resident-2", Role.RESIDENT, frozenset({COMPOUND}), household_id=OTHER_HOUSEHOLD
)
STAFF = Actor("staff-1", Role.COMMUNITY_STAFF, frozenset({COMPOUND}))
GRID = Actor("grid-1", Role.GRID_WORKER, frozenset({COMPOUND}))
SUPERVISOR = Actor("supervisor-1", Role.SUPERVISOR, None)
ADMIN = Actor("admin-1", Role.ADMIN, None)
PROPERTY = Actor("pm-1", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=PROPERTY_PARTY)
OTHER_PROPERTY = Actor(
    "pm-2", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=OTHER_PARTY
)
BRANCH = Actor("branch-1", Role.PARTY_BRANCH, frozenset({COMPOUND}), party_id=OTHER_PARTY)
COMMITTEE = Actor(
    "committee-1", Role.OWNERS_COMMITTEE, frozenset({COMPOUND}), party_id=OTHER_PARTY
)

# Monday 2 March 2026, 09:00 in Shanghai. No public holiday in March 2026.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
EVALUATION_WINDOW = timedelta(days=7)


def make_policy(calendar: WorkingCalendar) -> DeadlinePolicy:
    return DeadlinePolicy(
        respond={k: TimeLimit.parse(v) for k, v in DEFAULT_RESPOND_LIMITS.items()},
        resolve={k: TimeLimit.parse(v) for k, v in DEFAULT_RESOLVE_LIMITS.items()},
        calendar=calendar,
    )


POLICY = make_policy(WorkingCalendar.of())

# A hand-made National Day: 1-7 October 2026 off, Saturday 10 October worked.
NATIONAL_DAY_POLICY = make_policy(
    WorkingCalendar.of(
        holidays=[datetime(2026, 10, d).date() for d in range(1, 8)],
        make_up_working_days=[datetime(2026, 10, 10).date()],
    )
)


def utc(y: int, m: int, d: int, hour: int) -> datetime:
    return datetime(y, m, d, hour, 0, tzinfo=UTC)


class Clock:
    """Hands out strictly increasing, timezone-aware UTC instants."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def tick(self, delta: timedelta = timedelta(minutes=5)) -> datetime:
        self.now += delta
        return self.now


# ----- the expected state machine, written from DESIGN 2.1's table ----------

# For each status, the commands that change the status and where they lead.
# ("reached by" column: accept -> accepted, assign -> assigned, acknowledge ->
# in_progress, escalate -> escalated, resolve -> resolved, evaluate or staff
# close -> closed, reject/merge/transfer/withdraw -> their final statuses.)
DESIGN_MOVES: dict[NeedStatus, dict[str, NeedStatus]] = {
    S.REPORTED: {
        "accept": S.ACCEPTED,
        "reject": S.REJECTED,
        "merge": S.MERGED,
        "withdraw": S.WITHDRAWN,
    },
    S.ACCEPTED: {
        "assign": S.ASSIGNED,
        "transfer": S.TRANSFERRED,
        "reject": S.REJECTED,
        "merge": S.MERGED,
        "withdraw": S.WITHDRAWN,
    },
    S.ASSIGNED: {
        "acknowledge": S.IN_PROGRESS,
        "assign": S.ASSIGNED,  # reassign
        "escalate": S.ESCALATED,
        "transfer": S.TRANSFERRED,
        "withdraw": S.WITHDRAWN,
    },
    S.IN_PROGRESS: {
        "resolve": S.RESOLVED,
        "escalate": S.ESCALATED,
        "assign": S.ASSIGNED,  # reassign
    },
    # "assigned (when the consultation concludes)": the consultation's
    # conclusion returns the need to its assigned party.
    S.ESCALATED: {"return_from_consultation": S.ASSIGNED},
    # evaluate: satisfied/basically satisfied -> closed (unsatisfied -> assigned,
    # tested on its own below); close: staff, with a reason, after the window.
    S.RESOLVED: {"evaluate": S.CLOSED, "close": S.CLOSED},
    S.CLOSED: {},
    S.REJECTED: {},
    S.MERGED: {},
    S.TRANSFERRED: {},
    S.WITHDRAWN: {},
}

FINAL = {S.CLOSED, S.REJECTED, S.MERGED, S.TRANSFERRED, S.WITHDRAWN}
OPEN = [s for s in NeedStatus if s not in FINAL]

# Commands that never change the status. Notes and supervision notices are
# "added while open"; a deadline extension needs a running resolution
# deadline (set at acceptance, spent once the need is resolved).
DESIGN_OTHER: dict[str, set[NeedStatus]] = {
    "add_note": set(OPEN),
    "supervise": set(OPEN),
    "extend": {S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS, S.ESCALATED},
}


def design_allowed(status: NeedStatus) -> set[str]:
    other = {cmd for cmd, statuses in DESIGN_OTHER.items() if status in statuses}
    return set(DESIGN_MOVES[status]) | other


# Returning from a consultation is driven by the consultation concluding
# (DESIGN 2.3), not by a command a user posts on the need (DESIGN 4 lists no
# such endpoint), so the user-facing table of allowed commands leaves it out.
PROCESS_COMMANDS = {"return_from_consultation"}


def design_user_allowed(status: NeedStatus) -> set[str]:
    return design_allowed(status) - PROCESS_COMMANDS


STATUS_CHANGING = sorted({cmd for moves in DESIGN_MOVES.values() for cmd in moves})
ALL_COMMANDS = sorted(set(STATUS_CHANGING) | set(DESIGN_OTHER))
USER_COMMANDS = sorted(set(ALL_COMMANDS) - PROCESS_COMMANDS)


# ----- reaching each status through real commands ---------------------------


def register_need(
    clock: Clock, *, by: Actor = RESIDENT, compound_id: UUID = COMPOUND, **kwargs
) -> Need:
    fields = {
        "source": "self_report",
        "title": "3号楼电梯故障",
        "description": "电梯停在5楼不动，老人上下楼困难。",
        "category": "facilities",
    }
    fields.update(kwargs)
    return Need.register(by=by, compound_id=compound_id, now=clock.tick(), **fields)


def do_accept(need: Need, clock: Clock, priority: str = "normal") -> None:
    need.accept(by=STAFF, priority=priority, policy=POLICY, now=clock.tick())


def do_assign(need: Need, clock: Clock, reason: str | None = "派给物业维修") -> None:
    need.assign(
        by=STAFF,
        party_id=PROPERTY_PARTY,
        party_role="property_company",
        reason=reason,
        now=clock.tick(),
    )


def do_acknowledge(need: Need, clock: Clock) -> None:
    need.acknowledge(by=PROPERTY, now=clock.tick())


def do_escalate(need: Need, clock: Clock) -> None:
    need.escalate(by=STAFF, consultation_id=CONSULTATION, now=clock.tick())


def do_return(need: Need, clock: Clock, consultation_id: UUID = CONSULTATION) -> None:
    need.return_from_consultation(
        by=STAFF,
        consultation_id=consultation_id,
        outcome="adopted",
        resolution="议定：由物业维修，费用从维修基金列支",
        now=clock.tick(),
    )


def do_resolve(need: Need, clock: Clock) -> None:
    need.resolve(by=PROPERTY, outcome="已更换电梯控制板，运行正常", now=clock.tick())


def do_evaluate(
    need: Need,
    clock: Clock,
    evaluation: str = "satisfied",
    by: Actor = RESIDENT,
    comment: str | None = None,
    obtained_by: str | None = None,
) -> None:
    if obtained_by is None and by.role in (Role.COMMUNITY_STAFF, Role.GRID_WORKER):
        obtained_by = "phone"  # recorded on the reporter's behalf says how
    need.evaluate(
        by=by, evaluation=evaluation, comment=comment, obtained_by=obtained_by, now=clock.tick()
    )


def reach(status: NeedStatus, clock: Clock | None = None) -> Need:
    """A need driven into ``status`` through the commands DESIGN names."""
    clock = clock or Clock()
    if status == S.REPORTED:
        need = register_need(clock)
    elif status == S.ACCEPTED:
        need = reach(S.REPORTED, clock)
        do_accept(need, clock)
    elif status == S.ASSIGNED:
        need = reach(S.ACCEPTED, clock)
        do_assign(need, clock)
    elif status == S.IN_PROGRESS:
        need = reach(S.ASSIGNED, clock)
        do_acknowledge(need, clock)
    elif status == S.ESCALATED:
        need = reach(S.ASSIGNED, clock)
        do_escalate(need, clock)
    elif status == S.RESOLVED:
        need = reach(S.IN_PROGRESS, clock)
        do_resolve(need, clock)
    elif status == S.CLOSED:
        need = reach(S.RESOLVED, clock)
        do_evaluate(need, clock)
    elif status == S.REJECTED:
        need = reach(S.REPORTED, clock)
        need.reject(by=STAFF, reason="不属于社区受理范围", now=clock.tick())
    elif status == S.MERGED:
        need = reach(S.REPORTED, clock)
        need.merge(by=STAFF, into=register_need(clock), reason="重复登记", now=clock.tick())
    elif status == S.TRANSFERRED:
        need = reach(S.ACCEPTED, clock)
        need.transfer(by=STAFF, to_body="街道办事处", reason="需街道协调", now=clock.tick())
    elif status == S.WITHDRAWN:
        need = reach(S.REPORTED, clock)
        need.withdraw(by=RESIDENT, reason="已自行解决", now=clock.tick())
    else:  # pragma: no cover - every status is listed above
        raise AssertionError(status)
    assert need.status == status
    return need


# One valid attempt at every command; whether it is allowed is the state's business.
COMMANDS: dict[str, Callable[[Need, Clock], None]] = {
    "accept": do_accept,
    "reject": lambda n, c: n.reject(by=STAFF, reason="不予受理的理由", now=c.tick()),
    "merge": lambda n, c: n.merge(
        by=STAFF, into=register_need(c), reason="与另一诉求重复", now=c.tick()
    ),
    "withdraw": lambda n, c: n.withdraw(by=RESIDENT, reason="不需要了", now=c.tick()),
    "assign": lambda n, c: do_assign(n, c, reason="议事结论：由物业负责"),
    "transfer": lambda n, c: n.transfer(
        by=STAFF, to_body="区住建局", reason="超出小区职权", now=c.tick()
    ),
    "acknowledge": do_acknowledge,
    "escalate": do_escalate,
    "return_from_consultation": do_return,
    "resolve": do_resolve,
    "evaluate": do_evaluate,
    "close": lambda n, c: n.close(
        by=STAFF,
        reason="评价期内居民未评价",
        evaluation_window=EVALUATION_WINDOW,
        now=c.tick(EVALUATION_WINDOW + timedelta(days=1)),
    ),
    "extend": lambda n, c: n.extend(
        by=STAFF,
        reason="需等待配件到货",
        resolve_due=(n.resolve_due or T0 + timedelta(days=30)) + timedelta(days=3),
        now=c.tick(),
    ),
    "add_note": lambda n, c: n.add_note(by=STAFF, text="已电话联系居民", now=c.tick()),
    "supervise": lambda n, c: n.supervise(by=SUPERVISOR, text="请加快办理", now=c.tick()),
}


def snapshot(need: Need) -> tuple[int, int]:
    return need.version, len(need.pending_events)


# ----- the table: the SUT's against DESIGN's --------------------------------


def test_design_table_covers_every_status_and_the_sut_commands() -> None:
    assert set(DESIGN_MOVES) == set(NeedStatus)
    assert set(TRANSITIONS) == set(USER_COMMANDS)
    assert set(STATUS_COMMANDS) == set(STATUS_CHANGING) - PROCESS_COMMANDS
    assert set(COMMANDS) == set(ALL_COMMANDS)


@pytest.mark.parametrize("status", list(NeedStatus))
def test_sut_table_matches_design_table(status: NeedStatus) -> None:
    assert set(allowed_commands(status)) == design_user_allowed(status)


@pytest.mark.parametrize("status", sorted(FINAL))
def test_final_statuses_allow_nothing(status: NeedStatus) -> None:
    assert allowed_commands(status) == []


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_in_the_table_is_a_need_method(command: str) -> None:
    assert callable(getattr(Need, command, None)), f"Need has no '{command}' command"


# ----- every (status, command) pair, through real commands -------------------

ALLOWED_PAIRS = [
    pytest.param(s, c, id=f"{s}-{c}")
    for s in NeedStatus
    for c in ALL_COMMANDS
    if c in design_allowed(s)
]
REFUSED_PAIRS = [
    pytest.param(s, c, id=f"{s}-{c}")
    for s in NeedStatus
    for c in ALL_COMMANDS
    if c not in design_allowed(s)
]


@pytest.mark.parametrize(("status", "command"), ALLOWED_PAIRS)
def test_allowed_command_succeeds_and_moves_as_design_says(
    status: NeedStatus, command: str
) -> None:
    clock = Clock()
    need = reach(status, clock)
    version, pending = snapshot(need)

    COMMANDS[command](need, clock)

    assert need.status == DESIGN_MOVES[status].get(command, status)
    assert snapshot(need) == (version + 1, pending + 1)


@pytest.mark.parametrize(("status", "command"), REFUSED_PAIRS)
def test_refused_command_raises_illegal_transition_and_records_nothing(
    status: NeedStatus, command: str
) -> None:
    clock = Clock()
    need = reach(status, clock)
    before = snapshot(need)

    with pytest.raises(IllegalTransition) as refused:
        COMMANDS[command](need, clock)

    if command not in PROCESS_COMMANDS:  # that one names itself in words
        assert refused.value.command == command
    assert refused.value.status == status
    assert refused.value.allowed == sorted(design_user_allowed(status))
    assert need.status == status
    assert snapshot(need) == before


@pytest.mark.parametrize("status", list(NeedStatus))
def test_need_reports_its_allowed_commands(status: NeedStatus) -> None:
    assert set(reach(status).allowed_commands) == design_user_allowed(status)


# ----- escalation to a consultation ----------------------------------------------------


@pytest.mark.parametrize("status", [S.ASSIGNED, S.IN_PROGRESS])
def test_escalation_records_the_consultation_and_returns_to_assigned(
    status: NeedStatus,
) -> None:
    clock = Clock()
    need = reach(status, clock)

    do_escalate(need, clock)

    assert need.status == S.ESCALATED
    assert need.consultation_id == CONSULTATION
    escalated = need.pending_events[-1]
    assert isinstance(escalated, Need.Escalated)
    assert escalated.consultation_id == CONSULTATION

    do_return(need, clock)

    assert need.status == S.ASSIGNED
    assert need.assigned_party_id == PROPERTY_PARTY
    assert need.consultation_outcome == "adopted"
    assert need.consultation_resolution == "议定：由物业维修，费用从维修基金列支"
    returned = need.pending_events[-1]
    assert isinstance(returned, Need.ReturnedFromConsultation)
    assert returned.consultation_id == CONSULTATION

    do_acknowledge(need, clock)  # the assigned party takes it up again
    assert need.status == S.IN_PROGRESS


def test_return_from_another_consultation_is_refused() -> None:
    clock = Clock()
    need = reach(S.ESCALATED, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        do_return(need, clock, consultation_id=UUID("00000000-0000-4000-8000-0000000000c2"))

    assert refused.value.field == "consultation_id"
    assert need.status == S.ESCALATED
    assert snapshot(need) == before


# ----- reasons ---------------------------------------------------------------


def _reject(n: Need, c: Clock, reason: str) -> None:
    n.reject(by=STAFF, reason=reason, now=c.tick())


def _merge(n: Need, c: Clock, reason: str) -> None:
    n.merge(by=STAFF, into=register_need(c), reason=reason, now=c.tick())


def _transfer(n: Need, c: Clock, reason: str) -> None:
    n.transfer(by=STAFF, to_body="街道办事处", reason=reason, now=c.tick())


def _withdraw(n: Need, c: Clock, reason: str) -> None:
    n.withdraw(by=RESIDENT, reason=reason, now=c.tick())


def _extend(n: Need, c: Clock, reason: str) -> None:
    n.extend(by=STAFF, reason=reason, resolve_due=n.resolve_due + timedelta(days=3), now=c.tick())


def _close(n: Need, c: Clock, reason: str) -> None:
    n.close(
        by=STAFF,
        reason=reason,
        evaluation_window=EVALUATION_WINDOW,
        now=c.tick(EVALUATION_WINDOW * 2),
    )


def _reassign(n: Need, c: Clock, reason: str) -> None:
    do_assign(n, c, reason=reason)


REASONED = [
    ("reject", S.REPORTED, _reject),
    ("merge", S.REPORTED, _merge),
    ("transfer", S.ACCEPTED, _transfer),
    ("withdraw", S.REPORTED, _withdraw),
    ("extend", S.ASSIGNED, _extend),
    ("staff_close", S.RESOLVED, _close),
    ("reassign_assigned", S.ASSIGNED, _reassign),
    ("reassign_in_progress", S.IN_PROGRESS, _reassign),
]


@pytest.mark.parametrize("blank", ["", "   ", "\t\n "], ids=["empty", "spaces", "whitespace"])
@pytest.mark.parametrize(
    ("status", "command"), [pytest.param(s, cmd, id=name) for name, s, cmd in REASONED]
)
def test_reason_is_required(status: NeedStatus, command, blank: str) -> None:
    clock = Clock()
    need = reach(status, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        command(need, clock, blank)

    assert refused.value.field == "reason"
    assert need.status == status
    assert snapshot(need) == before


@pytest.mark.parametrize(
    ("status", "command"), [pytest.param(s, cmd, id=name) for name, s, cmd in REASONED]
)
def test_reason_is_recorded_on_the_event(status: NeedStatus, command) -> None:
    clock = Clock()
    need = reach(status, clock)

    command(need, clock, "  因为居民要求  ")

    assert need.pending_events[-1].reason == "因为居民要求"


def test_first_assignment_needs_no_reason() -> None:
    clock = Clock()
    need = reach(S.ACCEPTED, clock)

    do_assign(need, clock, reason=None)

    assert need.status == S.ASSIGNED
    assert need.assigned_party_id == PROPERTY_PARTY
    assert need.pending_events[-1].reason is None


def test_assign_records_the_cited_service_list_item() -> None:
    clock = Clock()
    need = reach(S.ACCEPTED, clock)
    commitment = UUID("00000000-0000-4000-8000-0000000000d1")

    need.assign(
        by=STAFF,
        party_id=PROPERTY_PARTY,
        party_role="property_company",
        commitment_id=commitment,
        commitment_item_no=7,
        now=clock.tick(),
    )

    assert (need.commitment_id, need.commitment_item_no) == (commitment, 7)


def test_assign_to_a_non_party_is_refused() -> None:
    clock = Clock()
    need = reach(S.ACCEPTED, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue):
        need.assign(by=STAFF, party_id=PROPERTY_PARTY, party_role="resident", now=clock.tick())

    assert snapshot(need) == before


# ----- evaluation --------------------------------------------------------------


@pytest.mark.parametrize("evaluation", ["satisfied", "basically_satisfied"])
def test_satisfied_evaluations_close_the_need(evaluation: str) -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)

    do_evaluate(need, clock, evaluation)

    assert need.status == S.CLOSED
    assert need.evaluation == evaluation
    assert need.redo_count == 0
    event = need.pending_events[-1]
    assert isinstance(event, Need.Evaluated)
    assert event.evaluation == evaluation


@pytest.mark.parametrize("comment", [None, "", "   "], ids=["none", "empty", "spaces"])
def test_unsatisfied_evaluation_needs_a_comment(comment: str | None) -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        do_evaluate(need, clock, "unsatisfied", comment=comment)

    assert refused.value.field == "comment"
    assert need.status == S.RESOLVED
    assert snapshot(need) == before


def test_unsatisfied_evaluation_reopens_for_redo_and_counts_redos() -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)

    do_evaluate(need, clock, "unsatisfied", comment="电梯还是时好时坏")

    assert need.status == S.ASSIGNED
    assert need.redo_count == 1
    assert need.evaluation == "unsatisfied"
    assert need.pending_events[-1].comment == "电梯还是时好时坏"

    do_acknowledge(need, clock)
    do_resolve(need, clock)
    do_evaluate(need, clock, "unsatisfied", comment="仍然没修好")

    assert need.status == S.ASSIGNED
    assert need.redo_count == 2

    do_acknowledge(need, clock)
    do_resolve(need, clock)
    do_evaluate(need, clock, "satisfied")

    assert need.status == S.CLOSED
    assert need.redo_count == 2


@pytest.mark.parametrize(
    ("actor", "on_behalf"),
    [
        pytest.param(RESIDENT, False, id="reporter"),
        pytest.param(STAFF, True, id="community_staff"),
        pytest.param(GRID, True, id="grid_worker"),
    ],
)
def test_reporter_or_staff_on_their_behalf_evaluates(actor: Actor, on_behalf: bool) -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)

    do_evaluate(need, clock, "satisfied", by=actor)

    assert need.status == S.CLOSED
    event = need.pending_events[-1]
    assert isinstance(event, Need.Evaluated)
    assert event.on_behalf_of_reporter is on_behalf
    assert event.actor_id == actor.id
    assert event.obtained_by == ("phone" if on_behalf else None)


def test_an_evaluation_recorded_on_the_reporters_behalf_says_how_it_was_obtained() -> None:
    """DESIGN 2.1: staff or the grid worker may record the resident's evaluation,
    saying how it was obtained; the resident's own evaluation says nothing of it."""
    for by, obtained_by, field in (
        (STAFF, None, "obtained_by"),
        (STAFF, "telepathy", "obtained_by"),
        (RESIDENT, "phone", "obtained_by"),
    ):
        need = reach(S.RESOLVED, Clock())
        with pytest.raises(InvalidValue) as refused:
            need.evaluate(by=by, evaluation="satisfied", obtained_by=obtained_by)
        assert refused.value.field == field
        assert need.status == S.RESOLVED
    need = reach(S.RESOLVED, Clock())
    need.evaluate(by=STAFF, evaluation="satisfied", obtained_by="visit", resolved=True)
    event = need.pending_events[-1]
    assert (event.obtained_by, event.resolved) == ("visit", True)


@pytest.mark.parametrize(
    "actor",
    [
        pytest.param(OTHER_RESIDENT, id="other_resident"),
        pytest.param(PROPERTY, id="assigned_party_staff"),
        pytest.param(BRANCH, id="party_branch"),
        pytest.param(COMMITTEE, id="owners_committee"),
        pytest.param(SUPERVISOR, id="supervisor"),
        pytest.param(ADMIN, id="admin"),
    ],
)
def test_others_may_not_evaluate(actor: Actor) -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)
    before = snapshot(need)

    with pytest.raises(NotPermitted):
        do_evaluate(need, clock, "satisfied", by=actor)

    assert need.status == S.RESOLVED
    assert snapshot(need) == before


@pytest.mark.parametrize("evaluation", ["ok", "Satisfied", "", "very_satisfied"])
def test_unknown_evaluation_is_invalid(evaluation: str) -> None:
    clock = Clock()
    need = reach(S.RESOLVED, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        do_evaluate(need, clock, evaluation, comment="x")

    assert refused.value.field == "evaluation"
    assert snapshot(need) == before


# ----- who handles -----------------------------------------------------------

NOT_THE_ASSIGNED_PARTY = [
    pytest.param(OTHER_PROPERTY, id="other_party_same_role"),
    pytest.param(
        Actor("pm-3", Role.PROPERTY_COMPANY, frozenset({COMPOUND})), id="party_staff_no_party"
    ),
    pytest.param(BRANCH, id="party_branch_of_other_party"),
    pytest.param(STAFF, id="community_staff"),
    pytest.param(RESIDENT, id="reporter"),
    pytest.param(SUPERVISOR, id="supervisor"),
    pytest.param(
        Actor("grid-2", Role.GRID_WORKER, frozenset({COMPOUND}), party_id=PROPERTY_PARTY),
        id="non_party_role_with_matching_party_id",
    ),
]


@pytest.mark.parametrize("actor", NOT_THE_ASSIGNED_PARTY)
def test_only_the_assigned_party_acknowledges(actor: Actor) -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)
    before = snapshot(need)

    with pytest.raises(NotPermitted):
        need.acknowledge(by=actor, now=clock.tick())

    assert need.status == S.ASSIGNED
    assert snapshot(need) == before


@pytest.mark.parametrize("actor", NOT_THE_ASSIGNED_PARTY)
def test_only_the_assigned_party_resolves(actor: Actor) -> None:
    clock = Clock()
    need = reach(S.IN_PROGRESS, clock)
    before = snapshot(need)

    with pytest.raises(NotPermitted):
        need.resolve(by=actor, outcome="已处理", now=clock.tick())

    assert need.status == S.IN_PROGRESS
    assert snapshot(need) == before


def test_reassigned_need_is_handled_by_the_new_party_only() -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)
    need.assign(
        by=STAFF,
        party_id=OTHER_PARTY,
        party_role="co_building_unit",
        reason="物业无此资质，改派共建单位",
        now=clock.tick(),
    )
    unit = Actor("unit-1", Role.CO_BUILDING_UNIT, frozenset({COMPOUND}), party_id=OTHER_PARTY)

    with pytest.raises(NotPermitted):
        need.acknowledge(by=PROPERTY, now=clock.tick())
    need.acknowledge(by=unit, now=clock.tick())

    assert need.status == S.IN_PROGRESS
    assert need.assigned_party_id == OTHER_PARTY


def test_resolve_needs_an_outcome() -> None:
    clock = Clock()
    need = reach(S.IN_PROGRESS, clock)

    with pytest.raises(InvalidValue) as refused:
        need.resolve(by=PROPERTY, outcome="  ", now=clock.tick())

    assert refused.value.field == "outcome"


# ----- time limits -------------------------------------------------------------


def test_accept_sets_deadlines_per_priority_from_the_default_policy() -> None:
    cases = {
        # priority: (respond_due, resolve_due), accepted Monday 09:00 Shanghai
        "urgent": (T0 + timedelta(hours=2), datetime(2026, 3, 3, 1, 0, tzinfo=UTC)),
        "normal": (
            datetime(2026, 3, 3, 1, 0, tzinfo=UTC),  # Tuesday
            datetime(2026, 3, 9, 1, 0, tzinfo=UTC),  # 5 working days: next Monday
        ),
        "low": (
            datetime(2026, 3, 5, 1, 0, tzinfo=UTC),  # Thursday
            datetime(2026, 3, 19, 1, 0, tzinfo=UTC),  # 13 working days
        ),
    }
    for priority, (respond_due, resolve_due) in cases.items():
        need = register_need(Clock(T0 - timedelta(minutes=5)))
        need.accept(by=STAFF, priority=priority, policy=POLICY, now=T0)

        assert need.priority == priority
        assert (need.respond_due, need.resolve_due) == (respond_due, resolve_due), priority
        event = need.pending_events[-1]
        assert isinstance(event, Need.Accepted)
        assert (event.respond_due, event.resolve_due) == (respond_due, resolve_due)


@pytest.mark.parametrize(
    ("priority", "respond_due", "resolve_due"),
    [
        # Wednesday 30 September 2026, 10:00 Shanghai; 1-7 October off,
        # Saturday 10 October a make-up working day.
        ("urgent", utc(2026, 9, 30, 4), utc(2026, 10, 8, 2)),
        ("normal", utc(2026, 10, 8, 2), utc(2026, 10, 13, 2)),
        ("low", utc(2026, 10, 10, 2), utc(2026, 10, 23, 2)),
    ],
)
def test_accept_deadlines_skip_holidays_and_count_make_up_days(
    priority: str, respond_due: datetime, resolve_due: datetime
) -> None:
    accepted_at = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    need = register_need(Clock(accepted_at - timedelta(hours=1)))

    need.accept(by=STAFF, priority=priority, policy=NATIONAL_DAY_POLICY, now=accepted_at)

    assert need.respond_due == respond_due
    assert need.resolve_due == resolve_due


def test_accept_may_recategorise() -> None:
    clock = Clock()
    need = register_need(clock, category="other")

    need.accept(by=STAFF, priority="low", category="safety", policy=POLICY, now=clock.tick())

    assert need.category == "safety"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": "high"}, "priority"),
        ({"priority": ""}, "priority"),
        ({"priority": "normal", "category": "noise"}, "category"),
    ],
)
def test_accept_rejects_unknown_priority_or_category(kwargs: dict, field: str) -> None:
    clock = Clock()
    need = reach(S.REPORTED, clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.accept(by=STAFF, policy=POLICY, now=clock.tick(), **kwargs)

    assert refused.value.field == field
    assert need.status == S.REPORTED
    assert snapshot(need) == before


def _assigned_normal_need() -> tuple[Need, Clock]:
    """Accepted at T0 with normal priority: respond by Tue 3 March, resolve by Mon 9 March."""
    clock = Clock(T0 - timedelta(minutes=5))
    need = register_need(clock)
    need.accept(by=STAFF, priority="normal", policy=POLICY, now=T0)
    do_assign(need, clock)
    return need, clock


RESPOND_DUE = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
RESOLVE_DUE = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("acknowledged_at", "within"),
    [
        (T0 + timedelta(hours=1), True),
        (RESPOND_DUE, True),
        (RESPOND_DUE + timedelta(minutes=1), False),
        (RESPOND_DUE + timedelta(days=3), False),
    ],
    ids=["early", "at_due", "a_minute_late", "days_late"],
)
def test_response_within_limit(acknowledged_at: datetime, within: bool) -> None:
    need, _ = _assigned_normal_need()
    assert need.respond_due == RESPOND_DUE

    need.acknowledge(by=PROPERTY, now=acknowledged_at)

    assert need.responded_within_limit is within
    assert need.responded_at == acknowledged_at
    assert need.pending_events[-1].within_limit is within


@pytest.mark.parametrize(
    ("resolved_at", "within"),
    [
        (T0 + timedelta(days=2), True),
        (RESOLVE_DUE, True),
        (RESOLVE_DUE + timedelta(seconds=1), False),
        (RESOLVE_DUE + timedelta(days=10), False),
    ],
    ids=["early", "at_due", "a_second_late", "days_late"],
)
def test_resolution_within_limit(resolved_at: datetime, within: bool) -> None:
    need, _ = _assigned_normal_need()
    need.acknowledge(by=PROPERTY, now=T0 + timedelta(hours=1))
    assert need.resolve_due == RESOLVE_DUE

    need.resolve(by=PROPERTY, outcome="已修复", now=resolved_at)

    assert need.resolved_within_limit is within
    assert need.resolved_at == resolved_at
    assert need.pending_events[-1].within_limit is within


def test_late_response_is_still_late_after_a_timely_resolution() -> None:
    need, _ = _assigned_normal_need()
    need.acknowledge(by=PROPERTY, now=RESPOND_DUE + timedelta(hours=5))
    need.resolve(by=PROPERTY, outcome="已修复", now=RESOLVE_DUE - timedelta(hours=1))

    assert need.responded_within_limit is False
    assert need.resolved_within_limit is True


# ----- deadline extensions -------------------------------------------------------


def test_extend_moves_the_deadline_and_records_the_previous_one() -> None:
    need, clock = _assigned_normal_need()
    new_due = RESOLVE_DUE + timedelta(days=4)

    need.extend(by=STAFF, reason="配件需从厂家订购", resolve_due=new_due, now=clock.tick())

    assert need.resolve_due == new_due
    assert need.status == S.ASSIGNED
    assert need.extensions == 1
    event = need.pending_events[-1]
    assert isinstance(event, Need.DeadlineExtended)
    assert event.previous_due == RESOLVE_DUE
    assert event.resolve_due == new_due
    assert event.reason == "配件需从厂家订购"


def test_extend_by_working_days_uses_the_calendar() -> None:
    need, clock = _assigned_normal_need()

    need.extend(by=STAFF, reason="等待业委会表决", working_days=2, policy=POLICY, now=clock.tick())

    # Monday 9 March + 2 working days = Wednesday 11 March, same time of day.
    assert need.resolve_due == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)


def test_resolution_after_an_extension_is_judged_against_the_new_deadline() -> None:
    need, clock = _assigned_normal_need()
    need.extend(
        by=STAFF, reason="需等待配件", resolve_due=RESOLVE_DUE + timedelta(days=3), now=clock.tick()
    )
    need.acknowledge(by=PROPERTY, now=T0 + timedelta(hours=1))

    need.resolve(by=PROPERTY, outcome="已修复", now=RESOLVE_DUE + timedelta(days=1))

    assert need.resolved_within_limit is True


@pytest.mark.parametrize(
    "new_due",
    [RESOLVE_DUE, RESOLVE_DUE - timedelta(seconds=1), RESOLVE_DUE - timedelta(days=3)],
    ids=["same", "a_second_earlier", "days_earlier"],
)
def test_extend_must_be_later_than_the_current_deadline(new_due: datetime) -> None:
    need, clock = _assigned_normal_need()
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.extend(by=STAFF, reason="理由", resolve_due=new_due, now=clock.tick())

    assert refused.value.field == "resolve_due"
    assert need.resolve_due == RESOLVE_DUE
    assert snapshot(need) == before


def test_extend_refuses_a_naive_deadline() -> None:
    need, clock = _assigned_normal_need()

    with pytest.raises(InvalidValue) as refused:
        need.extend(
            by=STAFF, reason="理由", resolve_due=datetime(2026, 4, 1, 9, 0), now=clock.tick()
        )

    assert refused.value.field == "resolve_due"


@pytest.mark.parametrize(
    "new_due",
    [
        datetime.fromisoformat("9999-12-31T23:00:00-05:00"),
        datetime.fromisoformat("9999-12-31T23:00:00-14:00"),
        datetime(2200, 1, 1, tzinfo=UTC),
    ],
    ids=["9999_minus_5", "9999_minus_14", "year_2200"],
)
def test_extend_refuses_a_deadline_outside_the_sane_range(new_due: datetime) -> None:
    """The audit's input: accepted, stored, and the view raised OverflowError
    converting it to UTC, for good."""
    need, clock = _assigned_normal_need()
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.extend(by=STAFF, reason="理由", resolve_due=new_due, now=clock.tick())

    assert refused.value.field == "resolve_due"
    assert "2000 to 2199" in refused.value.message
    assert snapshot(need) == before


def test_extend_moves_the_deadline_at_most_366_days() -> None:
    need, clock = _assigned_normal_need()
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.extend(
            by=STAFF,
            reason="理由",
            resolve_due=RESOLVE_DUE + timedelta(days=366, seconds=1),
            now=clock.tick(),
        )

    assert refused.value.field == "resolve_due"
    assert "at most 366 days after the current deadline" in refused.value.message
    assert snapshot(need) == before
    need.extend(
        by=STAFF, reason="理由", resolve_due=RESOLVE_DUE + timedelta(days=366), now=clock.tick()
    )
    assert need.resolve_due == RESOLVE_DUE + timedelta(days=366)


def test_extend_a_year_at_a_time_stops_at_the_end_of_the_range() -> None:
    """Each extension may add a year; the deadline still never leaves the range."""
    need, clock = _assigned_normal_need()
    need.resolve_due = datetime(2199, 12, 1, tzinfo=UTC)  # as if extended many times

    with pytest.raises(InvalidValue) as refused:
        need.extend(
            by=STAFF,
            reason="理由",
            resolve_due=datetime(2200, 6, 1, tzinfo=UTC),
            now=clock.tick(),
        )
    assert refused.value.field == "resolve_due"


def test_extend_by_working_days_past_the_end_of_the_range_is_refused() -> None:
    """A deadline at the end of the range (or beyond it, from before the rule):
    adding working days named the field instead of raising OverflowError in
    the calendar."""
    for deadline in (
        datetime(2199, 12, 31, 1, 0, tzinfo=UTC),
        datetime.fromisoformat("9999-12-31T23:00:00-05:00"),
    ):
        need, clock = _assigned_normal_need()
        need.resolve_due = deadline
        before = snapshot(need)

        with pytest.raises(InvalidValue) as refused:
            need.extend(
                by=STAFF, reason="理由", working_days=5, policy=POLICY, now=clock.tick()
            )

        assert refused.value.field == "working_days"
        assert snapshot(need) == before


# ----- supervision notices ---------------------------------------------------------


@pytest.mark.parametrize("status", OPEN)
def test_supervision_notice_never_changes_the_status(status: NeedStatus) -> None:
    clock = Clock()
    need = reach(status, clock)
    version = need.version

    need.supervise(by=SUPERVISOR, text="督办：请于本周内办结", now=clock.tick())
    need.supervise(by=SUPERVISOR, text="再次督办", now=clock.tick())

    assert need.status == status
    assert need.supervision_notices == 2
    assert need.version == version + 2
    event = need.pending_events[-1]
    assert isinstance(event, Need.SupervisionNoticeIssued)
    assert event.text == "再次督办"
    assert event.actor_role == "supervisor"


def test_supervision_notice_needs_text() -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)

    with pytest.raises(InvalidValue) as refused:
        need.supervise(by=SUPERVISOR, text=" ", now=clock.tick())

    assert refused.value.field == "text"


# ----- notes -----------------------------------------------------------------------


def test_notes_keep_attachment_references() -> None:
    clock = Clock()
    need = register_need(clock, attachments=["files/photo-1.jpg"])

    need.add_note(by=STAFF, text="补充照片", attachments=["files/photo-2.jpg"], now=clock.tick())

    assert need.notes == 1
    assert need.attachments == ["files/photo-1.jpg", "files/photo-2.jpg"]
    assert need.status == S.REPORTED


def test_staff_of_another_party_may_not_add_notes() -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)
    before = snapshot(need)

    with pytest.raises(NotPermitted):
        need.add_note(by=OTHER_PROPERTY, text="不是我们的单", now=clock.tick())

    assert snapshot(need) == before


# ----- staff close after the evaluation window ---------------------------------------


def _resolved_at(clock: Clock) -> tuple[Need, datetime]:
    need = reach(S.RESOLVED, clock)
    assert need.resolved_at == clock.now
    return need, clock.now


@pytest.mark.parametrize(
    "after", [timedelta(0), timedelta(days=1), EVALUATION_WINDOW - timedelta(seconds=1)]
)
def test_staff_close_refused_within_the_evaluation_window(after: timedelta) -> None:
    need, resolved_at = _resolved_at(Clock())
    before = snapshot(need)

    with pytest.raises(IllegalTransition) as refused:
        need.close(
            by=STAFF,
            reason="居民未评价",
            evaluation_window=EVALUATION_WINDOW,
            now=resolved_at + after,
        )

    assert refused.value.status == S.RESOLVED
    assert refused.value.allowed == sorted(c for c in need.allowed_commands if c != "close")
    assert {"evaluate", "add_note", "supervise"} <= set(refused.value.allowed)
    assert need.status == S.RESOLVED
    assert snapshot(need) == before


@pytest.mark.parametrize("after", [EVALUATION_WINDOW, EVALUATION_WINDOW + timedelta(days=3)])
def test_staff_close_allowed_after_the_evaluation_window(after: timedelta) -> None:
    need, resolved_at = _resolved_at(Clock())

    need.close(
        by=STAFF, reason="七日内居民未评价", evaluation_window=EVALUATION_WINDOW, now=resolved_at + after
    )

    assert need.status == S.CLOSED
    event = need.pending_events[-1]
    assert isinstance(event, Need.Closed)
    assert event.reason == "七日内居民未评价"
    assert event.actor_id == STAFF.id


# ----- merge ---------------------------------------------------------------------------


def test_merge_records_the_need_merged_into() -> None:
    clock = Clock()
    original = register_need(clock)
    duplicate = register_need(clock)

    duplicate.merge(by=STAFF, into=original, reason="同一部电梯", now=clock.tick())

    assert duplicate.status == S.MERGED
    assert duplicate.merged_into == original.id
    assert duplicate.pending_events[-1].into_need_id == original.id


def test_merge_into_itself_is_refused() -> None:
    clock = Clock()
    need = register_need(clock)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.merge(by=STAFF, into=need, reason="重复", now=clock.tick())

    assert refused.value.field == "into_need_id"
    assert need.status == S.REPORTED
    assert snapshot(need) == before


def test_merge_into_a_need_of_another_compound_is_refused() -> None:
    clock = Clock()
    need = register_need(clock)
    elsewhere = register_need(clock, compound_id=OTHER_COMPOUND)
    before = snapshot(need)

    with pytest.raises(InvalidValue) as refused:
        need.merge(by=STAFF, into=elsewhere, reason="重复", now=clock.tick())

    assert refused.value.field == "into_need_id"
    assert snapshot(need) == before


@pytest.mark.parametrize("status", [S.REJECTED, S.WITHDRAWN, S.TRANSFERRED, S.MERGED])
def test_merge_into_a_dead_case_is_refused(status: NeedStatus) -> None:
    clock = Clock()
    dead = reach(status, clock)
    need = register_need(clock)

    with pytest.raises(InvalidValue) as refused:
        need.merge(by=STAFF, into=dead, reason="重复", now=clock.tick())

    assert refused.value.field == "into_need_id"
    assert need.status == S.REPORTED


# ----- withdraw ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "on_behalf"), [(RESIDENT, False), (STAFF, True), (GRID, True)],
    ids=["reporter", "community_staff", "grid_worker"],
)
def test_reporter_or_staff_on_their_behalf_withdraws(actor: Actor, on_behalf: bool) -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)

    need.withdraw(by=actor, reason="居民表示不再需要", now=clock.tick())

    assert need.status == S.WITHDRAWN
    assert need.pending_events[-1].on_behalf_of_reporter is on_behalf


@pytest.mark.parametrize(
    "actor",
    [OTHER_RESIDENT, PROPERTY, SUPERVISOR],
    ids=["other_resident", "property_company", "supervisor"],
)
def test_others_may_not_withdraw(actor: Actor) -> None:
    clock = Clock()
    need = reach(S.REPORTED, clock)
    before = snapshot(need)

    with pytest.raises(NotPermitted):
        need.withdraw(by=actor, reason="不需要了", now=clock.tick())

    assert snapshot(need) == before


# ----- registration ----------------------------------------------------------------------


def test_register_records_the_need() -> None:
    clock = Clock()
    need = register_need(
        clock,
        by=GRID,
        source="household_visit",
        household_id=HOUSEHOLD,
        location="3号楼2单元",
        attachments=["files/a.jpg"],
    )

    assert need.status == S.REPORTED
    assert need.compound_id == COMPOUND
    assert need.reporter_id == GRID.id
    assert need.source == "household_visit"
    assert need.household_id == HOUSEHOLD
    assert need.category == "facilities"
    assert need.redo_count == 0
    assert need.priority is None and need.respond_due is None and need.resolve_due is None
    assert need.version == 1
    assert [type(e) for e in need.pending_events] == [Need.Registered]


def test_resident_registers_as_self_report_for_their_own_household() -> None:
    for named in (None, HOUSEHOLD):  # left out, or their own named
        need = register_need(Clock(), by=RESIDENT, source="self_report", household_id=named)

        assert need.source == "self_report"
        assert need.household_id == HOUSEHOLD
        assert need.pending_events[0].household_id == HOUSEHOLD


def test_a_resident_naming_another_household_is_refused_not_silently_replaced() -> None:
    """Issue 23 item 7: the household a resident names is theirs, or a 422."""
    with pytest.raises(InvalidValue) as refused:
        register_need(Clock(), by=RESIDENT, source="self_report", household_id=OTHER_HOUSEHOLD)

    assert refused.value.field == "household_id"


@pytest.mark.parametrize("source", ["household_visit", "hotline", "inspection", "consultation"])
def test_resident_may_not_use_another_source(source: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        register_need(Clock(), by=RESIDENT, source=source)

    assert refused.value.field == "source"


@pytest.mark.parametrize(
    "source", ["household_visit", "self_report", "hotline", "inspection", "consultation"]
)
def test_staff_may_register_from_any_source(source: str) -> None:
    need = register_need(Clock(), by=STAFF, source=source)

    assert need.source == source


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "wechat"}, "source"),
        ({"source": ""}, "source"),
        ({"category": "noise"}, "category"),
        ({"category": "Safety"}, "category"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "\n\t "}, "description"),
        ({"attachments": ["ok.jpg", " "]}, "attachments"),
        ({"attachments": [f"f{i}.jpg" for i in range(21)]}, "attachments"),
    ],
)
def test_register_rejects_invalid_fields(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        register_need(Clock(), by=STAFF, **kwargs)

    assert refused.value.field == field


# ----- text limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"), [("title", 200), ("description", 5000), ("location", 200)]
)
def test_text_length_limits(field: str, limit: int) -> None:
    at_limit = register_need(Clock(), **{field: "修" * limit})
    assert getattr(at_limit, field) == "修" * limit

    with pytest.raises(InvalidValue) as refused:
        register_need(Clock(), **{field: "修" * (limit + 1)})
    assert refused.value.field == field


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
@pytest.mark.parametrize("field", ["title", "description", "location"])
def test_control_characters_are_rejected(field: str, control: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        register_need(Clock(), **{field: f"电梯{control}故障"})

    assert refused.value.field == field


def test_windows_line_endings_are_kept() -> None:
    need = register_need(Clock(), description="第一行\r\n第二行")
    assert need.description == "第一行\r\n第二行"


def test_the_resident_of_the_visited_household_evaluates_a_collected_need() -> None:
    """A need a grid worker collected at a door is the household's to evaluate."""
    from uuid import uuid4

    household = uuid4()
    resident = Actor("王阿姨", Role.RESIDENT, household_id=household)
    neighbour = Actor("李叔", Role.RESIDENT, household_id=uuid4())
    grid = Actor("网格员", Role.GRID_WORKER)
    need = Need.register(
        by=grid,
        compound_id=uuid4(),
        source="household_visit",
        title="楼道灯坏",
        description="三楼",
        household_id=household,
    )
    assert need.speaks_for_reporter(resident)
    assert not need.speaks_for_reporter(neighbour)
    assert not need.speaks_for_reporter(grid)  # collected for the household, not their own


def test_a_residents_own_report_is_not_their_housemates() -> None:
    """DESIGN 4: a resident sees only the needs they reported (and, above, what
    was collected at their door), not what another resident of the household reported."""
    from uuid import uuid4

    household = uuid4()
    reporter = Actor("王阿姨", Role.RESIDENT, household_id=household)
    housemate = Actor("王叔叔", Role.RESIDENT, household_id=household)
    need = Need.register(
        by=reporter, compound_id=uuid4(), source="self_report", title="漏水", description="厨房"
    )
    assert need.household_id == household
    assert need.collected_from is None
    assert need.speaks_for_reporter(reporter)
    assert not need.speaks_for_reporter(housemate)


def test_control_characters_are_rejected_in_reasons_and_notes() -> None:
    clock = Clock()
    need = reach(S.ASSIGNED, clock)

    with pytest.raises(InvalidValue) as bad_reason:
        need.withdraw(by=RESIDENT, reason="不\x00要了", now=clock.tick())
    with pytest.raises(InvalidValue) as bad_note:
        need.add_note(by=STAFF, text="备注\x00", now=clock.tick())

    assert (bad_reason.value.field, bad_note.value.field) == ("reason", "text")
    assert need.status == S.ASSIGNED


def test_chinese_and_emoji_are_stored_exactly() -> None:
    title = "3号楼电梯又坏了😡🛗"
    description = "老人上下楼困难 👵🏻\n请尽快修理🙏\t谢谢！👨‍👩‍👧"
    location = "幸福里小区3号楼2单元（东门）"
    clock = Clock()
    need = register_need(clock, title=title, description=description, location=location)

    assert (need.title, need.description, need.location) == (title, description, location)
    event = need.pending_events[0]
    assert (event.title, event.description, event.location) == (title, description, location)

    need.add_note(by=STAFF, text="已联系🧑‍🔧维修", now=clock.tick())
    assert need.pending_events[-1].text == "已联系🧑‍🔧维修"


def test_emoji_count_as_one_character_each() -> None:
    need = register_need(Clock(), title="😀" * 200)

    assert need.title == "😀" * 200


# ----- what every event carries ----------------------------------------------------------------


def _full_story() -> tuple[Need, list[Actor]]:
    clock = Clock()
    need = register_need(clock, by=RESIDENT)
    actors = [RESIDENT]

    def step(actor: Actor, command: Callable[[], None]) -> None:
        command()
        actors.append(actor)

    step(STAFF, lambda: do_accept(need, clock))
    step(GRID, lambda: need.add_note(by=GRID, text="已上门查看", now=clock.tick()))
    step(STAFF, lambda: do_assign(need, clock))
    step(SUPERVISOR, lambda: need.supervise(by=SUPERVISOR, text="督办", now=clock.tick()))
    step(
        STAFF,
        lambda: need.extend(
            by=STAFF,
            reason="等配件",
            resolve_due=need.resolve_due + timedelta(days=2),
            now=clock.tick(),
        ),
    )
    step(PROPERTY, lambda: do_acknowledge(need, clock))
    step(STAFF, lambda: do_escalate(need, clock))
    step(STAFF, lambda: do_return(need, clock))
    step(PROPERTY, lambda: do_acknowledge(need, clock))
    step(PROPERTY, lambda: do_resolve(need, clock))
    step(RESIDENT, lambda: do_evaluate(need, clock, "unsatisfied", comment="没修好"))
    step(PROPERTY, lambda: do_acknowledge(need, clock))
    step(PROPERTY, lambda: do_resolve(need, clock))
    step(STAFF, lambda: COMMANDS["close"](need, clock))
    return need, actors


def test_every_event_carries_actor_role_and_utc_timestamp() -> None:
    need, actors = _full_story()
    events = need.pending_events

    assert need.status == S.CLOSED
    assert len(events) == len(actors)
    assert {type(e).__name__ for e in events} == {
        "Registered",
        "Accepted",
        "NoteAdded",
        "Assigned",
        "SupervisionNoticeIssued",
        "DeadlineExtended",
        "Acknowledged",
        "Escalated",
        "ReturnedFromConsultation",
        "Resolved",
        "Evaluated",
        "Closed",
    }
    for event, actor in zip(events, actors, strict=True):
        assert event.actor_id == actor.id, type(event).__name__
        assert event.actor_role == str(actor.role), type(event).__name__
        assert event.timestamp.tzinfo is not None, type(event).__name__
        assert event.timestamp.utcoffset() == timedelta(0), type(event).__name__
    timestamps = [e.timestamp for e in events]
    assert timestamps == sorted(timestamps)


@pytest.mark.parametrize("status", sorted(FINAL - {S.CLOSED}))
def test_final_events_carry_actor_and_timestamp(status: NeedStatus) -> None:
    need = reach(status)
    final_event = need.pending_events[-1]

    assert type(final_event).__name__ == {
        S.REJECTED: "Rejected",
        S.MERGED: "Merged",
        S.TRANSFERRED: "Transferred",
        S.WITHDRAWN: "Withdrawn",
    }[status]
    assert final_event.reason
    for event in need.pending_events:
        assert event.actor_id and event.actor_role
        assert event.timestamp.tzinfo is not None
        assert event.timestamp.utcoffset() == timedelta(0)


def test_events_without_explicit_now_are_stamped_in_utc() -> None:
    need = Need.register(
        by=STAFF, compound_id=COMPOUND, source="inspection", title="路灯不亮", description="东门路灯"
    )
    need.add_note(by=STAFF, text="已报修")

    for event in need.pending_events:
        assert event.timestamp.tzinfo is not None
        assert event.timestamp.utcoffset() == timedelta(0)
