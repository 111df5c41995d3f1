"""What a path allows: OPTIONS lists every method of it, and a 405 names them all
(RFC 9110, 9.3.7 OPTIONS and 15.5.6 405 Method Not Allowed)."""

from __future__ import annotations

from collections import defaultdict

from fastapi.testclient import TestClient

from tests.api.test_access_matrix import api_routes


def _allow(answer) -> set[str]:  # noqa: ANN001
    return {m.strip() for m in answer.headers["allow"].split(",")}


def test_options_lists_every_method_of_every_path(client: TestClient) -> None:
    declared: dict[str, set[str]] = defaultdict(set)
    for route in api_routes(client.app):
        declared[route.path] |= set(route.methods)
    assert declared["/needs"] == {"GET", "POST"}  # two routes, one path
    for path, methods in declared.items():
        concrete = path.replace("{", "").replace("}", "")  # any text fills a parameter
        for name in ("need_id", "commitment_id", "consultation_id", "compound_id", "party_id"):
            concrete = concrete.replace(name, "00000000-0000-0000-0000-000000000000")
        answer = client.options(concrete)
        if answer.status_code == 404:  # a parameter the placeholder does not fit
            continue
        assert answer.status_code == 204, (path, answer.status_code)
        assert _allow(answer) >= methods | {"OPTIONS"}, path


def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    answer = client.delete("/needs")
    assert answer.status_code == 405
    assert _allow(answer) == {"GET", "POST", "OPTIONS"}
    one = client.put("/needs/00000000-0000-0000-0000-000000000000")
    assert one.status_code == 405 and _allow(one) == {"GET", "OPTIONS"}


def test_options_on_a_path_nobody_serves_is_a_404(client: TestClient) -> None:
    assert client.options("/no-such-thing").status_code == 404


def test_options_needs_no_token_and_tells_nothing_but_methods(client: TestClient) -> None:
    answer = client.options("/needs/00000000-0000-0000-0000-000000000000/assign")
    assert answer.status_code == 204 and answer.content == b""
    assert _allow(answer) == {"POST", "OPTIONS"}
    assert answer.headers["x-content-type-options"] == "nosniff"
