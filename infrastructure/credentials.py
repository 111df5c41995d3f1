"""Bearer-token credentials: only a SHA-256 hash of each token is stored."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from application.readmodel import utc_text
from domain.actor import PARTY_ROLES, Actor, Role
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


class Credentials:
    def __init__(self, views: LinliViews) -> None:
        self.views = views

    def issue(
        self,
        *,
        actor_id: str,
        role: Role,
        compound_ids: list[UUID] | None,
        household_id: UUID | None = None,
        party_id: UUID | None = None,
        issued_by: str = "cli",
    ) -> IssuedToken:
        """Create a credential; the token is returned once and never stored."""
        if not actor_id.strip():
            raise ValueError("actor: must not be empty")
        if role == Role.RESIDENT and household_id is None:
            raise ValueError("a resident's credential names their household (--household)")
        if role in PARTY_ROLES and party_id is None:
            raise ValueError(f"a {role} credential names the party it acts for (--party)")
        if compound_ids is None and role not in (Role.SUPERVISOR, Role.ADMIN, Role.COMMUNITY_STAFF):
            raise ValueError(f"a {role} credential must name its compounds (--compound)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)
        doc = {
            "actor_id": actor_id,
            "role": str(role),
            "compound_ids": None if compound_ids is None else [str(c) for c in compound_ids],
            "household_id": None if household_id is None else str(household_id),
            "party_id": None if party_id is None else str(party_id),
            "issued_by": issued_by,
            "token_id": digest[:TOKEN_ID_LENGTH],
        }
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            c.execute(
                self.views.sql(
                    "INSERT INTO {credentials} (token_hash, actor_id, role, doc, created_at) "
                    "VALUES (?, ?, ?, ?, ?)"
                ),
                [digest, actor_id, str(role), json.dumps(doc), now],
            )
        return IssuedToken(token, digest[:TOKEN_ID_LENGTH], _actor(doc))

    def authenticate(self, token: str) -> Actor | None:
        with self.views.reading() as c:
            c.execute(
                self.views.sql(
                    "SELECT doc FROM {credentials} WHERE token_hash = ? AND revoked_at IS NULL"
                ),
                [token_hash(token)],
            )
            row = c.fetchone()
        return _actor(json.loads(row["doc"])) if row else None

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
            return len(c.fetchall())

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


def _actor(doc: dict[str, object]) -> Actor:
    compounds = doc["compound_ids"]
    return Actor(
        id=str(doc["actor_id"]),
        role=Role(str(doc["role"])),
        compound_ids=None if compounds is None else frozenset(UUID(c) for c in compounds),  # type: ignore[union-attr]
        household_id=UUID(str(doc["household_id"])) if doc.get("household_id") else None,
        party_id=UUID(str(doc["party_id"])) if doc.get("party_id") else None,
    )
