"""The person registry: everyone who acts, once, with a stable generated id.

Events record who acted by the person's id (``Actor.id``); the display name
lives here only, so that a record shown to a person can name people while
the log holds no names, and so that a name can later be erased here without
touching the log. Two persons may share a name; they never share an id.

An owner imported with a stable key (a phone number, a property certificate
number) is found again by that key, so that one who owns several units is
one person (``owner``).

Persons from before the registry (``legacy``): release 0.1.0 recorded the
free text given to ``linli token create --actor`` as who acted, and the log
is never rewritten. ``adopt_legacy_credentials`` registers each such text as
the id of one person, named by it, and attaches the old credentials to it,
so that those people keep their cases; new persons get generated ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from application.readmodel import utc_text
from domain.personal import ERASED
from domain.text import optional_text, required_text
from infrastructure.views import LinliViews

NAME_LENGTH = 100
OWNER_KEY_LENGTH = 64


@dataclass(frozen=True)
class Person:
    id: str
    display_name: str
    owner_key: str | None
    legacy: bool
    created_at: str
    created_by: str

    def public(self) -> dict[str, Any]:
        """As listed to an operator: the owner key is not shown."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "owner": self.owner_key is not None,
            "legacy": self.legacy,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


class UnknownPerson(LookupError):
    def __init__(self, person_id: str) -> None:
        super().__init__(f"no such person: {person_id}")
        self.person_id = person_id


def _person(row: Any) -> Person:
    return Person(
        id=row["id"],
        display_name=row["display_name"],
        owner_key=row["owner_key"],
        legacy=bool(row["legacy"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


_COLUMNS = "id, display_name, owner_key, legacy, created_at, created_by"


class People:
    def __init__(self, views: LinliViews) -> None:
        self.views = views

    def register(
        self, display_name: str, *, created_by: str, owner_key: str | None = None, c: Any = None
    ) -> Person:
        """A new person with a generated id (InvalidValue for a bad name or key)."""
        person = Person(
            id=str(uuid4()),
            display_name=required_text("name", display_name, NAME_LENGTH),
            owner_key=optional_text("owner_key", owner_key, OWNER_KEY_LENGTH),
            legacy=False,
            created_at=utc_text(datetime.now(UTC)),
            created_by=created_by,
        )
        if c is None:
            with self.views.writing() as c:
                self._insert(c, person)
        else:
            self._insert(c, person)
        return person

    def _insert(self, c: Any, person: Person) -> None:
        c.execute(
            self.views.sql(f"INSERT INTO {{persons}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"),
            [
                person.id,
                person.display_name,
                person.owner_key,
                int(person.legacy),
                person.created_at,
                person.created_by,
            ],
        )

    def get(self, person_id: str) -> Person | None:
        with self.views.reading() as c:
            c.execute(self.views.sql(f"SELECT {_COLUMNS} FROM {{persons}} WHERE id = ?"), [person_id])
            row = c.fetchone()
        return _person(row) if row else None

    def require(self, person_id: str) -> Person:
        person = self.get(person_id)
        if person is None:
            raise UnknownPerson(person_id)
        return person

    def by_owner_key(self, owner_key: str, c: Any = None) -> Person | None:
        def read(c: Any) -> Person | None:
            c.execute(
                self.views.sql(f"SELECT {_COLUMNS} FROM {{persons}} WHERE owner_key = ?"),
                [owner_key],
            )
            row = c.fetchone()
            return _person(row) if row else None

        if c is not None:
            return read(c)
        with self.views.reading() as c:
            return read(c)

    def names(self, person_ids: Iterable[str | None]) -> dict[str, str]:
        """Display names of the given ids that are registered (others are left out)."""
        with self.views.reading() as c:
            return self.views.person_names(c, person_ids)

    def all(self, created_by: str | None = None) -> list[Person]:
        """Every person, or those one issuer registered, oldest first."""
        where, params = ("", []) if created_by is None else (" WHERE created_by = ?", [created_by])
        with self.views.reading() as c:
            c.execute(
                self.views.sql(f"SELECT {_COLUMNS} FROM {{persons}}{where} ORDER BY created_at, id"),
                params,
            )
            return [_person(r) for r in c.fetchall()]

    def erase(self, person_id: str) -> None:
        """Blank the person's name and owner key (their id stays: the log
        names them by it). See infrastructure/personal_data.py."""
        with self.views.writing() as c:
            c.execute(
                self.views.sql(
                    "UPDATE {persons} SET display_name = ?, owner_key = NULL WHERE id = ?"
                ),
                [ERASED, person_id],
            )

    # ----- persons from before the registry ---------------------------------------

    def adopt_legacy_credentials(self) -> int:
        """Attach every credential issued before persons existed to a person
        whose id is the text its events already carry; returns how many.

        Run at every start (``build_services``); a store with none left does
        one read. Idempotent, and safe beside another process doing the same."""
        with self.views.writing() as c:
            c.execute(self.views.sql("SELECT token_hash, actor_id, doc FROM {credentials}"))
            legacy = [r for r in c.fetchall() if "person_id" not in json.loads(r["doc"])]
            if not legacy:
                return 0
            now = utc_text(datetime.now(UTC))
            for actor_id in sorted({r["actor_id"] for r in legacy}):
                c.execute(
                    self.views.sql(
                        f"INSERT INTO {{persons}} ({_COLUMNS}) VALUES (?, ?, NULL, 1, ?, ?) "
                        "ON CONFLICT (id) DO NOTHING"
                    ),
                    [actor_id, actor_id[:NAME_LENGTH] or actor_id, now, "upgrade"],
                )
            for row in legacy:
                doc = json.loads(row["doc"])
                doc["person_id"] = row["actor_id"]
                c.execute(
                    self.views.sql("UPDATE {credentials} SET doc = ? WHERE token_hash = ?"),
                    [json.dumps(doc), row["token_hash"]],
                )
        return len(legacy)
