"""Needs (诉求): task-based commands and the case views."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query

from api.routing import Route
from api import responses as rs
from api import schemas as s
from api.schemas import MAX_POSITION
from api.deps import ExpectedVersion, ServicesDep, requires, wait_for_views
from api.export import (
    HISTORY_COLUMNS,
    HISTORY_ZH,
    NEED_COLUMNS,
    NEED_ZH,
    Format,
    LangQuery,
    export_response,
    json_response,
)
from application.access import can_see_need, need_scope
from application.projections import is_overdue
from application.readmodel import utc_text
from domain.actor import Actor
from domain.errors import NotFound
from domain.need import STATUS_LABELS_ZH, NeedStatus, allowed_commands, collected_from
from domain.times import FIRST_DAY, LAST_DAY
from infrastructure.store import Services

router = APIRouter(route_class=Route, prefix="/needs", tags=["needs"])

NO_PARTY = UUID(int=0)  # a party id no party has: the filter then matches nothing

StatusCode = Literal[tuple(status.value for status in NeedStatus)]  # type: ignore[valid-type]
After = Annotated[
    int | None,
    Query(ge=0, le=MAX_POSITION, description="answer only once the views reached this log position"),
]


def _recorded(result: Any) -> s.Recorded:
    return s.Recorded(id=result.id, version=result.version, position=result.position)


def need_for_reading(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    status = NeedStatus(row["status"])
    return {
        **row,
        "status_zh": STATUS_LABELS_ZH[status],
        "overdue": is_overdue(row, now),
        "allowed_commands": allowed_commands(status),
    }


def visible_need(services: Services, actor: Actor, need_id: UUID) -> dict[str, Any]:
    row = services.views.need(str(need_id))
    if row is None or not can_see_need(
        actor,
        UUID(row["compound_id"]),
        row["reporter_id"],
        UUID(row["assigned_party_id"]) if row["assigned_party_id"] else None,
        collected_from(
            UUID(row["household_id"]) if row["household_id"] else None, row["reporter_role"]
        ),
        UUID(row["raised_by_party_id"]) if row.get("raised_by_party_id") else None,
    ):
        raise NotFound("need not found")
    return row


# ----- commands -------------------------------------------------------------


@router.post("", status_code=201, response_model=s.Recorded, summary="register a need (登记)")
def register_need(
    body: s.NeedRegister,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.register"))],
) -> s.Recorded:
    return _recorded(services.app.register_need(actor, **body.model_dump()))


@router.post("/{need_id}/accept", response_model=s.Recorded, summary="accept (受理)")
def accept_need(
    need_id: UUID,
    body: s.NeedAccept,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.accept"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.accept_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/assign", response_model=s.Recorded, summary="assign or reassign (派单)")
def assign_need(
    need_id: UUID,
    body: s.NeedAssign,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.assign"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.assign_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post(
    "/{need_id}/acknowledge", response_model=s.Recorded, summary="the assigned party responds"
)
def acknowledge_need(
    need_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.acknowledge"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(services.app.acknowledge_need(actor, need_id, expected_version=version))


@router.post("/{need_id}/notes", response_model=s.Recorded, summary="add a progress note")
def add_note(
    need_id: UUID,
    body: s.NeedNote,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.add_note"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.add_need_note(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/extend", response_model=s.Recorded, summary="extend the deadline")
def extend_need(
    need_id: UUID,
    body: s.NeedExtend,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.extend"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.extend_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/resolve", response_model=s.Recorded, summary="report the outcome (办结)")
def resolve_need(
    need_id: UUID,
    body: s.NeedResolve,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.resolve"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.resolve_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/evaluate", response_model=s.Recorded, summary="evaluate (评价)")
def evaluate_need(
    need_id: UUID,
    body: s.NeedEvaluate,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.evaluate"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.evaluate_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post(
    "/{need_id}/evaluate-compound",
    response_model=s.Recorded,
    summary="the provider evaluates the compound's side of a closed need (双向评价)",
)
def evaluate_compound_side(
    need_id: UUID,
    body: s.CompoundSideEvaluation,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.evaluate_compound"))],
    version: ExpectedVersion,
) -> s.Recorded:
    """Once a need a property company or co-building unit resolved is closed,
    that party's staff evaluate, once, the compound's coordination and the
    residents' cooperation."""
    return _recorded(
        services.app.evaluate_compound_side(
            actor, need_id, **body.model_dump(), expected_version=version
        )
    )


@router.post("/{need_id}/close", response_model=s.Recorded, summary="archive without evaluation")
def close_need(
    need_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.close"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.close_need(actor, need_id, reason=body.reason, expected_version=version)
    )


@router.post("/{need_id}/reject", response_model=s.Recorded, summary="reject (不予受理)")
def reject_need(
    need_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.reject"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.reject_need(actor, need_id, reason=body.reason, expected_version=version)
    )


@router.post("/{need_id}/merge", response_model=s.Recorded, summary="merge into another need")
def merge_need(
    need_id: UUID,
    body: s.NeedMerge,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.merge"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.merge_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/transfer", response_model=s.Recorded, summary="transfer (转办)")
def transfer_need(
    need_id: UUID,
    body: s.NeedTransfer,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.transfer"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.transfer_need(actor, need_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{need_id}/withdraw", response_model=s.Recorded, summary="withdraw (撤回)")
def withdraw_need(
    need_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.withdraw"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.withdraw_need(actor, need_id, reason=body.reason, expected_version=version)
    )


