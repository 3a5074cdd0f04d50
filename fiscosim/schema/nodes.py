"""The nodes: each one's name, weight, role, region and hardware profile (:class:`NodeSpec`,
:class:`NodesConfig`, inline profiles :class:`ProfileSpec`), and the check that a profile
loads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from fiscosim.node.costs import REFERENCE_PROFILE, RETIRED_COSTS, load_profile
from fiscosim.schema.errors import Invalid, split_fix
from fiscosim.schema.fields import MODEL, Float, Int
from fiscosim.schema.limits import MAX_CORES, MAX_COST_US, MAX_NODES

NODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


class ProfileCosts(BaseModel):
    """Per-core costs in µs (``*_per_kb``: per KiB); any left out come from the profile's base.
    Each is at most a second (1,000,000 µs): costs are microseconds, more is a unit mistake."""

    model_config = MODEL

    verify_secp256k1: Float | None = Field(None, ge=0, le=MAX_COST_US)
    verify_sm2: Float | None = Field(None, ge=0, le=MAX_COST_US)
    verify_secp256k1_batch_row: Float | None = Field(None, ge=0, le=MAX_COST_US)
    verify_secp256k1_batch_msm: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sign_secp256k1: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sign_sm2: Float | None = Field(None, ge=0, le=MAX_COST_US)
    keccak256_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sm3_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    msgpack_encode_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    msgpack_decode_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    txpool_insert_per_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    txpool_lookup_per_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    storage_read_per_key: Float | None = Field(None, ge=0, le=MAX_COST_US)
    storage_write_per_key: Float | None = Field(None, ge=0, le=MAX_COST_US)
    storage_commit_per_block: Float | None = Field(None, ge=0, le=MAX_COST_US)

    @model_validator(mode="before")
    @classmethod
    def _no_retired_cost(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key, (why, fix) in RETIRED_COSTS.items():
                if key in data:
                    raise Invalid(key, f"a profile no longer gives it: {why}", fix)
        return data


class ProfileSpec(BaseModel):
    """An inline hardware profile, in the format of a profile file (docs/profiles.md)."""

    model_config = MODEL

    base: str = REFERENCE_PROFILE
    """The profile (shipped name or path) whose figures fill what this one leaves out."""
    name: str | None = None
    cores: Int | None = Field(None, ge=1, le=MAX_CORES)
    """Cores of the node; None takes the base's. At most 256: the CPU model scans every core
    for each task, and the largest servers have 256 hardware threads."""
    cpu_model: str | None = None
    source: str | None = None
    notes: str | None = None
    measured: dict[str, Any] | None = None
    """Free-form record of a measurement (what ``fiscosim calibrate`` writes)."""
    assumed: list[str] | None = None
    """Costs that are assumptions rather than measurements."""
    costs_us: ProfileCosts = ProfileCosts()


def _profile_kind(value: Any) -> str:
    return "~inline" if isinstance(value, Mapping | ProfileSpec) else "~name"


ProfileRef = Annotated[
    Union[Annotated[str, Tag("~name")], Annotated[ProfileSpec, Tag("~inline")]],  # noqa: UP007
    Discriminator(_profile_kind),
]
"""A shipped profile name, the path of a YAML written by ``fiscosim calibrate``, or inline."""


class NodeSpec(BaseModel):
    """One node of the group."""

    model_config = MODEL

    name: str
    """Unique; letters, digits, '_', '-', '.', starting with a letter or '_'."""
    weight: Int = Field(1, ge=1, le=10_000)
    """Consensus vote weight (genesis ``node.i=<id>:<weight>``, default 1, docs/fisco-reference.md
    §1.3). At most 10,000: weights are shares of the vote, small numbers in FISCO."""
    role: Literal["sealer", "observer", "light"] = "sealer"
    """``sealer``: votes in PBFT; ``observer``: syncs and executes blocks, no vote
    (docs/fisco-reference.md §4); ``light``: keeps block headers only, answers client queries with
    proofs from full nodes (docs/fisco-reference.md §4.2)."""
    profile: ProfileRef | None = None
    """This node's hardware; None takes ``nodes.profile``."""
    region: str | None = None
    """The node's region, for ``network.topology.kind: regions``."""
    bandwidth_mbps: Float | None = Field(None, gt=0, le=1_000_000)
    """This node's uplink in Mbit/s; None takes ``network.bandwidth_mbps``. At most 1 Tbit/s."""
    host: str | None = None
    """The machine this node runs on; None: a machine of its own. Nodes naming the same host
    share its cores (one CPU of their profile, which must be the same), its uplink (their
    ``bandwidth_mbps``, the same too) and talk to each other over loopback
    (``network.loopback_*``), as ``build_chain.sh`` places several nodes on one IP
    (docs/hosts.md)."""

    @model_validator(mode="after")
    def _check_name(self) -> NodeSpec:
        if not NODE_NAME.match(self.name):
            raise Invalid(
                "name",
                f"{self.name!r} is not a valid node name",
                "use letters, digits, '_', '-' or '.', starting with a letter or '_', "
                "at most 64 characters, e.g. node0",
            )
        return self


