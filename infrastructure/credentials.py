"""Bearer-token credentials: only a SHA-256 hash of each token is stored."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.readmodel import utc_text
from domain.actor import Actor, Role
from infrastructure.views import LinliViews

TOKEN_PREFIX = "linli_"
TOKEN_ID_LENGTH = 12  # the id printed at issue: the first hex digits of the token's hash
_TOKEN_ID = re.compile(f"[0-9a-f]{{{TOKEN_ID_LENGTH}}}")


def check_token_id(token_id: str) -> str:
    """A token id exactly as ``linli token create`` prints it, or ValueError."""
    if not _TOKEN_ID.fullmatch(token_id):
        raise ValueError(
            f"a token id is the {TOKEN_ID_LENGTH} lowercase hex digits printed at creation, "
            f"like 3f9a0c12b7de; not {token_id!r}"
        )
    return token_id


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str
    token_id: str
    actor: Actor


# Revocations made in this process, by any ``Credentials``: every remembered
# authentication older than the latest one is forgotten (``Credentials.recent``).
_revocations = 0
_revocations_lock = threading.Lock()
MAX_REMEMBERED = 4096  # tokens remembered per Credentials; then all are forgotten


def _revocation_count() -> int:
    return _revocations


def _revoked_here() -> None:
    global _revocations
    with _revocations_lock:
        _revocations += 1


class Credentials:
    def __init__(self, views: LinliViews) -> None:
        self.views = views
        # token hash -> (monotonic expiry, revocation count when read, actor)
        self._remembered: dict[str, tuple[float, int, Actor]] = {}

    def issue(
        self,
        *,
        person_id: str,
        role: Role,
        compound_ids: list[UUID] | None,
        household_id: UUID | None = None,
        party_id: UUID | None = None,
        issued_by: str = "cli",
    ) -> IssuedToken:
        """Create a credential for a registered person; the token is returned
        once and never stored. Whether the compounds, the household and the
        party exist and fit the role is the application's to check first
        (``Linli.check_credential_scope``)."""
        if not person_id.strip():
            raise ValueError("person: must not be empty")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)
        doc = {
            "person_id": person_id,
            "actor_id": person_id,
            "role": str(role),
            "compound_ids": None if compound_ids is None else [str(c) for c in compound_ids],
            "household_id": None if household_id is None else str(household_id),
            "party_id": None if party_id is None else str(party_id),
            "issued_by": issued_by,
            "token_id": digest[:TOKEN_ID_LENGTH],
        }
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            c.execute(self.views.sql("SELECT 1 FROM {persons} WHERE id = ?"), [person_id])
            if c.fetchone() is None:
                raise ValueError(f"no such person: {person_id}")
            c.execute(
                self.views.sql(
                    "INSERT INTO {credentials} (token_hash, actor_id, role, doc, created_at) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                [digest, person_id, str(role), json.dumps(doc), now],
            )
        return IssuedToken(token, digest[:TOKEN_ID_LENGTH], _actor(doc))

    def authenticate(self, token: str) -> Actor | None:
        """The actor of a valid, unrevoked token, read from the database."""
        with self.views.reading() as c:
            c.execute(
                self.views.sql(
                    "SELECT doc FROM {credentials} WHERE token_hash = ? AND revoked_at IS NULL"
                ),
                [token_hash(token)],
            )
            row = c.fetchone()
        return _actor(json.loads(row["doc"])) if row else None

    # ----- remembered authentications (the API's hot path) ------------------
    #
    # ``authenticate_remembering`` remembers a valid token's actor for up to
    # ``max_age`` seconds; ``recent`` answers from that memory without I/O.
    # A revocation made through any Credentials of this process forgets them
    # all at once (also one read while the revocation committed), so it takes
    # effect immediately here; a revocation made by another process (the CLI,
    # another worker) takes effect here within ``max_age`` seconds. Invalid
    # tokens are never remembered, so a newly issued token works at once.

    def recent(self, token: str, max_age: float) -> Actor | None:
        """The actor remembered for ``token`` within ``max_age`` s, or None (then ask the database)."""
        if max_age <= 0:
            return None
        found = self._remembered.get(token_hash(token))
        if found is None:
            return None
        expires, revocations, actor = found
        if revocations != _revocations or time.monotonic() >= expires:
            return None
        return actor

    def authenticate_remembering(self, token: str, max_age: float) -> Actor | None:
        """``authenticate``, remembering a valid token for ``recent`` for ``max_age`` s."""
        revocations = _revocation_count()  # before the read: a revocation meanwhile voids it
        started = time.monotonic()
        actor = self.authenticate(token)
        if actor is not None and max_age > 0:
            if len(self._remembered) >= MAX_REMEMBERED:
                self._remembered.clear()
            self._remembered[token_hash(token)] = (started + max_age, revocations, actor)
        return actor

    def revoke(self, *, token: str | None = None, token_id: str | None = None) -> int:
        """Revoke by the token itself or by the id printed when it was issued.

        Returns how many active credentials were revoked: 0 for an unknown (or
        already revoked) one. An id must be exactly the printed one (ValueError
        otherwise): it is matched whole, never as a prefix or a pattern."""
        if (token is None) == (token_id is None):
            raise ValueError("revoke by the token or by its id, one of the two")
        if token is not None and not token:
            raise ValueError("the token must not be empty")
        if token_id is not None:
            check_token_id(token_id)
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            if token is not None:
                c.execute(
                    self.views.sql(
                        "UPDATE {credentials} SET revoked_at = ? "
                        "WHERE token_hash = ? AND revoked_at IS NULL RETURNING token_hash"
                    ),
                    [now, token_hash(token)],
                )
            else:
                c.execute(
                    self.views.sql(
                        "UPDATE {credentials} SET revoked_at = ? "
                        f"WHERE substr(token_hash, 1, {TOKEN_ID_LENGTH}) = ? AND revoked_at IS NULL "
                        "RETURNING token_hash"
                    ),
                    [now, token_id],
                )
            count = len(c.fetchall())
        _revoked_here()  # after the commit
        return count

    def all(self) -> list[dict[str, Any]]:
        """Every credential ever issued, oldest first, as an operator lists them
        (never the token, which is not stored)."""
        with self.views.reading() as c:
            c.execute(
                self.views.sql(
                    "SELECT doc, created_at, revoked_at FROM {credentials} ORDER BY created_at"
                )
            )
            rows = c.fetchall()
        listed = []
        for row in rows:
            doc = json.loads(row["doc"])
            listed.append(
                {
                    "id": doc["token_id"],
                    "person_id": doc.get("person_id", doc["actor_id"]),
                    "role": doc["role"],
                    "compound_ids": doc["compound_ids"],
                    "household_id": doc.get("household_id"),
                    "party_id": doc.get("party_id"),
                    "issued_by": doc["issued_by"],
                    "created_at": row["created_at"],
                    "revoked_at": row["revoked_at"],
                }
            )
        return listed

    def revoke_person(self, person_id: str) -> int:
        """Revoke every active credential of one person; how many there were."""
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            c.execute(
                self.views.sql(
                    "UPDATE {credentials} SET revoked_at = ? "
                    "WHERE actor_id = ? AND revoked_at IS NULL RETURNING token_hash"
                ),
                [now, person_id],
            )
            count = len(c.fetchall())
        _revoked_here()
        return count

    def revoke_issued_by(self, issued_by: str) -> None:
        """Revoke every credential that one issuer made (the demo's, at each start)."""
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            c.execute(self.views.sql("SELECT token_hash, doc FROM {credentials} WHERE revoked_at IS NULL"))
            hashes = [r["token_hash"] for r in c.fetchall() if json.loads(r["doc"])["issued_by"] == issued_by]
            for digest in hashes:
                c.execute(
                    self.views.sql("UPDATE {credentials} SET revoked_at = ? WHERE token_hash = ?"),
                    [now, digest],
                )
        _revoked_here()


def _actor(doc: dict[str, object]) -> Actor:
    compounds = doc["compound_ids"]
    return Actor(
        id=str(doc["actor_id"]),
        role=Role(str(doc["role"])),
        compound_ids=None if compounds is None else frozenset(UUID(c) for c in compounds),  # type: ignore[union-attr]
        household_id=UUID(str(doc["household_id"])) if doc.get("household_id") else None,
        party_id=UUID(str(doc["party_id"])) if doc.get("party_id") else None,
    )
