"""Two processes' writers on one SQLite file (``linli token create`` beside a
running server): a writing transaction that reads first waits its turn
instead of failing with "database is locked" when the other commits between
its read and its write."""

from __future__ import annotations

import threading
from pathlib import Path

from infrastructure.settings import Settings
from infrastructure.store import build_services


def test_a_writer_that_reads_first_waits_for_the_other_instead_of_failing(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "linli.sqlite3")
    server, beside = build_services(settings), build_services(settings)
    try:
        read = threading.Event()
        other: list[BaseException | str] = []

        def the_other_writer() -> None:
            read.wait(5)
            try:
                beside.people.register("旁边的进程", created_by="test")
                other.append("committed")
            except BaseException as error:  # noqa: BLE001 - reported below
                other.append(error)

        thread = threading.Thread(target=the_other_writer)
        thread.start()
        with server.views.writing() as c:
            c.execute("SELECT COUNT(*) AS n FROM persons")
            c.fetchone()
            read.set()
            thread.join(0.5)  # the other writer tries meanwhile
            c.execute(
                "INSERT INTO persons (id, display_name, owner_key, legacy, created_at, created_by) "
                "VALUES ('p-1', '先读后写', NULL, 0, '2026-12-07T00:00:00+00:00', 'test')"
            )
        thread.join(15)
        assert other == ["committed"], other
        names = {p.display_name for p in server.people.all()}
        assert {"先读后写", "旁边的进程"} <= names
    finally:
        server.close()
        beside.close()
