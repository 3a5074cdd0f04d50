"""``fiscosim calibrate``: measure this host's per-core costs into a hardware profile (YAML).

The simulator charges simulated CPU time from such a profile (docs/architecture.md rule 3), never
from the wall clock, so a run stays deterministic while its costs come from real measurements.
Every figure is microseconds on one core, measured by running real code, ``repeats`` times; the
profile keeps the median and records the minimum, the maximum, a noise flag
(:mod:`fiscosim.calibrate.measure`) and the backend that actually ran, flagged when it is a
fallback. The cost fields (``costs_us``):

- ``verify_secp256k1``: one transaction signature (recover + keccak address), batch kernel;
- ``verify_sm2``: the same for SM2 with the fastest backend on this host;
- ``keccak256_per_kb``, ``sm3_per_kb``: hashing, per KiB of input (64 KiB messages);
- ``msgpack_encode_per_kb``, ``msgpack_decode_per_kb``: a consensus-message-like payload;
- ``verify_secp256k1_batch_row``, ``verify_secp256k1_batch_msm``: the batch verifier's cost
  curve (:mod:`fiscosim.calibrate.batch_verify`), where its C extension was built (else filled
  from the base profile, ``measured.omitted`` says why);
- ``storage_read_per_key``, ``storage_write_per_key``, ``storage_commit_per_block``: state
  reads and a block's two-phase write in RocksDB (:mod:`fiscosim.calibrate.storage`, needs
  rocksdict), whose whole record is ``measured.storage``.

``measured.evm`` holds Solidity workloads executed in revm (:mod:`fiscosim.calibrate.evm`,
needs pyrevm): the figures a contract model's ``cost_us`` takes. pyrevm and rocksdict come
with the ``calibrate`` extra; without it those parts are left out and the profile says why
(``measured.omitted``), and the storage costs are filled from the base profile.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import yaml

from fiscosim.calibrate import batch_verify as batch_costs
from fiscosim.calibrate import evm as evm_costs
from fiscosim.calibrate import storage as storage_costs
from fiscosim.calibrate.measure import NOISE_THRESHOLD, Measurement, per_unit_us
from fiscosim.crypto import cryptomb
from fiscosim.crypto.sm3 import SM3_BACKEND
from fiscosim.crypto.suite import get_suite
from fiscosim.crypto.throughput import cpu_model, make_corpus
from fiscosim.version import __version__

__all__ = [
    "NOISE_THRESHOLD",
    "Measurement",
    "calibrate_host",
    "noise_warnings",
    "write_profile",
]

KIB = 1024
DEFAULT_REPEATS = 5

Report = Callable[[str], None]


def _repeat(run: Callable[[], object], units: int, repeats: int, min_seconds: float) -> Measurement:
    """``repeats`` samples of µs per unit, each over at least min_seconds / repeats."""
    run()  # warm-up: caches, lazy imports, key objects
    block = min_seconds / repeats
    return Measurement(tuple(per_unit_us(run, units, block) for _ in range(repeats)))


def _verify(
    suite_name: str, count: int, repeats: int, min_seconds: float
) -> tuple[Measurement, str, str]:
    """µs per signature; the backend in words; why it is a fallback ('' when it is not)."""
    suite = get_suite(suite_name)
    hashes, signatures, _ = make_corpus(suite, count)
    ok = np.zeros(count, dtype=bool)
    addresses = np.zeros((count, 20), dtype=np.uint8)
    measured = _repeat(
        lambda: suite.verify_shard(hashes, signatures, ok, addresses), count, repeats, min_seconds
    )
    fallback = ""
    if getattr(suite, "backend_name", None) == "fallback":
        fallback = cryptomb.why_unavailable() or "crypto_mb did not pass its self-check"
    return measured, suite.backend, fallback


def _batch_costs(provenance: dict[str, dict[str, Any]], repeats: int, min_seconds: float,
                 say: Report) -> dict[str, Any] | str:
    """The batch verifier's two costs into ``provenance``; its fit's record, or why they were
    not measured (no C extension: they are filled from the base profile)."""
    from fiscosim.crypto import secp_batch

    if not secp_batch.available():
        return f"the batch verifier is not built here: {secp_batch.backend()}"
    say("secp256k1 batch verification")
    fitted = batch_costs.measure_batch_costs(repeats, min_seconds)
    how = ("verify_batch over 64-4,096 signatures (distinct and 256 repeated senders), one "
           "core; T(n, d) = n row + m/log2(m) msm fitted per repeat, m = n + d + 1; worst fit "
           f"error {fitted['worst_fit_error']:.0%}")
    provenance["verify_secp256k1_batch_row"] = fitted["row"].provenance(
        how + "; µs per row", secp_batch.backend())
    provenance["verify_secp256k1_batch_msm"] = fitted["msm"].provenance(
        how + "; µs per m/log2(m)", secp_batch.backend())
    return {"worst_fit_error": fitted["worst_fit_error"], "us_per_batch": fitted["batches"]}


def _hash(suite_name: str, repeats: int, min_seconds: float) -> Measurement:
    hash_fn = get_suite(suite_name).hash
    message = np.random.default_rng(1).bytes(64 * KIB)
    return _repeat(lambda: hash_fn(message), 64, repeats, min_seconds)


def _msgpack(repeats: int, min_seconds: float) -> tuple[Measurement, Measurement]:
    rng = np.random.default_rng(2)
    # Shaped like a proposal: a header map and a list of 32-byte transaction hashes.
    payload = {
        "type": 1,
        "view": 0,
        "index": 12,
        "hashes": [rng.bytes(32) for _ in range(2000)],
        "header": {"parent": rng.bytes(32), "timestamp": 1_700_000_000_000, "sealer": 0},
    }
    encoded = msgpack.packb(payload)
    kib = len(encoded) / KIB
    encode = _repeat(lambda: msgpack.packb(payload), 1, repeats, min_seconds)
    decode = _repeat(lambda: msgpack.unpackb(encoded), 1, repeats, min_seconds)
    return encode.scaled(1 / kib), decode.scaled(1 / kib)


def _msgpack_backend() -> tuple[str, str]:
    version = ".".join(map(str, msgpack.version))
    if getattr(msgpack.Packer, "__module__", "").endswith("fallback"):
        return f"msgpack {version} pure Python", "msgpack's C extension is not loaded"
    return f"msgpack {version} (C extension)", ""


def noise_warnings(provenance: dict[str, dict[str, Any]], where: str = "") -> list[str]:
    """One line per noisy figure of a provenance-like mapping (field → {median, min, max,
    noisy, runs}).

    >>> line, = noise_warnings({"x": {"median": 10.0, "min": 9.0, "max": 12.0, "noisy": True,
    ...                               "runs": 5}})
    >>> line[:60]
    'x: noisy, spread 30% of the median over 5 runs (min 9, media'
    >>> noise_warnings({"x": {"median": 10.0, "min": 9.9, "max": 10.1, "noisy": False}})
    []
    """
    lines = []
    for field, record in provenance.items():
        if record.get("noisy"):
            median, low, high = record["median"], record["min"], record["max"]
            share = (high - low) / median if median else float("inf")
            lines.append(
                f"{where}{field}: noisy, spread {share:.0%} of the median over "
                f"{record['runs']} runs (min {low:g}, median {median:g}, max {high:g}); "
                "rerun on a quieter machine"
            )
    return lines


def calibrate_host(
    name: str | None = None,
    min_seconds: float = 0.5,
    repeats: int = DEFAULT_REPEATS,
    cores: int | None = None,
    *,
    evm: bool = True,
    storage: bool = True,
    evm_batch: int = 200,
    storage_block_txs: int = 1000,
    storage_accounts: int = 20_000,
    storage_dir: str | os.PathLike | None = None,
    progress: Report | None = None,
) -> dict[str, Any]:
    """Measures this host and returns the profile as a plain dict (see the module docstring).

    ``min_seconds`` is the least measuring time of each crypto and msgpack figure, split over
    its ``repeats``; ``cores`` is the target machine's core count (default: this host's).
    ``evm`` and ``storage`` switch those measurements off; when their packages are missing
    they are left out and ``measured.omitted`` says why. ``progress`` hears what runs next.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    if cores is not None and cores < 1:
        raise ValueError("cores must be >= 1")
    say = progress or (lambda _message: None)
    warnings: list[str] = []
    provenance: dict[str, dict[str, Any]] = {}

    say("secp256k1 verification")
    secp, secp_backend, _ = _verify("secp256k1", 2048, repeats, min_seconds)
    provenance["verify_secp256k1"] = secp.provenance(
        "verify_shard over 2,048 signed transactions (recover + keccak256 address), one core; "
        "µs per signature",
        secp_backend,
    )
    say("SM2 verification")
    sm2, sm2_backend, sm2_fallback = _verify("sm2", 512, repeats, min_seconds)
    provenance["verify_sm2"] = sm2.provenance(
        "verify_shard over 512 signed transactions (verify r‖s against the embedded key + SM3 "
        "address), one core; µs per signature",
        sm2_backend,
        fallback=bool(sm2_fallback),
    )
    if sm2_fallback:
        provenance["verify_sm2"]["fallback_reason"] = sm2_fallback
        warnings.append(
            f"verify_sm2: measured with the fallback backend {sm2_backend}, not "
            f"crypto_mb: {sm2_fallback}"
        )
    say("hashing")
    keccak = _hash("secp256k1", repeats, min_seconds)
    provenance["keccak256_per_kb"] = keccak.provenance(
        "keccak256 of a 64 KiB message; µs per KiB", "safe-pysha3 (native Keccak)"
    )
    sm3 = _hash("sm2", repeats, min_seconds)
    sm3_is_fallback = SM3_BACKEND == "pure Python"
    provenance["sm3_per_kb"] = sm3.provenance(
        "SM3 of a 64 KiB message; µs per KiB", f"SM3 via {SM3_BACKEND}", fallback=sm3_is_fallback
    )
    if sm3_is_fallback:
        warnings.append(
            "sm3_per_kb: measured with the pure-Python SM3 (this OpenSSL has no "
            "SM3), far slower than a native one"
        )
    say("msgpack")
    encode, decode = _msgpack(repeats, min_seconds)
    pack_backend, pack_fallback = _msgpack_backend()
    provenance["msgpack_encode_per_kb"] = encode.provenance(
        "msgpack.packb of a proposal-like payload (a header and 2,000 32-byte hashes); µs per KiB",
        pack_backend,
        fallback=bool(pack_fallback),
    )
    provenance["msgpack_decode_per_kb"] = decode.provenance(
        "msgpack.unpackb of the same payload; µs per KiB",
        pack_backend,
        fallback=bool(pack_fallback),
    )
    if pack_fallback:
        warnings.append(f"msgpack_*: {pack_fallback}; measured the pure-Python fallback")
    batch_record = _batch_costs(provenance, repeats, min_seconds, say)
    warnings += noise_warnings(provenance)

    host_cores = os.cpu_count() or 1
    model = cpu_model()
    measured: dict[str, Any] = {
        "by": f"fiscosim {__version__} calibrate --repeats {repeats}",
        "python": platform.python_version(),
        "date": dt.date.today().isoformat(),
        "backends": {
            "secp256k1": secp_backend,
            "sm2": sm2_backend + (" [fallback]" if sm2_fallback else ""),
        },
        "repeats": repeats,
        "noise_threshold": NOISE_THRESHOLD,
        "host_cores": host_cores,
        "provenance": provenance,
    }
    omitted: dict[str, str] = {}
    if isinstance(batch_record, str):
        omitted["batch_verify"] = batch_record
    else:
        measured["batch_verify"] = batch_record

    def optional(what: str, module: Any, engine: str, label: str,
                 run: Callable[[], Any]) -> Any:
        """Runs an optional measurement; None, with ``omitted[what]`` saying why, when its
        package is missing or it fails (reported, never silent: the profile says why)."""
        reason = module.why_unavailable()
        if reason:
            omitted[what] = reason
            return None
        say(label)
        try:
            return run()
        except Exception as error:  # rocksdict raises plain Exceptions for RocksDB errors
            omitted[what] = (f"the {engine} measurement failed: "
                             f"{type(error).__name__}: {error}")
            return None

    evm_result = optional("evm", evm_costs, "EVM", "EVM workloads (pyrevm)",
                          lambda: evm_costs.measure_evm(repeats, evm_batch,
                                                        warn=warnings.append)) if evm else None
    if evm_result is not None:
        results, info = evm_result
        measured["evm"] = results
        measured["evm_info"] = info
        for contract, methods in results.items():
            warnings += noise_warnings(
                {method: {**record, "median": record["us"]} for method, record in methods.items()},
                where=f"evm {contract}.",
            )
    stored = optional("storage", storage_costs, "RocksDB", "RocksDB commits and reads (rocksdict)",
                      lambda: storage_costs.measure_storage(
                          repeats, storage_block_txs, storage_accounts, folder=storage_dir,
                          warn=warnings.append)) if storage else None
    if stored is not None:
        measured["storage"] = stored
        warnings += noise_warnings(stored["runs"], where="storage ")
        provenance.update(storage_costs.profile_costs(stored))
    for what, reason in omitted.items():
        warnings.append(f"{what}: not measured: {reason}")
    if omitted:
        measured["omitted"] = omitted
    if cores is not None and cores != host_cores:
        measured["cores_note"] = (
            f"cores {cores} is the target machine's (--cores); the per-core costs were measured "
            f"on this host, which has {host_cores}"
        )
    measured["warnings"] = warnings
    return {
        "name": name or model,
        "cpu_model": model,
        "cores": cores if cores is not None else host_cores,
        "measured": measured,
        "costs_us": {field: round(record["median"], 3) for field, record in provenance.items()},
    }


def write_profile(profile: dict, path: str | os.PathLike) -> Path:
    """Writes ``profile`` as YAML atomically: a temporary file in the same folder, renamed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# fiscosim hardware profile: per-core costs in microseconds, measured on this host\n"
        "# by `fiscosim calibrate`. The simulator charges simulated CPU time from these.\n"
        "# measured.provenance says how each cost was measured (runs, median, min, max, noise,\n"
        "# backend); measured.evm and measured.storage hold the contract and RocksDB figures.\n"
    )
    text = header + yaml.safe_dump(profile, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
