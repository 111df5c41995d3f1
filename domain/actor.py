"""Who acts: roles and the actor that every event names."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from uuid import UUID


class Role(StrEnum):
    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"
    PARTY_BRANCH = "party_branch"
    OWNERS_COMMITTEE = "owners_committee"
    PROPERTY_COMPANY = "property_company"
    CO_BUILDING_UNIT = "co_building_unit"
    COMMUNITY_STAFF = "community_staff"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLE_LABELS_ZH = {
    Role.RESIDENT: "居民/业主",
    Role.GRID_WORKER: "网格员/楼栋长",
    Role.PARTY_BRANCH: "小区党支部",
    Role.OWNERS_COMMITTEE: "业主委员会",
    Role.PROPERTY_COMPANY: "物业服务企业",
    Role.CO_BUILDING_UNIT: "共建单位",
    Role.COMMUNITY_STAFF: "社区工作人员",
    Role.SUPERVISOR: "街道/督查",
    Role.ADMIN: "系统管理员",
}

# Roles whose staff act for a party (责任主体) and may be assigned needs.
PARTY_ROLES = frozenset(
    {Role.PARTY_BRANCH, Role.OWNERS_COMMITTEE, Role.PROPERTY_COMPANY, Role.CO_BUILDING_UNIT}
)


@dataclass(frozen=True)
class Actor:
    """The person behind a command, as their credential describes them.

    ``compound_ids`` is None for a credential that covers every compound
    (a district supervisor, an administrator).
    """

    id: str
    role: Role
    compound_ids: frozenset[UUID] | None = field(default=frozenset())
    household_id: UUID | None = None
    party_id: UUID | None = None

    def covers(self, compound_id: UUID) -> bool:
        return self.compound_ids is None or compound_id in self.compound_ids

    @property
    def is_party_staff(self) -> bool:
        return self.role in PARTY_ROLES
