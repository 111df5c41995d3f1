"""The public notice board (公示栏): a compound's page and JSON, without a
credential, at an unguessable link that staff rotate.

* ``GET /board/{token}``: the page (Chinese, phone first);
  ``GET /board/{token}/data``: the same as JSON. An unknown or replaced token
  answers exactly as a path that does not exist (404 ``Not Found``).
* ``POST /compounds/{id}/board-link``: a new link (the old one stops
  working); ``GET /compounds/{id}/board-link``: the current link and every
  rotation (who, role, when). Community staff and the party branch of the
  compound (``board.link``).

The token is kept in a table of its own (infrastructure/board_links.py),
never in the event log. The board's content is read from the views
(application/board.py) and kept for ``CACHE_SECONDS`` while the views stand
still, so that a link passed around does not recompute it per visit.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api import board_schemas as bs
from api.board import CSP, STYLESHEET, render
from api.deps import ServicesDep, public, requires
from api.routing import Route
from application.base import request_key
from application.board import board, board_link_state, rotate_board_link
from domain.actor import Actor
from infrastructure.store import Services

router = APIRouter(route_class=Route)

CACHE_SECONDS = 30.0
MAX_CACHED = 256
# What any path that does not exist answers: a dead link tells no more.
NOT_FOUND = {"detail": "Not Found"}


def _not_found() -> JSONResponse:
    return JSONResponse(NOT_FOUND, status_code=404)


class _Cache:
    """Boards by compound, each with the views' position it was read at."""

    def __init__(self) -> None:
        self._boards: dict[UUID, tuple[float, int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, services: Services, compound_id: UUID) -> dict[str, Any] | None:
        position = services.updater.position
        now = time.monotonic()
        with self._lock:
            kept = self._boards.get(compound_id)
        if kept is not None and kept[1] == position and now - kept[0] < CACHE_SECONDS:
            return kept[2]
        found = board(
            services.views,
            compound_id,
            now=datetime.now(UTC),
            zone=ZoneInfo(services.settings.timezone),
            calendar=services.app.deadline_policy.calendar,
        )
        if found is None:
            return None
        found = bs.Board.model_validate(found).model_dump(mode="json", by_alias=True)
        with self._lock:
            if len(self._boards) >= MAX_CACHED:
                self._boards.clear()
            self._boards[compound_id] = (now, position, found)
        return found


def _cache(request: Request) -> _Cache:
    state = request.app.state
    cache = getattr(state, "board_cache", None)
    if cache is None:
        cache = state.board_cache = _Cache()
    return cache  # type: ignore[no-any-return]


def _public_board(request: Request, services: Services, token: str) -> dict[str, Any] | None:
    compound_id = services.board_links.compound_of(token)
    if compound_id is None:
        return None
    return _cache(request).get(services, compound_id)


# ----- public -----------------------------------------------------------------------------


@router.get("/board/static/board.css", include_in_schema=False)
def board_stylesheet(_: Annotated[None, Depends(public)]) -> Response:
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(
    "/board/{token}/data",
    response_model=bs.Board,
    response_model_exclude_unset=True,
    tags=["public notice board"],
    summary="a compound's public notice board (公示栏), without a credential",
    responses={404: {"description": "no board at this link (unknown, or replaced by a newer link)"}},
)
def board_data(
    token: str, request: Request, services: ServicesDep, _: Annotated[None, Depends(public)]
) -> Any:
    """Service lists in effect with their items, standards and this month's
    fulfilment; consultations' outcomes (participation and approval by heads
    and by area, as exact fractions); the rates of each party by month;
    household-visit coverage by building; co-building units' offers.
    Nothing personal: no names of residents or owners, no households, no
    needs' text, no votes' choices, no ids."""
    found = _public_board(request, services, token)
    if found is None:
        return _not_found()
    return found


@router.get("/board/{token}", include_in_schema=False)
def board_page(
    token: str, request: Request, services: ServicesDep, _: Annotated[None, Depends(public)]
) -> Response:
    found = _public_board(request, services, token)
    if found is None:
        return _not_found()
    root = request.scope.get("root_path", "")
    return HTMLResponse(
        render(found, data_path=f"{root}/board/{token}/data"),
        headers={"Content-Security-Policy": CSP, "X-Robots-Tag": "noindex, nofollow"},
    )


# ----- the link (staff) -----------------------------------------------------------------


def _link(request: Request, compound_id: UUID, link: Any) -> bs.BoardLink:
    root = request.scope.get("root_path", "")
    path = f"{root}/board/{link.token}"
    return bs.BoardLink(
        compound_id=str(compound_id),
        path=path,
        url=str(request.base_url).rstrip("/") + f"/board/{link.token}",
        data_path=f"{path}/data",
        created_at=link.created_at,
        created_by=link.created_by,
        created_by_role=link.created_by_role,
        replaced_links=link.replaced,
    )


@router.post(
    "/compounds/{compound_id}/board-link",
    status_code=201,
    response_model=bs.BoardLink,
    tags=["public notice board"],
    summary="make a new link to the compound's public notice board; the old one stops working",
)
def rotate_link(
    compound_id: UUID,
    request: Request,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("board.link"))],
) -> bs.BoardLink:
    """The new link is answered here and by ``GET /compounds/{id}/board-link``;
    from now on the old one answers 404. Who made it, as what, and when is
    kept. With an Idempotency-Key already used for this compound, nothing is
    made again and the compound's current link is answered."""
    link = rotate_board_link(services.app, services.board_links, actor, compound_id, request_key.get())
    return _link(request, compound_id, link)


@router.get(
    "/compounds/{compound_id}/board-link",
    response_model=bs.BoardLinkState,
    response_model_exclude_unset=True,
    tags=["public notice board"],
    summary="the compound's current public-board link and its rotations",
)
def read_link(
    compound_id: UUID,
    request: Request,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("board.link"))],
) -> bs.BoardLinkState:
    current, rotations = board_link_state(services.app, services.board_links, actor, compound_id)
    return bs.BoardLinkState(
        compound_id=str(compound_id),
        link=None if current is None else _link(request, compound_id, current),
        rotations=[bs.BoardRotation(**vars(r)) for r in rotations],
    )
