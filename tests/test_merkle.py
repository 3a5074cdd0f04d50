"""Merkle roots and proofs: FISCO 3.x binary trees and the 2.x 16-ary variant
(docs/fisco-reference.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.crypto.hashing import keccak256
from fiscosim.crypto.merkle import (
    WIDTH_V2,
    WIDTH_V3,
    ZERO_HASH,
    MerkleProof,
    merkle_proof,
    merkle_root,
    merkle_tree,
    rlp_index,
    verify_proof,
)
from fiscosim.crypto.sm3 import sm3

H = keccak256


def leaves_for(count: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.bytes(32) for _ in range(count)]


# --- 3.x: the shape of the tree, read from bcos-crypto/merkle/Merkle.h ---------------------


def test_v3_empty_is_zero_hash_and_one_leaf_is_the_root():
    assert merkle_root([], H) == ZERO_HASH
    (leaf,) = leaves_for(1)
    assert merkle_root([leaf], H) == leaf  # not re-hashed


def test_v3_pairs_and_odd_node_hashed_alone():
    a, b, c, d, e = leaves_for(5)
    assert merkle_root([a, b], H) == H(a + b)
    assert merkle_root([a, b, c], H) == H(H(a + b) + H(c))
    assert merkle_root([a, b, c, d], H) == H(H(a + b) + H(c + d))
    assert merkle_root([a, b, c, d, e], H) == H(H(H(a + b) + H(c + d)) + H(H(e)))


def test_v3_proof_is_per_level_groups():
    a, b, c, d, e = leaves_for(5)
    proof = merkle_proof([a, b, c, d, e], 4, H)
    # The leaf's group is (e) alone; above it (H(e)) alone; then the pair under the root.
    assert proof.levels == ((e,), (H(e),), (H(H(a + b) + H(c + d)), H(H(e))))
    assert proof.size == 3 * 4 + 4 * 32


# --- 2.x: 16-ary, leaves RLP(i) ‖ hash, root = H(top) ---------------------------------------


def test_rlp_index():
    assert rlp_index(0) == b"\x80"
    assert rlp_index(1) == b"\x01"
    assert rlp_index(0x7F) == b"\x7f"
    assert rlp_index(0x80) == b"\x81\x80"
    assert rlp_index(0x1234) == b"\x82\x12\x34"
    with pytest.raises(ValueError):
        rlp_index(-1)


def test_v2_shape():
    leaves = leaves_for(17)
    assert merkle_root([], H, WIDTH_V2) == H(b"")
    assert merkle_root(leaves[:1], H, WIDTH_V2) == H(b"\x80" + leaves[0])
    three = b"".join(rlp_index(i) + leaf for i, leaf in enumerate(leaves[:3]))
    assert merkle_root(leaves[:3], H, WIDTH_V2) == H(H(three))
    sixteen = b"".join(rlp_index(i) + leaf for i, leaf in enumerate(leaves[:16]))
    last = rlp_index(16) + leaves[16]
    assert merkle_root(leaves, H, WIDTH_V2) == H(H(H(sixteen) + H(last)))


def test_v2_root_depends_on_positions():
    a, b = leaves_for(2)
    assert merkle_root([a, b], H, WIDTH_V2) != merkle_root([b, a], H, WIDTH_V2)


# --- inputs, errors, both hashes ------------------------------------------------------------


@pytest.mark.parametrize("width", [WIDTH_V3, WIDTH_V2])
@pytest.mark.parametrize("hash_fn", [keccak256, sm3], ids=["keccak256", "sm3"])
def test_array_and_list_inputs_agree(width, hash_fn):
    leaves = leaves_for(37, seed=3)
    array = np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(37, 32)
    assert merkle_root(array, hash_fn, width) == merkle_root(leaves, hash_fn, width)
    # A non-contiguous view (every other row) is accepted too.
    assert merkle_root(array[::2], hash_fn, width) == merkle_root(leaves[::2], hash_fn, width)


def test_hash_function_matters():
    leaves = leaves_for(4)
    assert merkle_root(leaves, keccak256) != merkle_root(leaves, sm3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="width"):
        merkle_root(leaves_for(2), H, width=4)
    with pytest.raises(ValueError, match="32-byte"):
        merkle_root([b"short"], H)
    with pytest.raises(ValueError, match="n×32"):
        merkle_root(np.zeros((3, 20), dtype=np.uint8), H)
    with pytest.raises(IndexError):
        merkle_proof(leaves_for(3), 3, H)
    with pytest.raises(IndexError):
        merkle_proof([], 0, H)


def test_proof_of_one_leaf_trees():
    (leaf,) = leaves_for(1)
    for width in (WIDTH_V3, WIDTH_V2):
        tree = merkle_tree([leaf], H, width)
        assert verify_proof(leaf, 0, tree.proof(0), tree.root, H)
        assert not verify_proof(leaf, 1, tree.proof(0), tree.root, H)


def test_malformed_proofs_fail_quietly():
    leaves = leaves_for(6)
    tree = merkle_tree(leaves, H)
    proof = tree.proof(2)
    assert not verify_proof(leaves[2], 2, MerkleProof(3, proof.levels), tree.root, H)
    assert not verify_proof(leaves[2], 2, MerkleProof(2, ((), *proof.levels)), tree.root, H)
    assert not verify_proof(leaves[2][:31], 2, proof, tree.root, H)
    assert not verify_proof(leaves[2], -2, proof, tree.root, H)
    v2 = merkle_tree(leaves, H, WIDTH_V2)
    truncated = MerkleProof(WIDTH_V2, v2.proof(2).levels[:-1])  # without the top-alone group
    assert not verify_proof(leaves[2], 2, truncated, v2.root, H)


def reference_root(leaves: list[bytes], hash_fn, width: int) -> bytes:
    """The two shapes of the module docstring, built the plain way: a list per level."""
    if width == WIDTH_V3:
        level = list(leaves)
        if not level:
            return ZERO_HASH
    else:
        level = [rlp_index(i) + leaf for i, leaf in enumerate(leaves)]
        if not level:
            return hash_fn(b"")
    while len(level) > 1:
        level = [hash_fn(b"".join(level[i : i + width])) for i in range(0, len(level), width)]
    return level[0] if width == WIDTH_V3 else hash_fn(level[0])


def test_ten_thousand_leaves_match_the_reference_with_one_hash_per_parent():
    # What the old wall-clock bound guarded: a root of a block's 10,000 transactions is linear
    # work (one hash call of at most `width` children per parent) and still the right root.
    # The speed itself is measured by benchmarks/merkle_speed.py.
    for count in (*range(0, 70), 255, 256, 257, 4097):
        leaves = [H(i.to_bytes(4, "big")) for i in range(count)]
        for width in (WIDTH_V3, WIDTH_V2):
            assert merkle_root(leaves, H, width) == reference_root(leaves, H, width), (count,
                                                                                      width)
    leaves = [H(i.to_bytes(4, "big")) for i in range(10_000)]
    array = np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(10_000, 32)
    pinned = {  # this implementation's roots, equal to the reference's (asserted below)
        WIDTH_V3: "bf1db6cef9c4acb9c17d9aa633082e4e2e4c389acedbe97584cef377deb1e74b",
        WIDTH_V2: "9cd2d0edebca465c6c8dfba6ef354fd04f946af2a0e943fe7edaec850f569f89",
    }
    # parents per level: ceil(n / width) until one is left (2.x: one more hash, of the top)
    calls = {WIDTH_V3: [5000, 2500, 1250, 625, 313, 157, 79, 40, 20, 10, 5, 3, 2, 1],
             WIDTH_V2: [625, 40, 3, 1, 1]}
    for width in (WIDTH_V3, WIDTH_V2):
        sizes: list[int] = []

        def counting(message: bytes, sizes: list[int] = sizes) -> bytes:
            sizes.append(len(message))
            return H(message)

        root = merkle_root(array, counting, width)
        assert root.hex() == pinned[width]
        assert root == reference_root(leaves, H, width)
        assert len(sizes) == sum(calls[width])
        widest = 2 * 32 if width == WIDTH_V3 else 16 * (3 + 32)  # RLP(i) of i < 2^16: 3 bytes
        assert max(sizes) <= widest
        assert merkle_root(leaves, H, width) == root  # the list input agrees


# --- properties --------------------------------------------------------------------------------

widths = st.sampled_from([WIDTH_V3, WIDTH_V2])


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 300), seed=st.integers(0, 2**32 - 1), width=widths)
def test_every_proof_verifies(count, seed, width):
    leaves = leaves_for(count, seed)
    tree = merkle_tree(leaves, H, width)
    assert tree.root == merkle_root(leaves, H, width)
    for index in range(count):
        assert verify_proof(leaves[index], index, tree.proof(index), tree.root, H)


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(1, 300),
    seed=st.integers(0, 2**32 - 1),
    width=widths,
    data=st.data(),
)
def test_tampering_fails(count, seed, width, data):
    leaves = leaves_for(count, seed)
    tree = merkle_tree(leaves, H, width)
    index = data.draw(st.integers(0, count - 1), label="index")
    proof = tree.proof(index)
    leaf = leaves[index]

    bit = data.draw(st.integers(0, 255), label="bit")
    flipped = bytearray(leaf)
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert not verify_proof(bytes(flipped), index, proof, tree.root, H)

    assert not verify_proof(leaf, index, proof, bytes(32) if any(tree.root) else b"\1" * 32, H)

    if count > 1:
        other = data.draw(st.integers(0, count - 1).filter(lambda j: j != index), label="other")
        assert not verify_proof(leaf, other, proof, tree.root, H)
    assert not verify_proof(leaf, index + count, proof, tree.root, H)

    # Tamper one node of one group (a sibling where the group has one, else the path node).
    level = data.draw(st.integers(0, len(proof.levels) - 1), label="level") if proof.levels else 0
    if proof.levels:
        group = list(proof.levels[level])
        slot = data.draw(st.integers(0, len(group) - 1), label="slot")
        node = bytearray(group[slot])
        node[-1] ^= 0x01
        group[slot] = bytes(node)
        levels = list(proof.levels)
        levels[level] = tuple(group)
        assert not verify_proof(leaf, index, MerkleProof(width, tuple(levels)), tree.root, H)


def test_root_of_runs_is_the_root_of_the_leaves_written_out():
    import random

    from fiscosim.crypto.merkle import merkle_root_of_runs

    rng = random.Random(7)
    for _ in range(300):
        runs = [(keccak256(bytes([rng.randrange(3)])), rng.randrange(0, 9))
                for _ in range(rng.randrange(1, 7))]
        leaves = [leaf for leaf, count in runs for _ in range(count)]
        assert merkle_root_of_runs(runs, keccak256) == merkle_root(leaves, keccak256)
    with pytest.raises(ValueError, match="32-byte"):
        merkle_root_of_runs([(b"short", 2)], keccak256)
