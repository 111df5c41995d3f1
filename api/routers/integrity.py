"""The integrity of the log (DESIGN 3.7, issue 26): signed checkpoints of the
Merkle tree over the stored events, and inclusion and consistency proofs
(RFC 9162). The tree is brought up to date before each answer; see
infrastructure/transparency_log.py and api/integrity_schemas.py."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from api import integrity_schemas as s
from api.deps import ServicesDep, requires
from api.routers.needs import visible_need
from api.routing import Route
from application.transparency import CHECKPOINT_FORMAT, Tree, b64
from domain.actor import Actor
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


@router.get(
    "/audit/proofs/inclusion",
    response_model=s.InclusionProofs,
    response_model_exclude_unset=True,
    summary="prove each event of a need is in the tree (RFC 9162 audit paths)",
)
def inclusion_proofs(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("audit.read"))],
    need_id: Annotated[UUID, Query(description="the need whose events to prove")],
    tree_size: Annotated[
        Size, Query(description="the tree to prove them in; default: the latest checkpoint's")
    ] = None,
) -> Any:
    """For every event of the need within the tree: its leaf index, leaf hash
    and audit path. Check each with the RFC's algorithm (2.1.3.2) against the
    root of the signed checkpoint."""
    visible_need(services, actor, need_id)
    tlog, tree = _current(services)
    size, checkpoint = _size(tlog, tree, "tree_size", tree_size)
    leaves = tlog.leaves_of(need_id, tree.size)
    within = [leaf for leaf in leaves if leaf["leaf_index"] < size]
    return {
        "need_id": str(need_id),
        "tree_size": size,
        "root_hash": b64(tree.root(size)),
        "checkpoint": checkpoint,
        "events": [
            {
                "leaf_index": leaf["leaf_index"],
                "notification_id": leaf["notification_id"],
                "version": leaf["version"],
                "leaf_hash": b64(leaf["leaf_hash"]),
                "audit_path": [b64(h) for h in tree.inclusion_proof(leaf["leaf_index"], size)],
            }
            for leaf in within
        ],
        "events_after": len(leaves) - len(within),
    }


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
