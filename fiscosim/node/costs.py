"""Hardware profiles and the cost model: how many simulated microseconds each piece of work takes.

Simulated time comes from here, never from the wall clock (docs/architecture.md rule 3). A
:class:`HardwareProfile` holds per-core costs in microseconds; a :class:`CostModel` turns a
profile and the chain's crypto suite (docs/fisco-reference.md §3: secp256k1 + keccak256, or SM2 +
SM3) into integer microseconds of **single-core** work for a given amount of work. Splitting that
work over a node's cores is the CPU model's job (:mod:`fiscosim.node.cpu`), not this module's.

A profile comes from one of three places (:func:`load_profile`):

- a **shipped** profile, by name: ``reference-2core`` (the development machine, measured) and
  ``server-8core`` (FISCO's recommended 8-core server, docs/fisco-reference.md §4, derived from it);
  the derivation of each figure is in ``docs/profiles.md``;
- a **calibrated** file, by path: the YAML that ``fiscosim calibrate`` writes on a host. It
  measures verification, hashing and msgpack, and RocksDB reads and writes where rocksdict is
  installed; the costs it cannot measure (signing, the pool's hash map) are filled from
  ``reference-2core`` and the profile lists them in ``filled``;
- an **inline** mapping in the same format (``costs_us`` plus optional ``name``, ``cores``,
  ``base``), for experiments: every cost not given comes from ``base`` (``reference-2core``).

>>> model = CostModel(load_profile("reference-2core"), "secp256k1")
>>> model.verify(0), model.verify(1000) > model.verify(1) > 0, model.cores
(0, True, 2)
>>> isinstance(model.hash(4096), int)
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fiscosim.refs import did_you_mean, looks_like_name, yaml_problem

COST_FIELDS: tuple[str, ...] = (
    "verify_secp256k1",
    "verify_sm2",
    "verify_secp256k1_batch_row",
    "verify_secp256k1_batch_msm",
    "sign_secp256k1",
    "sign_sm2",
    "keccak256_per_kb",
    "sm3_per_kb",
    "msgpack_encode_per_kb",
    "msgpack_decode_per_kb",
    "txpool_insert_per_tx",
    "txpool_lookup_per_tx",
    "storage_read_per_key",
    "storage_write_per_key",
    "storage_commit_per_block",
)
"""Every cost of a profile, in microseconds on one core (``*_per_kb``: per KiB of input)."""

BATCH_VERIFY_FIELDS: tuple[str, ...] = ("verify_secp256k1_batch_row", "verify_secp256k1_batch_msm")
"""The batch verifier's two coefficients (:meth:`CostModel.batch_verify`), charged only with
``chain.verify_mode: batch``; a run's summary lists them only then."""

STORAGE_FIELDS: tuple[str, ...] = (
    "storage_read_per_key",
    "storage_write_per_key",
    "storage_commit_per_block",
)
"""The costs ``fiscosim calibrate`` measures in a real RocksDB when rocksdict is installed."""

CALIBRATED_FIELDS: tuple[str, ...] = (
    "verify_secp256k1",
    "verify_sm2",
    "keccak256_per_kb",
    "sm3_per_kb",
    "msgpack_encode_per_kb",
    "msgpack_decode_per_kb",
)
"""The costs ``fiscosim calibrate`` always measures (see :mod:`fiscosim.calibrate`); it also
measures :data:`STORAGE_FIELDS` where rocksdict is installed, and :data:`BATCH_VERIFY_FIELDS`
where the batch verifier's C extension was built."""

REFERENCE_PROFILE = "reference-2core"
"""The profile whose figures fill the costs a calibrated or inline profile leaves out."""

SUITES: tuple[str, ...] = ("secp256k1", "sm2")

PROFILE_KEYS: tuple[str, ...] = (
    "name",
    "cpu_model",
    "cores",
    "source",
    "notes",
    "measured",
    "assumed",
    "provenance",
    "base",
    "costs_us",
)
"""Top-level keys a profile file may hold; ``measured`` is free-form (calibrate's record)."""

