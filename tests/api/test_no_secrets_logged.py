"""Tokens are never logged or stored, and every response carries the security headers.

* Every route is called with a real token, a forged, a revoked one and
  malformed Authorization headers (the console's pages with real sessions)
  while every logger records at DEBUG: no record, no traceback and no answer
  contains a token. Nor does the store (only SHA-256 hashes).
* The real server (``linli serve``, uvicorn's access log included) and
  ``linli token create``, which prints the token once, and nowhere else.
* The security headers are on every answer of every route: 2xx, 401, 403,
  404, 405, 413, 422, 503 and the 500 of an unhandled error.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import public
from api.security import HEADERS as SECURITY_HEADERS
from application.access import PERMISSIONS
from infrastructure.store import Services
from tests.api.test_access_matrix import _sign_in, api_routes, route_actions
from tests.serving import free_port, wait_healthy
from tests.world import World

MAIN = Path(__file__).resolve().parents[2]
MEMBER_BY_ROLE = {
    "community_staff": "staff",
    "party_branch": "party_branch",
    "owners_committee": "owners_committee",
    "property_company": "property_company",
    "co_building_unit": "co_building_unit",
    "grid_worker": "grid_worker",
    "supervisor": "supervisor",
    "resident": "resident",
    "admin": "admin",
}
CLIENT_SIDE_LOGGERS = ("httpx", "httpcore")  # the test client's own, not the app's


def _routes() -> list[tuple[str, str, set[str]]]:
    """(method, path template, actions) of every route of the app."""
    return [
        (method, route.path, route_actions(route.dependant))
        for route in api_routes(create_app())
        for method in sorted(route.methods)
    ]


def _fill(template: str, ids: dict[str, str]) -> str:
    path = template.replace("{list_version}", "1").replace("{number}", "1")
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def _permitted_and_refused(actions: set[str]) -> tuple[str | None, str | None]:
    """A member whose role may call the route, and one whose role may not."""
    actions = actions - {"public"}
    if not actions:
        return None, None
    (action,) = actions
    roles = {str(r) for r in PERMISSIONS[action]}
    permitted = next((m for r, m in MEMBER_BY_ROLE.items() if r in roles), None)
    refused = next((m for r, m in MEMBER_BY_ROLE.items() if r not in roles), None)
    return permitted, refused


def _ids(world: World) -> dict[str, str]:
    """Real ids in the world's compound (a need, a list, a consultation)."""
    app = world.services.app
    need = app.register_need(
        world.actors["grid_worker"],
        compound_id=world.compound_id,
        source="household_visit",
        title="楼道灯",
        description="不亮",
    ).id
    item = {"number": 1, "title": "保洁", "standard": "每日", "frequency": "每日", "time_limit": "24h"}
    commitment = app.draft_commitment(
        world.actors["party_branch"],
        compound_id=world.compound_id,
        provider_party_id=world.parties["property_company"],
        title="清单",
        items=[item],
    ).id
    consultation = app.propose_consultation(
        world.actors["staff"], compound_id=world.compound_id, topic="议题"
    ).id
    return {
        "need_id": str(need),
        "commitment_id": str(commitment),
        "consultation_id": str(consultation),
        "compound_id": str(world.compound_id),
    }


