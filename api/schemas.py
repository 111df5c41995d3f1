"""Request and response bodies. Requests forbid unknown fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.need import CATEGORIES, EVALUATIONS, PRIORITIES, SOURCES, TOWARD
from domain.offer import MAX_CAPACITY, OFFER_CATEGORIES
from domain.times import FIRST_DAY, LAST_DAY, MAX_EXTENSION, RANGE_TEXT

# The days and moments a client gives lie in the years 2000 to 2199 (UTC for a
# moment; domain/times.py). The schema says so in a pattern on the year, which
# a generated client can check, beside the exact rule in the description.
DAY_PATTERN = r"^2[01]\d{2}-\d{2}-\d{2}$"
MOMENT_PATTERN = r"^2[01]\d{2}-"
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY, json_schema_extra={"pattern": DAY_PATTERN})]
Moment = Annotated[AwareDatetime, Field(json_schema_extra={"pattern": MOMENT_PATTERN})]

Source = Literal[SOURCES]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Evaluation = Literal[EVALUATIONS]  # type: ignore[valid-type]
Toward = Literal[TOWARD]  # type: ignore[valid-type]
OfferCategory = Literal[OFFER_CATEGORIES]  # type: ignore[valid-type]
PartyKind = Literal["property_company", "owners_committee", "party_branch", "co_building_unit"]


def text(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length)


Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Ref = Annotated[str, Field(min_length=1, max_length=500)]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CompoundRegister(Command):
    name: str = text(100)
    community: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=200)


class BuildingAdd(Command):
    name: str = text(50)


class HouseholdAdd(Command):
    building_id: UUID
    number: str = text(30)
    exclusive_area: Decimal = Field(gt=0, le=100000, max_digits=10, decimal_places=2)
    owner_name: str | None = Field(
        default=None,
        max_length=100,
        description="the owner's name, when they are not yet a registered person: Linli "
        "registers them (the name is kept in the person registry, not in the log); with "
        "owner_id, it must be that person's registered name",
    )
    owner_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the owning person's id in the person registry; an owner of several "
        "units is one owner with the sum of their areas in an owners' vote",
    )


class PartyRegister(Command):
    compound_id: UUID
    kind: PartyKind
    name: str = text(100)
    contact: str | None = Field(default=None, max_length=100)


class NeedRegister(Command):
    compound_id: UUID
    source: Source
    title: str = text(200)
    description: str = text(5000)
    category: Category = "other"
    building_id: UUID | None = None
    household_id: UUID | None = None
    location: str | None = Field(default=None, max_length=200)
    attachments: list[Ref] = Field(default_factory=list, max_length=20)
    toward: Toward | None = Field(
        default=None,
        description="'compound': a property company's or co-building unit's request of the "
        "compound (a room, volunteers, residents' cooperation), with source 'party_request'; "
        "their staff's needs are always toward the compound",
    )


class NeedAccept(Command):
    priority: Priority
    category: Category | None = None


class NeedAssign(Command):
    party_id: UUID
    reason: str | None = Field(default=None, max_length=2000)
    commitment_id: UUID | None = None
    commitment_item_no: int | None = Field(default=None, ge=1, le=10000)
    offer_id: UUID | None = Field(
        default=None,
        description="an offer (服务项目) of the assigned co-building unit, published, in the "
        "need's compound, that the need is served under",
    )


class NeedResolve(Command):
    outcome: str = text(5000)


class NeedEvaluate(Command):
    evaluation: Evaluation
    comment: str | None = Field(default=None, max_length=2000)
    resolved: bool | None = Field(
        default=None,
        description="whether the resident considers the matter resolved (回访); "
        "counts in confirmed_resolution_rate",
    )
    obtained_by: Literal["phone", "visit", "in_person"] | None = Field(
        default=None,
        description="how an evaluation recorded on the reporter's behalf was obtained "
        "(required then; not given by the reporter themself)",
    )


class CompoundSideEvaluation(Command):
    """The provider's evaluation of the compound's side of a closed need (双向评价)."""

    coordination: Evaluation = Field(description="the compound's coordination (协调配合)")
    cooperation: Evaluation = Field(description="the residents' cooperation (居民配合)")
    comment: str | None = Field(default=None, max_length=2000)


class OfferPublish(Command):
    compound_id: UUID
    category: OfferCategory = "other"
    title: str = text(200)
    description: str = text(5000)
    capacity: int | None = Field(default=None, ge=1, le=MAX_CAPACITY, description="places, if limited")
    schedule: str | None = Field(default=None, max_length=500, description="when, in words")
    starts_on: Day = Field(description="the period's first day")
    ends_on: Day | None = Field(default=None, description="its last day; none: open-ended")


class OfferChange(Command):
    """The fields to change; those not given stay as they are (null clears an optional one)."""

    category: OfferCategory | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, min_length=1, max_length=5000)
    capacity: int | None = Field(default=None, ge=1, le=MAX_CAPACITY)
    schedule: str | None = Field(default=None, max_length=500)
    starts_on: Day | None = None
    ends_on: Day | None = None
    reason: str | None = Field(default=None, max_length=2000)


class WithReason(Command):
    reason: Reason


class NeedMerge(Command):
    into_need_id: UUID
    reason: Reason


class NeedTransfer(Command):
    to_body: str = text(200)
    reason: Reason


class NeedNote(Command):
    text: str = text(5000)
    attachments: list[Ref] = Field(default_factory=list, max_length=20)


class NeedExtend(Command):
    reason: Reason
    resolve_due: Moment | None = Field(
        default=None,
        description=(
            "the new deadline: later than the current one, at most "
            f"{MAX_EXTENSION.days} days after it, in {RANGE_TEXT}"
        ),
    )
    working_days: int | None = Field(
        default=None, ge=1, le=60, description="or: this many working days past the current one"
    )


class NeedSupervise(Command):
    text: str = text(5000)


class NeedExclusion(Command):
    party_id: UUID = Field(description="the party whose assessment leaves the need out")
    reason: Reason


class ExclusionRevocation(Command):
    reason: Reason


class Recorded(BaseModel):
    id: UUID
    version: int = Field(description="the aggregate's version after the command")
    position: int = Field(description="log position of the last event; pass as ?after=")


class AddedPart(Recorded):
    part_id: UUID = Field(description="the id of the building or household added")


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page")

# The largest log position or cursor a store can hold (a signed 64-bit integer).
MAX_POSITION = 2**63 - 1
