"""The node context: what a node's stages share, below the stages.

A full node (:class:`fiscosim.node.runtime.Node`) is built from stages, one module each:
intake and admission (:mod:`.intake`), the sealer (:mod:`.sealer`), proposal fill
(:mod:`.fill`), execution and commit (:mod:`.execution`) and block sync (:mod:`.sync`). They
share one :class:`NodeContext`: the node's identity, CPU and cost model, the clock (``later``:
work a crash loses), the trace, and the run state more than one stage reads — the txpool, the
PBFT core, the chain (height, committed blocks, proposal hashes), whether the node is up, its
byzantine behaviours and its statistics. The stages import this module and nothing of each
other; what a stage tells another stage or the core goes through a callback the runtime sets
when it wires the node (docs/architecture.md, decision 24). This module also holds what every
node of a run shares (:class:`Shared`) and the chain parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

import numpy as np

from fiscosim.chain.block import Block
from fiscosim.chain.receipt import ReceiptBatch
from fiscosim.consensus.messages import tx_hash_bytes
from fiscosim.crypto.secp_batch import MIN_BATCH
from fiscosim.engine import schedule
from fiscosim.execution import execute_block
from fiscosim.node.cpu import Cpu
from fiscosim.node.txpool import TxPool


@dataclass(frozen=True, slots=True)
class ChainParams:
    """The chain parameters the runtime needs (validated by the scenario)."""

    tx_count_limit: int = 1000
    min_seal_time_us: int = 500_000
    sync_status_us: int = 0
    """Status gossip to every group member this often (0: none, docs/fisco-reference.md §7)."""
    execute_first: bool = False
    """FISCO 2.x's order (docs/fisco2.md): a node executes a proposal when it has filled it,
    before its Prepare, and the block needs no CheckPoint round."""
    empty_block_us: int = 0
    """2.x: a leader with nothing pending seals an empty block this long after the last block
    or view change, and the empty block changes the view (0: never, 3.x)."""
    dynamic_block_size: bool = False
    """2.x's ``enable_dynamic_block_size``: the most transactions a leader seals halves on a
    view timeout with a block in flight and grows back on timely commits
    (:class:`fiscosim.node.sealer.BlockSizeControl`)."""
    batch_verify: bool = False
    """``chain.verify_mode: batch``: transactions' signatures are checked by the batch verifier
    behind a per-node sender cache (:meth:`NodeContext.batch_verify_us`)."""


@dataclass
class NodeStats:
    """What one node did; the metrics layer sums and reports these."""

    verified: int = 0
    fetched: int = 0
    batch_checked: int = 0
    """``chain.verify_mode: batch``: rows checked in a batch's sum (cached senders)."""
    batch_recovered: int = 0
    """``chain.verify_mode: batch``: rows recovered one by one (senders not cached yet)."""
    batches: int = 0
    """``chain.verify_mode: batch``: batch sums started (one per source's batch)."""
    executed_blocks: int = 0
    view_changes_wanted: int = 0
    empty_blocks: int = 0
    """Empty blocks this node sealed as leader (2.x; each changes the view)."""
    proposals_rejected: int = 0
    view_change_us: list[int] = field(default_factory=list)
    """How long each of this node's view changes took (ViewChange sent → view entered)."""
    forged_messages_rejected: int = 0
    """PBFT messages dropped because their signature failed verification."""
    forged_txs_rejected: int = 0
    """Transactions from a peer rejected because their signature failed verification."""
    byzantine_dropped: int = 0
    """Messages this (byzantine) node's runtime withheld from its core's output."""
    equivocations: int = 0
    """Second proposals this (byzantine) node sent for an index it leads."""
    synced_blocks: int = 0
    """Blocks this node got by block sync."""
    sync_rejected: int = 0
    """Synced blocks refused: their signature list weighs less than the quorum."""
    catch_up_us: list[int] = field(default_factory=list)
    """Each time this node fell behind: from its first sync request to reaching the height its
    peers had announced."""
    follow_lag_us: list[int] = field(default_factory=list)
    """An observer: per block, its commit time minus the first sealer's."""
    light_bytes_served: int = 0
    """Bytes of headers, proofs and blocks this full node sent to light nodes."""


