"""Block header hash and signature list, weighted quorum, block roots (docs/fisco-reference.md §1.3,
§2.6, §5)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fiscosim.chain import (
    BlockHeader,
    ConsensusNode,
    ParentInfo,
    Receipt,
    ReceiptBatch,
    SealerSignature,
    SystemConfig,
    Transaction,
    check_signature_list,
    executed_block,
    genesis_block,
    max_faulty,
    quorum,
    receipts_root,
    sign_header,
    txs_root,
)
from fiscosim.chain.config import consensus_list
from fiscosim.chain.encoding import encode_fields
from fiscosim.crypto import get_suite
from fiscosim.crypto.merkle import WIDTH_V2, ZERO_HASH, merkle_root, verify_proof


def sealers(suite, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` key pairs sorted by public key, as the consensus list orders node ids."""
    keys = [suite.generate_keypair(np.random.default_rng(100 + i)) for i in range(count)]
    return sorted(keys, key=lambda pair: pair[1])


def make_header(keys, weights=(), **changes) -> BlockHeader:
    header = BlockHeader(
        version=0x03070000,
        parent_info=(ParentInfo(6, b"\x11" * 32),),
        txs_root=b"\x22" * 32,
        receipts_root=b"\x33" * 32,
        state_root=b"\x44" * 32,
        number=7,
        gas_used=123,
        timestamp=1_700_000_000_000,
        sealer=1,
        sealer_list=tuple(public for _, public in keys),
        extra_data=b"extra",
        consensus_weights=tuple(weights),
    )
    return dataclasses.replace(header, **changes)


# --- quorum and system config -------------------------------------------------------------------


@pytest.mark.parametrize("n, f, q", [(1, 0, 1), (4, 1, 3), (7, 2, 5), (10, 3, 7), (100, 33, 67)])
def test_unit_weight_quorum(n, f, q):
    assert max_faulty([1] * n) == f
    assert quorum([1] * n) == q


def test_weighted_quorum():
    # W = 10, f = 3, Q = 7: the heavy node alone is not enough, with one other it is.
    assert quorum([6, 2, 1, 1]) == 7
    assert quorum([100, 100, 100, 100]) == 400 - 133


@pytest.mark.parametrize("weights", [[], [1, 0, 1], [2, -1]])
def test_quorum_refuses_bad_weights(weights):
    with pytest.raises(ValueError):
        quorum(weights)


def test_consensus_list_is_sorted_by_node_id():
    a, b, c = (ConsensusNode(bytes([x]) * 64, weight=w) for x, w in ((3, 1), (1, 2), (2, 5)))
    assert [node.weight for node in consensus_list([a, b, c])] == [2, 5, 1]
    with pytest.raises(ValueError, match="twice"):
        consensus_list([a, ConsensusNode(a.node_id, weight=4)])
    with pytest.raises(ValueError):
        ConsensusNode(b"\x01" * 63)
    with pytest.raises(ValueError):
        ConsensusNode(b"\x01" * 64, weight=0)


def test_system_config_defaults_and_bounds():
    config = SystemConfig()
    assert (
        config.tx_count_limit,
        config.leader_period,
        config.tx_gas_limit,
        config.consensus_timeout_ms,
    ) == (1000, 1, 3_000_000_000, 3000)
    for changes in (
        {"tx_count_limit": 0},
        {"leader_period": 0},
        {"tx_gas_limit": 99_999},
        {"consensus_timeout_ms": 0},
    ):
        with pytest.raises(ValueError):
            SystemConfig(**changes)


# --- header hash ------------------------------------------------------------------------------


