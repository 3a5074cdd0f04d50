"""The FISCO default suite: keccak256, 65-byte r‖s‖v signatures and recover-then-compare."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import wycheproof_file

from fiscosim.crypto import get_suite, keccak256
from fiscosim.crypto.secp256k1 import SECP256K1_N

suite = get_suite("secp256k1")


def test_keccak256_is_not_fips_sha3():
    # Known-answer values for Keccak-256 as Ethereum and FISCO use it.
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )
    assert keccak256(b"abc") != hashlib.sha3_256(b"abc").digest()


def test_known_address():
    # Private key 1: the public key is the generator; its keccak address is well known.
    from coincurve import PrivateKey

    pub = PrivateKey((1).to_bytes(32, "big")).public_key.format(compressed=False)[1:]
    assert suite.address_of(pub).hex() == "7e5f4552091a69125d5dfcb7b8c2659029395bdf"


def test_keypair_is_deterministic_from_the_rng():
    a = suite.generate_keypair(np.random.default_rng(42))
    b = suite.generate_keypair(np.random.default_rng(42))
    c = suite.generate_keypair(np.random.default_rng(43))
    assert a == b and a != c
    assert len(a[0]) == 32 and len(a[1]) == 64


def _signed():
    key, pub = suite.generate_keypair(np.random.default_rng(1))
    msg_hash = keccak256(b"transfer 10 to bob")
    return msg_hash, suite.sign(msg_hash, key), suite.address_of(pub)


def test_sign_and_recover_round_trip():
    msg_hash, signature, address = _signed()
    assert len(signature) == 65 and signature[64] in (0, 1)
    assert suite.recover_address(msg_hash, signature) == address


def test_flipped_v_recovers_another_sender():
    msg_hash, signature, address = _signed()
    flipped = signature[:64] + bytes([signature[64] ^ 1])
    assert suite.recover_address(msg_hash, flipped) != address


def test_tampered_hash_recovers_another_sender():
    msg_hash, signature, address = _signed()
    tampered = bytes([msg_hash[0] ^ 1]) + msg_hash[1:]
    assert suite.recover_address(tampered, signature) != address


def test_high_s_with_flipped_v_is_the_same_signer():
    # FISCO verifies with secp256k1_ecdsa_recover, which does not enforce low S: (r, n−s)
    # with the other parity is the same point equation and recovers the same key.
    msg_hash, signature, address = _signed()
    s = int.from_bytes(signature[32:64], "big")
    high = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])
    assert suite.recover_address(msg_hash, high) == address


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda sig: sig[:64] + bytes([4]), id="v=4"),
        pytest.param(lambda sig: sig[:64] + bytes([27]), id="v=27"),
        pytest.param(lambda sig: sig[:64] + bytes([255]), id="v=255"),
        pytest.param(lambda sig: bytes(32) + sig[32:], id="r=0"),
        pytest.param(lambda sig: sig[:32] + bytes(32) + sig[64:], id="s=0"),
        pytest.param(lambda sig: SECP256K1_N.to_bytes(32, "big") + sig[32:], id="r=n"),
        pytest.param(lambda sig: sig[:32] + SECP256K1_N.to_bytes(32, "big") + sig[64:], id="s=n"),
        pytest.param(lambda sig: b"\xff" * 65, id="all-0xff"),
        pytest.param(lambda sig: bytes(65), id="all-zero"),
        pytest.param(lambda sig: sig[:64], id="too-short"),
    ],
)
def test_malformed_signatures_are_rejected_without_raising(mangle):
    msg_hash, signature, _ = _signed()
    assert suite.recover_address(msg_hash, mangle(signature)) is None


def test_recid_above_3_never_reaches_libsecp256k1():
    # libsecp256k1 aborts the process on recid > 3; the kernel must screen it.
    msg_hash, signature, _ = _signed()
    assert suite.recover_address(msg_hash, signature[:64] + bytes([4])) is None


def _wycheproof_p1363_cases():
    data = json.loads(wycheproof_file("ecdsa_secp256k1_sha256_p1363_test.json").read_text())
    for group in data["testGroups"]:
        public = bytes.fromhex(group["publicKey"]["uncompressed"])[1:]
        for test in group["tests"]:
            yield public, test


def test_wycheproof_p1363_through_the_raw_kernel():
    """Project Wycheproof (C2SP/wycheproof, testvectors_v1, Apache-2.0), read from ../shared.

    The vectors are r‖s over SHA-256(msg); a recover-based verifier accepts a vector iff one
    of the four recovery ids recovers the group's public key. Run through ``verify_shard``.
    """
    cases = list(_wycheproof_p1363_cases())
    rows_hash, rows_sig, expected_addr, verdicts, ids = [], [], [], [], []
    for public, test in cases:
        sig = bytes.fromhex(test["sig"])
        digest = hashlib.sha256(bytes.fromhex(test["msg"])).digest()
        for recid in range(4):
            rows_hash.append(digest)
            # A malformed length (not 64 bytes) is padded to garbage of the right width.
            rows_sig.append(
                (sig + bytes(64))[:64] + bytes([recid])
                if len(sig) == 64
                else b"\xff" * 64 + bytes([recid])
            )
            expected_addr.append(suite.address_of(public))
        verdicts.append(test["result"])
        ids.append(test["tcId"])
    n = len(rows_hash)
    hashes = np.frombuffer(b"".join(rows_hash), np.uint8).reshape(n, 32)
    sigs = np.frombuffer(b"".join(rows_sig), np.uint8).reshape(n, 65)
    ok = np.zeros(n, bool)
    addresses = np.zeros((n, 20), np.uint8)
    suite.verify_shard(hashes, sigs, ok, addresses)
    expected = np.frombuffer(b"".join(expected_addr), np.uint8).reshape(n, 20)
    matches = (ok & (addresses == expected).all(axis=1)).reshape(-1, 4).any(axis=1)
    wrong = [
        tc
        for tc, got, want in zip(ids, matches, verdicts, strict=True)
        if want != "acceptable" and got != (want == "valid")
    ]
    assert not wrong, f"verdicts differ from Wycheproof for tcIds {wrong}"
    assert len(verdicts) == 252
