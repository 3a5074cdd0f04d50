"""State-commit and state-read costs for ``fiscosim calibrate``: a real RocksDB (rocksdict).

FISCO BCOS 3.x writes a block to RocksDB in two phases (FB
``bcos-storage/bcos-storage/RocksDBStorage.cpp``): ``asyncPrepare`` walks the block's changed
entries and puts each one, under the key ``table + ":" + key``, into a ``rocksdb::WriteBatch``;
``asyncCommit`` writes that batch with default ``WriteOptions`` (write-ahead log on, no sync:
``// options.sync = true;`` is commented out). State is read with point ``Get`` calls. This
module does the same with rocksdict (Python bindings to RocksDB) in a temporary folder that it
removes afterwards, and reports microseconds per key and per block for each phase and for point
reads, as medians over repeats; and what a block with no transaction costs (both phases), the
part of a block's write that does not grow with its keys.

Three of these become profile costs (:func:`profile_costs`): ``storage_write_per_key`` (prepare
plus commit, per key of a full block), ``storage_commit_per_block`` (the empty block) and
``storage_read_per_key``.

**The block** (chosen, not measured from FISCO, to look like a block of transfers): per
transaction four entries, two account-state slots, the transaction and its receipt; per block
six more rows (header, number → hash, hash → number, the block's transaction hashes, its nonces,
the current number). Sizes:

- a state slot: key ``/apps/`` + 20-byte address + ``:`` + 32-byte slot = 59 bytes, value 32
  bytes (FISCO's ``StateKeyResolver`` sizes its keys for "25 + 1 + 32 = 58" bytes);
- a transaction row: ``s_hash_2_tx:`` + 32-byte hash, value 300 bytes (a signed transfer:
  chain and group ids, nonce, block limit, recipient, ~100 bytes of ABI input, a 65-byte
  signature, its hash and sender);
- a receipt row: ``s_hash_2_receipt:`` + 32-byte hash, value 150 bytes (status, gas used,
  block number, a 32-byte output, no logs);
- the per-block rows: a 500-byte header, 32 bytes per transaction for the hash list and 40 per
  transaction for the nonces, and three small index rows.

Values are random bytes, so compression (zstd, as FISCO configures) gains nothing, as with
hashes and signatures. Prepare runs one rocksdict call per key, so it includes the binding's
per-call cost: an upper bound for FISCO's C++ loop. Commit is one call per block, so it is
RocksDB's own cost: memtable inserts and the write-ahead-log append. Background flushes and
compactions are not timed (a measured run writes far less than one 64 MiB memtable).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fiscosim.calibrate.measure import Measurement

STATE_KEY_BYTES = 59
STATE_VALUE_BYTES = 32
TX_VALUE_BYTES = 300
RECEIPT_VALUE_BYTES = 150
HEADER_BYTES = 500
KEYS_PER_TX = 4
KEYS_PER_BLOCK = 6
EMPTY_BLOCKS_PER_REPEAT = 50

OPTIONS: dict[str, Any] = {
    "create_if_missing": True,
    "compression": "zstd (bottommost zstd)",
    "write_buffer_size": "64 MiB (RocksDB's default; FISCO makes it configurable)",
    "enable_pipelined_write": True,
    "bytes_per_sync": "1 MiB",
    "block_cache": "128 MiB LRU",
    "bloom_filter_bits_per_key": 10,
    "block_size": "64 KiB",
    "write": "WAL on, sync off (FISCO's asyncCommit: default WriteOptions)",
    "read": "default ReadOptions, block cache warmed by one pass over the keys read",
}
"""The RocksDB settings used: those of FISCO's ``StorageInitializer::createRocksDB`` that
rocksdict exposes (FB ``libinitializer/StorageInitializer.h``)."""


def why_unavailable() -> str:
    """Why the storage measurement cannot run here ('' when it can)."""
    try:
        import rocksdict  # noqa: F401
    except ImportError as error:
        return (
            f"rocksdict is not importable ({error}); install the calibrate extra: "
            'pip install -e ".[calibrate]"'
        )
    return ""


def engine() -> str:
    """The storage engine that runs, in words."""
    return f"rocksdict {metadata.version('rocksdict')} (RocksDB)"


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (Linux /proc/mounts), or 'unknown'."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    target = str(path.resolve())
    best, kind = "", "unknown"
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def _open(path: Path):
    from rocksdict import (
        BlockBasedOptions,
        Cache,
        DBCompressionType,
        Options,
        Rdict,
        WriteOptions,
    )

    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_compression_type(DBCompressionType.zstd())
    options.set_bottommost_compression_type(DBCompressionType.zstd())
    options.set_write_buffer_size(64 << 20)
    options.set_enable_pipelined_write(True)
    options.set_bytes_per_sync(1 << 20)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(128 << 20))
    table.set_bloom_filter(10, False)
    table.set_block_size(64 << 10)
    options.set_block_based_table_factory(table)
    db = Rdict(str(path), options)
    return db, WriteOptions()


@dataclass
class _Blocks:
    """Makes blocks of entries, ``(key, value)`` with the key already split as FISCO's are."""

    txs: int
    accounts: list[bytes]
    rng: random.Random
    number: int = 0

    def entries(self, txs: int | None = None) -> list[tuple[bytes, bytes, bytes]]:
        """One block's changed entries as ``(table, key, value)``; ``txs`` transactions
        (default :attr:`txs`; 0: an empty block, its per-block rows only)."""
        txs = self.txs if txs is None else txs
        rand = self.rng.randbytes
        out = []
        self.number += 1
        for _ in range(txs):
            for _ in range(2):
                account = self.rng.choice(self.accounts)
                out.append((b"/apps/" + account[:20], account[20:], rand(STATE_VALUE_BYTES)))
            tx_hash = rand(32)
            out.append((b"s_hash_2_tx", tx_hash, rand(TX_VALUE_BYTES)))
            out.append((b"s_hash_2_receipt", tx_hash, rand(RECEIPT_VALUE_BYTES)))
        number = str(self.number).encode()
        out += [
            (b"s_number_2_header", number, rand(HEADER_BYTES)),
            (b"s_number_2_hash", number, rand(32)),
            (b"s_hash_2_number", rand(32), number),
            (b"s_number_2_txs", number, rand(32 * txs)),
            (b"s_block_number_2_nonces", number, rand(40 * txs)),
            (b"s_current_state", b"current_number", number),
        ]
        return out


