"""Signing in and out, and the console's static files."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response

from api.console.common import (
    HERE,
    PRE_COOKIE,
    Console,
    Form,
    console_session,
    idle,
    page_router,
    same,
    sessions,
)
from api.console.problems import Problem, bad_token
from api.deps import SESSION_COOKIE, public

router = page_router()

STATIC_FILES = {"console.css": "text/css; charset=utf-8"}
MAX_TOKEN_LENGTH = 200


def next_path(target: str | None) -> str:
    """Only a path inside the console: never an address elsewhere."""
    if (
        not target
        or not target.startswith("/console")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 for ch in target)
    ):
        return "/console"
    return target


def _sign_in_page(console: Console, problem: Problem | None = None) -> Response:
    pre = secrets.token_urlsafe(24)
    console.set_cookie(PRE_COOKIE, pre, max_age=3600)
    target = next_path(console.request.query_params.get("next"))
    return console.render(
        "sign_in.html",
        status=problem.status if problem else 200,
        problem=problem,
        pre=pre,
        next_path=target,
    )


@router.get("/sign-in")
def sign_in_form(console: Annotated[Console, Depends(console_session("public"))]) -> Response:
    return _sign_in_page(console)


@router.post("/sign-in")
def sign_in(
    console: Annotated[Console, Depends(console_session("public"))], form: Form
) -> Response:
    console.page_path = "/console/sign-in"
    if not same(console.request.cookies.get(PRE_COOKIE), form.get("csrf")):
        return _sign_in_page(console, console.expired_form())
    token = form.get("token", "").strip()
    session_id = None
    if token and len(token) <= MAX_TOKEN_LENGTH:
        services = console.services
        if services.credentials.authenticate(token) is not None:
            held = sessions(services)
            held.sweep(idle(services))
            # None when the credential was revoked since the line above.
            session_id = held.start(token)
    if session_id is None:
        return _sign_in_page(console, bad_token())
    if console.session_id is not None:  # signing in again: the old session goes
        sessions(console.services).end(console.session_id)
    console.set_cookie(SESSION_COOKIE, session_id)
    console.set_cookie(PRE_COOKIE, "")
    return console.redirect(next_path(form.get("next")))


@router.post("/sign-out")
def sign_out(
    console: Annotated[Console, Depends(console_session("public"))], form: Form
) -> Response:
    if console.actor is not None and not console.csrf_ok(form):
        return console.fail(console.expired_form())
    if console.session_id is not None:
        sessions(console.services).end(console.session_id)
    console.set_cookie(SESSION_COOKIE, "")
    return console.redirect("/console/sign-in")


@router.get("/static/{name}", dependencies=[Depends(public)])
def static_file(name: str) -> Response:
    if name not in STATIC_FILES:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(
        (HERE / "static" / name).read_bytes(),
        media_type=STATIC_FILES[name],
        headers={"Cache-Control": "public, max-age=3600"},
    )
