"""Request bodies of the service-commitment endpoints. Requests forbid unknown fields.

Field limits are checked here; the rules about items (distinct numbers,
non-blank text, time limits of at most a year, what an amendment may name)
are the aggregate's, which answers with a 422 naming the field.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from api.schemas import Command, Reason, Ref
from domain.commitment import INSPECTION_RESULTS, MAX_ITEM_NO, MAX_ITEMS

ItemNo = Annotated[int, Field(ge=1, le=MAX_ITEM_NO, strict=True)]
ListVersion = Annotated[int, Field(ge=1, le=100000, strict=True)]
InspectionResult = Literal[INSPECTION_RESULTS]  # type: ignore[valid-type]


class Item(Command):
    number: ItemNo = Field(description="the item's number in the list, 1 to 1000")
    title: str = Field(min_length=1, max_length=200)
    standard: str = Field(min_length=1, max_length=2000, description="the service standard")
    frequency: str = Field(min_length=1, max_length=100, description="e.g. 每日两次, weekly")
    time_limit: str = Field(
        min_length=1,
        max_length=20,
        description="response time limit: minutes like '30m', clock hours like '24h', "
        "calendar days (自然日) like '7d' or working days like '3wd'; at most a year "
        "(525600m, 8760h, 366d or 250wd)",
    )


class CommitmentDraft(Command):
    compound_id: UUID
    provider_party_id: UUID = Field(description="the property company or co-building unit")
    title: str = Field(min_length=1, max_length=200)
    items: list[Item] = Field(min_length=1, max_length=MAX_ITEMS)


class CommitmentOpinion(Command):
    text: str = Field(min_length=1, max_length=2000)
    item_no: ItemNo | None = Field(default=None, description="the item the opinion is about")
    household_id: UUID | None = Field(
        default=None, description="the resident's household, when staff record it for them"
    )
    list_version: ListVersion | None = Field(
        default=None, description="the draft the opinion is about (default: the pending draft)"
    )


class CommitmentConfirm(Command):
    list_version: ListVersion = Field(description="the draft version being confirmed")


class CommitmentAmend(Command):
    reason: Reason
    add: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    change: list[Item] = Field(
        default_factory=list, max_length=MAX_ITEMS, description="items replaced, by number"
    )
    remove: list[ItemNo] = Field(default_factory=list, max_length=MAX_ITEMS)


class CommitmentInspection(Command):
    item_no: ItemNo
    result: InspectionResult
    note: str = Field(min_length=1, max_length=2000, description="what was found (evidence)")
    attachments: list[Ref] = Field(default_factory=list, max_length=20)
