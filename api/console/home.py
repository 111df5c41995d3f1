"""The console's home page, and the page for an address that names none."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from api.console.common import Console, compounds, console_session, page, page_router
from api.console.problems import not_found_page

router = page_router()
# Included after every other page: what none of them answers.
fallback = page_router()


@router.get("")
@page
def home(console: Annotated[Console, Depends(console_session("compound.read"))]) -> Response:
    return console.render("home.html", compounds=compounds(console))


@fallback.get("/{rest:path}")
def no_such_page(
    rest: str, console: Annotated[Console, Depends(console_session("compound.read"))]
) -> Response:
    """A 404 page, signed in or not: it says nothing but that there is no such page."""
    if rest == "":  # "/console/": the home page
        return console.redirect("/console")
    return console.fail(not_found_page())
