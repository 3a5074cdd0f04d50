"""Real-crypto mode (docs/architecture.md rule 4): really signed transactions, really verified.

Clients send rows of a signed corpus (:mod:`fiscosim.workload.corpus`, built once per suite,
size and seed, cached on disk); transaction id ``i`` is corpus row ``i``. A transaction the
workload marks as tampered has one bit of its signature's s flipped before it is verified, so
it really fails. Txpools ask :class:`~fiscosim.sim.verdicts.SharedVerifier`: the host verifies
each distinct transaction once with the real batch core and shares the verdict, while every
simulated node is still charged its own verification time by its cost model.

The replay-protection fields (nonce, block limit) the txpools check are the simulation's own
columns (:class:`~fiscosim.node.txtable.TxTable`), not the ones inside the signed bytes:
a corpus is signed once for many runs, and a signed block limit would expire after
``block_limit`` blocks of a long run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fiscosim.sim.verdicts import SharedVerifier
from fiscosim.workload.corpus import Corpus, load_or_build, tamper_rows

CORPUS_SEED = 2022
"""The corpus is a fixture of the host, not of a run: one seed, shared by every scenario."""


@dataclass
class RealCrypto:
    """The corpus of a run and the verifier its txpools share."""

    corpus: Corpus
    verifier: SharedVerifier
    tamper_seed: int

    @property
    def sizes(self) -> np.ndarray:
        return self.corpus.sizes

    @property
    def senders(self) -> np.ndarray:
        return self.corpus.senders

    def verdicts_for(self, table: Any, own_verifier: bool = False
                     ) -> Callable[[np.ndarray], np.ndarray]:
        """The txpools' verdict function for transaction ids of ``table``.

        ``own_verifier``: a verdict table of its own (another group's transactions reuse the
        same ids and corpus rows, but not the same tampered ones).
        """
        corpus, verifier = self.corpus, self.verifier
        if own_verifier:
            verifier = SharedVerifier(verifier.suite, corpus.accounts, workers=verifier.workers)

        def verdicts(ids: np.ndarray) -> np.ndarray:
            batch = corpus.batch(table.corpus_row[ids], ids, table.submit_time[ids])
            mask = table.tampered[ids]
            if mask.any():
                # Seeded by the run's seed and the batch, so runs repeat exactly; the first
                # verdict for a transaction is the one every node shares.
                rng = np.random.default_rng([self.tamper_seed, int(ids[0]), len(ids)])
                batch = tamper_rows(batch, mask, rng)
            return verifier.verdicts(batch)

        return verdicts


def corpus_size_for(scenario: Any) -> int:
    """Rows a run may need: the expected count plus six standard deviations and a margin."""
    # Every group's transaction ids start at 0 and are corpus rows: the busiest group counts.
    rate = max(group.workload.rate_tps for group in scenario.group_specs())
    expected = rate * scenario.duration_s
    return math.ceil(expected + 6 * math.sqrt(expected) + 1000)


def real_crypto(
    scenario: Any, progress: Callable[[int, int], None] | None = None
) -> RealCrypto | None:
    """The run's corpus and shared verifier in real-crypto mode; None when modelled."""
    if scenario.chain.crypto_mode != "real":
        return None
    corpus = load_or_build(
        scenario.chain.crypto_suite,
        corpus_size_for(scenario),
        accounts=scenario.workload.accounts,
        seed=CORPUS_SEED,
        chain_id=scenario.group.chain_id,
        group_id=scenario.group.id,
        progress=progress,
    )
    verifier = SharedVerifier(scenario.chain.crypto_suite, corpus.accounts,
                              batch=scenario.chain.verify_mode == "batch")
    return RealCrypto(corpus, verifier, tamper_seed=scenario.seed)


def forged_verdicts(real: Any, table: Any, seed: int) -> Any:
    """The verdict function for transactions a ``forge_txs`` node sends: all invalid when
    modelled; in real-crypto mode, the verdicts of the real core on forged copies.

    Transaction ``i``'s forged copy is always the same (bit ``forged_bit(i, seed)`` of its
    signature's s flipped), so a verifier of its own, keyed by ``i`` like the run's shared one
    (:class:`~fiscosim.sim.verdicts.SharedVerifier`), verifies each forged copy once for every node.
    """
    if real is None:
        return lambda ids: np.zeros(len(ids), dtype=bool)
    verifier = SharedVerifier(real.verifier.suite, real.corpus.accounts,
                              workers=real.verifier.workers)

    def verdicts(ids: np.ndarray) -> np.ndarray:
        batch = real.corpus.batch(table.corpus_row[ids], ids, table.submit_time[ids])
        forged = tamper_rows(batch, np.ones(len(ids), dtype=bool), None,
                             bits=forged_bit(ids, seed))
        return verifier.verdicts(forged)

    return verdicts


def forged_bit(ids: np.ndarray, seed: int) -> np.ndarray:
    """Which bit (0..255) of s a forger flips in transaction ``ids``' signatures: a fixed
    function of the id and the run's seed (a multiplicative hash's top byte)."""
    mixed = (np.asarray(ids, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             + np.uint64(seed % 2**64))
    return (mixed >> np.uint64(56)).astype(np.int64)
