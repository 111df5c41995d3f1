"""The console's server-side sessions.

Signing in to the console starts a session: a random id goes to the
browser's cookie and only its SHA-256 hash is stored, beside the hash of the
credential it was started with (never the token). A session authenticates
while

- its credential is not revoked (looked up joined with the credentials
  table, so revoking a credential ends its sessions at once), and
- it has been used within the idle time (each use refreshes
  ``last_seen_at``; a session idle for longer is deleted when next seen).

Signing out deletes the session. Sessions of revoked credentials and idle
ones are also swept away whenever someone signs in (``sweep``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta

from application.readmodel import utc_text
from domain.actor import Actor
from infrastructure.credentials import _actor, token_hash
from infrastructure.views import LinliViews

MAX_SESSION_ID_LENGTH = 100  # token_urlsafe(32) is 43 characters; longer is not ours
# ``last_seen_at`` is rewritten at most this often (and at most every tenth of
# the idle time), so that a busy session costs a write now and then, not per page.
REFRESH_AT_MOST_EVERY = timedelta(seconds=60)


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class ConsoleSessions:
    def __init__(self, views: LinliViews) -> None:
        self.views = views

    def start(self, token: str) -> str | None:
        """A new session for a valid, unrevoked token: its id (for the cookie),
        or None when the token has no active credential. The check and the
        insert are one statement, so a credential revoked meanwhile starts none."""
        session_id = secrets.token_urlsafe(32)
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            c.execute(
                self.views.sql(
                    "INSERT INTO {console_sessions} "
                    "(session_hash, token_hash, created_at, last_seen_at) "
                    "SELECT ?, token_hash, ?, ? FROM {credentials} "
                    "WHERE token_hash = ? AND revoked_at IS NULL RETURNING session_hash"
                ),
                [session_hash(session_id), now, now, token_hash(token)],
            )
            started = c.fetchall()
        return session_id if started else None

    def actor(self, session_id: str, idle: timedelta) -> Actor | None:
        """The actor of a live session, refreshing when it was last seen; None
        for an unknown, ended or idle session, or one whose credential was revoked."""
        if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
            return None
        digest = session_hash(session_id)
        now = datetime.now(UTC)
        with self.views.reading() as c:
            c.execute(
                self.views.sql(
                    "SELECT s.last_seen_at, c.doc FROM {console_sessions} s "
                    "JOIN {credentials} c ON c.token_hash = s.token_hash "
                    "WHERE s.session_hash = ? AND c.revoked_at IS NULL"
                ),
                [digest],
            )
            row = c.fetchone()
        if row is None:
            return None
        last_seen = datetime.fromisoformat(row["last_seen_at"])
        if now - last_seen >= idle:
            self._delete(digest)
            return None
        if now - last_seen >= min(idle / 10, REFRESH_AT_MOST_EVERY):
            with self.views.writing() as c:
                c.execute(
                    self.views.sql(
                        "UPDATE {console_sessions} SET last_seen_at = ? "
                        "WHERE session_hash = ? AND last_seen_at < ?"
                    ),
                    [utc_text(now), digest, utc_text(now)],
                )
        return _actor(json.loads(row["doc"]))

    def end(self, session_id: str) -> None:
        """Sign out: the session is deleted (an unknown id is no error)."""
        if session_id and len(session_id) <= MAX_SESSION_ID_LENGTH:
            self._delete(session_hash(session_id))

    def sweep(self, idle: timedelta) -> int:
        """Delete the sessions idle for longer than ``idle`` and those whose
        credential is revoked (or gone); returns how many went."""
        cutoff = utc_text(datetime.now(UTC) - idle)
        with self.views.writing() as c:
            c.execute(
                self.views.sql(
                    "DELETE FROM {console_sessions} WHERE last_seen_at < ? OR token_hash NOT IN "
                    "(SELECT token_hash FROM {credentials} WHERE revoked_at IS NULL) "
                    "RETURNING session_hash"
                ),
                [cutoff],
            )
            return len(c.fetchall())

    def _delete(self, digest: str) -> None:
        with self.views.writing() as c:
            c.execute(
                self.views.sql("DELETE FROM {console_sessions} WHERE session_hash = ?"),
                [digest],
            )
