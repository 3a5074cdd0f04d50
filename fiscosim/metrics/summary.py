"""The summary of a run: throughput, latency, blocks, rejections, messages, CPU, speed.

Everything is computed with array operations over the run-wide transaction table. The
*measured window* is [warm-up, end of workload): TPS counts receipts returned inside it,
latency covers the transactions submitted inside it that got a receipt (submission to the RPC
node's commit). Keys with wall-clock values are listed in :data:`WALL_CLOCK_KEYS`; everything
else is a pure function of the scenario and its seed.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from fiscosim.node.txpool import REJECT_BY_CODE

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


def summarise(world: Any, wall_time_s: float, digest: str) -> dict[str, Any]:
    """The summary dict written to ``summary.json`` (see the module docstring)."""
    scenario = world.scenario
    table = world.table
    start_us = int(scenario.warmup_s * 1_000_000)
    end_us = world.end_of_workload_us
    window_s = (end_us - start_us) / 1e6

    submit = table.column("submit_time")
    receipt = table.column("receipt_time")
    reasons = table.column("reject_reason")
    in_window = (submit >= start_us) & (submit < end_us)
    committed = receipt >= 0
    receipts_in_window = committed & (receipt >= start_us) & (receipt < end_us)
    # FISCO's RPC pushes a transaction to the other sealers before its own pool admits it
    # (FISCO.md §2.2), so a client can be told TxPoolIsFull about a transaction that another
    # leader then commits. It counts as committed; "rejected" means rejected and never committed.
    rejected_by_rpc = reasons >= 0
    rejected = rejected_by_rpc & ~committed
    latency_us = (receipt - submit)[in_window & committed]

    by_reason: dict[str, int] = {}
    if rejected.any():
        counts = np.bincount(reasons[rejected], minlength=len(REJECT_BY_CODE))
        by_reason = {REJECT_BY_CODE[i].name: int(n) for i, n in enumerate(counts) if n}

    rows = world.blocks.committed_rows()
    measured_blocks = [row for row in rows if start_us <= row.first_commit_us < end_us]
    commit_times = np.array([row.first_commit_us for row in rows], dtype=np.int64)
    intervals = np.diff(commit_times[(commit_times >= start_us) & (commit_times < end_us)])
    txs_per_block = np.array([row.txs for row in measured_blocks], dtype=np.int64)

    # Liveness: the longest time without a new block while transactions were waiting. Gaps
    # are measured between first commits; the time after the last block counts when
    # transactions were still pending at the end.
    stall_points = [0, *commit_times.tolist()]
    on_chain = table.column("commit_block") >= 0
    pending_at_end = int(table.count - committed.sum() - rejected.sum())
    # Waiting for the chain, not for a receipt: a transaction whose RPC node crashed may be on
    # the chain without its client ever hearing of it.
    if (~on_chain & ~rejected).any():
        stall_points.append(int(world.env.now))
    first_submit = int(submit.min()) if len(submit) else 0
    gaps = [b - max(a, first_submit) for a, b in itertools.pairwise(stall_points)
            if b > first_submit]
    max_stall_s = round(max(gaps) / 1e6, 6) if gaps else 0.0

    stats = world.network.stats
    totals = stats.totals()
    network_events = int(totals["delivered"]) + int(totals["dropped"])
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

    return {
        "scenario": scenario.name,
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
        "txs_committed": int(committed.sum()),
        "txs_rejected": int(rejected.sum()),
        "txs_pending_at_end": pending_at_end,
        "txs_committed_without_receipt": int((on_chain & ~committed).sum()),
        "txs_rejected_by_rpc_but_committed": int((rejected_by_rpc & committed).sum()),
        "rejected_by_reason": by_reason,
        "txpool_rejections_all_nodes": dict(sorted(node_rejections.items())),
        "messages": messages,
        "messages_total": sum(entry["count"] for entry in messages.values()),
        "bytes_total": sum(entry["bytes"] for entry in messages.values()),
        "cpu_utilisation": {
            node.name: round(node.cpu.utilisation(world.env.now), 4) for node in world.nodes
        },
        "view_changes_wanted": sum(node.stats.view_changes_wanted for node in world.nodes),
        "view_changes": _view_changes(world),
        "max_stall_s": max_stall_s,
        "faults": list(world.fault_log),
        "signatures_verified": sum(node.stats.verified for node in world.nodes),
        "txs_fetched": sum(node.stats.fetched for node in world.nodes),
        "safety": {"ok": not world.safety.violations, "violations": world.safety.violations[:20]},
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
    observers trail the sealers (FISCO.md §7)."""
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


RUN_KEYS = ("scenario", "scenario_digest", "seed", "messages", "messages_total", "bytes_total",
            "cpu_utilisation", "faults", "sim_time_s", "wall_time_s", "sim_speed", "events")
"""Keys of a summary that describe the whole run, not one group (network, CPUs, clock)."""


def summarise_groups(world: Any, wall_time_s: float, digest: str) -> dict[str, Any]:
    """The summary of a run of several groups: run-wide figures (network, CPUs, safety, speed)
    at the top, and under ``groups`` each group's own (its TPS, latency, blocks, view changes,
    sync), as :func:`summarise` computes it for one group. TPS and transaction counts at the
    top are the groups' sums."""
    first = summarise(world, wall_time_s, digest)
    groups: dict[str, Any] = {}
    for group in world.groups:
        one = first if group is world else summarise(group, wall_time_s, digest)
        groups[group.group_id] = {k: v for k, v in one.items() if k not in RUN_KEYS}
    violations = [f"{gid}: {v}" for gid, g in groups.items() for v in g["safety"]["violations"]]
    summary = {k: first[k] for k in ("scenario", "scenario_digest", "seed")}
    summary.update({
        "nodes": len(world.names),
        "tps": round(sum(g["tps"] for g in groups.values()), 3),
        "send_rate_tps": round(sum(g["send_rate_tps"] for g in groups.values()), 3),
        "txs_submitted": sum(g["txs_submitted"] for g in groups.values()),
        "txs_committed": sum(g["txs_committed"] for g in groups.values()),
        "txs_rejected": sum(g["txs_rejected"] for g in groups.values()),
        "groups": groups,
        "messages": first["messages"],
        "messages_total": first["messages_total"],
        "bytes_total": first["bytes_total"],
        "cpu_utilisation": {
            name: round(cpu.utilisation(world.env.now), 4)
            for name, cpu in zip(world.names, world.cpus, strict=True)
        },
        "safety": {"ok": not violations, "violations": violations[:20]},
        "faults": first["faults"],
        "sim_time_s": first["sim_time_s"],
        "wall_time_s": first["wall_time_s"],
        "sim_speed": first["sim_speed"],
        "events": first["events"],
    })
    return summary


def _light(world: Any) -> dict | None:
    """Light nodes (FISCO.md §4.2): header lag, query latency, storage per block against a full
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
    sealers = len(world.sealers)
    per_block = [
        LightHeader(n, b"", b"", b"", b"", b"", tuple(signers), sealers).size()
        + int(table.size[proposal.tx_ids].sum(dtype=np.int64))
        + RECEIPT_BYTES * len(proposal.tx_ids)
        for n, (proposal, _, signers) in full.ledger.items()
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
