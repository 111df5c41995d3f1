"""Commands on service commitments (服务清单)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

from application.access import CASE_READERS, authorize, register_permissions
from application.base import LinliBase, Recorded
from domain.actor import Actor, Role
from domain.commitment import (
    CONFIRMERS,
    DRAFTERS,
    INSPECTORS,
    OPINION_RECORDERS,
    OVERSEERS,
    PROVIDER_KINDS,
    CommitmentStatus,
    ServiceCommitment,
)
from domain.compound import Compound
from domain.errors import InvalidValue, NotFound, NotPermitted
from domain.need import Need
from domain.party import Party

# Aggregate classes to snapshot, and every how many versions. A list loads
# from its latest snapshot and at most 49 events after it.
SNAPSHOT_INTERVAL = 50
SNAPSHOTTING: dict[type, int] = {ServiceCommitment: SNAPSHOT_INTERVAL}

register_permissions(
    {
        "commitment.draft": DRAFTERS,
        "commitment.amend": DRAFTERS,
        "commitment.opinion": OPINION_RECORDERS,
        "commitment.confirm": CONFIRMERS,
        "commitment.inspect": INSPECTORS,
        "commitment.suspend": OVERSEERS,
        "commitment.resume": OVERSEERS,
        "commitment.terminate": OVERSEERS,
        "commitment.read": CASE_READERS,
    }
)

WHAT = "service commitment"


class CommitmentCommands(LinliBase):

    # ----- the party a credential acts for ---------------------------------

    def _own_party(self, by: Actor, compound_id: UUID) -> Party:
        """The party branch or owners' committee that ``by`` acts for, in that compound."""
        if by.party_id is None:
            raise NotPermitted(f"your credential names no {by.role} party")
        try:
            party = self.get_party(by.party_id)
        except NotFound:
            raise NotPermitted(
                f"your credential's party is not this compound's {by.role}"
            ) from None
        if party.compound_id != compound_id or party.kind != by.role:
            raise NotPermitted(f"your credential's party is not this compound's {by.role}")
        return party

    def _provider(self, compound_id: UUID, provider_party_id: UUID) -> Party:
        party = self.party_serving(compound_id, provider_party_id, "provider_party_id")
        if party.kind not in PROVIDER_KINDS:
            raise InvalidValue(
                "provider_party_id",
                f"a service list is for a property company or a co-building unit, "
                f"not a party of kind '{party.kind}'",
            )
        return party

    # ----- commands ------------------------------------------------------------

    def draft_commitment(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        provider_party_id: UUID,
        title: str,
        items: Sequence[Mapping[str, Any]],
        commitment_id: UUID | None = None,
    ) -> Recorded:
        authorize(by, "commitment.draft")
        self._visible_compound(by, compound_id, "compound_id")
        self._own_party(by, compound_id)
        provider = self._provider(compound_id, provider_party_id)
        commitment = ServiceCommitment.draft(
            by=by,
            # From the idempotency key when there is one, so that a replay collides.
            id=commitment_id or self.new_id(),
            compound_id=compound_id,
            provider_party_id=provider.id,
            provider_kind=provider.kind,
            title=title,
            items=items,
        )
        return self._create(commitment)

    def get_commitment(self, by: Actor, commitment_id: UUID) -> ServiceCommitment:
        authorize(by, "commitment.read")
        commitment = self._load(ServiceCommitment, commitment_id, WHAT)
        if not by.covers(commitment.compound_id):
            raise NotFound(f"{WHAT} not found")
        return commitment

    def _change_commitment(
        self,
        by: Actor,
        commitment_id: UUID,
        action: str,
        change: Callable[[ServiceCommitment], Any],
        expected_version: int | None,
    ) -> Recorded:
        authorize(by, action)

        def checked(commitment: ServiceCommitment) -> None:
            if not by.covers(commitment.compound_id):
                raise NotFound(f"{WHAT} not found")
            change(commitment)

        return self._run(commitment_id, ServiceCommitment, WHAT, checked, expected_version)

    def record_commitment_opinion(
        self,
        by: Actor,
        commitment_id: UUID,
        *,
        text: str,
        item_no: int | None = None,
        household_id: UUID | None = None,
        list_version: int | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        def record(commitment: ServiceCommitment) -> None:
            owner = None
            if household_id is not None and by.role != Role.RESIDENT:
                compound = self._load(Compound, commitment.compound_id, "compound")
                if not compound.has_household(household_id):
                    raise InvalidValue("household_id", "no such household in this compound")
                owner = compound.owner_of(household_id)
            commitment.record_opinion(
                by=by,
                text=text,
                item_no=item_no,
                household_id=household_id,
                list_version=list_version,
                household_owner_id=owner,
            )

        return self._change_commitment(
            by, commitment_id, "commitment.opinion", record, expected_version
        )

    def confirm_commitment(
        self,
        by: Actor,
        commitment_id: UUID,
        *,
        list_version: int,
        expected_version: int | None = None,
    ) -> Recorded:
        def confirm(commitment: ServiceCommitment) -> None:
            if commitment.confirming_as(by) != "provider":
                self._own_party(by, commitment.compound_id)
            commitment.confirm(by=by, list_version=list_version)

        return self._change_commitment(
            by, commitment_id, "commitment.confirm", confirm, expected_version
        )

    def amend_commitment(
        self,
        by: Actor,
        commitment_id: UUID,
        *,
        reason: str,
        add: Sequence[Mapping[str, Any]] = (),
        change: Sequence[Mapping[str, Any]] = (),
        remove: Sequence[int] = (),
        expected_version: int | None = None,
    ) -> Recorded:
        def amend(commitment: ServiceCommitment) -> None:
            self._own_party(by, commitment.compound_id)
            commitment.amend(by=by, reason=reason, add=add, change=change, remove=remove)

        return self._change_commitment(
            by, commitment_id, "commitment.amend", amend, expected_version
        )

    def inspect_commitment_item(
        self,
        by: Actor,
        commitment_id: UUID,
        *,
        item_no: int,
        result: str,
        note: str,
        attachments: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Recorded:
        return self._change_commitment(
            by,
            commitment_id,
            "commitment.inspect",
            lambda c: c.inspect(
                by=by, item_no=item_no, result=result, note=note, attachments=attachments
            ),
            expected_version,
        )

    def suspend_commitment(
        self, by: Actor, commitment_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_commitment(
            by,
            commitment_id,
            "commitment.suspend",
            lambda c: c.suspend(by=by, reason=reason),
            expected_version,
        )

    def resume_commitment(
        self, by: Actor, commitment_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_commitment(
            by,
            commitment_id,
            "commitment.resume",
            lambda c: c.resume(by=by, reason=reason),
            expected_version,
        )

    def terminate_commitment(
        self, by: Actor, commitment_id: UUID, *, reason: str, expected_version: int | None = None
    ) -> Recorded:
        return self._change_commitment(
            by,
            commitment_id,
            "commitment.terminate",
            lambda c: c.terminate(by=by, reason=reason),
            expected_version,
        )

    # ----- a need cites an item --------------------------------------------------

    def check_commitment_item(
        self, need: Need, party: Party, commitment_id: UUID, item_no: int
    ) -> dict[str, Any]:
        """The cited item, or InvalidValue unless it is in the version in effect of a
        list in force for the need's compound and the party the need is assigned to."""
        try:
            commitment = self._load(ServiceCommitment, commitment_id, WHAT)
        except NotFound:
            raise InvalidValue("commitment_id", f"no such {WHAT}") from None
        if commitment.compound_id != need.compound_id:
            # Said the same way as a missing list: another compound's lists are not shown.
            raise InvalidValue("commitment_id", f"no such {WHAT} for this need's compound")
        if commitment.provider_party_id != party.id:
            raise InvalidValue(
                "commitment_id", "the service list is not the assigned party's own list"
            )
        if commitment.in_effect_version is None:
            raise InvalidValue("commitment_id", "the service list has not taken effect yet")
        if commitment.status != CommitmentStatus.IN_EFFECT:
            raise InvalidValue("commitment_id", f"the service list is {commitment.status}")
        item = commitment.item_in_effect(item_no)
        if item is None:
            raise InvalidValue(
                "commitment_item_no",
                f"item {item_no} is not in version {commitment.in_effect_version}, "
                "the version in effect",
            )
        return item