class LedgerEntry(NamedTuple):
    """One committed block of a node's ledger."""

    block: Block
    """The executed block (:mod:`fiscosim.chain.block`): header, hash, receipts."""
    proposal: Any
    """The PBFT proposal it was (:class:`fiscosim.consensus.messages.Proposal`): its
    transactions by id."""
    signers: tuple[int, ...]
    """Consensus indices of the sealers whose CheckPoint signatures prove it (its signature
    list)."""


class ExecutionPlan(NamedTuple):
    """How one block keeps a node's executor busy (:meth:`Shared.execution_plan`), and what the
    cost model charges beyond its calls (:meth:`fiscosim.node.costs.CostModel.execute_block`,
    :meth:`~fiscosim.node.costs.CostModel.storage_commit`)."""

    work_us: float
    """Core-µs of the block's contract calls."""
    busy: int
    """Executor threads the schedule keeps busy on average."""
    receipts: ReceiptBatch
    txs: int
    state_reads: int
    """State slots read through storage beyond the calls' costs."""
    state_writes: int
    """State slots the block's calls write."""


class ByzantineSender(Protocol):
    """How a byzantine node sends what its honest core produced: given the node
    (:class:`fiscosim.node.runtime.Node`), the message and its destination (a consensus index;
    None for every other sealer), it drops, rewrites, forges or delays it and sends the result
    with the node's ``emit``. The node layer names only this interface;
    :func:`fiscosim.faults.byzantine.send` implements it and the world builder hands it to the
    nodes (:attr:`Shared.byzantine_send`)."""

    def __call__(self, node: Any, message: Any, dest: int | None) -> None: ...


def _no_byzantine_sender(node: Any, message: Any, dest: int | None) -> None:
    raise RuntimeError(f"{node.name} has byzantine behaviours {sorted(node.byzantine)} but the "
                       "world gave its nodes no Shared.byzantine_send")


