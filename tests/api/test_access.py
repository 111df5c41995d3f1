"""Authentication, role permissions and compound/resident scoping."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from domain.actor import Role
from tests.world import World


def _register(client: TestClient, world: World, who: str, **fields: str) -> str:
    body = {
        "compound_id": str(world.compound_id),
        "source": "self_report" if who.startswith("resident") else "household_visit",
        "title": "楼道灯不亮",
        "description": "三楼楼道灯坏了",
        **fields,
    }
    response = client.post("/needs", json=body, headers=world.headers(who))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def all_routes() -> list:
    """Every route of the app, also those inside included routers (FastAPI keeps
    each included router as one entry of ``app.routes``)."""
    routes = []
    for route in create_app().routes:
        if hasattr(route, "effective_route_contexts"):
            routes.extend(route.effective_route_contexts())
        else:
            routes.append(route)
    return routes


def test_every_route_declares_who_may_call_it() -> None:
    """A route with no permission dependency fails here, so none is left open."""
    routes = [r for r in all_routes() if getattr(r, "dependant", None) is not None]
    assert len(routes) > 60  # the walk reached the routers' routes

    def actions(dependant) -> set[str]:  # noqa: ANN001
        found = set()
        for dep in dependant.dependencies:
            action = getattr(dep.call, "linli_action", None)
            if action:
                found.add(action)
            found |= actions(dep)
        return found

    unguarded = [
        f"{sorted(route.methods)} {route.path}" for route in routes if not actions(route.dependant)
    ]
    assert unguarded == []


def test_no_request_could_be_served_by_the_routes_of_two_routers() -> None:
    """The routers are included busiest first (api.app), not in an order the
    paths rely on: no path of one router's route is matched by another's."""
    routers = [r for r in create_app().routes if hasattr(r, "effective_route_contexts")]
    routes = [
        (n, route)
        for n, router in enumerate(routers)
        for route in router.effective_route_contexts()
        if getattr(route, "methods", None)
    ]
    assert len(routes) > 60
    overlaps = [
        (a.path, b.path)
        for m, a in routes
        for n, b in routes
        if m != n
        and a.methods & b.methods
        and b.path_regex.match(a.path.replace("{", "x").replace("}", ""))
    ]
    assert overlaps == []


def test_missing_or_bad_token_is_401(client: TestClient, world: World) -> None:
    assert client.get("/needs").status_code == 401
    bad = client.get("/needs", headers={"Authorization": "Bearer linli_nope"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == "Bearer"
    basic = client.get("/needs", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert basic.status_code == 401


def test_revoked_token_is_401(client: TestClient, world: World) -> None:
    token = world.tokens["grid_worker"]
    assert client.get("/needs", headers=world.headers("grid_worker")).status_code == 200
    assert world.services.credentials.revoke(token=token) == 1
    assert client.get("/needs", headers=world.headers("grid_worker")).status_code == 401


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        ("resident", "/needs/{need}/accept", {"priority": "low"}),
        ("grid_worker", "/needs/{need}/assign", {"party_id": "{party}"}),
        ("supervisor", "/needs/{need}/reject", {"reason": "x"}),
        ("property_company", "/needs/{need}/supervise", {"text": "x"}),
        ("admin", "/needs", None),
        ("resident", "/compounds", {"name": "新小区"}),
        ("grid_worker", "/parties", None),
    ],
)
def test_a_role_that_may_not_act_gets_403_and_nothing_is_written(
    client: TestClient, world: World, who: str, path: str, body: dict | None
) -> None:
    need = _register(client, world, "grid_worker")
    path = path.format(need=need)
    if body:
        body = {k: v.format(party=world.parties["property_company"]) for k, v in body.items()}
    before = world.services.app.recorder.max_notification_id()
    response = client.post(path, json=body or {}, headers=world.headers(who))
    assert response.status_code == 403, response.text
    assert world.services.app.recorder.max_notification_id() == before


def test_other_compound_is_404_as_if_it_did_not_exist(client: TestClient, world: World) -> None:
    need = _register(client, world, "grid_worker")
    position = world.services.app.recorder.max_notification_id()
    outsider = world.headers("other_staff")
    assert client.get(f"/needs/{need}", headers=outsider, params={"after": position}).status_code == 404
    assert client.get(f"/needs/{need}/history", headers=outsider).status_code == 404
    response = client.post(f"/needs/{need}/accept", json={"priority": "low"}, headers=outsider)
    assert response.status_code == 404
    assert client.get("/needs", headers=outsider).json()["items"] == []
    assert client.get(f"/compounds/{world.compound_id}", headers=outsider).status_code == 404
    listed = client.get("/compounds", headers=outsider).json()["items"]
    assert [c["id"] for c in listed] == [str(world.other_compound_id)]
    # Registering a need in a compound that is not yours names the field.
    body = {
        "compound_id": str(world.compound_id),
        "source": "hotline",
        "title": "x",
        "description": "y",
    }
    assert client.post("/needs", json=body, headers=outsider).status_code == 422


def test_a_resident_sees_only_their_own_needs(client: TestClient, world: World) -> None:
    mine = _register(client, world, "resident")
    theirs = _register(client, world, "resident2")
    by_worker = _register(client, world, "grid_worker")
    position = world.services.app.recorder.max_notification_id()
    listed = client.get("/needs", headers=world.headers("resident"), params={"after": position})
    assert [n["id"] for n in listed.json()["items"]] == [mine]
    assert client.get(f"/needs/{theirs}", headers=world.headers("resident")).status_code == 404
    assert client.get(f"/needs/{by_worker}", headers=world.headers("resident")).status_code == 404
    assert client.get(f"/needs/{mine}", headers=world.headers("resident")).status_code == 200
    response = client.post(
        f"/needs/{theirs}/withdraw", json={"reason": "x"}, headers=world.headers("resident")
    )
    assert response.status_code == 404


def test_a_housemate_does_not_see_a_residents_own_report(client: TestClient, world: World) -> None:
    """Two residents of one household: each sees their own reports and what a
    grid worker collected at their door, never the other's own report."""
    housemate = world.services.credentials.issue(
        person_id=world.services.people.register("同户居民", created_by="test").id,
        role=Role.RESIDENT,
        compound_ids=[world.compound_id],
        household_id=world.households[0],
    ).token
    theirs = {"Authorization": f"Bearer {housemate}"}
    own = _register(client, world, "resident")
    collected = _register(client, world, "grid_worker", household_id=str(world.households[0]))
    position = world.services.app.recorder.max_notification_id()
    after = {"after": position}
    assert client.get(f"/needs/{own}", headers=theirs, params=after).status_code == 404
    assert client.get(f"/needs/{own}/history", headers=theirs).status_code == 404
    listed = client.get("/needs", headers=theirs, params=after).json()["items"]
    assert [n["id"] for n in listed] == [collected]
    withdraw = client.post(f"/needs/{own}/withdraw", json={"reason": "不需要了"}, headers=theirs)
    assert withdraw.status_code == 404
    assert world.services.app.recorder.max_notification_id() == position
    # The reporter still sees both: their own report and the one collected at their door.
    mine = client.get("/needs", headers=world.headers("resident"), params=after).json()["items"]
    assert {n["id"] for n in mine} == {own, collected}
    assert client.get(f"/needs/{collected}", headers=theirs).status_code == 200


