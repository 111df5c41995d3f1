"""Commands on offers (服务项目): what co-building units offer the compound."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from application.access import CASE_READERS, authorize, ensure_compound_visible, register_permissions
from application.base import LinliBase, Recorded
from application.projections import offer_for_reading
from domain.actor import Actor, Role
from domain.errors import InvalidValue, NotFound, NotPermitted
from domain.need import Need
from domain.offer import OFFERING_KINDS, Offer
from domain.party import Party

PUBLISHERS = frozenset({Role.CO_BUILDING_UNIT})

register_permissions(
    {
        "offer.publish": PUBLISHERS,
        "offer.change": PUBLISHERS,
        "offer.withdraw": PUBLISHERS,
        # Offers are public-ish: every role reads those of its compounds.
        "offer.read": CASE_READERS,
    }
)


class OfferCommands(LinliBase):

    def _offering_party(self, by: Actor, compound_id: UUID) -> Party:
        """The co-building unit ``by`` acts for, which must serve ``compound_id``."""
        if by.party_id is None:
            raise NotPermitted(f"your credential names no {by.role} party")
        try:
            party = self.get_party(by.party_id)
        except NotFound:
            party = None
        if party is None or party.compound_id != compound_id or party.kind not in OFFERING_KINDS:
            raise NotPermitted("your credential's party is not a co-building unit of this compound")
        return party

    def publish_offer(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        title: str,
        description: str,
        starts_on: date | str | None,
        category: str = "other",
        capacity: int | None = None,
        schedule: str | None = None,
        ends_on: date | str | None = None,
        offer_id: UUID | None = None,
    ) -> Recorded:
        authorize(by, "offer.publish")
        self._visible_compound(by, compound_id, "compound_id")
        party = self._offering_party(by, compound_id)
        offer = Offer.publish(
            by=by,
            id=offer_id or self.new_id(),
            compound_id=compound_id,
            party_id=party.id,
            party_kind=party.kind,
            category=category,
            title=title,
            description=description,
            capacity=capacity,
            schedule=schedule,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        return self._create(offer)

    def get_offer(self, by: Actor, offer_id: UUID) -> Offer:
        authorize(by, "offer.read")
        offer = self._load(Offer, offer_id, "offer")
        ensure_compound_visible(by, offer.compound_id, "offer")
        return offer

    def _change_offer(
        self,
        by: Actor,
        offer_id: UUID,
        action: str,
        change: Any,
        expected_version: int | None,
    ) -> Recorded:
        authorize(by, action)

        def checked(offer: Offer) -> None:
            ensure_compound_visible(by, offer.compound_id, "offer")
            change(offer)

        return self._run(offer_id, Offer, "offer", checked, expected_version)

    def change_offer(
        self,
        by: Actor,
        offer_id: UUID,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
        **changes: Any,
    ) -> Recorded:
        """Change the fields given (``changes``), keeping the others."""
        return self._change_offer(
            by,
            offer_id,
            "offer.change",
            lambda o: o.change(by=by, reason=reason, **changes),
            expected_version,
        )

    def withdraw_offer(
        self, by: Actor, offer_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_offer(
            by,
            offer_id,
            "offer.withdraw",
            lambda o: o.withdraw(by=by, reason=reason),
            expected_version,
        )

    def check_offer(self, need: Need, party: Party, offer_id: UUID) -> Offer:
        """The offer a need's assignment cites, or InvalidValue on ``offer_id`` unless
        it is the assigned party's own, published offer in the need's compound."""
        try:
            offer = self._load(Offer, offer_id, "offer")
        except NotFound:
            raise InvalidValue("offer_id", "no such offer in this need's compound") from None
        today = datetime.now(UTC).astimezone(self.deadline_policy.calendar.timezone).date()
        offer.check_serves(party_id=party.id, compound_id=need.compound_id, on=today)
        return offer


# ----- reading offers (from the case views) ------------------------------------------

CASE = "offer"


def offer_page(
    views: Any,
    compound_ids: list[str] | None,
    *,
    party_id: str | None = None,
    status: list[str] | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of offers, oldest first, each with the needs served under it
    (``needs_served``, ``served_need_ids``), and the next page's cursor.
    ``views`` is the store's ``LinliViews``."""
    rows, next_cursor = views.cases(
        CASE, compound_ids, status=status, party_id=party_id, limit=limit, cursor=cursor
    )
    served = views.needs_served([row["id"] for row in rows])
    return [offer_for_reading(row, served[row["id"]]) for row in rows], next_cursor


def offer_reading(views: Any, offer_id: str) -> dict[str, Any] | None:
    """One offer as read, with the needs served under it; None if there is none."""
    row = views.case(CASE, offer_id)
    if row is None:
        return None
    return offer_for_reading(row, views.needs_serving(offer_id))


# What the public notice board (公示栏) may show of an offer: no person's id.
PUBLIC_OFFER_FIELDS = (
    "id",
    "compound_id",
    "party_id",
    "party_kind",
    "status",
    "status_zh",
    "category",
    "title",
    "description",
    "capacity",
    "schedule",
    "starts_on",
    "ends_on",
    "published_at",
    "changed_at",
    "needs_served",
)


def published_offers(views: Any, compound_id: str) -> list[dict[str, Any]]:
    """The offers in force in a compound (published, not withdrawn), oldest
    first, as the public notice board shows them: without any person's id or
    the ids of the needs served (their count stays)."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        rows, cursor = offer_page(
            views, [compound_id], status=["published"], limit=200, cursor=cursor
        )
        found += [{key: row.get(key) for key in PUBLIC_OFFER_FIELDS} for row in rows]
        if cursor is None:
            return found
