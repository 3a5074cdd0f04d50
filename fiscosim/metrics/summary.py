"""The summary of a run: throughput, latency, blocks, rejections, messages, CPU, speed.

Everything is computed with array operations over the run-wide transaction table. The
*measured window* is [warm-up, end of workload): TPS counts receipts that reached their
clients inside it, latency covers the transactions sent inside it that got a receipt: from the
client's send to the receipt at the client, i.e. the RPC node's commit plus the client hop
(``workload.client_latency_ms``; the batch's way to the node is in the commit time already,
docs/clients.md). Keys with wall-clock values are listed in :data:`WALL_CLOCK_KEYS`;
everything else is a pure function of the scenario and its seed. ``utilisation``, ``bound_by``
and ``saturation`` say what limited the run (:mod:`fiscosim.metrics.utilisation`,
docs/bottleneck.md).

Every transaction ends the run in exactly one state (:func:`tx_states`, ``txs_by_state``; the
rules are in docs/results.md): committed (with a receipt), committed without a receipt (on
the chain, its RPC node never answered), rejected (told to the client, not on the chain),
expired (dropped unsealed by the pools), lost (held by no node that is up) or pending (held by
a node that is up, or still being verified by its RPC node).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from fiscosim.contracts.release import v2_evm_scale
from fiscosim.execution.block import PTE_SERIAL_SHARE
from fiscosim.metrics.utilisation import bound_by, saturation, utilisation
from fiscosim.node.costs import BATCH_VERIFY_FIELDS
from fiscosim.node.txpool import (
    PENDING,
    REJECT_BY_CODE,
    REJECT_CODES,
    SEALED,
    UNKNOWN,
    Reject,
)

NOT_CHECKED = "not checked"
"""The safety status of a group with fewer than two honest nodes: nothing to compare."""

WALL_CLOCK_KEYS = ("wall_time_s", "sim_speed")
"""Summary keys that depend on the host, not on the scenario and seed."""


def _ms(values_us: np.ndarray) -> dict[str, float]:
    if len(values_us) == 0:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None, "min": None}
    ms = values_us.astype(np.float64) / 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(ms.mean()), 3),
        "max": round(float(ms.max()), 3),
        "min": round(float(ms.min()), 3),
    }


STATES = ("committed", "committed_without_receipt", "rejected", "expired", "lost", "pending")
"""The end states of a transaction, in the order they are decided (the first that applies)."""

_TIMEOUT = REJECT_CODES[Reject.TransactionPoolTimeout]
_TOO_LATE = REJECT_CODES[Reject.BlockLimitCheckFail]


def tx_states(world: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each transaction's end state: a boolean mask per :data:`STATES` (they partition the
    table), and the reason code per row for the rejected and expired ones (−1 elsewhere).

    The first that applies decides: a receipt → committed; on the chain → committed without
    receipt; a rejection told to the client → rejected; held PENDING (and still sealable) or
    SEALED by the pool of a node that is up, or not yet decided by an RPC node that has been up
    since it was submitted (its verification is under way) → pending; dropped unsealed by a pool
    (``TxPool.take``: older than ``tx_expiry_s`` or past its block limit), or held PENDING by a
    live pool that would drop it so at its next sealing → expired; anything else → lost (only
    crashed nodes held it). Array operations per node, no loop per transaction.
    """
    table = world.table
    count = table.count
    ids = np.arange(count, dtype=np.int64)
    now = world.env.now
    submit = table.column("submit_time")
    limits = table.column("block_limit")
    rpc = table.column("rpc_node")
    held = np.zeros(count, dtype=bool)
    stale = np.zeros(count, dtype=bool)
    stale_reason = np.full(count, -1, dtype=np.int16)
    admitting = np.zeros(count, dtype=bool)
    for node in world.nodes:
        if not node.up:
            continue
        pool = node.pool
        state = pool.states(ids)
        waiting = state == PENDING
        # What this pool would drop at its next sealing (TxPool.take) is not waiting for the
        # chain any more: FISCO's pool drops it there, or at its periodic clean-up.
        too_old = waiting & (now - submit > pool.expiry_us)
        too_late = waiting & ~too_old & (limits < node.height + 1)
        held |= (state == SEALED) | (waiting & ~too_old & ~too_late)
        stale_reason[too_old & (stale_reason < 0)] = _TIMEOUT
        stale_reason[too_late & (stale_reason < 0)] = _TOO_LATE
        stale |= too_old | too_late
        # The RPC node answers every transaction of its clients, in order, once verified; one
        # it has not yet decided is on its way into its pool, unless the node restarted since
        # (a fresh pool never saw it: the crash lost it).
        admitting |= (rpc == node.net_id) & (state == UNKNOWN) & (ids >= pool.since_id)
    for light in world.light_nodes:
        # A light node forwards what its clients send; while it is up the forward is on its way.
        if light.up:
            admitting |= rpc == light.net_id

    receipt = table.column("receipt_time") >= 0
    on_chain = table.column("commit_block") >= 0
    rejected = (table.column("reject_reason") >= 0) & ~on_chain
    open_ = ~on_chain & ~rejected
    pending = open_ & (held | admitting)
    dropped = table.column("drop_reason") >= 0
    expired = open_ & ~pending & (dropped | stale)
    lost = open_ & ~pending & ~expired
    reasons = np.full(count, -1, dtype=np.int16)
    reasons[rejected] = table.column("reject_reason")[rejected]
    reasons[expired] = np.where(dropped, table.column("drop_reason"), stale_reason)[expired]
    masks = {
        "committed": receipt,
        "committed_without_receipt": on_chain & ~receipt,
        "rejected": rejected,
        "expired": expired,
        "lost": lost,
        "pending": pending,
    }
    return masks, reasons