@dataclass
class Shared:
    """What every node of a run shares: the clock, the network, the tables and the recorders."""

    env: Any
    network: Any
    table: Any
    params: ChainParams
    sealer_net_ids: list[int]
    """Network id of the sealer with each consensus index (nodeID order, docs/fisco-reference.md
    §1.3)."""
    on_commit: Callable[[NodeContext, int, LedgerEntry], None]
    """Called when a node commits block ``number`` (safety checker, metrics)."""
    on_seal: Callable[[NodeContext, Any], None]
    verdicts: Callable[[np.ndarray], np.ndarray] | None = None
    """Real-crypto mode: the host's shared verdicts for transaction ids."""
    trace: Callable[[str, dict], None] | None = None
    nodes: list[Any] = field(default_factory=list)
    """The group's nodes by network id (None where a position is not in the group)."""
    coalition: Any = None
    """The equivocating nodes' shared state (:class:`fiscosim.faults.byzantine.Coalition`),
    read and written only by ``byzantine_send`` and ``Node.set_byzantine``."""
    byzantine_send: ByzantineSender = _no_byzantine_sender
    """What a node with byzantine behaviours sends instead of its core's messages."""
    sealer_index: dict[int, int] = field(default_factory=dict)
    """Consensus index of each sealer's network id (the inverse of ``sealer_net_ids``)."""
    forged_verdicts: Callable[[np.ndarray], np.ndarray] | None = None
    """Verdicts for transactions a ``forge_txs`` node sends (:func:`fiscosim.sim.realcrypto.
    forged_verdicts`)."""
    follower_net_ids: list[int] = field(default_factory=list)
    """Network ids of the group's observers and light nodes: sealers announce each new block
    to them."""
    group_id: str = "group0"
    real: Any = None
    """Real-crypto mode: the corpus (transaction hashes for light nodes' proofs)."""
    light_trees: dict[tuple[bytes, str], Any] = field(default_factory=dict)
    """Host-side memo of each block's Merkle trees for light nodes' proofs (:mod:`.light`)."""
    first_commit_us: Callable[[int], int] = lambda number: -1
    """When block ``number`` was first committed in this group (−1: not yet)."""
    weights: tuple[int, ...] = ()
    """Consensus weights in consensus-index order: a synced block's signature list must reach
    ``quorum`` of them (docs/fisco-reference.md §7)."""
    quorum: int = 0
    votes: Any = None
    """The aggregated votes' inboxes (:class:`fiscosim.net.aggregate.VoteBoard`) when
    ``network.votes`` is ``aggregate``; None: every vote is a network delivery."""
    suite: Any = None
    """The chain's crypto suite (:func:`fiscosim.crypto.get_suite`): its hash makes the block
    hashes and roots."""
    genesis: Block | None = None
    """Block 0 of the group: the sealers' node ids and weights, no parent."""
    merkle_roots: bool = True
    """Whether block headers carry the Merkle roots of their transactions' and receipts'
    hashes: runs with light nodes or real crypto. Otherwise one-hash commitments to the same
    transactions and receipts stand in for them (:mod:`.execution`)."""
    methods: Any = None
    """The workload's contract methods (:class:`fiscosim.contracts.MethodTable`): what each
    transaction's ``method`` column means."""
    method_cost_us: Any = None
    """Execution cost of each method, µs on one core: the contract models' figures, or
    ``chain.execution_us_per_tx`` for every one."""
    method_state_reads: Any = None
    """State slots each method reads through the node's storage on top of its cost (the
    contract models' :attr:`~fiscosim.contracts.MethodTable.charged_reads`; none when
    ``chain.execution_us_per_tx`` gives each call's whole cost)."""
    executor_mode: str = "serial"
    """How blocks execute (:data:`fiscosim.execution.MODES`): ``serial`` (FISCO's default,
    ``is_serial_execute``), ``dag``, or ``pte`` (2.x)."""
    merkle_width: int = 2
    """Children per node of the transaction and receipt Merkle trees: 2 in 3.x, 16 in 2.x
    (:mod:`fiscosim.crypto.merkle`)."""
    execution_plans: dict[tuple[bytes, int], ExecutionPlan] = field(default_factory=dict)
    """Host-side memo per (proposal hash, executor threads) (:mod:`.execution`)."""
    built_blocks: dict[tuple[bytes, bytes], Block] = field(default_factory=dict)
    """Host-side memo of executed blocks by (proposal hash, parent hash): every node that
    executes the same proposal on the same parent computes the same bytes, so they are computed
    once; each node's cost model still charges its own execution."""

    def tx_hashes(self, ids: np.ndarray) -> np.ndarray:
        """The 32-byte hashes of transactions ``ids``, n×32 uint8: the corpus's signed hashes in
        real-crypto mode; in modelled mode, where a transaction has no bytes, its id big-endian
        and zero-padded (the hash a PrePrepare carries for it, :func:`~fiscosim.consensus.
        messages.tx_hash_bytes`)."""
        if self.real is not None:
            return self.real.corpus.hashes[self.table.corpus_row[ids]]
        return np.frombuffer(tx_hash_bytes(ids), dtype=np.uint8).reshape(-1, 32)

    def execution_plan(self, proposal: Any, threads: int) -> ExecutionPlan:
        """How ``proposal``'s block keeps an executor of ``threads`` threads busy, once per
        run for each (block, thread count): every node that executes the block computes the
        same."""
        key = (proposal.hash, threads)
        plan = self.execution_plans.get(key)
        if plan is not None:
            return plan
        ids = proposal.tx_ids
        table, methods = self.table, self.methods
        method = table.method[ids]
        if len(method) and int(method.min()) < 0:
            raise RuntimeError(f"block {proposal.index} holds a transaction that calls no "
                               "contract method (its client set no method): a bug")
        costs = self.method_cost_us[method]
        work = float(costs.sum())
        busy = 1
        if self.executor_mode != "serial" and len(ids):
            contract = methods.contract[method].astype(np.int64)
            # Accounts are a contract's state: one account of two contracts does not conflict.
            accounts = np.stack([table.account_a[ids], table.account_b[ids]],
                                axis=1).astype(np.int64)
            keys = np.where(accounts >= 0, (contract[:, None] << 32) | accounts, -1)
            result = execute_block(self.executor_mode, costs, keys, methods.parallel[method],
                                   contract, threads)
            if result.us > 0:
                busy = max(1, min(threads, round(work / result.us)))
        receipts = ReceiptBatch.succeeded(proposal.index, methods.gas[method])
        reads = self.method_state_reads
        plan = self.execution_plans[key] = ExecutionPlan(
            work, busy, receipts, len(ids),
            int(reads[method].sum(dtype=np.int64)) if reads is not None else 0,
            int(methods.writes[method].sum(dtype=np.int64)))
        return plan

    def nodes_deliver(self, src: int, dst: int, message: Any) -> None:
        """The network's delivery callback: hands ``message`` to node ``dst``."""
        self.nodes[dst].receive(src, message)