RETIRED_COSTS: dict[str, tuple[str, str]] = {
    "execute_tx": (
        "execution costs come from the workload's contract models now, per method "
        "(workload.contract, fiscosim/contracts/models)",
        "remove it, or set chain.execution_us_per_tx to give every call one cost"),
    "storage_commit_per_tx": (
        "storage is charged per key written now (a transaction writes its contract method's "
        "state slots, its own row and its receipt's)",
        "give storage_write_per_key, the µs to put one key in a block's write batch and "
        "commit it, or remove it"),
}
"""Costs a profile gave once and may no longer give: (why, the fix)."""


def _retired(key: str) -> str:
    why, fix = RETIRED_COSTS[key]
    return f"{why}; {fix}"


PROVENANCE_SOURCES: tuple[str, ...] = ("measured", "published", "derived", "assumed", "given")
"""Where a cost comes from: **measured** by running real code (``detail``: what, where, how);
**published** by FISCO or its authors (``detail``: the source and its conditions); **derived**
from other figures (``detail``: from which, and the assumption that links them); **assumed**
(``detail``: why this value); **given** by the user in an inline profile or a scenario field."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where one cost of a profile comes from (:data:`PROVENANCE_SOURCES`)."""

    source: str
    detail: str

KIB = 1024
_ROUND_DOWN = 1 - 1e-12
"""Products like 3 × 0.1 land a hair above an integer in floating point; shaving a relative
1e-12 before rounding up keeps such exact products exact without breaking monotonicity."""


@dataclass(frozen=True, slots=True)
class HardwareProfile:
    """A host class: its core count and per-core costs in microseconds.

    ``assumed`` names the costs that are documented assumptions rather than measurements;
    ``filled`` names the costs the profile's source left out, taken from ``filled_from``.
    """

    name: str
    cores: int
    cpu_model: str
    verify_secp256k1: float
    verify_sm2: float
    verify_secp256k1_batch_row: float
    verify_secp256k1_batch_msm: float
    sign_secp256k1: float
    sign_sm2: float
    keccak256_per_kb: float
    sm3_per_kb: float
    msgpack_encode_per_kb: float
    msgpack_decode_per_kb: float
    txpool_insert_per_tx: float
    txpool_lookup_per_tx: float
    storage_read_per_key: float
    storage_write_per_key: float
    storage_commit_per_block: float
    source: str = ""
    notes: str = ""
    assumed: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()
    filled_from: str | None = None
    provenance: tuple[tuple[str, Provenance], ...] = ()
    """Per cost (:data:`COST_FIELDS` order), where it comes from."""

    def provenance_of(self, name: str) -> Provenance:
        """Where cost ``name`` comes from."""
        for cost, where in self.provenance:
            if cost == name:
                return where
        return Provenance("assumed" if name in self.assumed else "given",
                          "no provenance recorded")

    def costs(self) -> dict[str, float]:
        """Every cost by name (:data:`COST_FIELDS` order), in microseconds."""
        return {name: getattr(self, name) for name in COST_FIELDS}

    def replace(self, **changes: Any) -> HardwareProfile:
        """A copy with some fields changed (costs, ``cores``, ``name``...)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The profile in the file format :func:`load_profile` reads back."""
        data: dict[str, Any] = {
            "name": self.name,
            "cpu_model": self.cpu_model,
            "cores": self.cores,
            "source": self.source,
            "notes": self.notes,
            "assumed": list(self.assumed),
            "provenance": {name: {"source": where.source, "detail": where.detail}
                           for name, where in self.provenance},
            "costs_us": self.costs(),
        }
        return data


SIGNATURES_CHECKED = {"PrePrepare": 1, "Prepare": 2, "Commit": 1, "CheckPoint": 2}
"""Signature verifications per received PBFT message (docs/fisco-reference.md §1.2: message
signature, plus the proposal signature for Prepare and CheckPoint)."""
SIGNATURES_MADE = {"PrePrepare": 1, "Prepare": 2, "Commit": 2, "CheckPoint": 2}
"""Signatures per sent PBFT message (message signature, plus the proposal signature for
Prepare, Commit and CheckPoint)."""
HEADER_ENCODE_BYTES = 256
"""Bytes of a block header beyond its per-transaction hashes, as encoded and hashed when a
block is sealed or executed (assumed)."""
RECEIPT_BYTES = 150
"""An encoded receipt without logs: version, gas used, contract address, status, a 32-byte
output, block number (assumed; also the receipt row ``fiscosim calibrate`` writes to RocksDB)."""
STATE_ENTRY_BYTES = 59 + 32
"""A changed state entry as the state root hashes it: a 59-byte key (``/apps/`` + address +
``:`` + slot) and a 32-byte value (also the state rows calibrate writes)."""
MERKLE_BYTES_PER_LEAF = {2: 64, 16: 37}
"""Bytes hashed per leaf to build a Merkle root (docs/fisco-reference.md §3): a binary tree of n
leaves hashes n − 1 pairs of 32-byte children (3.x); a 16-ary one hashes each leaf as
``RLP(index) ‖ hash`` (35 bytes from index 128 on) inside its parent's input, and n/15 more
32-byte children above (2.x)."""
LEDGER_KEYS_PER_TX = 2
"""Ledger rows a transaction adds to its block's write batch besides its state: the
transaction (``s_hash_2_tx``) and its receipt (``s_hash_2_receipt``). Its hash and nonce go
into per-block rows (docs/fisco-reference.md §2.9)."""


