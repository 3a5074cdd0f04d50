"""The batch secp256k1 verifier's cost curve, for ``chain.verify_mode: batch`` (issue 21, part 5).

A batch of n signatures by d distinct senders costs the batch verifier
(:mod:`fiscosim.crypto.secp_batch`) per-row work (decompressing each R, reducing its scalars)
and one multi-scalar multiplication over m = n + d + 1 points (each R, each distinct key, G),
which Pippenger's bucket method does in about m / log2 m point additions per window. So the
cost model (:meth:`fiscosim.node.costs.CostModel.batch_verify`) charges

    T(n, d) = n · verify_secp256k1_batch_row + m / log2(m) · verify_secp256k1_batch_msm

and :func:`measure_batch_costs` fits the two coefficients to the real verifier: it times
:func:`~fiscosim.crypto.secp_batch.verify_batch` on batches of 64 to 4,096 signatures, by
distinct senders and by 256 repeated ones (a quarter of the rows below 1,024), and solves the
least squares of the relative error (so the small batches weigh as much as the large), once per
repeat. The fit's worst relative error is recorded. The two coefficients trade off against each
other under noise (their sum over a batch moves far less than either), so a noisy flag on them
says less than it does on other costs: read ``measured.batch_verify.us_per_batch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fiscosim.calibrate.measure import Measurement, per_unit_us
from fiscosim.node.costs import msm_points_factor

SIZES = (64, 256, 1024, 4096)
"""Batch sizes timed: from about where batching starts to pay to the size the issue's goal
names."""
REPEATED_SENDERS = 256
"""Senders of the repeated-senders corpus (the keys the sum merges); a quarter of the rows in
batches of fewer than 1,024."""


def _corpus(count: int, senders: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from fiscosim.crypto.suite import get_suite

    suite = get_suite("secp256k1")
    rng = np.random.default_rng(seed)
    keys = [suite.generate_keypair(rng) for _ in range(min(senders, count))]
    owners = np.arange(count) % len(keys)
    hashes = np.frombuffer(rng.bytes(32 * count), np.uint8).reshape(count, 32)
    signatures = b"".join(suite.sign(hashes[i].tobytes(), keys[o][0])
                          for i, o in enumerate(owners))
    pubkeys = b"".join(keys[o][1] for o in owners)
    return (hashes, np.frombuffer(signatures, np.uint8).reshape(count, 65),
            np.frombuffer(pubkeys, np.uint8).reshape(count, 64))


def fit(points: list[tuple[int, int, float]]) -> tuple[float, float, float]:
    """(row µs, msm µs, worst relative error) fitted to (n, distinct senders, µs per batch)."""
    n = np.array([p[0] for p in points], dtype=float)
    distinct = np.array([p[1] for p in points], dtype=float)
    cost = np.array([p[2] for p in points], dtype=float)
    design = np.c_[n, [msm_points_factor(int(k)) for k in n + distinct + 1]]
    coef, *_ = np.linalg.lstsq(design / cost[:, None], np.ones_like(cost), rcond=None)
    row, msm = (max(float(c), 0.0) for c in coef)
    worst = float(np.max(np.abs((design @ np.array([row, msm])) / cost - 1)))
    return row, msm, worst


def measure_batch_costs(repeats: int, min_seconds: float,
                        sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    """Times the batch verifier and fits the two costs; needs the C extension.

    Returns ``row`` and ``msm`` (each a :class:`Measurement` of the fitted coefficient, one fit
    per repeat), ``worst_fit_error`` and ``batches`` (µs per batch: the median over repeats).
    """
    from fiscosim.crypto import secp_batch

    if not secp_batch.available():
        raise RuntimeError(secp_batch.backend())
    corpora = []
    for size in sizes:
        for senders in (size, min(REPEATED_SENDERS, size // 4)):
            hashes, signatures, pubkeys = _corpus(size, senders, seed=size + senders)
            distinct = min(senders, size)
            corpora.append((size, distinct, hashes, signatures, pubkeys))
    block = min_seconds / repeats / len(corpora)
    samples: list[list[tuple[int, int, float]]] = [[] for _ in range(repeats)]
    for size, distinct, hashes, signatures, pubkeys in corpora:
        def run(h=hashes, s=signatures, p=pubkeys) -> None:
            if not secp_batch.verify_batch(h, s, p).all():
                raise RuntimeError("the batch verifier rejected a valid calibration batch")
        run()
        for repeat in range(repeats):
            samples[repeat].append((size, distinct, per_unit_us(run, 1, block)))
    fits = [fit(points) for points in samples]
    batches = {f"{size}x{distinct}": round(float(np.median(
        [points[i][2] for points in samples])), 1)
        for i, (size, distinct, *_rest) in enumerate(corpora)}
    return {
        "row": Measurement(tuple(f[0] for f in fits)),
        "msm": Measurement(tuple(f[1] for f in fits)),
        "worst_fit_error": round(max(f[2] for f in fits), 3),
        "batches": batches,
    }
