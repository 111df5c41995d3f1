"""The console's server-side sessions (infrastructure/console_sessions.py), on
SQLite and PostgreSQL: the cookie holds a session id, never the token, and
the database only its hash; a session ends at sign-out, when its credential
is revoked, and after the idle time; the CSRF token derives from the session."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from application.readmodel import utc_text
from infrastructure.console_sessions import ConsoleSessions, session_hash
from infrastructure.credentials import token_hash
from infrastructure.settings import Settings
from tests.api.test_console_pages import Browser, app, browser  # noqa: F401  (app: a fixture)
from tests.world import World

COOKIE = "linli_console"
NOBODY = "00000000-0000-0000-0000-000000000000"  # a need id nobody has


def sessions_table(world: World) -> list[dict[str, Any]]:
    views = world.services.views
    with views.reading() as c:
        c.execute(views.sql("SELECT * FROM {console_sessions} ORDER BY created_at"))
        return [dict(row) for row in c.fetchall()]


def last_seen(world: World, session_id: str) -> str | None:
    rows = [r for r in sessions_table(world) if r["session_hash"] == session_hash(session_id)]
    return rows[0]["last_seen_at"] if rows else None


def age(world: World, session_id: str, by: timedelta) -> None:
    """As if the session had last been used ``by`` ago."""
    views = world.services.views
    with views.writing() as c:
        c.execute(
            views.sql("UPDATE {console_sessions} SET last_seen_at = ? WHERE session_hash = ?"),
            [utc_text(datetime.now(UTC) - by), session_hash(session_id)],
        )


def session_of(b: Browser) -> str:
    return b.client.cookies[COOKIE]


def replay(app: FastAPI, world: World, session_id: str, path: str = "/console/needs") -> Any:
    """``path`` from another browser that holds only the given session cookie."""
    other = Browser(app, world)
    other.client.cookies.set(COOKIE, session_id, path="/console")
    return other.get(path)


def signed_out(page: Any) -> bool:
    return page.status_code == 303 and page.headers["location"].startswith("/console/sign-in")


def test_the_cookie_holds_a_session_id_and_the_database_only_its_hash(
    app: FastAPI, world: World
) -> None:
    token = world.tokens["staff"]
    b = browser(app, world)
    done = b.sign_in("staff", "/console/needs")
    assert done.status_code == 303 and done.headers["location"] == "/console/needs"
    set_cookies = done.headers.get_list("set-cookie")
    assert all(token not in header for header in set_cookies)
    assert not [h for h in set_cookies if h.startswith("linli_console_sid=")]  # no SID any more
    session_id = session_of(b)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id)  # secrets.token_urlsafe(32)
    assert token not in session_id and token_hash(token) not in session_id

    [row] = sessions_table(world)
    assert row["session_hash"] == hashlib.sha256(session_id.encode()).hexdigest()
    assert row["token_hash"] == token_hash(token)
    assert row["created_at"] == row["last_seen_at"]
    stored = " ".join(str(v) for v in row.values())
    assert session_id not in stored and token not in stored

    # The session works: pages, and a command form's CSRF token.
    page = b.get("/console/needs")
    assert page.status_code == 200 and token not in page.text and session_id not in page.text
    csrf = b.csrf()
    assert len(csrf) == 64 and session_id not in csrf
    assert b.post("/console/sign-out", {"csrf": csrf}, csrf=False).status_code == 303


def test_each_session_has_its_own_csrf_token(app: FastAPI, world: World) -> None:
    first, second = browser(app, world, "staff"), browser(app, world, "staff")
    assert session_of(first) != session_of(second)
    assert first.csrf() != second.csrf()
    assert first.csrf() == first.csrf()  # stable for the session's life
    # One session's token is no good in another session.
    refused = second.post("/console/sign-out", {"csrf": first.csrf()}, csrf=False)
    assert refused.status_code == 403
    assert second.get("/console").status_code == 200


def test_revoking_the_credential_ends_its_sessions(app: FastAPI, world: World) -> None:
    people, credentials = world.services.people, world.services.credentials
    person = people.register("会话测试员", created_by="test")
    issued = credentials.issue(
        person_id=person.id, role=world.actors["staff"].role, compound_ids=[world.compound_id]
    )
    world.tokens["temp"] = issued.token
    one, two = browser(app, world, "temp"), browser(app, world, "temp")
    other = browser(app, world, "staff")  # another credential's session stays
    for b in (one, two, other):
        assert b.get("/console/needs").status_code == 200
    cookie = session_of(one)

    assert credentials.revoke(token=issued.token) == 1
    for b in (one, two):
        page = b.get("/console/needs")
        assert signed_out(page), page.text[:300]
        assert 'class="need' not in page.text
    assert signed_out(replay(app, world, cookie))
    assert signed_out(one.post(f"/console/needs/{NOBODY}/accept", {}, csrf=False))
    assert other.get("/console/needs").status_code == 200
    # Nor can the revoked token start a new session.
    assert Browser(app, world).sign_in("temp").status_code == 401
    # The next sign-in sweeps the revoked credential's sessions away.
    browser(app, world, "supervisor")
    assert {r["token_hash"] for r in sessions_table(world)} == {
        token_hash(world.tokens["staff"]),
        token_hash(world.tokens["supervisor"]),
    }


def test_an_idle_session_expires(
    app: FastAPI, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert world.services.settings.console_session_idle_minutes == 30  # the default
    b = browser(app, world, "staff")
    session_id = session_of(b)
    age(world, session_id, timedelta(minutes=29))
    assert b.get("/console/needs").status_code == 200  # used in time: lives on
    age(world, session_id, timedelta(minutes=30, seconds=1))
    page = b.get("/console/needs", status="reported")
    assert signed_out(page)
    assert page.headers["location"] == (
        "/console/sign-in?next=%2Fconsole%2Fneeds%3Fstatus%3Dreported"
    )
    assert last_seen(world, session_id) is None  # deleted when found idle
    assert signed_out(replay(app, world, session_id))

    # The idle time is the deployment's.
    monkeypatch.setattr(world.services.settings, "console_session_idle_minutes", 5)
    short = browser(app, world, "staff")
    age(world, session_of(short), timedelta(minutes=4, seconds=50))
    assert short.get("/console").status_code == 200
    age(world, session_of(short), timedelta(minutes=5, seconds=1))
    assert signed_out(short.get("/console"))


def test_using_a_session_keeps_it_alive_with_few_writes(app: FastAPI, world: World) -> None:
    b = browser(app, world, "staff")
    session_id = session_of(b)
    started = last_seen(world, session_id)
    for _ in range(3):
        assert b.get("/console/needs").status_code == 200
    assert last_seen(world, session_id) == started  # seen just now: not rewritten

    age(world, session_id, timedelta(minutes=20))
    aged = last_seen(world, session_id)
    before = utc_text(datetime.now(UTC))
    assert b.get("/console/needs").status_code == 200
    refreshed = last_seen(world, session_id)
    assert refreshed is not None and aged is not None and refreshed >= before > aged
    # Twenty more minutes later it still lives: the idle time counts from the last use.
    age(world, session_id, timedelta(minutes=20))
    assert b.get("/console/needs").status_code == 200


def test_sign_out_ends_the_session_on_the_server(app: FastAPI, world: World) -> None:
    b = browser(app, world, "staff")
    session_id, csrf = session_of(b), b.csrf()
    out = b.post("/console/sign-out", {"csrf": csrf}, csrf=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert any(h.startswith('linli_console=""') for h in out.headers.get_list("set-cookie"))
    assert last_seen(world, session_id) is None
    assert sessions_table(world) == []
    # The old cookie, replayed, is signed out; its CSRF token takes no command.
    assert signed_out(replay(app, world, session_id))
    thief = Browser(app, world)
    thief.client.cookies.set(COOKIE, session_id, path="/console")
    assert signed_out(thief.post(f"/console/needs/{NOBODY}/accept", {"csrf": csrf}, csrf=False))


def test_signing_in_again_replaces_the_browsers_session(app: FastAPI, world: World) -> None:
    b = browser(app, world, "staff")
    old = session_of(b)
    b.get("/console/sign-in")  # the sign-in form's value is in its cookie too
    again = b.client.post(
        "/console/sign-in",
        data={"token": world.tokens["supervisor"], "csrf": b.client.cookies["linli_console_pre"]},
    )
    assert again.status_code == 303
    new = session_of(b)
    assert new != old
    assert signed_out(replay(app, world, old))
    assert [r["token_hash"] for r in sessions_table(world)] == [
        token_hash(world.tokens["supervisor"])
    ]


@pytest.mark.parametrize(
    "cookie",
    [
        "",
        "nonsense",
        "x" * 43,
        "x" * 5000,
        "linli_" + "F0rged" * 7,
    ],
)
def test_an_unknown_or_malformed_cookie_is_signed_out(
    app: FastAPI, world: World, cookie: str
) -> None:
    assert signed_out(replay(app, world, cookie))


def test_a_bearer_token_in_the_cookie_is_no_session(app: FastAPI, world: World) -> None:
    """A browser still holding the old kind of cookie (the token itself) is signed out."""
    assert signed_out(replay(app, world, world.tokens["staff"]))


def test_console_sessions_directly(world: World) -> None:
    sessions = ConsoleSessions(world.services.views)
    idle = timedelta(minutes=30)
    assert sessions.start("linli_nope") is None
    session_id = sessions.start(world.tokens["grid_worker"])
    assert session_id is not None
    actor = sessions.actor(session_id, idle)
    assert actor == world.actors["grid_worker"]
    assert sessions.actor(session_id + "x", idle) is None
    assert sessions.actor(session_id, timedelta(0)) is None  # idle at once: gone
    assert sessions.actor(session_id, idle) is None
    kept = sessions.start(world.tokens["grid_worker"])
    assert kept is not None
    sessions.end(kept)
    sessions.end(kept)  # again: no error
    assert sessions.actor(kept, idle) is None
    sessions.end("")
    sessions.end("y" * 10_000)


def test_the_idle_time_is_configured_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_CONSOLE_SESSION_IDLE_MINUTES", "7.5")
    assert Settings().console_session_idle_minutes == 7.5
    for wrong in ("0", "-1", "1441", "soon"):
        monkeypatch.setenv("LINLI_CONSOLE_SESSION_IDLE_MINUTES", wrong)
        with pytest.raises(ValidationError):
            Settings()
