"""The host's shared signature verdicts: each distinct transaction verified once per run.

In real-crypto mode (docs/architecture.md rule 4) every simulated node's txpool checks the
signatures of the transactions it admits, and the same transaction reaches every consensus node of
its group (FISCO pushes it to all of them, docs/fisco-reference.md §2.4). Doing the real check once
per node would multiply the host's work by the node count and change nothing: a signature's verdict
is a function of the transaction's bytes. So the host really verifies each distinct transaction
once, with the real batch core, and every simulated node reads that verdict.

This is **not a cache inside the verification core** (:mod:`fiscosim.crypto.batch` keeps none):
each transaction of a run, valid or tampered, goes through the real core exactly once, the first
time any node asks for it. And it does **not** make verification free in simulated time: each
simulated node is still charged its own verification time by the cost model; only the host's
wall-clock work is shared.

The table is keyed by the run-wide transaction id (dense-ish int64 from 0), so it is a growable
int8 array indexed by id (−1 unknown, 0 invalid, 1 valid): a batch's lookups are one fancy
index, no Python object per transaction (docs/architecture.md rule 2). An id must therefore name one
(hash, signature, sender) triple for the whole run: a forged or tampered variant of a
transaction is a different transaction and needs an id of its own.

>>> from fiscosim.workload.corpus import build_corpus, tamper
>>> corpus = build_corpus("secp256k1", 4, accounts=2, seed=3, workers=1)
>>> verifier = SharedVerifier("secp256k1", corpus.accounts, workers=1)
>>> batch = corpus.batch(slice(0, 4), ids=np.arange(4), submit_times=np.zeros(4, np.int64))
>>> verifier.verdicts(batch).tolist(), verifier.verdicts(batch[1:3]).tolist()
([True, True, True, True], [True, True])
>>> verifier.verified, verifier.reused
(4, 2)
>>> forged = corpus.batch(slice(0, 2), ids=np.array([4, 5]), submit_times=np.zeros(2, np.int64))
>>> forged, _ = tamper(forged, 1.0, np.random.default_rng(0))   # new ids: new transactions
>>> verifier.verdicts(forged).tolist(), verifier.verified
([False, False], 6)
"""

from __future__ import annotations

import numpy as np

from fiscosim.chain.txbatch import TxBatch, address_table
from fiscosim.crypto.suite import CryptoSuite, get_suite

UNKNOWN = -1
"""Table value of an id not verified yet (0 and 1 are the verdicts)."""
_INITIAL_CAPACITY = 1024


class SharedVerifier:
    """The run's verdict table over the real batch core; see the module docstring.

    ``suite`` is a suite name or object, ``accounts`` the workload's a×20 account table that
    batches' ``senders`` index, ``workers`` the core's worker count (None: every core).
    ``batch`` (``chain.verify_mode: batch``, secp256k1): the host's verdicts come from the
    batch verifier behind one sender cache for the run
    (:func:`fiscosim.crypto.sender_cache.verify_with_cache`), the same verdicts by a faster
    path, so that a real-crypto run in batch mode exercises the verifier it models.
    """

    def __init__(
        self, suite: str | CryptoSuite, accounts: np.ndarray, workers: int | None = None,
        *, batch: bool = False,
    ) -> None:
        self.suite = get_suite(suite) if isinstance(suite, str) else suite
        if batch and self.suite.name != "secp256k1":
            raise ValueError(f"batch verification is for secp256k1, not {self.suite.name}")
        self.accounts = address_table(accounts)
        self.workers = workers
        self.sender_cache = None
        if batch:
            from fiscosim.crypto.sender_cache import SenderCache

            self.sender_cache = SenderCache()
        self._table = np.full(_INITIAL_CAPACITY, UNKNOWN, dtype=np.int8)
        self.verified = 0
        """Signatures really verified by the core (each distinct id once)."""
        self.reused = 0
        """Rows answered from the table: verdicts shared instead of recomputed."""
        self.core_calls = 0
        """Calls of the batch core (at most one per :meth:`verdicts` call)."""

    def verdicts(self, batch: TxBatch) -> np.ndarray:
        """A bool verdict per row of ``batch``: its signature is valid and proves its sender.

        Rows whose id this run has not verified yet go to the real core together, in one call
        (an id repeated within the batch is verified once); their verdicts are recorded by id.
        All other rows are answered from the table.
        """
        if batch.hashes is None or batch.signatures is None:
            raise ValueError("a modelled batch has no signatures to verify")
        ids = batch.ids
        if len(ids) == 0:
            return np.zeros(0, dtype=bool)
        if ids.min() < 0:
            raise ValueError("transaction ids must be non-negative to index the verdict table")
        self._reserve(int(ids.max()) + 1)
        unknown = np.flatnonzero(self._table[ids] == UNKNOWN)
        fresh = 0
        if len(unknown):
            fresh_ids, first = np.unique(ids[unknown], return_index=True)
            rows = unknown[first]
            # TxBatch.verify: one verify_batch call with accounts[senders] as expected senders;
            # a sender outside the table is invalid.
            ok = self._check(batch[rows])
            self._table[fresh_ids] = ok
            fresh = len(rows)
            self.verified += fresh
            self.core_calls += 1
        self.reused += len(ids) - fresh
        return self._table[ids] == 1

    def _check(self, rows: TxBatch) -> np.ndarray:
        """Verdicts of ``rows`` from the real core: per signature (:meth:`TxBatch.verify`), or
        the batch verifier behind the run's sender cache."""
        if self.sender_cache is None:
            return rows.verify(self.suite, self.workers, accounts=self.accounts)
        from fiscosim.crypto.sender_cache import verify_with_cache

        senders = rows.senders
        known = (senders >= 0) & (senders < len(self.accounts))
        claimed = np.zeros((len(rows), 20), dtype=np.uint8)
        claimed[known] = self.accounts[senders[known]]
        ok = verify_with_cache(self.sender_cache, rows.hashes, rows.signatures, claimed)
        return ok & known

    def known(self, ids: np.ndarray) -> np.ndarray:
        """The table's entries for ``ids``: −1 not verified yet, 0 invalid, 1 valid (int8)."""
        ids = np.asarray(ids, dtype=np.int64)
        result = np.full(len(ids), UNKNOWN, dtype=np.int8)
        inside = (ids >= 0) & (ids < len(self._table))
        result[inside] = self._table[ids[inside]]
        return result

    def _reserve(self, size: int) -> None:
        """Grows the table (doubling, so growth costs amortized O(1) per id) to ``size``."""
        capacity = len(self._table)
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        table = np.full(capacity, UNKNOWN, dtype=np.int8)
        table[: len(self._table)] = self._table
        self._table = table