def _by_reason(reasons: np.ndarray, mask: np.ndarray) -> dict[str, int]:
    if not mask.any():
        return {}
    counts = np.bincount(reasons[mask], minlength=len(REJECT_BY_CODE))
    return {REJECT_BY_CODE[i].name: int(n) for i, n in enumerate(counts) if n}


def scenario_label(name: str, overrides: Sequence[str] = ()) -> str:
    """The scenario's name, marked when ``--set`` changed it: ``quickstart (+2 overrides)``."""
    if not overrides:
        return name
    return f"{name} (+{len(overrides)} override{'s' if len(overrides) != 1 else ''})"


def summarise(world: Any, wall_time_s: float, digest: str,
              overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The summary dict written to ``summary.json`` (see the module docstring).

    ``overrides`` (the ``--set`` texts) are listed, and counted in the scenario's name."""
    scenario = world.scenario
    table = world.table
    start_us = int(scenario.warmup_s * 1_000_000)
    end_us = world.end_of_workload_us
    window_s = (end_us - start_us) / 1e6

    submit = table.column("submit_time")  # when the client sent it
    committed = table.column("receipt_time") >= 0
    # When the receipt reached the client: one hop after the RPC node's commit.
    receipt = table.column("receipt_time") + getattr(world, "client_hop_us", 0)
    reasons = table.column("reject_reason")
    in_window = (submit >= start_us) & (submit < end_us)
    receipts_in_window = committed & (receipt >= start_us) & (receipt < end_us)
    # FISCO's RPC pushes a transaction to the other sealers before its own pool admits it
    # (docs/fisco-reference.md §2.2), so a client can be told TxPoolIsFull about a transaction that
    # another leader then commits. It counts as committed; "rejected" means rejected and not on
    # chain.
    rejected_by_rpc = reasons >= 0
    latency_us = (receipt - submit)[in_window & committed]
    states, state_reasons = tx_states(world)
    by_state = {name: int(mask.sum()) for name, mask in states.items()}

    rows = world.blocks.committed_rows()
    measured_blocks = [row for row in rows if start_us <= row.commit_us < end_us]
    commit_times = np.array([row.commit_us for row in rows], dtype=np.int64)
    intervals = np.diff(commit_times[(commit_times >= start_us) & (commit_times < end_us)])
    txs_per_block = np.array([row.txs for row in measured_blocks], dtype=np.int64)

    # Liveness: the longest time without a new block while transactions were waiting. Gaps
    # are measured between first commits; the time after the last block counts when
    # transactions were still pending at the end: held by a node that is up, so that the
    # chain could still commit them (lost and expired ones cannot; on the chain without a
    # receipt is not waiting for the chain).
    stall_points = [0, *commit_times.tolist()]
    if by_state["pending"]:
        stall_points.append(int(world.env.now))
    first_submit = int(submit.min()) if len(submit) else 0
    gaps = [b - max(a, first_submit) for a, b in itertools.pairwise(stall_points)
            if b > first_submit]
    max_stall_s = round(max(gaps) / 1e6, 6) if gaps else 0.0

    stats = world.network.stats
    totals = stats.totals()
    # an aggregated vote (network.votes: aggregate) is counted as a message but runs no step
    network_events = (int(totals["delivered"]) + int(totals["dropped"])
                      - getattr(world.network, "aggregated", 0))
    messages = {
        kind: {"count": int(entry["sent"]), "bytes": int(entry["bytes_sent"])}
        for kind, entry in sorted(stats.by_kind().items())
    }
    sim_time_s = world.env.now / 1e6
    pools = [node.pool for node in world.nodes]
    node_rejections: dict[str, int] = {}
    for pool in pools:
        for name, n in pool.rejections().items():
            node_rejections[name] = node_rejections.get(name, 0) + n

    # What limited the run, over the same window (docs/bottleneck.md).
    util = utilisation([(node.name, node.cpu, node.net_id)
                        for _, node in sorted(world.node_at.items())],
                       world.network, start_us, end_us)
    offered = float(in_window.sum()) / window_s if window_s > 0 else 0.0
    saturated = saturation(table, {row.number: row.commit_us for row in rows}, start_us, end_us,
                           offered)

    return {
        "scenario": scenario_label(scenario.name, overrides),
        "overrides": list(overrides),
        "scenario_digest": digest,
        "seed": scenario.seed,
        "nodes": len(world.nodes),
        "sealers": len(world.sealers),
        "quorum": world.quorum,
        "window_s": window_s,
        "tps": round(float(receipts_in_window.sum()) / window_s, 3) if window_s > 0 else 0.0,
        "send_rate_tps": round(float(in_window.sum()) / window_s, 3) if window_s > 0 else 0.0,
        "latency_ms": _ms(latency_us),
        "blocks": len(rows),
        "blocks_in_window": len(measured_blocks),
        "block_interval_ms": {
            "mean": round(float(intervals.mean()) / 1000, 3) if len(intervals) else None,
            "p50": round(float(np.median(intervals)) / 1000, 3) if len(intervals) else None,
        },
        "txs_per_block": {
            "mean": round(float(txs_per_block.mean()), 3) if len(txs_per_block) else None,
            "max": int(txs_per_block.max()) if len(txs_per_block) else None,
        },
        "txs_submitted": int(table.count),
        "txs_committed": by_state["committed"],
        "txs_rejected": by_state["rejected"],
        "txs_pending_at_end": by_state["pending"],
        "txs_committed_without_receipt": by_state["committed_without_receipt"],
        "txs_rejected_by_rpc_but_committed": int((rejected_by_rpc & committed).sum()),
        "txs_by_state": by_state,
        "rejected_by_reason": _by_reason(state_reasons, states["rejected"]),
        "expired_by_reason": _by_reason(state_reasons, states["expired"]),
        "txpool_rejections_all_nodes": dict(sorted(node_rejections.items())),
        "messages": messages,
        "messages_total": sum(entry["count"] for entry in messages.values()),
        "bytes_total": sum(entry["bytes"] for entry in messages.values()),
        "cpu_utilisation": {
            node.name: round(node.cpu.utilisation(world.env.now), 4) for node in world.nodes
        },
        "utilisation": util,
        "bound_by": bound_by(util, saturated["saturated"]),
        "saturation": saturated,
        "costs": cost_provenance(world.nodes, world.scenario.chain),
        "view_changes_wanted": sum(node.stats.view_changes_wanted for node in world.nodes),
        "view_changes": _view_changes(world),
        "max_stall_s": max_stall_s,
        "faults": list(world.fault_log),
        # Settings the run accepted that change nothing (Scenario.warnings): said, not dropped.
        "warnings": scenario.warnings(),
        "signatures_verified": sum(node.stats.verified for node in world.nodes),
        "txs_fetched": sum(node.stats.fetched for node in world.nodes),
        **_batch_checks(world),
        "safety": _safety(world.safety.status, world.safety.violations,
                          world.safety.honest_nodes),
        "byzantine": _byzantine(world),
        "sync": _sync(world),
        "light": _light(world),
        "sim_time_s": round(sim_time_s, 6),
        "wall_time_s": round(wall_time_s, 3),
        "sim_speed": round(sim_time_s / wall_time_s, 3) if wall_time_s > 0 else None,
        # simpy's events plus the network's deliveries and drops, which it runs from its own
        # queue (fiscosim/net/network.py) rather than as one simpy event each
        "events": int(world.env.events_processed) + network_events,
    }


def _batch_checks(world: Any) -> dict[str, Any]:
    """``chain.verify_mode: batch``: how the nodes' signature checks split between batch sums
    and one-by-one recoveries (nothing in the default mode, whose summaries stay as they were)."""
    if getattr(world.scenario.chain, "verify_mode", "recover") != "batch":
        return {}
    stats = [node.stats for node in world.nodes]
    return {"batch_verification": {
        "rows_batched": sum(s.batch_checked for s in stats),
        "rows_recovered": sum(s.batch_recovered for s in stats),
        "batches": sum(s.batches for s in stats),
    }}


def _safety(status: str, violations: list[str], honest_nodes: int | None = None,
            **extra: Any) -> dict[str, Any]:
    """The summary's safety entry. ``ok`` is true, false (a violation: the CLI exits 3) or
    null when fewer than two honest nodes were there to compare (``status`` says
    ``"not checked"``): neither true nor a violation, so test it with ``is False``."""
    ok: bool | None = {"ok": True, "violated": False}.get(status)
    entry: dict[str, Any] = {"ok": ok, "status": status}
    if honest_nodes is not None:
        entry["honest_nodes"] = honest_nodes
    entry.update(extra)
    entry["violations"] = violations[:20]
    return entry


def _view_changes(world: Any) -> dict:
    """How many views the honest sealers went through, and how long their view changes took
    (each node's: from its ViewChange to entering the new view)."""
    dishonest = world.scenario.byzantine_nodes()
    honest = [node for node in world.sealers if node.name not in dishonest]
    durations = np.array([d for node in honest for d in node.stats.view_change_us],
                         dtype=np.float64) / 1e6
    return {
        "final_view": max((node.core.view for node in honest if node.core is not None),
                          default=0),
        "node_view_changes": len(durations),
        "mean_s": round(float(durations.mean()), 6) if len(durations) else None,
        "max_s": round(float(durations.max()), 6) if len(durations) else None,
        "empty_blocks": sum(node.stats.empty_blocks for node in honest),
    }


def _byzantine(world: Any) -> dict:
    """Who misbehaved and what the honest nodes caught (fiscosim.faults.byzantine)."""
    dishonest = world.scenario.byzantine_nodes()
    nodes = world.nodes
    return {
        "nodes": sorted(dishonest),
        "equivocations": sum(node.stats.equivocations for node in nodes),
        "messages_withheld": sum(node.stats.byzantine_dropped for node in nodes),
        "forged_messages_rejected": sum(node.stats.forged_messages_rejected for node in nodes),
        "forged_txs_rejected": sum(node.stats.forged_txs_rejected for node in nodes),
    }


def _sync(world: Any) -> dict:
    """Block sync: how many blocks nodes fetched, how long catching up took, and how far
    observers trail the sealers (docs/fisco-reference.md §7)."""
    catch_up = np.array([d for node in world.nodes for d in node.stats.catch_up_us],
                        dtype=np.float64) / 1e6
    observers = {}
    for node in world.nodes:
        if node.index >= 0:
            continue
        lag = np.array(node.stats.follow_lag_us, dtype=np.float64) / 1000
        observers[node.name] = {
            "height": node.height,
            "lag_ms": {"mean": round(float(lag.mean()), 3), "p99": round(
                float(np.percentile(lag, 99)), 3), "max": round(float(lag.max()), 3)}
            if len(lag) else None,
        }
    return {
        "blocks_synced": sum(node.stats.synced_blocks for node in world.nodes),
        "blocks_rejected": sum(node.stats.sync_rejected for node in world.nodes),
        "catch_ups": len(catch_up),
        "catch_up_s": {"mean": round(float(catch_up.mean()), 6),
                       "max": round(float(catch_up.max()), 6)} if len(catch_up) else None,
        "observers": observers,
    }


RUN_KEYS = ("scenario", "overrides", "scenario_digest", "seed", "messages", "messages_total",
            "bytes_total", "cpu_utilisation", "costs", "faults", "warnings", "sim_time_s",
            "wall_time_s", "sim_speed", "events")
"""Keys of a summary that describe the whole run, not one group (network, CPUs, clock)."""


def summarise_groups(world: Any, wall_time_s: float, digest: str,
                     overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The summary of a run of several groups: run-wide figures (network, CPUs, safety, speed)
    at the top, and under ``groups`` each group's own (its TPS, latency, blocks, view changes,
    sync), as :func:`summarise` computes it for one group. TPS and transaction counts at the
    top are the groups' sums."""
    first = summarise(world, wall_time_s, digest, overrides)
    groups: dict[str, Any] = {}
    for group in world.groups:
        one = first if group is world else summarise(group, wall_time_s, digest)
        groups[group.group_id] = {k: v for k, v in one.items() if k not in RUN_KEYS}
    violations = [f"{gid}: {v}" for gid, g in groups.items() for v in g["safety"]["violations"]]
    unchecked = [gid for gid, g in groups.items() if g["safety"]["status"] == NOT_CHECKED]
    # The run is safe only where every group was checked; a violation anywhere decides.
    status = "violated" if violations else NOT_CHECKED if unchecked else "ok"
    summary = {k: first[k] for k in ("scenario", "overrides", "scenario_digest", "seed")}
    # The machines as a whole: every group's lanes on each node's CPU, and the links.
    util = utilisation(list(zip(world.names, world.cpus, range(len(world.names)), strict=True)),
                       world.network, int(world.scenario.warmup_s * 1_000_000),
                       world.end_of_workload_us)
    summary.update({
        "nodes": len(world.names),
        "tps": round(sum(g["tps"] for g in groups.values()), 3),
        "send_rate_tps": round(sum(g["send_rate_tps"] for g in groups.values()), 3),
        "txs_submitted": sum(g["txs_submitted"] for g in groups.values()),
        "txs_committed": sum(g["txs_committed"] for g in groups.values()),
        "txs_rejected": sum(g["txs_rejected"] for g in groups.values()),
        "txs_pending_at_end": sum(g["txs_pending_at_end"] for g in groups.values()),
        "txs_by_state": {state: sum(g["txs_by_state"][state] for g in groups.values())
                         for state in STATES},
        "groups": groups,
        "messages": first["messages"],
        "messages_total": first["messages_total"],
        "bytes_total": first["bytes_total"],
        "cpu_utilisation": {
            name: round(cpu.utilisation(world.env.now), 4)
            for name, cpu in zip(world.names, world.cpus, strict=True)
        },
        "utilisation": util,
        "bound_by": bound_by(util, any(g["saturation"]["saturated"] for g in groups.values())),
        # the worst group's: one falling behind is the run falling behind
        "saturation": {
            "backlog_growth": max(g["saturation"]["backlog_growth"] for g in groups.values()),
            "pool_full_ratio": max(g["saturation"]["pool_full_ratio"] for g in groups.values()),
            "saturated": any(g["saturation"]["saturated"] for g in groups.values()),
        },
        "costs": first["costs"],
        "safety": _safety(status, violations, not_checked_groups=unchecked),
        "faults": first["faults"],
        "warnings": first["warnings"],
        "sim_time_s": first["sim_time_s"],
        "wall_time_s": first["wall_time_s"],
        "sim_speed": first["sim_speed"],
        "events": first["events"],
    })
    return summary


RELEASE_ASSUMPTIONS = {
    "2.9": {
        "rlp_codec": "2.x encodes transactions and blocks in RLP; fiscosim charges RLP at the "
                     "profile's msgpack_encode_per_kb and msgpack_decode_per_kb (docs/fisco2.md)",
    },
}
"""What a release's model assumes beyond its profile's costs: listed with the assumed costs."""

RELEASE_DERIVED = {
    "2.9": {
        "pte_serial_share": "{share} of each DAG transaction's cost on one thread, fitted to "
                            "fisco2-pte-precompiled-serial and -4core (fiscosim.execution.block)",
        "evm_call_scale": "Solidity calls x{scale:.2f}: 2.x's EVM, from fisco2-pte-solidity-serial "
                          "(fiscosim.contracts.release)",
    },
}
"""What a release charges differently, derived from published figures (docs/validation.md)."""


def cost_provenance(nodes: Sequence[Any], chain: Any = None) -> dict[str, Any]:
    """Per hardware profile the run used: its nodes, where each of its costs comes from
    (measured, published, derived, assumed or given: :data:`fiscosim.node.costs.
    PROVENANCE_SOURCES`), and the assumed costs with their values, which the report lists;
    under ``release``, what the release modelled (``chain.version``) assumes, if anything."""
    out: dict[str, Any] = {}
    version = getattr(chain, "version", None)
    # The batch verifier's costs are charged only with verify_mode: batch; listed only then.
    batch = getattr(chain, "verify_mode", "recover") == "batch"
    assumed = RELEASE_ASSUMPTIONS.get(version)
    if assumed:
        derived = {name: text.format(scale=v2_evm_scale(), share=PTE_SERIAL_SHARE)
                   for name, text in RELEASE_DERIVED.get(version, {}).items()}
        out["release"] = {"version": version, "assumed": dict(assumed), "derived": derived}
    for node in nodes:
        costs = getattr(node, "costs", None)
        if costs is None:
            continue
        profile = costs.profile
        entry = out.get(profile.name)
        if entry is None:
            entry = out[profile.name] = {
                "nodes": [],
                "cores": profile.cores,
                "assumed_us": {name: getattr(profile, name) for name in profile.assumed},
                "provenance": {name: where.source for name, where in profile.provenance
                               if batch or name not in BATCH_VERIFY_FIELDS},
            }
        entry["nodes"].append(node.name)
    calls = _contract_calls(nodes)
    if calls:
        out["contract_calls"] = calls
    return out


def _contract_calls(nodes: Sequence[Any]) -> dict[str, Any]:
    """The contract methods the workload calls (probability > 0): each call's execution cost
    as charged, its gas, where the cost comes from (the contract model's provenance, or
    ``given`` by ``chain.execution_us_per_tx``), the state reads charged on top of it (the
    profile's ``storage_read_per_key`` each) and the slots it writes (``storage_write_per_key``
    each at commit)."""
    shared = next((node.shared for node in nodes if getattr(node, "shared", None) is not None
                   and getattr(node.shared, "methods", None) is not None), None)
    if shared is None:
        return {}
    methods = shared.methods
    out = {}
    for i, name in enumerate(methods.names):
        if methods.probability[i] <= 0:
            continue
        contract = methods.contracts[int(methods.contract[i])]
        model = next(m for m in contract.methods if f"{contract.name}.{m.name}" == name)
        charged = float(shared.method_cost_us[i])
        if shared.method_state_reads is None:  # chain.execution_us_per_tx
            source = "given"
        elif charged != model.cost.us:  # 2.x's EVM (fiscosim.contracts.release)
            source = "derived"
        else:
            source = model.cost.source
        reads = shared.method_state_reads
        out[name] = {"us": round(charged, 3), "gas": int(methods.gas[i]),
                     "share": round(float(methods.probability[i]), 6),
                     "source": source,
                     "state_reads_charged": int(reads[i]) if reads is not None else 0,
                     "state_writes": int(methods.writes[i])}
    return out


def _light(world: Any) -> dict | None:
    """Light nodes (docs/fisco-reference.md §4.2): header lag, query latency, storage per block
    against a full
    node's, and the bytes full nodes served them. None without light nodes."""
    if not world.light_nodes:
        return None
    from fiscosim.node.light import RECEIPT_BYTES, LightHeader

    nodes = {}
    for node in world.light_nodes:
        lag = np.array(node.stats.header_lag_us, dtype=np.float64) / 1000
        queries = {}
        for what, values in sorted(node.stats.query_latency_us.items()):
            ms = np.array(values, dtype=np.float64) / 1000
            queries[what] = {"count": len(ms), "mean_ms": round(float(ms.mean()), 3),
                             "p99_ms": round(float(np.percentile(ms, 99)), 3)}
        nodes[node.name] = {
            "height": node.height,
            "header_lag_ms": {"mean": round(float(lag.mean()), 3),
                              "p99": round(float(np.percentile(lag, 99)), 3)} if len(lag) else None,
            "storage_bytes": node.stats.header_bytes,
            "storage_per_block_bytes": round(node.stats.header_bytes / node.stats.headers, 1)
            if node.stats.headers else None,
            "sync_bytes_per_block": round(node.stats.sync_bytes_in / node.stats.headers, 1)
            if node.stats.headers else None,
            "query_bytes": node.stats.query_bytes_in,
            "queries": queries,
            "forwarded_txs": node.stats.forwarded_txs,
            "forged_caught": node.stats.forged_caught,
        }
    # What a full node stores per block: the same header, the transactions, the receipts.
    full = world.sealers[0]
    table = world.table
    per_block = [
        LightHeader.of(entry).size()
        + int(table.size[entry.proposal.tx_ids].sum(dtype=np.int64))
        + RECEIPT_BYTES * len(entry.proposal.tx_ids)
        for entry in full.ledger.values()
    ]
    sent = world.network.stats.node_bytes_sent
    blocks = len(full.ledger)
    return {
        "nodes": nodes,
        "full_node_storage_per_block_bytes": round(float(np.mean(per_block)), 1)
        if per_block else None,
        # a sealer's uplink per block: PBFT, pushes, and what it serves (light nodes included)
        "full_node_sent_per_block_bytes": round(
            float(np.mean([sent[n.net_id] for n in world.sealers])) / blocks, 1)
        if blocks else None,
        "bytes_served_by_full_nodes": sum(node.stats.light_bytes_served for node in world.nodes),
    }
