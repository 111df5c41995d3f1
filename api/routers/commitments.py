"""Service commitments (服务承诺/服务清单): task-based commands and the case views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from api.routing import Route
from api import commitment_schemas as cs
from api import responses as rs
from api import schemas as s
from api.schemas import MAX_POSITION
from api.deps import ExpectedVersion, ServicesDep, requires, wait_for_views
from api.export import (
    COMMITMENT_ZH,
    FULFILMENT_ZH,
    HISTORY_COLUMNS,
    HISTORY_ZH,
    Format,
    LangQuery,
    export_response,
    json_response,
)
from api.routers.needs import After
from application.commitment_views import (
    awaiting_confirmation_from,
    fulfilment,
    provider_fulfilment,
)
from application.commitments import CommitmentCommands  # noqa: F401 - registers permissions
from domain.actor import Actor
from domain.commitment import (
    CONFIRMING_PARTY_LABELS_ZH,
    STATUS_LABELS_ZH,
    VERSION_STATE_LABELS_ZH,
    CommitmentStatus,
    VersionState,
    allowed_commands,
)
from domain.errors import NotFound
from infrastructure.store import Services

router = APIRouter(route_class=Route, tags=["commitments"])

StatusCode = Literal[tuple(status.value for status in CommitmentStatus)]  # type: ignore[valid-type]
CASE = "commitment"

COMMITMENT_COLUMNS = (
    "id",
    "compound_id",
    "title",
    "provider_party_id",
    "provider_kind",
    "status",
    "status_zh",
    "status_reason",
    "in_effect_version",
    "pending_version",
    "awaiting_confirmation_from",
    "in_effect_items",
    "drafted_at",
    "drafted_by",
    "took_effect_at",
    "suspended_at",
    "terminated_at",
    "opinions",
    "version",
)
FULFILMENT_COLUMNS = (
    "commitment_id",
    "number",
    "title",
    "time_limit",
    "in_version_in_effect",
    "inspections_met",
    "inspections_not_met",
    "needs_assigned",
    "needs_resolved",
    "needs_resolved_within_limit",
    "needs_overdue",
    "fulfilled",
    "assessed",
    "fulfilment_rate",
)


def _recorded(result: Any) -> s.Recorded:
    return s.Recorded(id=result.id, version=result.version, position=result.position)


def _scope(actor: Actor) -> list[str] | None:
    return None if actor.compound_ids is None else sorted(str(c) for c in actor.compound_ids)


def visible_commitment(services: Services, actor: Actor, commitment_id: UUID) -> dict[str, Any]:
    row = services.views.case(CASE, str(commitment_id))
    if row is None or not actor.covers(UUID(row["compound_id"])):
        raise NotFound("service commitment not found")
    return row


def _version_for_reading(version: dict[str, Any], *, with_items: bool) -> dict[str, Any]:
    shown = {
        **version,
        "state_zh": VERSION_STATE_LABELS_ZH[VersionState(version["state"])],
        "item_count": len(version["items"]),
        "opinion_count": len(version["opinions"]),
        "confirmed_by": [
            {"party": party, "party_zh": CONFIRMING_PARTY_LABELS_ZH[party], **confirmation}
            for party, confirmation in version["confirmations"].items()
        ],
    }
    if not with_items:
        for bulky in ("items", "opinions", "added", "changed"):
            shown.pop(bulky)
    return shown


def commitment_for_reading(row: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    status = CommitmentStatus(row["status"])
    pending = row["pending_version"]
    shown = {
        **row,
        "status_zh": STATUS_LABELS_ZH[status],
        "allowed_commands": allowed_commands(status, pending is not None),
        "awaiting_confirmation_from": awaiting_confirmation_from(row),
        "pending": (
            _version_for_reading(row["versions"][pending - 1], with_items=True)
            if pending is not None and full
            else None
        ),
        "versions": [_version_for_reading(v, with_items=False) for v in row["versions"]],
    }
    if not full:
        shown.pop("inspections")
    return shown


# ----- commands -------------------------------------------------------------


@router.post(
    "/commitments",
    status_code=201,
    response_model=s.Recorded,
    summary="draft a service list (草拟服务清单)",
)
def draft_commitment(
    body: cs.CommitmentDraft,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.draft"))],
) -> s.Recorded:
    data = body.model_dump()
    return _recorded(services.app.draft_commitment(actor, **data))


@router.post(
    "/commitments/{commitment_id}/opinions",
    response_model=s.Recorded,
    summary="record a resident's opinion on the draft (征求意见)",
)
def record_opinion(
    commitment_id: UUID,
    body: cs.CommitmentOpinion,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.opinion"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.record_commitment_opinion(
            actor, commitment_id, **body.model_dump(), expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/confirm",
    response_model=s.Recorded,
    summary="confirm the pending draft: party branch, owners' committee or provider",
)
def confirm_commitment(
    commitment_id: UUID,
    body: cs.CommitmentConfirm,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.confirm"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.confirm_commitment(
            actor, commitment_id, list_version=body.list_version, expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/amend",
    response_model=s.Recorded,
    summary="amend: add, change or remove items (动态调整); a new version to confirm",
)
def amend_commitment(
    commitment_id: UUID,
    body: cs.CommitmentAmend,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.amend"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.amend_commitment(
            actor, commitment_id, **body.model_dump(), expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/inspections",
    response_model=s.Recorded,
    summary="record an inspection of an item in effect (履约检查)",
)
def inspect_item(
    commitment_id: UUID,
    body: cs.CommitmentInspection,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.inspect"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.inspect_commitment_item(
            actor, commitment_id, **body.model_dump(), expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/suspend", response_model=s.Recorded, summary="suspend (暂停)"
)
def suspend_commitment(
    commitment_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.suspend"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.suspend_commitment(
            actor, commitment_id, reason=body.reason, expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/resume", response_model=s.Recorded, summary="resume (恢复)"
)
def resume_commitment(
    commitment_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.resume"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.resume_commitment(
            actor, commitment_id, reason=body.reason, expected_version=version
        )
    )


@router.post(
    "/commitments/{commitment_id}/terminate",
    response_model=s.Recorded,
    summary="terminate (终止)",
)
def terminate_commitment(
    commitment_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.terminate"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.terminate_commitment(
            actor, commitment_id, reason=body.reason, expected_version=version
        )
    )


# ----- queries ----------------------------------------------------------------


def _compounds(actor: Actor, compound_id: UUID | None) -> list[str] | None:
    scope = _scope(actor)
    if compound_id is None:
        return scope
    return [str(compound_id)] if scope is None or str(compound_id) in scope else []


def _rows(
    services: Services,
    compound_ids: list[str] | None,
    *,
    status: list[str] | None = None,
    party_id: UUID | None = None,
    limit: int,
    cursor: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of lists, oldest first; the provider filter is applied to the rows read."""
    if party_id is None:
        return services.views.cases(CASE, compound_ids, status=status, limit=limit, cursor=cursor)
    wanted = str(party_id)
    found: list[dict[str, Any]] = []
    while True:
        rows, next_cursor = services.views.cases(
            CASE, compound_ids, status=status, limit=200, cursor=cursor
        )
        for row in rows:
            if row["provider_party_id"] != wanted:
                continue
            if len(found) == limit:
                return found, found[-1]["first_position"]
            found.append(row)
        if next_cursor is None:
            return found, None
        cursor = next_cursor


