"""Commands on consultations (协商议事), and the needs they take and give back.

A consultation and the needs it concerns change together: proposing one with
needs in dispute escalates them, attaching a need escalates it, and every
conclusion (vote closed, consensus, cancellation) returns them to their
parties. Each of these saves the consultation and its needs in one
``save(...)`` call, so either all of it is recorded or none; a lost version
race re-runs the whole command on the new state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.access import CASE_READERS, authorize, register_permissions, sees_need
from application.base import ConcurrentChange, LinliBase, Recorded, StaleVersion
from domain.actor import PARTY_ROLES, Actor, Role
from domain.compound import Compound
from domain.consultation import Consultation, Elector, owners_of_households
from domain.errors import InvalidValue, NotFound
from domain.need import TRANSITIONS as NEED_TRANSITIONS
from domain.need import Need, NeedStatus

log = logging.getLogger(__name__)

R = Role
# Who propose, convene and record a consultation's proceedings (DESIGN 1).
CONVENERS = frozenset({R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.COMMUNITY_STAFF})

register_permissions(
    {
        "consultation.propose": CONVENERS,
        "consultation.convene": CONVENERS,
        "consultation.record_opinion": frozenset(
            {*PARTY_ROLES, R.COMMUNITY_STAFF, R.GRID_WORKER, R.RESIDENT}
        ),
        # Residents vote as owners; conveners record a vote on an owner's behalf.
        "consultation.vote": frozenset({R.RESIDENT, *CONVENERS}),
        "consultation.close_vote": CONVENERS,
        "consultation.record_resolution": CONVENERS,
        "consultation.publish": CONVENERS,
        "consultation.add_actions": CONVENERS,
        # The responsible party's staff, or a coordinator (checked by the domain).
        "consultation.complete_action": frozenset({*PARTY_ROLES, R.COMMUNITY_STAFF}),
        "consultation.cancel": CONVENERS,
        "consultation.read": CASE_READERS,
        "need.escalate": CONVENERS,
    }
)


def can_see_consultation(actor: Actor, compound_id: UUID) -> bool:
    """A consultation is the compound's public business: everyone of the compound sees it."""
    return actor.role != R.ADMIN and actor.covers(compound_id)


