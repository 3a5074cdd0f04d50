"""Builds the world of a run from a validated scenario: nodes, network, clients, recorders.

One seed drives every random choice (docs/architecture.md rule 6): a ``numpy.random.SeedSequence``
from the scenario's seed is spawned into independent streams, always in the same order — node ids,
the network, the clients (one stream each), and one reserved for faults — so adding a client
does not change the network's draws.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from fiscosim.chain.block import genesis_block
from fiscosim.chain.config import quorum
from fiscosim.consensus.pbft import PbftCore
from fiscosim.contracts.release import release_cost_us
from fiscosim.crypto import get_suite
from fiscosim.crypto.merkle import WIDTH_V2, WIDTH_V3
from fiscosim.engine import US, CountingEnvironment
from fiscosim.faults import byzantine
from fiscosim.metrics.blocks import BlockLog
from fiscosim.metrics.summary import NOT_CHECKED
from fiscosim.net.aggregate import VoteBoard
from fiscosim.net.latency import LatencyModel
from fiscosim.net.network import Network
from fiscosim.net.topology import build_topology
from fiscosim.node.context import ChainParams, LedgerEntry, NodeContext, Shared
from fiscosim.node.costs import CostModel, load_profile
from fiscosim.node.cpu import Cpu, GroupCpu, HostShare
from fiscosim.node.light import QUERY_KINDS, LightNode
from fiscosim.node.runtime import Node
from fiscosim.node.txpool import TxPool
from fiscosim.node.txtable import TxTable
from fiscosim.sim.realcrypto import forged_verdicts
from fiscosim.workload.clients import OpenLoopClient, emit_tick
from fiscosim.workload.modes import Backlog, build_clients


@dataclass
class SafetyChecker:
    """No two honest nodes commit different blocks at one height, ever (docs/architecture.md rule
    7).

    ``honest_nodes`` is how many honest full nodes (sealers and observers) the group has; with
    fewer than two there is nothing to compare and the check is *not checked* rather than ok
    (None: not known, treated as checked).
    """

    committed: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    honest_nodes: int | None = None

    @property
    def status(self) -> str:
        """``"violated"``, ``"not checked"`` (fewer than two honest nodes) or ``"ok"``."""
        if self.violations:
            return "violated"
        if self.honest_nodes is not None and self.honest_nodes < 2:
            return NOT_CHECKED
        return "ok"

    def check(self, node: str, number: int, executed_hash: bytes) -> None:
        first = self.committed.setdefault(number, (executed_hash, node))
        if first[0] != executed_hash:
            self.violations.append(
                f"block {number}: {node} committed {executed_hash.hex()[:16]}, "
                f"{first[1]} committed {first[0].hex()[:16]}"
            )


@dataclass
class World:
    """Everything a run holds; :class:`~fiscosim.sim.simulation.Simulation` drives it.

    A World is one group's (its nodes, table, clients, blocks, safety checker) on the run's
    clock and network. A run of several groups has one World per group in ``groups``, all
    sharing ``env``, ``network``, ``fault_log`` and the nodes' physical CPUs; the World that
    :func:`build_world` returns is the first group's.
    """

    scenario: Any
    env: CountingEnvironment
    network: Network
    table: TxTable
    nodes: list[Node]
    sealers: list[Node]
    clients: list[OpenLoopClient]
    blocks: BlockLog
    safety: SafetyChecker
    quorum: int
    tick_us: int
    end_of_workload_us: int
    end_us: int
    trace: Callable[[str, dict], None] | None = None
    real: Any = None
    """Real-crypto mode: the corpus and the shared verifier (:mod:`fiscosim.sim.realcrypto`)."""
    fault_log: list = field(default_factory=list)
    """The faults applied so far: ``{"t_s", "fault"}``."""
    group_id: str = "group0"
    node_at: dict[int, Node] = field(default_factory=dict)
    """This group's member on each physical node (by position in the scenario's nodes)."""
    groups: list[World] = field(default_factory=list)
    """Every group of the run (this one first); one entry for a single-group run."""
    cpus: list[Any] = field(default_factory=list)
    """The physical nodes' CPUs, by position (shared by the groups a node is in)."""
    names: list[str] = field(default_factory=list)
    """The physical nodes' names, by position."""
    light_nodes: list[LightNode] = field(default_factory=list)
    """This group's light nodes (also in ``node_at``, not in ``nodes``)."""
    query_rate: float = 0.0
    query_rng: np.random.Generator | None = None
    block_watchers: dict[tuple[str, int], list[Callable[[], None]]] = field(
        default_factory=dict)
    """Called once when block n is first sealed (``("sealed", n)``) or first committed by an
    honest sealer (``("committed", n)``): faults started ``at_block`` (fiscosim.faults)."""
    client_mode: str = "open"
    """``workload.mode``: open, closed or sdk_demo (fiscosim.workload.modes)."""
    client_hop_us: int = 0
    """The one-way client↔node delay (``workload.client_latency_ms``): a batch reaches its
    RPC node this long after it is sent, a receipt its client this long after the commit."""
    backlog: Backlog | None = None
    """Mode closed: the transactions each client has in flight."""

    def members_of(self, position: int) -> list[Node]:
        """Every group's node on physical node ``position`` (what a crash takes down)."""
        return [group.node_at[position] for group in self.groups
                if position in group.node_at]

    def query_loop(self):
        """Clients' queries to the light nodes: Poisson arrivals, kinds in turn, each for a
        random committed transaction (skipped while the light node lacks its header)."""
        env, table, rng = self.env, self.table, self.query_rng
        assert rng is not None
        lights, turn = self.light_nodes, 0
        while env.now < self.end_of_workload_us:
            yield env.timeout(self.tick_us)
            for _ in range(int(rng.poisson(self.query_rate * self.tick_us / US))):
                if table.count == 0:
                    break
                tx = int(rng.integers(0, table.count))
                if table.commit_block[tx] < 1:
                    continue
                light = lights[turn % len(lights)]
                light.query(QUERY_KINDS[turn % len(QUERY_KINDS)], tx)
                turn += 1

    def client_loop(self):
        """One simpy process ticks every client; a tick sends one batch per target node, which
        reaches that node's RPC one client hop later (docs/clients.md). In mode closed the
        clients first learn which of their transactions completed; in mode sdk_demo the loop
        ends once every client has sent its count.

        The loop runs one hop behind the clients' clock: it wakes when a tick's batches reach
        their nodes and writes the tick's time, one hop earlier, as their send time (what the
        clients know is filtered to that time, :class:`~fiscosim.workload.modes.Backlog`). A
        separate delivery per tick would be one more event per tick, 8 % of the quickstart's.
        """
        env, table, node_at = self.env, self.table, self.node_at
        heights = lambda target: node_at[target].height  # noqa: E731 - a tiny closure
        clients, tick_us, hop_us = self.clients, self.tick_us, self.client_hop_us
        backlog, end = self.backlog, self.end_of_workload_us
        owners: list[np.ndarray] = []
        counted = self.client_mode == "sdk_demo"
        sent_at = 0  # the clients' clock: env.now less the hop
        if hop_us:
            yield env.timeout(hop_us)
        while sent_at < end:
            yield env.timeout(tick_us)
            sent_at += tick_us
            if backlog is not None:
                backlog.settle(table, sent_at)
                batches = emit_tick(clients, tick_us, sent_at, table, heights, owners)
                backlog.track(batches, owners)
                owners.clear()
            else:
                batches = emit_tick(clients, tick_us, sent_at, table, heights)
            for target, ids in batches:
                node_at[target].rpc_submit(ids)
            if counted and all(client.finished for client in clients):
                return  # nothing more to send: no more ticks