class NodeContext:
    """One node's identity, resources, clock and shared run state (see the module docstring).

    Who writes what: ``pool`` and ``core`` are replaced by the runtime on a restart; ``up`` and
    ``epoch`` by the runtime on a crash or restart; the chain (``height``, ``ledger``,
    ``last_commit_at``) through :meth:`store_block` by execution and block sync; ``executed``
    by execution;
    ``proposal_hashes`` by the runtime (PrePrepares), the sealer, proposal fill and block sync;
    ``byzantine`` by the runtime's ``set_byzantine``.
    """

    def __init__(self, net_id: int, name: str, shared: Shared, cpu: Cpu, costs: Any,
                 pool: TxPool, core: Any | None) -> None:
        self.net_id = net_id
        self.name = name
        self.shared = shared
        self.env = shared.env
        self.cpu = cpu
        self.costs = costs
        self.pool = pool
        self.core = core
        """The PBFT core (None on an observer). Stages read it (the sealer its view) but hand
        their results to it only through the runtime's callbacks."""
        self.index = -1 if core is None else core.index
        self.other_sealers: tuple[int, ...] = tuple(
            n for n in shared.sealer_net_ids if n != net_id)
        """Network ids of the group's sealers but this node: where a push or a PBFT broadcast
        goes (the group's sealers are fixed for a run)."""
        self.stats = NodeStats()
        self.up = True
        self.epoch = 0
        """Changes when the process dies or its core is rebuilt: ``later`` work from before is
        dropped."""
        self.height = 0
        self.ledger: dict[int, LedgerEntry] = {}
        """The committed blocks by number."""
        self.executed: dict[int, Block] = {}
        """Blocks this node executed and has not committed yet, by number (in memory: a restart
        executes them again)."""
        self.last_commit_at = 0
        self.proposal_hashes: dict[int, bytes] = {}
        """Each block's proposal hash as this node knows it (the sealer's parent hash)."""
        self.byzantine: frozenset[str] = frozenset()
        self.known_senders = np.zeros(0, dtype=bool)
        """``chain.verify_mode: batch``: the senders (workload account ranks) whose public keys
        this node has cached, from a recovery of one of their transactions."""

    def later(self, at_us: int, fn: Any, *args: Any) -> None:
        """Calls ``fn(*args)`` at ``at_us`` unless this node crashes before then.

        Work in progress is in memory: a crash loses it (the epoch changes).
        """
        schedule(self.env, at_us, self._if_alive, self.epoch, fn, args)

    def _if_alive(self, epoch: int, fn: Any, args: tuple) -> None:
        if epoch == self.epoch:
            fn(*args)

    def trace(self, event: str, **fields: Any) -> None:
        trace = self.shared.trace
        if trace is not None:
            # `node` is the network position (the scenario's node order); `sealer` is the
            # consensus index (nodeID order, docs/fisco-reference.md §1.3) that the PBFT core's
            # fields use; `node_name` is the scenario's name ("name" is taken: the timer events'
            # field).
            trace(event, {"node": self.net_id, "sealer": self.index, "node_name": self.name,
                          "g": self.shared.group_id, **fields})

    def send_after(self, work: int, lane: str, dest: int, message: Any, size: int,
                   on_lost: Any = None) -> None:
        """Charges ``work`` (encoding ``message``) to ``lane``, then sends it to ``dest``."""
        done = self.cpu.run(self.env.now, work, lane=lane)
        shared = self.shared
        self.later(done, shared.network.send, self.net_id, dest, message, size,
                   shared.nodes_deliver, on_lost)

    def broadcast_after(self, work: int, lane: str, dests: Sequence[int], message: Any,
                        size: int) -> None:
        """Charges ``work`` (encoding ``message``) to ``lane``, then sends it to each of
        ``dests``."""
        done = self.cpu.run(self.env.now, work, lane=lane)
        shared = self.shared
        self.later(done, shared.network.broadcast, self.net_id, dests, message, size,
                   shared.nodes_deliver)

    def batch_verify_us(self, ids: np.ndarray, ok: np.ndarray | None) -> int:
        """``chain.verify_mode: batch``: the CPU µs to check the signatures of ``ids``, one
        source's batch (``ok``: each row's verdict, None when all pass), with the batch
        verifier behind this node's sender cache, which it fills.

        As :func:`fiscosim.crypto.sender_cache.verify_with_cache` does: the rows of senders
        cached before the call join one batch; of an uncached sender, the rows up to its first
        good one are recovered one by one, that one's key fills the cache, and its later rows
        join the batch, when that good row is among its first ``FIRST_ROW_ROUNDS`` (else all
        its rows are recovered); fewer than ``MIN_BATCH`` rows to sum are recovered. The batch
        costs :meth:`CostModel.batch_verify` for its rows, distinct senders and bad rows; each
        recovery ``verify_secp256k1``.
        """
        # Here, not at the top: sender_cache brings libsecp256k1's bindings, which a run in
        # the default mode never needs (24 ms of imports).
        from fiscosim.crypto.sender_cache import FIRST_ROW_ROUNDS

        count = len(ids)
        if count == 0:
            return 0
        senders = self.shared.table.sender[ids]
        top = max(int(senders.max()) + 1, 1)  # at least one entry: −1 indexes the last
        if top > len(self.known_senders):
            grown = np.zeros(max(top, 2 * len(self.known_senders)), dtype=bool)
            grown[: len(self.known_senders)] = self.known_senders
            self.known_senders = grown
        known = self.known_senders
        good = np.ones(count, dtype=bool) if ok is None else ok
        # A row without a sender (−1) is never cached: recovered each time.
        batched = known[senders] & (senders >= 0)
        cold = np.flatnonzero(~batched)
        recovered = 0
        if len(cold):
            # Per uncached sender, in arrival order: the rows until its first good one are
            # recovered and the ones after it join the batch, if that good row is among its
            # first FIRST_ROW_ROUNDS; otherwise every row of it is recovered.
            order = cold[np.lexsort((cold, senders[cold]))]
            by_sender = senders[order]
            passes = good[order]
            starts = np.flatnonzero(np.r_[True, by_sender[1:] != by_sender[:-1]])
            group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
            position = np.arange(len(order)) - starts[group]
            first_good = np.minimum.reduceat(np.where(passes, position, len(order)), starts)
            cutoff = first_good[group]
            joining = order[(cutoff < FIRST_ROW_ROUNDS) & (position > cutoff)
                            & (by_sender >= 0)]
            batched[joining] = True
            recovered = len(cold) - len(joining)
            learned = by_sender[passes == 1]
            known[learned[learned >= 0]] = True
        rows = int(np.count_nonzero(batched))
        stats = self.stats
        if rows < MIN_BATCH:  # too few to sum: the verifier recovers them one by one
            recovered += rows
            rows = 0
        stats.batch_recovered += recovered
        work = self.costs.verify(recovered)
        if rows:
            distinct = len(np.unique(senders[batched]))
            bad = 0 if ok is None else int(np.count_nonzero(~good[batched]))
            stats.batch_checked += rows
            stats.batches += 1
            work += self.costs.batch_verify(rows, distinct, bad)
        return work

    def signature_verdicts(self, ids: np.ndarray, facts: Any = None) -> np.ndarray | None:
        """Verdicts per row; None when all are valid (modelled mode, a clean batch)."""
        if self.shared.verdicts is not None:
            return self.shared.verdicts(ids)
        if facts is not None and facts.clean:
            return None
        return ~self.shared.table.tampered[ids]

    def store_block(self, number: int, entry: LedgerEntry) -> None:
        """Block ``number`` joins the ledger: its transactions leave the pool, the height moves."""
        self.pool.remove_committed(entry.proposal.tx_ids)
        self.height = number
        self.ledger[number] = entry
        self.executed.pop(number, None)

    def block_at(self, number: int) -> Block | None:
        """Block ``number`` as this node has it: committed, else executed; block 0 is the
        genesis block."""
        entry = self.ledger.get(number)
        if entry is not None:
            return entry.block
        if number == 0:
            return self.shared.genesis
        return self.executed.get(number)


class Stage:
    """What every stage keeps at hand: its node's context and the parts of it that never change
    (read on hot paths without going through the context)."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.cpu = ctx.cpu
        self.costs = ctx.costs
        self.shared = ctx.shared
        self.stats = ctx.stats
        self.later = ctx.later


def unwired(*args: Any) -> None:
    """A stage's callback before the runtime wires it."""
    raise RuntimeError("a node stage's callback was not wired (fiscosim.node.runtime.Node)")


__all__ = ["ByzantineSender", "ChainParams", "LedgerEntry", "NodeContext", "NodeStats", "Shared",
           "Stage", "unwired"]