def _all_rows(services: Services, compound_ids: list[str] | None, **filters: Any) -> Any:
    cursor = None
    while True:
        rows, cursor = _rows(services, compound_ids, limit=200, cursor=cursor, **filters)
        yield from rows
        if cursor is None:
            return


@router.get(
    "/commitments",
    response_model=rs.CommitmentPage,
    response_model_exclude_unset=True,
    summary="list service lists, oldest first",
)
def list_commitments(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    compound_id: UUID | None = None,
    status: Annotated[list[StatusCode] | None, Query()] = None,
    party_id: Annotated[UUID | None, Query(description="the provider's party id")] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
    format: Annotated[Format, Query(description="csv: every matching list")] = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    compound_ids = _compounds(actor, compound_id)
    if format == "csv":
        every = _all_rows(services, compound_ids, status=status, party_id=party_id)
        shown = (commitment_for_reading(r, full=False) for r in every)
        return export_response(
            shown,
            COMMITMENT_COLUMNS,
            "commitments.csv",
            lang=lang,
            zh=COMMITMENT_ZH,
            services=services,
        )
    rows, next_cursor = _rows(
        services, compound_ids, status=status, party_id=party_id, limit=limit, cursor=cursor
    )
    return s.Page(
        items=[commitment_for_reading(r, full=False) for r in rows], next_cursor=next_cursor
    )


def _fulfilment(services: Services, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    needs = services.views.needs_citing(row["id"])
    return fulfilment(row, needs, services.app.deadline_policy.calendar, now)


# Declared before the routes with an id, so that "fulfilment" is never read as one.
@router.get(
    "/commitments/fulfilment",
    response_model=rs.ProviderFulfilment,
    response_model_exclude_unset=True,
    summary="a provider's fulfilment (履约情况) across its lists",
)
def provider_fulfilment_figures(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    party_id: Annotated[UUID, Query(description="the provider's party id")],
    compound_id: UUID | None = None,
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    now = datetime.now(UTC)
    rows = _all_rows(services, _compounds(actor, compound_id), party_id=party_id)
    lists = [_fulfilment(services, row, now) for row in rows]
    return provider_fulfilment(str(party_id), lists, now)


@router.get(
    "/commitments/{commitment_id}",
    response_model=rs.Commitment,
    response_model_exclude_unset=True,
    summary="a service list's current state",
)
def get_commitment(
    commitment_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    return commitment_for_reading(visible_commitment(services, actor, commitment_id))


@router.get(
    "/commitments/{commitment_id}/history",
    response_model=rs.CommitmentHistory,
    response_model_exclude_unset=True,
    summary="the list's audit trail, every event in order",
)
def commitment_history(
    commitment_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    after: After = None,
    format: Format = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    visible_commitment(services, actor, commitment_id)
    events = services.views.iter_history(str(commitment_id))
    if format == "csv":
        filename = f"commitment-{commitment_id}-history.csv"
        return export_response(
            events, HISTORY_COLUMNS, filename, lang=lang, zh=HISTORY_ZH, services=services
        )
    return json_response({"commitment_id": str(commitment_id)}, "events", events)


@router.get(
    "/commitments/{commitment_id}/versions/{list_version}",
    response_model=rs.CommitmentVersion,
    response_model_exclude_unset=True,
    summary="one version of the list, with its items, confirmations and opinions",
)
def commitment_version(
    commitment_id: UUID,
    list_version: Annotated[int, Path(ge=1, le=100000)],
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    row = visible_commitment(services, actor, commitment_id)
    if list_version > len(row["versions"]):
        raise NotFound(
            f"the list has no version {list_version}; it has {len(row['versions'])}"
        )
    return {
        "commitment_id": row["id"],
        "title": row["title"],
        **_version_for_reading(row["versions"][list_version - 1], with_items=True),
    }


@router.get(
    "/commitments/{commitment_id}/fulfilment",
    response_model=rs.CommitmentFulfilment,
    response_model_exclude_unset=True,
    summary="fulfilment per item (履约情况): inspections, needs and the rate",
)
def commitment_fulfilment(
    commitment_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("commitment.read"))],
    after: After = None,
    format: Format = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    row = visible_commitment(services, actor, commitment_id)
    figures = _fulfilment(services, row, datetime.now(UTC))
    if format == "csv":
        rows = ({"commitment_id": row["id"], **item} for item in figures["items"])
        filename = f"commitment-{commitment_id}-fulfilment.csv"
        return export_response(
            rows, FULFILMENT_COLUMNS, filename, lang=lang, zh=FULFILMENT_ZH, services=services
        )
    return figures
