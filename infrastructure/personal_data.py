"""Personal data in the log, encrypted with a key of its person (crypto-shredding).

What counts as personal data, and whose it is, is the domain's decision
(domain/personal.py). Here: the mapper that stores those fields encrypted
(AES-256-GCM, a key per person) and opens them when events are read, and the
store of the keys, kept beside the views and never in the events.

A stored personal field is ``{"sealed": "<base64 of nonce and ciphertext>"}``
in place of the text; the associated data binds it to its event and field,
so that a sealed value moved elsewhere does not open. The Merkle tree hashes
the stored (sealed) form, so destroying a key changes no stored byte.

Erasing a person destroys their key: the row stays, with ``key`` NULL and
when it was erased. From then on the person's fields read as ``ERASED``, and
new personal data of theirs is refused (``PersonErased``).

Each process remembers keys it used for ``CACHE_SECONDS``, so that reading a
log does not ask for a key per event; an erasure made by another process
therefore applies to this process's reads of the log within that time (the
views are drawn again at once, by the projection; see LinliViews).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent

from application.readmodel import utc_text
from domain.personal import ERASED, PersonErased, personal_fields

CACHE_SECONDS = 10.0
_NONCE = 12


class PersonKeys(Protocol):
    def for_sealing(self, person_id: str) -> bytes:
        """The person's key, made on first use; PersonErased once erased."""

    def for_opening(self, person_id: str) -> bytes | None:
        """The person's key, or None when it was destroyed (or never made)."""

    def erased(self, person_id: str) -> None:
        """Forget the person's key in this process: it was destroyed."""

    def recall(self, person_ids: Iterable[str]) -> None:
        """Read at once the keys of these persons that are not remembered, so
        that ``for_opening`` finds them without a query each."""


class MissingKeys:
    """Until a process gives the mapper its key store: personal data can be
    neither written nor read, rather than written where no key is kept."""

    def for_sealing(self, person_id: str) -> bytes:
        raise RuntimeError("no store of personal data keys is configured (build_services sets it)")

    def for_opening(self, person_id: str) -> bytes | None:
        raise RuntimeError("no store of personal data keys is configured (build_services sets it)")

    def erased(self, person_id: str) -> None:
        pass

    def recall(self, person_ids: Iterable[str]) -> None:
        raise RuntimeError("no store of personal data keys is configured (build_services sets it)")