_NodeList = Annotated[list[NodeSpec], Field(max_length=MAX_NODES)]


class NodesConfig(BaseModel):
    """The nodes: ``count`` identical sealers, or a ``list`` of named nodes (exactly one)."""

    model_config = MODEL

    count: Int | None = Field(None, ge=1, le=MAX_NODES)
    """That many sealers named node0..node{count-1}, weight 1. At most 1,000 (as the list): a
    full mesh holds n(n-1) links, ~5 GB of them at 1,000 nodes (~1.2 GB with
    ``network.votes: aggregate``, whose links share a latency stream per sender)."""
    profile: ProfileRef = REFERENCE_PROFILE
    """Every node's hardware unless the node names its own: a shipped profile
    (reference-2core, server-8core), a path to a YAML written by ``fiscosim calibrate``
    (relative to the scenario file), or an inline profile."""
    list: _NodeList | None = None
    """Named nodes, each with its weight, role, profile and region; at most 1,000."""
    hosts: Int | None = Field(None, ge=1, le=MAX_NODES)
    """With ``count``: put the nodes on this many machines, in order and as evenly as
    possible (node0, node1... fill host0 first, as ``build_chain.sh -l ip:n`` does); 1 puts
    them all on one machine, as FISCO's stress-test pages run them. Nodes of one machine share
    its cores, its uplink and talk over loopback (docs/hosts.md). None: a machine each. With
    ``list``, give each node its ``host`` instead."""

    @model_validator(mode="after")
    def _one_form(self) -> NodesConfig:
        if self.count is not None and self.list is not None:
            raise Invalid(
                "count",
                "both count and list are given",
                "keep one: count for identical sealers, list for named nodes",
            )
        if self.count is None and self.list is None:
            raise Invalid(
                (),
                "no nodes: neither count nor list is given",
                "add 'count: 4' or a 'list:' of nodes",
            )
        if self.list is not None:
            if not self.list:
                raise Invalid("list", "the list is empty", "list at least one node")
            first: dict[str, int] = {}
            for i, spec in enumerate(self.list):
                if spec.name in first:
                    raise Invalid(
                        ("list", i, "name"),
                        f"duplicate node name {spec.name!r}, also nodes.list.{first[spec.name]}",
                        "give every node a unique name",
                    )
                first[spec.name] = i
        if self.hosts is not None:
            if self.list is not None:
                raise Invalid("hosts", "hosts is for count; the list names each node's host",
                              "remove hosts and give the listed nodes a 'host: <name>'")
            if self.hosts > (self.count or 0):
                raise Invalid("hosts", f"{self.hosts} machines for {self.count} nodes",
                              f"use at most {self.count} (one node each)")
        self._check_hosts()
        return self

    def _check_hosts(self) -> None:
        """Nodes of one machine share its CPU and uplink: the same profile and bandwidth."""
        if self.list is None:
            return
        seen: dict[str, tuple[int, NodeSpec]] = {}
        for i, spec in enumerate(self.list):
            if spec.host is None:
                continue
            if not NODE_NAME.match(spec.host):
                raise Invalid(("list", i, "host"), f"{spec.host!r} is not a valid host name",
                              "use letters, digits, '_', '-' or '.', e.g. host0")
            if spec.host not in seen:
                seen[spec.host] = (i, spec)
                continue
            j, other = seen[spec.host]
            own = spec.profile if spec.profile is not None else self.profile
            theirs = other.profile if other.profile is not None else self.profile
            if own != theirs:
                raise Invalid(("list", i, "profile"),
                              f"{spec.name} shares host {spec.host!r} with {other.name} "
                              "(nodes.list." f"{j}) but not its profile",
                              "give the nodes of one machine the same profile: its hardware")
            if spec.bandwidth_mbps != other.bandwidth_mbps:
                raise Invalid(("list", i, "bandwidth_mbps"),
                              f"{spec.name} shares host {spec.host!r} with {other.name} "
                              f"(nodes.list.{j}) but not its bandwidth_mbps",
                              "give the nodes of one machine the same uplink")

    def specs(self) -> list[NodeSpec]:
        """Every node, in order: the list as given, or node0..node{count-1} (sealers), placed
        on ``hosts`` machines when given."""
        if self.list is not None:
            return self.list
        count = self.count or 0
        if self.hosts is None:
            return [NodeSpec(name=f"node{i}") for i in range(count)]
        per_host = -(-count // self.hosts)
        return [NodeSpec(name=f"node{i}", host=f"host{i // per_host}") for i in range(count)]

    def host_of(self) -> list[int]:
        """Each node's machine, numbered from 0 in order of first appearance (a node without a
        ``host`` has a machine of its own)."""
        numbers: dict[str, int] = {}
        out = []
        for spec in self.specs():
            key = spec.host if spec.host is not None else f"\0{spec.name}"
            out.append(numbers.setdefault(key, len(numbers)))
        return out

    @property
    def shares_hosts(self) -> bool:
        """Whether any two nodes run on one machine."""
        hosts = self.host_of()
        return len(set(hosts)) < len(hosts)



def check_profile(ref: Any, where: tuple) -> None:
    try:
        profile = load_profile(ref)
    except ValueError as error:
        problem, fix = split_fix(str(error))
        raise Invalid(where, problem, fix) from None
    # An inline profile's cores are bounded by the schema; a profile file's are checked here.
    if profile.cores > MAX_CORES:
        raise Invalid(where, f"the profile has {profile.cores:,} cores, more than {MAX_CORES}",
                       f"use a profile of at most {MAX_CORES} cores (the CPU model scans every "
                       "core for each task)")


def check_hosts(scenario: Any) -> None:
    """Scenario-level checks of shared machines: the loopback fields only where two nodes
    share one, and the nodes of one machine in one region."""
    nodes, network = scenario.nodes, scenario.network
    if not nodes.shares_hosts:
        for field in ("loopback_latency_ms", "loopback_mbps"):
            if getattr(network, field) is not None:
                raise Invalid(("network", field), "no two nodes share a machine, so nothing "
                              "goes over loopback", "remove it, or place nodes on one machine "
                              "with nodes.hosts or a node's host")
        return
    region: dict[str, tuple[str | None, str]] = {}
    for i, spec in enumerate(nodes.specs()):
        if spec.host is None:
            continue
        first = region.setdefault(spec.host, (spec.region, spec.name))
        if first[0] != spec.region:
            raise Invalid(("nodes", "list", i, "region"),
                          f"{spec.name} shares host {spec.host!r} with {first[1]} but is in "
                          f"region {spec.region!r}, not {first[0]!r}",
                          "put the nodes of one machine in one region")
