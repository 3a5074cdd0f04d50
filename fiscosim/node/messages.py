"""The node-level messages that are not PBFT's: transaction push and proposal-fill fetches.

They carry transaction ids (the run-wide handle, :mod:`fiscosim.workload.table`) and their size
on the wire is what the real packet would weigh: the transactions' encoded bytes plus a small
per-transaction framing for pushes and responses, 32 bytes per hash for requests (FISCO.md §2.4,
§2.7). Module ids are FISCO's (``SYNC_PUSH_TRANSACTION = 5000``, ``ConsTxsSync = 2002``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PER_TX_FRAMING = 4
"""Bytes of length prefix per transaction in a batch of raw transactions."""
MESSAGE_OVERHEAD = 24
"""Module id, group id and packet fields around the payload."""


@dataclass(frozen=True, slots=True)
class TxPush:
    """Raw transactions an RPC node pushes to every consensus node (§2.4)."""

    ids: np.ndarray
    payload_bytes: int
    kind = "TxPush"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + self.payload_bytes + PER_TX_FRAMING * len(self.ids)


@dataclass(frozen=True, slots=True)
class TxsRequest:
    """A follower asks the leader for the transactions of a proposal it lacks (§2.7)."""

    index: int
    proposal_hash: bytes
    ids: np.ndarray
    kind = "TxsRequest"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 32 + 32 * len(self.ids)


@dataclass(frozen=True, slots=True)
class TxsResponse:
    """The leader's answer: the requested transactions, in full."""

    index: int
    proposal_hash: bytes
    ids: np.ndarray
    payload_bytes: int
    kind = "TxsResponse"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 32 + self.payload_bytes + PER_TX_FRAMING * len(self.ids)
