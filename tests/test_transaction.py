"""Transactions: canonical encoding, hash without signature, signing and sender recovery (§2.1)."""

from __future__ import annotations

import dataclasses

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.chain.encoding import check_field_types, decode_fields, encode_fields
from fiscosim.chain.receipt import LogEntry, Receipt, receipts_root
from fiscosim.chain.transaction import SignedTransaction, Transaction
from fiscosim.crypto import get_suite
from fiscosim.crypto.merkle import ZERO_HASH, merkle_root


def keypair(suite, seed: int = 1) -> tuple[bytes, bytes]:
    return suite.generate_keypair(np.random.default_rng(seed))


TX = Transaction(
    chain_id="chain0",
    group_id="group0",
    block_limit=501,
    nonce=123456789,
    to=bytes(range(20)),
    input=b"\x12\x34" * 10,
    abi="",
)

transactions = st.builds(
    Transaction,
    version=st.integers(0, 2**31 - 1),
    chain_id=st.text(max_size=12),
    group_id=st.text(max_size=12),
    block_limit=st.integers(0, 2**63 - 1),
    nonce=st.integers(0, 2**63 - 1),
    to=st.one_of(st.just(b""), st.binary(min_size=20, max_size=20)),
    input=st.binary(max_size=200),
    abi=st.text(max_size=40),
)


# --- encoding ---------------------------------------------------------------------------------


def test_encoding_is_a_positional_array():
    assert msgpack.unpackb(TX.encode()) == TX.fields()
    assert TX.fields()[:5] == [0, "chain0", "group0", 501, 123456789]


def test_encoding_refuses_floats_and_maps():
    with pytest.raises(TypeError, match="float"):
        encode_fields([1.5])
    with pytest.raises(TypeError, match="dict"):
        encode_fields([{"a": 1}])


def test_decoding_refuses_non_canonical_bytes():
    good = encode_fields([1, b"x"])
    with pytest.raises(ValueError, match="array of 3"):
        decode_fields(good, 3, "thing")
    with pytest.raises(ValueError):
        decode_fields(good + b"\x00", 2, "thing")  # trailing byte
    with pytest.raises(ValueError):
        decode_fields(good[:-1], 2, "thing")  # truncated
    long_int = b"\x92\xcd\x00\x01\xc4\x01x"  # 1 written as uint16: not the shortest form
    assert msgpack.unpackb(long_int) == [1, b"x"]
    with pytest.raises(ValueError, match="shortest"):
        decode_fields(long_int, 2, "thing")
    with pytest.raises(ValueError, match="canonical"):
        decode_fields(msgpack.packb([1.0, 2]), 2, "thing")
    with pytest.raises(ValueError):
        check_field_types(["x"], [int], "thing")


@settings(max_examples=200)
@given(tx=transactions)
def test_transaction_round_trip(tx):
    assert Transaction.decode(tx.encode()) == tx
    signed = SignedTransaction(tx, b"\x01" * 65)
    assert SignedTransaction.decode(signed.encode()) == signed


def test_decoding_rejects_wrong_field_types():
    fields = TX.fields()
    fields[3] = "501"  # block_limit as a string
    with pytest.raises(ValueError, match="field 3 must be int"):
        Transaction.decode(encode_fields(fields))
    with pytest.raises(ValueError):
        SignedTransaction.decode(encode_fields([TX.fields()[:7], b"sig"]))
    with pytest.raises(ValueError):
        SignedTransaction.decode(encode_fields([TX.fields(), "sig"]))


@pytest.mark.parametrize(
    "changes",
    [{"nonce": -1}, {"nonce": 2**63}, {"to": b"\x00" * 19}, {"block_limit": -1}, {"version": -1}],
)
def test_field_bounds(changes):
    with pytest.raises(ValueError):
        dataclasses.replace(TX, **changes)


# --- hash, signature, sender --------------------------------------------------------------------


def test_hash_is_suite_hash_of_encoding(suite):
    assert TX.hash(suite) == suite.hash(TX.encode())
    assert len(TX.hash(suite)) == 32


@pytest.mark.parametrize(
    "field, value",
    [
        ("version", 1),
        ("chain_id", "chain1"),
        ("group_id", "group1"),
        ("block_limit", 502),
        ("nonce", 123456790),
        ("to", b""),
        ("input", b"\x12\x35" * 10),
        ("abi", "[]"),
    ],
)
def test_every_field_is_hashed(field, value):
    suite = get_suite("secp256k1")
    assert dataclasses.replace(TX, **{field: value}).hash(suite) != TX.hash(suite)


def test_signature_is_not_hashed(suite):
    private, _ = keypair(suite)
    signed = TX.sign(suite, private)
    other = SignedTransaction(TX, bytes(len(signed.signature)))
    assert signed.hash(suite) == other.hash(suite) == TX.hash(suite)


def test_sign_and_recover_sender(suite):
    private, public = keypair(suite, seed=7)
    signed = TX.sign(suite, private)
    assert len(signed.signature) == suite.signature_size
    assert signed.sender(suite) == suite.address_of(public)
    decoded = SignedTransaction.decode(signed.encode())
    assert decoded.sender(suite) == suite.address_of(public)


def test_tampered_transaction_does_not_prove_its_signer(suite):
    private, public = keypair(suite, seed=8)
    signed = TX.sign(suite, private)
    tampered = SignedTransaction(dataclasses.replace(TX, input=b"steal"), signed.signature)
    assert tampered.sender(suite) != suite.address_of(public)


def test_garbage_signature_has_no_sender(suite):
    assert SignedTransaction(TX, b"\x00" * suite.signature_size).sender(suite) is None
    assert SignedTransaction(TX, b"\x01").sender(suite) is None


# --- receipts -----------------------------------------------------------------------------------


def test_receipt_round_trip_and_hash():
    suite = get_suite("secp256k1")
    receipt = Receipt(
        gas_used=21000,
        contract_address=b"\x05" * 20,
        status=0,
        output=b"\x00\x01",
        logs=(LogEntry(b"\x05" * 20, (b"\x01" * 32, b"\x02" * 32), b"data"),),
        block_number=9,
    )
    assert Receipt.decode(receipt.encode()) == receipt
    assert receipt.hash(suite) == suite.hash(receipt.encode())
    assert dataclasses.replace(receipt, status=16).hash(suite) != receipt.hash(suite)
    assert dataclasses.replace(receipt, logs=()).hash(suite) != receipt.hash(suite)
    with pytest.raises(ValueError):
        Receipt.decode(encode_fields([0, 1, b"", 0, b"", [[b"a", [1], b""]], 9]))


def test_receipts_root():
    suite = get_suite("secp256k1")
    receipts = [Receipt(gas_used=i, block_number=3) for i in range(5)]
    assert receipts_root(receipts, suite) == merkle_root(
        [r.hash(suite) for r in receipts], suite.hash
    )
    assert receipts_root([], suite) == ZERO_HASH
