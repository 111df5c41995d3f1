"""The Linli application: commands on needs, compounds and parties."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from application.access import authorize, can_see_need, ensure_compound_visible
from domain.actor import Actor
from domain.calendar import DeadlinePolicy
from domain.compound import Compound
from domain.errors import Conflict, InvalidValue, NotFound
from domain.need import Need
from domain.party import Party

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Recorded:
    """What a command returns: the aggregate's id and new version, and the
    log position of its last event (to wait on the views with)."""

    id: UUID
    version: int
    position: int


class StaleVersion(Exception):
    """If-Match named a version that is no longer the current one (HTTP 412)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"the case is at version {actual}, not {expected}: reload and try again"
        )
        self.expected = expected
        self.actual = actual


class ConcurrentChange(Conflict):
    """A command kept losing version races (HTTP 409)."""


class Linli(Application):
    """Every command loads aggregates, applies one domain method and saves."""

    name = "Linli"
    max_retries = 5

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        deadline_policy: DeadlinePolicy,
        evaluation_window: timedelta = timedelta(days=7),
    ) -> None:
        super().__init__(env)
        self.deadline_policy = deadline_policy
        self.evaluation_window = evaluation_window
        self._listeners: list[Callable[[int], None]] = []

    # ----- plumbing ----------------------------------------------------

    def on_recorded(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after each save in this process."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings and self._listeners:
            position = recordings[-1].notification.id
            for listener in self._listeners:
                listener(position)

    def _load(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def _save(self, *aggregates: Aggregate) -> int:
        recordings = self.save(*aggregates)
        if not recordings:
            return self.recorder.max_notification_id() or 0
        return recordings[-1].notification.id

    def _run(
        self,
        aggregate_id: UUID,
        cls: type[A],
        what: str,
        change: Callable[[A], Any],
        expected_version: int | None = None,
    ) -> Recorded:
        """Load, change and save one aggregate, retrying lost version races.

        The whole command is re-run on the new state, so a command that is no
        longer valid after another writer's change fails by its own rule.
        """
        for attempt in range(self.max_retries):
            aggregate = self._load(cls, aggregate_id, what)
            if expected_version is not None and aggregate.version != expected_version:
                raise StaleVersion(expected_version, aggregate.version)
            change(aggregate)
            try:
                position = self._save(aggregate)
            except IntegrityError:
                if expected_version is not None:
                    raise StaleVersion(expected_version, aggregate.version) from None
                log.info("version race on %s %s, attempt %d", what, aggregate_id, attempt + 1)
                time.sleep(0.005 * (attempt + 1))
                continue
            return Recorded(aggregate.id, aggregate.version, position)
        raise ConcurrentChange(f"{what} {aggregate_id} kept changing; try again")

    def _create(self, aggregate: Aggregate, *others: Aggregate) -> Recorded:
        position = self._save(aggregate, *others)
        return Recorded(aggregate.id, aggregate.version, position)

    # ----- compounds and parties ---------------------------------------

    def register_compound(
        self, by: Actor, *, name: str, community: str | None = None, address: str | None = None
    ) -> Recorded:
        authorize(by, "compound.register")
        return self._create(
            Compound.register(by=by, name=name, community=community, address=address)
        )

    def get_compound(self, by: Actor, compound_id: UUID) -> Compound:
        authorize(by, "compound.read")
        ensure_compound_visible(by, compound_id)
        return self._load(Compound, compound_id, "compound")

    def add_building(
        self, by: Actor, compound_id: UUID, *, name: str, expected_version: int | None = None
    ) -> tuple[UUID, Recorded]:
        authorize(by, "compound.change")
        ensure_compound_visible(by, compound_id)
        added: list[UUID] = []
        recorded = self._run(
            compound_id,
            Compound,
            "compound",
            lambda c: added.append(c.add_building(by=by, name=name)),
            expected_version,
        )
        return added[-1], recorded

    def add_household(
        self,
        by: Actor,
        compound_id: UUID,
        *,
        building_id: UUID,
        number: str,
        exclusive_area: Decimal,
        owner_name: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[UUID, Recorded]:
        authorize(by, "compound.change")
        ensure_compound_visible(by, compound_id)
        added: list[UUID] = []
        recorded = self._run(
            compound_id,
            Compound,
            "compound",
            lambda c: added.append(
                c.add_household(
                    by=by,
                    building_id=building_id,
                    number=number,
                    exclusive_area=exclusive_area,
                    owner_name=owner_name,
                )
            ),
            expected_version,
        )
        return added[-1], recorded

    def register_party(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        kind: str,
        name: str,
        contact: str | None = None,
    ) -> Recorded:
        authorize(by, "party.register")
        self._visible_compound(by, compound_id, "compound_id")
        return self._create(
            Party.register(by=by, compound_id=compound_id, kind=kind, name=name, contact=contact)
        )

    def get_party(self, party_id: UUID) -> Party:
        return self._load(Party, party_id, "party")

    def _visible_compound(self, by: Actor, compound_id: UUID, field: str) -> Compound:
        """A compound named in a command's body: unknown or not covered is a 422 on the field."""
        if not by.covers(compound_id):
            raise InvalidValue(field, "no such compound among yours")
        try:
            return self._load(Compound, compound_id, "compound")
        except NotFound:
            raise InvalidValue(field, "no such compound among yours") from None

    # ----- needs --------------------------------------------------------

    def register_need(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        source: str,
        title: str,
        description: str,
        category: str = "other",
        building_id: UUID | None = None,
        household_id: UUID | None = None,
        location: str | None = None,
        attachments: list[str] | None = None,
        need_id: UUID | None = None,
    ) -> Recorded:
        authorize(by, "need.register")
        compound = self._visible_compound(by, compound_id, "compound_id")
        if building_id is not None and not compound.has_building(building_id):
            raise InvalidValue("building_id", "no such building in this compound")
        if household_id is not None and not compound.has_household(household_id):
            raise InvalidValue("household_id", "no such household in this compound")
        need = Need.register(
            by=by,
            id=need_id,
            compound_id=compound_id,
            source=source,
            title=title,
            description=description,
            category=category,
            building_id=building_id,
            household_id=household_id,
            location=location,
            attachments=attachments,
        )
        return self._create(need)

    def get_need(self, by: Actor, need_id: UUID) -> Need:
        authorize(by, "need.read")
        need = self._load(Need, need_id, "need")
        if not can_see_need(by, need.compound_id, need.reporter_id, need.assigned_party_id):
            raise NotFound("need not found")
        return need

    def _change_need(
        self,
        by: Actor,
        need_id: UUID,
        action: str,
        change: Callable[[Need], Any],
        expected_version: int | None,
    ) -> Recorded:
        authorize(by, action)

        def checked(need: Need) -> None:
            if not can_see_need(by, need.compound_id, need.reporter_id, need.assigned_party_id):
                raise NotFound("need not found")
            change(need)

        return self._run(need_id, Need, "need", checked, expected_version)

    def accept_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        priority: str,
        category: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.accept",
            lambda n: n.accept(
                by=by, priority=priority, category=category, policy=self.deadline_policy
            ),
            expected_version,
        )

    def assign_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        party_id: UUID,
        reason: str | None = None,
        commitment_id: UUID | None = None,
        commitment_item_no: int | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        def assign(need: Need) -> None:
            try:
                party = self.get_party(party_id)
            except NotFound:
                raise InvalidValue("party_id", "no such party") from None
            if party.compound_id != need.compound_id:
                raise InvalidValue("party_id", "the party does not serve this need's compound")
            need.assign(
                by=by,
                party_id=party.id,
                party_role=party.kind,
                reason=reason,
                commitment_id=commitment_id,
                commitment_item_no=commitment_item_no,
            )

        return self._change_need(by, need_id, "need.assign", assign, expected_version)

    def acknowledge_need(
        self, by: Actor, need_id: UUID, *, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by, need_id, "need.acknowledge", lambda n: n.acknowledge(by=by), expected_version
        )

    def resolve_need(
        self, by: Actor, need_id: UUID, *, outcome: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.resolve",
            lambda n: n.resolve(by=by, outcome=outcome),
            expected_version,
        )

    def evaluate_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        evaluation: str,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.evaluate",
            lambda n: n.evaluate(by=by, evaluation=evaluation, comment=comment),
            expected_version,
        )

    def close_need(
        self, by: Actor, need_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.close",
            lambda n: n.close(by=by, reason=reason, evaluation_window=self.evaluation_window),
            expected_version,
        )

    def reject_need(
        self, by: Actor, need_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by, need_id, "need.reject", lambda n: n.reject(by=by, reason=reason), expected_version
        )

    def merge_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        into_need_id: UUID,
        reason: str,
        expected_version: int | None = None,
    ) -> Recorded:
        def merge(need: Need) -> None:
            try:
                into = self.get_need(by, into_need_id)
            except NotFound:
                raise InvalidValue("into_need_id", "no such need") from None
            need.merge(by=by, into=into, reason=reason)

        return self._change_need(by, need_id, "need.merge", merge, expected_version)

    def transfer_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        to_body: str,
        reason: str,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.transfer",
            lambda n: n.transfer(by=by, to_body=to_body, reason=reason),
            expected_version,
        )

    def withdraw_need(
        self, by: Actor, need_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.withdraw",
            lambda n: n.withdraw(by=by, reason=reason),
            expected_version,
        )

    def add_need_note(
        self,
        by: Actor,
        need_id: UUID,
        *,
        text: str,
        attachments: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.add_note",
            lambda n: n.add_note(by=by, text=text, attachments=attachments),
            expected_version,
        )

    def extend_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        reason: str,
        resolve_due: Any = None,
        working_days: int | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.extend",
            lambda n: n.extend(
                by=by,
                reason=reason,
                resolve_due=resolve_due,
                working_days=working_days,
                policy=self.deadline_policy,
            ),
            expected_version,
        )

    def supervise_need(
        self, by: Actor, need_id: UUID, *, text: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.supervise",
            lambda n: n.supervise(by=by, text=text),
            expected_version,
        )
