"""The block log: one row per block of the run, filled as blocks are sealed and committed.

Which nodes' commits count (docs/results.md):

- a block is *committed* (it has a row in ``blocks.csv`` and counts in the summary's
  ``blocks``) once any sealer commits it, byzantine ones included: the same commits that give
  its transactions their ``commit_block`` and their receipts (``txs_committed``);
- ``first_commit_us`` and ``hash`` are the first *honest* sealer's commit, the honest chain;
  only for a block no honest sealer committed (every sealer byzantine, say) are they the
  first sealer's;
- ``all_commit_us`` is when every honest sealer that was up had committed it: the time the
  last of them committed, the moment no honest sealer that was up still lacked it. A crashed
  sealer does not hold it back, nor does one that crashes before committing it (the block is
  then complete at the crash). −1 while an honest sealer that is up lacks it.

Who sealed a block: ``leader`` is the sealer's consensus index (its place in the sorted node
ids, FISCO's nodeID order: it changes with the seed), ``leader_node`` its name in the scenario
("node3", the same every seed). docs/pbft.md, "Which number is which".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COLUMNS = (
    "number",
    "view",
    "leader",
    "leader_node",
    "txs",
    "sealed_us",
    "first_commit_us",
    "all_commit_us",
    "hash",
)

_TEXT = frozenset({"leader_node", "hash"})
"""The columns that hold text; the others are integers."""


@dataclass
class BlockRow:
    number: int
    view: int
    leader: int
    txs: int
    sealed_us: int
    leader_node: str = ""
    """The sealer's scenario name (``leader`` is its consensus index)."""
    first_commit_us: int = -1
    """The first honest sealer's commit (−1 while none has committed it)."""
    all_commit_us: int = -1
    hash: str = ""
    commits: int = 0
    """Honest sealers' commits."""
    sealer_commits: int = 0
    """Every sealer's commits, byzantine ones included."""
    any_commit_us: int = -1
    """The first commit by any sealer."""
    any_hash: str = ""
    committers: dict[int, int] = field(default_factory=dict)
    """Honest sealers that committed it (network id → time), for ``all_commit_us``."""

    @property
    def commit_us(self) -> int:
        """When it was committed: the honest chain's time, else any sealer's (module doc)."""
        return self.first_commit_us if self.first_commit_us >= 0 else self.any_commit_us

    @property
    def committed_hash(self) -> str:
        return self.hash if self.commits else self.any_hash


@dataclass
class BlockLog:
    """Blocks by number. Python objects per *block* are fine: a run has thousands, not millions.

    ``honest`` are the honest sealers (objects with ``net_id`` and ``up``); set them with
    :meth:`watch` once the nodes exist. Without them every commit counts as honest and
    ``all_commit_us`` waits for ``honest_sealers`` commits.
    """

    honest_sealers: int
    rows: dict[int, BlockRow] = field(default_factory=dict)
    honest: Sequence[Any] = ()
    _open: set[int] = field(default_factory=set)
    """Blocks some honest sealer committed and ``all_commit_us`` is still unset."""

    def watch(self, honest: Sequence[Any]) -> None:
        """The honest sealers whose ``up`` decides ``all_commit_us``."""
        self.honest = list(honest)
        self.honest_sealers = len(self.honest)

    def sealed(self, number: int, view: int, leader: int, txs: int, now: int,
               leader_node: str = "") -> None:
        """Sealer ``leader`` (its consensus index; ``leader_node`` its name) sealed ``number``."""
        # A block number sealed again (a later view) replaces the earlier proposal's row.
        self.rows[number] = BlockRow(number, view, leader, txs, now, leader_node)

    def committed(self, number: int, executed_hash: bytes, now: int, node: int = -1,
                  honest: bool = True) -> None:
        """Sealer ``node`` (its network id) committed block ``number``."""
        row = self.rows.get(number)
        if row is None:
            return
        if row.sealer_commits == 0:
            row.any_commit_us = now
            row.any_hash = executed_hash.hex()
        row.sealer_commits += 1
        if not honest:
            return
        if row.commits == 0:
            row.first_commit_us = now
            row.hash = executed_hash.hex()
        row.commits += 1
        row.committers[node] = now
        if row.all_commit_us >= 0:
            return
        if self.honest:
            # Complete when no honest sealer that is up still lacks it.
            if all(not n.up or n.net_id in row.committers for n in self.honest):
                row.all_commit_us = now
                self._open.discard(number)
            else:
                self._open.add(number)
        elif row.commits == self.honest_sealers:
            row.all_commit_us = now

    def node_down(self) -> None:
        """An honest sealer went down: blocks that only it lacked are now committed by every
        honest sealer that is up, as of the last of their commits."""
        for number in sorted(self._open):
            row = self.rows[number]
            if row.all_commit_us >= 0:
                self._open.discard(number)
                continue
            live = [n.net_id for n in self.honest if n.up]
            if live and all(n in row.committers for n in live):
                row.all_commit_us = max(row.committers[n] for n in live)
                self._open.discard(number)

    def committed_rows(self) -> list[BlockRow]:
        """The blocks some sealer committed, by number."""
        return [self.rows[n] for n in sorted(self.rows) if self.rows[n].sealer_commits > 0]

    def columns(self) -> dict[str, np.ndarray]:
        """The committed blocks as columns (the ``blocks`` table of a result)."""
        rows = self.committed_rows()
        getters = {"first_commit_us": lambda row: row.commit_us,
                   "hash": lambda row: row.committed_hash}
        out: dict[str, np.ndarray] = {}
        for name in COLUMNS:
            get = getters.get(name)
            values = [get(row) if get else getattr(row, name) for row in rows]
            out[name] = np.array(values, dtype=object if name in _TEXT else np.int64)
        return out
