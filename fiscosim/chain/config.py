"""System configuration of a group: the sealers with their vote weights, the quorum, block limits.

Two things live here because every layer above reads them and none of them owns them:

- the **consensus list** — the sealers, sorted by node id (a node's *index* is its position in
  that order) with their vote weights, and the **weighted quorum** every PBFT phase must reach
  (docs/fisco-reference.md §1.3, ``PBFTConfig::updateQuorum``);
- the **system config** a chain carries in its ledger: ``tx_count_limit``,
  ``consensus_leader_period`` and ``tx_gas_limit``, with their genesis defaults and the bounds
  FISCO enforces when they are changed (docs/fisco-reference.md §5), and the consensus timeout
  (§1.7).

>>> [quorum([1] * n) for n in (4, 7, 10, 100)]
[3, 5, 7, 67]
>>> quorum([3, 1, 1, 1])      # W = 6, f = 1: the heavy node and two others reach Q = 5
5
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NODE_ID_SIZE = 64
"""A node id is the 64-byte uncompressed public key X‖Y (docs/fisco-reference.md §1.3)."""

DEFAULT_VOTE_WEIGHT = 1
"""Weight of a genesis line ``node.i=<nodeid>`` that gives none (``build_chain.sh`` writes 1)."""

DEFAULT_TX_COUNT_LIMIT = 1000
DEFAULT_LEADER_PERIOD = 1
DEFAULT_TX_GAS_LIMIT = 3_000_000_000
DEFAULT_CONSENSUS_TIMEOUT_MS = 3000
"""PBFT's base timeout (``ConsensusConfig.h m_consensusTimeout``, docs/fisco-reference.md §1.7)."""
MIN_TX_GAS_LIMIT = 100_000


def total_weight(weights: Sequence[int]) -> int:
    """W, the sum of the consensus nodes' vote weights; every weight must be at least 1."""
    if not weights:
        raise ValueError("a consensus list needs at least one sealer")
    if any(weight < 1 for weight in weights):
        # ConsensusPrecompiled rejects weight 0; a zero or negative weight would also break
        # the fault bound below.
        raise ValueError(f"vote weights must be at least 1, got {list(weights)}")
    return sum(weights)


def max_faulty(weights: Sequence[int]) -> int:
    """f = ⌊(W − 1) / 3⌋, the weight of faulty nodes PBFT tolerates (``PBFTConfig::updateQuorum``).

    "f + 1" thresholds (fast view change, checkpoint fetch) use ``max_faulty(weights) + 1``.

    >>> max_faulty([1] * 4), max_faulty([1] * 100)
    (1, 33)
    """
    return (total_weight(weights) - 1) // 3


def quorum(weights: Sequence[int]) -> int:
    """Q = W − ⌊(W − 1) / 3⌋, the weight every PBFT quorum must reach (docs/fisco-reference.md
    §1.3).

    This is ``minRequiredQuorum`` of ``PBFTConfig::updateQuorum`` (FB@HEAD). Prepare, Commit,
    CheckPoint, ViewChange, NewView and Recover all compare accumulated *weight* against it, and
    so does a block's signature list.

    >>> quorum([1, 1, 1, 1]), quorum([1] * 7), quorum([1] * 10)
    (3, 5, 7)
    """
    return total_weight(weights) - max_faulty(weights)


@dataclass(frozen=True, slots=True, order=True)
class ConsensusNode:
    """A sealer: its node id (64-byte public key) and vote weight; ordered by node id."""

    node_id: bytes
    weight: int = DEFAULT_VOTE_WEIGHT

    def __post_init__(self) -> None:
        if len(self.node_id) != NODE_ID_SIZE:
            raise ValueError(f"a node id is {NODE_ID_SIZE} bytes, got {len(self.node_id)}")
        if self.weight < 1:
            raise ValueError(f"a sealer's vote weight is at least 1, got {self.weight}")


def consensus_list(nodes: Iterable[ConsensusNode]) -> tuple[ConsensusNode, ...]:
    """The consensus list in index order: sorted by node id bytes (``parseConsensusNodeList``).

    A node's index (used by the leader formula and by a header's ``sealer`` and signature list)
    is its position here. Duplicate node ids are refused.

    >>> a, b = ConsensusNode(b"\\x02" * 64), ConsensusNode(b"\\x01" * 64, weight=2)
    >>> [node.weight for node in consensus_list([a, b])]
    [2, 1]
    """
    ordered = tuple(sorted(nodes))
    ids = [node.node_id for node in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("a node id appears twice in the consensus list")
    return ordered


@dataclass(frozen=True, slots=True)
class SystemConfig:
    """The system config keys the simulator uses, with FISCO's genesis defaults
    (docs/fisco-reference.md §5).

    Bounds are those ``SystemConfigPrecompiled`` enforces on update: ``tx_count_limit ≥ 1``,
    ``leader_period ≥ 1``, ``tx_gas_limit ≥ 100000``. In FISCO a new value takes effect from the
    next block (``enableNumber = current + 1``); the node layer applies that rule.

    >>> config = SystemConfig()
    >>> config.tx_count_limit, config.leader_period, config.consensus_timeout_ms
    (1000, 1, 3000)
    """

    tx_count_limit: int = DEFAULT_TX_COUNT_LIMIT
    """Most transactions in one block (``tx_count_limit``; genesis ``block_tx_count_limit``)."""
    leader_period: int = DEFAULT_LEADER_PERIOD
    """Blocks each leader proposes in a row (``consensus_leader_period``)."""
    tx_gas_limit: int = DEFAULT_TX_GAS_LIMIT
    """Most gas one transaction may use (``tx_gas_limit``)."""
    consensus_timeout_ms: int = DEFAULT_CONSENSUS_TIMEOUT_MS
    """PBFT's base view timeout in milliseconds, before back-off (docs/fisco-reference.md §1.7).
    Genesis files carry ``consensus_timeout=3000`` but FISCO 3.x never reads it: the node's 3000 ms
    is effectively fixed. It is a field here so scenarios can explore other values."""

    def __post_init__(self) -> None:
        if self.tx_count_limit < 1:
            raise ValueError(f"tx_count_limit must be at least 1, got {self.tx_count_limit}")
        if self.leader_period < 1:
            raise ValueError(f"leader_period must be at least 1, got {self.leader_period}")
        if self.tx_gas_limit < MIN_TX_GAS_LIMIT:
            raise ValueError(
                f"tx_gas_limit must be at least {MIN_TX_GAS_LIMIT}, got {self.tx_gas_limit}"
            )
        if self.consensus_timeout_ms < 1:
            raise ValueError(
                f"consensus_timeout_ms must be at least 1, got {self.consensus_timeout_ms}"
            )
