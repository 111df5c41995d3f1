"""Consultations (协商议事): task-based commands and the case views.

Also ``POST /needs/{id}/escalate``, which attaches a need to an open
consultation (the need and the consultation change together).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Path, Query

import application.consultations  # noqa: F401 - registers the permissions used below
from api.routing import Route
from api import consultation_schemas as cs
from api import responses as rs
from api import schemas as s
from api.schemas import MAX_POSITION
from api.deps import ExpectedVersion, ServicesDep, requires, wait_for_views
from api.export import (
    CONSULTATION_ZH,
    HISTORY_COLUMNS,
    HISTORY_ZH,
    Format,
    LangQuery,
    export_response,
    json_response,
)
from api.routers.needs import After
from application.consultation_views import status_label_zh
from application.consultations import can_see_consultation
from domain.actor import Actor
from domain.consultation import (
    METHOD_LABELS_ZH,
    ConsultationStatus,
    allowed_commands,
)
from domain.errors import NotFound
from infrastructure.store import Services

CONSULTATION_COLUMNS = (
    "id",
    "compound_id",
    "status",
    "status_zh",
    "topic",
    "need_ids",
    "proposed_by",
    "proposed_at",
    "convened_at",
    "meets_at",
    "place",
    "method",
    "matter",
    "electorate_size",
    "total_area",
    "votes_cast",
    "outcome",
    "concluded_at",
    "resolution",
    "published_at",
    "actions_total",
    "actions_done",
    "closed_at",
    "version",
)

router = APIRouter(route_class=Route, tags=["consultations"])

StatusCode = Literal[tuple(c.value for c in ConsultationStatus)]  # type: ignore[valid-type]
ActionNumber = Annotated[int, Path(ge=1, le=10000, description="the action item's number")]


def _recorded(result: Any) -> s.Recorded:
    return s.Recorded(id=result.id, version=result.version, position=result.position)


def consultation_for_reading(row: dict[str, Any], services: Services) -> dict[str, Any]:
    today = datetime.now(ZoneInfo(services.settings.timezone)).date().isoformat()
    items = [
        {**item, "overdue": not item["done"] and item["due_on"] < today}
        for item in row["action_items"]
    ]
    return {
        **row,
        "status_zh": status_label_zh(row["status"]),
        "method_zh": METHOD_LABELS_ZH.get(row["method"] or ""),
        "action_items": items,
        "allowed_commands": allowed_commands(row["status"], row["method"]),
    }


def visible_consultation(services: Services, actor: Actor, consultation_id: UUID) -> dict[str, Any]:
    row = services.views.case("consultation", str(consultation_id))
    if row is None or not can_see_consultation(actor, UUID(row["compound_id"])):
        raise NotFound("consultation not found")
    return row


# ----- commands -------------------------------------------------------------


@router.post(
    "/consultations",
    status_code=201,
    response_model=s.Recorded,
    summary="propose a consultation (提议协商), escalating the needs it names",
)
def propose_consultation(
    body: cs.ConsultationPropose,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.propose"))],
) -> s.Recorded:
    return _recorded(services.app.propose_consultation(actor, **body.model_dump()))


@router.post(
    "/needs/{need_id}/escalate",
    response_model=s.Recorded,
    tags=["needs"],
    summary="take a need to an open consultation (提交协商议事)",
)
def escalate_need(
    need_id: UUID,
    body: cs.NeedEscalate,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("need.escalate"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.escalate_need(
            actor, need_id, consultation_id=body.consultation_id, expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/convene",
    response_model=s.Recorded,
    summary="convene: time, place, invited parties; for a vote the motion, matter and electorate",
)
def convene_consultation(
    consultation_id: UUID,
    body: cs.ConsultationConvene,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.convene"))],
    version: ExpectedVersion,
) -> s.Recorded:
    electorate = (
        None
        if body.electorate is None
        else [(owner.owner_id, owner.exclusive_area) for owner in body.electorate]
    )
    fields = body.model_dump(exclude={"electorate"})
    return _recorded(
        services.app.convene_consultation(
            actor, consultation_id, **fields, electorate=electorate, expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/opinions",
    response_model=s.Recorded,
    summary="record a participant's opinion",
)
def record_opinion(
    consultation_id: UUID,
    body: cs.ConsultationOpinion,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.record_opinion"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.record_consultation_opinion(
            actor, consultation_id, **body.model_dump(), expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/votes",
    response_model=s.Recorded,
    summary="an owner's vote (for / against / abstain), once per owner",
)
def cast_vote(
    consultation_id: UUID,
    body: cs.ConsultationVote,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.vote"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.cast_consultation_vote(
            actor, consultation_id, **body.model_dump(), expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/close-vote",
    response_model=s.Recorded,
    summary="close the vote and decide it by Civil Code Art. 278",
)
def close_vote(
    consultation_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.close_vote"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.close_consultation_vote(actor, consultation_id, expected_version=version)
    )


@router.post(
    "/consultations/{consultation_id}/resolution",
    response_model=s.Recorded,
    summary="a consensus meeting's agreed resolution, or the text of an adopted one",
)
def record_resolution(
    consultation_id: UUID,
    body: cs.ConsultationResolution,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.record_resolution"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.record_consultation_resolution(
            actor, consultation_id, text=body.text, expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/publish",
    response_model=s.Recorded,
    summary="publish the resolution (公示)",
)
def publish_resolution(
    consultation_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.publish"))],
    version: ExpectedVersion,
    body: Annotated[cs.ConsultationPublish | None, Body()] = None,
) -> s.Recorded:
    note = body.note if body is not None else None
    return _recorded(
        services.app.publish_consultation_resolution(
            actor, consultation_id, note=note, expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/actions",
    status_code=201,
    response_model=cs.ActionsAdded,
    summary="split the published resolution into action items",
)
def add_actions(
    consultation_id: UUID,
    body: cs.ConsultationActions,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.add_actions"))],
    version: ExpectedVersion,
) -> cs.ActionsAdded:
    items = [(item.title, item.party_id, item.due_on) for item in body.items]
    numbers, r = services.app.add_consultation_actions(
        actor, consultation_id, items=items, expected_version=version
    )
    return cs.ActionsAdded(id=r.id, version=r.version, position=r.position, numbers=numbers)


@router.post(
    "/consultations/{consultation_id}/actions/{number}/complete",
    response_model=s.Recorded,
    summary="an action item is done; the last one closes the consultation",
)
def complete_action(
    consultation_id: UUID,
    number: ActionNumber,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.complete_action"))],
    version: ExpectedVersion,
    body: Annotated[cs.ActionComplete | None, Body()] = None,
) -> s.Recorded:
    note = body.note if body is not None else None
    return _recorded(
        services.app.complete_consultation_action(
            actor, consultation_id, number, note=note, expected_version=version
        )
    )


@router.post(
    "/consultations/{consultation_id}/cancel",
    response_model=s.Recorded,
    summary="call off a consultation that has not concluded; its needs go back",
)
def cancel_consultation(
    consultation_id: UUID,
    body: cs.ConsultationCancel,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.cancel"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.cancel_consultation(
            actor, consultation_id, reason=body.reason, expected_version=version
        )
    )


# ----- queries ----------------------------------------------------------------


@router.get(
    "/consultations",
    response_model=rs.ConsultationPage,
    response_model_exclude_unset=True,
    summary="list consultations, oldest first",
)
def list_consultations(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.read"))],
    compound_id: UUID | None = None,
    status: Annotated[list[StatusCode] | None, Query()] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
    format: Annotated[Format, Query(description="csv: every matching one, streamed")] = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    scope = None if actor.compound_ids is None else sorted(str(c) for c in actor.compound_ids)
    if compound_id is not None:
        scope = [str(compound_id)] if scope is None or str(compound_id) in scope else []
    if format == "csv":
        every = services.views.iter_cases("consultation", scope, status=status)
        return export_response(
            (consultation_for_reading(r, services) for r in every),
            CONSULTATION_COLUMNS,
            "consultations.csv",
            lang=lang,
            zh=CONSULTATION_ZH,
            services=services,
        )
    rows, next_cursor = services.views.cases(
        "consultation", scope, status=status, limit=limit, cursor=cursor
    )
    return s.Page(
        items=[consultation_for_reading(r, services) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/consultations/{consultation_id}",
    response_model=rs.Consultation,
    response_model_exclude_unset=True,
    summary="a consultation's current state",
)
def get_consultation(
    consultation_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    return consultation_for_reading(
        visible_consultation(services, actor, consultation_id), services
    )


@router.get(
    "/consultations/{consultation_id}/history",
    response_model=rs.ConsultationHistory,
    response_model_exclude_unset=True,
    summary="the consultation's audit trail, every event in order",
)
def consultation_history(
    consultation_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("consultation.read"))],
    after: After = None,
    format: Format = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    visible_consultation(services, actor, consultation_id)
    events = services.views.iter_history(str(consultation_id))
    if format == "csv":
        filename = f"consultation-{consultation_id}-history.csv"
        return export_response(
            events, HISTORY_COLUMNS, filename, lang=lang, zh=HISTORY_ZH, services=services
        )
    return json_response({"consultation_id": str(consultation_id)}, "events", events)