class CostModel:
    """Integer microseconds of single-core work, from a profile and the chain's crypto suite.

    Every method is pure and rounds up to a whole microsecond (a non-zero amount of work never
    takes zero time); an amount of zero or less costs 0.

    >>> model = CostModel(load_profile("reference-2core"), "sm2")
    >>> model.verify(2) <= 2 * model.verify(1)
    True
    """

    __slots__ = (
        "_batch_msm",
        "_batch_row",
        "_block",
        "_decode",
        "_encode",
        "_hash",
        "_insert",
        "_lookup",
        "_merkle",
        "_min_batch",
        "_read",
        "_sign",
        "_verify",
        "_write",
        "profile",
        "suite",
    )

    def __init__(self, profile: HardwareProfile, suite: str = "secp256k1",
                 merkle_width: int = 2) -> None:
        if suite not in SUITES:
            raise ValueError(f"unknown crypto suite {suite!r} (use one of {', '.join(SUITES)})")
        if merkle_width not in MERKLE_BYTES_PER_LEAF:
            raise ValueError(f"merkle_width must be 2 (3.x) or 16 (2.x), got {merkle_width}")
        self._merkle = MERKLE_BYTES_PER_LEAF[merkle_width]
        self.profile = profile
        self.suite = suite
        guomi = suite == "sm2"
        self._verify = profile.verify_sm2 if guomi else profile.verify_secp256k1
        self._batch_row = profile.verify_secp256k1_batch_row
        self._batch_msm = profile.verify_secp256k1_batch_msm
        # Imported here: loading a scenario (which reads this module) stays free of numpy.
        from fiscosim.crypto.secp_batch import MIN_BATCH

        self._min_batch = MIN_BATCH
        self._sign = profile.sign_sm2 if guomi else profile.sign_secp256k1
        # Per byte, so that a call is one multiplication.
        self._hash = (profile.sm3_per_kb if guomi else profile.keccak256_per_kb) / KIB
        self._encode = profile.msgpack_encode_per_kb / KIB
        self._decode = profile.msgpack_decode_per_kb / KIB
        self._insert = profile.txpool_insert_per_tx
        self._lookup = profile.txpool_lookup_per_tx
        self._read = profile.storage_read_per_key
        self._write = profile.storage_write_per_key
        self._block = profile.storage_commit_per_block

    def __repr__(self) -> str:
        return f"CostModel({self.profile.name!r}, {self.suite!r})"

    @property
    def cores(self) -> int:
        """The node's core count (the CPU model splits parallel work over them)."""
        return self.profile.cores

    def verify(self, n: int) -> int:
        """Verifying ``n`` transaction signatures: recover (or verify) and derive the sender."""
        return _up(n * self._verify) if n > 0 else 0

    def batch_verify(self, rows: int, senders: int, bad: int = 0) -> int:
        """Checking ``rows`` transaction signatures by ``senders`` distinct senders whose keys
        the node has cached, ``bad`` of them failing, with the batch verifier
        (``chain.verify_mode: batch``, :mod:`fiscosim.crypto.secp_batch`).

        One sum costs ``rows`` × ``verify_secp256k1_batch_row`` plus m / log2 m ×
        ``verify_secp256k1_batch_msm`` for its m = rows + senders + 1 points (Pippenger's
        multi-scalar multiplication; :mod:`fiscosim.calibrate.batch_verify` fits both to the
        real verifier). Fewer than ``MIN_BATCH`` rows are recovered one by one, as the verifier
        does; bad rows add the bisection's sums and recoveries (:func:`bisection_work`).

        >>> model = CostModel(load_profile("reference-2core"))
        >>> model.batch_verify(4096, 4096) < model.verify(4096)
        True
        >>> model.batch_verify(4096, 256) < model.batch_verify(4096, 4096)
        True
        >>> model.batch_verify(8, 8) == model.verify(8)
        True
        """
        if rows <= 0:
            return 0
        if rows < self._min_batch:
            return self.verify(rows)
        whole = rows * self._batch_row + msm_points_factor(rows + senders + 1) * self._batch_msm
        summed, recovered = bisection_work(rows, bad)
        return _up(whole * summed + recovered * self._verify)

    def sign(self, n: int = 1) -> int:
        """Making ``n`` signatures with the node's key (consensus messages, docs/fisco-reference.md
        §1.2)."""
        return _up(n * self._sign) if n > 0 else 0

    def hash(self, nbytes: int) -> int:
        """Hashing ``nbytes`` bytes with the suite's hash (keccak256 or SM3)."""
        return _up(nbytes * self._hash) if nbytes > 0 else 0

    def encode(self, nbytes: int) -> int:
        """Encoding a message of ``nbytes`` bytes (msgpack)."""
        return _up(nbytes * self._encode) if nbytes > 0 else 0

    def decode(self, nbytes: int) -> int:
        """Decoding a message of ``nbytes`` bytes (msgpack)."""
        return _up(nbytes * self._decode) if nbytes > 0 else 0

    def storage_commit(self, n_txs: int, state_writes: int = 0) -> int:
        """Writing a block of ``n_txs`` transactions that change ``state_writes`` state slots
        to storage, FISCO 3.x's two phases (docs/fisco-reference.md §2.9): every key into the
        block's write batch, then the batch committed. Per block (its header and index rows,
        the batch's write-ahead-log record) plus per key: each state slot, and each
        transaction's row and its receipt's (:data:`LEDGER_KEYS_PER_TX`).

        A block is written even when it holds no transaction (an empty NewView proposal), so
        ``storage_commit(0)`` is the per-block cost.
        """
        keys = max(n_txs, 0) * LEDGER_KEYS_PER_TX + max(state_writes, 0)
        return _up(self._block + keys * self._write)

    # -- what the node runtime charges, one formula each: the runtime and the analytic latency
    # model (fiscosim.sim.analytic) both call these.
    def send_message(self, kind: str, nbytes: int) -> int:
        """Signing and encoding a PBFT message of kind ``kind`` and ``nbytes`` bytes."""
        return self.sign(SIGNATURES_MADE.get(kind, 1)) + self.encode(nbytes)

    def receive_message(self, kind: str, nbytes: int) -> int:
        """Decoding a received PBFT message and checking its signatures."""
        return self.verify(SIGNATURES_CHECKED.get(kind, 1)) + self.decode(nbytes)

    def admit(self, payload_bytes: int, fresh: int, verify_us: int | None = None) -> int:
        """A batch of transactions reaching the pool (docs/fisco-reference.md §2.2): decoding
        each and hashing it (its hash is how the pool knows a duplicate), then verifying the
        ``fresh`` ones and inserting them: those past the duplicate check and the pool limit
        (``TxPool.gate``). A duplicate, or one refused because the pool is full
        (TxPoolIsFull), costs its decoding and hash only. ``verify_us``, when given, is the
        verification's cost in place of ``fresh`` one-by-one recoveries (the batch verifier's,
        ``chain.verify_mode: batch``)."""
        # The same terms as decode() + hash() + verify() + the inserts, each rounded up on its
        # own, without four calls: this runs for every batch every node receives.
        ceil, shave = math.ceil, _ROUND_DOWN
        work = 0
        if payload_bytes > 0:
            work = (ceil(payload_bytes * self._decode * shave)
                    + ceil(payload_bytes * self._hash * shave))
        if fresh > 0:
            work += ceil(fresh * self._insert * shave) + (
                ceil(fresh * self._verify * shave) if verify_us is None else verify_us)
        return work

    def seal(self, n_txs: int) -> int:
        """Sealing a block of ``n_txs`` transactions: hashing their hashes, encoding the block."""
        return self.hash(32 * n_txs) + self.encode(64 * n_txs + HEADER_ENCODE_BYTES)

    def fill(self, n_txs: int) -> int:
        """Looking a proposal's ``n_txs`` transaction hashes up in the pool (none missing)."""
        return int(self._lookup * n_txs) + 1

    def execute_block(self, executor_us: float, n_txs: int = 0, state_reads: int = 0,
                      state_writes: int = 0) -> int:
        """Executing a block of ``n_txs`` transactions: their contract calls keep the executor
        busy ``executor_us`` (as :mod:`fiscosim.execution` schedules them), plus the
        ``state_reads`` slots they read through storage (those their methods' costs leave
        out); then the receipts (each encoded and hashed, and their Merkle root), the state
        root (a hash over the ``state_writes`` changed entries) and the executed header's
        hash."""
        work = executor_us + max(state_reads, 0) * self._read
        n = max(n_txs, 0)
        receipts = n * RECEIPT_BYTES
        hashed = receipts + self._merkle * n + max(state_writes, 0) * STATE_ENTRY_BYTES
        return (_up(work) + self.encode(receipts) + self.hash(hashed)
                + self.hash(HEADER_ENCODE_BYTES))


