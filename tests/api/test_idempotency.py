"""Idempotency-Key on POST and conditional commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from application.base import RequestKey, request_key
from tests.api.client import Api
from tests.world import World


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    return Api(client, world)


def _body(world: World, title: str = "电梯停运") -> dict:
    return {
        "compound_id": str(world.compound_id),
        "source": "household_visit",
        "title": title,
        "description": "2号楼",
    }


def test_same_key_and_body_return_the_first_result_and_record_nothing_again(api: Api) -> None:
    headers = {"Idempotency-Key": "visit-2026-11-001"}
    first = api.post("grid_worker", "/needs", _body(api.world), headers=headers)
    assert first.status_code == 201
    position = api.log_position()
    again = api.post("grid_worker", "/needs", _body(api.world), headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert api.log_position() == position


def test_same_key_with_another_body_is_422(api: Api) -> None:
    headers = {"Idempotency-Key": "k-1"}
    api.ok("grid_worker", "/needs", _body(api.world), headers=headers)
    position = api.log_position()
    other = api.post("grid_worker", "/needs", _body(api.world, "别的"), headers=headers)
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert api.log_position() == position


def test_keys_are_scoped_to_the_caller(api: Api) -> None:
    headers = {"Idempotency-Key": "same"}
    mine = api.ok("grid_worker", "/needs", _body(api.world), headers=headers)
    theirs = api.ok("staff", "/needs", {**_body(api.world), "source": "hotline"}, headers=headers)
    assert mine["id"] != theirs["id"]


def test_a_keyed_change_is_applied_once(api: Api) -> None:
    need = api.to_in_progress()
    headers = {"Idempotency-Key": "note-1"}
    first = api.ok("property_company", f"/needs/{need}/notes", {"text": "已派人"}, headers=headers)
    second = api.ok("property_company", f"/needs/{need}/notes", {"text": "已派人"}, headers=headers)
    assert second == first
    view = api.get("staff", f"/needs/{need}", after=first["position"]).json()
    assert view["notes"] == 1
    # The key is for this command: on another need it is a different request.
    elsewhere = api.post(
        "property_company", f"/needs/{api.to_in_progress()}/notes", {"text": "已派人"}, headers=headers
    )
    assert elsewhere.status_code == 422


def test_added_parts_are_reported_again_on_replay(api: Api) -> None:
    headers = {"Idempotency-Key": "bldg-9"}
    path = f"/compounds/{api.world.compound_id}/buildings"
    first = api.ok("staff", path, {"name": "9号楼"}, headers=headers)
    again = api.ok("staff", path, {"name": "9号楼"}, headers=headers)
    assert again == first
    assert first["part_id"]


def test_concurrent_requests_with_one_key_have_one_effect(api: Api) -> None:
    headers = {"Idempotency-Key": "double-click"}
    need = api.to_in_progress()
    barrier = threading.Barrier(4)
    answers: list[dict] = []

    def send() -> None:
        barrier.wait()
        answers.append(
            api.post(
                "property_company", f"/needs/{need}/notes", {"text": "同时"}, headers=headers
            ).json()
        )

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a == answers[0] for a in answers), answers
    assert "id" in answers[0], answers
    stored = api.world.services.app.repository.get(UUID(answers[0]["id"]))
    assert stored.notes == 1


def test_a_replay_after_the_first_commit_finds_the_first_result(world: World) -> None:
    """As if the process died after committing: the retry runs the command again."""
    app = world.services.app
    token = request_key.set(RequestKey("crash-scope", "same-request"))
    try:
        first = app.register_need(
            world.actors["grid_worker"],
            compound_id=world.compound_id,
            source="household_visit",
            title="t",
            description="d",
        )
        position = app.recorder.max_notification_id()
        again = app.register_need(
            world.actors["grid_worker"],
            compound_id=world.compound_id,
            source="household_visit",
            title="t",
            description="d",
        )
    finally:
        request_key.reset(token)
    assert again == first
    assert app.recorder.max_notification_id() == position


def test_bad_keys_are_422(api: Api) -> None:
    response = api.post("grid_worker", "/needs", _body(api.world), headers={"Idempotency-Key": "x" * 201})
    assert response.status_code == 422


def test_keyed_consultation_commands_replay_their_first_result(api: Api) -> None:
    from tests.api.test_consultations_api import convene_vote

    need = api.to_in_progress()
    body = {"compound_id": str(api.world.compound_id), "topic": "电梯分歧", "need_ids": [need]}
    headers = {"Idempotency-Key": "propose-1"}
    first = api.ok("party_branch", "/consultations", body, headers=headers)
    again = api.ok("party_branch", "/consultations", body, headers=headers)
    assert again == first
    convene_vote(api, first["id"])
    vote = {"choice": "for"}
    headers = {"Idempotency-Key": "vote-1"}
    cast = api.ok("resident", f"/consultations/{first['id']}/votes", vote, headers=headers)
    assert api.ok("resident", f"/consultations/{first['id']}/votes", vote, headers=headers) == cast
    view = api.get("staff", f"/consultations/{first['id']}", after=cast["position"]).json()
    assert view["votes_cast"] == 1


def test_the_scope_is_the_credential_whatever_the_spelling_of_the_header(api: Api) -> None:
    """``Bearer X``, ``bearer X`` and ``BEARER  X`` are one caller: one effect per key."""
    token = api.world.tokens["grid_worker"]
    body = _body(api.world)
    answers = []
    for spelling in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token} "):
        headers = {"Authorization": spelling, "Idempotency-Key": "one-visit"}
        response = api.client.post("/needs", json=body, headers=headers)
        assert response.status_code == 201, (spelling, response.text)
        answers.append(response.json())
        if len(answers) == 1:
            position = api.log_position()
    assert answers[1] == answers[0] == answers[2]
    assert api.log_position() == position


def test_console_users_have_a_key_scope_each(client, world: World) -> None:  # noqa: ANN001
    """Console callers sign in with a cookie (no Authorization header): each
    still has their own scope, and one caller's retry is still a replay."""
    from tests.api.test_console_pages import browser

    api = Api(client, world)
    mine, theirs = api.register()["id"], api.register()["id"]
    headers = {"Idempotency-Key": "accept-1"}
    staff = browser(client.app, world, "staff")
    branch = browser(client.app, world, "party_branch")
    form = {"csrf": staff.csrf(), "priority": "normal"}
    first = staff.client.post(f"/console/needs/{mine}/accept", data=form, headers=headers)
    assert first.status_code == 303, first.text
    position = api.log_position()
    # The same caller, key and form again (a double submit): the first answer, nothing new.
    again = staff.client.post(f"/console/needs/{mine}/accept", data=form, headers=headers)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    assert api.log_position() == position
    # Another console user with the same key: their own command, not a reused key.
    other = branch.client.post(
        f"/console/needs/{theirs}/accept",
        data={"csrf": branch.csrf(), "priority": "low"},
        headers=headers,
    )
    assert other.status_code == 303, other.text
    assert api.log_position() > position
    after = api.log_position()
    assert api.get("staff", f"/needs/{theirs}", after=after).json()["status"] == "accepted"


