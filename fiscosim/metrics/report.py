"""The run report printed by ``fiscosim run``: a Caliper-style table and a few key figures."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _cpu(cpu: dict[str, float]) -> str:
    if len(cpu) <= 8:
        return ", ".join(f"{name} {u:.0%}" for name, u in cpu.items())
    return f"mean {sum(cpu.values()) / len(cpu):.0%}, max {max(cpu.values()):.0%}"


_QUALIFIERS = {
    "verifier": "the verification pool over all cores",
    "txpool": "transaction verification over all cores",
    "pbft": "the one PBFT thread",
    "storage": "block commits to storage, one at a time",
    "sealer": "the sealer thread",
    "rpc": "the RPC thread encoding pushes",
    "uplink": "its machine's uplink serialising",
    "downlink": "what its machine received, at the uplink's rate",
    "loopback": "its machine's loopback",
}


def _qualifier(lane: str, threads: float | None) -> str:
    """Why a lane's utilisation means what it does (serial, pool, link)."""
    name = lane.rsplit("/", 1)[-1]
    if name == "executor":
        if threads is None or threads < 1.05:
            return " (serial execution)"
        return f" (DAG execution, {threads:.1f} threads on average)"
    text = _QUALIFIERS.get(name)
    return f" ({text})" if text else ""


_COSTS_OF_KIND = {
    "verification": ("verify_secp256k1", "verify_sm2", "verify_secp256k1_batch_row",
                     "verify_secp256k1_batch_msm", "txpool_insert_per_tx",
                     "txpool_lookup_per_tx"),
    "execution": ("storage_read_per_key",),
    "storage": ("storage_write_per_key", "storage_commit_per_block"),
    "consensus": ("sign_secp256k1", "sign_sm2", "msgpack_encode_per_kb",
                  "msgpack_decode_per_kb", "keccak256_per_kb", "sm3_per_kb"),
}
"""The profile costs a kind of lane charges (docs/profiles.md), to say where a bound's come from."""


def _bound_costs(summary: dict[str, Any], kind: str) -> str:
    """The costs behind a bound and their provenance: the ones it charges that are assumed,
    named; how many are measured or derived."""
    costs = dict(summary.get("costs") or {})
    calls = costs.pop("contract_calls", {})
    costs.pop("release", None)
    assumed: list[str] = []
    sourced: set[str] = set()
    if kind == "execution":
        for name, call in calls.items():
            if call["source"] == "assumed":
                assumed.append(f"{name} {call['us']:g} µs")
            else:
                sourced.add(f"{name} ({call['source']})")
    for profile in costs.values():
        for name in _COSTS_OF_KIND.get(kind, ()):
            source = profile.get("provenance", {}).get(name)
            if source == "assumed":
                assumed.append(f"{name} {profile['assumed_us'][name]:g} µs")
            elif source is not None:
                sourced.add(f"{name} ({source})")
    if not assumed and not sourced:
        return ""
    parts = []
    if assumed:
        parts.append("assumed: " + ", ".join(dict.fromkeys(assumed)))
    if sourced:
        parts.append(", ".join(sorted(sourced)))
    return f" [costs: {'; '.join(parts)}]"