def test_a_resident_reports_for_their_own_household(client: TestClient, world: World) -> None:
    need = _register(client, world, "resident")
    position = world.services.app.recorder.max_notification_id()
    view = client.get(f"/needs/{need}", headers=world.headers("resident"), params={"after": position})
    assert view.json()["household_id"] == str(world.households[0])
    refused = client.post(
        "/needs",
        json={
            "compound_id": str(world.compound_id),
            "source": "hotline",
            "title": "x",
            "description": "y",
        },
        headers=world.headers("resident"),
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"][-1] == "source"
    before = world.services.app.recorder.max_notification_id()
    another = client.post(
        "/needs",
        json={
            "compound_id": str(world.compound_id),
            "source": "self_report",
            "household_id": str(world.households[1]),
            "title": "x",
            "description": "y",
        },
        headers=world.headers("resident"),
    )
    assert another.status_code == 422, another.text
    assert another.json()["detail"][0]["loc"][-1] == "household_id"
    assert world.services.app.recorder.max_notification_id() == before


def test_party_staff_see_only_needs_assigned_to_their_party(
    client: TestClient, world: World
) -> None:
    assigned = _register(client, world, "grid_worker")
    other = _register(client, world, "grid_worker")
    staff = world.headers("staff")
    client.post(f"/needs/{assigned}/accept", json={"priority": "normal"}, headers=staff)
    last = client.post(
        f"/needs/{assigned}/assign",
        json={"party_id": str(world.parties["property_company"])},
        headers=staff,
    ).json()
    pc = world.headers("property_company")
    listed = client.get("/needs", headers=pc, params={"after": last["position"]}).json()["items"]
    assert [n["id"] for n in listed] == [assigned]
    assert client.get(f"/needs/{other}", headers=pc).status_code == 404
    # The party branch coordinates: it sees every need of its compound.
    branch = client.get("/needs", headers=world.headers("party_branch")).json()["items"]
    assert {n["id"] for n in branch} == {assigned, other}


def _cli_env(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    """``linli`` commands in this process use the test's store."""
    settings = world.services.settings
    for name, value in {
        "STORE": settings.store,
        "SQLITE_PATH": str(settings.sqlite_path),
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_DB": settings.postgres_db,
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password,
        "POSTGRES_SCHEMA": settings.postgres_schema,
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "1",
    }.items():
        monkeypatch.setenv(f"LINLI_{name}", value)


def test_token_revoke_by_id_takes_exactly_the_printed_id(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import main

    _cli_env(monkeypatch, world)
    credentials = world.services.credentials
    assert main(["token", "create", "--actor", "李静", "--role", "supervisor", "--all-compounds"]) == 0
    printed = capsys.readouterr().out
    token = printed.strip().splitlines()[-1]
    token_id = printed.split("token id: ")[1].split()[0]
    assert len(token_id) == 12
    everyone = dict(world.tokens, 李静=token)

    def still_valid() -> set[str]:
        return {who for who, t in everyone.items() if credentials.authenticate(t) is not None}

    # Empty, short, wildcard or otherwise malformed ids: refused, nothing revoked.
    for bad in ("", "%", "_" * 12, token_id[:4], token_id[:11], token_id + "0", token_id.upper(),
                f"{token_id[:6]}%", " " + token_id):
        assert main(["token", "revoke", "--id", bad]) == 2, bad
        assert "12 lowercase hex digits" in capsys.readouterr().out
        assert still_valid() == set(everyone), bad
    # A well-formed id that names no token: an error, nothing revoked.
    unknown = "0" * 12 if token_id != "0" * 12 else "1" * 12
    assert main(["token", "revoke", "--id", unknown]) == 1
    assert "no active token" in capsys.readouterr().out
    assert still_valid() == set(everyone)
    # The printed id revokes that token and no other; a second time is an error.
    assert main(["token", "revoke", "--id", token_id]) == 0
    assert "revoked 1 token(s)" in capsys.readouterr().out
    assert still_valid() == set(world.tokens)
    assert main(["token", "revoke", "--id", token_id]) == 1
    assert "no active token" in capsys.readouterr().out
    # By the token itself: an empty one is refused, an unknown one is an error.
    assert main(["token", "revoke", "--token", ""]) == 2
    assert main(["token", "revoke", "--token", "linli_nope"]) == 1
    assert main(["token", "revoke", "--token", world.tokens["staff"]]) == 0
    assert still_valid() == set(world.tokens) - {"staff"}


def test_credentials_revoke_matches_an_id_whole(world: World) -> None:
    credentials = world.services.credentials
    issued = [
        credentials.issue(person_id=world.services.people.register(f"s{i}", created_by="test").id, role=Role.SUPERVISOR, compound_ids=None) for i in range(3)
    ]
    for bad in ("", "%", "_", issued[0].token_id[:1]):
        with pytest.raises(ValueError, match="token id"):
            credentials.revoke(token_id=bad)
    assert all(credentials.authenticate(i.token) for i in issued)
    assert credentials.revoke(token_id=issued[1].token_id) == 1
    assert [credentials.authenticate(i.token) is not None for i in issued] == [True, False, True]
    assert credentials.revoke(token_id=issued[1].token_id) == 0


def test_the_openapi_document_asks_for_the_bearer_token_on_every_guarded_route() -> None:
    """``requires`` reads the token itself, so the document says it (api.app)."""
    from api.deps import route_action

    spec = create_app().openapi()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    documented = 0
    for route in all_routes():
        if getattr(route, "dependant", None) is None or not route.include_in_schema:
            continue
        for method in route.methods:
            operation = spec["paths"][route.path][method.lower()]
            guarded = route_action(route.dependant) != "public"
            assert ("security" in operation) == guarded, (method, route.path)
            if guarded:
                assert operation["security"] == [{"HTTPBearer": []}]
            documented += 1
    assert documented > 50
