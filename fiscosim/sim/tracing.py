"""What a run's trace needs from its built world: the ``run`` header (groups, nodes in FISCO
index order, the PBFT parameters), each node's state record, and the safety checks written at
the end (:class:`fiscosim.trace.recorder.TraceRecorder`, docs/trace.md)."""

from __future__ import annotations

from typing import Any

from fiscosim.schema import scenario_digest
from fiscosim.version import __version__


def trace_header(world: Any) -> dict[str, Any]:
    """The ``run`` record's fields (after ``ev`` and ``schema``)."""
    scenario = world.scenario
    chain = scenario.chain
    groups = []
    nodes: dict[str, dict[str, Any]] = {}
    for group in world.groups:
        sealers = [node.ctx.name for node in group.sealers]
        weights = list(group.sealers[0].shared.weights) if group.sealers else []
        total = sum(weights)
        groups.append({
            "id": group.group_id, "n": len(sealers), "weights": weights,
            "f": (total - 1) // 3 if total else 0, "quorum": group.quorum,
            "leader_period": chain.leader_period if not chain.is_v2() else 1,
            "timeout_ms": chain.consensus_timeout_ms,
            "pipeline": chain.pipeline_size if not chain.is_v2() else 1,
            "sealers": sealers,
        })
        for index, node in enumerate(group.sealers):
            entry = nodes.setdefault(node.ctx.name, _node_entry(node.ctx.name))
            entry["idx"][group.group_id] = index
            entry["role"] = "sealer"
            entry["weight"] = weights[index]
        for position, node in sorted(group.node_at.items()):
            name = world.names[position]
            entry = nodes.setdefault(name, _node_entry(name))
            if entry["role"] == "":
                entry["role"] = "light" if node in group.light_nodes else "observer"
    by_position = {name: i for i, name in enumerate(world.names)}
    ordered = sorted(nodes.values(), key=lambda e: by_position[e["id"]])
    return {
        "fiscosim": __version__, "seed": scenario.seed, "scenario": scenario.name,
        "config_sha256": scenario_digest(scenario), "time_unit": "us",
        "chain": chain.version, "groups": groups, "nodes": ordered,
    }


def _node_entry(name: str) -> dict[str, Any]:
    return {"id": name, "idx": {}, "role": "", "weight": 0, "label": name}


def state_function(world: Any):
    """``state_of(group, position)``: a node's state record's fields as its runtime gives them
    (:meth:`fiscosim.node.runtime.Node.trace_state`), ``None`` for a light node."""
    groups = {group.group_id: group for group in world.groups}

    def state_of(group_id: str, position: int) -> dict[str, Any] | None:
        group = groups.get(group_id)
        node = group.node_at.get(position) if group is not None else None
        trace_state = getattr(node, "trace_state", None)
        return trace_state() if trace_state is not None else None

    return state_of


def members(world: Any) -> dict[str, list[int]]:
    """Each group's full nodes by network position (whose state records the trace keeps)."""
    return {group.group_id: sorted(p for p, n in group.node_at.items()
                                   if n not in group.light_nodes)
            for group in world.groups}


def safety_checks(world: Any):
    """``checks()``: one ``check`` record per group, the safety checker's verdict at the end."""

    def checks() -> list[dict[str, Any]]:
        out = []
        for group in world.groups:
            safety = group.safety
            record: dict[str, Any] = {"ev": "check", "g": group.group_id, "prop": "safety",
                                      "ok": not safety.violations}
            if safety.violations:
                record["detail"] = "; ".join(safety.violations[:3])
            out.append(record)
        return out

    return checks
