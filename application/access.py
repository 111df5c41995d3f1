"""Who may do what (DESIGN section 1), and who may see which case.

One table names, for every action, the roles allowed to take it. The HTTP
layer declares the action of each route; the application checks it again, so
the rule holds for every entry point.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.actor import PARTY_ROLES, Actor, Role
from domain.errors import NotFound, NotPermitted

R = Role
ALL_ROLES = frozenset(Role)
CASE_READERS = ALL_ROLES - {R.ADMIN}
COORDINATORS = frozenset({R.COMMUNITY_STAFF, R.PARTY_BRANCH})
AUDITORS = frozenset(
    {R.SUPERVISOR, R.COMMUNITY_STAFF, R.PARTY_BRANCH, R.OWNERS_COMMITTEE, R.GRID_WORKER}
)

PERMISSIONS: dict[str, frozenset[Role]] = {
    # Community staff register compounds and parties; an administrator issues
    # credentials (on the command line) and nothing else (DESIGN section 1).
    "compound.register": frozenset({R.COMMUNITY_STAFF}),
    "compound.change": frozenset({R.COMMUNITY_STAFF}),
    "compound.read": ALL_ROLES,
    "party.register": frozenset({R.COMMUNITY_STAFF}),
    "party.read": ALL_ROLES,
    # A property company's or co-building unit's staff register their party's
    # needs toward the compound (DESIGN 2.5), and only those.
    "need.register": frozenset(
        {
            R.RESIDENT,
            R.GRID_WORKER,
            R.COMMUNITY_STAFF,
            R.PARTY_BRANCH,
            R.OWNERS_COMMITTEE,
            R.PROPERTY_COMPANY,
            R.CO_BUILDING_UNIT,
        }
    ),
    "need.accept": COORDINATORS,
    "need.reject": COORDINATORS,
    "need.merge": COORDINATORS,
    "need.transfer": COORDINATORS,
    "need.assign": COORDINATORS,
    "need.extend": COORDINATORS,
    # Staff close an unevaluated need (DESIGN 2.1); the party branch may be the
    # party the need is assigned to, and would close its own case.
    "need.close": frozenset({R.COMMUNITY_STAFF}),
    # Community staff handle the compound's side of a need toward it themselves.
    "need.acknowledge": frozenset({*PARTY_ROLES, R.COMMUNITY_STAFF}),
    "need.resolve": frozenset({*PARTY_ROLES, R.COMMUNITY_STAFF}),
    # The raising party's staff evaluate and withdraw a need it raised toward the compound.
    "need.evaluate": frozenset(
        {R.RESIDENT, R.COMMUNITY_STAFF, R.GRID_WORKER, R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT}
    ),
    "need.withdraw": frozenset(
        {R.RESIDENT, R.COMMUNITY_STAFF, R.GRID_WORKER, R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT}
    ),
    # The provider's evaluation of the compound's side of a closed need (双向评价).
    "need.evaluate_compound": frozenset({R.PROPERTY_COMPANY, R.CO_BUILDING_UNIT}),
    "need.add_note": frozenset({R.GRID_WORKER, R.COMMUNITY_STAFF, *PARTY_ROLES}),
    "need.supervise": frozenset({R.SUPERVISOR}),
    # Leaving a need out of a party's assessment (不纳入考评), and revoking it.
    "need.exclude": frozenset({R.SUPERVISOR}),
    "need.read": CASE_READERS,
    "stats.read": AUDITORS,
    "audit.read": AUDITORS,
    # Signing a checkpoint of the log's Merkle tree on demand (issue 26); the
    # periodic ones are the server's own.
    "audit.checkpoint": frozenset({R.SUPERVISOR}),
}

# Party staff who see every need of their compounds; the others see the
# needs assigned to their own party.
_SEES_ALL_NEEDS = frozenset(
    {R.GRID_WORKER, R.COMMUNITY_STAFF, R.SUPERVISOR, R.PARTY_BRANCH, R.OWNERS_COMMITTEE}
)


def authorize(actor: Actor, action: str) -> None:
    roles = PERMISSIONS[action]
    if actor.role not in roles:
        raise NotPermitted(f"role '{actor.role}' may not {action.replace('.', ' ')}")


def ensure_compound_visible(actor: Actor, compound_id: UUID, what: str = "compound") -> None:
    if not actor.covers(compound_id):
        raise NotFound(f"{what} not found")


def can_see_need(
    actor: Actor,
    compound_id: UUID,
    reporter_id: str,
    assigned_party_id: UUID | None,
    collected_from: UUID | None = None,
    raised_by_party_id: UUID | None = None,
) -> bool:
    """Residents see what they reported and what others collected from their
    household (``collected_from``, see ``domain.need.collected_from``); not
    what another resident of the household reported. A party's staff see the
    needs their party has, and those it raised toward the compound."""
    if actor.role == R.ADMIN or not actor.covers(compound_id):
        return False
    if actor.role == R.RESIDENT:
        return reporter_id == actor.id or (
            collected_from is not None and collected_from == actor.household_id
        )
    if actor.role in _SEES_ALL_NEEDS:
        return True
    return actor.party_id is not None and actor.party_id in (assigned_party_id, raised_by_party_id)


def sees_need(actor: Actor, need: Any) -> bool:
    """``can_see_need`` for a loaded Need (domain.need.Need)."""
    return can_see_need(
        actor,
        need.compound_id,
        need.reporter_id,
        need.assigned_party_id,
        need.collected_from,
        need.raised_by_party_id,
    )


def need_scope(actor: Actor) -> dict[str, object]:
    """The filters that limit a list of needs to what the actor may see."""
    scope: dict[str, object] = {}
    if actor.compound_ids is not None:
        scope["compound_ids"] = sorted(actor.compound_ids, key=str)
    if actor.role == R.RESIDENT:
        scope["reporter_id"] = actor.id
        scope["household_id"] = None if actor.household_id is None else str(actor.household_id)
    elif actor.role not in _SEES_ALL_NEEDS:
        # The needs their party has (and, in lists of needs, those it raised:
        # ``own_party_id`` of the need view).
        scope["assigned_party_id"] = actor.party_id
    return scope


def register_permissions(permissions: dict[str, frozenset[Role]]) -> None:
    """Each aggregate's application module adds the actions it defines."""
    for action, roles in permissions.items():
        if PERMISSIONS.get(action, roles) != roles:
            raise ValueError(f"permission {action!r} registered twice with other roles")
        PERMISSIONS[action] = roles