def msm_points_factor(points: int) -> float:
    """m / log2 m: how a multi-scalar multiplication over m points grows (Pippenger's bucket
    method, about m / log2 m point additions per window); m below 2 counts as 2."""
    points = max(points, 2)
    return points / math.log2(points)


PLACEMENTS = 16
"""Random placements of the bad rows :func:`bisection_work` averages over."""


@functools.lru_cache(maxsize=4096)
def bisection_work(rows: int, bad: int) -> tuple[float, int]:
    """What the batch verifier spends on ``rows`` rows of which ``bad`` fail: (rows summed, as
    a multiple of ``rows``: each sum's cost is taken as that share of the whole batch's; rows
    recovered one by one).

    It replays :func:`fiscosim.crypto.secp_batch.verify_batch`'s bisection (the C code's
    ``batch_verify``): the whole sum fails; a failing range's left half is summed (its right
    half's sum is the range's minus it); this goes on while the failing ranges and the rows
    proved bad number at most ``MAX_BAD``, then every failing range is recovered, as is a
    failing range under ``MIN_RANGE`` rows. Where the bad rows sit matters, so this is the mean
    over :data:`PLACEMENTS` placements drawn from a generator seeded by (rows, bad): the same
    arguments give the same answer in every run. One bad row costs about twice the rows
    summed; three or more end in recovering most rows (tests/test_verify_mode.py checks it
    against the real verifier's ``verify_batch_stats``).

    >>> bisection_work(1024, 0), bisection_work(1024, 1)[0] > 1.9
    ((1.0, 0), True)
    """
    import numpy as np

    if rows <= 0 or bad <= 0:
        return 1.0, 0
    bad = min(bad, rows)
    rng = np.random.default_rng([rows, bad])
    summed_total, recovered_total = 0, 0
    for _ in range(PLACEMENTS):
        positions = np.sort(rng.choice(rows, size=bad, replace=False))
        summed, recovered = _replay_bisection(rows, positions)
        summed_total += summed
        recovered_total += recovered
    return summed_total / (PLACEMENTS * rows), round(recovered_total / PLACEMENTS)


