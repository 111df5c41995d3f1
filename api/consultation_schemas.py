"""Request and response bodies of the consultation routes. Requests forbid unknown fields."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from api.schemas import Command, Day, Moment, Reason, Recorded, text
from domain.consultation import (
    CHOICES,
    MATTERS,
    MAX_ACTION_ITEMS,
    MAX_ELECTORATE,
    MAX_INVITED,
    MAX_NEEDS,
    METHODS,
)
from domain.times import RANGE_TEXT

Method = Literal[METHODS]  # type: ignore[valid-type]
Matter = Literal[MATTERS]  # type: ignore[valid-type]
Choice = Literal[CHOICES]  # type: ignore[valid-type]
OwnerId = Annotated[str, Field(min_length=1, max_length=100)]


class ConsultationPropose(Command):
    compound_id: UUID
    topic: str = text(200)
    description: str | None = Field(default=None, max_length=5000)
    need_ids: list[UUID] = Field(
        default_factory=list,
        max_length=MAX_NEEDS,
        description="needs in dispute: they move to 'escalated' with the proposal",
    )


class Owner(Command):
    owner_id: OwnerId = Field(
        description="the owner's id: a person's id, or a household's id for a household "
        "without an owner person"
    )
    exclusive_area: Decimal = Field(
        gt=0, le=100000, max_digits=10, decimal_places=2, description="exclusive floor area, m²"
    )


class ConsultationConvene(Command):
    meets_at: Moment = Field(description=f"with a UTC offset, in {RANGE_TEXT}")
    place: str = text(200)
    method: Method = Field(description="'vote' (owners' vote, Art. 278) or 'consensus'")
    invited_party_ids: list[UUID] = Field(default_factory=list, max_length=MAX_INVITED)
    invited_others: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=MAX_INVITED
    )
    motion: str | None = Field(
        default=None, min_length=1, max_length=2000, description="the text put to the vote"
    )
    matter: Matter | None = Field(
        default=None,
        description="ordinary, or one of Art. 278 items 6 to 8 (these need 3/4)",
    )
    electorate: list[Owner] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ELECTORATE,
        description="omit to take the owners of the compound's households: an owner person "
        "of several units once, with the sum of their areas; each other household by its id",
    )


class ConsultationOpinion(Command):
    text: str = text(5000)
    speaker: str | None = Field(
        default=None, max_length=100, description="who spoke; defaults to the recorder"
    )


class ConsultationVote(Command):
    choice: Choice
    owner_id: OwnerId | None = Field(
        default=None,
        description="the owner voting; staff recording on an owner's behalf must name them",
    )


class ConsultationResolution(Command):
    text: str = text(5000)


class ConsultationPublish(Command):
    note: str | None = Field(
        default=None, max_length=2000, description="where and how it is posted"
    )


class ActionItem(Command):
    title: str = text(500)
    party_id: UUID = Field(description="the responsible party")
    due_on: Day = Field(description="from today, at most ten years ahead")


class ConsultationActions(Command):
    items: list[ActionItem] = Field(min_length=1, max_length=MAX_ACTION_ITEMS)


class ActionComplete(Command):
    note: str | None = Field(default=None, max_length=2000)


class ConsultationCancel(Command):
    reason: Reason


class NeedEscalate(Command):
    consultation_id: UUID


class ActionsAdded(Recorded):
    numbers: list[int] = Field(description="the numbers of the action items added")
