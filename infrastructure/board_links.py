"""The public notice board's links (公示栏): one unguessable token per compound.

A compound's board is read without a credential at ``/board/{token}``; staff
make a new link (rotate), and the old one answers 404 from then on. The
table is a registry, not a view: nothing rebuilds it from the log, and the
token, a secret, is never written into the event log.

Each row is one link a member of staff made: the token's SHA-256 hash (what
a request is looked up by), the token itself while the link is current (so
that staff can read the link again; it is cleared when the link is
replaced), who made it (person id and role) and when, and who replaced it
and when. The rows of replaced links stay: they are the attributable record
of every rotation. One current link per compound (a partial unique index).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.base import KeyReused, RequestKey
from application.readmodel import utc_text
from domain.actor import Actor
from infrastructure.views import LinliViews

TABLE = "board_links"
# token_urlsafe(24): 24 random bytes, 192 bits, 32 characters.
TOKEN_BYTES = 24
MAX_TOKEN_LENGTH = 100  # longer is not one of ours: not looked up at all
# Two staff rotating one compound's link at once: the loser tries again.
ROTATE_ATTEMPTS = 3


def link_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class BoardLink:
    """A compound's current link: the token, and who made it when."""

    compound_id: UUID
    token: str
    created_at: str
    created_by: str
    created_by_role: str
    # How many links this compound had before this one (0 for the first).
    replaced: int = 0


@dataclass(frozen=True)
class Rotation:
    """One link made (and, if it is no longer current, replaced): never the token."""

    token_id: str  # the first 12 hex digits of the token's hash
    created_at: str
    created_by: str
    created_by_role: str
    replaced_at: str | None
    replaced_by: str | None
    replaced_by_role: str | None


def ddl(views: LinliViews) -> list[str]:
    table = views.table(TABLE)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "token_hash TEXT PRIMARY KEY, compound_id TEXT NOT NULL, token TEXT, "
        "created_at TEXT NOT NULL, created_by TEXT NOT NULL, created_by_role TEXT NOT NULL, "
        "replaced_at TEXT, replaced_by TEXT, replaced_by_role TEXT, "
        "request_scope TEXT, request_hash TEXT)",
        f"CREATE UNIQUE INDEX IF NOT EXISTS board_links_current ON {table} (compound_id) "
        "WHERE replaced_at IS NULL",
    ]


def create_board_links_table(views: LinliViews) -> None:
    with views.writing() as c:
        for statement in ddl(views):
            c.execute(statement)


class BoardLinks:
    def __init__(self, views: LinliViews) -> None:
        self.views = views

    def _sql(self, text: str) -> str:
        text = text.replace("{board_links}", self.views.table(TABLE))
        placeholder = self.views.placeholder
        return text.replace("?", placeholder) if placeholder != "?" else text

    def rotate(self, compound_id: UUID, by: Actor, key: RequestKey | None = None) -> BoardLink:
        """A new link for the compound, replacing the current one (if any) in
        the same transaction: from its commit, the old token finds nothing.

        With an idempotency key (``key``) that made a link of this compound
        before, nothing is made again: the answer is the compound's current
        link. The key with another request is ``KeyReused``."""
        last_error: Exception | None = None
        for _ in range(ROTATE_ATTEMPTS):
            if key is not None and self._made_under(compound_id, key):
                current = self.current(compound_id)
                if current is not None:
                    return current
            token = secrets.token_urlsafe(TOKEN_BYTES)
            now = utc_text(datetime.now(UTC))
            assert now is not None
            try:
                with self.views.writing() as c:
                    c.execute(
                        self._sql(
                            "UPDATE {board_links} SET token = NULL, replaced_at = ?, "
                            "replaced_by = ?, replaced_by_role = ? "
                            "WHERE compound_id = ? AND replaced_at IS NULL"
                        ),
                        [now, by.id, str(by.role), str(compound_id)],
                    )
                    c.execute(
                        self._sql(
                            "INSERT INTO {board_links} (token_hash, compound_id, token, "
                            "created_at, created_by, created_by_role, request_scope, request_hash) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                        ),
                        [
                            link_hash(token),
                            str(compound_id),
                            token,
                            now,
                            by.id,
                            str(by.role),
                            None if key is None else key.scope,
                            None if key is None else key.request,
                        ],
                    )
                    c.execute(
                        self._sql(
                            "SELECT COUNT(*) AS n FROM {board_links} "
                            "WHERE compound_id = ? AND replaced_at IS NOT NULL"
                        ),
                        [str(compound_id)],
                    )
                    replaced = int(c.fetchone()["n"])
            except IntegrityError as error:  # another rotation's link came first: go again
                last_error = error
                continue
            return BoardLink(compound_id, token, now, by.id, str(by.role), replaced)
        raise RuntimeError("could not rotate the board link") from last_error

    def _made_under(self, compound_id: UUID, key: RequestKey) -> bool:
        with self.views.reading() as c:
            c.execute(
                self._sql(
                    "SELECT request_hash FROM {board_links} "
                    "WHERE compound_id = ? AND request_scope = ?"
                ),
                [str(compound_id), key.scope],
            )
            row = c.fetchone()
        if row is None:
            return False
        if row["request_hash"] != key.request:
            raise KeyReused
        return True

    def current(self, compound_id: UUID) -> BoardLink | None:
        with self.views.reading() as c:
            c.execute(
                self._sql(
                    "SELECT token, created_at, created_by, created_by_role FROM {board_links} "
                    "WHERE compound_id = ? AND replaced_at IS NULL"
                ),
                [str(compound_id)],
            )
            row = c.fetchone()
            if row is None:
                return None
            c.execute(
                self._sql(
                    "SELECT COUNT(*) AS n FROM {board_links} "
                    "WHERE compound_id = ? AND replaced_at IS NOT NULL"
                ),
                [str(compound_id)],
            )
            replaced = int(c.fetchone()["n"])
        return BoardLink(
            compound_id,
            row["token"],
            row["created_at"],
            row["created_by"],
            row["created_by_role"],
            replaced,
        )

    def compound_of(self, token: str) -> UUID | None:
        """The compound whose current link ``token`` is; None for any other
        string (unknown, replaced, malformed), alike."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        with self.views.reading() as c:
            c.execute(
                self._sql(
                    "SELECT compound_id FROM {board_links} "
                    "WHERE token_hash = ? AND replaced_at IS NULL"
                ),
                [link_hash(token)],
            )
            row = c.fetchone()
        return UUID(row["compound_id"]) if row else None

    def rotations(self, compound_id: UUID) -> list[Rotation]:
        """Every link the compound had, oldest first: who made it and replaced it, when."""
        with self.views.reading() as c:
            c.execute(
                self._sql(
                    "SELECT token_hash, created_at, created_by, created_by_role, replaced_at, "
                    "replaced_by, replaced_by_role FROM {board_links} "
                    "WHERE compound_id = ? ORDER BY created_at, token_hash"
                ),
                [str(compound_id)],
            )
            rows: list[Any] = c.fetchall()
        return [
            Rotation(
                row["token_hash"][:12],
                row["created_at"],
                row["created_by"],
                row["created_by_role"],
                row["replaced_at"],
                row["replaced_by"],
                row["replaced_by_role"],
            )
            for row in rows
        ]