def build_world(
    scenario: Any,
    trace_factory: Callable[[simpy.Environment], Callable[[str, dict], None]] | None = None,
    real: Any = None,
) -> World:
    """Builds nodes, network and clients for ``scenario`` (a validated Scenario)."""
    env = CountingEnvironment()
    trace = trace_factory(env) if trace_factory is not None else None
    root = np.random.SeedSequence(scenario.seed)
    ids_seq, net_seq, clients_seq, faults_seq = root.spawn(4)

    specs = scenario.nodes.specs()
    names = [spec.name for spec in specs]
    # Node ids are 64-byte public keys; the consensus index is the position in nodeID order.
    id_rng = np.random.default_rng(ids_seq)
    node_ids = [id_rng.bytes(64) for _ in specs]
    network = _build_network(scenario, env, len(specs), names, net_seq, trace)
    if trace is not None:
        from fiscosim.trace.recorder import UNTRACED_KINDS

        network.untraced = UNTRACED_KINDS  # not even handed to the recorder
    profiles = [load_profile(spec.profile if spec.profile is not None else scenario.nodes.profile)
                for spec in specs]
    width = WIDTH_V2 if scenario.chain.is_v2() else WIDTH_V3
    costs = [CostModel(profile, scenario.chain.crypto_suite, width) for profile in profiles]
    cpus = _host_cpus(scenario.nodes, names, costs)
    # Busy time is counted over the summary's measured window (docs/bottleneck.md).
    window = (int(scenario.warmup_s * US), int(scenario.duration_s * US))
    network.set_window(*window)
    for cpu in cpus:
        (cpu.base if isinstance(cpu, HostShare) else cpu).set_window(*window)
    groups = scenario.group_specs()
    memberships = [sum(name in g.sealers or name in g.observers for g in groups) for name in names]
    byzantine_seqs = faults_seq.spawn(len(specs))
    fault_log: list = []
    worlds = []
    for group in groups:
        shared_cpu = [
            cpu if memberships[i] == 1 else GroupCpu(cpu, f"{group.id}/")
            for i, cpu in enumerate(cpus)
        ]
        worlds.append(_build_group(
            scenario, group, env, network, trace, real, node_ids, names, costs, shared_cpu,
            clients_seq, byzantine_seqs, fault_log, first=not worlds,
        ))
    for world in worlds:
        world.groups = worlds
        world.cpus = cpus
        world.names = names
    return worlds[0]