def _replay_bisection(rows: int, positions: Any) -> tuple[int, int]:
    """(rows summed, rows recovered) of the C verifier's bisection for bad rows at the sorted
    ``positions`` (a numpy array)."""
    from fiscosim.crypto.secp_batch import MAX_BAD, MIN_RANGE

    summed, recovered, proved = rows, 0, 0
    stack = [(0, rows)]
    while stack:
        if len(stack) + proved > MAX_BAD:
            recovered += sum(hi - lo for lo, hi in stack)
            break
        lo, hi = stack.pop()
        if hi - lo == 1:
            proved += 1
            continue
        if hi - lo < MIN_RANGE:
            recovered += hi - lo
            continue
        mid = lo + (hi - lo) // 2
        summed += mid - lo
        for start, stop in ((mid, hi), (lo, mid)):  # the C code pushes the right half first
            first = positions.searchsorted(start)
            if first < len(positions) and positions[first] < stop:
                stack.append((start, stop))
    return summed, recovered


def _up(us: float) -> int:
    """Rounds a cost up to whole microseconds (never below 0)."""
    return max(0, math.ceil(us * _ROUND_DOWN))


# -- loading -----------------------------------------------------------------------------------


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped in ``fiscosim/profiles/``.

    >>> {"reference-2core", "server-8core"} <= set(shipped_profiles())
    True
    """
    return sorted(_shipped_names())


@functools.cache
def _shipped_names() -> frozenset[str]:
    folder = resources.files("fiscosim").joinpath("profiles")
    if not folder.is_dir():
        return frozenset()
    return frozenset(
        entry.name[: -len(".yaml")] for entry in folder.iterdir() if entry.name.endswith(".yaml")
    )


def load_profile(ref: str | os.PathLike | Mapping | HardwareProfile | Any) -> HardwareProfile:
    """A hardware profile from a shipped name, a calibrated YAML file's path, or a mapping.

    Also accepts a :class:`HardwareProfile` (returned as is) and an object with
    ``model_dump()`` (a scenario's inline profile), read as a mapping. A bad reference or file
    raises ``ValueError`` with one line: ``<where>: <what is wrong> (<the fix>)``.

    >>> load_profile("server-8core").cores
    8
    >>> inline = load_profile({"cores": 4, "costs_us": {"storage_write_per_key": 10}})
    >>> inline.cores, inline.storage_write_per_key, inline.filled_from
    (4, 10.0, 'reference-2core')
    """
    return _load(ref, ())


def _load(ref: Any, seen: tuple[str, ...]) -> HardwareProfile:
    if isinstance(ref, HardwareProfile):
        return ref
    if hasattr(ref, "model_dump") and not isinstance(ref, Mapping):
        ref = ref.model_dump(exclude_none=True)
    if isinstance(ref, Mapping):
        return _from_mapping(ref, "inline profile", None, seen)
    if not isinstance(ref, str | os.PathLike):
        raise ValueError(
            f"profile: {type(ref).__name__} is not a profile reference (give a shipped name "
            f"such as {REFERENCE_PROFILE!r}, the path of a profile YAML, or a mapping)"
        )
    text = os.fspath(ref)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if isinstance(ref, str) and text in _shipped_names():
        _check_cycle(text, text, seen)
        return _load_shipped(text, seen)
    path = Path(text).expanduser()
    if path.is_file():
        resolved = str(path.resolve())
        _check_cycle(resolved, text, seen)
        stat = path.stat()
        return _load_file(resolved, text, stat.st_mtime_ns, stat.st_size, seen)
    if path.exists():
        raise ValueError(f"{text}: not a file (give the path of a profile YAML)")
    shipped = ", ".join(shipped_profiles())
    if looks_like_name(ref, text):
        hint = did_you_mean(text, shipped_profiles())
        raise ValueError(
            f"unknown profile {text!r} ({hint}use a shipped profile: {shipped}; or the path of "
            "a YAML written by `fiscosim calibrate`)"
        )
    raise ValueError(
        f"{text}: no such profile file (check the path, write one with `fiscosim calibrate "
        f"--out {text}`, or use a shipped profile: {shipped})"
    )


def _check_cycle(identity: str, shown: str, seen: tuple[str, ...]) -> None:
    if identity in seen:
        raise ValueError(
            f"{shown}: profile bases form a cycle (point 'base' at a complete profile, "
            f"such as {REFERENCE_PROFILE!r})"
        )


def _load_shipped(name: str, seen: tuple[str, ...]) -> HardwareProfile:
    # Shipped files never change while a process runs: parse each once.
    if not seen:
        return _load_shipped_cached(name)
    return _parse_text(_shipped_text(name), f"profiles/{name}.yaml", name, seen)


@functools.cache
def _load_shipped_cached(name: str) -> HardwareProfile:
    return _parse_text(_shipped_text(name), f"profiles/{name}.yaml", name, ())


def _shipped_text(name: str) -> str:
    return resources.files("fiscosim").joinpath("profiles", f"{name}.yaml").read_text("utf-8")


@functools.lru_cache(maxsize=64)
def _load_file_cached(resolved: str, shown: str, _mtime: int, _size: int) -> HardwareProfile:
    # Keyed by modification time and size too, so that a rewritten file is read again.
    return _read_file(resolved, shown, ())


def _load_file(
    resolved: str, shown: str, mtime: int, size: int, seen: tuple[str, ...]
) -> HardwareProfile:
    if not seen:
        return _load_file_cached(resolved, shown, mtime, size)
    return _read_file(resolved, shown, seen)


def _read_file(resolved: str, shown: str, seen: tuple[str, ...]) -> HardwareProfile:
    try:
        text = Path(resolved).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{shown}: cannot read the profile ({error})") from error
    return _parse_text(text, shown, resolved, seen)


def _parse_text(text: str, where: str, key: str, seen: tuple[str, ...]) -> HardwareProfile:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        line, problem = yaml_problem(error)
        at = f" at line {line}" if line is not None else ""
        raise ValueError(f"{where}: YAML error{at}: {problem} (fix the file)") from error
    if not isinstance(data, Mapping):
        raise ValueError(
            f"{where}: the profile is {type(data).__name__}, not a mapping (write it as "
            "`fiscosim calibrate` does: name, cores, costs_us: {...})"
        )
    return _from_mapping(data, where, Path(key).stem if key else None, (*seen, key))


def _from_mapping(
    data: Mapping, where: str, default_name: str | None, seen: tuple[str, ...]
) -> HardwareProfile:
    for key in data:
        if key not in PROFILE_KEYS:
            raise ValueError(f"{where}: {_unknown(key, PROFILE_KEYS)}")
    costs_in = data.get("costs_us", {})
    if costs_in is None:
        costs_in = {}
    if not isinstance(costs_in, Mapping):
        raise ValueError(
            f"{where}: costs_us: expected a mapping of cost -> µs, got "
            f"{type(costs_in).__name__} (write e.g. 'costs_us: {{verify_secp256k1: 45.3}}')"
        )
    costs: dict[str, float] = {}
    for key, value in costs_in.items():
        if key in RETIRED_COSTS:
            raise ValueError(f"{where}: costs_us.{key}: {_retired(key)}")
        if key not in COST_FIELDS:
            raise ValueError(f"{where}: costs_us: {_unknown(key, COST_FIELDS)}")
        costs[key] = _cost(value, f"{where}: costs_us.{key}")
    cores = data.get("cores")
    if cores is not None and (isinstance(cores, bool) or not isinstance(cores, int) or cores < 1):
        raise ValueError(f"{where}: cores: {cores!r} is not a whole number >= 1 (e.g. cores: 8)")
    for key in ("name", "cpu_model", "source", "notes", "base"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(
                f"{where}: {key}: expected text, got {type(value).__name__} (quote it)"
            )
    measured = data.get("measured")
    if measured is not None and not isinstance(measured, Mapping):
        raise ValueError(f"{where}: measured: expected a mapping (or remove it)")
    assumed_in = data.get("assumed") or []
    if not isinstance(assumed_in, list | tuple):
        raise ValueError(f"{where}: assumed: expected a list of cost names "
                         "(e.g. [txpool_insert_per_tx])")
    for key in assumed_in:
        if key in RETIRED_COSTS:
            raise ValueError(f"{where}: assumed: {key}: {_retired(key)}")
        if key not in COST_FIELDS:
            raise ValueError(f"{where}: assumed: {_unknown(key, COST_FIELDS)}")
    provenance_in = _provenance(data.get("provenance"), where)

    missing = [name for name in COST_FIELDS if name not in costs]
    base = None
    base_name = data.get("base")
    if missing or cores is None:
        ref = base_name if base_name is not None else REFERENCE_PROFILE
        try:
            base = _load(ref, seen)
        except ValueError as error:
            raise ValueError(f"{where}: base: {error}") from error
    elif base_name is not None:
        base = _load(base_name, seen)
    filled = tuple(missing)
    if base is not None:
        for name in missing:
            costs[name] = getattr(base, name)
    provenance = _provenance_of_costs(costs, provenance_in, assumed_in, measured, missing, base,
                                      where)
    assumed = tuple(name for name, entry in provenance if entry.source == "assumed")
    name = data.get("name") or default_name or (f"{base.name}+inline" if base else "inline")
    return HardwareProfile(
        name=name,
        cores=cores if cores is not None else base.cores,  # type: ignore[union-attr]
        cpu_model=data.get("cpu_model") or (base.cpu_model if base else "unknown"),
        source=data.get("source") or _describe_measured(measured, where),
        notes=data.get("notes") or _describe_backends(measured),
        assumed=assumed,
        filled=filled,
        filled_from=base.name if (base is not None and filled) else None,
        provenance=provenance,
        **costs,
    )


def _provenance(data: Any, where: str) -> dict[str, Provenance]:
    """A profile's ``provenance`` mapping: cost → {source, detail}."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: provenance: expected a mapping of cost -> {{source, detail}}")
    out = {}
    for key, entry in data.items():
        at = f"{where}: provenance.{key}"
        if key in RETIRED_COSTS:
            raise ValueError(f"{at}: {_retired(key)}")
        if key not in COST_FIELDS:
            raise ValueError(f"{where}: provenance: {_unknown(key, COST_FIELDS)}")
        if not isinstance(entry, Mapping) or set(entry) - {"source", "detail"}:
            raise ValueError(f"{at}: expected {{source: ..., detail: ...}}")
        source, detail = entry.get("source"), entry.get("detail")
        if source not in PROVENANCE_SOURCES:
            raise ValueError(f"{at}.source: {source!r} is not one of "
                             f"{', '.join(PROVENANCE_SOURCES)}")
        if not isinstance(detail, str) or not detail.strip():
            raise ValueError(f"{at}.detail: say where the figure comes from (a sentence)")
        out[key] = Provenance(source, " ".join(detail.split()))
    return out


def _provenance_of_costs(
    costs: Mapping[str, float], given: Mapping[str, Provenance], assumed_in: Any,
    measured: Mapping | None, missing: list[str], base: HardwareProfile | None, where: str,
) -> tuple[tuple[str, Provenance], ...]:
    """Each cost's provenance: as the file says; else a calibrated figure's measurement record;
    else the base profile's, for a cost taken from it; else assumed (listed in ``assumed``) or
    given (an inline figure with nothing said of it)."""
    runs = (measured or {}).get("provenance") if isinstance(measured, Mapping) else None
    out = []
    for name in COST_FIELDS:
        entry = given.get(name)
        if entry is None and name in missing and base is not None:
            inherited = base.provenance_of(name)
            entry = Provenance(inherited.source, f"from {base.name}: {inherited.detail}")
        if entry is None and isinstance(runs, Mapping) and isinstance(runs.get(name), Mapping):
            record = runs[name]
            entry = Provenance("measured", _calibrated_detail(record, measured, where))
        if entry is None:
            entry = (Provenance("assumed", f"listed as assumed in {where}")
                     if name in assumed_in else
                     Provenance("given", f"set in {where} without a provenance"))
        out.append((name, entry))
    return tuple(out)


def _calibrated_detail(record: Mapping, measured: Mapping | None, where: str) -> str:
    how = record.get("how") or "fiscosim calibrate"
    parts = [str(how)]
    if "runs" in record and "min" in record and "max" in record:
        parts.append(f"median of {record['runs']} runs ({record['min']}–{record['max']})")
    if record.get("noisy"):
        parts.append("NOISY")
    if record.get("backend"):
        parts.append(f"backend {record['backend']}")
    date = (measured or {}).get("date")
    return "; ".join(parts) + (f"; {date}" if date else "") + f" ({where})"


def _cost(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {value!r} is not a number of microseconds (write e.g. 45.3)")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where}: {value!r} must be a finite number >= 0 (write e.g. 45.3)")
    return number


def _unknown(key: Any, known: tuple[str, ...]) -> str:
    return f"unknown key {key!r} ({did_you_mean(key, known)}known: {', '.join(known)})"


def _describe_measured(measured: Mapping | None, where: str) -> str:
    if not measured:
        return where
    by = measured.get("by", "a measurement")
    date = measured.get("date")
    return f"{by}" + (f", {date}" if date else "") + f" ({where})"


def _describe_backends(measured: Mapping | None) -> str:
    backends = (measured or {}).get("backends")
    if not isinstance(backends, Mapping):
        return ""
    return "backends: " + ", ".join(f"{k}={v}" for k, v in backends.items())


__all__ = [
    "CALIBRATED_FIELDS",
    "COST_FIELDS",
    "PROVENANCE_SOURCES",
    "REFERENCE_PROFILE",
    "RETIRED_COSTS",
    "STORAGE_FIELDS",
    "CostModel",
    "HardwareProfile",
    "Provenance",
    "load_profile",
    "shipped_profiles",
]
