"""The integrity of the log (DESIGN 3.7, issue 26): signed checkpoints of the
Merkle tree over the stored events, and inclusion and consistency proofs
(RFC 9162). The tree is brought up to date before each answer, so that an
answer is never of a stale tree, whether the upkeep thread runs or not
(``LINLI_TRANSPARENCY_UPKEEP``); see infrastructure/transparency_log.py and
api/integrity_schemas.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from api import integrity_schemas as s
from api.deps import ServicesDep, requires, wait_for_views
from api.routers.commitments import visible_commitment
from api.routers.consultations import visible_consultation
from api.routers.needs import After, visible_need
from api.routers.offers import _visible_offer
from api.routing import Route
from application.access import PERMISSIONS
from application.transparency import CHECKPOINT_FORMAT, Tree, b64
from domain.actor import Actor
from domain.errors import NotFound
from infrastructure.transparency_log import (
    NoCheckpointKey,
    TransparencyLog,
    public_pem,
    public_raw,
    transparency_of,
)

router = APIRouter(route_class=Route, tags=["integrity"])

# Until a permission of its own (``audit.checkpoint``: supervisors and
# administrators), signing a checkpoint takes the supervisors' closing of a
# month: an attestation of the record at a log position, as this is.
CHECKPOINT_ACTION = "audit.checkpoint"

SIGNED_MESSAGE = (
    "Ed25519 over the ASCII bytes 'linli-checkpoint/v1\\n' + tree_size (decimal) + '\\n' + "
    "root_hash (base64) + '\\n' + timestamp + '\\n'"
)

Size = Annotated[int | None, Query(ge=1, le=2**62)]


def _bad(parameter: str, message: str) -> HTTPException:
    return HTTPException(
        status_code=422,
        detail=[{"loc": ["query", parameter], "msg": message, "type": "value_error"}],
    )


def _current(services: Any) -> tuple[TransparencyLog, Tree]:
    tlog = transparency_of(services)
    tlog.catch_up()
    return tlog, tlog.tree()


def _size(
    tlog: TransparencyLog, tree: Tree, parameter: str, given: int | None
) -> tuple[int, dict[str, Any] | None]:
    """The tree size asked for, else the latest checkpoint's, else the tree's now."""
    if given is not None:
        if given > tree.size:
            raise _bad(parameter, f"the tree has {tree.size} leaves; {parameter}={given} is beyond it")
        return given, None
    latest = tlog.latest_checkpoint()
    if latest is not None and latest["tree_size"] <= tree.size:
        return latest["tree_size"], latest
    return tree.size, None


@router.post(
    "/audit/checkpoints",
    status_code=201,
    response_model=s.Checkpoint,
    summary="sign a checkpoint (tree head) of the log as it is now",
)
def create_checkpoint(
    services: ServicesDep, actor: Annotated[Actor, Depends(requires(CHECKPOINT_ACTION))]
) -> Any:
    """Bring the Merkle tree up to date and sign its size and root with the
    service's key (``LINLI_CHECKPOINT_KEY_FILE``); 409 without a usable key."""
    try:
        return transparency_of(services).checkpoint()
    except NoCheckpointKey as error:
        raise HTTPException(status_code=409, detail=str(error)) from None


@router.get(
    "/audit/checkpoints",
    response_model=s.CheckpointList,
    response_model_exclude_unset=True,
    summary="every signed checkpoint, and the public key to check them with",
)
def list_checkpoints(
    services: ServicesDep, actor: Annotated[Actor, Depends(requires("audit.read"))]
) -> Any:
    """Save the answer as a file, outside Linli: ``linli audit verify
    --checkpoint FILE`` then proves the log is still what was signed."""
    tlog, tree = _current(services)
    key = tlog.public_key()
    return {
        "format": CHECKPOINT_FORMAT,
        "public_key": None if key is None else b64(public_raw(key)),
        "public_key_pem": None if key is None else public_pem(key),
        "signed_message": SIGNED_MESSAGE,
        "tree_size": tree.size,
        "root_hash": b64(tree.root()),
        "checkpoints": tlog.checkpoints(),
    }


# ----- whose trail may be proved ----------------------------------------------------------

Visible = Callable[[Any, Actor, UUID], Any]


def _in_compound(case_type: str) -> Visible:
    """Cases read by whoever covers their compound (as their lists are)."""

    def visible(services: Any, actor: Actor, case_id: UUID) -> Any:
        row = services.views.case(case_type, str(case_id))
        if row is None or not row.get("compound_id") or not actor.covers(UUID(row["compound_id"])):
            raise NotFound("case not found")
        return row

    return visible


