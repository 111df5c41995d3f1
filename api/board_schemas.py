"""What the public notice board (公示栏) and its link's routes answer.

The board's models list every field it publishes and nothing more
(``extra="forbid"``): the board is built field by field from the views
(application/board.py), and a field that is not declared here is not
published. Times are ISO 8601 in the deployment's time zone (with its
offset), days ``YYYY-MM-DD`` and months ``YYYY-MM`` there too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BoardRatio(_Model):
    numerator: int
    denominator: int
    rate: float | None = Field(description="numerator ÷ denominator, 4 decimals; null for 0/0")


class BoardShare(_Model):
    """An exact fraction, as the vote rule compares it, and its percentage."""

    fraction: str = Field(description='like "2/3"', examples=["2/3"])
    numerator: int
    denominator: int
    percent: float = Field(description="the fraction × 100, rounded to 2 decimals (for reading only)")


class BoardParty(_Model):
    name: str
    kind: str | None
    kind_zh: str


class BoardCompound(_Model):
    name: str
    community: str | None = None
    address: str | None = None


class BoardFulfilment(_Model):
    """Fulfilment (履约) counted this month: inspections met and not met,
    needs assigned under the item, resolved, resolved within the item's time
    limit, still open past it; fulfilled ÷ assessed."""

    inspections_met: int
    inspections_not_met: int
    needs_assigned: int
    needs_resolved: int
    needs_resolved_within_limit: int
    needs_overdue: int
    fulfilled: int
    assessed: int
    rate: float | None


class BoardItem(_Model):
    number: int
    title: str
    standard: str
    frequency: str
    time_limit: str = Field(description="as written: 24h, 3wd, 7d, 30m")
    time_limit_zh: str
    fulfilment: BoardFulfilment


class BoardServiceList(_Model):
    title: str
    provider: BoardParty
    status: str
    status_zh: str
    list_version: int | None
    took_effect_at: str | None
    items: list[BoardItem]
    totals: BoardFulfilment


class BoardVoteCounts(_Model):
    for_: int = Field(alias="for")
    against: int
    abstain: int

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BoardVote(_Model):
    """A vote's result under Civil Code Art. 278: participation and approval
    by heads (owners) and by exclusive area; counts only, never who chose what."""

    matter: str | None
    matter_zh: str
    owners_total: int | None
    owners_participating: int | None
    area_total_m2: str | None
    area_participating_m2: str | None
    participation_owners: BoardShare | None
    participation_area: BoardShare | None
    quorum_reached: bool
    owners_for: int | None
    area_for_m2: str | None
    approval_owners: BoardShare | None
    approval_area: BoardShare | None
    approved: bool
    counts: BoardVoteCounts


class BoardAction(_Model):
    number: int
    title: str
    party: BoardParty
    due_on: str
    done: bool
    completed_on: str | None
    overdue: bool


class BoardConsultation(_Model):
    topic: str
    method: str | None
    method_zh: str
    status: str
    status_zh: str
    outcome: str | None
    outcome_zh: str
    concluded_at: str | None
    resolution: str | None = Field(description="the decision as recorded and published")
    published_at: str | None
    vote: BoardVote | None = Field(description="null for a consultation decided by consensus")
    actions: list[BoardAction]
    actions_total: int
    actions_done: int


class BoardRates(_Model):
    """One party's figures in one month (needs accepted that month; the
    party's own episodes): response rate, resolution rate (办结率), resolution
    confirmed by residents (解决率, 回访), satisfaction rate."""

    month: str
    party: BoardParty
    accepted: int
    response_rate: BoardRatio
    resolution_rate: BoardRatio
    confirmed_resolution_rate: BoardRatio
    satisfaction_rate: BoardRatio


class BoardCoverage(_Model):
    month: str
    building: str
    households: int
    visited: int
    rate: float | None


class BoardOffer(_Model):
    """A co-building unit's offer of service in force (服务项目)."""

    title: str
    description: str | None = None
    provider: BoardParty
    status_zh: str | None = None
    category_zh: str | None = Field(default=None, description="what kind of service, in Chinese")
    capacity: int | None = Field(default=None, description="how many it can serve at once")
    schedule: str | None = Field(default=None, description="when it is given, as the unit wrote it")
    starts_on: str | None = Field(default=None, description="first day of the offer's period")
    ends_on: str | None = Field(default=None, description="last day, if it has one")
    needs_served: int = Field(description="needs assigned to the unit citing this offer")


class Board(_Model):
    """A compound's public notice board: nothing personal, no ids."""

    compound: BoardCompound
    generated_at: str
    timezone: str
    month: str = Field(description="this month, YYYY-MM, in the deployment's time zone")
    service_lists: list[BoardServiceList]
    consultations: list[BoardConsultation]
    rates: list[BoardRates]
    visit_coverage: list[BoardCoverage]
    offers: list[BoardOffer]


# ----- the link (staff) --------------------------------------------------------------------


class BoardRotation(_Model):
    """One link the compound had: who made it and who replaced it, when (never the token)."""

    token_id: str = Field(description="the first 12 hex digits of the token's SHA-256")
    created_at: str
    created_by: str = Field(description="the person's id")
    created_by_role: str
    replaced_at: str | None
    replaced_by: str | None
    replaced_by_role: str | None


class BoardLink(_Model):
    compound_id: str
    path: str = Field(description="the board's page, /board/{token}")
    url: str = Field(description="the page's address as this server was asked")
    data_path: str = Field(description="the board as JSON, /board/{token}/data")
    created_at: str
    created_by: str
    created_by_role: str
    replaced_links: int = Field(description="how many links the compound had before this one")


class BoardLinkState(_Model):
    compound_id: str
    link: BoardLink | None = Field(description="null until staff make the first link")
    rotations: list[BoardRotation]
