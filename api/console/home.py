"""The console's home page (each role's to-do counts, linking to the lists
they count), and the page for an address that names none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import Response

from api.console.common import (
    Console,
    compounds,
    console_session,
    listing,
    page,
    page_router,
)
from api.console.problems import not_found_page
from api.routers import consultations as consultations_api
from api.routers import needs as needs_api

router = page_router()
# Included after every other page: what none of them answers.
fallback = page_router()

# Counting stops here: beyond it, a to-do shows "1000+".
COUNT_PAGES = 5
COUNT_PAGE_SIZE = 200


@dataclass(frozen=True)
class ToDo:
    """One count on the home page: what the role acts on, and the list it links to."""

    key: str  # its words (words.py) and its element id
    action: str  # the permission whose holders act on these
    filters: tuple[tuple[str, str], ...]  # the list's filters (needs, or consultations)
    own_party: bool = False  # only the needs assigned to the caller's own party
    raised_by_own_party: bool = False  # only the needs the caller's party raised (DESIGN 2.5)
    kind: str = "needs"  # or "consultations"
    urgent: bool = False


TODOS = (
    ToDo("todo_reported", "need.accept", (("status", "reported"),)),
    ToDo("todo_accepted", "need.assign", (("status", "accepted"),)),
    ToDo("todo_assigned", "need.acknowledge", (("status", "assigned"),), own_party=True),
    ToDo("todo_in_progress", "need.resolve", (("status", "in_progress"),), own_party=True),
    ToDo("todo_overdue", "need.assign", (("overdue", "true"),), urgent=True),
    ToDo("todo_overdue", "need.supervise", (("overdue", "true"),), urgent=True),
    ToDo("todo_overdue", "need.acknowledge", (("overdue", "true"),), own_party=True, urgent=True),
    # A provider evaluates the needs its party raised toward the compound, not those it resolved.
    ToDo("todo_resolved", "need.evaluate", (("status", "resolved"),), raised_by_own_party=True),
    ToDo("todo_resolved", "need.evaluate", (("status", "resolved"),)),
    ToDo("todo_proposed", "consultation.convene", (("status", "proposed"),), kind="consultations"),
)


def _count(console: Console, todo: ToDo, filters: dict[str, Any]) -> tuple[int, bool]:
    """How many the list shows (through the API's own queries), and whether more."""
    counted, cursor = 0, None
    for _ in range(COUNT_PAGES):
        if todo.kind == "needs":
            listed = needs_api.list_needs(
                services=console.services,
                actor=console.actor,  # type: ignore[arg-type]
                compound_id=None,
                status=[filters["status"]] if "status" in filters else None,
                category=None,
                priority=None,
                party_id=filters.get("party_id"),
                raised_by_party_id=filters.get("raised_by_party_id"),
                overdue=True if "overdue" in filters else None,
                reported_from=None,
                reported_to=None,
                q=None,
                cursor=cursor,
                limit=COUNT_PAGE_SIZE,
                after=None,
                format="json",
                lang="en",
            )
        else:
            listed = consultations_api.list_consultations(
                console.services,
                console.actor,  # type: ignore[arg-type]
                compound_id=None,
                status=[filters["status"]],
                cursor=cursor,
                limit=COUNT_PAGE_SIZE,
                after=None,
                format="json",
                lang="en",
            )
        items, cursor = listing(listed)
        counted += len(items)
        if cursor is None:
            return counted, False
    return counted, True


def todos(console: Console) -> list[dict[str, Any]]:
    """The signed-in role's to-do counts, each once (the first that applies)."""
    actor = console.actor
    assert actor is not None
    shown: list[dict[str, Any]] = []
    seen: set[str] = set()
    for todo in TODOS:
        if todo.key in seen or not console.may(todo.action):
            continue
        filters: dict[str, Any] = dict(todo.filters)
        if todo.own_party or todo.raised_by_own_party:
            if actor.party_id is None:
                continue
            filters["raised_by_party_id" if todo.raised_by_own_party else "party_id"] = actor.party_id
        seen.add(todo.key)
        count, more = _count(console, todo, filters)
        path = f"/console/{todo.kind}"
        shown.append(
            {
                "key": todo.key,
                "count": f"{count}+" if more else str(count),
                "none": count == 0,
                "urgent": todo.urgent and count > 0,
                "url": console.url(path, list(filters.items())),
            }
        )
    return shown


@router.get("")
@page
def home(console: Annotated[Console, Depends(console_session("compound.read"))]) -> Response:
    return console.render("home.html", compounds=compounds(console), todos=todos(console))


@fallback.get("/{rest:path}")
def no_such_page(
    rest: str, console: Annotated[Console, Depends(console_session("compound.read"))]
) -> Response:
    """A 404 page, signed in or not: it says nothing but that there is no such page."""
    if rest == "":  # "/console/": the home page
        return console.redirect("/console")
    return console.fail(not_found_page())