def test_signature_list_is_not_hashed(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    signed = header.with_signatures(
        [sign_header(header, suite, i, k) for i, (k, _) in enumerate(keys)]
    )
    assert signed.signature_list != header.signature_list
    assert signed.hash(suite) == header.hash(suite)
    assert header.hash(suite) == suite.hash(encode_fields(header.fields()))


DATA_CHANGES = {
    "version": 0x03070001,
    "parent_info": (ParentInfo(6, b"\x12" * 32),),
    "txs_root": b"\x23" * 32,
    "receipts_root": b"\x34" * 32,
    "state_root": b"\x45" * 32,
    "number": 8,
    "gas_used": 124,
    "timestamp": 1_700_000_000_001,
    "sealer": 2,
    "extra_data": b"extrb",
    "consensus_weights": (1, 1, 2, 1),
}


@pytest.mark.parametrize("field", [*DATA_CHANGES, "sealer_list"])
def test_every_data_field_is_hashed(field):
    suite = get_suite("secp256k1")
    keys = sealers(suite, 4)
    header = make_header(keys)
    if field == "sealer_list":
        other_keys = sealers(suite, 5)[1:]
        changed = dataclasses.replace(header, sealer_list=tuple(p for _, p in other_keys))
    else:
        changed = dataclasses.replace(header, **{field: DATA_CHANGES[field]})
    assert changed.hash(suite) != header.hash(suite)


def test_header_round_trip(suite):
    keys = sealers(suite, 4)
    header = make_header(keys, weights=(1, 2, 3, 4))
    signed = header.with_signatures([sign_header(header, suite, 2, keys[2][0])])
    assert BlockHeader.decode(signed.encode()) == signed
    assert BlockHeader.decode(header.encode()) == header


def test_header_validation():
    suite = get_suite("secp256k1")
    keys = sealers(suite, 4)
    with pytest.raises(ValueError, match="consensus weights"):
        make_header(keys, weights=(1, 1))
    with pytest.raises(ValueError):
        make_header(keys, weights=(1, 0, 1, 1))
    with pytest.raises(ValueError):
        make_header(keys, sealer=4)
    with pytest.raises(ValueError):
        make_header(keys, txs_root=b"\x00" * 31)
    with pytest.raises(ValueError):
        make_header(keys, sealer_list=(b"\x01" * 33,), sealer=0)


# --- signature list ---------------------------------------------------------------------------


def test_quorum_of_signatures(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    sigs = [sign_header(header, suite, i, private) for i, (private, _) in enumerate(keys)]
    assert check_signature_list(header, sigs, suite) == (True, 4)
    assert check_signature_list(header, sigs[1:], suite) == (True, 3)
    assert check_signature_list(header, sigs[:2], suite) == (False, 2)
    assert check_signature_list(header, [], suite) == (False, 0)


def test_duplicates_count_once(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    first = sign_header(header, suite, 0, keys[0][0])
    second = sign_header(header, suite, 1, keys[1][0])
    assert check_signature_list(header, [first, first, first, second], suite) == (False, 2)


def test_signature_must_come_from_the_named_sealer(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    # Sealer 3 signs but claims to be sealers 0, 1 and 2.
    forged = [
        SealerSignature(i, sign_header(header, suite, 3, keys[3][0]).signature) for i in range(3)
    ]
    honest = sign_header(header, suite, 3, keys[3][0])
    assert check_signature_list(header, [*forged, honest], suite) == (False, 1)


def test_signatures_over_another_header_do_not_count(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    other = make_header(keys, number=8)
    sigs = [sign_header(other, suite, i, private) for i, (private, _) in enumerate(keys)]
    assert check_signature_list(header, sigs, suite) == (False, 0)
    assert check_signature_list(other, sigs, suite) == (True, 4)


def test_bad_entries_are_ignored(suite):
    keys = sealers(suite, 4)
    header = make_header(keys)
    good = [sign_header(header, suite, i, keys[i][0]) for i in range(3)]
    junk = [
        SealerSignature(7, good[0].signature),
        SealerSignature(-1, good[0].signature),
        SealerSignature(3, b"\x00" * suite.signature_size),
        SealerSignature(3, b"short"),
    ]
    assert check_signature_list(header, [*junk, *good], suite) == (True, 3)


def test_weighted_signature_list():
    suite = get_suite("secp256k1")
    keys = sealers(suite, 4)
    header = make_header(keys, weights=(3, 1, 1, 1))  # W = 6, Q = 5
    sigs = [sign_header(header, suite, i, private) for i, (private, _) in enumerate(keys)]
    assert check_signature_list(header, [sigs[0], sigs[1], sigs[2]], suite) == (True, 5)
    assert check_signature_list(header, [sigs[0], sigs[1]], suite) == (False, 4)
    assert check_signature_list(header, sigs[1:], suite) == (False, 3)


def test_signatures_are_checked_in_one_batch_call(suite, monkeypatch):
    import fiscosim.chain.block as block_module

    calls = []
    real = block_module.verify_batch

    def counting(*args, **kwargs):
        calls.append(kwargs.get("workers"))
        return real(*args, **kwargs)

    monkeypatch.setattr(block_module, "verify_batch", counting)
    keys = sealers(suite, 7)
    header = make_header(keys)
    sigs = [sign_header(header, suite, i, private) for i, (private, _) in enumerate(keys)]
    assert check_signature_list(header, sigs, suite) == (True, 7)
    assert calls == [1]


def test_no_sealers_never_reaches_quorum():
    suite = get_suite("secp256k1")
    assert check_signature_list(BlockHeader(number=0), [], suite) == (False, 0)


# --- blocks and roots -------------------------------------------------------------------------


def signed_transactions(suite, count: int):
    private, _ = suite.generate_keypair(np.random.default_rng(9))
    return tuple(
        Transaction(block_limit=500, nonce=i, to=b"\x01" * 20, input=bytes([i])).sign(
            suite, private
        )
        for i in range(count)
    )


def test_block_txs_root(suite):
    txs = signed_transactions(suite, 5)
    hashes = [tx.hash(suite) for tx in txs]
    assert txs_root(hashes, suite) == merkle_root(hashes, suite.hash)
    assert txs_root(np.array([list(h) for h in hashes], dtype=np.uint8), suite) == txs_root(
        hashes, suite)
    assert txs_root(hashes, suite, WIDTH_V2) == merkle_root(hashes, suite.hash, WIDTH_V2)
    assert txs_root([], suite) == ZERO_HASH


def test_executed_block_fills_the_header_from_the_body(suite):
    keys = sealers(suite, 4)
    genesis = genesis_block(suite, [public for _, public in keys], (1, 1, 2, 1))
    hashes = [tx.hash(suite) for tx in signed_transactions(suite, 3)]
    receipts = ReceiptBatch(1, np.array([100, 101, 102]), np.zeros(3, dtype=np.int64))
    block = executed_block(genesis, timestamp_ms=5, sealer=2,
                           transactions_root=txs_root(hashes, suite), receipts=receipts,
                           state_root=b"\x07" * 32, suite=suite)
    header = block.header
    assert header.number == 1 and header.parent_info == (ParentInfo(0, genesis.hash),)
    assert header.txs_root == txs_root(hashes, suite)
    assert header.receipts_root == receipts_root([receipts.row(i) for i in range(3)], suite)
    assert header.gas_used == 303 and header.state_root == b"\x07" * 32
    assert header.sealer_list == genesis.header.sealer_list
    assert header.consensus_weights == (1, 1, 2, 1)
    assert block.hash == header.hash(suite) != genesis.hash
    # the hash is the header's: what a light node recomputes from the encoded header
    assert BlockHeader.decode(header.encode()).hash(suite) == block.hash
    # the next block links to this one
    child = executed_block(block, timestamp_ms=6, sealer=2, transactions_root=header.txs_root,
                           receipts=ReceiptBatch(2, receipts.gas_used, receipts.status),
                           state_root=b"\x07" * 32, suite=suite)
    assert child.header.parent_info == (ParentInfo(1, block.hash),) and child.hash != block.hash
    # a receipt's proof against the root
    tree = block.receipt_tree(suite)
    assert verify_proof(receipts.row(1).hash(suite), 1, tree.proof(1), header.receipts_root,
                        suite.hash)


def test_executed_block_refuses_receipts_of_another_block(suite):
    genesis = genesis_block(suite, [])
    with pytest.raises(ValueError, match="receipts of block 5 in block 1"):
        executed_block(genesis, timestamp_ms=0, sealer=0, transactions_root=ZERO_HASH,
                       receipts=ReceiptBatch.uniform(2, 5), state_root=ZERO_HASH, suite=suite)


def test_receipt_batch_hashes_each_row_as_its_receipt(suite):
    gas = np.array([5, 7, 5, 9, 7])
    status = np.array([0, 0, 0, 1, 0])
    batch = ReceiptBatch(3, gas, status)
    expected = [Receipt(gas_used=int(g), status=int(s), block_number=3).hash(suite)
                for g, s in zip(gas, status, strict=True)]
    assert [bytes(h) for h in batch.hashes(suite)] == expected
    assert batch.root(suite) == merkle_root(expected, suite.hash)
    uniform = ReceiptBatch.uniform(1001, 3, gas_used=5)
    assert uniform.root(suite) == merkle_root([batch.row(0).hash(suite)] * 1001, suite.hash)
    assert uniform.total_gas() == 5005 and len(uniform) == 1001
