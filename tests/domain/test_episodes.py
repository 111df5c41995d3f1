"""Episodes in the Need aggregate (DESIGN 2.1), and its events from before them.

Each time a party gets a need its response and resolution clocks start
again: the event that gives it the need carries that episode's deadlines.
Events stored before episodes carry none and still load: the need's own
deadlines then run on, as they did.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from domain.actor import Actor, Role
from domain.calendar import DeadlinePolicy, TimeLimit, WorkingCalendar
from domain.need import Need

COMPOUND = uuid4()
PARTY = uuid4()
OTHER = uuid4()
STAFF = Actor("staff-1", Role.COMMUNITY_STAFF, frozenset({COMPOUND}))
GRID = Actor("grid-1", Role.GRID_WORKER, frozenset({COMPOUND}))
PC = Actor("pc-1", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=PARTY)
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


def policy(**redo: str) -> DeadlinePolicy:
    def limits(respond: str) -> dict[str, TimeLimit]:
        return {p: TimeLimit.parse(respond) for p in ("urgent", "normal", "low")}

    return DeadlinePolicy(
        respond=limits("2h"),
        resolve=limits("1wd"),
        calendar=WorkingCalendar.of(),
        redo_respond=limits(redo["respond"]) if "respond" in redo else None,
        redo_resolve=limits(redo["resolve"]) if "resolve" in redo else None,
    )


def assigned(p: DeadlinePolicy, at: datetime = T0) -> Need:
    need = Need.register(
        by=GRID, compound_id=COMPOUND, source="inspection", title="路灯不亮", description="东门", now=T0
    )
    need.accept(by=STAFF, priority="urgent", policy=p, now=T0)
    need.assign(by=STAFF, party_id=PARTY, party_role="property_company", policy=p, now=at)
    return need


def test_an_assignment_starts_the_partys_clocks() -> None:
    need = assigned(policy(), at=T0 + timedelta(hours=3))
    assert need.respond_due == T0 + timedelta(hours=5)
    assert need.resolve_due == T0 + timedelta(days=1, hours=3)
    need.acknowledge(by=PC, now=T0 + timedelta(hours=3, minutes=1))
    assert need.pending_events[-1].within_limit is True


def test_a_reassignment_starts_them_again_and_forgets_the_last_partys_response() -> None:
    p = policy()
    need = assigned(p)
    need.acknowledge(by=PC, now=T0 + timedelta(minutes=10))
    need.assign(
        by=STAFF, party_id=OTHER, party_role="co_building_unit", reason="改派", policy=p,
        now=T0 + timedelta(hours=1),
    )
    assert need.responded_at is None
    assert need.respond_due == T0 + timedelta(hours=3)
    assert need.episodes == 2
    assert need.is_overdue(T0 + timedelta(hours=3, minutes=1))


def test_a_redo_has_its_own_limits_where_the_deployment_sets_them() -> None:
    p = policy(respond="30m", resolve="7d")
    need = assigned(p)
    need.acknowledge(by=PC, now=T0 + timedelta(minutes=10))
    need.resolve(by=PC, outcome="已修", now=T0 + timedelta(hours=1))
    redo = T0 + timedelta(days=3)
    need.evaluate(
        by=STAFF, evaluation="unsatisfied", comment="又坏了", obtained_by="visit", policy=p, now=redo
    )
    event = need.pending_events[-1]
    assert (event.respond_due, event.resolve_due) == (redo + timedelta(minutes=30), redo + timedelta(days=7))
    assert not need.is_overdue(redo + timedelta(minutes=29))
    assert need.is_overdue(redo + timedelta(minutes=31))


def _mapper() -> Mapper[UUID]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def test_events_stored_before_episodes_load_and_the_needs_deadlines_run_on() -> None:
    """Assigned, Evaluated and ReturnedFromConsultation of release 0.1.0 have no
    deadlines of their own and no ``class_version``: they are upcast, and the
    need keeps the deadlines it had, and a response given before stands."""
    p = policy()
    need = assigned(p)
    need.acknowledge(by=PC, now=T0 + timedelta(minutes=10))
    need.assign(
        by=STAFF, party_id=PARTY, party_role="property_company", reason="补派", policy=p,
        now=T0 + timedelta(hours=5),
    )
    need.acknowledge(by=PC, now=T0 + timedelta(hours=5, minutes=10))
    need.resolve(by=PC, outcome="已修", now=T0 + timedelta(hours=6))
    need.evaluate(by=STAFF, evaluation="unsatisfied", comment="没修好", obtained_by="phone", policy=p,
                  now=T0 + timedelta(days=3))
    mapper = _mapper()
    stored = []
    for event in need.collect_events():
        record = mapper.to_stored_event(event)
        state = json.loads(record.state)
        if state.get("class_version") == 2:  # as 0.1.0 wrote it
            for key in ("class_version", "respond_due", "resolve_due", "resolved", "obtained_by"):
                state.pop(key, None)
            record = StoredEvent(record.originator_id, record.originator_version, record.topic,
                                 json.dumps(state).encode())
        stored.append(record)
    loaded = None
    for record in stored:
        loaded = mapper.to_domain_event(record).mutate(loaded)  # type: ignore[attr-defined]
    assert loaded is not None
    assert loaded.episodes == 3
    # The acceptance's deadlines ran on; the first response stood.
    assert loaded.respond_due == T0 + timedelta(hours=2)
    assert loaded.responded_at == T0 + timedelta(minutes=10)
    assert loaded.redo_count == 1