class PersonalDataMapper(Mapper[Any]):
    """The library's mapper, with each event's personal fields sealed under
    its subject's key on the way into the store and opened on the way out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys: PersonKeys = MissingKeys()

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        fields = personal_fields(type(domain_event))
        subject = getattr(domain_event, "subject_id", None) if fields else None
        if subject is None:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        key = AESGCM(self.keys.for_sealing(subject))
        for name in fields:
            value = state.get(name)
            if value is not None:
                nonce = os.urandom(_NONCE)
                sealed = key.encrypt(nonce, value.encode(), _bound(domain_event, name))
                state[name] = {"sealed": base64.b64encode(nonce + sealed).decode("ascii")}
        sealed_event = object.__new__(type(domain_event))
        object.__setattr__(sealed_event, "__dict__", state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        if fields := _sealed_fields(event):
            self._open_fields(event, fields)
        return event

    def to_domain_events(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        """``to_domain_event`` of each, with the keys of their persons that this
        process does not remember read at once (a catch-up reads thousands of
        persons' events, and would otherwise ask for each person's key alone)."""
        events = [Mapper.to_domain_event(self, stored) for stored in stored_events]
        sealed = [(event, fields) for event in events if (fields := _sealed_fields(event))]
        if sealed:
            self.keys.recall({vars(event)["subject_id"] for event, _ in sealed})
            for event, fields in sealed:
                self._open_fields(event, fields)
        return events

    def _open_fields(self, event: Any, fields: Sequence[str]) -> None:
        state = vars(event)
        subject = state["subject_id"]
        opened: AESGCM | None | bool = False  # False: not asked yet
        for name in fields:
            value = state.get(name)
            if not isinstance(value, dict):
                continue
            if opened is False:
                key = self.keys.for_opening(subject)
                opened = AESGCM(key) if key is not None else None
            state[name] = _open(opened, value, _bound(event, name))


def _sealed_fields(event: Any) -> Sequence[str]:
    """The fields of ``event`` stored sealed: its personal fields, when it names
    whose they are (nobody's texts are stored as written)."""
    fields = personal_fields(type(event))
    return fields if fields and vars(event).get("subject_id") is not None else ()


def _bound(event: Any, name: str) -> bytes:
    """What a sealed field is bound to: its event and its name."""
    return f"{event.originator_id}:{event.originator_version}:{name}".encode()


def _open(key: AESGCM | None, value: dict[str, Any], bound: bytes) -> str:
    if key is None:
        return ERASED
    raw = base64.b64decode(value["sealed"])
    try:
        return key.decrypt(raw[:_NONCE], raw[_NONCE:], bound).decode()
    except InvalidTag:
        # Altered or moved: ``linli audit verify`` names where; the reader
        # sees that the text cannot be read rather than an error page.
        return ERASED


class StoredPersonKeys:
    """Keys in the ``person_keys`` table of the views' datastore (not in the log)."""

    def __init__(
        self,
        views: Any,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.views = views
        self.cache_seconds = cache_seconds
        self.clock = clock
        # person id -> (key, or None once destroyed; when it was read)
        self._known: dict[str, tuple[bytes | None, float]] = {}
        self._lock = threading.Lock()

    def _remembered(self, person_id: str) -> tuple[bytes | None, bool]:
        found = self._known.get(person_id)
        if found is None:
            return None, False
        key, at = found
        if key is None or self.clock() - at < self.cache_seconds:
            return key, True  # a destroyed key stays destroyed
        return None, False

    def _remember(self, person_id: str, key: bytes | None) -> None:
        with self._lock:
            if len(self._known) > 200_000:
                self._known.clear()
            self._known[person_id] = (key, self.clock())

    def _read(self, c: Any, person_id: str) -> tuple[bool, bytes | None]:
        """Whether the person has a key row, and the key (None once destroyed)."""
        c.execute(
            self.views.sql("SELECT key_hex FROM {person_keys} WHERE person_id = ?"), [person_id]
        )
        row = c.fetchone()
        if row is None:
            return False, None
        return True, _key_of(row)

    def for_sealing(self, person_id: str) -> bytes:
        key, known = self._remembered(person_id)
        if not known:
            with self.views.writing() as c:
                c.execute(
                    self.views.sql(
                        "INSERT INTO {person_keys} (person_id, key_hex, created_at) "
                        "VALUES (?, ?, ?) ON CONFLICT (person_id) DO NOTHING"
                    ),
                    [person_id, os.urandom(32).hex(), utc_text(datetime.now(UTC))],
                )
                _, key = self._read(c, person_id)
            self._remember(person_id, key)
        if key is None:
            raise PersonErased(person_id)
        return key

    def for_opening(self, person_id: str) -> bytes | None:
        key, known = self._remembered(person_id)
        if known:
            return key
        with self.views.reading() as c:
            exists, key = self._read(c, person_id)
        if exists:
            self._remember(person_id, key)
        return key

    def erased(self, person_id: str) -> None:
        self._remember(person_id, None)

    def recall(self, person_ids: Iterable[str]) -> None:
        wanted = sorted(p for p in person_ids if not self._remembered(p)[1])
        if not wanted:
            return
        found: dict[str, bytes | None] = {}
        with self.views.reading() as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                c.execute(
                    self.views.sql(
                        "SELECT person_id, key_hex FROM {person_keys} "
                        f"WHERE person_id IN ({','.join('?' * len(chunk))})"
                    ),
                    chunk,
                )
                for row in c.fetchall():
                    found[row["person_id"]] = _key_of(row)
        # As ``for_opening``: a person without a row is asked for again next time.
        for person_id, key in found.items():
            self._remember(person_id, key)

    def destroy(self, person_id: str, erased_by: str) -> None:
        """Destroy the person's key for good (a row without one if they had none)."""
        now = utc_text(datetime.now(UTC))
        with self.views.writing() as c:
            self.views.overwrite_freed(c)
            c.execute(
                self.views.sql(
                    "INSERT INTO {person_keys} (person_id, key_hex, created_at, erased_at, erased_by) "
                    "VALUES (?, NULL, ?, ?, ?) ON CONFLICT (person_id) DO UPDATE SET "
                    "key_hex = NULL, erased_at = COALESCE({person_keys}.erased_at, excluded.erased_at), "
                    "erased_by = COALESCE({person_keys}.erased_by, excluded.erased_by)"
                ),
                [person_id, now, now, erased_by],
            )
        self.erased(person_id)
        self.views.reclaim_erased_space()

    def erased_at(self, person_id: str) -> str | None:
        with self.views.reading() as c:
            c.execute(
                self.views.sql("SELECT erased_at FROM {person_keys} WHERE person_id = ?"),
                [person_id],
            )
            row = c.fetchone()
        return row["erased_at"] if row else None


def _key_of(row: Any) -> bytes | None:
    """A ``person_keys`` row's key; None once destroyed."""
    return bytes.fromhex(row["key_hex"]) if row["key_hex"] else None
