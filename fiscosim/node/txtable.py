"""The run-wide table of every transaction clients submitted, one numpy column per field.

Transactions have dense run-wide ids 0, 1, 2, ...; a column is indexed by id. Nodes move ids
around (in pools, proposals, blocks) and look their fields up here with array indexing, so no
hot path holds one Python object per transaction (docs/architecture.md rule 2). The table also
collects the outcome of each transaction, which is what metrics read.

Anyone may read a column; each is written through one method, by one party:

=======================  ====================================  ================================
method                   columns                               called by
=======================  ====================================  ================================
:meth:`allocate`         (new rows)                            the clients' tick
:meth:`submit`           submit_time, size, sender, nonce,     a client, for its own rows
                         nonce_owner, block_limit, rpc_node,
                         corpus_row, tampered, method,
                         account_a, account_b
:meth:`route`            rpc_node                              a full node a light node
                                                               forwarded the rows to
:meth:`reject`           reject_reason                         a node's RPC (the client is told)
:meth:`drop`             drop_reason                           a txpool dropping rows unsealed
:meth:`record_commit`    commit_block, receipt_time            the world, when a node commits
=======================  ====================================  ================================

It lives in the node layer because nodes are what read it on every hot path; the workload,
the world and the metrics above use it too.
"""

from __future__ import annotations

import numpy as np

NO_TIME = -1
"""A receipt or rejection time not (yet) set."""

_COLUMNS: dict[str, tuple[type, int]] = {
    # name: (dtype, fill value for rows not written yet)
    "submit_time": (np.int64, NO_TIME),
    "size": (np.int32, 0),
    "sender": (np.int32, -1),
    "nonce": (np.int64, 0),
    "nonce_owner": (np.int64, -1),
    "block_limit": (np.int64, 0),
    "rpc_node": (np.int32, -1),
    "corpus_row": (np.int64, -1),
    "tampered": (np.bool_, False),
    # The contract method called (an id of the run's fiscosim.contracts.MethodTable) and the
    # account keys the call takes (ranks in 0..workload.accounts-1); -1: none.
    "method": (np.int16, -1),
    "account_a": (np.int32, -1),
    "account_b": (np.int32, -1),
    "receipt_time": (np.int64, NO_TIME),
    "commit_block": (np.int64, -1),
    "reject_reason": (np.int16, -1),
    # The reason a pool last dropped the transaction unsealed (TxPool._drop: expired, or past
    # its block limit); what the summary counts it as when no live pool holds it any more.
    "drop_reason": (np.int16, -1),
}


class TxTable:
    """Growable columns indexed by transaction id; see the module docstring.

    ``nonce_owner`` is the id of the first transaction that used the same nonce (itself for a
    fresh nonce): it lets a txpool check nonce uniqueness (docs/fisco-reference.md §2.3) with array
    lookups.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self.count = 0
        self._capacity = max(16, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._capacity, fill, dtype=dtype))

    def allocate(self, n: int) -> np.ndarray:
        """Reserves ``n`` new ids and returns them (int64); their columns are the fill values."""
        start = self.count
        if start + n > self._capacity:
            self._grow(start + n)
        self.count = start + n
        return np.arange(start, start + n, dtype=np.int64)

    def submit(self, ids: np.ndarray, now: int, size: np.ndarray | int, sender: np.ndarray,
               nonce: np.ndarray, block_limit: int, rpc_node: int,
               corpus_row: np.ndarray | None = None, tampered: np.ndarray | None = None,
               method: np.ndarray | None = None, account_a: np.ndarray | None = None,
               account_b: np.ndarray | None = None) -> None:
        """A client's transactions ``ids`` (allocated, consecutive): what it signed and sent,
        and to which node. Each nonce is fresh (``nonce_owner`` is the row itself). ``method``,
        ``account_a`` and ``account_b``: the contract call of each row (left -1 when None)."""
        rows = ids
        if len(ids) and int(ids[-1]) - int(ids[0]) + 1 == len(ids):
            # Consecutive rows, as allocate() makes them: a slice writes far faster than an
            # index array, a dozen columns per client batch.
            ids = slice(int(ids[0]), int(ids[-1]) + 1)  # type: ignore[assignment]
        self.nonce_owner[ids] = rows
        self.submit_time[ids] = now
        self.size[ids] = size
        self.sender[ids] = sender
        if corpus_row is not None:
            self.corpus_row[ids] = corpus_row
        self.nonce[ids] = nonce
        self.block_limit[ids] = block_limit
        self.rpc_node[ids] = rpc_node
        if tampered is not None:
            self.tampered[ids] = tampered
        if method is not None:
            self.method[ids] = method
        if account_a is not None:
            self.account_a[ids] = account_a
        if account_b is not None:
            self.account_b[ids] = account_b

    def route(self, ids: np.ndarray, rpc_node: int) -> None:
        """Rows a light node forwarded: ``rpc_node`` (a full node) now answers for them."""
        self.rpc_node[ids] = rpc_node

    def reject(self, ids: np.ndarray, code: int | np.ndarray) -> None:
        """The client of rows ``ids`` was told they failed (a FISCO status code each)."""
        self.reject_reason[ids] = code

    def drop(self, ids: np.ndarray, code: int) -> None:
        """A pool dropped rows ``ids`` unsealed for reason ``code`` (the client is not told)."""
        self.drop_reason[ids] = code

    def record_commit(self, ids: np.ndarray, number: int, net_id: int, now: int) -> None:
        """Node ``net_id`` committed block ``number`` holding rows ``ids`` at ``now``: the block
        of rows no node had committed before, and the receipt of the rows this node is the RPC
        node of (it returns a receipt once its own ledger committed, docs/fisco-reference.md
        §2.9)."""
        first = self.commit_block[ids] < 0
        self.commit_block[ids[first]] = number
        mine = ids[(self.rpc_node[ids] == net_id) & (self.receipt_time[ids] < 0)]
        self.receipt_time[mine] = now

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        for name, (dtype, fill) in _COLUMNS.items():
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=dtype)
            new[: self._capacity] = old
            setattr(self, name, new)
        self._capacity = capacity

    def column(self, name: str) -> np.ndarray:
        """The first ``count`` rows of a column (a view)."""
        return getattr(self, name)[: self.count]
