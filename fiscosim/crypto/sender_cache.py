"""Where batch verification's public keys come from: a cache address → key (issue 21, part 3).

FISCO's RPC does not know a sender's public key before recovering it from the signature, so
:func:`fiscosim.crypto.secp_batch.verify_batch`, which checks signatures against known keys,
needs them from somewhere. :class:`SenderCache` keeps, for every sender verified once, its
64-byte key under its 20-byte FISCO address (``right160(keccak256(pub64))``);
:func:`verify_with_cache` checks a batch against the transactions' claimed senders:

- a row whose claimed sender is cached joins one batch against the cached key;
- the others are recovered (libsecp256k1, FISCO's own rule) in rounds, each round one
  vectorized recovery and one bulk address computation, as per-signature recovery does
  (:func:`fiscosim.crypto.secp256k1.recover_public_keys`): a round recovers the first
  undecided row of every sender still uncached; a row whose recovered address equals its
  claimed sender fills the cache, and the sender's other rows of the same call join the batch
  (one ordinary recovery per new sender, as long as its first row is good); a sender whose row
  failed offers its next row to the next round. After :data:`FIRST_ROW_ROUNDS` such rounds,
  the rows of senders still uncached are all recovered in one last round (a sender whose
  signatures keep failing gets no more than per-signature recovery would spend).

The verdicts are those of recover-then-compare-addresses, row by row. A key enters the cache
only from a verified row, under the address just computed from that key, so a forged row never
poisons it: the worst a forger gets is its own rows recovered one by one.
Forming batches per source (one client connection, one proposal), so that a sender's bad
signatures slow only its own batches, is the caller's choice of what to pass in one call.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from fiscosim.crypto import secp_batch
from fiscosim.crypto.hashing import keccak256
from fiscosim.crypto.secp256k1 import _addresses, recover_public_keys
from fiscosim.crypto.single import uint8_rows

ADDRESS_SIZE = 20
FIRST_ROW_ROUNDS = 2
"""Rounds that recover only the first undecided row of each uncached sender; then the rows of
senders still uncached are recovered all at once. Two rounds let a sender with one bad first
row still batch its later rows, while a sender with many bad rows costs at most two rounds of
bookkeeping more than recovering every row."""


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
        self._store([address], [public_key])
        return address

    def put_many(self, public_keys: np.ndarray) -> list[bytes]:
        """Caches n×64 uint8 keys, each under its own address (hashed here, in bulk); returns
        the addresses in order. The same as :meth:`put` on each row in turn."""
        keys = uint8_rows("public keys", public_keys, secp_batch.PUBKEY_SIZE)
        addresses = _row_bytes(_addresses(bytearray(keys.tobytes()), len(keys)))
        self._store(addresses, _row_bytes(keys))
        return addresses

    def _store(self, addresses: Sequence[bytes], public_keys: Sequence[bytes], *,
               new: bool = False) -> None:
        """Stores each key under its address, newest last, as :meth:`put` does one by one.

        Trusts that ``addresses[i]`` is ``address_of(public_keys[i])``: only :meth:`put`,
        :meth:`put_many` and :func:`verify_with_cache` call it, each with addresses just
        computed from those very keys (the latter two by one bulk hash, hence no second hash
        here). ``new``: the caller knows the addresses are distinct and none is cached."""
        keys = self._keys
        if new or (len(set(addresses)) == len(addresses) and keys.keys().isdisjoint(addresses)):
            keys.update(zip(addresses, public_keys, strict=True))  # all new: one bulk insert
        else:
            for address, public_key in zip(addresses, public_keys, strict=True):
                keys.pop(address, None)  # a re-put entry moves to the newest end, as in put
                keys[address] = public_key
        overflow = 0 if self.max_entries is None else len(keys) - self.max_entries
        if overflow > 0:
            # Collected first: deleting the oldest one at a time while iterating from the
            # front would rescan the deleted slots every time.
            for address in list(itertools.islice(keys, overflow)):
                del keys[address]

    def keys_of(self, addresses: Sequence[bytes] | np.ndarray) -> list[bytes | None]:
        """The cached key of each address (bytes, or the rows of an n×20 uint8 array), None
        where there is none; one dict lookup each, at C speed."""
        if isinstance(addresses, np.ndarray):
            addresses = _row_bytes(uint8_rows("addresses", addresses, ADDRESS_SIZE))
        return list(map(self._keys.get, addresses))

    def clear(self) -> None:
        self._keys.clear()


def _row_bytes(rows: np.ndarray) -> list[bytes]:
    """Each row of a 2-D uint8 array as bytes (one opaque void item per row: numpy makes the
    bytes objects in C, several times faster than slicing a bytes object in Python)."""
    rows = np.ascontiguousarray(rows)
    return rows.view(f"V{rows.shape[1]}").ravel().tolist()


def _recover_matching(hashes: np.ndarray, signatures: np.ndarray, claimed: np.ndarray,
                      rows: np.ndarray) -> tuple[np.ndarray, list[bytes], list[bytes]]:
    """Recover-then-compare on ``rows`` in one vectorized pass, as per-signature recovery
    does it (one libsecp256k1 loop, one bulk keccak): the rows whose recovered address equals
    their claimed sender, in the order given, with those addresses and keys."""
    # libsecp256k1 aborts the process on a recovery id above 3: such rows never reach it.
    index = rows[signatures[rows, 64] <= 3]
    if len(index) == 0:
        return index, [], []
    recovered, packed = recover_public_keys(hashes, signatures, index)
    count = len(recovered)
    if count == 0:
        return recovered, [], []
    addresses = _addresses(packed, count)
    match = (addresses == claimed[recovered]).all(axis=1)
    keys = np.frombuffer(packed, dtype=np.uint8).reshape(count, 64)
    if match.all():  # the usual case: no copies
        return recovered, _row_bytes(addresses), _row_bytes(keys)
    return recovered[match], _row_bytes(addresses[match]), _row_bytes(keys[match])


def verify_with_cache(
    cache: SenderCache,
    hashes: np.ndarray,
    signatures: np.ndarray,
    claimed_senders: np.ndarray,
) -> np.ndarray:
    """Per-row verdicts: row i is True exactly when recovering signature i from hash i gives
    a key whose address is ``claimed_senders[i]``.

    ``hashes`` n×32, ``signatures`` n×65 (r‖s‖v, v the raw recovery id), ``claimed_senders``
    n×20, all uint8. Cached senders' rows, and the later rows of senders verified here, are
    checked in one :func:`secp_batch.verify_batch`; the others are recovered in vectorized
    rounds (see the module's docstring), filling ``cache`` from the rows that verify.
    Malformed rows are False; inputs of the wrong shape or dtype are a ValueError.
    """
    hashes = uint8_rows("hashes", hashes, secp_batch.HASH_SIZE)
    signatures = uint8_rows("signatures", signatures, secp_batch.SIGNATURE_SIZE)
    claimed = uint8_rows("claimed_senders", claimed_senders, ADDRESS_SIZE)
    count = len(hashes)
    if not count == len(signatures) == len(claimed):
        raise ValueError(f"hashes, signatures and claimed_senders differ in length: "
                         f"{count}, {len(signatures)}, {len(claimed)}")
    verdicts = np.zeros(count, dtype=bool)
    if count == 0:
        return verdicts
    addresses = _row_bytes(claimed)
    # The per-row Python below is kept to C-level iteration (map, zip, dict): with a cold cache
    # it is all this path adds to per-signature recovery.
    if len(cache):
        found = cache.keys_of(addresses)
        warm = [i for i, key in enumerate(found) if key is not None]
        warm_keys = [found[i] for i in warm]
        undecided = np.asarray([i for i, key in enumerate(found) if key is None], dtype=np.intp)
    else:
        undecided, warm, warm_keys = np.arange(count), [], []
    for _ in range(FIRST_ROW_ROUNDS):
        if not len(undecided):
            break
        rows = undecided.tolist()
        senders = addresses if len(rows) == count else list(map(addresses.__getitem__, rows))
        distinct = len(set(senders)) == len(rows)
        if distinct:
            heads = undecided
        else:
            # Each uncached sender's first undecided row (reversed: the earliest row wins).
            first = dict(zip(reversed(senders), reversed(rows), strict=True))
            heads = np.asarray(sorted(first.values()), dtype=np.intp)
        index, verified, verified_keys = _recover_matching(hashes, signatures, claimed, heads)
        verdicts[index] = True
        # One row per sender, none of them cached: distinct new addresses.
        cache._store(verified, verified_keys, new=True)
        if distinct:  # no sender has a later row: nothing left (the usual cold batch)
            undecided = undecided[:0]
            break
        # The other rows: a verified sender's join the batch, a failed one's next is tried.
        learned = dict(zip(verified, verified_keys, strict=True))
        taken = set(first.values())
        remaining: list[int] = []
        for i, sender in zip(rows, senders, strict=True):
            if i in taken:
                continue
            key = learned.get(sender)
            if key is None:
                remaining.append(i)
            else:
                warm.append(i)
                warm_keys.append(key)
        undecided = np.asarray(remaining, dtype=np.intp)
    if len(undecided):
        # Senders whose every recovered row failed so far: the rest of their rows recovered
        # at once, no more rounds; each sender's first verified row fills the cache.
        index, verified, verified_keys = _recover_matching(hashes, signatures, claimed,
                                                           undecided)
        verdicts[index] = True
        first_key: dict[bytes, bytes] = {}
        for address, key in zip(verified, verified_keys, strict=True):
            first_key.setdefault(address, key)
        cache._store(list(first_key), list(first_key.values()))
    if warm:
        index = np.asarray(warm, dtype=np.intp)
        keys = np.frombuffer(b"".join(warm_keys), dtype=np.uint8).reshape(len(warm), 64)
        verdicts[index] = secp_batch.verify_batch(hashes[index], signatures[index], keys)
    return verdicts
