"""A Merkle tree over the log, as RFC 9162 (Certificate Transparency v2.0),
section 2.1, defines it. Pure functions and an in-memory tree; no I/O.

The leaves are the application's stored events in log order, indexed
densely from 0 (a notification id skipped after a failed insert is no
leaf: the leaf index is not the notification id). A leaf's input is the
stored record as the store keeps it, serialised by ``encode_leaf``::

    leaf = 0x01                              format version of this encoding
        || uint16 length(topic) || topic     UTF-8 bytes of the event's topic
        || originator id                     16 bytes, the UUID's big-endian bytes
        || uint64 originator version
        || uint32 length(state) || state     the state bytes exactly as stored

with every integer big-endian (as TLS and the RFC write them). Each field
has its length or a fixed width, so two different records never encode to
the same bytes.

Hashes, as the RFC, with SHA-256::

    MTH({})        = SHA-256()
    MTH({d(0)})    = SHA-256(0x00 || d(0))
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))

for n > 1, k the largest power of two smaller than n. Inclusion proofs are
the RFC's PATH (2.1.3.1), consistency proofs its PROOF/SUBPROOF (2.1.4.1);
``verify_inclusion`` and ``verify_consistency`` are its verification
algorithms (2.1.3.2, 2.1.4.2).

A signed checkpoint (tree head) signs ``checkpoint_message``: the ASCII text
``linli-checkpoint/v1\\n<tree size>\\n<root, base64>\\n<timestamp>\\n``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence
from itertools import zip_longest
from uuid import UUID

HASH_SIZE = 32
LEAF_FORMAT = 1
EMPTY_ROOT = hashlib.sha256(b"").digest()
CHECKPOINT_FORMAT = "linli-checkpoint/v1"

# Perfect subtrees of 2**CACHE_FROM leaves and more are kept by ``Tree``;
# smaller ones are hashed again from the leaves when asked (at most 15 hashes).
CACHE_FROM = 4


def encode_leaf(topic: str, originator_id: UUID, originator_version: int, state: bytes) -> bytes:
    """The bytes a stored event contributes as a leaf (see the module's text)."""
    name = topic.encode("utf-8")
    return b"".join(
        (
            struct.pack(">BH", LEAF_FORMAT, len(name)),
            name,
            originator_id.bytes,
            struct.pack(">QI", originator_version, len(state)),
            bytes(state),
        )
    )


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaves given by their leaf hashes, in one pass."""
    frontier = Frontier()
    for h in hashes:
        frontier.append(h)
    return frontier.root()


class Frontier:
    """The right edge of a growing tree: the roots of its maximal perfect
    subtrees, left to right (at most log2 n of them). Enough to give the root
    of the tree as it grows, leaf by leaf, without keeping the leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (leaves under it, its hash)

    def append(self, leaf_hash_: bytes) -> None:
        self.size += 1
        width, h = 1, leaf_hash_
        while self._stack and self._stack[-1][0] == width:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            width *= 2
        self._stack.append((width, h))

    def root(self) -> bytes:
        """MTH of the leaves so far: the perfect subtrees folded right to left
        (the RFC's split always puts a perfect subtree on the left)."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


class Tree:
    """The leaf hashes of a log in memory (one bytes buffer), with the hashes
    of its aligned perfect subtrees of ``2**CACHE_FROM`` leaves and more kept
    as leaves are appended: a root or a proof over a million leaves takes
    a few dozen hashes."""

    def __init__(self, hashes: Iterable[bytes] = ()) -> None:
        self._leaves = bytearray()
        self._levels: list[bytearray] = []  # level k - CACHE_FROM: subtrees of 2**k leaves
        self.size = 0
        self.extend(hashes)

    def append(self, h: bytes) -> None:
        if len(h) != HASH_SIZE:
            raise ValueError("a leaf hash has 32 bytes")
        self._leaves += h
        self.size += 1
        if self.size % (1 << CACHE_FROM):
            return
        start = self.size - (1 << CACHE_FROM)
        top = self._uncached(start, self.size)
        level = 0
        while True:
            if len(self._levels) <= level:
                self._levels.append(bytearray())
            row = self._levels[level]
            row += top
            count = len(row) // HASH_SIZE
            if count % 2:
                return
            top = node_hash(bytes(row[-2 * HASH_SIZE : -HASH_SIZE]), bytes(row[-HASH_SIZE:]))
            level += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        for h in hashes:
            self.append(h)

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise IndexError(index)
        return bytes(self._leaves[index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        n = self.size if size is None else size
        self._check_size(n)
        return self.mth(0, n)

    def mth(self, start: int, end: int) -> bytes:
        """MTH of the leaves ``start`` to ``end`` (exclusive)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaf(start)
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            if level >= CACHE_FROM:
                row = self._levels[level - CACHE_FROM]
                at = (start >> level) * HASH_SIZE
                return bytes(row[at : at + HASH_SIZE])
        k = split_point(n)
        return node_hash(self.mth(start, start + k), self.mth(start + k, end))

    def _uncached(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 1:
            return self.leaf(start)
        k = split_point(n)
        return node_hash(self._uncached(start, start + k), self._uncached(start + k, end))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162, 2.1.3.1: the audit path, leaf to root."""
        n = self.size if size is None else size
        self._check_size(n)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} is not within a tree of size {n}")
        return self._path(index, 0, n)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = split_point(n)
        if m < k:
            return [*self._path(m, start, start + k), self.mth(start + k, end)]
        return [*self._path(m - k, start + k, end), self.mth(start, start + k)]

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162, 2.1.4.1."""
        n = self.size if second is None else second
        self._check_size(n)
        if not 0 <= first <= n:
            raise ValueError(f"size {first} is not within 0 and {n}")
        if first == 0 or first == n:
            return []
        return self._subproof(first, 0, n, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def _check_size(self, n: int) -> None:
        if not 0 <= n <= self.size:
            raise ValueError(f"size {n} is not within 0 and the tree's size {self.size}")


def verify_inclusion(
    leaf_hash_: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162, 2.1.3.2: whether ``path`` proves leaf ``index`` of a tree of
    ``size`` leaves with ``root`` has ``leaf_hash_``."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash_
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162, 2.1.4.2: whether ``proof`` shows the tree of ``second``
    leaves with ``second_root`` extends the tree of ``first`` leaves with ``first_root``."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the first root is the proof's start
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def checkpoint_message(tree_size: int, root: bytes, timestamp: str) -> bytes:
    """The bytes a checkpoint's signature signs: four lines of ASCII, each
    ending in a line feed: the format, the tree size in decimal, the root
    hash in standard base64 (with padding), and the timestamp exactly as
    given (``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTC)."""
    if any(c in timestamp for c in "\r\n") or not timestamp.isascii():
        raise ValueError("a checkpoint's timestamp is one line of ASCII")
    return f"{CHECKPOINT_FORMAT}\n{tree_size}\n{b64(root)}\n{timestamp}\n".encode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


# ----- comparing a recomputed log with what was recorded of it ----------------------------------


class Finding:
    """One discrepancy between the events as they are and as the tree recorded them."""

    def __init__(self, kind: str, index: int, notification_id: int | None, text: str) -> None:
        self.kind = kind  # altered, removed, inserted, moved, shortened
        self.index = index  # the leaf index where the first difference shows
        self.notification_id = notification_id
        self.text = text

    def __str__(self) -> str:
        return self.text


def first_difference(
    recorded: Iterable[tuple[int, bytes]],
    found: Iterable[tuple[int, bytes]],
    recorded_at: Callable[[bytes], int | None] | None = None,
) -> Finding | None:
    """The first leaf where the events as they are (``found``: notification
    id and leaf hash, in log order) differ from the leaves recorded
    (``recorded``, the same), or None. Both are read as they come, once.
    ``recorded_at`` tells where a leaf hash was recorded, if anywhere (to
    tell an event moved from one altered). Events beyond the recorded
    leaves are not yet in the tree: no difference."""
    i = -1
    for i, (r, f) in enumerate(zip_longest(recorded, found)):
        if r is None:
            return None
        if f is None:
            return Finding(
                "removed",
                i,
                r[0],
                f"leaf {i}: the log ends before it: the event at notification id {r[0]} "
                "and any after it were removed",
            )
        (rid, rh), (fid, fh) = r, f
        if rid == fid and rh == fh:
            continue
        if fid > rid:
            return Finding(
                "removed", i, rid, f"leaf {i}: the event at notification id {rid} was removed"
            )
        if fid < rid:
            return Finding(
                "inserted",
                i,
                fid,
                f"leaf {i}: an event at notification id {fid} was inserted (the tree has "
                f"notification id {rid} there)",
            )
        elsewhere = recorded_at(fh) if recorded_at is not None else None
        if elsewhere is not None and elsewhere != i:
            return Finding(
                "moved",
                i,
                fid,
                f"leaf {i}: the event at notification id {fid} is the one recorded at leaf "
                f"{elsewhere}: events were moved",
            )
        return Finding(
            "altered", i, fid, f"leaf {i}: the event at notification id {fid} was altered"
        )
    return None