@router.post("/{need_id}/supervise", response_model=s.Recorded, summary="supervision notice (督办)")
def supervise_need(
    need_id: UUID,
    body: s.NeedSupervise,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.supervise"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.supervise_need(actor, need_id, text=body.text, expected_version=version)
    )


@router.post(
    "/{need_id}/exclusions",
    response_model=s.Recorded,
    summary="leave the need out of a party's assessment (不纳入考评), with a reason",
)
def exclude_need(
    need_id: UUID,
    body: s.NeedExclusion,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.exclude"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.exclude_need_from_assessment(
            actor, need_id, party_id=body.party_id, reason=body.reason, expected_version=version
        )
    )


@router.post(
    "/{need_id}/exclusions/{party_id}/revoke",
    response_model=s.Recorded,
    summary="count the need in the party's assessment again, with a reason",
)
def revoke_exclusion(
    need_id: UUID,
    party_id: UUID,
    body: s.ExclusionRevocation,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.exclude"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.revoke_need_exclusion(
            actor, need_id, party_id=party_id, reason=body.reason, expected_version=version
        )
    )


# ----- queries ----------------------------------------------------------------


_DAYS = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"
# The days of a query's date range, within the domain's sane range of days.
ReportedFrom = Annotated[
    s.Day | None, Query(description=f"first day, inclusive; {_DAYS}")
]
ReportedTo = Annotated[
    s.Day | None, Query(description=f"last day, inclusive; {_DAYS}")
]
# A keyword searched for in needs' titles and descriptions.
Keyword = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="keyword: needs whose title or description contains it, ignoring case "
        "(a substring; % and _ match themselves; leading and trailing spaces ignored); "
        "at most 100 characters, no control characters",
    ),
]


def _day_start(day: date | None, services: Services) -> str | None:
    """The UTC text of the local midnight starting ``day``.

    A day outside the sane range is taken as its nearest end (no case lies
    beyond it), so that a route that forgets the bounds gets no overflow.
    """
    if day is None:
        return None
    day = min(max(day, FIRST_DAY), LAST_DAY + timedelta(days=1))
    zone = ZoneInfo(services.settings.timezone)
    return utc_text(datetime.combine(day, time.min, zone))


@router.get(
    "", response_model=rs.NeedPage, response_model_exclude_unset=True, summary="list needs, newest first"
)
def list_needs(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.read"))],
    compound_id: UUID | None = None,
    status: Annotated[list[StatusCode] | None, Query()] = None,
    category: Annotated[list[s.Category] | None, Query()] = None,
    priority: Annotated[list[s.Priority] | None, Query()] = None,
    party_id: UUID | None = None,
    raised_by_party_id: Annotated[
        UUID | None, Query(description="needs this party raised toward the compound")
    ] = None,
    toward: Annotated[
        s.Toward | None, Query(description="compound: the parties' needs toward the compound")
    ] = None,
    overdue: bool | None = None,
    reported_from: ReportedFrom = None,
    reported_to: ReportedTo = None,
    q: Keyword = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
    format: Annotated[Format, Query(description="csv: every matching need, streamed")] = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    scope = need_scope(actor)
    compound_ids = scope.get("compound_ids")
    if compound_id is not None:
        wanted = [str(compound_id)]
        compound_ids = (
            wanted if compound_ids is None or compound_id in compound_ids else []  # type: ignore[operator]
        )
    elif compound_ids is not None:
        compound_ids = [str(c) for c in compound_ids]  # type: ignore[attr-defined]
    own_party_id = None
    if "assigned_party_id" in scope:
        # A party's staff: the needs their party has, and those it raised.
        own = scope["assigned_party_id"]
        if own is None or (party_id is not None and party_id != own):
            party_id = NO_PARTY
        elif party_id is None:
            own_party_id = str(own)
    now = datetime.now(UTC)
    filters: dict[str, Any] = {
        "now": now,
        "compound_ids": compound_ids,
        "reporter_id": scope.get("reporter_id"),
        "household_id": scope.get("household_id"),
        "assigned_party_id": str(party_id) if party_id else None,
        "own_party_id": own_party_id,
        "raised_by_party_id": str(raised_by_party_id) if raised_by_party_id else None,
        "toward": toward,
        "status": status,
        "category": category,
        "priority": priority,
        "overdue": overdue,
        "reported_from": _day_start(reported_from, services),
        "reported_to": _day_start(reported_to and reported_to + timedelta(days=1), services),
        "keyword": q.strip() if q and q.strip() else None,
    }
    if format == "csv":
        rows = (need_for_reading(r, now) for r in services.views.iter_needs(**filters))
        return export_response(
            rows, NEED_COLUMNS, "needs.csv", lang=lang, zh=NEED_ZH, services=services
        )
    rows, next_cursor = services.views.needs(limit=limit, cursor=cursor, **filters)
    return s.Page(items=[need_for_reading(r, now) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{need_id}",
    response_model=rs.Need,
    response_model_exclude_unset=True,
    summary="a need's current state",
)
def get_need(
    need_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    return need_for_reading(visible_need(services, actor, need_id), datetime.now(UTC))


@router.get(
    "/{need_id}/history",
    response_model=rs.NeedHistory,
    response_model_exclude_unset=True,
    summary="the need's audit trail, every event in order",
)
def need_history(
    need_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.read"))],
    after: After = None,
    format: Format = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    visible_need(services, actor, need_id)
    events = services.views.iter_history(str(need_id))
    if format == "csv":
        filename = f"need-{need_id}-history.csv"
        return export_response(
            events, HISTORY_COLUMNS, filename, lang=lang, zh=HISTORY_ZH, services=services
        )
    return json_response({"need_id": str(need_id)}, "events", events)
