"""The Merkle tree over the log (application/transparency.py), stored and
kept up to date, and its signed checkpoints.

Tables, in the events' datastore (SQLite file or PostgreSQL schema):

* ``linli_merkle_leaves`` (leaf_index, notification_id, leaf_hash): one row
  per stored event, in log order, leaf indexes dense from 0.
* ``linli_merkle_position`` (one row): the notification id the leaves
  reach, how many there are, and a generation that a rebuild changes. It is
  updated in the transaction that inserts a batch of leaves, and only if it
  still holds what the writer read (so two writers, in two processes, never
  both append: the second's transaction writes nothing and it reads again).
  That is the views' tracked-position discipline: exactly once, resumable.
* ``linli_checkpoints``: signed tree heads (tree size, root, timestamp,
  Ed25519 signature, the signing key's public half).

Roots and proofs come from an in-memory ``Tree`` of the leaf hashes, loaded
from the table once and extended as leaves are added (here or, read back,
by another process).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from application.transparency import (
    CHECKPOINT_FORMAT,
    Tree,
    b64,
    checkpoint_message,
    encode_leaf,
    leaf_hash,
)

if TYPE_CHECKING:
    from infrastructure.settings import Settings
    from infrastructure.store import Services

log = logging.getLogger(__name__)

LEAVES = "linli_merkle_leaves"
POSITION = "linli_merkle_position"
CHECKPOINTS = "linli_checkpoints"
KEY_SETTING = "LINLI_CHECKPOINT_KEY_FILE"
UPKEEP_SETTING = "LINLI_TRANSPARENCY_UPKEEP"

Progress = Callable[[int, int], None]  # (leaves added in this step, notification id reached)


class NoCheckpointKey(Exception):
    """No usable signing key: the message names the setting and what is wrong."""


class PositionMoved(Exception):
    """Another writer appended leaves meanwhile: read the position again."""


def leaf_of(notification: Any) -> bytes:
    """A stored event's leaf hash, from the record as stored."""
    originator_id = notification.originator_id
    if not isinstance(originator_id, UUID):
        originator_id = UUID(str(originator_id))
    return leaf_hash(
        encode_leaf(
            notification.topic, originator_id, notification.originator_version, notification.state
        )
    )


def utc_timestamp(now: datetime | None = None) -> str:
    """A checkpoint's timestamp: UTC to the millisecond, ``2026-12-07T14:35:33.123Z``."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


# ----- keys -------------------------------------------------------------------------------


def write_new_key(path: Path) -> Ed25519PublicKey:
    """Write a new Ed25519 private key to ``path`` (PKCS#8 PEM, mode 0600;
    refuses to overwrite); return its public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    os.chmod(path, 0o600)
    return key.public_key()