def test_a_key_holds_for_its_own_request_only(services, world: World) -> None:  # noqa: ANN001
    """Requests sent one after another from one task (as an in-process ASGI
    client does) share a context: a key set for one must not outlive it."""
    import asyncio

    import httpx

    from api.app import create_app

    app = create_app(services=services)

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://linli") as client,
        ):
            headers = world.headers("grid_worker")
            keyed = {**headers, "Idempotency-Key": "one-visit"}
            return [
                await client.post("/needs", json=_body(world), headers=keyed),
                await client.post("/needs", json=_body(world), headers=headers),
                await client.post("/needs", json=_body(world), headers=keyed),
            ]

    first, unkeyed, again = asyncio.run(send())
    assert [r.status_code for r in (first, unkeyed, again)] == [201, 201, 201]
    assert again.json() == first.json()  # the key's replay
    assert unkeyed.json()["id"] != first.json()["id"]  # a command of its own


def test_a_key_on_a_read_is_ignored_and_a_bad_one_on_a_command_is_refused_first(api: Api) -> None:
    """Only a POST takes a key; a bad key is refused before the caller is even checked."""
    bad = {"Idempotency-Key": ""}
    read = api.client.get("/needs", headers={**api.world.headers("staff"), "Idempotency-Key": "x" * 500})
    assert read.status_code == 200
    anonymous = api.client.post("/needs", json=_body(api.world), headers=bad)
    assert anonymous.status_code == 422
    assert anonymous.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert "printable" in anonymous.json()["detail"][0]["msg"]
    control = api.post("grid_worker", "/needs", _body(api.world), headers={"Idempotency-Key": "a\x7fb"})
    assert control.status_code == 422


def test_the_openapi_document_offers_the_key_on_every_command_and_only_there() -> None:
    from api.app import create_app

    paths = create_app().openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            assert names.count("Idempotency-Key") == (1 if method == "post" else 0), (method, path)


@pytest.mark.parametrize(
    "key",
    ["", "x" * 201, "a\x7fb", "tab\there", "café", "键", " leading", "trailing ", " "],
)
def test_a_key_the_schema_refuses_is_refused_by_the_server(api: Api, key: str) -> None:
    """The schema's pattern is the rule the server applies: printable ASCII, 1 to 200."""
    import re

    from api.app import create_app

    pattern = next(
        p["schema"]["pattern"]
        for p in create_app().openapi()["paths"]["/needs"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    assert re.fullmatch(pattern, key) is None
    answer = api.client.post(
        "/needs",
        json=_body(api.world),
        headers={**api.world.headers("grid_worker"), "Idempotency-Key": key.encode("utf-8")},  # type: ignore[dict-item]
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["header", "idempotency-key"]


def test_a_key_the_schema_allows_is_taken(api: Api) -> None:
    import re

    from api.app import create_app

    pattern = next(
        p["schema"]["pattern"]
        for p in create_app().openapi()["paths"]["/needs"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    )
    key = "k e y~!" + "9" * 193  # 200 characters
    assert re.fullmatch(pattern, key)
    first = api.post("grid_worker", "/needs", _body(api.world), headers={"Idempotency-Key": key})
    again = api.post("grid_worker", "/needs", _body(api.world), headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
