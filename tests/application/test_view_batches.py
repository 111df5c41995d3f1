"""How a batch reaches the views: however the log is cut into batches, and
however a batch's statements are cut into chunks, the views hold the same rows
with the same text, on SQLite and on PostgreSQL; and the shortcuts of the
trail's summaries and of the timestamp and id texts give what the long way gives."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import Tracking

from application import readmodel
from application.readmodel import SUMMARIES, _summarizer, summaries, utc_text, uuid_text
from infrastructure.runner import ViewUpdater
from infrastructure.store import Services, build_services
from infrastructure.views import PositionMoved, PostgresViews
from tests.world import World, build_world, commitment_in_effect

ITEMS = [
    {"number": n, "title": f"项目 {n}", "standard": "标准", "frequency": "每周", "time_limit": "3wd"}
    for n in (1, 2)
]


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


def _drive(world: World) -> int:
    """Needs through their life, some under a service list (their events on the
    list's trail too) and some in a consultation (its events on theirs)."""
    app = world.services.app
    staff, grid = world.actors["staff"], world.actors["grid_worker"]
    pc = world.actors["property_company"]
    cid = commitment_in_effect(world, ITEMS)
    disputed = []
    last = 0
    for i in range(12):
        need = app.register_need(
            grid,
            compound_id=world.compound_id,
            source="household_visit",
            title=f"漏水 \"{i}\"\n第二行",  # quotes and a line break in the documents
            description="楼道\\积水",
            household_id=world.households[i % 3],
        )
        last = need.position
        if i % 4 == 3:
            last = app.reject_need(staff, need.id, reason="重复").position
            continue
        app.accept_need(staff, need.id, priority=("urgent", "normal", "low")[i % 3])
        app.assign_need(
            staff,
            need.id,
            party_id=world.parties["property_company"],
            commitment_id=cid if i % 2 else None,
            commitment_item_no=1 if i % 2 else None,
        )
        if i % 3 == 0:
            disputed.append(need.id)
            continue
        app.acknowledge_need(pc, need.id)
        last = app.resolve_need(pc, need.id, outcome="修好了").position
    consultation = app.propose_consultation(
        staff, compound_id=world.compound_id, topic="漏水怎么办", need_ids=disputed
    )
    last = max(last, consultation.position)
    last = app.inspect_commitment_item(staff, cid, item_no=1, result="met", note="好").position
    return last


def _raw(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every view row as stored, columns and document text."""
    views = services.views
    out = {}
    with views.reading() as c:
        for table, order in (
            ("need_view", "id"),
            ("case_view", "id"),
            ("case_history", "case_id, position"),
        ):
            c.execute(views.sql(f"SELECT * FROM {{{table}}} ORDER BY {order}"))
            out[table] = [tuple(row[k] for k in row.keys()) for row in c.fetchall()]  # noqa: SIM118
    return out


def _replay(services: Services, settings: Any, batch: int) -> dict[str, list[tuple[Any, ...]]]:
    fresh = build_services(settings)
    try:
        app = services.app
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        position = 0
        for start in range(0, len(notifications), batch):
            part = notifications[start : start + batch]
            items = [(app.mapper.to_domain_event(n), n.id) for n in part]
            fresh.views.process_batch(
                items, Tracking(app.name, part[-1].id), expected_position=position
            )
            position = part[-1].id
        return _raw(fresh)
    finally:
        fresh.close()


@pytest.mark.parametrize("batch", [1, 3, 7, 10_000])
def test_the_rows_are_the_same_however_the_log_is_batched(
    world: World, make_settings, batch: int
) -> None:
    services = world.services
    last = _drive(world)
    assert services.updater.wait_for(last, 10)
    live = _raw(services)
    assert live == _replay(services, make_settings(), batch)
    # The trail has the consultation's events on its needs' trails and the
    # needs' assignments on the list's.
    kinds = {(row[0], row[2]) for row in live["case_history"]}
    assert any(kind == "consultation" for _, kind in kinds)
    assert any(kind == "need" for _, kind in kinds)


@pytest.mark.parametrize("batch", [1, 7])
def test_an_updater_catching_up_reads_each_next_batch_while_the_last_is_stored(
    world: World, make_settings, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    services = world.services
    last = _drive(world)
    assert services.updater.wait_for(last, 10)
    services.updater.stop()  # so that only the updater below reads the log
    fresh = build_services(make_settings())  # empty views, fed from the same log
    try:
        updater = ViewUpdater(services.app, fresh.views, batch_size=batch)
        storing = False
        reads: list[bool] = []  # for each read of the log: whether a batch was being stored
        select, process = services.app.recorder.select_notifications, fresh.views.process_batch

        def read(*args: Any, **kwargs: Any) -> Any:
            reads.append(storing)
            return select(*args, **kwargs)

        def store(*args: Any, **kwargs: Any) -> None:
            nonlocal storing
            storing = True
            try:
                process(*args, **kwargs)
            finally:
                storing = False

        monkeypatch.setattr(services.app.recorder, "select_notifications", read)
        monkeypatch.setattr(fresh.views, "process_batch", store)
        updater.catch_up()
        assert updater.position == services.updater.position
        assert _raw(fresh) == _raw(services)
        ahead = sum(reads)
        # On PostgreSQL all but the first read, the last, and a short batch
        # read ahead, which is read again after its batch is stored.
        if isinstance(fresh.views, PostgresViews):
            assert ahead >= max(len(reads) - 3, 1)
        else:  # SQLite: a batch's transaction holds the write lock; nothing beside it
            assert ahead == 0
    finally:
        fresh.close()


def test_the_rows_are_the_same_however_the_statements_are_chunked(
    world: World, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = world.services
    last = _drive(world)
    assert services.updater.wait_for(last, 10)
    expected = _replay(services, make_settings(), 10_000)
    monkeypatch.setattr(PostgresViews, "NEED_CHUNK", 1)
    monkeypatch.setattr(PostgresViews, "TRAIL_CHUNK", 2)
    assert _replay(services, make_settings(), 10_000) == expected


def test_sqlite_and_postgres_store_the_same_text(
    request: pytest.FixtureRequest, tmp_path, store: str
) -> None:
    """The documents are the same text on both stores, to the byte."""
    if store != "sqlite":
        pytest.skip("compares both stores once")
    from tests.conftest import settings_for

    stored = {}
    for kind in ("sqlite", "postgres"):
        services = build_services(settings_for(kind, request, tmp_path))
        try:
            world = build_world(services)
            services.updater.catch_up()
            _drive(world)
            services.updater.catch_up()
            # Ids and times differ from one world to the other: compare the
            # documents with them blanked out.
            stored[kind] = {
                table: sorted(_shape(doc) for doc in docs) for table, docs in _docs(services).items()
            }
        finally:
            services.close()
    sqlite, postgres = stored["sqlite"], stored["postgres"]
    assert sqlite == postgres


def _docs(services: Services) -> dict[str, list[str]]:
    """Each view table's documents (its ``doc`` column), as stored."""
    views = services.views
    out = {}
    with views.reading() as c:
        for table in ("need_view", "case_view", "case_history"):
            c.execute(views.sql(f"SELECT * FROM {{{table}}}"))
            out[table] = [str(row["doc"] if "doc" in row.keys() else row[list(row.keys())[-1]]) for row in c.fetchall()]  # noqa: SIM118
    return out


def _shape(text: str) -> str:
    """A document's text with its ids, times and numbers blanked out."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", "<t>", text)
    return re.sub(r"\d+", "<n>", text)


def test_a_moved_position_is_refused_before_anything_is_written(world: World) -> None:
    services = world.services
    last = _drive(world)
    assert services.updater.wait_for(last, 10)
    before = _raw(services)
    app = services.app
    notification = app.recorder.select_notifications(start=last, limit=1)[0]
    items = [(app.mapper.to_domain_event(notification), notification.id)]
    with pytest.raises(PositionMoved) as moved:
        services.views.process_batch(
            items, Tracking(app.name, last + 1), expected_position=last - 1
        )
    assert moved.value.stored == last
    assert _raw(services) == before


# ----- the shortcuts --------------------------------------------------------------


def _sample(template: str) -> dict[str, Any]:
    from string import Formatter

    names = {f for _, f, _, _ in Formatter().parse(str(template)) if f}
    return {name: f"<{name}>" for name in names}


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_each_summary_shortcut_writes_what_the_long_way_writes(name: str) -> None:
    zh, en = SUMMARIES[name]
    full = {**_sample(zh), **_sample(en)}
    fast = _summarizer(name)
    cases = [
        {},
        full,
        {**full, "within_limit": True, "evaluation": "unsatisfied", "comment": "慢"},
        {**full, "within_limit": False, "comment": None, "reason": None},
        dict(list(full.items())[: len(full) // 2]),
        {"need_ids": ["a", "b"], "method": "vote", "note": "x", "approval_area": "1"},
    ]
    for data in cases:
        assert fast(dict(data)) == summaries(name, dict(data)), data


def test_a_template_of_an_unknown_event_or_with_format_specs_goes_the_long_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SUMMARIES, "X.Spec", ("{a!r} {b:>4} {c.d}", "{{literal}} {a}"))
    data = {"a": "1", "b": "2", "c": "3"}
    with pytest.raises(AttributeError):
        summaries("X.Spec", data)
    with pytest.raises(AttributeError):
        _summarizer("X.Spec")(data)
    assert _summarizer("No.Such")({}) == summaries("No.Such", {}) == ("No.Such", "No.Such")


def test_utc_text_of_many_moments_is_each_ones_own() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(microseconds=7 * i) for i in range(readmodel._MEMO_SIZE * 2 + 5)]
    # More seconds than the memo holds, whole ones among them, in both directions.
    moments += [
        start + timedelta(seconds=i, microseconds=i % 3 * 999_999 // 2)
        for i in range(readmodel._MEMO_SIZE * 3)
    ]
    for moment in moments + moments[::-1]:
        assert utc_text(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    east = datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    assert utc_text(east) == "2026-01-01T00:00:00.000000+00:00"


def test_uuid_text_is_str() -> None:
    ids = [uuid4() for _ in range(readmodel._MEMO_SIZE + 10)]
    for value in ids + ids:
        assert uuid_text(value) == str(value)
        assert uuid_text(UUID(str(value))) == str(value)

    class Odd(UUID):
        def __str__(self) -> str:
            return "odd"

    assert uuid_text(Odd(int=ids[0].int)) == "odd"


@pytest.mark.parametrize("store", ["postgres"])
def test_view_documents_are_compressed_with_lz4_and_read_back_the_same(world: World) -> None:
    """PostgreSQL compresses the case documents with LZ4 (faster than its
    default, pglz, at every write of a ~2 KB need document); what is read
    back is what was written."""
    services = world.services
    views = services.views
    assert isinstance(views, PostgresViews)
    app = services.app
    need = app.register_need(
        world.actors["grid_worker"], compound_id=world.compound_id, source="household_visit",
        title="楼顶漏水", description="顶楼住户反映雨天楼顶漏水，" * 120,
    )
    assert services.updater.wait_for(need.position, 10)
    with views.datastore.get_connection() as conn:
        for table in ("need_view", "case_view"):
            row = conn.execute(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
                "AND attname = 'doc'", [views.table(table)]).fetchone()
            assert row is not None and row["attcompression"] == "l", table
        stored = conn.execute(
            f"SELECT pg_column_compression(doc) AS method FROM {views.table('need_view')} WHERE id = %s",
            [str(need.id)]).fetchone()
    assert stored is not None and stored["method"] == "lz4"
    assert views.need(str(need.id))["description"] == "顶楼住户反映雨天楼顶漏水，" * 120
