"""``linli audit verify`` (issue 26, item 4) on SQLite and PostgreSQL: the
stored events are changed behind Linli's back with SQL (one byte altered,
one event deleted, two swapped, the tail cut) and the command names the
first bad leaf each time, exit 1; on an untouched store it says so in one
line, exit 0. Forged checkpoint signatures, and leaves rewritten to match
altered events, are caught by the checkpoints (stored or kept in a file)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.cli import main
from infrastructure.store import Services, connect
from infrastructure.transparency_log import (
    leaf_of,
    public_raw,
    transparency_of,
    write_new_key,
)
from application.transparency import b64
from tests.api.test_integrity import log_leaves, mth
from tests.world import REGISTRAR, build_world


class Store:
    """The events and the tree's tables, reached with SQL of the test's own."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.sqlite = self.settings.store == "sqlite"
        events = services.app.recorder.events_table_name  # type: ignore[attr-defined]
        if self.sqlite:
            self.events, self.id = events, "rowid"
            self.leaves, self.checkpoints = "linli_merkle_leaves", "linli_checkpoints"
            self.position = "linli_merkle_position"
        else:
            schema = self.settings.postgres_schema
            self.events, self.id = f'"{schema}"."{events}"', "notification_id"
            self.leaves = f'"{schema}"."linli_merkle_leaves"'
            self.checkpoints = f'"{schema}"."linli_checkpoints"'
            self.position = f'"{schema}"."linli_merkle_position"'

    def run(self, statement: str, params: list[Any] | tuple[Any, ...] = ()) -> list[Any]:
        if self.sqlite:
            conn = sqlite3.connect(self.settings.sqlite_path)
            try:
                rows = conn.execute(statement, params).fetchall()
                conn.commit()
            finally:
                conn.close()
            return rows
        with connect(self.settings) as conn:
            cursor = conn.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

    def ids(self) -> list[int]:
        return [r[0] for r in self.run(f"SELECT {self.id} FROM {self.events} ORDER BY {self.id}")]

    def row(self, nid: int) -> tuple[Any, ...]:
        return tuple(
            self.run(
                f"SELECT originator_id, originator_version, topic, state FROM {self.events} "
                f"WHERE {self.id} = ?",
                [nid],
            )[0]
        )

    def put(self, nid: int, row: tuple[Any, ...]) -> None:
        self.run(
            f"UPDATE {self.events} SET originator_id = ?, originator_version = ?, topic = ?, "
            f"state = ? WHERE {self.id} = ?",
            [*row, nid],
        )

    def alter_one_byte(self, nid: int) -> None:
        oid, version, topic, state = self.row(nid)
        state = bytearray(state)
        state[len(state) // 2] ^= 0x01
        self.put(nid, (oid, version, topic, bytes(state)))

    def delete(self, nid: int) -> None:
        self.run(f"DELETE FROM {self.events} WHERE {self.id} = ?", [nid])

    def swap(self, a: int, b: int) -> None:
        first, second = self.row(a), self.row(b)
        self.run(f"UPDATE {self.events} SET originator_version = -1 WHERE {self.id} = ?", [a])
        self.put(b, first)
        self.put(a, second)

    def cut_from(self, nid: int) -> None:
        self.run(f"DELETE FROM {self.events} WHERE {self.id} >= ?", [nid])


@pytest.fixture
def tampered(services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """A store with some twenty events, their leaves, a stored checkpoint, and
    the ``linli`` command's settings pointing at it."""
    world = build_world(services)
    for i in range(8):
        services.app.register_compound(REGISTRAR, name=f"小区{i}")
    assert world.compound_id
    key = tmp_path / "checkpoint.pem"
    write_new_key(key)
    tlog = transparency_of(services)
    tlog.key_file = key
    tlog.catch_up()
    tlog.checkpoint()
    for name in [n for n in os.environ if n.startswith("LINLI_")]:
        monkeypatch.delenv(name)
    s = services.settings
    env = {"LINLI_STORE": s.store, "LINLI_CHECKPOINT_KEY_FILE": str(key)}
    if s.store == "sqlite":
        env["LINLI_SQLITE_PATH"] = str(s.sqlite_path)
    else:
        env.update(
            LINLI_POSTGRES_HOST=s.postgres_host,
            LINLI_POSTGRES_PORT=str(s.postgres_port),
            LINLI_POSTGRES_USER=s.postgres_user,
            LINLI_POSTGRES_PASSWORD=s.postgres_password,
            LINLI_POSTGRES_DB=s.postgres_db,
            LINLI_POSTGRES_SCHEMA=s.postgres_schema,
        )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield Store(services)


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["audit", "verify", *args])
    out = capsys.readouterr().out
    return code, [line for line in out.splitlines() if line.strip()]


def export(store: Store, path: Path) -> Path:
    """The checkpoints as GET /audit/checkpoints gives them, saved as a file."""
    tlog = transparency_of(store.services)
    key = tlog.public_key()
    assert key is not None
    path.write_text(
        json.dumps(
            {
                "format": "linli-checkpoint/v1",
                "public_key": b64(public_raw(key)),
                "checkpoints": tlog.checkpoints(),
            }
        )
    )
    return path


def test_an_untouched_store_verifies_in_one_line(tampered: Store, capsys: Any, tmp_path: Path) -> None:
    code, lines = verify(capsys, "--checkpoint", str(export(tampered, tmp_path / "kept.json")))
    assert code == 0, lines
    assert len(lines) == 1 and lines[0].startswith("verified: ")
    count = len(tampered.ids())
    assert f"{count} events match the {count} leaves" in lines[0]
    assert "2 signed checkpoint(s)" in lines[0]


def test_one_byte_altered(tampered: Store, capsys: Any) -> None:
    ids = tampered.ids()
    tampered.alter_one_byte(ids[5])
    code, lines = verify(capsys)
    assert code == 1
    assert lines[1] == f"leaf 5: the event at notification id {ids[5]} was altered"
    assert any("checkpoint #1" in line and "not those it signed" in line for line in lines)


def test_one_event_deleted(tampered: Store, capsys: Any) -> None:
    ids = tampered.ids()
    tampered.delete(ids[7])
    code, lines = verify(capsys)
    assert code == 1
    assert lines[1] == f"leaf 7: the event at notification id {ids[7]} was removed"


def test_two_events_swapped(tampered: Store, capsys: Any) -> None:
    ids = tampered.ids()
    tampered.swap(ids[3], ids[9])
    code, lines = verify(capsys)
    assert code == 1
    assert lines[1] == (
        f"leaf 3: the event at notification id {ids[3]} is the one recorded at leaf 9: "
        "events were moved"
    )


def test_the_tail_cut(tampered: Store, capsys: Any) -> None:
    ids = tampered.ids()
    tampered.cut_from(ids[12])
    code, lines = verify(capsys)
    assert code == 1
    assert lines[1].startswith(f"leaf 12: the log ends before it: the event at notification id {ids[12]}")
    assert any(
        f"the log is shorter than it: 12 events, the checkpoint signed {len(ids)}" in line
        for line in lines
    )


def test_events_newer_than_the_tree_are_verified_too(tampered: Store, capsys: Any) -> None:
    """Right after writes, before the upkeep hashed them into the kept tree:
    verify reads them, hashes them into the root it reports (the root of the
    whole log, as the test's own hashing makes it) and passes."""
    kept = len(tampered.ids())
    services = tampered.services
    for i in range(5):
        services.app.register_compound(REGISTRAR, name=f"新小区{i}")
    total = len(tampered.ids())
    assert total > kept and transparency_of(services).position()[1] == kept
    code, lines = verify(capsys)
    assert code == 0, lines
    root = b64(mth([h for *_, h in log_leaves(services)]))
    assert lines == [
        f"verified: {total} events (root {root}): the first {kept} match the {kept} leaves of "
        f"the kept tree, the {total - kept} newer than it are hashed into the root; and 1 "
        "signed checkpoint(s)"
    ]
    # A newer event altered: no kept leaf to compare it with, but the root
    # reported is the root of the events as they are now.
    tampered.alter_one_byte(tampered.ids()[-2])
    code, lines = verify(capsys)
    altered = b64(mth([h for *_, h in log_leaves(services)]))
    assert code == 0 and altered != root and f"(root {altered})" in lines[0]
    tampered.alter_one_byte(tampered.ids()[-2])  # back as it was
    # Once the tree has them, they are compared with its leaves: the same root.
    tlog = transparency_of(services)
    tlog.catch_up()
    assert b64(tlog.tree().root()) == root
    code, lines = verify(capsys)
    assert code == 0 and lines == [
        f"verified: {total} events match the {total} leaves of the tree (root {root}) and 1 "
        "signed checkpoint(s)"
    ]
    # And an event the kept tree has, altered, is reported as ever.
    tampered.alter_one_byte(tampered.ids()[-1])
    code, lines = verify(capsys)
    assert code == 1 and lines[1] == f"leaf {total - 1}: the event at notification id {tampered.ids()[-1]} was altered"


def test_leaves_removed_from_the_kept_tree_are_reported(tampered: Store, capsys: Any) -> None:
    ids = tampered.ids()
    tampered.run(f"DELETE FROM {tampered.leaves} WHERE leaf_index >= 10")
    code, lines = verify(capsys)
    assert code == 1
    assert f"the kept tree counts {len(ids)} leaves but 10 are stored: leaves were removed" in lines[1]
    # The position cut to match: the checkpoint tells.
    tampered.run(
        f"UPDATE {tampered.position} SET leaf_count = 10, notification_id = ? WHERE name = 'log'",
        [ids[9]],
    )
    code, lines = verify(capsys)
    assert code == 1
    assert lines[1] == (
        f"stored checkpoint #1 (size {len(ids)}, {transparency_of(tampered.services).checkpoints()[0]['timestamp']}): "
        f"the kept tree has only 10 leaves, fewer than the {len(ids)} it signed: leaves were removed"
    )


def test_a_forged_signature_is_reported(tampered: Store, capsys: Any, tmp_path: Path) -> None:
    kept = export(tampered, tmp_path / "kept.json")
    tampered.run(f"UPDATE {tampered.checkpoints} SET tree_size = tree_size - 1")
    code, lines = verify(capsys)
    assert code == 1
    assert any("stored checkpoint #1" in line and "signature is forged" in line for line in lines)
    # In a file, too.
    tampered.run(f"UPDATE {tampered.checkpoints} SET tree_size = tree_size + 1")
    assert verify(capsys)[0] == 0
    data = json.loads(kept.read_text())
    data["checkpoints"][0]["root_hash"] = b64(bytes(32))
    kept.write_text(json.dumps(data))
    code, lines = verify(capsys, "--checkpoint", str(kept))
    assert code == 1
    assert any("given checkpoint #1" in line and "signature is forged" in line for line in lines)


def test_leaves_rewritten_to_match_are_caught_by_a_kept_checkpoint(
    tampered: Store, capsys: Any, tmp_path: Path
) -> None:
    """Whoever alters an event and its leaf, and deletes the stored
    checkpoints, is still caught by a checkpoint kept outside."""
    kept = export(tampered, tmp_path / "kept.json")
    ids = tampered.ids()
    tampered.alter_one_byte(ids[4])
    tlog = transparency_of(tampered.services)
    notification = tampered.services.app.recorder.select_notifications(start=ids[4], limit=1)[0]
    tampered.run(f"UPDATE {tampered.leaves} SET leaf_hash = ? WHERE leaf_index = 4", [leaf_of(notification)])
    tampered.run(f"DELETE FROM {tampered.checkpoints}")
    assert tlog.checkpoints() == []
    code, lines = verify(capsys)
    assert code == 0, lines  # nothing left inside to compare with
    code, lines = verify(capsys, "--checkpoint", str(kept))
    assert code == 1
    assert any(
        "given checkpoint #1" in line and "the first difference is at a leaf from 0 to" in line
        for line in lines
    ), lines


def test_a_key_not_trusted_is_reported(tampered: Store, capsys: Any, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    write_new_key(other)
    tlog = transparency_of(tampered.services)
    tlog.key_file = other
    tlog.checkpoint()  # signed well, by a key the command is not configured with
    code, lines = verify(capsys)
    assert code == 1
    assert any("#2" in line and "not the trusted one" in line for line in lines)


def test_bad_usage_is_exit_2(tampered: Store, capsys: Any, tmp_path: Path) -> None:
    code = main(["audit", "verify", "--checkpoint", str(tmp_path / "missing.json")])
    assert code == 2
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["audit", "verify", "--checkpoint", str(tmp_path / "bad.json")]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["audit", "verify", "--no-such-option"])
    assert exit_.value.code == 2


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "key.pem"
    assert main(["audit", "keygen", "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    assert main(["audit", "keygen", "--out", str(out)]) == 2  # never overwritten