def profile_costs(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The profile cost fields (:data:`fiscosim.node.costs.STORAGE_FIELDS`) of a
    :func:`measure_storage` record, each as calibrate's provenance record."""
    runs = record["runs"]
    shape = record["block"]
    where = f"{record['engine']} on {record['filesystem']}"
    block = (f"a block of {shape['txs']:,} transactions, {shape['keys']:,} keys "
             f"({shape['keys_per_tx']} per transaction, {shape['keys_per_block']} per block)")
    return {
        "storage_read_per_key": {
            "source": "measured", **runs["read_us_per_key"], "backend": where,
            "how": f"point Get of a {STATE_KEY_BYTES}-byte state key among "
                   f"{shape['existing_state_keys']:,}, block cache warm; µs per key"},
        "storage_write_per_key": {
            "source": "measured", **runs["write_us_per_key"], "backend": where,
            "how": f"WriteBatch put of each key, then the batch written (WAL on, no sync), "
                   f"{block}; µs per key"},
        "storage_commit_per_block": {
            "source": "measured", **runs["empty_block_us"], "backend": where,
            "how": f"the same two phases for a block without transactions "
                   f"({KEYS_PER_BLOCK} per-block rows, mean of {EMPTY_BLOCKS_PER_REPEAT}); "
                   "µs per block"},
    }


def _state_key(account: bytes) -> bytes:
    return b"/apps/" + account[:20] + b":" + account[20:]


def measure_storage(
    repeats: int,
    block_txs: int = 1000,
    accounts: int = 20_000,
    blocks_per_repeat: int = 4,
    folder: str | os.PathLike | None = None,
    seed: int = 1,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Prepare, commit and point-read costs; the ``storage`` record of a profile.

    ``block_txs`` transactions per block (4 keys each, plus 6 per block); a repeat is the mean
    over ``blocks_per_repeat`` blocks; ``accounts`` state slots exist before the first measured
    block (and are the keys read back, once per repeat after a warming pass); the database
    lives in a new temporary folder under ``folder`` (default: the system's), removed at the end.
    """
    if min(repeats, block_txs, accounts, blocks_per_repeat) < 1:
        raise ValueError("repeats, block_txs, accounts and blocks_per_repeat must be >= 1")
    rng = random.Random(seed)
    population = [rng.randbytes(52) for _ in range(accounts)]  # 20-byte address + 32-byte slot
    blocks = _Blocks(block_txs, population, rng)
    base = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    fs = filesystem_of(base)
    if warn is not None and fs in ("tmpfs", "ramfs"):
        warn(
            f"storage: {base} is on {fs}, so the write-ahead log goes to memory, not a disk "
            "(pass --storage-dir on the disk the node would use)"
        )
    from rocksdict import Rdict, WriteBatch

    tmp = Path(tempfile.mkdtemp(prefix="fiscosim-rocksdb-", dir=base))
    try:
        db, write_options = _open(tmp / "db")
        try:
            # The existing state: every account slot, written in batches, then flushed to disk.
            for start in range(0, accounts, 5000):
                batch = WriteBatch(raw_mode=True)
                for account in population[start : start + 5000]:
                    batch.put(_state_key(account), rng.randbytes(STATE_VALUE_BYTES))
                db.write(batch, write_options)
            db.flush()

            def one_block(txs: int | None = None) -> tuple[float, float, int]:
                entries = blocks.entries(txs)
                clock = time.perf_counter
                t0 = clock()
                batch = WriteBatch(raw_mode=True)
                put = batch.put
                for table, key, value in entries:
                    put(table + b":" + key, value)
                t1 = clock()
                db.write(batch, write_options)
                t2 = clock()
                return (t1 - t0) * 1e6, (t2 - t1) * 1e6, len(entries)

            one_block()  # warm-up: allocations, the WAL file, the first memtable arena
            prepare, commit, keys = [], [], 0
            for _ in range(repeats):
                runs = [one_block() for _ in range(blocks_per_repeat)]
                prepare.append(sum(run[0] for run in runs) / blocks_per_repeat)
                commit.append(sum(run[1] for run in runs) / blocks_per_repeat)
                keys = runs[0][2]
            # An empty block: what a block costs beyond its keys' share (the per-block rows,
            # the batch's write-ahead-log record), the mean of 50 per repeat.
            empty = []
            for _ in range(repeats):
                runs = [one_block(0) for _ in range(EMPTY_BLOCKS_PER_REPEAT)]
                empty.append(sum(run[0] + run[1] for run in runs) / len(runs))

            db.flush()  # reads come from SST files through the block cache, as for older state
            read_keys = [_state_key(a) for a in population]
            rng.shuffle(read_keys)
            get = db.get
            for key in read_keys:  # warm the block cache
                get(key)

            def read_pass() -> float:
                started = time.perf_counter()
                for key in read_keys:
                    get(key)
                return (time.perf_counter() - started) * 1e6 / len(read_keys)

            reads = Measurement(tuple(read_pass() for _ in range(repeats)))
        finally:
            db.close()
    finally:
        Rdict.destroy(str(tmp / "db"))
        shutil.rmtree(tmp, ignore_errors=True)

    prepare_block = Measurement(tuple(prepare))
    commit_block = Measurement(tuple(commit))
    prepare_key = prepare_block.scaled(1 / keys)
    commit_key = commit_block.scaled(1 / keys)
    write_key = Measurement(tuple(
        (p + c) / keys for p, c in zip(prepare, commit, strict=True)))
    empty_block = Measurement(tuple(empty))
    return {
        "prepare_us_per_key": round(prepare_key.median, 4),
        "commit_us_per_key": round(commit_key.median, 4),
        "write_us_per_key": round(write_key.median, 4),
        "read_us_per_key": round(reads.median, 4),
        "empty_block_us": round(empty_block.median, 2),
        "prepare_us_per_block": round(prepare_block.median, 1),
        "commit_us_per_block": round(commit_block.median, 1),
        "prepare_commit_us_per_tx": round(
            (prepare_block.median + commit_block.median) / block_txs, 4
        ),
        "block": {
            "txs": block_txs,
            "keys": keys,
            "keys_per_tx": KEYS_PER_TX,
            "keys_per_block": KEYS_PER_BLOCK,
            "state_key_bytes": STATE_KEY_BYTES,
            "state_value_bytes": STATE_VALUE_BYTES,
            "tx_value_bytes": TX_VALUE_BYTES,
            "receipt_value_bytes": RECEIPT_VALUE_BYTES,
            "existing_state_keys": accounts,
            "blocks_per_repeat": blocks_per_repeat,
        },
        "runs": {
            "prepare_us_per_key": prepare_key.summary(4),
            "commit_us_per_key": commit_key.summary(4),
            "write_us_per_key": write_key.summary(4),
            "read_us_per_key": reads.summary(4),
            "empty_block_us": empty_block.summary(2),
        },
        "engine": engine(),
        "filesystem": fs,
        "options": OPTIONS,
    }
