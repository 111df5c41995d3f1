"""Offers (服务项目): what a co-building unit offers the compound (DESIGN 2.5).

A unit's staff publish an offer (education and tutoring, help for families in
difficulty, care for the elderly, ...), change it and withdraw it with a
reason. Needs may be assigned to the unit citing one of its offers; the read
side counts the needs served under each offer.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import Actor, Role
from domain.errors import IllegalTransition, InvalidValue, NotPermitted
from domain.text import optional_text, reason_text, required_text
from domain.times import FIRST_DAY, LAST_DAY


class OfferStatus(StrEnum):
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


STATUS_LABELS_ZH = {OfferStatus.PUBLISHED: "已发布", OfferStatus.WITHDRAWN: "已撤回"}

# What an offer is about; the labels are in application/labels.py.
OFFER_CATEGORIES = (
    "education",  # 教育辅导
    "family_support",  # 困难家庭帮扶
    "elderly_care",  # 为老服务
    "health",  # 健康服务
    "legal_aid",  # 法律服务
    "culture_sports",  # 文体活动
    "volunteering",  # 志愿服务
    "other",
)
# The kinds of party that publish offers (DESIGN 2.5).
OFFERING_KINDS = frozenset({Role.CO_BUILDING_UNIT.value})
MAX_CAPACITY = 100_000
# The fields a change may give, as the events name them.
CHANGEABLE = ("category", "title", "description", "capacity", "schedule", "starts_on", "ends_on")

OFFER_TRANSITIONS: dict[str, frozenset[OfferStatus]] = {
    "change": frozenset({OfferStatus.PUBLISHED}),
    "withdraw": frozenset({OfferStatus.PUBLISHED}),
}


def offer_allowed_commands(status: OfferStatus) -> list[str]:
    return [name for name, statuses in OFFER_TRANSITIONS.items() if status in statuses]


def _category(value: str) -> str:
    if value not in OFFER_CATEGORIES:
        raise InvalidValue("category", f"'{value}' is not one of {', '.join(OFFER_CATEGORIES)}")
    return value


def _capacity(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
        raise InvalidValue("capacity", f"must be a whole number from 1 to {MAX_CAPACITY}")
    return value


def _day(field: str, value: date | str | None) -> str | None:
    """A day as ``YYYY-MM-DD`` text (events store days as text), within the sane range."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise InvalidValue(field, "must be a day, YYYY-MM-DD") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidValue(field, "must be a day, YYYY-MM-DD")
    if not FIRST_DAY <= value <= LAST_DAY:
        raise InvalidValue(field, f"must lie from {FIRST_DAY} to {LAST_DAY}")
    return value.isoformat()


def _period(starts_on: str | None, ends_on: str | None) -> None:
    if starts_on is None:
        raise InvalidValue("starts_on", "an offer's period has a first day")
    if ends_on is not None and ends_on < starts_on:
        raise InvalidValue("ends_on", f"must not be before starts_on ({starts_on})")