def _resources(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """A node's lanes and links, busiest first (ties in name order)."""
    items = [*entry["lanes"].items(),
             *((link, entry[link]) for link in ("uplink", "downlink", "loopback")
               if link in entry)]
    return sorted(items, key=lambda item: (-item[1], item[0]))


def _bound(summary: dict[str, Any]) -> str:
    """The bound of the run in words: the saturated resource, the next busiest, the backlog
    (docs/bottleneck.md)."""
    util = summary.get("utilisation") or {}
    top = util.get("max")
    saturation = summary.get("saturation") or {}
    if not top:
        return "nothing measured (an empty window)"
    node, resource = top["resource"].split(".", 1)
    entry = util["nodes"][node]
    others = ", ".join(f"{name} {value:.0%}" for name, value in
                       [item for item in _resources(entry) if item[0] != resource][:2])
    growth = saturation.get("backlog_growth", 0.0)
    full = saturation.get("pool_full_ratio", 0.0)
    backlog = ("backlog steady" if abs(growth) < 0.005 else
               f"backlog {'grows' if growth > 0 else 'shrinks'} {abs(growth):.0%} of the "
               "offered rate")
    if full:
        backlog += f"; TxPoolIsFull for {full:.1%} of the window's submissions"
    flag = " (saturated)" if saturation.get("saturated") else " (keeping up)"
    bound = summary.get("bound_by")
    if bound == "cpu":
        busiest = max(util["nodes"].items(),
                      key=lambda item: max(item[1]["cpu"], item[1].get("host_cpu", 0.0)))
        cores = max(busiest[1]["cpu"], busiest[1].get("host_cpu", 0.0))
        lanes = ", ".join(f"{name} {value:.0%}" for name, value in
                          _resources(busiest[1])[:3])
        return (f"cpu: {busiest[0]}'s cores busy {cores:.0%} of the window, no one lane "
                f"saturated ({lanes}); {backlog}{flag}")
    if bound == "consensus" and top.get("kind") != "consensus":
        return (f"consensus: no resource saturated (busiest {node} {resource} "
                f"{top['utilisation']:.0%}), yet {backlog}{flag}: the protocol's critical path "
                "bounds it (blocks in flight × each block's rounds, execution and write in a "
                "row; block size, min_seal_time), not a busy resource")
    if bound is not None:
        return (f"{bound}: {node} {resource} busy {top['utilisation']:.0%} of the window"
                f"{_qualifier(resource, top.get('threads'))}{_bound_costs(summary, bound)}; "
                f"{others}; {backlog}{flag}")
    return f"not saturated: busiest {node} {resource} {top['utilisation']:.0%}"


def _speed(summary: dict[str, Any]) -> str:
    return (f"{summary['sim_time_s']:,.1f} s simulated in {summary['wall_time_s']:,.2f} s wall "
            f"({_fmt(summary['sim_speed'])}× real time), {summary['events']:,} events")


_STATE_WORDS = (
    ("committed", "committed"),
    ("committed_without_receipt", "on chain without receipt"),
    ("rejected", "rejected"),
    ("expired", "expired"),
    ("lost", "lost"),
    ("pending", "pending"),
)


def _states(summary: dict[str, Any]) -> str:
    """Where every submitted transaction ended (the states add up to the submitted)."""
    states = summary["txs_by_state"]
    parts = ", ".join(f"{states[key]:,} {words}" for key, words in _STATE_WORDS)
    return f"{summary['txs_submitted']:,} submitted: {parts}"


def _safety(safety: dict[str, Any], ok_text: str) -> str:
    status = safety.get("status", "ok" if safety["ok"] else "violated")
    if status == "violated":
        return f"[bold red]VIOLATED[/]: {safety['violations'][0]}"
    if status == "ok":
        return ok_text
    groups = safety.get("not_checked_groups")
    where = f" in {', '.join(groups)}" if groups else ""
    return f"[bold yellow]not checked[/]{where}: fewer than two honest nodes to compare"


def _caliper(summary: dict[str, Any]) -> Table:
    caliper = Table(title=f"fiscosim · {summary['scenario']} · seed {summary['seed']}")
    for column in ("Name", "Succ", "Fail", "Send Rate (TPS)", "Max Latency (ms)",
                   "Min Latency (ms)", "Avg Latency (ms)", "p99 Latency (ms)", "Throughput (TPS)"):
        caliper.add_column(column, justify="right" if column != "Name" else "left")
    rows = summary.get("groups", {"transfer": summary})
    for name, row in rows.items():
        latency = row["latency_ms"]
        caliper.add_row(
            name,
            _fmt(row["txs_committed"]),
            _fmt(row["txs_rejected"]),
            _fmt(row["send_rate_tps"]),
            _fmt(latency["max"]),
            _fmt(latency["min"]),
            _fmt(latency["mean"]),
            _fmt(latency["p99"]),
            _fmt(row["tps"]),
        )
    return caliper


def print_report(summary: dict[str, Any], console: Console) -> None:
    """Prints the Caliper-like table (Succ, Fail, Send Rate, latencies, Throughput) and more.

    A run of several groups gets one row per group, then each group's figures."""
    console.print(_caliper(summary))
    if "groups" in summary:
        _print_groups(summary, console)
        return
    latency = summary["latency_ms"]

    details = Table(show_header=False, box=None, pad_edge=False)
    details.add_column(style="bold")
    details.add_column()
    details.add_row("network", f"{summary['nodes']} nodes, {summary['sealers']} sealers, "
                               f"quorum {summary['quorum']}")
    details.add_row("blocks", f"{summary['blocks']} committed; interval "
                              f"{_fmt(summary['block_interval_ms']['mean'])} ms; "
                              f"{_fmt(summary['txs_per_block']['mean'])} txs/block")
    details.add_row("latency", f"p50 {_fmt(latency['p50'])} ms, p95 {_fmt(latency['p95'])} ms, "
                               f"p99 {_fmt(latency['p99'])} ms")
    details.add_row("transactions", _states(summary))
    if summary["rejected_by_reason"]:
        details.add_row("rejected", ", ".join(f"{k} {v:,}" for k, v in
                                              summary["rejected_by_reason"].items()))
    if summary["expired_by_reason"]:
        details.add_row("expired", ", ".join(f"{k} {v:,}" for k, v in
                                             summary["expired_by_reason"].items()))
    messages = summary["messages"]
    details.add_row("messages", ", ".join(
        f"{kind} {entry['count']:,} ({entry['bytes'] / 1e6:,.1f} MB)"
        for kind, entry in messages.items()))
    details.add_row("CPU", _cpu(summary["cpu_utilisation"]))
    checks = summary.get("batch_verification")
    if checks is not None:
        details.add_row("signatures", escape(
            f"batch verifier (chain.verify_mode: batch): {checks['rows_batched']:,} rows in "
            f"{checks['batches']:,} sums, {checks['rows_recovered']:,} recovered one by one "
            "(senders not cached yet, or batches too small to sum)"))
    details.add_row("bound by", escape(_bound(summary)))
    views = summary["view_changes"]
    if views["node_view_changes"]:
        details.add_row("view changes", f"reached view {views['final_view']}; "
                        f"{views['node_view_changes']} node view changes, mean "
                        f"{_fmt(views['mean_s'])} s, max {_fmt(views['max_s'])} s; "
                        f"longest stall {_fmt(summary['max_stall_s'])} s"
                        + (f"; {views['empty_blocks']:,} empty blocks (FISCO 2.x: each "
                           "changes the view)" if views["empty_blocks"] else ""))
    byzantine = summary["byzantine"]
    if byzantine["nodes"]:
        details.add_row("byzantine", f"{', '.join(byzantine['nodes'])}: "
                        f"{byzantine['equivocations']:,} equivocations, "
                        f"{byzantine['messages_withheld']:,} messages withheld; caught "
                        f"{byzantine['forged_messages_rejected']:,} forged messages, "
                        f"{byzantine['forged_txs_rejected']:,} forged transactions")
    light = summary.get("light")
    if light:
        for name, node in light["nodes"].items():
            lag = node["header_lag_ms"] or {}
            queries = ", ".join(f"{what} {q['mean_ms']:.1f} ms" for what, q in
                                node["queries"].items())
            full = _fmt(light["full_node_storage_per_block_bytes"])
            details.add_row(name, f"light: height {node['height']}, header lag "
                            f"{_fmt(lag.get('mean'))} ms, {_fmt(node['storage_per_block_bytes'])}"
                            f" B/block (full node {full}); queries {queries or 'none'}; "
                            f"forged caught {node['forged_caught']}")
    details.add_row("safety", _safety(
        summary["safety"], "ok: no two honest nodes committed different blocks at one height"))
    _warnings(summary, details)
    details.add_row("run", _speed(summary))
    console.print(details)


def _warnings(summary: dict[str, Any], details: Table) -> None:
    """One row for the settings the run accepted that changed nothing (summary's warnings)."""
    warnings = summary.get("warnings")
    if warnings:
        details.add_row("warnings", "[bold yellow]" + escape("; ".join(warnings)) + "[/]")
    _assumed_costs(summary, details)


def _assumed_costs(summary: dict[str, Any], details: Table) -> None:
    """One row naming the costs the run charged that are assumptions, not measurements."""
    parts = []
    costs = dict(summary.get("costs") or {})
    calls = costs.pop("contract_calls", {})
    release = costs.pop("release", None)
    if release:
        parts.append(f"FISCO {release['version']}: " + ", ".join(
            f"{name} ({text})" for name, text in release["assumed"].items()))
    assumed_calls = {name: call["us"] for name, call in calls.items()
                     if call["source"] == "assumed"}
    if assumed_calls:
        parts.append("contract calls: " + ", ".join(f"{name} {us:g} µs"
                                                    for name, us in assumed_calls.items()))
    for name, profile in costs.items():
        assumed = profile.get("assumed_us") or {}
        if assumed:
            parts.append(f"{name}: " + ", ".join(f"{cost} {value:g} µs"
                                                  for cost, value in assumed.items()))
    if parts:
        details.add_row("assumed costs", escape("; ".join(parts)) + " (docs/profiles.md)")


def _print_groups(summary: dict[str, Any], console: Console) -> None:
    details = Table(show_header=False, box=None, pad_edge=False)
    details.add_column(style="bold")
    details.add_column()
    for gid, group in summary["groups"].items():
        latency = group["latency_ms"]
        details.add_row(gid, f"{group['sealers']} sealers, quorum {group['quorum']}; "
                             f"{group['blocks']} blocks, interval "
                             f"{_fmt(group['block_interval_ms']['mean'])} ms, "
                             f"{_fmt(group['txs_per_block']['mean'])} txs/block; latency p50 "
                             f"{_fmt(latency['p50'])} ms, p99 {_fmt(latency['p99'])} ms; "
                             f"max stall {_fmt(group['max_stall_s'])} s")
        details.add_row("", _states(group))
    details.add_row("messages", f"{summary['messages_total']:,} "
                                f"({summary['bytes_total'] / 1e6:,.1f} MB), all groups")
    details.add_row("CPU", _cpu(summary["cpu_utilisation"]))
    details.add_row("bound by", escape(_bound(summary)))
    details.add_row("safety", _safety(summary["safety"], "ok in every group"))
    _warnings(summary, details)
    details.add_row("run", _speed(summary))
    console.print(details)
