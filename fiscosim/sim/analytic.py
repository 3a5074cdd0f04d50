"""The analytic low-load latency of a FISCO BCOS 3.x network: the formula the simulator is
checked against (docs/latency.md writes it out).

At low load (a block holds far fewer than ``tx_count_limit`` transactions) a leader seals
``min_seal_time`` after it was told to seal (docs/fisco-reference.md §2.5), and it is told when the
previous block reaches its commit quorum (§1.6). So blocks come every

    T = min_seal_time + C,   C = seal → commit quorum at the next leader
      = seal + PrePrepare round + fill + Prepare round + Commit round,

and a transaction, arriving at a uniformly random moment of that cycle, waits T/2 on average
for the next seal, once it is in the leader's pool (δ: push and admission). From the seal its
block needs D to reach the RPC node's ledger:

    D = C + execute + CheckPoint round + storage commit,
    E[latency] = 2h + δ + T/2 + D,

where h is the one-way client↔node hop (``workload.client_latency_ms``): the batch's way to
the RPC node and the receipt's way back (docs/clients.md).

FISCO 2.9 (``chain.version: '2.9'``, docs/fisco2.md) executes before the Prepare round, has no
CheckPoint round, and tells the next leader to seal once the block is stored, when its
``min_seal_time`` clock starts::

    T = min_seal_time + D,   D = seal + PrePrepare round + fill + execute + Prepare round
                                 + Commit round + storage commit,

with the same E[latency]. 2.x runs parallel contracts' calls as a DAG, which this formula does
not cover: for 2.9 it takes only workloads without them.

One *round* (a vote all-to-all) is: the sender signs and encodes, its uplink serialises one copy
per peer, the link's latency, then the receiver's single PBFT thread decodes and verifies the
votes of the Q − 1 other nodes (its own counts without a message) — with the latency constant:

    round(k_sign, k_verify, size) = sign(k_sign) + encode(size) + (n − 1) · ser(size) + L
                                     + (Q − 1) · (decode(size) + verify(k_verify)).

Costs come from the nodes' :class:`~fiscosim.node.costs.CostModel`, sizes from the messages'
own ``wire_size()``. Queueing between blocks and CPU contention are ignored, which is what
"low load" means; the tests compare this with simulated runs (within 10 %).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fiscosim.chain.config import quorum
from fiscosim.consensus.messages import CheckPoint, Commit, Prepare, PrePrepare, Proposal
from fiscosim.contracts.release import release_cost_us
from fiscosim.net.network import P2P_HEADER_BYTES
from fiscosim.node.costs import CostModel, load_profile
from fiscosim.node.messages import TxPush


@dataclass(frozen=True)
class LatencyBreakdown:
    """The formula's terms, in milliseconds."""

    txs_per_block: float
    admission_ms: float
    seal_ms: float
    preprepare_ms: float
    fill_ms: float
    prepare_ms: float
    commit_ms: float
    execute_ms: float
    checkpoint_ms: float
    storage_ms: float
    block_interval_ms: float
    mean_latency_ms: float
    client_hops_ms: float = 0.0
    """2h: the client's batch to its RPC node and the receipt back."""

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 3) for key, value in asdict(self).items()}


