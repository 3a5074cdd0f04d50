"""The scenario (:class:`Scenario`): a whole run, its cross-field checks and warnings, and its
digest (:func:`scenario_digest`, recorded in summary.json and manifest.json)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from fiscosim.schema.chain import ChainConfig
from fiscosim.schema.errors import Invalid, choices_hint, show
from fiscosim.schema.explain import validate
from fiscosim.schema.faults import FAULT_ROLES, FaultSpec
from fiscosim.schema.fields import MODEL, Float, Int
from fiscosim.schema.groups import GroupConfig, GroupSpec, ResolvedGroup
from fiscosim.schema.limits import MAX_RUN_S
from fiscosim.schema.network import NetworkConfig
from fiscosim.schema.nodes import NodesConfig, NodeSpec, check_hosts, check_profile
from fiscosim.schema.workload import LightConfig, WorkloadConfig, check_workloads, workload_warnings


class Scenario(BaseModel):
    """A complete, validated run description. Load one with :func:`load_scenario`."""

    model_config = MODEL

    version: Literal[1] = 1
    """The scenario schema's version. A file without it is version 1; a change to the schema
    that old files cannot follow raises it, so that loading an old file can say what to
    migrate."""
    name: str = Field(min_length=1)
    """The scenario's name, shown in reports and written to summary.json."""
    description: str = ""
    """One line on what the scenario models (text fields are at most 10,000 characters)."""
    seed: Int = Field(1, ge=0, le=2**63 - 1)
    """The one seed every random stream is spawned from (docs/architecture.md rule 6); a 64-bit
    integer, as JSON readers of summary.json store it."""
    duration_s: Float = Field(10, gt=0, le=MAX_RUN_S)
    """Simulated seconds of workload. At most a day: runs go at about real time."""
    warmup_s: Float = Field(2, ge=0, le=MAX_RUN_S)
    """The first seconds of the workload, excluded from TPS and latency; below duration_s."""
    drain_s: Float = Field(5, ge=0, le=MAX_RUN_S)
    """Simulated seconds after the workload stops, for in-flight transactions to commit. At
    most a day."""
    chain: ChainConfig = ChainConfig()
    nodes: NodesConfig
    group: GroupConfig = GroupConfig()
    network: NetworkConfig = NetworkConfig()
    workload: WorkloadConfig = WorkloadConfig()
    faults: list[FaultSpec] = []
    """Faults injected during the run, in any order (docs/scenario-reference.md: FaultSpec)."""
    light: LightConfig = LightConfig()
    groups: list[GroupSpec] | None = None
    """Several groups on these nodes (docs/fisco-reference.md §4). None: one group, ``group.id``,
    whose sealers and observers are the nodes' roles. With groups, a node's role comes from the
    groups it is in, and a node may be in several (sharing its CPU and bandwidth)."""

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: Any) -> Any:
        if type(value) is int and value > 1:
            raise Invalid((), f"scenario schema version {value} is newer than this fiscosim "
                           "reads", "this fiscosim reads version 1: upgrade fiscosim")
        if type(value) is not int or value != 1:
            raise Invalid((), f"{show(value)} is not a scenario schema version",
                           "write version: 1, or leave it out")
        return value

    def group_specs(self) -> list[ResolvedGroup]:
        """Every group with its members (in node order) and workload."""
        specs = self.nodes.specs()
        if self.groups is None:
            return [ResolvedGroup(
                id=self.group.id,
                sealers=[spec.name for spec in specs if spec.role == "sealer"],
                observers=[spec.name for spec in specs if spec.role == "observer"],
                light=[spec.name for spec in specs if spec.role == "light"],
                workload=self.workload,
            )]
        order = {spec.name: i for i, spec in enumerate(specs)}
        return [ResolvedGroup(
            id=group.id,
            sealers=sorted(group.sealers, key=order.__getitem__),
            observers=sorted(group.observers, key=order.__getitem__),
            light=sorted(group.light, key=order.__getitem__),
            workload=group.workload if group.workload is not None else self.workload,
        ) for group in self.groups]

    def _check_groups(self, specs: list, names: list[str]) -> None:
        assert self.groups is not None
        if not self.groups:
            raise Invalid("groups", "is an empty list", "leave groups out for one group")
        seen_ids: set[str] = set()
        in_some: set[str] = set()
        for g, group in enumerate(self.groups):
            if group.id in seen_ids:
                raise Invalid(("groups", g, "id"), f"group id {group.id!r} is used twice",
                               "give every group its own id")
            seen_ids.add(group.id)
            members: set[str] = set()
            for field_name in ("sealers", "observers", "light"):
                for i, name in enumerate(getattr(group, field_name)):
                    if name not in names:
                        raise Invalid(("groups", g, field_name, i), f"unknown node {name!r}",
                                       choices_hint(name, names, "nodes"))
                    if name in members:
                        raise Invalid(("groups", g, field_name, i),
                                       f"node {name!r} is in group {group.id!r} twice",
                                       "name each node once per group")
                    members.add(name)
            in_some |= members
            targets = (group.workload or self.workload).targets
            if isinstance(targets, list):
                for i, target in enumerate(targets):
                    if target not in members:
                        where = (("groups", g, "workload", "targets", i) if group.workload
                                 else ("workload", "targets", i))
                        raise Invalid(where, f"{target!r} is not in group {group.id!r}",
                                       choices_hint(target, sorted(members), "members"))
        idle = [name for name in names if name not in in_some]
        if idle:
            raise Invalid("groups", f"node {idle[0]!r} is in no group",
                           "add it to a group's sealers, observers or light, or remove it")
        if any(spec.role != "sealer" for spec in specs):
            raise Invalid("nodes", "a node has a role although groups are given",
                           "with groups, list observers and light nodes in each group instead")

    def byzantine_nodes(self) -> set[str]:
        """The nodes named in a byzantine fault: not honest for the safety checker."""
        return {name for fault in self.faults if fault.kind == "byzantine"
                for name in fault.nodes}

    @model_validator(mode="before")
    @classmethod
    def _regions_from_nodes(cls, data: Any) -> Any:
        # kind: regions without a regions map: gather it from the nodes' own region fields.
        try:
            topology = data["network"]["topology"]
            nodes = data["nodes"]["list"]
            if topology.get("kind") != "regions" or topology.get("regions") is not None:
                return data
            if not all(isinstance(n, Mapping) and isinstance(n.get("region"), str) for n in nodes):
                return data
        except (KeyError, TypeError, AttributeError):
            return data
        regions: dict[str, list[str]] = {}
        for node in nodes:
            regions.setdefault(node["region"], []).append(node.get("name"))
        data = dict(data)
        network = data["network"] = dict(data["network"])
        network["topology"] = {**topology, "regions": regions}
        return data

    @model_validator(mode="after")
    def _check_cross_fields(self) -> Scenario:
        if self.warmup_s >= self.duration_s:
            raise Invalid(
                "warmup_s",
                f"{self.warmup_s} is not below duration_s {self.duration_s}",
                "make warmup_s smaller or duration_s larger",
            )
        if self.workload.tick_ms > self.duration_s * 1000:
            raise Invalid(
                "workload.tick_ms",
                f"a tick of {self.workload.tick_ms} ms is longer "
                f"than the {self.duration_s} s workload",
                "use a tick of a few ms, e.g. 10",
            )
        check_workloads(self)
        check_hosts(self)
        specs = self.nodes.specs()
        names = [spec.name for spec in specs]
        where = "nodes.list" if self.nodes.list is not None else "nodes"
        if not any(spec.role == "sealer" for spec in specs):
            raise Invalid(where, "no node is a sealer", "make at least one node role: sealer")
        self._check_topology(specs, names)
        if isinstance(self.workload.targets, list):
            for i, target in enumerate(self.workload.targets):
                if target not in names:
                    raise Invalid(
                        ("workload", "targets", i),
                        f"unknown node {target!r}",
                        choices_hint(target, names, "nodes"),
                    )
        if self.groups is not None:
            self._check_groups(specs, names)
        self._check_queries(specs)
        end_us = _us(self.duration_s) + _us(self.drain_s)
        for i, fault in enumerate(self.faults):
            named = list(fault.nodes) + [n for group in fault.groups or [] for n in group]
            for name in named:
                if name in FAULT_ROLES:
                    if name in names:
                        raise Invalid(("faults", i, "nodes"), f"{name!r} is both a node's name "
                                       "and a role", f"rename the node {name!r}")
                    if self.groups is not None:
                        raise Invalid(("faults", i, "nodes"), f"the role {name!r} is ambiguous "
                                       "with several groups", "name the node")
                elif name not in names:
                    raise Invalid(("faults", i), f"unknown node {name!r}",
                                   choices_hint(name, names, "nodes"))
            if fault.at_block is not None and self.groups is not None:
                raise Invalid(("faults", i, "at_block"), "at_block is ambiguous with several "
                               "groups (each has its own block numbers)", "use at_s")
            # The run stops at end_us before anything due then (fiscosim.sim.simulation).
            if fault.at_s is not None and round(fault.at_s * 1_000_000) >= end_us:
                raise Invalid(("faults", i, "at_s"),
                               f"{fault.at_s:g} s is not before the end of the run at "
                               f"{end_us / 1e6:g} s (duration_s + drain_s): it would never "
                               "happen", "move it earlier or make the run longer")
            if fault.kind == "byzantine":
                self._check_byzantine(i, fault, specs)
        if self.network.votes == "aggregate":
            self._check_aggregate(specs)
        check_profile(self.nodes.profile, ("nodes", "profile"))
        if self.nodes.list is not None:
            for i, spec in enumerate(self.nodes.list):
                if spec.profile is not None:
                    check_profile(spec.profile, ("nodes", "list", i, "profile"))
        return self

    def _check_aggregate(self, specs: list[NodeSpec]) -> None:
        """``network.votes: aggregate`` times votes without delivering them one by one: only
        where every copy would be delivered as timed (fiscosim/net/aggregate.py)."""
        fix = "remove it, or set network.votes: exact"
        where = ("network", "votes")
        if self.network.topology.kind != "full_mesh":
            raise Invalid(where, f"aggregate needs a full mesh, not topology "
                                 f"{self.network.topology.kind!r}",
                          "use topology: {kind: full_mesh}, or network.votes: exact")
        if self.network.loss_rate:
            raise Invalid(where, "aggregate delivers every vote: it cannot lose some "
                                 f"(network.loss_rate {self.network.loss_rate:g})",
                          "set network.loss_rate: 0, or network.votes: exact")
        if self.groups is not None:
            raise Invalid(where, "aggregate is not built for several groups yet",
                          "run one group, or network.votes: exact")
        if self.nodes.hosts is not None or any(spec.host is not None for spec in specs):
            raise Invalid(where, "aggregate is not built for nodes sharing a machine yet",
                          "give each node its own machine, or network.votes: exact")
        for i, fault in enumerate(self.faults):
            if fault.kind in ("partition", "heal", "loss", "delay", "byzantine"):
                raise Invalid(("faults", i, "kind"), f"a {fault.kind} fault acts on single "
                              "messages, which network.votes: aggregate does not deliver "
                              "one by one", fix)

    def _check_byzantine(self, i: int, fault: FaultSpec, specs: list[NodeSpec]) -> None:
        roles = {spec.name: spec.role for spec in specs}
        for j, name in enumerate(fault.nodes):
            if self.groups is not None:
                # With groups a node's role is per group: it misbehaves where it seals.
                if any(name in group.sealers for group in self.groups):
                    continue
                where = [g.id for g in self.groups if name in g.observers or name in g.light]
                what = " and ".join(sorted({"an observer" if name in g.observers else
                                            "a light node" for g in self.groups
                                            if g.id in where}))
                raise Invalid(("faults", i, "nodes", j),
                               f"{name!r} is {what} in {', '.join(where)} and a sealer in no "
                               "group: it runs no PBFT",
                               "make a node that seals in some group byzantine")
            if roles[name] != "sealer":
                what = "an observer" if roles[name] == "observer" else "a light node"
                raise Invalid(("faults", i, "nodes"),
                               f"{name!r} is {what} and runs no PBFT",
                               "make a sealer byzantine")

    def _check_queries(self, specs: list[NodeSpec]) -> None:
        # Queries go to a group's light nodes; without any they would be dropped unsent.
        def refuse(where: tuple, rate: float, whom: str) -> None:
            raise Invalid(where, f"{rate:g} queries a second but {whom} has no light node",
                           "add a node with role: light, or leave query_rate out")

        if self.groups is None:
            if self.workload.query_rate > 0 and not any(s.role == "light" for s in specs):
                refuse(("workload", "query_rate"), self.workload.query_rate, "the scenario")
            return
        for g, group in enumerate(self.groups):
            if group.workload is not None and group.workload.query_rate > 0 and not group.light:
                refuse(("groups", g, "workload", "query_rate"), group.workload.query_rate,
                       f"group {group.id!r}")
        # The scenario's workload is each group's copy where the group has none of its own:
        # the queries are sent where one of those groups has light nodes.
        sharing = [group for group in self.groups if group.workload is None]
        if self.workload.query_rate > 0 and not any(group.light for group in sharing):
            whom = ("no group" if not sharing else
                    "none of the groups using it (" + ", ".join(g.id for g in sharing) + ")")
            raise Invalid(("workload", "query_rate"),
                           f"{self.workload.query_rate:g} queries a second but {whom} has a "
                           "light node", "add light nodes to such a group, or leave query_rate "
                           "out")

    def warnings(self) -> list[str]:
        """Settings a run accepts that change nothing, one line each (``field: what``).

        They are the cases where the run still makes sense; anything that would make it
        meaningless is refused instead. summary.json carries them as ``warnings`` and the
        report prints them. A pure function of the scenario: same scenario, same warnings.
        """
        found = []
        end_us = _us(self.duration_s) + _us(self.drain_s)
        for i, fault in enumerate(self.faults):
            if (fault.at_s is not None and fault.for_s is not None
                    and round((fault.at_s + fault.for_s) * 1_000_000) >= end_us):
                found.append(f"faults.{i}.for_s: {fault.at_s:g} s + {fault.for_s:g} s is not "
                              f"before the end of the run at {end_us / 1e6:g} s: the fault is "
                              "never undone")
            if fault.until_s is not None and round(fault.until_s * 1_000_000) >= end_us:
                found.append(f"faults.{i}.until_s: {fault.until_s:g} s is not before the end "
                              f"of the run at {end_us / 1e6:g} s: the fault is never undone")
        latency = self.network.latency
        if latency.distribution == "constant" and latency.std_ms > 0:
            found.append(f"network.latency.std_ms: {latency.std_ms:g} is ignored by "
                         "distribution constant (use normal or lognormal for jitter)")
        found.extend(workload_warnings(self))
        if self.chain.verify_mode != "batch":
            found.extend(self._unused_batch_costs())
        return found

    def _unused_batch_costs(self) -> list[str]:
        """Inline profiles' batch-verifier costs, which only ``chain.verify_mode: batch``
        charges."""
        places = [("nodes.profile", self.nodes.profile)]
        places += [(f"nodes.list.{i}.profile", spec.profile)
                   for i, spec in enumerate(self.nodes.list or []) if spec.profile is not None]
        found = []
        for where, profile in places:
            costs = getattr(profile, "costs_us", None)
            for name in ("verify_secp256k1_batch_row", "verify_secp256k1_batch_msm"):
                if costs is not None and getattr(costs, name) is not None:
                    found.append(f"{where}.costs_us.{name}: charged only with chain.verify_mode: "
                                 "batch; this run recovers every signature")
        return found

    def _check_topology(self, specs: list[NodeSpec], names: list[str]) -> None:
        topology = self.network.topology
        n = len(names)
        if topology.degree is not None and topology.degree >= n:
            raise Invalid(
                "network.topology.degree",
                f"degree {topology.degree} is not below the node count {n}",
                f"use a degree between 1 and {n - 1}, or kind: full_mesh",
            )
        if topology.kind == "random" and topology.degree == 1 and n > 2:
            raise Invalid(
                "network.topology.degree",
                f"degree 1 cannot connect {n} nodes",
                "use a degree of 2 or more",
            )
        if topology.regions is None:
            return
        region_of: dict[str, str] = {}
        for region, members in topology.regions.items():
            for i, member in enumerate(members):
                where = ("network", "topology", "regions", region, i)
                if member not in names:
                    raise Invalid(
                        where, f"unknown node {member!r}", choices_hint(member, names, "nodes")
                    )
                if member in region_of:
                    raise Invalid(
                        where,
                        f"node {member!r} is also in region {region_of[member]!r}",
                        "put each node in one region",
                    )
                region_of[member] = region
        for name in names:
            if name not in region_of:
                raise Invalid(
                    "network.topology.regions",
                    f"node {name!r} is in no region",
                    "add it to one region's list",
                )
        for i, spec in enumerate(specs):
            if spec.region is not None and spec.region != region_of[spec.name]:
                raise Invalid(
                    ("nodes", "list", i, "region"),
                    f"region {spec.region!r} but network.topology.regions puts "
                    f"{spec.name!r} in {region_of[spec.name]!r}",
                    "make the two agree, or remove one of them",
                )

    # -- conveniences ----------------------------------------------------------------------

    @property
    def node_names(self) -> list[str]:
        """Every node's name, in order."""
        return [spec.name for spec in self.nodes.specs()]

    @property
    def sealers(self) -> list[str]:
        """Names of the sealers (consensus nodes)."""
        return [spec.name for spec in self.nodes.specs() if spec.role == "sealer"]

    @property
    def observers(self) -> list[str]:
        """Names of the observers."""
        return [spec.name for spec in self.nodes.specs() if spec.role == "observer"]

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Scenario:
        """Validates ``data`` (a mapping as read from YAML); a problem raises ScenarioError."""
        return validate(cls, data, source)


def _us(seconds: float) -> int:
    """Seconds as the run's integer µs, truncated as fiscosim.sim.world does."""
    return int(seconds * 1_000_000)


DIGEST_LEAVES_OUT_AT_DEFAULT: dict[tuple[str, str], Any] = {("chain", "verify_mode"): "recover"}
"""Fields added after digests were first published, left out of the digest at their default:
a scenario that does not use them keeps the digest it had (and a sweep its finished runs)."""


def scenario_digest(s: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON: equal scenarios, equal digests."""
    # Version 1 is left out, so that digests of files from before the field stay the same.
    dumped = s.model_dump(mode="json", exclude={"version"} if s.version == 1 else None)
    for (section, name), default in DIGEST_LEAVES_OUT_AT_DEFAULT.items():
        part = dumped.get(section)
        if isinstance(part, dict) and part.get(name) == default:
            del part[name]
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

