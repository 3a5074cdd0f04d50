"""Where batch verification's public keys come from: a cache address → key (issue 21, part 3).

FISCO's RPC does not know a sender's public key before recovering it from the signature, so
:func:`fiscosim.crypto.secp_batch.verify_batch`, which checks signatures against known keys,
needs them from somewhere. :class:`SenderCache` keeps, for every sender verified once, its
64-byte key under its 20-byte FISCO address (``right160(keccak256(pub64))``);
:func:`verify_with_cache` checks a batch against the transactions' claimed senders:

- a row whose claimed sender is cached joins one batch against the cached key;
- the others are recovered one by one (libsecp256k1, FISCO's own rule); a row whose recovered
  address equals its claimed sender fills the cache, so the sender's later rows of the same
  call join the batch (one ordinary recovery per new sender, as long as its first row is good).

The verdicts are those of recover-then-compare-addresses, row by row. A key enters the cache
only from a verified row, after checking that it hashes to the address it is stored under, so
a forged row never poisons it: the worst a forger gets is its own rows checked one by one.
Forming batches per source (one client connection, one proposal), so that a sender's bad
signatures slow only its own batches, is the caller's choice of what to pass in one call.
"""

from __future__ import annotations

import numpy as np

from fiscosim.crypto import secp_batch
from fiscosim.crypto.hashing import keccak256

ADDRESS_SIZE = 20


def address_of(public_key: bytes) -> bytes:
    """FISCO's address of a 64-byte secp256k1 key X‖Y: ``right160(keccak256(pub64))``."""
    if len(public_key) != secp_batch.PUBKEY_SIZE:
        raise ValueError(f"public key must be 64 bytes X‖Y, got {len(public_key)}")
    return keccak256(public_key)[-ADDRESS_SIZE:]


class SenderCache:
    """Address (20 bytes) → public key (64 bytes) of senders verified before.

    ``max_entries`` bounds it (the oldest entries go first); None leaves it unbounded.
    """

    def __init__(self, max_entries: int | None = None) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._keys: dict[bytes, bytes] = {}
        self.max_entries = max_entries

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, address: object) -> bool:
        return address in self._keys

    def get(self, address: bytes) -> bytes | None:
        """The cached key of ``address``, or None."""
        return self._keys.get(bytes(address))

    def put(self, public_key: bytes) -> bytes:
        """Caches ``public_key`` under its own address, which it returns."""
        public_key = bytes(public_key)
        address = address_of(public_key)
        self._keys.pop(address, None)
        self._keys[address] = public_key
        if self.max_entries is not None and len(self._keys) > self.max_entries:
            del self._keys[next(iter(self._keys))]
        return address

    def clear(self) -> None:
        self._keys.clear()


def _rows(name: str, value: object, width: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{name} must be a uint8 array of shape (n, {width}), "
                         f"got {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


class _Recoverer:
    """One-row libsecp256k1 recovery (coincurve's cffi) giving the 64-byte key or None."""

    def __init__(self, hashes: np.ndarray, signatures: np.ndarray) -> None:
        from coincurve._libsecp256k1 import ffi, lib
        from coincurve.context import GLOBAL_CONTEXT

        self._lib = lib
        self._ctx = GLOBAL_CONTEXT.ctx
        self._recoverable = ffi.new("secp256k1_ecdsa_recoverable_signature *")
        self._pubkey = ffi.new("secp256k1_pubkey *")
        self._pub65 = ffi.new("unsigned char[65]")
        self._pub65_len = ffi.new("size_t *")
        self._view = ffi.buffer(self._pub65)
        self._hashes = hashes
        self._signatures = signatures
        self._hash_ptr = ffi.from_buffer("unsigned char[]", hashes)
        self._sig_ptr = ffi.from_buffer("unsigned char[]", signatures)

    def key(self, i: int) -> bytes | None:
        recid = int(self._signatures[i, 64])
        if recid > 3:  # libsecp256k1 aborts the process on a recovery id above 3
            return None
        lib = self._lib
        if not lib.secp256k1_ecdsa_recoverable_signature_parse_compact(
                self._ctx, self._recoverable, self._sig_ptr + 65 * i, recid):
            return None
        if not lib.secp256k1_ecdsa_recover(
                self._ctx, self._pubkey, self._recoverable, self._hash_ptr + 32 * i):
            return None
        self._pub65_len[0] = 65
        lib.secp256k1_ec_pubkey_serialize(self._ctx, self._pub65, self._pub65_len,
                                          self._pubkey, lib.SECP256K1_EC_UNCOMPRESSED)
        return bytes(self._view[1:65])


def verify_with_cache(
    cache: SenderCache,
    hashes: np.ndarray,
    signatures: np.ndarray,
    claimed_senders: np.ndarray,
) -> np.ndarray:
    """Per-row verdicts: row i is True exactly when recovering signature i from hash i gives
    a key whose address is ``claimed_senders[i]``.

    ``hashes`` n×32, ``signatures`` n×65 (r‖s‖v, v the raw recovery id), ``claimed_senders``
    n×20, all uint8. Cached senders' rows are checked in one :func:`secp_batch.verify_batch`;
    the others are recovered one by one, filling ``cache`` from the rows that verify.
    Malformed rows are False; inputs of the wrong shape or dtype are a ValueError.
    """
    hashes = _rows("hashes", hashes, secp_batch.HASH_SIZE)
    signatures = _rows("signatures", signatures, secp_batch.SIGNATURE_SIZE)
    claimed = _rows("claimed_senders", claimed_senders, ADDRESS_SIZE)
    count = len(hashes)
    if not count == len(signatures) == len(claimed):
        raise ValueError(f"hashes, signatures and claimed_senders differ in length: "
                         f"{count}, {len(signatures)}, {len(claimed)}")
    verdicts = np.zeros(count, dtype=bool)
    if count == 0:
        return verdicts
    addresses = [claimed[i].tobytes() for i in range(count)]
    warm: list[int] = []
    warm_keys: list[bytes] = []
    recoverer: _Recoverer | None = None
    for i, address in enumerate(addresses):
        key = cache.get(address)
        if key is not None:
            warm.append(i)
            warm_keys.append(key)
            continue
        if recoverer is None:
            recoverer = _Recoverer(hashes, signatures)
        recovered = recoverer.key(i)
        if recovered is not None and address_of(recovered) == address:
            verdicts[i] = True
            cache.put(recovered)
    if warm:
        index = np.asarray(warm, dtype=np.intp)
        keys = np.frombuffer(b"".join(warm_keys), dtype=np.uint8).reshape(len(warm), 64)
        verdicts[index] = secp_batch.verify_batch(hashes[index], signatures[index], keys)
    return verdicts
