"""Merkle roots and proofs over transaction and receipt hashes, as FISCO BCOS builds them.

A block header commits to its transactions and receipts through ``txsRoot`` and ``receiptRoot``
(docs/fisco-reference.md §2.6, §3). FISCO BCOS has built these roots two ways; ``width`` picks which
one.

**3.x, ``width=2`` (the default)** — read from ``bcos-crypto/bcos-crypto/merkle/Merkle.h``
(class template ``Merkle<Hasher, width = 2>``, FB@HEAD) and ``BlockImpl::calculateTransactionRoot``
/ ``calculateReceiptRoot`` in ``bcos-tars-protocol/bcos-tars-protocol/protocol/BlockImpl.cpp``:

- the leaves are the 32-byte transaction (or receipt) hashes themselves; they are *not* hashed
  again;
- a parent is ``H(child_0 ‖ child_1)`` over consecutive pairs (``calculateLevelHashes``); when a
  level has an odd number of nodes the last one's parent is ``H(child)`` over that single child:
  it is neither duplicated nor promoted;
- levels repeat until one node is left, and that node is the root;
- one leaf: the root *is* that leaf (``generateMerkle`` copies it);
- no leaves: ``generateMerkle`` refuses empty input, and ``BlockImpl`` then leaves the root as
  the all-zero hash ``HashType()``; we return 32 zero bytes.

A 3.x proof (``generateMerkleProof``) lists, for each level below the root, the *whole group* of
up to ``width`` nodes that contains the path's node, each group preceded by its count.
``verifyMerkleProof`` checks that the running hash is *somewhere* in the group and then hashes
the group. :func:`verify_proof` here is stricter: the running hash must sit at the position the
leaf index gives, so a proof is bound to its index as well as to its leaf.

**2.x, ``width=16``** — ``MAX_CHILD_COUNT = 16`` in FB@v2.9.0 ``libdevcore/TrieHash2.cpp`` (the
same algorithm survives as ``getMerkleProofRoot`` in ``libutilities/ParallelMerkleProof.cpp`` of
the 3.0 release candidates, which we read), with the leaves of ``Block::calTransactionRootV2_2_0``
(docs/fisco-reference.md §3):

- leaf ``i`` is the byte string ``RLP(i) ‖ hash_i`` (so the position is committed in the leaf);
- a parent is ``H(concatenation of up to 16 children)``, the last group of a level holding what is
  left;
- levels repeat until one node is left, and the root is ``H(that node)`` — hashed once more,
  which also covers one leaf (root ``H(RLP(0) ‖ hash_0)``);
- no leaves: the root is ``H(b"")``.

2.x serves proofs as a parent-to-children map (``getMerkleProof``); we keep only the entries on
the leaf's path, as the same per-level groups as 3.x: the leaf group holds ``RLP(i) ‖ hash_i``
strings, and a last group holds the top node alone (2.x's root-to-top entry).

Building is linear: each level is one pass over a packed byte string, one hash call per parent.
The hash is a parameter (``keccak256`` or SM3), so the same code serves both crypto suites.

>>> from fiscosim.crypto.hashing import keccak256
>>> leaves = [keccak256(bytes([i])) for i in range(5)]
>>> root = merkle_root(leaves, keccak256)
>>> proof = merkle_proof(leaves, 3, keccak256)
>>> verify_proof(leaves[3], 3, proof, root, keccak256)
True
>>> verify_proof(leaves[3], 2, proof, root, keccak256)
False
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

HashFn = Callable[[bytes], bytes]
"""A 32-byte hash function of one message: keccak256 or SM3."""

HASH_SIZE = 32
WIDTH_V3 = 2
"""Children per parent in FISCO BCOS 3.x (``Merkle.h``'s default template width)."""
WIDTH_V2 = 16
"""Children per parent in FISCO BCOS 2.x (``TrieHash2.cpp``'s ``MAX_CHILD_COUNT``)."""
WIDTHS = (WIDTH_V3, WIDTH_V2)
ZERO_HASH = bytes(HASH_SIZE)
"""The 3.x root of an empty list (``HashType()``, all zeros)."""

Leaves = Sequence[bytes] | np.ndarray
"""32-byte leaf hashes: a sequence of ``bytes`` or an n×32 uint8 array."""


def rlp_index(index: int) -> bytes:
    """RLP encoding of a non-negative integer, as 2.x prefixes each Merkle leaf with it.

    >>> rlp_index(0), rlp_index(5), rlp_index(127), rlp_index(128), rlp_index(1024)
    (b'\\x80', b'\\x05', b'\\x7f', b'\\x81\\x80', b'\\x82\\x04\\x00')
    """
    if index < 0:
        raise ValueError(f"an RLP index is non-negative, got {index}")
    if index == 0:
        return b"\x80"
    if index < 0x80:
        return bytes((index,))
    body = index.to_bytes((index.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(body),)) + body


def _check_width(width: int) -> None:
    if width not in WIDTHS:
        raise ValueError(
            f"Merkle width must be {WIDTH_V3} (FISCO 3.x) or {WIDTH_V2} (FISCO 2.x), got {width}"
        )


def _packed_leaves(leaves: Leaves) -> bytes:
    """The leaves as one byte string of n × 32 bytes, checking every leaf is 32 bytes."""
    if isinstance(leaves, np.ndarray):
        if leaves.ndim != 2 or leaves.shape[1] != HASH_SIZE:
            raise ValueError(f"leaf array must be n×{HASH_SIZE}, got shape {leaves.shape}")
        return np.ascontiguousarray(leaves, dtype=np.uint8).tobytes()
    packed = b"".join(leaves)
    if len(packed) != HASH_SIZE * len(leaves) or any(len(leaf) != HASH_SIZE for leaf in leaves):
        raise ValueError(f"every Merkle leaf must be a {HASH_SIZE}-byte hash")
    return packed


def _parent_level(nodes: bytes, width: int, hash_fn: HashFn) -> bytes:
    """The next level up from packed 32-byte nodes: one hash per group of ``width`` children.

    The last group may be short (even a single child); it is hashed as it is, as both
    ``Merkle.h::calculateLevelHashes`` and 2.x's ``getMerkleProofRoot`` do.
    """
    step = HASH_SIZE * width
    return b"".join([hash_fn(nodes[i : i + step]) for i in range(0, len(nodes), step)])


@dataclass(frozen=True, slots=True, eq=False)
class MerkleProof:
    """The path from one leaf to the root: per level, the whole group of siblings it sits in.

    ``levels[0]`` is the leaf's group (32-byte hashes for 3.x; ``RLP(i) ‖ hash_i`` strings for
    2.x), ``levels[1]`` the group of its parent, and so on up to the level below the root. A
    one-leaf 3.x tree has no levels: the leaf is the root. A 2.x proof ends with one more group,
    the top node alone, since 2.x's root is the hash of the top node.
    """

    width: int
    levels: tuple[tuple[bytes, ...], ...]

    @property
    def size(self) -> int:
        """Bytes of the proof laid out as FISCO sends it: per level a 4-byte count and the nodes."""
        return sum(4 + sum(len(node) for node in group) for group in self.levels)


@dataclass(frozen=True, slots=True, eq=False)
class MerkleTree:
    """A built tree: every level kept, so that proofs for many leaves cost no rebuild."""

    width: int
    leaf_count: int
    leaf_nodes: tuple[bytes, ...] | bytes
    """Level 0: packed 32-byte leaves (3.x) or the ``RLP(i) ‖ hash_i`` strings (2.x)."""
    levels: tuple[bytes, ...]
    """The levels above the leaves, bottom-up, each as packed 32-byte nodes."""
    root: bytes

    def leaf(self, index: int) -> bytes:
        """Leaf ``index``'s 32-byte hash (what :func:`verify_proof` takes, either width)."""
        if isinstance(self.leaf_nodes, tuple):
            return self.leaf_nodes[index][-HASH_SIZE:]
        return self.leaf_nodes[index * HASH_SIZE:(index + 1) * HASH_SIZE]

    def _group(self, level: int, start: int, stop: int) -> tuple[bytes, ...]:
        if level == 0 and isinstance(self.leaf_nodes, tuple):
            return self.leaf_nodes[start:stop]
        nodes = self.leaf_nodes if level == 0 else self.levels[level - 1]
        return tuple(nodes[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(start, stop))

    def _level_size(self, level: int) -> int:
        if level == 0:
            return self.leaf_count
        return len(self.levels[level - 1]) // HASH_SIZE

    def proof(self, index: int) -> MerkleProof:
        """The proof of leaf ``index`` (``Merkle.h::generateMerkleProof`` by index)."""
        if not 0 <= index < self.leaf_count:
            raise IndexError(f"leaf index {index} out of range for {self.leaf_count} leaves")
        groups = []
        level = 0
        # Every level whose size is above one contributes a group; in 3.x the single top node
        # is the root itself, in 2.x it is hashed once more into the root.
        while self._level_size(level) > 1:
            start = index - index % self.width
            stop = min(start + self.width, self._level_size(level))
            groups.append(self._group(level, start, stop))
            index //= self.width
            level += 1
        if self.width == WIDTH_V2:
            # 2.x hashes the top node once more into the root: a last group of one, as the
            # root-to-top entry of 2.x's own proof map (``getMerkleProof``) records it.
            groups.append(self._group(level, 0, 1))
        return MerkleProof(self.width, tuple(groups))


def merkle_tree(leaves: Leaves, hash_fn: HashFn, width: int = WIDTH_V3) -> MerkleTree:
    """Builds the Merkle tree of ``leaves`` (32-byte hashes) as FISCO 3.x (2) or 2.x (16) does.

    >>> from fiscosim.crypto.hashing import keccak256
    >>> a, b, c = (keccak256(x) for x in (b"a", b"b", b"c"))
    >>> merkle_tree([a, b, c], keccak256).root == keccak256(keccak256(a + b) + keccak256(c))
    True
    """
    _check_width(width)
    packed = _packed_leaves(leaves)
    count = len(packed) // HASH_SIZE
    levels: list[bytes] = []
    if width == WIDTH_V3:
        if count == 0:
            return MerkleTree(width, 0, b"", (), ZERO_HASH)
        nodes = packed
        while len(nodes) > HASH_SIZE:
            nodes = _parent_level(nodes, width, hash_fn)
            levels.append(nodes)
        return MerkleTree(width, count, packed, tuple(levels), nodes)

    if count == 0:
        return MerkleTree(width, 0, (), (), hash_fn(b""))
    leaf_nodes = tuple(
        rlp_index(i) + packed[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(count)
    )
    if count == 1:
        return MerkleTree(width, 1, leaf_nodes, (), hash_fn(leaf_nodes[0]))
    nodes = b"".join([hash_fn(b"".join(leaf_nodes[i : i + width])) for i in range(0, count, width)])
    levels.append(nodes)
    while len(nodes) > HASH_SIZE:
        nodes = _parent_level(nodes, width, hash_fn)
        levels.append(nodes)
    return MerkleTree(width, count, leaf_nodes, tuple(levels), hash_fn(nodes))


def merkle_root(leaves: Leaves, hash_fn: HashFn, width: int = WIDTH_V3) -> bytes:
    """The Merkle root of ``leaves`` (FISCO 3.x ``txsRoot``/``receiptRoot`` for ``width=2``).

    >>> from fiscosim.crypto.hashing import keccak256
    >>> leaf = keccak256(b"tx")
    >>> merkle_root([leaf], keccak256) == leaf          # one leaf is its own root
    True
    >>> merkle_root([], keccak256) == bytes(32)         # no leaves: the zero hash
    True
    """
    return merkle_tree(leaves, hash_fn, width).root


def merkle_root_of_runs(runs: Sequence[tuple[bytes, int]], hash_fn: HashFn) -> bytes:
    """The 3.x Merkle root (``width=2``) of leaves given as runs: ``(leaf, count)`` is ``count``
    equal leaves in a row.

    The same root as :func:`merkle_root` of the leaves written out, with one hash per distinct
    pair at each level instead of one per pair, so a block whose receipts are all alike costs a
    few hashes per level, whatever its size.

    >>> from fiscosim.crypto.hashing import keccak256
    >>> a, b = keccak256(b"a"), keccak256(b"b")
    >>> merkle_root_of_runs([(a, 5), (b, 2)], keccak256) == merkle_root([a] * 5 + [b] * 2,
    ...                                                                 keccak256)
    True
    """
    level = [[leaf, count] for leaf, count in runs if count > 0]
    if any(len(leaf) != HASH_SIZE for leaf, _ in level):
        raise ValueError(f"every Merkle leaf must be a {HASH_SIZE}-byte hash")
    total = sum(count for _, count in level)
    if total == 0:
        return ZERO_HASH
    while total > 1:
        parents: list[list] = []  # [node, count] runs of the level above
        waiting: bytes | None = None  # a left child whose right child starts the next run
        for node, count in level:
            if waiting is not None:
                parent = hash_fn(waiting + node)
                if parents and parents[-1][0] == parent:
                    parents[-1][1] += 1
                else:
                    parents.append([parent, 1])
                waiting = None
                count -= 1
            if count >= 2:
                parent = hash_fn(node + node)
                if parents and parents[-1][0] == parent:
                    parents[-1][1] += count // 2
                else:
                    parents.append([parent, count // 2])
            if count & 1:
                waiting = node
        if waiting is not None:
            parents.append([hash_fn(waiting), 1])  # the odd last node, hashed alone
        level = parents
        total = (total + 1) // 2
    return level[0][0]


def merkle_proof(leaves: Leaves, index: int, hash_fn: HashFn, width: int = WIDTH_V3) -> MerkleProof:
    """The proof that ``leaves[index]`` is in the tree (build it once with :func:`merkle_tree`
    and call :meth:`MerkleTree.proof` when proving many leaves of one tree)."""
    return merkle_tree(leaves, hash_fn, width).proof(index)


def verify_proof(leaf: bytes, index: int, proof: MerkleProof, root: bytes, hash_fn: HashFn) -> bool:
    """Whether ``proof`` shows that ``leaf`` is leaf number ``index`` of the tree with ``root``.

    At each level the running node must be in its group at position ``index mod width``; the
    group is then hashed into the running node and the index moves up a level. The index must be
    used up by the top (so an index larger than the tree fails) and the last node must be the
    root. A 2.x proof ends with a group holding only the top node, whose hash is the root.
    """
    width = proof.width
    if width not in WIDTHS or len(leaf) != HASH_SIZE or index < 0:
        return False
    node = leaf if width == WIDTH_V3 else rlp_index(index) + leaf
    position = index
    for group in proof.levels:
        if not 0 < len(group) <= width:
            return False
        slot = position % width
        if slot >= len(group) or group[slot] != node:
            return False
        node = hash_fn(b"".join(group))
        position //= width
    if width == WIDTH_V2 and (not proof.levels or len(proof.levels[-1]) != 1):
        return False  # a 2.x proof always ends with the top node alone (root = H(top))
    return position == 0 and node == root
