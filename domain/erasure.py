"""An erasure of a person's personal data (个人信息删除, PIPL Art. 47), as an event.

The decision is recorded in the log like any other: who erased whose data,
when and why. What it does (destroying the person's key, blanking the
registry and the views) follows from it; see domain/personal.py.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor, Role
from domain.errors import NotPermitted
from domain.text import reason_text, required_text

_NAMESPACE = UUID("0b6c4c65-9a55-4c9e-a0b8-3f7f5ad2c3e1")


class Erasure(Aggregate):
    """One person's erasure; a person is erased once (the id follows from theirs)."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Recorded(Event, Aggregate.Created):
        person_id: str
        reason: str

        def apply(self, erasure: Erasure) -> None:
            erasure.person_id = self.person_id
            erasure.reason = self.reason

    @staticmethod
    def id_for(person_id: str) -> UUID:
        return uuid5(_NAMESPACE, person_id)

    @classmethod
    def record(
        cls, *, by: Actor, person_id: str, reason: str, now: datetime | None = None
    ) -> Erasure:
        if by.role != Role.ADMIN:
            raise NotPermitted("personal data is erased by an operator (admin)")
        person_id = required_text("person_id", person_id, 100)
        return cls._create(
            cls.Recorded,
            id=cls.id_for(person_id),
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            person_id=person_id,
            reason=reason_text(reason, "erasing"),
        )
