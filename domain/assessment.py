"""A compound's monthly assessment (月度考评): the figures of a closed month.

A supervisor closes a month for a compound: the assessment records the
figures of that compound and month (per party, and for the compound) and
the log position and moment they were computed at. Anyone can recompute
them from the events up to that position alone and check that they are
the recorded ones; events recorded after the closing never change them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.errors import InvalidValue

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_IDS = UUID("0b6d3c2e-5a41-4f7e-9c1d-2f8a7b6e5d40")


def assessment_id(compound_id: UUID, month: str) -> UUID:
    """One assessment per compound and month: closing it again collides."""
    return uuid5(_IDS, f"{compound_id}:{month}")


def check_month(month: str, now_month: str) -> str:
    """A month that has ended (``YYYY-MM``, before ``now_month``)."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise InvalidValue("month", f"'{month}' is not a month like 2026-11")
    if not 2000 <= int(month[:4]) <= 2199:
        raise InvalidValue("month", "months run from 2000-01 to 2199-12")
    if month >= now_month:
        raise InvalidValue("month", f"{month} has not ended yet: a month is closed once it is over")
    return month


class Assessment(Aggregate):
    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Closed(Event, Aggregate.Created):
        compound_id: UUID
        month: str
        position: int
        figures: dict[str, Any]

        def apply(self, assessment: Assessment) -> None:
            assessment.compound_id = self.compound_id
            assessment.month = self.month
            assessment.position = self.position
            assessment.figures = self.figures
            assessment.computed_at = self.timestamp

    @classmethod
    def close(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        month: str,
        position: int,
        figures: dict[str, Any],
        now: datetime,
    ) -> Assessment:
        """The month's figures, as computed at log ``position`` and moment ``now``."""
        return cls._create(
            cls.Closed,
            id=assessment_id(compound_id, month),
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            month=month,
            position=position,
            figures=figures,
        )