def load_private_key(path: Path | None) -> Ed25519PrivateKey:
    if path is None:
        raise NoCheckpointKey(
            f"no checkpoint signing key: set {KEY_SETTING} to a key file made with "
            "`linli audit keygen --out FILE`"
        )
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise NoCheckpointKey(f"{KEY_SETTING}={path}: cannot read it: {error.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise NoCheckpointKey(f"{KEY_SETTING}={path}: not an unencrypted PEM key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise NoCheckpointKey(f"{KEY_SETTING}={path}: not an Ed25519 key")
    return key


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key given as PEM, or as its 32 raw bytes in base64."""
    import base64

    if "BEGIN" in text:
        key = serialization.load_pem_public_key(text.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def checkpoint_document(row: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as the API gives it and ``linli audit verify --checkpoint`` reads it."""
    return {
        "id": int(row["id"]),
        "format": CHECKPOINT_FORMAT,
        "tree_size": int(row["tree_size"]),
        "root_hash": b64(bytes(row["root_hash"])),
        "timestamp": row["signed_at"],
        "signature": b64(bytes(row["signature"])),
        "public_key": b64(bytes(row["public_key"])),
    }


# ----- the stored tree ----------------------------------------------------------------------


class TransparencyLog:
    def __init__(
        self,
        app: Any,
        datastore: Any,
        *,
        postgres: bool,
        settings: Settings | None = None,
        key_file: Path | None = None,
        checkpoint_interval: float = 0.0,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        upkeep: bool = True,
    ) -> None:
        self.app = app
        self.settings = settings
        self.datastore = datastore
        self.postgres = postgres
        self.key_file = key_file
        self.checkpoint_interval = checkpoint_interval
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # Whether ``start`` runs the upkeep thread (``LINLI_TRANSPARENCY_UPKEEP``).
        self.upkeep = upkeep
        events = app.recorder.events_table_name
        if postgres:
            schema = datastore.schema
            self.leaves_table = f'"{schema}"."{LEAVES}"'
            self.position_table = f'"{schema}"."{POSITION}"'
            self.checkpoints_table = f'"{schema}"."{CHECKPOINTS}"'
            self.events_table, self.events_column = f'"{schema}"."{events}"', "notification_id"
        else:
            self.leaves_table, self.position_table = LEAVES, POSITION
            self.checkpoints_table = CHECKPOINTS
            self.events_table, self.events_column = events, "rowid"
        self._lock = threading.RLock()
        self._tree = Tree()
        self._tree_generation: int | None = None
        self._tables = False
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.last_error: str | None = None

    @classmethod
    def for_services(cls, services: Services) -> TransparencyLog:
        settings = services.settings
        return cls(
            services.app,
            services.app.factory.datastore,  # type: ignore[attr-defined]
            postgres=settings.store == "postgres",
            settings=settings,
            key_file=settings.checkpoint_key_file,
            checkpoint_interval=settings.checkpoint_interval_seconds,
            batch_size=settings.projection_batch_size,
            upkeep=settings.transparency_upkeep,
        )

    def sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text

    # ----- tables ---------------------------------------------------------------------

    def create_tables(self) -> None:
        blob = "BYTEA" if self.postgres else "BLOB"
        big = "BIGINT" if self.postgres else "INTEGER"
        serial = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if self.postgres else (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.leaves_table} (leaf_index {big} PRIMARY KEY, "
            f"notification_id {big} NOT NULL UNIQUE, leaf_hash {blob} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.position_table} (name TEXT PRIMARY KEY, "
            f"notification_id {big} NOT NULL, leaf_count {big} NOT NULL, generation {big} NOT NULL)",
            f"INSERT INTO {self.position_table} VALUES ('log', 0, 0, 0) ON CONFLICT (name) DO NOTHING",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints_table} (id {serial}, "
            f"tree_size {big} NOT NULL, root_hash {blob} NOT NULL, signed_at TEXT NOT NULL, "
            f"signature {blob} NOT NULL, public_key {blob} NOT NULL)",
        ]
        if self._tables_exist():
            self._tables = True
            return
        with self._schema_lock(), self.datastore.transaction(commit=True) as c:
            for statement in statements:
                c.execute(statement)
        self._tables = True

    def _tables_exist(self) -> bool:
        """Whether the tables are there, read without writing (on SQLite a
        write would wait for, or clash with, the views' writer)."""
        with self.datastore.transaction(commit=False) as c:
            if self.postgres:
                c.execute(
                    "SELECT count(*) AS n FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name IN (%s, %s, %s)",
                    [self.datastore.schema, LEAVES, POSITION, CHECKPOINTS],
                )
            else:
                c.execute(
                    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' "
                    "AND name IN (?, ?, ?)",
                    [LEAVES, POSITION, CHECKPOINTS],
                )
            return int(c.fetchone()["n"]) == 3

    def _schema_lock(self) -> Any:
        """The lock ``infrastructure.store`` takes around creating tables (on
        PostgreSQL), so that processes starting at once take turns."""
        from contextlib import nullcontext

        from infrastructure.store import schema_lock

        return nullcontext() if self.settings is None else schema_lock(self.settings)

    def _ready(self) -> None:
        if not self._tables:
            self.create_tables()

    # ----- the position and the leaves --------------------------------------------------

    def position(self) -> tuple[int, int, int]:
        """(notification id reached, leaf count, generation), as stored."""
        self._ready()
        with self.datastore.transaction(commit=False) as c:
            return self._read_position(c)

    def _read_position(self, c: Any) -> tuple[int, int, int]:
        c.execute(
            f"SELECT notification_id, leaf_count, generation FROM {self.position_table} "
            "WHERE name = 'log'"
        )
        row = c.fetchone()
        return int(row["notification_id"]), int(row["leaf_count"]), int(row["generation"])

    def log_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def run_once(self) -> int:
        """Hash the next batch of stored events into leaves; how many there were."""
        self._ready()
        with self._lock:
            while True:
                added = self._append_batch()
                if added is not None:
                    return added

    def _append_batch(self) -> int | None:
        """The next batch's leaves and the new position, in one transaction;
        None when another writer moved the position meanwhile (read it again)."""
        reached, count, generation = self.position()
        notifications = self.app.recorder.select_notifications(
            start=reached + 1, limit=self.batch_size
        )
        if not notifications:
            return 0
        # Hashed before the transaction: no Python work while it is open.
        rows = [(count + i, n.id, leaf_of(n)) for i, n in enumerate(notifications)]
        try:
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    self.sql(
                        f"UPDATE {self.position_table} SET notification_id = ?, leaf_count = ? "
                        "WHERE name = 'log' AND notification_id = ? AND leaf_count = ? "
                        "AND generation = ?"
                    ),
                    [notifications[-1].id, count + len(rows), reached, count, generation],
                )
                if getattr(c, "sqlite_cursor", c).rowcount != 1:
                    raise PositionMoved
                c.executemany(
                    self.sql(
                        f"INSERT INTO {self.leaves_table} (leaf_index, notification_id, leaf_hash) "
                        "VALUES (?, ?, ?)"
                    ),
                    rows,
                )
        except PositionMoved:
            return None
        if self._tree_generation == generation and self._tree.size == count:
            self._tree.extend(r[2] for r in rows)
        return len(rows)

    def catch_up(self, progress: Progress | None = None) -> int:
        done = 0
        while count := self.run_once():
            done += count
            if progress is not None:
                progress(count, self.position()[0])
        return done

    def tree(self) -> Tree:
        """The tree of the leaves stored, as far as they go now (read anew
        when another process added leaves or rebuilt them)."""
        self._ready()
        with self._lock:
            _, count, generation = self.position()
            if generation != self._tree_generation or count < self._tree.size:
                self._tree, self._tree_generation = Tree(), generation
            if count > self._tree.size:
                for _, _, h in self.stored_leaves(self._tree.size, count):
                    self._tree.append(h)
            return self._tree

    def stored_leaves(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, int, bytes]]:
        """(leaf index, notification id, leaf hash) of the leaves stored, in order."""
        self._ready()
        at = start
        while stop is None or at < stop:
            upper = at + 10_000 if stop is None else min(stop, at + 10_000)
            with self.datastore.transaction(commit=False) as c:
                c.execute(
                    self.sql(
                        f"SELECT leaf_index, notification_id, leaf_hash FROM {self.leaves_table} "
                        "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index"
                    ),
                    [at, upper],
                )
                rows = c.fetchall()
            if not rows:
                return
            for row in rows:
                yield int(row["leaf_index"]), int(row["notification_id"]), bytes(row["leaf_hash"])
            at = int(rows[-1]["leaf_index"]) + 1

    def trail_leaves(self, history_table: str, case_id: str) -> list[dict[str, Any]]:
        """The events on a case's trail, oldest first, each with its leaf when
        the tree has one (else ``leaf_index`` and ``leaf_hash`` are None).

        ``history_table`` is the views' trail table (``case_history``: rows of
        case id, log position, and the case type of the event there); a trail
        holds events of other aggregates too (a consultation's on each of its
        needs' trails, a need's on its service list's and offer's), each given
        with its own aggregate (``originator_id``), ``version`` and
        ``case_type``. One query, whatever the trail's length."""
        self._ready()
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT h.position, h.case_type, e.originator_id, e.originator_version, "
                    f"l.leaf_index, l.leaf_hash FROM {history_table} h "
                    f"JOIN {self.events_table} e ON e.{self.events_column} = h.position "
                    f"LEFT JOIN {self.leaves_table} l ON l.notification_id = h.position "
                    "WHERE h.case_id = ? ORDER BY h.position"
                ),
                [case_id],
            )
            rows = c.fetchall()
        found = []
        for r in rows:
            originator_id = r["originator_id"]
            if not isinstance(originator_id, UUID):
                originator_id = UUID(str(originator_id))
            found.append(
                {
                    "notification_id": int(r["position"]),
                    "case_type": r["case_type"],
                    "originator_id": originator_id,
                    "version": int(r["originator_version"]),
                    "leaf_index": None if r["leaf_index"] is None else int(r["leaf_index"]),
                    "leaf_hash": None if r["leaf_hash"] is None else bytes(r["leaf_hash"]),
                }
            )
        return found

    def recorded_at(self, h: bytes) -> int | None:
        """The index of the stored leaf with hash ``h``, if any (a full scan: for reports)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(f"SELECT MIN(leaf_index) AS i FROM {self.leaves_table} WHERE leaf_hash = ?"),
                [h],
            )
            row = c.fetchone()
        return None if row is None or row["i"] is None else int(row["i"])

    def rebuild(self, progress: Progress | None = None) -> int:
        """Drop the leaves and hash every stored event again; the new size.
        Checkpoints stay: one made before a change to the events no longer
        matches, and ``linli audit verify`` says so."""
        self._ready()
        with self._lock, self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {self.leaves_table}")
            c.execute(
                f"UPDATE {self.position_table} SET notification_id = 0, leaf_count = 0, "
                "generation = generation + 1 WHERE name = 'log'"
            )
        self.catch_up(progress)
        return self.position()[1]

    # ----- checkpoints ---------------------------------------------------------------

    def checkpoint(self, now: datetime | None = None) -> dict[str, Any]:
        """Sign the tree as the stored events make it now; the checkpoint.
        ``NoCheckpointKey`` without a usable key."""
        key = load_private_key(self.key_file)
        self.catch_up()
        with self._lock:
            tree = self.tree()
            size, root = tree.size, tree.root()
        timestamp = utc_timestamp(now)
        signature = key.sign(checkpoint_message(size, root, timestamp))
        public = public_raw(key.public_key())
        returning = " RETURNING id" if self.postgres else ""
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self.sql(
                    f"INSERT INTO {self.checkpoints_table} "
                    "(tree_size, root_hash, signed_at, signature, public_key) VALUES (?, ?, ?, ?, ?)"
                    + returning
                ),
                [size, root, timestamp, signature, public],
            )
            new_id = c.fetchone()["id"] if self.postgres else c.lastrowid
        return checkpoint_document(
            {
                "id": new_id,
                "tree_size": size,
                "root_hash": root,
                "signed_at": timestamp,
                "signature": signature,
                "public_key": public,
            }
        )

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every stored checkpoint, oldest first."""
        self._ready()
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT id, tree_size, root_hash, signed_at, signature, public_key "
                f"FROM {self.checkpoints_table} ORDER BY id"
            )
            return [checkpoint_document(dict(r)) for r in c.fetchall()]

    def latest_checkpoint(self) -> dict[str, Any] | None:
        self._ready()
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT id, tree_size, root_hash, signed_at, signature, public_key "
                f"FROM {self.checkpoints_table} ORDER BY id DESC LIMIT 1"
            )
            row = c.fetchone()
        return None if row is None else checkpoint_document(dict(row))

    def public_key(self) -> Ed25519PublicKey | None:
        """The configured key's public half, or None without a usable key."""
        try:
            return load_private_key(self.key_file).public_key()
        except NoCheckpointKey:
            return None

    def checkpoint_due(self, now: datetime | None = None) -> bool:
        """Periodic checkpoints: whether the interval has passed since the
        latest one (from any process) and the tree has grown since."""
        if self.checkpoint_interval <= 0 or self.key_file is None:
            return False
        latest = self.latest_checkpoint()
        if latest is None:
            return self.position()[1] > 0
        made = datetime.strptime(latest["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        now = now or datetime.now(UTC)
        return (now - made).total_seconds() >= self.checkpoint_interval and (
            self.position()[1] > latest["tree_size"]
        )

    # ----- running beside the service -------------------------------------------------

    def wake(self, position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        """Run the upkeep thread: new events hashed into leaves as they come,
        periodic checkpoints signed. Not with ``LINLI_TRANSPARENCY_UPKEEP=false``:
        then whoever reads the tree brings it up to date first (``catch_up``,
        as the integrity routes and ``linli audit checkpoint`` do)."""
        if self._thread is not None:
            return
        if not self.upkeep:
            log.info(
                "%s=false: no tree upkeep thread; the Merkle tree is brought up to date "
                "when proofs or checkpoints are asked for",
                UPKEEP_SETTING,
            )
            return
        self._stopping.clear()
        thread = threading.Thread(target=self._loop, name="linli-merkle", daemon=True)
        thread.start()
        # Kept once started: a stop that comes in between (a signal) has none to join.
        self._thread = thread

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                self.catch_up()
                if self.checkpoint_due():
                    made = self.checkpoint()
                    log.info("checkpoint of %d leaves signed", made["tree_size"])
            except Exception as error:  # keep going: the tree stays where it was
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("keeping the Merkle tree failed; retrying")
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.last_error = None
            backoff = 0.1
            self._wake.wait(self.poll_interval)


def transparency_of(services: Services) -> TransparencyLog:
    """The services' transparency log: the one ``infrastructure.store`` built,
    else one made now and kept with them."""
    found = getattr(services, "transparency", None)
    if found is None:
        found = TransparencyLog.for_services(services)
        services.transparency = found  # type: ignore[attr-defined]
    return found



# ----- verifying ----------------------------------------------------------------------------


class Verification:
    """What ``verify`` found: problems (each one line), and a summary.

    ``events`` are the stored events read (the whole log, as far as it went
    while verify read it), ``root`` the root of the tree they make, every one
    of them hashed in; ``leaves`` are the kept tree's leaves they were
    compared with (those stored when verify began); the events past them,
    ``newer``, are those the upkeep had not yet hashed into the kept tree.
    They are in ``root`` and in the roots compared with checkpoints all the
    same: a verify right after writes covers them."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.events = 0
        self.leaves = 0
        self.checkpoints = 0
        self.root: bytes | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def newer(self) -> int:
        """Events after the kept tree's leaves: hashed into ``root``, compared with no kept leaf."""
        return max(self.events - self.leaves, 0)

    def summary(self) -> str:
        root = b64(self.root) if self.root is not None else "-"
        checkpoints = f"{self.checkpoints} signed checkpoint(s)"
        if not self.newer:
            return (
                f"verified: {self.events} events match the {self.leaves} leaves of the tree "
                f"(root {root}) and {checkpoints}"
            )
        return (
            f"verified: {self.events} events (root {root}): the first {self.leaves} match "
            f"the {self.leaves} leaves of the kept tree, the {self.newer} newer than it are "
            f"hashed into the root; and {checkpoints}"
        )


def _tapped(
    rows: Iterator[tuple[int, bytes]], frontier: Any, sizes: set[int], roots: dict[int, bytes]
) -> Iterator[tuple[int, bytes]]:
    """``rows`` as they are, each leaf hash added to ``frontier``; the root at each of ``sizes`` kept."""
    if 0 in sizes:
        roots[0] = frontier.root()
    for row in rows:
        frontier.append(row[1])
        if frontier.size in sizes:
            roots[frontier.size] = frontier.root()
        yield row


def verify(
    tlog: TransparencyLog,
    extra: list[dict[str, Any]] | None = None,
    trusted: list[Ed25519PublicKey] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verification:
    """Recompute the tree from the stored events (all of them: those the
    upkeep has not hashed into the kept tree yet too) and compare it with the
    stored leaves, with every stored checkpoint and with ``extra``
    checkpoints (kept outside, e.g. a file); check every signature. A
    checkpoint signed by a key not in ``trusted`` (when any is given) is a
    problem too: whoever can write the table can sign with a key of their own.

    The kept leaves compared are those stored when it begins (read after the
    checkpoints, so that every stored checkpoint's leaves are among them):
    leaves the upkeep adds meanwhile belong to events that may come after the
    last one read, and are left for the next verify."""
    from application.transparency import Frontier, first_difference, unb64

    result = Verification()
    stored = [("stored checkpoint", c) for c in tlog.checkpoints()]
    given = [("given checkpoint", c) for c in (extra or [])]
    every = stored + given
    result.checkpoints = len(every)
    trusted_raw = {public_raw(k) for k in trusted or []}
    sizes = set()
    for label, c in every:
        try:
            size, root = int(c["tree_size"]), unb64(c["root_hash"])
            signature, public = unb64(c["signature"]), unb64(c["public_key"])
            message = checkpoint_message(size, root, str(c["timestamp"]))
            key = Ed25519PublicKey.from_public_bytes(public)
        except (KeyError, TypeError, ValueError) as error:
            result.problems.append(f"{label} {_name(c)}: cannot be read: {error}")
            continue
        sizes.add(size)
        if not signature_valid(key, message, signature):
            result.problems.append(f"{label} {_name(c)}: the signature is forged (not valid)")
        elif trusted_raw and public not in trusted_raw:
            result.problems.append(
                f"{label} {_name(c)}: signed by a key that is not the trusted one ({b64(public)})"
            )

    _, kept, _ = tlog.position()
    found_frontier, recorded_frontier = Frontier(), Frontier()
    found_roots: dict[int, bytes] = {}
    recorded_roots: dict[int, bytes] = {}

    def events() -> Iterator[tuple[int, bytes]]:
        start = 1
        while True:
            batch = tlog.app.recorder.select_notifications(start=start, limit=tlog.batch_size)
            if not batch:
                return
            for n in batch:
                yield n.id, leaf_of(n)
            if progress is not None:
                progress(len(batch))
            start = batch[-1].id + 1

    found = _tapped(events(), found_frontier, sizes, found_roots)
    recorded = _tapped(
        ((nid, h) for _, nid, h in tlog.stored_leaves(0, kept)),
        recorded_frontier,
        sizes,
        recorded_roots,
    )
    difference = first_difference(recorded, found, tlog.recorded_at)
    for _ in found:  # the rest, for the checkpoints' roots
        pass
    for _ in recorded:
        pass
    result.events, result.leaves = found_frontier.size, recorded_frontier.size
    result.root = found_frontier.root()
    if difference is not None:
        result.problems.insert(0, difference.text)
    if result.leaves != kept:
        result.problems.append(
            f"the kept tree counts {kept} leaves but {result.leaves} are stored: leaves were "
            "removed (`linli audit rebuild` hashes the events again)"
        )

    good_sizes = [0]
    for label, c in sorted(every, key=lambda lc: int(lc[1].get("tree_size", 0))):
        try:
            size, root = int(c["tree_size"]), unb64(c["root_hash"])
        except (KeyError, TypeError, ValueError):
            continue
        if size > result.events:
            result.problems.append(
                f"{label} {_name(c)}: the log is shorter than it: {result.events} events, "
                f"the checkpoint signed {size}"
            )
            continue
        if found_roots.get(size) != root:
            since = max(s for s in good_sizes if s <= size)
            result.problems.append(
                f"{label} {_name(c)}: the first {size} events are not those it signed; "
                f"the first difference is at a leaf from {since} to {size - 1}"
            )
        else:
            good_sizes.append(size)
        if size <= result.leaves and recorded_roots.get(size) != root:
            result.problems.append(f"{label} {_name(c)}: the stored leaves do not match it")
        elif label == "stored checkpoint" and size > result.leaves:
            result.problems.append(
                f"{label} {_name(c)}: the kept tree has only {result.leaves} leaves, fewer "
                f"than the {size} it signed: leaves were removed"
            )
    return result


def _name(c: dict[str, Any]) -> str:
    number = f"#{c['id']} " if "id" in c else ""
    return f"{number}(size {c.get('tree_size')}, {c.get('timestamp')})"
