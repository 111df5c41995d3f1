"""What the integrity routes (api/routers/integrity.py) answer: the Merkle
tree over the log (RFC 9162), its signed checkpoints, and proofs.

Every hash, signature and key is standard base64 with padding (RFC 4648,
section 4). A leaf hash is SHA-256(0x00 || leaf), a node SHA-256(0x01 ||
left || right); a leaf is the stored event as ``application.transparency.
encode_leaf`` serialises it. An audit path lists the sibling hashes from
the leaf up to the root (RFC 9162, 2.1.3); a consistency proof is the
RFC's PROOF(m, D[n]) (2.1.4).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from api.responses import Uuid, f

Base64 = str


class Checkpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = f("the checkpoint's number in this store")
    format: str = f("linli-checkpoint/v1: what the signature signs, see signed_message")
    tree_size: int = f("leaves (events) the tree had")
    root_hash: Base64 = f("the tree's root hash (MTH), base64")
    timestamp: str = f("when it was signed, UTC: 2026-12-07T14:35:33.123Z")
    signature: Base64 = f(
        "Ed25519 signature, base64, of the ASCII text "
        "'linli-checkpoint/v1\\n<tree_size>\\n<root_hash>\\n<timestamp>\\n'"
    )
    public_key: Base64 = f("the signing key's 32-byte Ed25519 public key, base64")


class CheckpointList(BaseModel):
    """Save this answer as a file; ``linli audit verify --checkpoint FILE`` checks
    the log against it."""

    format: str = f("linli-checkpoint/v1")
    public_key: Base64 | None = f(
        "the service's signing key now (32-byte Ed25519 public key, base64); null without one"
    )
    public_key_pem: str | None = f("the same key as PEM (SubjectPublicKeyInfo); null without one")
    signed_message: str = f("how the signed bytes are made from a checkpoint's fields")
    tree_size: int = f("leaves (events) in the tree now")
    root_hash: Base64 = f("the tree's root hash now, base64 (not signed)")
    checkpoints: list[Checkpoint] = f("every checkpoint, oldest first")


class EventInclusion(BaseModel):
    leaf_index: int = f("the event's leaf in the tree (dense from 0; not the notification id)")
    notification_id: int = f(
        "the event's log position (notification id): the position of its entry on the trail"
    )
    originator_id: Uuid = f(
        "the aggregate whose event it is: the case itself, or another case shown on its "
        "trail (a consultation's events on each of its needs' trails)"
    )
    case_type: str = f("the type of that aggregate: need, consultation, commitment, offer, ...")
    version: int = f("the event's version in its aggregate")
    leaf_hash: Base64 = f("SHA-256(0x00 || leaf), base64")
    audit_path: list[Base64] = f("sibling hashes, leaf to root (RFC 9162, 2.1.3.1), base64")


class InclusionProofs(BaseModel):
    case_id: Uuid = f("the case whose trail is proved")
    case_type: str = f(
        "its type: need, consultation, commitment, offer, visit, assessment, compound or party"
    )
    need_id: Uuid | None = f("the case's id again when it is a need (as ?need_id= asked)", None)
    tree_size: int = f("the size of the tree the events are proved in")
    root_hash: Base64 = f("that tree's root hash, base64")
    checkpoint: Checkpoint | None = f(
        "the signed checkpoint of that size, when the size came from the latest one"
    )
    events: list[EventInclusion] = f(
        "each event on the case's trail (as its /history gives it) within the tree, in log order"
    )
    events_after: int = f("events on the trail recorded after that tree size (not proved here)")


class ConsistencyProof(BaseModel):
    from_size: int = f("the earlier tree's size (?from=)")
    to_size: int = f("the later tree's size (?to=)")
    from_root: Base64 = f("the earlier tree's root hash, base64")
    to_root: Base64 = f("the later tree's root hash, base64")
    proof: list[Base64] = f("PROOF(from, D[to]) of RFC 9162, 2.1.4.1, base64")
    checkpoint: Checkpoint | None = f(
        "the signed checkpoint of the later size, when it came from the latest one"
    )