# ----- tokens in the logs ----------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, recorded; caplog puts the levels back afterwards."""
    caplog.set_level(logging.DEBUG)  # the root logger, to which the others propagate
    for name in (
        "uvicorn", "fastapi", "starlette", "api", "application", "infrastructure",
        "eventsourcing", "psycopg",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        if record.name.split(".")[0] in CLIENT_SIDE_LOGGERS:
            continue
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            texts.append(record.exc_text)
        texts.append(repr(record.__dict__))
    return texts


def test_no_token_reaches_a_log_record(
    client: TestClient, world: World, debug_logs: pytest.LogCaptureFixture
) -> None:
    """Every route, as a permitted and a refused member, with a forged, a
    revoked and malformed tokens; the console with real sessions."""
    ids = _ids(world)
    forged = "linli_" + "F0rgedT0kenThatNobodyIssued" * 2
    revoked = world.services.credentials.issue(
        person_id=world.services.people.register("离职员工", created_by="test").id, role=world.actors["staff"].role, compound_ids=[world.compound_id]
    )
    world.services.credentials.revoke(token=revoked.token)
    secrets = {*world.tokens.values(), forged, revoked.token}
    sessions = {m: _sign_in(client, world.tokens[m]) for m in MEMBER_BY_ROLE.values()}
    sessions["forged"] = (f"linli_console={forged}", "x")
    answered = set()
    for method, template, actions in _routes():
        permitted, refused = _permitted_and_refused(actions)
        path = _fill(template, ids)
        callers = [m for m in (permitted, refused) if m] or ["staff"]
        client.cookies.clear()
        if template.startswith("/console"):
            calls = []
            for who in [*callers, "forged"]:
                cookie, csrf = sessions[who]
                calls.append(({"Cookie": cookie}, {"csrf": csrf, "note": "x"}, True))
            echoed: set[str] = set()
        else:
            calls = [(world.headers(m), None, False) for m in callers] + [
                ({"Authorization": f"Bearer {forged}"}, None, False),
                ({"Authorization": f"Bearer {revoked.token}"}, None, False),
                ({"Authorization": f"bearer  {world.tokens['staff']}"}, None, False),
                ({"Authorization": f"Token {world.tokens['staff']}"}, None, False),
                ({"Authorization": world.tokens["staff"]}, None, False),
            ]
            # A 422 shows a client the body it sent (test_input_limits.py::
            # test_a_422_does_not_echo_a_large_field_back): here, the staff token.
            echoed = {world.tokens["staff"]}
        for headers, form, console in calls:
            if console:
                response = client.request(
                    method, path, data=form if method == "POST" else None, headers=headers,
                    follow_redirects=False,
                )
            else:
                body = {"linli_no_such_field": world.tokens["staff"]} if method == "POST" else None
                response = client.request(method, path, json=body, headers=headers, params={"after": 0})
            answered.add(response.status_code)
            assert response.status_code < 500, (method, path, response.text[:200])
            for secret in secrets - echoed:
                assert secret not in response.text, f"{method} {path} shows a token"
            for cookie in response.headers.get_list("set-cookie"):
                assert not any(secret in cookie for secret in secrets) or "/console/sign-in" in path
    assert {200, 303, 401, 403, 422} <= answered
    logged = "\n".join(_logged(debug_logs))
    leaked = [name for name, token in world.tokens.items() if token in logged]
    assert leaked == [], f"tokens of {leaked} appear in the logs"
    assert forged not in logged and revoked.token not in logged


def test_no_token_is_stored_only_its_hash(client: TestClient, world: World, store: str) -> None:
    """The store holds each credential's SHA-256 hash, never the token."""
    for member in ("staff", "resident", "supervisor"):
        client.get("/needs", headers=world.headers(member))
        client.post(
            "/needs",
            json={
                "compound_id": str(world.compound_id),
                "source": "self_report" if member == "resident" else "household_visit",
                "title": "t",
                "description": "d",
            },
            headers={**world.headers(member), "Idempotency-Key": f"key-{member}"},
        )
    everything = _dump_store(world.services, store)
    assert everything, "the dump found nothing"
    leaked = [name for name, token in world.tokens.items() if token.encode() in everything]
    assert leaked == []
    # Neither the part after the prefix (in case it is stored separately).
    tails = [name for name, token in world.tokens.items() if token.split("_", 1)[1].encode() in everything]
    assert tails == []


def _dump_store(services: Services, store: str) -> bytes:
    settings = services.settings
    if store == "sqlite":
        return Path(settings.sqlite_path).read_bytes() + b"".join(
            p.read_bytes() for p in Path(settings.sqlite_path).parent.glob("*-wal")
        )
    import psycopg

    with psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        user=settings.postgres_user,
        password=settings.postgres_password,
        dbname=settings.postgres_db,
        autocommit=True,
    ) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [settings.postgres_schema],
        ).fetchall()
        chunks = []
        for (table,) in tables:
            rows = conn.execute(
                f'SELECT t::text FROM "{settings.postgres_schema}"."{table}" AS t'
            ).fetchall()
            chunks += [row[0].encode() for row in rows]
    return b"\n".join(chunks)