# Each case type whose trail may be proved: the permission to read such a
# case and who may see one, as the type's own routes decide (its /history,
# where it has one; its list's scope, where not).
TRAILS: dict[str, tuple[str, Visible]] = {
    "need": ("need.read", visible_need),
    "consultation": ("consultation.read", visible_consultation),
    "commitment": ("commitment.read", visible_commitment),
    "offer": ("offer.read", _visible_offer),
    "visit": ("visit.read", _in_compound("visit")),
    "assessment": ("assessment.read", _in_compound("assessment")),
    "compound": ("compound.read", _in_compound("compound")),
    "party": ("party.read", _in_compound("party")),
}


def _case_type_of(services: Any, case_id: UUID) -> str | None:
    if services.views.need(str(case_id)) is not None:
        return "need"
    for case_type in TRAILS:
        if case_type != "need" and services.views.case(case_type, str(case_id)) is not None:
            return case_type
    return None


def readable_case(services: Any, actor: Actor, case_id: UUID, only: str | None = None) -> str:
    """The type of the case ``case_id`` (of type ``only``, if given) when the
    actor may read it and its trail; else NotFound, the same for a case that
    is not there and one the actor may not see."""
    case_type = _case_type_of(services, case_id)
    what = "case" if only is None else only
    if case_type is None or (only is not None and case_type != only):
        raise NotFound(f"{what} not found")
    action, visible = TRAILS[case_type]
    if actor.role not in PERMISSIONS[action]:
        raise NotFound(f"{what} not found")
    visible(services, actor, case_id)
    return case_type


@router.get(
    "/audit/proofs/inclusion",
    response_model=s.InclusionProofs,
    response_model_exclude_unset=True,
    summary="prove each event on a case's trail is in the tree (RFC 9162 audit paths)",
)
def inclusion_proofs(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("audit.read"))],
    case_id: Annotated[
        UUID | None,
        Query(
            description="the case whose trail to prove: a need, consultation, service "
            "commitment, offer, household visit, assessment, compound or party"
        ),
    ] = None,
    need_id: Annotated[
        UUID | None, Query(description="the same as case_id, for a need (404 for another case)")
    ] = None,
    tree_size: Annotated[
        Size, Query(description="the tree to prove them in; default: the latest checkpoint's")
    ] = None,
    after: After = None,
) -> Any:
    """For every event on the case's trail (its /history: its own events and
    those of other cases shown there, such as a consultation's on each of
    its needs' trails) within the tree: its leaf index, leaf hash and audit
    path. Check each with the RFC's algorithm (2.1.3.2) against the root of
    the signed checkpoint. Whoever may read the case may prove its trail."""
    if (case_id is None) == (need_id is None):
        name = "case_id" if case_id is None else "need_id"
        raise _bad(name, "give the case as case_id (or a need as need_id), one of the two")
    wait_for_views(services, after)
    asked = case_id if case_id is not None else need_id
    assert asked is not None
    case_type = readable_case(services, actor, asked, None if case_id is not None else "need")
    tlog, tree = _current(services)
    size, checkpoint = _size(tlog, tree, "tree_size", tree_size)
    trail = tlog.trail_leaves(services.views.table("case_history"), str(asked))
    within = [e for e in trail if e["leaf_index"] is not None and e["leaf_index"] < size]
    answer = {
        "case_id": str(asked),
        "case_type": case_type,
        "tree_size": size,
        "root_hash": b64(tree.root(size)),
        "checkpoint": checkpoint,
        "events": [
            {
                "leaf_index": e["leaf_index"],
                "notification_id": e["notification_id"],
                "originator_id": str(e["originator_id"]),
                "case_type": e["case_type"],
                "version": e["version"],
                "leaf_hash": b64(e["leaf_hash"]),
                "audit_path": [b64(h) for h in tree.inclusion_proof(e["leaf_index"], size)],
            }
            for e in within
        ],
        "events_after": len(trail) - len(within),
    }
    if case_type == "need":
        answer["need_id"] = str(asked)
    return answer


@router.get(
    "/audit/proofs/consistency",
    response_model=s.ConsistencyProof,
    response_model_exclude_unset=True,
    summary="prove a later tree extends an earlier one (RFC 9162 consistency proof)",
)
def consistency_proof(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("audit.read"))],
    from_size: Annotated[int, Query(alias="from", ge=1, le=2**62, description="the earlier size")],
    to_size: Annotated[
        Size, Query(alias="to", description="the later size; default: the latest checkpoint's")
    ] = None,
) -> Any:
    tlog, tree = _current(services)
    size, checkpoint = _size(tlog, tree, "to", to_size)
    if from_size > size:
        raise _bad("from", f"from={from_size} is beyond to={size} (the tree has {tree.size} leaves)")
    return {
        "from_size": from_size,
        "to_size": size,
        "from_root": b64(tree.root(from_size)),
        "to_root": b64(tree.root(size)),
        "proof": [b64(h) for h in tree.consistency_proof(from_size, size)],
        "checkpoint": checkpoint,
    }
