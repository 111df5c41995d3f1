"""Monthly assessments that can be reproduced (issue 22, item 4; DESIGN 3.4).

A supervisor closes November 2026 for the compound: the assessment records
the figures and the log position they were computed at; ``linli assessments
verify`` recomputes them from the events up to that position alone; events
after the closing change nothing; an altered record does not verify.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli import main
from infrastructure.store import Services
from tests.api.test_episodes import Case, minutes
from tests.api.test_people import settings_env
from tests.world import World


@pytest.fixture
def november(world: World) -> dict[str, Case]:
    """Two needs of the property company in November: one acknowledged in
    time (30 min), one late (5 h on a 2 h limit)."""
    return {
        "timely": Case(world, "按时").accept(minutes(0)).assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(30)),
        "late": Case(world, "超时").accept(minutes(0)).assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(300)),
    }


def close(client: TestClient, world: World, who: str = "supervisor", **body: Any) -> Any:
    return client.post(
        "/assessments",
        json={"compound_id": str(world.compound_id), "month": "2026-11", **body},
        headers=world.headers(who),
    )


def verify(services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           assessment_id: str) -> tuple[int, str]:
    for name, value in settings_env(services.settings).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = main(["assessments", "verify", assessment_id])
    return code, capsys.readouterr().out


def test_a_closed_month_records_its_figures_and_verifies_before_and_after_later_events(
    client: TestClient, world: World, services: Services, november: dict[str, Case],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    assert close(client, world, "staff").status_code == 403
    closed = close(client, world)
    assert closed.status_code == 201, closed.text
    assessment_id = closed.json()["id"]
    assert close(client, world).status_code == 409  # a month is closed once

    document = client.get(f"/assessments/{assessment_id}", headers=world.headers("supervisor")).json()
    assert document["month"] == "2026-11"
    assert document["position"] < closed.json()["position"]  # the log's head before the closing
    (party,) = document["figures"]["parties"]
    assert party["party_id"] == str(world.parties["property_company"])
    # Hand count: two episodes, both acknowledged; one within 2 h.
    assert party["response_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert document["figures"]["compound"][0]["accepted"] == 2

    code, out = verify(services, monkeypatch, capsys, assessment_id)
    assert code == 0, out
    assert "verified" in out

    # Later events on a November need change neither the record nor its check.
    november["late"].resolve("property_company", minutes(24 * 60))
    later = client.get(f"/assessments/{assessment_id}", headers=world.headers("supervisor")).json()
    assert later["figures"] == document["figures"]
    code, out = verify(services, monkeypatch, capsys, assessment_id)
    assert code == 0, out

    listed = client.get(
        "/assessments",
        params={"compound_id": str(world.compound_id), "after": closed.json()["position"]},
        headers=world.headers("supervisor"),
    ).json()
    assert [a["id"] for a in listed["items"]] == [assessment_id]
    csv = client.get(f"/assessments/{assessment_id}", params={"format": "csv"}, headers=world.headers("supervisor"))
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("assessment_id,")


def test_an_altered_record_does_not_verify(
    client: TestClient, world: World, services: Services, november: dict[str, Case],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    closed = close(client, world)
    assessment_id = closed.json()["id"]
    # Someone with write access to the database improves the recorded rate.
    table, _ = services.views.events_table(services.views.log.events_table)
    with services.views.writing() as c:
        c.execute(services.views.sql(f"SELECT state FROM {table} WHERE originator_version = 1 AND topic = ?"),
                  ["domain.assessment:Assessment.Closed"])
        state = json.loads(bytes(c.fetchone()["state"]))
        state["figures"]["parties"][0]["response_rate"] = {"numerator": 2, "denominator": 2, "rate": 1.0}
        c.execute(services.views.sql(f"UPDATE {table} SET state = ? WHERE topic = ?"),
                  [json.dumps(state).encode(), "domain.assessment:Assessment.Closed"])
    services.app.kept.forget(None)
    code, out = verify(services, monkeypatch, capsys, assessment_id)
    assert code == 1
    assert "NOT verified" in out and '"numerator": 2' in out


@pytest.mark.parametrize(
    ("month", "words"),
    [("2026-13", "not a month"), ("2099-01", "has not ended"), ("1999-12", "2000-01")],
)
def test_only_a_month_that_has_ended_is_closed(client: TestClient, world: World, month: str, words: str) -> None:
    refused = close(client, world, month=month)
    assert refused.status_code == 422
    assert words in refused.text or month == "2026-13"