# ----- the real server and the command line ------------------------------------------------------


def test_the_server_and_the_cli_print_a_token_once_and_log_it_nowhere(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LINLI_STORE": "sqlite",
        "LINLI_SQLITE_PATH": str(tmp_path / "linli.sqlite3"),
        "LINLI_HOST": "127.0.0.1",
        "LINLI_PORT": str(port),
        "LINLI_PROJECTION_POLL_INTERVAL": "0.05",
    }
    linli = [sys.executable, "-m", "api.cli"]
    created = subprocess.run(
        [*linli, "token", "create", "--actor", "王芳", "--role", "community_staff", "--all-compounds"],
        cwd=MAIN, env=env, capture_output=True, text=True, timeout=60, check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("linli_")
    assert (created.stdout + created.stderr).count(token) == 1, "the token is printed once"

    server_log = tmp_path / "server.log"
    with server_log.open("w") as log:
        server = subprocess.Popen(
            [*linli, "serve"], cwd=MAIN, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base, server, server_log, 30)
            auth = {"Authorization": f"Bearer {token}"}
            assert httpx.get(f"{base}/needs", headers=auth).status_code == 200
            assert httpx.get(f"{base}/needs/{uuid.uuid4()}", headers=auth).status_code == 404
            assert httpx.post(f"{base}/needs", json={"x": token}, headers=auth).status_code == 422
            assert httpx.get(f"{base}/needs", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
            assert httpx.get(f"{base}/needs", headers={"Authorization": token}).status_code == 401
            # A month out of range (test_schema_fuzz.py::
            # test_a_month_out_of_range_is_a_422_not_a_500) is refused, not a 500.
            response = httpx.get(f"{base}/stats", params={"month_from": "0000-01"}, headers=auth)
            assert response.status_code == 422, response.text
            # The console: the token goes in once, in the sign-in form, and is
            # kept in a cookie; no page shows it.
            with httpx.Client(base_url=base, follow_redirects=True) as browser:
                pre = browser.get("/console/sign-in").cookies["linli_console_pre"]
                signed_in = browser.post(
                    "/console/sign-in", data={"csrf": pre, "token": token, "next": "/console/needs"}
                )
                assert signed_in.status_code == 200 and signed_in.url.path == "/console/needs"
                assert token not in signed_in.text
                assert token not in browser.get("/console").text
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
    logged = server_log.read_text()
    assert "GET /needs" in logged, "uvicorn's access log is on: " + logged[-500:]
    assert token not in logged


# ----- security headers -----------------------------------------------------------------------


def _secured(response: Any) -> list[str]:
    """What is missing or wrong among the security headers of ``response``."""
    wrong = [
        f"{name}: {response.headers.get(name)!r}"
        for name, value in SECURITY_HEADERS.items()
        if response.headers.get(name) != value
    ]
    return wrong


def test_every_answer_of_every_route_carries_the_security_headers(
    client: TestClient, world: World
) -> None:
    """For each route: without a token; as a member it admits, on a real id,
    an id nobody has and one that is not an id; as a member it refuses; and
    with a method it does not take. The console with real sessions."""
    ids = _ids(world)
    position = world.services.app.recorder.max_notification_id()
    assert world.services.updater.wait_for(position, 10)
    sessions = {m: _sign_in(client, world.tokens[m]) for m in MEMBER_BY_ROLE.values()}
    failures = []
    seen: dict[int, int] = {}

    def call(method: str, path: str, who: str | None) -> None:
        client.cookies.clear()
        if path.startswith("/console"):
            headers, form = {}, {}
            if who:
                headers["Cookie"], form["csrf"] = sessions[who]
            response = client.request(
                method, path, headers=headers, data=form if method == "POST" else None,
                follow_redirects=False,
            )
        else:
            headers = world.headers(who) if who else {}
            response = client.request(method, path, headers=headers, json={} if method == "POST" else None)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if wrong := _secured(response):
            failures.append(f"{method} {path} -> {response.status_code}: {wrong}")

    for method, template, actions in _routes():
        permitted, refused = _permitted_and_refused(actions)
        call(method, _fill(template, ids), None)
        if permitted:
            call(method, _fill(template, ids), permitted)
            call(method, _fill(template, {k: str(uuid.uuid4()) for k in ids}), permitted)
            call(method, _fill(template, {k: "not-an-id" for k in ids}), permitted)
        if refused:
            call(method, _fill(template, ids), refused)
        call("DELETE", _fill(template, ids), permitted or "staff")
    assert failures == [], "\n".join(failures)
    assert {200, 303, 401, 403, 404, 405, 422} <= set(seen), seen


def test_the_other_answers_carry_them_too(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = world.headers("staff")
    cases = {
        "unknown path": client.get("/no/such/path", headers=staff),
        "413": client.post("/needs", content=b"x" * 1_100_000, headers={**staff, "Content-Type": "application/json"}),
        "400 not JSON": client.post("/needs", content=b"\xff", headers={**staff, "Content-Type": "application/json"}),
        "csv": client.get("/needs", params={"format": "csv"}, headers=staff),
        "docs": client.get("/docs"),
        "openapi": client.get("/openapi.json"),
        "409": _conflict(client, world),
        "412": _stale(client, world),
    }
    monkeypatch.setattr(world.services.settings, "view_wait_timeout", 0.1)
    cases["503"] = client.get("/needs", params={"after": 10**9}, headers=staff)
    statuses = {name: response.status_code for name, response in cases.items()}
    assert statuses == {
        "unknown path": 404, "413": 413, "400 not JSON": 400, "csv": 200, "docs": 200,
        "openapi": 200, "409": 409, "412": 412, "503": 503,
    }
    wrong = {name: _secured(r) for name, r in cases.items() if _secured(r)}
    assert wrong == {}
    assert cases["503"].headers["Retry-After"]


def _register(client: TestClient, world: World) -> str:
    body = {"compound_id": str(world.compound_id), "source": "hotline", "title": "t", "description": "d"}
    return client.post("/needs", json=body, headers=world.headers("grid_worker")).json()["id"]


def _conflict(client: TestClient, world: World) -> Any:
    """Resolving a need nobody has accepted: an illegal transition."""
    need = _register(client, world)
    return client.post(f"/needs/{need}/resolve", json={"outcome": "x"}, headers=world.headers("party_branch"))


def _stale(client: TestClient, world: World) -> Any:
    """A command conditional on a version the need does not have."""
    need = _register(client, world)
    return client.post(
        f"/needs/{need}/accept", json={"priority": "low"}, headers={**world.headers("staff"), "If-Match": "7"}
    )


def test_an_unhandled_error_answers_with_the_security_headers(services: Services) -> None:
    """An unhandled exception is answered by Starlette's ServerErrorMiddleware,
    outside the middleware that sets the security headers: a 500 had none
    (found here; api/errors.py now sets them on its 500)."""
    app = create_app(services=services)

    @app.get("/test-only-boom", dependencies=[Depends(public)])
    def boom() -> None:
        raise RuntimeError("an error nobody mapped")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-only-boom")
    assert response.status_code == 500
    assert _secured(response) == []
