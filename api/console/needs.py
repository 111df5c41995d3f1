"""Needs: the list (with its CSV and keyword search), the form to register a
need, the case page (with its trail's CSV) and the commands taken from the
case page (among them a supervisor's supervision notice, 督办)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends
from pydantic import Field
from fastapi.responses import Response

from api import schemas as s
from api.console import common
from api.console.common import (
    Console,
    Cursor,
    Form,
    Query,
    after,
    body,
    command,
    compounds,
    console_session,
    id_in_path,
    listing,
    page,
    page_router,
    parties,
    party_name,
    places,
    query,
    version,
)
from api.console.problems import Problem
from api.routers import commitments as commitments_api
from api.routers import consultations as consultations_api
from api.routers import needs as needs_api
from domain import need as need_rules
from domain.actor import PARTY_ROLES, Actor, Role
from domain.errors import NotFound
from domain.need import CATEGORIES, EVALUATIONS, PRIORITIES, SOURCES, NeedStatus

router = page_router()

NEED_COMMANDS = ("accept", "assign", "acknowledge", "resolve", "evaluate", "supervise")
REGISTER_FIELDS = (
    "compound_id",
    "source",
    "category",
    "title",
    "description",
    "building_id",
    "household_id",
    "location",
)
# A keyword for the list: as the API takes it (``GET /needs?q=``).
Keyword = Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
EVALUATE_FIELDS = ("evaluation", "comment", "resolved", "obtained_by")
# How an evaluation recorded for the reporter was obtained.
OBTAINED_BY: tuple[str, ...] = tuple(need_rules.OBTAINED_BY)


def _for_the_reporter(actor: Actor, need: dict[str, Any]) -> bool:
    """Whether ``actor`` evaluates on the reporter's behalf (as the domain decides:
    a resident speaks for themself, and so does whoever reported a need of no household)."""
    if actor.role == Role.RESIDENT:
        return False
    return not (actor.id == need["reporter_id"] and not need.get("household_id"))


class NeedFilters(Query):
    compound_id: UUID | None = None
    status: list[needs_api.StatusCode] | None = None  # type: ignore[valid-type]
    category: list[s.Category] | None = None  # type: ignore[valid-type]
    party_id: UUID | None = None
    raised_by_party_id: UUID | None = None  # needs a party raised toward the compound
    overdue: bool | None = None
    q: Keyword | None = None
    cursor: Cursor | None = None


def _filters(console: Console) -> NeedFilters:
    return query(console.request, NeedFilters, lists=("status", "category"))  # type: ignore[no-any-return]


def _list_needs(console: Console, filters: NeedFilters, *, csv: bool) -> Any:
    return needs_api.list_needs(
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        status=filters.status,
        category=filters.category,
        party_id=filters.party_id,
        raised_by_party_id=filters.raised_by_party_id,
        overdue=filters.overdue,
        reported_from=None,
        reported_to=None,
        q=filters.q,
        cursor=None if csv else filters.cursor,
        limit=common.PAGE_SIZE,
        after=None,
        format="csv" if csv else "json",
    )


def _filter_params(filters: NeedFilters) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("compound_id", filters.compound_id)]
    params += [("status", v) for v in filters.status or []]
    params += [("category", v) for v in filters.category or []]
    params += [("party_id", filters.party_id), ("raised_by_party_id", filters.raised_by_party_id)]
    if filters.overdue is not None:
        params.append(("overdue", "true" if filters.overdue else "false"))
    params.append(("q", filters.q))
    return params


@router.get("/needs")
@page
def needs_page(console: Annotated[Console, Depends(console_session("need.read"))]) -> Response:
    filters = _filters(console)
    needs, next_cursor = listing(_list_needs(console, filters, csv=False))
    base = _filter_params(filters)
    known = compounds(console)
    return console.render(
        "needs.html",
        places=places(known),
        filters=filters,
        needs=needs,
        next_url=console.url("/console/needs", [*base, ("cursor", next_cursor)])
        if next_cursor is not None
        else None,
        first_url=console.url("/console/needs", base) if filters.cursor is not None else None,
        csv_url=console.url("/console/needs.csv", base),
        compounds=known,
        parties=parties(console),
        statuses=[status.value for status in NeedStatus],
        categories=CATEGORIES,
    )


@router.get("/needs.csv")
@page
def needs_csv(console: Annotated[Console, Depends(console_session("need.read"))]) -> Response:
    return console.finish(_list_needs(console, _filters(console), csv=True))


# ----- registering a need (a hotline referral, 12345 转办, ...) ----------------------------


def register_page(
    console: Console, *, problem: Problem | None = None, form: dict[str, str] | None = None
) -> Response:
    """The form to register a need, with ``problem`` the refusal and the form as sent."""
    console.page_path = "/console/needs/new"
    known = compounds(console)
    if form is None and len(known) == 1:  # a fresh form: the only compound, chosen
        form = {"compound_id": known[0]["id"]}
    return console.render(
        "register.html",
        status=problem.status if problem else 200,
        compounds=known,
        places=places(known),
        sources=SOURCES,
        categories=CATEGORIES,
        problem=problem,
        form=form or {},
    )


@router.get("/needs/new")
@page
def register_form(
    console: Annotated[Console, Depends(console_session("need.register"))],
) -> Response:
    return register_page(console)


def _register_again(
    console: Console, kwargs: dict[str, Any], problem: Problem, form: dict[str, str]
) -> Response:
    return register_page(console, problem=problem, form=form)


@router.post("/needs")
@command(
    "register",
    lambda kwargs: "/console/needs/new",
    _register_again,
    then=lambda recorded: f"/console/needs/{recorded.id}",
)
def register(
    console: Annotated[Console, Depends(console_session("need.register"))],
    form: Form,
) -> s.Recorded:
    return needs_api.register_need(
        body=body(s.NeedRegister, form, REGISTER_FIELDS),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
    )


# ----- a need's case page ------------------------------------------------------------------


def need_page(
    console: Console,
    need_id: UUID | str,
    *,
    waiting: int | None = None,
    done: str | None = None,
    problem: Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    """The case page: its state, deadlines, trail and the commands the caller may
    take; with ``problem``, the refusal of one of them and its form as sent."""
    services, actor = console.services, console.actor
    assert actor is not None
    need_id = id_in_path("need_id", need_id)
    console.page_path = f"/console/needs/{need_id}"
    need = needs_api.get_need(need_id, services, actor, waiting)
    events = services.views.history(str(need_id))  # seen: get_need checked the caller
    known = parties(console)
    consultation = None
    if need["consultation_id"] and console.may("consultation.read"):
        try:
            consultation = consultations_api.get_consultation(
                UUID(need["consultation_id"]), services, actor, after=None
            )
        except NotFound:
            consultation = None
    commitment = None
    if need["commitment_id"] and console.may("commitment.read"):
        try:
            commitment = commitments_api.get_commitment(
                UUID(need["commitment_id"]), services, actor, after=None
            )
        except NotFound:
            commitment = None
    commands = [
        name
        for name in NEED_COMMANDS
        if name in need["allowed_commands"] and console.may(f"need.{name}")
    ]
    handlers = {
        p["id"]: p
        for p in known.values()
        if p["compound_id"] == need["compound_id"] and p["kind"] in PARTY_ROLES
    }
    citable: list[dict[str, Any]] = []
    if "assign" in commands and console.may("commitment.read"):
        in_effect = commitments_api.list_commitments(
            services,
            actor,
            compound_id=UUID(need["compound_id"]),
            status=["in_effect"],
            party_id=None,
            cursor=None,
            limit=200,
            after=None,
            format="json",
        )
        citable, _ = listing(in_effect)
    return console.render(
        "need.html",
        status=problem.status if problem else 200,
        need=need,
        reporter=services.people.names([need["reporter_id"]]).get(need["reporter_id"]),
        place=places([c for c in compounds(console) if c["id"] == need["compound_id"]]),
        events=events,
        parties=known,
        party_name=lambda pid: party_name(known, pid),
        consultation=consultation,
        commitment=commitment,
        commands=commands,
        handlers=handlers,
        citable=citable,
        priorities=PRIORITIES,
        categories=CATEGORIES,
        evaluations=EVALUATIONS,
        obtaining=OBTAINED_BY if _for_the_reporter(actor, need) else (),
        done=done if done in (*NEED_COMMANDS, "register") else None,
        problem=problem,
        form=form or {},
    )


@router.get("/needs/{need_id}")
@page
def need_case(
    need_id: str, console: Annotated[Console, Depends(console_session("need.read"))]
) -> Response:
    return need_page(
        console,
        need_id,
        waiting=after(console.request),
        done=console.request.query_params.get("done"),
    )


@router.get("/needs/{need_id}/history.csv")
@page
def need_history_csv(
    need_id: str, console: Annotated[Console, Depends(console_session("need.read"))]
) -> Response:
    trail = needs_api.need_history(
        id_in_path("need_id", need_id),
        console.services,
        console.actor,  # type: ignore[arg-type]
        after=None,
        format="csv",
    )
    return console.finish(trail)


# ----- commands from the case page ----------------------------------------------------


def _case_path(kwargs: dict[str, Any]) -> str:
    return f"/console/needs/{kwargs['need_id']}"


def _case_again(
    console: Console, kwargs: dict[str, Any], problem: Problem, form: dict[str, str]
) -> Response:
    return need_page(console, kwargs["need_id"], problem=problem, form=form)


def need_command(name: str) -> Any:
    """A command on the case page; a refusal shows the case page again."""
    return command(name, _case_path, _case_again)


@router.post("/needs/{need_id}/accept")
@need_command("accept")
def accept(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.accept"))],
    form: Form,
) -> s.Recorded:
    return needs_api.accept_need(
        need_id=id_in_path("need_id", need_id),
        body=body(s.NeedAccept, form, ("priority", "category")),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )


@router.post("/needs/{need_id}/assign")
@need_command("assign")
def assign(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.assign"))],
    form: Form,
) -> s.Recorded:
    fields = dict(form)
    cited = fields.pop("commitment", "")
    if cited:
        fields["commitment_id"] = cited
    return needs_api.assign_need(
        need_id=id_in_path("need_id", need_id),
        body=body(
            s.NeedAssign, fields, ("party_id", "reason", "commitment_id", "commitment_item_no")
        ),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )


@router.post("/needs/{need_id}/acknowledge")
@need_command("acknowledge")
def acknowledge(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.acknowledge"))],
    form: Form,
) -> s.Recorded:
    return needs_api.acknowledge_need(
        need_id=id_in_path("need_id", need_id),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )


@router.post("/needs/{need_id}/resolve")
@need_command("resolve")
def resolve(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.resolve"))],
    form: Form,
) -> s.Recorded:
    return needs_api.resolve_need(
        need_id=id_in_path("need_id", need_id),
        body=body(s.NeedResolve, form, ("outcome",)),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )


@router.post("/needs/{need_id}/evaluate")
@need_command("evaluate")
def evaluate(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.evaluate"))],
    form: Form,
) -> s.Recorded:
    return needs_api.evaluate_need(
        need_id=id_in_path("need_id", need_id),
        body=body(s.NeedEvaluate, form, EVALUATE_FIELDS),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )


@router.post("/needs/{need_id}/supervise")
@need_command("supervise")
def supervise(
    need_id: str,
    console: Annotated[Console, Depends(console_session("need.supervise"))],
    form: Form,
) -> s.Recorded:
    return needs_api.supervise_need(
        need_id=id_in_path("need_id", need_id),
        body=body(s.NeedSupervise, form, ("text",)),
        services=console.services,
        actor=console.actor,  # type: ignore[arg-type]
        version=version(form),
    )
