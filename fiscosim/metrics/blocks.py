"""The block log: one row per block of the run, filled as blocks are sealed and committed."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLUMNS = (
    "number",
    "view",
    "leader",
    "txs",
    "sealed_us",
    "first_commit_us",
    "all_commit_us",
    "hash",
)


@dataclass
class BlockRow:
    number: int
    view: int
    leader: int
    txs: int
    sealed_us: int
    first_commit_us: int = -1
    all_commit_us: int = -1
    hash: str = ""
    commits: int = 0


@dataclass
class BlockLog:
    """Blocks by number. Python objects per *block* are fine: a run has thousands, not millions."""

    honest_sealers: int
    rows: dict[int, BlockRow] = field(default_factory=dict)

    def sealed(self, number: int, view: int, leader: int, txs: int, now: int) -> None:
        # A block number sealed again (a later view) replaces the earlier proposal's row.
        self.rows[number] = BlockRow(number, view, leader, txs, now)

    def committed(self, number: int, executed_hash: bytes, now: int) -> None:
        row = self.rows.get(number)
        if row is None:
            return
        if row.commits == 0:
            row.first_commit_us = now
            row.hash = executed_hash.hex()
        row.commits += 1
        if row.commits == self.honest_sealers:
            row.all_commit_us = now

    def committed_rows(self) -> list[BlockRow]:
        return [self.rows[n] for n in sorted(self.rows) if self.rows[n].commits > 0]

    def columns(self) -> dict[str, np.ndarray]:
        """The committed blocks as columns (the ``blocks`` table of a result)."""
        rows = self.committed_rows()
        out: dict[str, np.ndarray] = {}
        for name in COLUMNS:
            values = [getattr(row, name) for row in rows]
            out[name] = np.array(values, dtype=object if name == "hash" else np.int64)
        return out