class ConsultationCommands(LinliBase):

    # ----- proposing, and the needs it takes -------------------------------

    def propose_consultation(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        topic: str,
        description: str | None = None,
        need_ids: Sequence[UUID] | None = None,
        consultation_id: UUID | None = None,
    ) -> Recorded:
        """Propose a consultation; the needs it names move to ``escalated`` with it."""
        authorize(by, "consultation.propose")
        self._visible_compound(by, compound_id, "compound_id")
        wanted = list(need_ids or [])
        consultation_id = consultation_id or self.new_id()
        if (earlier := self._replayed()) is not None:
            return earlier
        for attempt in range(self.max_retries):
            consultation = Consultation.propose(
                by=by,
                id=consultation_id,
                compound_id=compound_id,
                topic=topic,
                description=description,
                need_ids=wanted,
            )
            needs = [self._disputed_need(by, need_id, compound_id) for need_id in wanted]
            for need in needs:
                need.escalate(by=by, consultation_id=consultation.id)
            try:
                return self._create(consultation, *needs)
            except IntegrityError:
                self._lost_race("consultation", consultation_id, attempt)
        raise ConcurrentChange("the needs kept changing; try again")

    def _disputed_need(self, by: Actor, need_id: UUID, compound_id: UUID) -> Need:
        try:
            need = self._load(Need, need_id, "need")
        except NotFound:
            raise InvalidValue("need_ids", f"no such need {need_id}") from None
        if not sees_need(by, need):
            raise InvalidValue("need_ids", f"no such need {need_id}")
        if need.compound_id != compound_id:
            raise InvalidValue("need_ids", f"need {need_id} is in another compound")
        if need.status not in NEED_TRANSITIONS["escalate"]:
            raise InvalidValue(
                "need_ids",
                f"need {need_id} is '{need.status}'; only assigned or in-progress needs "
                "go to a consultation",
            )
        return need

    def escalate_need(
        self,
        by: Actor,
        need_id: UUID,
        *,
        consultation_id: UUID,
        expected_version: int | None = None,
    ) -> Recorded:
        """Attach a need to an open consultation: the need is escalated to it.

        ``expected_version`` is the need's version (the route is the need's).
        """
        authorize(by, "need.escalate")
        if (earlier := self._replayed()) is not None:
            return earlier
        for attempt in range(self.max_retries):
            need = self._load(Need, need_id, "need")
            if not sees_need(by, need):
                raise NotFound("need not found")
            if expected_version is not None and need.version != expected_version:
                raise StaleVersion(expected_version, need.version)
            consultation = self._consultation_named(by, consultation_id, need.compound_id)
            need.escalate(by=by, consultation_id=consultation.id)
            consultation.attach_need(by=by, need_id=need.id)
            try:
                # The answer is made before the saved copies are kept for other
                # threads' commands (LinliBase._commit): nothing reads them after.
                return self._commit(need, consultation)
            except IntegrityError:
                if (earlier := self._replayed()) is not None:
                    return earlier
                if expected_version is not None:
                    raise StaleVersion(expected_version, need.version) from None
                self._lost_race("need", need_id, attempt)
                continue
        raise ConcurrentChange(f"need {need_id} kept changing; try again")

    def _consultation_named(
        self, by: Actor, consultation_id: UUID, compound_id: UUID
    ) -> Consultation:
        try:
            consultation = self._load(Consultation, consultation_id, "consultation")
        except NotFound:
            raise InvalidValue("consultation_id", "no such consultation") from None
        if not can_see_consultation(by, consultation.compound_id):
            raise InvalidValue("consultation_id", "no such consultation")
        if consultation.compound_id != compound_id:
            raise InvalidValue("consultation_id", "the consultation is of another compound")
        if not consultation.accepts_needs:
            raise InvalidValue(
                "consultation_id",
                f"the consultation is '{consultation.status}'; only a proposed or convened "
                "consultation takes needs",
            )
        return consultation

    # ----- reading ---------------------------------------------------------

    def get_consultation(self, by: Actor, consultation_id: UUID) -> Consultation:
        authorize(by, "consultation.read")
        consultation = self._load(Consultation, consultation_id, "consultation")
        if not can_see_consultation(by, consultation.compound_id):
            raise NotFound("consultation not found")
        return consultation

    # ----- the proceedings ----------------------------------------------------

    def convene_consultation(
        self,
        by: Actor,
        consultation_id: UUID,
        *,
        meets_at: datetime,
        place: str,
        method: str,
        invited_party_ids: Sequence[UUID] = (),
        invited_others: Sequence[str] = (),
        motion: str | None = None,
        matter: str | None = None,
        electorate: Sequence[tuple[str, Decimal]] | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        """Convene it. A vote's electorate is given, or else taken from the
        compound's households: each owner person once with the sum of their
        units' areas, each household without an owner person by its own id."""

        def convene(c: Consultation) -> None:
            for party_id in invited_party_ids:
                self._party_of(c, party_id, "invited_party_ids")
            owners: Sequence[Elector] | None = electorate
            source = "explicit"
            if method == "vote" and electorate is None:
                owners = self._households_of(c.compound_id)
                source = "households"
            c.convene(
                by=by,
                meets_at=meets_at,
                place=place,
                method=method,
                invited_party_ids=invited_party_ids,
                invited_others=invited_others,
                motion=motion,
                matter=matter,
                electorate=owners,
                electorate_source=source,
            )

        return self._change(by, consultation_id, "consultation.convene", convene, expected_version)

    def _households_of(self, compound_id: UUID) -> list[tuple[str, Decimal, list[str]]]:
        """The default electorate: the owners of the compound's households, an
        owner person of several units once with the sum of their areas
        (domain.consultation.owners_of_households), each with the households held."""
        compound = self._load(Compound, compound_id, "compound")
        if not compound.households:
            raise InvalidValue(
                "electorate",
                "the compound has no households registered; give the electorate explicitly",
            )
        return owners_of_households(compound.households)

    def record_consultation_opinion(
        self,
        by: Actor,
        consultation_id: UUID,
        *,
        text: str,
        speaker: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.record_opinion",
            lambda c: c.record_opinion(by=by, text=text, speaker=speaker),
            expected_version,
        )

    def cast_consultation_vote(
        self,
        by: Actor,
        consultation_id: UUID,
        *,
        choice: str,
        owner_id: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.vote",
            lambda c: c.cast_vote(by=by, choice=choice, owner_id=owner_id),
            expected_version,
        )

    def close_consultation_vote(
        self, by: Actor, consultation_id: UUID, *, expected_version: int | None = None
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.close_vote",
            lambda c: c.close_vote(by=by),
            expected_version,
        )

    def record_consultation_resolution(
        self, by: Actor, consultation_id: UUID, *, text: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.record_resolution",
            lambda c: c.record_resolution(by=by, text=text),
            expected_version,
        )

    def publish_consultation_resolution(
        self,
        by: Actor,
        consultation_id: UUID,
        *,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.publish",
            lambda c: c.publish(by=by, note=note),
            expected_version,
        )

    def add_consultation_actions(
        self,
        by: Actor,
        consultation_id: UUID,
        *,
        items: Sequence[tuple[str, UUID, date]],
        expected_version: int | None = None,
    ) -> tuple[list[int], Recorded]:
        """Add action items; returns their numbers and the recorded change."""
        numbers: list[int] = []

        def add(c: Consultation) -> None:
            for _, party_id, _ in items:
                self._party_of(c, party_id, "party_id")
            numbers[:] = c.add_action_items(by=by, items=items)

        recorded = self._change(
            by, consultation_id, "consultation.add_actions", add, expected_version
        )
        return numbers, recorded

    def complete_consultation_action(
        self,
        by: Actor,
        consultation_id: UUID,
        number: int,
        *,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.complete_action",
            lambda c: c.complete_action_item(by=by, number=number, note=note),
            expected_version,
        )

    def cancel_consultation(
        self, by: Actor, consultation_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change(
            by,
            consultation_id,
            "consultation.cancel",
            lambda c: c.cancel(by=by, reason=reason),
            expected_version,
        )

    # ----- helpers ----------------------------------------------------------------

    def _party_of(self, c: Consultation, party_id: UUID, field: str) -> None:
        self.party_serving(c.compound_id, party_id, field)

    def _change(
        self,
        by: Actor,
        consultation_id: UUID,
        action: str,
        change: Callable[[Consultation], Any],
        expected_version: int | None,
    ) -> Recorded:
        """Load, change and save a consultation; when the change concludes it,
        its escalated needs return to their parties in the same save."""
        authorize(by, action)
        if (earlier := self._replayed()) is not None:
            return earlier
        for attempt in range(self.max_retries):
            consultation = self.get_consultation(by, consultation_id)
            if expected_version is not None and consultation.version != expected_version:
                raise StaleVersion(expected_version, consultation.version)
            was_concluded = consultation.is_concluded
            change(consultation)
            needs: list[Need] = []
            if consultation.is_concluded and not was_concluded:
                needs = self._return_needs(by, consultation)
            try:
                return self._commit(consultation, *needs)
            except IntegrityError:
                if (earlier := self._replayed()) is not None:
                    return earlier
                if expected_version is not None:
                    raise StaleVersion(expected_version, consultation.version) from None
                self._lost_race("consultation", consultation_id, attempt)
                continue
        raise ConcurrentChange(f"consultation {consultation_id} kept changing; try again")

    def _return_needs(self, by: Actor, consultation: Consultation) -> list[Need]:
        """The needs still escalated to the consultation, returned with its outcome."""
        assert consultation.outcome is not None
        needs = []
        for need_id in consultation.need_ids:
            need = self._load(Need, need_id, "need")
            if need.status != NeedStatus.ESCALATED or need.consultation_id != consultation.id:
                log.warning("need %s is no longer escalated to %s", need_id, consultation.id)
                continue
            need.return_from_consultation(
                by=by,
                consultation_id=consultation.id,
                outcome=consultation.outcome,
                resolution=consultation.resolution,
                policy=self.deadline_policy,
            )
            needs.append(need)
        return needs

    def _lost_race(self, what: str, aggregate_id: UUID, attempt: int) -> None:
        log.info("version race on %s %s, attempt %d", what, aggregate_id, attempt + 1)
        time.sleep(0.005 * (attempt + 1))