def _build_group(
    scenario: Any, group: Any, env: CountingEnvironment, network: Network, trace: Any,
    real: Any, node_ids: list[bytes], names: list[str], costs: list, cpus: list,
    clients_seq: np.random.SeedSequence, byzantine_seqs: list, fault_log: list,
    first: bool = True,
) -> World:
    """One group's nodes (members of the physical nodes it names), table, clients, recorders."""
    chain = scenario.chain
    suite = get_suite(chain.crypto_suite)
    positions = {name: i for i, name in enumerate(names)}
    member_positions = sorted(positions[name] for name in group.sealers + group.observers)
    light_positions = sorted(positions[name] for name in group.light)
    sealer_positions = [positions[name] for name in group.sealers]
    ordered = sorted(sealer_positions, key=lambda i: node_ids[i])
    weights = [scenario.nodes.specs()[i].weight for i in ordered]
    consensus_index = {position: index for index, position in enumerate(ordered)}
    workload = group.workload

    expected = (workload.total_txs if workload.mode == "sdk_demo"
                else workload.rate_tps * scenario.duration_s * 1.2)
    table = TxTable(capacity=max(1024, int(expected)))
    dishonest = scenario.byzantine_nodes()
    blocks = BlockLog(honest_sealers=sum(1 for i in ordered if names[i] not in dishonest))
    safety = SafetyChecker(honest_nodes=sum(
        1 for i in member_positions if names[i] not in dishonest))
    params = ChainParams(
        tx_count_limit=chain.tx_count_limit,
        min_seal_time_us=int(chain.min_seal_time_ms * 1000),
        sync_status_us=round((chain.sync_status_ms or 0) * 1000),
        execute_first=chain.is_v2(),
        empty_block_us=round(chain.empty_block_ms() * 1000) if chain.is_v2() else 0,
        dynamic_block_size=chain.is_v2(),
        batch_verify=chain.verify_mode == "batch",
    )

    watchers: dict[tuple[str, int], list[Callable[[], None]]] = {}

    def on_seal(node: NodeContext, proposal: Any) -> None:
        blocks.sealed(proposal.index, proposal.view, proposal.leader, len(proposal.tx_ids),
                      env.now, node.name)
        if watchers:
            for run in watchers.pop(("sealed", proposal.index), ()):
                run()

    def on_commit(node: NodeContext, number: int, entry: LedgerEntry) -> None:
        honest = node.name not in dishonest
        block_hash = entry.block.hash
        if node.index >= 0:  # a sealer: every sealer's commit puts the block on the chain
            blocks.committed(number, block_hash, env.now, node.net_id, honest)
            if watchers and honest:
                for run in watchers.pop(("committed", number), ()):
                    run()
        if honest:  # a byzantine node's chain proves nothing
            safety.check(node.name, number, block_hash)
            if node.index < 0:  # an observer follows: how far behind the first sealer's commit
                row = blocks.rows.get(number)
                if row is not None and row.first_commit_us >= 0:
                    node.stats.follow_lag_us.append(env.now - row.first_commit_us)
        table.record_commit(entry.proposal.tx_ids, number, node.net_id, env.now)

    methods = workload.methods()
    method_cost_us = release_cost_us(methods, chain.version)  # 2.x's EVM is slower
    method_state_reads = methods.charged_reads
    if chain.execution_us_per_tx is not None:
        # One figure for a call's whole execution, its state reads included.
        method_cost_us = np.full(len(methods), chain.execution_us_per_tx, dtype=np.float64)
        method_state_reads = None
    shared = Shared(
        votes=(VoteBoard(env, _net_weights(len(names), ordered, weights), quorum(weights))
               if scenario.network.votes == "aggregate" else None),
        env=env,
        network=network,
        table=table,
        params=params,
        sealer_net_ids=list(ordered),
        on_commit=on_commit,
        on_seal=on_seal,
        verdicts=None if real is None else real.verdicts_for(table, own_verifier=not first),
        trace=trace,
        coalition=byzantine.Coalition(len(ordered)),
        byzantine_send=byzantine.send,
        sealer_index={net_id: index for index, net_id in enumerate(ordered)},
        forged_verdicts=forged_verdicts(real, table, scenario.seed),
        follower_net_ids=sorted(positions[name] for name in group.observers + group.light),
        group_id=group.id,
        real=real,
        first_commit_us=lambda number: (
            blocks.rows[number].first_commit_us if number in blocks.rows else -1),
        weights=tuple(weights),
        quorum=quorum(weights),
        suite=suite,
        merkle_roots=bool(light_positions) or real is not None,
        methods=methods,
        method_cost_us=method_cost_us,
        method_state_reads=method_state_reads,
        executor_mode=("pte" if chain.is_v2() else
                       "serial" if chain.is_serial_execute else "dag"),
        merkle_width=WIDTH_V2 if chain.is_v2() else WIDTH_V3,
        genesis=genesis_block(suite, [node_ids[i] for i in ordered], weights),
    )
    node_at: dict[int, Node] = {}
    for position in member_positions:
        core = None
        if position in consensus_index:
            factory = _core_factory(consensus_index[position], weights, chain, trace is not None)
            core = factory(0, recovering=False)
        pool = TxPool(
            table,
            limit=chain.pool_limit(),
            block_limit=chain.block_limit,
            expiry_us=int(chain.tx_expiry_s * US),
        )
        node = Node(position, names[position], shared, cpus[position], costs[position], pool,
                    core)
        if core is not None:
            node.core_factory = factory  # a restart builds the core again
        if names[position] in dishonest:
            # one stream per physical node and group: spawned in group order, deterministic
            node.byzantine_rng = np.random.default_rng(byzantine_seqs[position].spawn(1)[0])
        node_at[position] = node
    light_nodes = []
    for position in light_positions:
        node = LightNode(position, names[position], shared, cpus[position], costs[position],
                         scenario.light.verify_signatures, scenario.light.max_headers)
        node_at[position] = node  # type: ignore[assignment]
        light_nodes.append(node)
    # The network hands a message to node ``dst`` of this group: ``shared.nodes[dst]``.
    shared.nodes = [node_at.get(i) for i in range(len(names))]  # type: ignore[misc]
    if shared.votes is not None:
        nodes_of = shared.nodes
        shared.votes.bind(
            lambda dst, arrivals, senders, votes, envelope:
                nodes_of[dst].receive_votes(arrivals, senders, votes, envelope),
            lambda dst, arrivals, sizes, envelope:
                nodes_of[dst].late_votes(arrivals, sizes, envelope))
    nodes = [node_at[i] for i in member_positions]
    blocks.watch([node_at[i] for i in ordered if names[i] not in dishonest])

    if workload.targets == "all":
        targets = sorted(member_positions + light_positions)
    elif workload.targets == "sealers":
        targets = sorted(sealer_positions)
    else:
        targets = [positions[name] for name in workload.targets]
    client_seqs = clients_seq.spawn(workload.clients)
    clients = build_clients(workload, targets, [np.random.default_rng(seq) for seq in client_seqs],
                            corpus=real, methods=methods)
    hop_us = round(workload.client_latency_ms * 1000)
    query_rng = (np.random.default_rng(clients_seq.spawn(1)[0])
                 if workload.query_rate > 0 and light_nodes else None)
    end_of_workload = int(scenario.duration_s * US)
    return World(
        scenario=scenario,
        env=env,
        network=network,
        table=table,
        nodes=nodes,
        sealers=[node_at[i] for i in ordered],
        clients=clients,
        blocks=blocks,
        safety=safety,
        quorum=quorum(weights),
        tick_us=max(1, int(workload.tick_ms * 1000)),
        end_of_workload_us=end_of_workload,
        end_us=end_of_workload + int(scenario.drain_s * US),
        trace=trace,
        real=real,
        fault_log=fault_log,
        group_id=group.id,
        node_at=node_at,
        light_nodes=light_nodes,
        query_rate=workload.query_rate,
        query_rng=query_rng,
        block_watchers=watchers,
        client_mode=workload.mode,
        client_hop_us=hop_us,
        backlog=Backlog(clients, hop_us) if workload.mode == "closed" else None,
    )


