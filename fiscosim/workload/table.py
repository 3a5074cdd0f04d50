"""The run-wide table of every transaction clients submitted, one numpy column per field.

Transactions have dense run-wide ids 0, 1, 2, ...; a column is indexed by id. Nodes move ids
around (in pools, proposals, blocks) and look their fields up here with array indexing, so no
hot path holds one Python object per transaction (docs/architecture.md rule 2). The table also
collects the outcome of each transaction (receipt time, rejection told to the client, a pool's
drop), which is what metrics read.
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