def low_load_latency(scenario: Any) -> LatencyBreakdown:
    """Evaluates the module's formula for ``scenario`` (full mesh, constant latency)."""
    net = scenario.network
    if net.topology.kind != "full_mesh" or net.latency.distribution != "constant":
        raise ValueError("the analytic model covers a full mesh with constant latency")
    specs = scenario.nodes.specs()
    sealers = [spec for spec in specs if spec.role == "sealer"]
    n = len(sealers)
    q_others = quorum([spec.weight for spec in sealers]) - 1
    profile = load_profile(scenario.nodes.profile)
    v2 = scenario.chain.is_v2()
    costs = CostModel(profile, scenario.chain.crypto_suite, 16 if v2 else 2)
    # The mean call of the workload's contract mix, executed one after another (FISCO's
    # default, is_serial_execute; a DAG would take less).
    methods = scenario.workload.methods()
    if v2 and bool((methods.parallel & (methods.probability > 0)).any()):
        raise ValueError("the analytic model covers serial execution: FISCO 2.9 runs parallel "
                         "contracts' calls as a DAG; use a workload without them")
    writes_per_call = float((methods.probability * methods.writes).sum())
    if scenario.chain.execution_us_per_tx is not None:
        call_us, reads_per_call = scenario.chain.execution_us_per_tx, 0.0
    else:
        call_us = float((methods.probability
                         * release_cost_us(methods, scenario.chain.version)).sum())
        reads_per_call = float((methods.probability * methods.charged_reads).sum())
    latency = net.latency.mean_ms * 1000.0
    us_per_byte = 8e6 / (net.bandwidth_mbps * 1e6)

    def ser(size: int) -> float:
        return max(1.0, (size + P2P_HEADER_BYTES) * us_per_byte)

    def vote_round(message: Any) -> float:
        size = message.wire_size()
        send = costs.send_message(message.kind, size)
        handle = costs.receive_message(message.kind, size)
        return send + (n - 1) * ser(size) + latency + q_others * handle

    chain = scenario.chain
    rate = scenario.workload.rate_tps
    tick_batch = max(1, round(rate * scenario.workload.tick_ms / 1000 / scenario.workload.clients))
    push = TxPush(np.zeros(tick_batch, np.int64), tick_batch * scenario.workload.tx_size_bytes)
    admission = (
        costs.encode(push.wire_size()) + (n - 1) * ser(push.wire_size()) / 2 + latency
        + costs.admit(push.payload_bytes, tick_batch) / costs.cores
    )

    h = bytes(32)
    interval = chain.min_seal_time_ms * 1000.0
    terms: dict[str, float] = {}
    for _ in range(4):  # block size depends on the interval, the interval weakly on block size
        b = min(chain.tx_count_limit, max(1, round(rate * interval / 1e6)))
        ids = np.zeros(b, dtype=np.int64)
        pre = PrePrepare(0, 1, 0, Proposal(1, 0, 0, h, h, ids, 0))
        pre_size = pre.wire_size()
        terms = {
            "seal": costs.seal(b),
            "preprepare": costs.send_message("PrePrepare", pre_size)
            + (n - 1) * ser(pre_size) / 2 + latency + costs.receive_message("PrePrepare", pre_size),
            "fill": costs.fill(b) / min(2, costs.cores),
            "prepare": vote_round(Prepare(0, 1, 0, h)),
            "commit": vote_round(Commit(0, 1, 0, h)),
            "execute": costs.execute_block(b * call_us, b, round(b * reads_per_call),
                                           round(b * writes_per_call)),
            "checkpoint": 0.0 if v2 else vote_round(CheckPoint(0, 1, 0, h)),
            "storage": costs.storage_commit(b, round(b * writes_per_call)),
        }
        # 3.x tells the next leader at the commit quorum, 2.x once the block is stored
        told = (("seal", "preprepare", "fill", "execute", "prepare", "commit", "storage") if v2
                else ("seal", "preprepare", "fill", "prepare", "commit"))
        interval = chain.min_seal_time_ms * 1000.0 + sum(terms[k] for k in told)
    seal_to_receipt = sum(terms.values())
    hops = 2 * scenario.workload.client_latency_ms * 1000.0
    mean = hops + admission + interval / 2 + seal_to_receipt
    return LatencyBreakdown(
        txs_per_block=rate * interval / 1e6,
        admission_ms=admission / 1000,
        seal_ms=terms["seal"] / 1000,
        preprepare_ms=terms["preprepare"] / 1000,
        fill_ms=terms["fill"] / 1000,
        prepare_ms=terms["prepare"] / 1000,
        commit_ms=terms["commit"] / 1000,
        execute_ms=terms["execute"] / 1000,
        checkpoint_ms=terms["checkpoint"] / 1000,
        storage_ms=terms["storage"] / 1000,
        block_interval_ms=interval / 1000,
        mean_latency_ms=mean / 1000,
        client_hops_ms=hops / 1000,
    )
