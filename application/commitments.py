"""Commands on service commitments (服务清单). Not yet built: issue 3."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from application.base import LinliBase
from domain.need import Need
from domain.party import Party

# Aggregate classes to snapshot, and every how many versions.
SNAPSHOTTING: dict[type, int] = {}


class CommitmentCommands(LinliBase):
    def check_commitment_item(
        self, need: Need, party: Party, commitment_id: UUID, item_no: int
    ) -> Any:
        """Raise InvalidValue unless the item is in the version in effect for
        the need's compound and the party. Returns nothing useful yet."""
        from domain.errors import InvalidValue

        raise InvalidValue("commitment_id", "service commitments are not available yet")