def _net_weights(count: int, ordered: Any, weights: list[int]) -> list[int]:
    """Each network position's consensus weight (0 for a node that does not vote)."""
    out = [0] * count
    for index, net_id in enumerate(ordered):
        out[net_id] = weights[index]
    return out


def _core_factory(index: int, weights: list[int], chain: Any, events: bool) -> Any:
    """Builds a sealer's PBFT core: at the start, and again after a restart or a block sync,
    from its ledger's height, recovering the current view from its peers. ``events``: the core
    tells the trace its steps (only when tracing)."""

    def build(committed_index: int, recovering: bool = True) -> PbftCore:
        return PbftCore(
            index=index,
            weights=weights,
            # 2.x: one block in flight, a new leader at every block (docs/fisco2.md)
            leader_period=1 if chain.is_v2() else chain.leader_period,
            pipeline_size=1 if chain.is_v2() else chain.pipeline_size,
            execute_first=chain.is_v2(),
            timeout_us=int(chain.consensus_timeout_ms * 1000),
            committed_index=committed_index,
            events=events,
            recovering=recovering,
        )

    return build


def _build_network(scenario: Any, env: simpy.Environment, count: int, names: list[str],
                   seed_seq: np.random.SeedSequence, trace: Any) -> Network:
    net = scenario.network
    topo_seq, links_seq = seed_seq.spawn(2)
    latency = LatencyModel(net.latency.distribution, net.latency.mean_ms, net.latency.std_ms)
    topology = net.topology
    regions = None
    if topology.regions is not None:
        regions = {region: [names.index(n) for n in members]
                   for region, members in topology.regions.items()}
    graph = build_topology(
        topology.kind,
        count,
        latency=latency,
        degree=topology.degree,
        regions=regions,
        latency_ms_matrix=topology.latency_ms_matrix,
        rng=np.random.default_rng(topo_seq),
    )
    hosts = scenario.nodes.host_of() if scenario.nodes.shares_hosts else None
    loopback_ms, loopback_bps = net.loopback()
    if hosts is not None:
        # Nodes of one machine reach each other over loopback (docs/hosts.md).
        loopback = LatencyModel("constant", loopback_ms)
        for u, v in graph.edges:
            if hosts[u] == hosts[v]:
                graph.edges[u, v]["latency"] = loopback
    return Network(
        env,
        graph,
        bandwidth_bps=[
            (spec.bandwidth_mbps or net.bandwidth_mbps) * 1e6 for spec in scenario.nodes.specs()
        ],
        loss_rate=net.loss_rate,
        seed_seq=links_seq,
        tracer=trace,
        hosts=hosts,
        loopback_bps=loopback_bps,
        latency_per_sender=net.votes == "aggregate",
    )


def _host_cpus(nodes: Any, names: list[str], costs: list[Any]) -> list[Any]:
    """Each node's CPU: its own, or its share of its machine's when it shares one with other
    nodes (:class:`~fiscosim.node.cpu.HostShare`, docs/hosts.md)."""
    host_of = nodes.host_of()
    counts = np.bincount(host_of)
    machines: dict[int, Cpu] = {}
    cpus: list[Any] = []
    for i, cost in enumerate(costs):
        host = host_of[i]
        if counts[host] == 1:
            cpus.append(Cpu(cost.cores))
            continue
        machine = machines.get(host)
        if machine is None:
            machine = machines[host] = Cpu(cost.cores)
        cpus.append(HostShare(machine, f"{names[i]}/"))
    return cpus
