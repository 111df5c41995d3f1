"""Commands on needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from application.access import authorize, sees_need
from application.base import LinliBase, Recorded
from domain.actor import Actor
from domain.errors import InvalidValue, NotFound
from domain.need import RAISING_ROLES, Need


class NeedCommands(LinliBase):

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
        toward: str | None = None,
        need_id: UUID | None = None,
    ) -> Recorded:
        authorize(by, "need.register")
        compound = self._visible_compound(by, compound_id, "compound_id")
        if by.role in RAISING_ROLES:
            # Raised for the party the credential names, which serves this compound.
            self._own_party(by, compound_id)
        if building_id is not None and not compound.has_building(building_id):
            raise InvalidValue("building_id", "no such building in this compound")
        if household_id is not None and not compound.has_household(household_id):
            raise InvalidValue("household_id", "no such household in this compound")
        need = Need.register(
            by=by,
            id=need_id or self.new_id(),
            compound_id=compound_id,
            source=source,
            title=title,
            description=description,
            category=category,
            building_id=building_id,
            household_id=household_id,
            location=location,
            attachments=attachments,
            toward=toward,
            household_owner_id=compound.owner_of(household_id) if household_id else None,
        )
        return self._create(need)

    def get_need(self, by: Actor, need_id: UUID) -> Need:
        authorize(by, "need.read")
        need = self._load(Need, need_id, "need")
        if not sees_need(by, need):
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
            if not sees_need(by, need):
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
        offer_id: UUID | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        def assign(need: Need) -> None:
            party = self.party_serving(need.compound_id, party_id, "party_id")
            if commitment_id is not None:
                if commitment_item_no is None:
                    raise InvalidValue(
                        "commitment_item_no", "cite a commitment and an item number together"
                    )
                if offer_id is not None:
                    raise InvalidValue("offer_id", "cite a service-list item or an offer, not both")
                self.check_commitment_item(need, party, commitment_id, commitment_item_no)
            if offer_id is not None and need.toward is None:
                self.check_offer(need, party, offer_id)
            need.assign(
                by=by,
                party_id=party.id,
                party_role=party.kind,
                reason=reason,
                commitment_id=commitment_id,
                commitment_item_no=commitment_item_no,
                offer_id=offer_id,
                policy=self.deadline_policy,
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
        resolved: bool | None = None,
        obtained_by: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.evaluate",
            lambda n: n.evaluate(
                by=by,
                evaluation=evaluation,
                comment=comment,
                resolved=resolved,
                obtained_by=obtained_by,
                policy=self.deadline_policy,
            ),
            expected_version,
        )

    def evaluate_compound_side(
        self,
        by: Actor,
        need_id: UUID,
        *,
        coordination: str,
        cooperation: str,
        comment: str | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        """The provider's evaluation of the compound's side of a closed need (双向评价)."""
        return self._change_need(
            by,
            need_id,
            "need.evaluate_compound",
            lambda n: n.evaluate_compound_side(
                by=by, coordination=coordination, cooperation=cooperation, comment=comment
            ),
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

    def exclude_need_from_assessment(
        self,
        by: Actor,
        need_id: UUID,
        *,
        party_id: UUID,
        reason: str,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.exclude",
            lambda n: n.exclude_from_assessment(by=by, party_id=party_id, reason=reason),
            expected_version,
        )

    def revoke_need_exclusion(
        self,
        by: Actor,
        need_id: UUID,
        *,
        party_id: UUID,
        reason: str,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_need(
            by,
            need_id,
            "need.exclude",
            lambda n: n.revoke_exclusion(by=by, party_id=party_id, reason=reason),
            expected_version,
        )


