"""`/stats` for some months reads only those months' needs (by when each was
accepted, in the deployment's time zone), and gives what the figures of all
needs give for those months: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from application.figures import _local_month, accepted_within
from application.readmodel import utc_text
from infrastructure.store import build_services
from tests.api.client import Api
from tests.world import World


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    return Api(client, world)


def test_the_months_bounds_agree_with_the_month_each_need_belongs_to() -> None:
    """A need belongs to the local month it was accepted in (DESIGN 3.4):
    00:30 on 1 April in Shanghai is 16:30 UTC on 31 March."""
    zone = ZoneInfo("Asia/Shanghai")
    start, end = accepted_within(["2026-04"], zone)
    assert (start, end) == ("2026-03-31T16:00:00.000000+00:00", "2026-04-30T16:00:00.000000+00:00")
    assert accepted_within(["2026-11", "2027-02"], zone) == (
        "2026-10-31T16:00:00.000000+00:00",
        "2027-02-28T16:00:00.000000+00:00",
    )
    moment = datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    while moment < datetime(2026, 5, 1, 17, 0, tzinfo=UTC):
        text = utc_text(moment)
        assert text is not None
        assert (start <= text < end) == (_local_month(text, zone) == "2026-04"), text
        moment += timedelta(minutes=20)
    # Months outside the range of any stored time give an empty range, not an error.
    assert accepted_within(["0001-01"], zone)[0] == accepted_within(["0001-01"], zone)[1]


def _stats(api: Api, **params: str) -> dict:
    return api.get("supervisor", "/stats", after=api.log_position(), **params).json()


def test_stats_of_a_month_are_those_of_all_needs_for_that_month(api: Api) -> None:
    world = api.world
    app = world.services.app
    staff = world.actors["staff"]
    for i in range(5):
        need = app.register_need(
            world.actors["grid_worker"], compound_id=world.compound_id,
            source="household_visit", title=f"路灯不亮{i}", description="晚上看不见路",
        )
        if i < 4:
            app.accept_need(staff, need.id, priority="normal")
        if i < 2:
            app.assign_need(staff, need.id, party_id=world.parties["property_company"])
    zone = ZoneInfo(world.services.settings.timezone)
    month = datetime.now(zone).strftime("%Y-%m")
    everything = _stats(api)
    this_month = _stats(api, month_from=month, month_to=month)
    assert [m["month"] for m in everything["month"]] == [month]
    assert this_month["month"] == everything["month"]
    assert this_month["month"][0]["accepted"] == 4
    for group in ("compound", "party", "compound_party_month", "two_way"):
        assert this_month[group] == everything[group], group
    earlier = (datetime.now(zone).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    before = _stats(api, month_from=earlier, month_to=earlier)
    assert before["month"] == [] and before["compound"] == []
    # One compound-month: the other compound's needs are not there.
    other = _stats(api, compound_id=str(world.other_compound_id), month_from=month, month_to=month)
    assert other["compound"] == []


def test_views_from_before_the_acceptance_column_get_it_filled_at_start(world: World) -> None:
    services = world.services
    app = services.app
    need = app.register_need(
        world.actors["grid_worker"], compound_id=world.compound_id,
        source="household_visit", title="电梯异响", description="运行时有异响",
    )
    last = app.accept_need(world.actors["staff"], need.id, priority="urgent").position
    assert services.updater.wait_for(last, 10)
    views = services.views
    with views.writing() as c:  # the table as an earlier version left it
        schema = getattr(views.datastore, "schema", None)
        for kind in ("accepted", "compound_accepted"):
            index = f'"{schema}".need_view_{kind}' if schema else f"need_view_{kind}"
            c.execute(f"DROP INDEX IF EXISTS {index}")
        c.execute(views.sql("ALTER TABLE {need_view} DROP COLUMN accepted_at"))
    services.updater.stop()
    restarted = build_services(services.settings)
    try:
        with restarted.views.reading() as c:
            c.execute(restarted.views.sql("SELECT id, accepted_at, doc FROM {need_view}"))
            rows = c.fetchall()
        accepted = [row for row in rows if row["id"] == str(need.id)]
        assert accepted and accepted[0]["accepted_at"] is not None
        for row in rows:
            assert row["accepted_at"] == json.loads(row["doc"])["accepted_at"]
    finally:
        restarted.close()