class Offer(Aggregate):
    """One service a co-building unit offers one compound."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Published(Event, Aggregate.Created):
        compound_id: UUID
        party_id: UUID
        party_kind: str
        category: str
        title: str
        description: str
        capacity: int | None
        schedule: str | None
        starts_on: str
        ends_on: str | None

        def apply(self, offer: Offer) -> None:
            offer.compound_id = self.compound_id
            offer.party_id = self.party_id
            offer.party_kind = self.party_kind
            offer.category = self.category
            offer.title = self.title
            offer.description = self.description
            offer.capacity = self.capacity
            offer.schedule = self.schedule
            offer.starts_on = self.starts_on
            offer.ends_on = self.ends_on
            offer.status = OfferStatus.PUBLISHED
            offer.withdraw_reason = None

    class Changed(Event):
        """The offer as it is after the change (every field), and which changed."""

        changed: list[str]
        category: str
        title: str
        description: str
        capacity: int | None
        schedule: str | None
        starts_on: str
        ends_on: str | None
        reason: str | None

        def apply(self, offer: Offer) -> None:
            for name in CHANGEABLE:
                setattr(offer, name, getattr(self, name))

    class Withdrawn(Event):
        reason: str

        def apply(self, offer: Offer) -> None:
            offer.status = OfferStatus.WITHDRAWN
            offer.withdraw_reason = self.reason

    # ----- commands -------------------------------------------------------

    @classmethod
    def publish(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        party_id: UUID,
        party_kind: str,
        title: str,
        description: str,
        starts_on: date | str | None,
        category: str = "other",
        capacity: int | None = None,
        schedule: str | None = None,
        ends_on: date | str | None = None,
        id: UUID | None = None,  # noqa: A002 - the library's name
        now: datetime | None = None,
    ) -> Offer:
        """A unit's staff publish an offer for the party their credential names."""
        if party_kind not in OFFERING_KINDS:
            raise NotPermitted(
                f"offers are published by co-building units, not a party of kind '{party_kind}'"
            )
        if by.role != Role.CO_BUILDING_UNIT or by.party_id != party_id:
            raise NotPermitted("only the staff of a co-building unit publish its offers")
        fields = _checked(
            category=category,
            title=title,
            description=description,
            capacity=capacity,
            schedule=schedule,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        return cls._create(
            cls.Published,
            id=id,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            party_id=party_id,
            party_kind=party_kind,
            **fields,
        )

    def change(
        self, *, by: Actor, reason: str | None = None, now: datetime | None = None, **changes: Any
    ) -> None:
        """Change some of the offer's fields (those given; ``None`` clears an
        optional one). A change that changes nothing is refused."""
        self._check("change")
        self._check_own(by, "change")
        unknown = sorted(set(changes) - set(CHANGEABLE))
        if unknown:
            raise InvalidValue(unknown[0], "an offer has no such field")
        current = {name: getattr(self, name) for name in CHANGEABLE}
        fields = _checked(**{**current, **changes})
        changed = [name for name in CHANGEABLE if fields[name] != current[name]]
        if not changed:
            raise InvalidValue("title", "the change changes nothing: give a field with a new value")
        self.trigger_event(
            self.Changed,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            changed=changed,
            reason=optional_text("reason", reason, 2000),
            **fields,
        )

    def withdraw(self, *, by: Actor, reason: str, now: datetime | None = None) -> None:
        self._check("withdraw")
        self._check_own(by, "withdraw")
        self.trigger_event(
            self.Withdrawn,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            reason=reason_text(reason, "withdrawing an offer"),
        )

    # ----- queries --------------------------------------------------------

    @property
    def allowed_commands(self) -> list[str]:
        return offer_allowed_commands(self.status)

    def check_serves(self, *, party_id: UUID, compound_id: UUID, on: date) -> None:
        """Whether a need of ``compound_id`` may be assigned to ``party_id``
        citing this offer on the day ``on``; else ``InvalidValue`` on ``offer_id``."""
        if self.compound_id != compound_id:
            # Said as for a missing offer: another compound's offers are not shown.
            raise InvalidValue("offer_id", "no such offer in this need's compound")
        if self.party_id != party_id:
            raise InvalidValue("offer_id", "the offer is not the assigned party's own offer")
        if self.status != OfferStatus.PUBLISHED:
            raise InvalidValue("offer_id", f"the offer is {self.status}, not published")
        if self.ends_on is not None and on.isoformat() > self.ends_on:
            raise InvalidValue("offer_id", f"the offer's period ended on {self.ends_on}")

    # ----- helpers --------------------------------------------------------

    def _check(self, command: str) -> None:
        if self.status not in OFFER_TRANSITIONS[command]:
            raise IllegalTransition(command, self.status, self.allowed_commands)

    def _check_own(self, by: Actor, command: str) -> None:
        if by.role != Role.CO_BUILDING_UNIT or by.party_id != self.party_id:
            raise NotPermitted(f"only the staff of the offering unit may {command} this offer")


def _checked(
    *,
    category: str,
    title: str,
    description: str,
    capacity: int | None,
    schedule: str | None,
    starts_on: date | str | None,
    ends_on: date | str | None,
) -> dict[str, Any]:
    """An offer's fields, checked and as the events store them."""
    fields = {
        "category": _category(category),
        "title": required_text("title", title, 200),
        "description": required_text("description", description, 5000),
        "capacity": _capacity(capacity),
        "schedule": optional_text("schedule", schedule, 500),
        "starts_on": _day("starts_on", starts_on),
        "ends_on": _day("ends_on", ends_on),
    }
    _period(fields["starts_on"], fields["ends_on"])
    return fields
