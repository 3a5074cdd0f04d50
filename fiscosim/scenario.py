"""Scenario files: the schema of a run, loading it from YAML, overrides, and one-line errors.

A scenario says everything a run needs: the chain's parameters (FISCO BCOS 3.x defaults), the
nodes and their hardware, the network, the workload, the seed. It is validated completely
before anything runs; a mistake is one line that names the file, the field and the fix::

    scenarios/x.yaml: workload.rate_tps: -5 is too small (use a value >= 0)
    scenarios/x.yaml: wrkload: unknown key 'wrkload' (did you mean 'workload'? known keys: ...)

Every model forbids unknown keys and is frozen (a validated scenario never changes; build a new
one with :meth:`Scenario.with_overrides`). Defaults are FISCO BCOS 3.x's, each with its
docs/fisco-reference.md section in the field's docstring.

**Limits.** Every number has a range (docs/scenario-reference.md lists them, each upper bound
with its reason), types are strict (``'1000'`` in quotes is text, not a number; a whole float
such as ``1e6`` is taken for an integer), and text is at most :data:`MAX_TEXT` characters. A
scenario file must be a regular file of at most :data:`MAX_FILE_BYTES`, nested at most
:data:`MAX_DEPTH` levels, with at most :data:`MAX_YAML_VALUES` keys, items and scalars (aliases
counted as often as they are used). So every input is refused in one line before anything
large is built; what the ranges allow together is bounded by the run's memory estimate
(:mod:`fiscosim.sim.estimate`), checked when a scenario file is loaded.

>>> s = Scenario.from_dict({"name": "demo", "nodes": {"count": 4}})
>>> s.sealers, s.chain.tx_count_limit, s.chain.min_seal_time_ms
(['node0', 'node1', 'node2', 'node3'], 1000, 500)
>>> s.with_overrides(["workload.rate_tps=20000"]).workload.rate_tps
20000.0
>>> len(scenario_digest(s))
64
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import numbers
import os
import re
import stat
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from inspect import isclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo

from fiscosim.node.costs import REFERENCE_PROFILE, load_profile, shipped_profiles

SCHEMA_HELP = "see scenarios/README.md and fiscosim/scenario.py"
NODE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

MAX_FILE_BYTES = 1 << 20
"""A scenario file is at most 1 MiB. Scenarios are a few KB (1,000 named nodes are ~50 KB);
a bigger file is a mistake, and one of 50 MB took a minute to load."""
MAX_DEPTH = 32
"""Nesting levels of a scenario file or a ``--set`` value; the schema needs 7. PyYAML builds
nested collections recursively and hit Python's recursion limit at ~1,000 levels."""
MAX_YAML_VALUES = 20_000
"""Keys, list items and scalars in a scenario file or a ``--set`` value, aliases counted each
time they are used (so that a few lines of aliases cannot expand to billions of values).
1,000 named nodes are ~7,000; PyYAML takes ~100 µs a value, so reaching the cap takes ~2 s
(a million keys once took 182 s)."""
MAX_TEXT = 10_000
"""Characters of any text field (``description``, names, paths): a 50 MB description was once
accepted, took a minute and was copied into every manifest.json."""
MAX_NODES = 1000
"""Nodes in a scenario: 1,000 sealers, the largest deployment modelled; a full mesh of n nodes
holds n(n-1) directed links (~5 KB each, about 5 GB at 1,000)."""
MAX_RUN_S = 86_400.0
"""Simulated seconds of workload, and of drain: one day each. A run goes at about real time
(a 100-node one at half of it), so a longer one is a hang rather than a run."""
MAX_TPS = 1_000_000.0
"""Offered transactions per second: 20× FISCO BCOS's 50,000 TPS (and 20× a 10× overload of
scenarios/server-8core-lan.yaml); what rate × duration needs in memory is estimated apart."""
MAX_COST_US = 1_000_000.0
"""A per-operation cost in µs: one second. Costs are microseconds; more is a unit mistake."""
MAX_CORES = 256
"""Cores of a node: the CPU model scans every core for each task (O(cores)), and the largest
servers have 256 hardware threads."""


class ScenarioError(Exception):
    """A scenario that cannot be loaded. ``str()`` is one line:
    ``<file>: <dotted.field>: <what is wrong> (<the fix>)``.

    >>> str(ScenarioError("s.yaml", "chain.block_limit", "6000 is too large", "use <= 5000"))
    's.yaml: chain.block_limit: 6000 is too large (use <= 5000)'
    """

    def __init__(self, source: str, field: str, problem: str, fix: str = "", more: int = 0) -> None:
        self.source = _one_line(source)
        self.field = _one_line(field)
        self.problem = _one_line(problem)
        self.fix = _one_line(fix)
        self.more = more
        """How many further problems the validator found (only the first is described)."""
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [part for part in (self.source, self.field, self.problem) if part]
        text = ": ".join(parts)
        if self.fix:
            text += f" ({self.fix})"
        if self.more:
            text += f" (and {self.more} more)"
        return text


def _one_line(text: str, limit: int = 1000) -> str:
    # Parts can quote the input (an unknown key, a path): a huge one must not make a huge line.
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Invalid(ValueError):
    """Raised by our validators: a sub-path (relative to the model), the problem and the fix."""

    def __init__(self, where: str | int | tuple, problem: str, fix: str) -> None:
        if isinstance(where, str):
            where = tuple(part for part in where.split(".") if part)
        elif isinstance(where, int):
            where = (where,)
        self.where: tuple = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})")


def _no_bool(value: Any) -> Any:
    # YAML reads yes/no/true/false as booleans, and pydantic would take True for 1.
    if isinstance(value, bool):
        raise _Invalid(
            (), f"{str(value).lower()} is a yes/no value, not a number", "write a number"
        )
    return value


def _whole(value: Any) -> Any:
    # Strict, so that '1000' (text) is refused; but 1e6 and numpy integers are whole numbers.
    value = _no_bool(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    return value


def _real(value: Any) -> Any:
    value = _no_bool(value)
    if isinstance(value, numbers.Real) and not isinstance(value, int | float):
        return float(value)  # a numpy integer from the Python API (strict takes an int as is)
    return value


Int = Annotated[int, Strict(), BeforeValidator(_whole)]
Float = Annotated[float, Strict(), BeforeValidator(_real)]
Bool = Annotated[bool, Strict()]

_MODEL = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True,
                    str_max_length=MAX_TEXT)


# -- chain ------------------------------------------------------------------------------------


class ChainConfig(BaseModel):
    """The chain's parameters; every default is FISCO BCOS 3.x's (docs/fisco-reference.md §1.3-§1.7,
    §2.2-§2.5)."""

    model_config = _MODEL

    version: Literal["3.x"] = "3.x"
    """The FISCO BCOS behaviour modelled: 3.x (two-phase PBFT with checkpoints,
    docs/fisco-reference.md §1.5)."""
    tx_count_limit: Int = Field(1000, ge=1, le=1_000_000)
    """Most transactions in a block (genesis ``block_tx_count_limit``, docs/fisco-reference.md
    §2.5). At most a million: a block of them is 300 MB on the wire, beyond any FISCO block."""
    min_seal_time_ms: Int = Field(500, ge=1, le=600_000)
    """A leader with pending transactions seals at the latest this long after its last seal
    (``[consensus] min_seal_time``, 1..600000, docs/fisco-reference.md §2.5)."""
    leader_period: Int = Field(1, ge=1, le=1_000_000)
    """Consecutive blocks each leader proposes (``consensus_leader_period``, docs/fisco-reference.md
    §1.4). A million blocks is one leader for any run."""
    consensus_timeout_ms: Int = Field(3000, ge=1, le=3_600_000)
    """Base view-change timeout, × 1.5 per failed view (docs/fisco-reference.md §1.7: hard-coded
    3000 in 3.x). At most an hour: longer never fires in a run."""
    sync_status_ms: Float | None = Field(None, ge=10, le=600_000)
    """Every node sends its height to every other node of its group this often (FISCO's
    block-sync status gossip: 200 ms, ``idleWaitMs``, docs/fisco-reference.md §7). None: sealers
    send their status to observers and light nodes on each new block only, and sealers learn each
    other's heights from CheckPoints and ViewChanges (docs/architecture.md, decision 19): at 100
    sealers the gossip would be 50,000 more messages a second. From 10 ms (below it every node
    messages every other more than 100 times a second) to 10 minutes."""
    pipeline_size: Int = Field(50, ge=1, le=1000)
    """Proposals in flight between committed+1 and the high water mark (``pipeline_size``,
    docs/fisco-reference.md §1.6). FISCO requires >= 50; smaller values are allowed here for
    experiments, and up to 1,000 (every sealer holds the state of each proposal in flight)."""
    block_limit: Int = Field(1000, ge=1, le=5000)
    """A transaction is valid while ``cur < blockLimit <= cur + block_limit``; nonces are
    remembered for this many blocks (``[chain] block_limit``, max 5000, docs/fisco-reference.md
    §2.3)."""
    txpool_limit: Int = Field(15000, ge=1, le=10_000_000)
    """Most transactions a txpool holds from RPC (``[txpool] limit``, docs/fisco-reference.md §2.2).
    At most ten million, 600× FISCO's default."""
    tx_expiry_s: Float = Field(600, gt=0, le=31_536_000)
    """Pending transactions older than this are dropped (``txs_expiration_time``,
    docs/fisco-reference.md §2.2). At most a year (stored in µs), far past the end of any run: use
    it for "never"."""
    crypto_suite: Literal["secp256k1", "sm2"] = "secp256k1"
    """secp256k1 + keccak256 (FISCO's default) or SM2 + SM3 (guomi), docs/fisco-reference.md §3."""
    crypto_mode: Literal["modelled", "real"] = "modelled"
    """``modelled``: costs only; ``real``: really signed transactions, really verified
    (docs/architecture.md rule 4)."""
    execution_us_per_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    """Execution cost per transaction in µs; None takes the node profile's ``execute_tx``. At
    most a second: costs are µs, more is a unit mistake."""


# -- nodes -------------------------------------------------------------------------------------


class ProfileCosts(BaseModel):
    """Per-core costs in µs (``*_per_kb``: per KiB); any left out come from the profile's base.
    Each is at most a second (1,000,000 µs): costs are microseconds, more is a unit mistake."""

    model_config = _MODEL

    verify_secp256k1: Float | None = Field(None, ge=0, le=MAX_COST_US)
    verify_sm2: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sign_secp256k1: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sign_sm2: Float | None = Field(None, ge=0, le=MAX_COST_US)
    keccak256_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    sm3_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    msgpack_encode_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    msgpack_decode_per_kb: Float | None = Field(None, ge=0, le=MAX_COST_US)
    execute_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    storage_commit_per_tx: Float | None = Field(None, ge=0, le=MAX_COST_US)
    storage_commit_per_block: Float | None = Field(None, ge=0, le=MAX_COST_US)


class ProfileSpec(BaseModel):
    """An inline hardware profile, in the format of a profile file (docs/profiles.md)."""

    model_config = _MODEL

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

    model_config = _MODEL

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

    @model_validator(mode="after")
    def _check_name(self) -> NodeSpec:
        if not NODE_NAME.match(self.name):
            raise _Invalid(
                "name",
                f"{self.name!r} is not a valid node name",
                "use letters, digits, '_', '-' or '.', starting with a letter or '_', "
                "at most 64 characters, e.g. node0",
            )
        return self


_NodeList = Annotated[list[NodeSpec], Field(max_length=MAX_NODES)]


class NodesConfig(BaseModel):
    """The nodes: ``count`` identical sealers, or a ``list`` of named nodes (exactly one)."""

    model_config = _MODEL

    count: Int | None = Field(None, ge=1, le=MAX_NODES)
    """That many sealers named node0..node{count-1}, weight 1. At most 1,000 (as the list): a
    full mesh holds n(n-1) links, ~5 GB of them at 1,000 nodes."""
    profile: ProfileRef = REFERENCE_PROFILE
    """Every node's hardware unless the node names its own: a shipped profile
    (reference-2core, server-8core), a path to a YAML written by ``fiscosim calibrate``
    (relative to the scenario file), or an inline profile."""
    list: _NodeList | None = None
    """Named nodes, each with its weight, role, profile and region; at most 1,000."""

    @model_validator(mode="after")
    def _one_form(self) -> NodesConfig:
        if self.count is not None and self.list is not None:
            raise _Invalid(
                "count",
                "both count and list are given",
                "keep one: count for identical sealers, list for named nodes",
            )
        if self.count is None and self.list is None:
            raise _Invalid(
                (),
                "no nodes: neither count nor list is given",
                "add 'count: 4' or a 'list:' of nodes",
            )
        if self.list is not None:
            if not self.list:
                raise _Invalid("list", "the list is empty", "list at least one node")
            first: dict[str, int] = {}
            for i, spec in enumerate(self.list):
                if spec.name in first:
                    raise _Invalid(
                        ("list", i, "name"),
                        f"duplicate node name {spec.name!r}, also nodes.list.{first[spec.name]}",
                        "give every node a unique name",
                    )
                first[spec.name] = i
        return self

    def specs(self) -> list[NodeSpec]:
        """Every node, in order: the list as given, or node0..node{count-1} (sealers)."""
        if self.list is not None:
            return self.list
        return [NodeSpec(name=f"node{i}") for i in range(self.count or 0)]


class GroupConfig(BaseModel):
    """The group (ledger) the nodes run; sealers and observers come from the nodes' roles."""

    model_config = _MODEL

    id: str = Field("group0", min_length=1)
    """Group id (``build_chain.sh`` default ``group0``, docs/fisco-reference.md §4)."""
    chain_id: str = Field("chain0", min_length=1)
    """Chain id (default ``chain0``, docs/fisco-reference.md §4)."""


# -- network -----------------------------------------------------------------------------------

MAX_DELAY_MS = 60_000.0
"""The largest one-way latency mean or std, and the largest per-message fault delay, in ms: one
minute. No real link comes near it, and beyond it draws stop being delays: a std of 1e300 ms
once wrapped around int64 into messages delivered before they were sent. The same bound as
``fiscosim.net.latency.MAX_LATENCY_MS`` (kept apart: loading a scenario imports no numpy)."""

LatencyMs = Annotated[Float, Field(ge=0, le=MAX_DELAY_MS)]


class TopologyConfig(BaseModel):
    """Who is connected to whom (FISCO gateways form a full mesh, docs/fisco-reference.md §4.1)."""

    model_config = _MODEL

    kind: Literal["full_mesh", "random", "regions"] = "full_mesh"
    """``full_mesh`` (FISCO's), ``random`` (each node >= ``degree`` peers, messages relayed),
    ``regions`` (a full mesh whose link latencies come from ``latency_ms_matrix``)."""
    degree: Int | None = Field(None, ge=1, le=MAX_NODES - 1)
    """Peers per node for ``random``; must be below the node count."""
    regions: dict[str, list[str]] | None = None
    """Region name -> its node names, for ``regions``; every node in exactly one region. May be
    left out when every node of ``nodes.list`` has a ``region``."""
    latency_ms_matrix: dict[str, dict[str, LatencyMs]] | None = None
    """One-way mean latency in ms between regions, for ``regions``: every pair of regions,
    each region with itself included; one direction is enough, both must then agree. Each in
    0..60000 (one minute); above 0 when ``network.latency`` is a ``lognormal`` with
    ``std_ms`` > 0, which has no distribution around a mean of 0."""

    @model_validator(mode="after")
    def _check_kind(self) -> TopologyConfig:
        if self.kind == "random" and self.degree is None:
            raise _Invalid(
                "degree",
                "a random topology needs a degree",
                "add e.g. 'degree: 3', the peers per node, below the node count",
            )
        if self.kind == "regions":
            if self.regions is None:
                raise _Invalid(
                    "regions",
                    "a regions topology needs regions",
                    "map each region to its node names, or give every node of nodes.list a region",
                )
            if self.latency_ms_matrix is None:
                raise _Invalid(
                    "latency_ms_matrix",
                    "a regions topology needs latency_ms_matrix",
                    "give the one-way ms between every pair of regions",
                )
        if self.latency_ms_matrix is not None and self.regions is not None:
            _check_matrix(self.regions, self.latency_ms_matrix)
        return self


def _check_matrix(regions: Mapping[str, Any], matrix: Mapping[str, Mapping[str, float]]) -> None:
    names = list(regions)
    for a, row in matrix.items():
        if a not in regions:
            raise _Invalid(
                ("latency_ms_matrix", a),
                f"unknown region {a!r}",
                _choices_hint(a, names, "regions"),
            )
        for b in row:
            if b not in regions:
                raise _Invalid(
                    ("latency_ms_matrix", a, b),
                    f"unknown region {b!r}",
                    _choices_hint(b, names, "regions"),
                )
    for i, a in enumerate(names):
        for b in names[i:]:
            forward = matrix.get(a, {}).get(b)
            backward = matrix.get(b, {}).get(a)
            if forward is None and backward is None:
                raise _Invalid(
                    "latency_ms_matrix",
                    f"no latency between regions {a!r} and {b!r}",
                    f"add latency_ms_matrix.{a}.{b}: <ms>",
                )
            if forward is not None and backward is not None and forward != backward:
                raise _Invalid(
                    ("latency_ms_matrix", b, a),
                    f"{a}->{b} is {forward} ms but {b}->{a} is {backward} ms",
                    "a link has one latency: give one direction or equal values",
                )


class LatencyConfig(BaseModel):
    """Each link's one-way latency distribution (for ``regions``: the jitter around the
    matrix's mean)."""

    model_config = _MODEL

    distribution: Literal["constant", "normal", "lognormal"] = "constant"
    """``constant``: every message takes ``mean_ms``. ``normal``: truncated at 0 by redrawing
    negative draws, not by clipping them to 0, so its mean sits a little above ``mean_ms`` when
    ``std_ms`` is comparable to it (under 1 % once mean_ms >= 2.5 std_ms). ``lognormal``: given
    by its own mean and std, right-skewed and positive."""
    mean_ms: Float = Field(1.0, ge=0, le=MAX_DELAY_MS)
    """Mean one-way latency in ms, 0..60000 (one minute); larger values are refused."""
    std_ms: Float = Field(0.0, ge=0, le=MAX_DELAY_MS)
    """Its standard deviation in ms, 0..60000; ignored by ``constant``."""

    @model_validator(mode="after")
    def _check_lognormal(self) -> LatencyConfig:
        if self.distribution == "lognormal" and self.std_ms > 0 and self.mean_ms == 0:
            raise _Invalid(
                "mean_ms",
                "a lognormal latency with std_ms > 0 needs mean_ms > 0",
                "set mean_ms above 0, or std_ms to 0",
            )
        return self


class NetworkConfig(BaseModel):
    """Topology, latency, bandwidth and loss of the network between the nodes."""

    model_config = _MODEL

    topology: TopologyConfig = TopologyConfig()
    latency: LatencyConfig = LatencyConfig()
    bandwidth_mbps: Float = Field(1000, gt=0, le=1_000_000)
    """Each node's uplink in megabits per second (messages queue on it); a node of
    ``nodes.list`` may set its own ``bandwidth_mbps``. At most 1 Tbit/s, beyond any NIC."""
    loss_rate: Float = Field(0, ge=0, lt=1)
    """Probability that a message is lost, in [0, 1)."""

    @model_validator(mode="after")
    def _check_region_jitter(self) -> NetworkConfig:
        # A regions topology draws each link around its matrix mean, and a lognormal around a
        # mean of 0 does not exist: refused here rather than when the run builds its links.
        matrix = self.topology.latency_ms_matrix
        if (self.topology.kind != "regions" or matrix is None
                or self.latency.distribution != "lognormal" or self.latency.std_ms == 0):
            return self
        for a, row in matrix.items():
            for b, ms in row.items():
                if ms == 0:
                    raise _Invalid(
                        ("topology", "latency_ms_matrix", a, b),
                        "a lognormal latency with std_ms > 0 needs every region mean > 0, "
                        f"{a}->{b} is 0",
                        "set it above 0, or use distribution: normal, "
                        "or set network.latency.std_ms to 0",
                    )
        return self


# -- workload ----------------------------------------------------------------------------------


def _targets_kind(value: Any) -> str:
    return "~list" if isinstance(value, list | tuple) else "~keyword"


TargetsRef = Annotated[
    Union[  # noqa: UP007
        Annotated[Literal["sealers", "all"], Tag("~keyword")],
        Annotated[list[str], Tag("~list")],
    ],
    Discriminator(_targets_kind),
]


class WorkloadConfig(BaseModel):
    """Open-loop clients sending transfer transactions to the nodes' RPC (docs/fisco-reference.md
    §2.2)."""

    model_config = _MODEL

    clients: Int = Field(1, ge=1, le=1000)
    """Client processes sharing the rate. At most 1,000: each draws its arrivals every tick
    (1,000 clients cost a second of wall time per 5 simulated seconds)."""
    rate_tps: Float = Field(300, ge=0, le=MAX_TPS)
    """Total offered rate over all clients, transactions per simulated second. At most a
    million, 20× FISCO's 50,000 TPS; what rate × duration needs in memory is checked apart
    (fiscosim.sim.estimate)."""
    arrivals: Literal["constant", "poisson"] = "poisson"
    targets: TargetsRef = "sealers"
    """Whose RPC the clients send to, round-robin per client: ``sealers``, ``all`` or a list
    of node names."""
    tx_size_bytes: Int = Field(300, ge=64, le=1 << 20)
    """Encoded size of a transaction on the wire. At most 1 MiB: sizes are an int32 column,
    summed over blocks."""
    tick_ms: Float = Field(10, ge=0.1, le=60_000)
    """Clients emit each tick's arrivals as one batch: a modelling granularity (transactions
    of a tick share a submit time), not a FISCO parameter. From 0.1 ms (each tick is an event:
    below it ticks outnumber transactions) to a minute."""
    contract: Literal["transfer"] = "transfer"
    """The contract model the transactions call. Only ``transfer`` is modelled until contract
    models exist (contracts/README.md); any other name is refused rather than run as it."""
    accounts: Int = Field(1000, ge=1, le=1_000_000)
    """Distinct senders. At most a million: real crypto mode derives a signing key per account,
    and senders are an int32 column."""
    invalid_fraction: Float = Field(0.0, ge=0, le=1)
    """Fraction of transactions sent with a corrupted signature (one bit of s flipped). In
    ``real`` crypto mode they really fail verification; in ``modelled`` mode they are marked
    invalid and charged the same verification cost. Txpools reject them as InvalidSignature."""
    query_rate: Float = Field(0.0, ge=0, le=10_000)
    """Client queries per simulated second to the group's light nodes (Poisson), each for a
    committed transaction with its Merkle proof, a receipt with its proof, or a whole block,
    in turn (docs/fisco-reference.md §4.2). Needs a light node in the group. At most 10,000: each
    query is a request, a proof and a reply handled one by one."""

    @model_validator(mode="after")
    def _check_targets(self) -> WorkloadConfig:
        if isinstance(self.targets, list) and not self.targets:
            raise _Invalid(
                "targets",
                "the target list is empty",
                "name at least one node, or use 'sealers' or 'all'",
            )
        return self


class LightConfig(BaseModel):
    """How light nodes check what full nodes send them (docs/fisco-reference.md §4.2)."""

    model_config = _MODEL

    verify_signatures: Bool = True
    """Check each synced header's signature list against the consensus weights (weight ≥ Q).
    FISCO's light node does not (§4.2, unconfirmed); false models it exactly."""
    max_headers: Int = Field(50, ge=1, le=10_000)
    """Headers per sync request (``LIGHTNODE_MAX_REQUEST_BLOCKS_COUNT = 50``); at most 10,000,
    one reply carrying them all."""


class GroupSpec(BaseModel):
    """One group (ledger) of a multi-group scenario (docs/fisco-reference.md §4: its own PBFT,
    txpool and ledger; groups share the nodes' network and, for a node in several, its CPU and
    uplink)."""

    model_config = _MODEL

    id: str = Field(min_length=1)
    """The group id, unique in the scenario."""
    sealers: list[str] = Field(min_length=1)
    """Names of the nodes that vote in this group's PBFT (order does not matter)."""
    observers: list[str] = []
    """Names of the nodes that follow this group by block sync."""
    light: list[str] = []
    """Names of the group's light nodes (headers only, docs/fisco-reference.md §4.2)."""
    workload: WorkloadConfig | None = None
    """This group's clients; None: the scenario's ``workload`` (its own copy per group)."""


class ResolvedGroup(BaseModel):
    """A group with its members and workload filled in (:meth:`Scenario.group_specs`)."""

    model_config = _MODEL

    id: str
    sealers: list[str]
    observers: list[str]
    light: list[str] = []
    workload: WorkloadConfig


class FaultSpec(BaseModel):
    """One fault at a simulated time, optionally undone at ``until_s``.

    ``crash``/``restart`` (``nodes``), ``partition`` (``groups``; nodes in no group form one
    more) / ``heal``, ``loss`` (network-wide ``rate``), ``delay`` (``nodes``' outgoing
    messages take ``delay_ms`` more), ``slow`` (``nodes``' CPUs take ``factor`` × as long),
    ``byzantine`` (``nodes`` misbehave as ``behaviour`` says: silent, equivocate,
    withhold_votes, wrong_votes, forge_signatures, forge_txs, reorder; docs/faults.md). A node
    named in a byzantine fault is not honest: the safety checker leaves its chain out.
    """

    model_config = _MODEL

    at_s: Float | None = Field(None, ge=0, le=2 * MAX_RUN_S)
    """When, in simulated seconds from the start; before the run's end (duration_s + drain_s),
    or the fault would never happen. Give either at_s or at_block."""
    at_block: Int | None = Field(None, ge=1, le=1_000_000_000)
    """Instead of at_s: when block ``at_block`` is first sealed or first committed by an honest
    sealer (``block_event``). Single-group scenarios only."""
    block_event: Literal["sealed", "committed"] | None = None
    """With at_block: ``sealed`` (its leader seals it) or ``committed`` (the default: the first
    honest sealer writes it to its ledger)."""
    kind: Literal["crash", "restart", "partition", "heal", "loss", "delay", "slow", "byzantine"]
    nodes: list[str] = []
    """The nodes it hits (crash, restart, delay, slow), by name, or by role for crash, delay and
    slow in a single-group scenario: ``leader`` (the leader of the lowest block not yet
    committed by the most advanced honest sealer, in its view; during a view change the leader
    of the view it moves to) or ``next_leader`` (the leader of the block after that), resolved
    when the fault starts; the fault log says which node it was."""
    groups: list[list[str]] | None = None
    """The sides of a partition."""
    rate: Float | None = Field(None, ge=0, lt=1)
    """Message loss probability (loss), in [0, 1); 0 is no loss. At ``until_s`` the rate before
    the fault returns."""
    delay_ms: Float | None = Field(None, ge=0, le=MAX_DELAY_MS)
    """Extra delay of every message the nodes send (delay), or a reorder node's longest hold
    (byzantine), in ms: 0..60000 (one minute)."""
    factor: Float | None = Field(None, gt=0, le=10_000)
    """CPU slowdown factor (slow). At most 10,000 (a 1 ms task takes 10 s: beyond it the node
    is crashed, not slow)."""
    behaviour: Literal["silent", "equivocate", "withhold_votes", "wrong_votes",
                       "forge_signatures", "forge_txs", "reorder", "forge_light"] | None = None
    """What a byzantine node does (byzantine): silent (sends no PrePrepare or NewView),
    equivocate (as leader, two proposals to two halves; colluding votes follow), withhold_votes
    (no Prepare, Commit or CheckPoint), wrong_votes (votes for a hash no proposal has),
    forge_signatures (invalid signatures on its PBFT messages), forge_txs (invalid signatures
    on the transactions it pushes or serves), reorder (each PBFT message held a random
    0..delay_ms, 50 by default), forge_light (forged headers and proofs to light nodes)."""
    until_s: Float | None = Field(None, gt=0, le=2 * MAX_RUN_S)
    """Undo the fault then: restart, heal, loss 0, no delay, factor 1. None: it stays. With
    at_block, use for_s."""
    for_s: Float | None = Field(None, gt=0, le=2 * MAX_RUN_S)
    """Instead of until_s: undo the fault this long after it started (at_s or at_block)."""

    @model_validator(mode="after")
    def _check_kind(self) -> FaultSpec:
        if (self.at_s is None) == (self.at_block is None):
            where = "at_s" if self.at_s is None else "at_block"
            raise _Invalid(where, "a fault starts either at_s or at_block" + (
                "; it has neither" if self.at_s is None else "; it has both"),
                           "give one of them")
        if self.block_event is not None and self.at_block is None:
            raise _Invalid("block_event", "block_event needs at_block",
                           "add at_block, or remove block_event")
        if self.until_s is not None and self.at_block is not None:
            raise _Invalid("until_s", "a fault started at_block is undone for_s after it "
                           "starts, not at until_s", "use for_s")
        if self.until_s is not None and self.for_s is not None:
            raise _Invalid("for_s", "until_s and for_s say the same thing", "keep one")
        roles = [name for name in self.nodes if name in FAULT_ROLES]
        if roles and self.kind not in ("crash", "delay", "slow"):
            raise _Invalid("nodes", f"a {self.kind} fault cannot name a role ({roles[0]})",
                           "name the nodes; roles are for crash, delay and slow faults")
        needs = {"crash": "nodes", "restart": "nodes", "delay": "nodes", "slow": "nodes",
                 "partition": "groups", "loss": "rate", "byzantine": "nodes"}
        need = needs.get(self.kind)
        # Tested against None and [], not for truth: a rate of 0 is a value (no loss).
        if need and getattr(self, need) in (None, []):
            fix = {"rate": "set rate, a loss probability in [0, 1)",
                   "groups": "give the sides, e.g. groups: [[node0, node1], [node2, node3]]"}
            raise _Invalid(need, f"a {self.kind} fault needs {need}",
                           fix.get(need, f"give the {need} it applies to"))
        extra = {"delay": "delay_ms", "slow": "factor", "byzantine": "behaviour"}.get(self.kind)
        if extra and getattr(self, extra) is None:
            raise _Invalid(extra, f"a {self.kind} fault needs {extra}", f"set {extra}")
        if self.until_s is not None and self.at_s is not None and self.until_s <= self.at_s:
            raise _Invalid("until_s", f"{self.until_s} is not after at_s {self.at_s}",
                           "undo the fault after it starts, or leave until_s out")
        for undo in ("until_s", "for_s"):
            if getattr(self, undo) is not None and self.kind in ("restart", "heal"):
                raise _Invalid(undo, f"a {self.kind} cannot be undone", f"leave {undo} out")
        # A field the kind does not read would be dropped without a word: refuse it.
        uses = _FAULT_FIELDS[self.kind]
        if self.kind == "byzantine" and self.behaviour != "reorder":
            uses = uses - {"delay_ms"}
        for name in ("nodes", "groups", "rate", "delay_ms", "factor", "behaviour"):
            if name not in uses and getattr(self, name) not in (None, []):
                what = (f"a byzantine fault with behaviour {self.behaviour}"
                        if self.kind == "byzantine" else f"a {self.kind} fault")
                takes = ", ".join(sorted(uses | {"at_s", "at_block", "kind"}))
                raise _Invalid(name, f"{name} does not apply to {what}",
                               f"remove it; {what} takes {takes}")
        for i, name in enumerate(self.nodes):
            if name in self.nodes[:i]:
                raise _Invalid(("nodes", i), f"node {name!r} is listed twice",
                               "name each node once")
        side_of: dict[str, int] = {}
        for g, side in enumerate(self.groups or []):
            if not side:
                raise _Invalid(("groups", g), "a side of the partition is empty",
                               "list the nodes of each side; nodes in no side form one more")
            for i, name in enumerate(side):
                if name in side_of:
                    where = ("twice on one side of the partition" if side_of[name] == g
                             else f"on two sides of the partition, groups.{side_of[name]} and "
                                  f"groups.{g}")
                    raise _Invalid(("groups", g, i), f"node {name!r} is {where}",
                                   "put each node on one side")
                side_of[name] = g
        return self


_FAULT_FIELDS: dict[str, frozenset[str]] = {
    "crash": frozenset({"nodes", "until_s", "for_s"}),
    "restart": frozenset({"nodes"}),
    "partition": frozenset({"groups", "until_s", "for_s"}),
    "heal": frozenset(),
    "loss": frozenset({"rate", "until_s", "for_s"}),
    "delay": frozenset({"nodes", "delay_ms", "until_s", "for_s"}),
    "slow": frozenset({"nodes", "factor", "until_s", "for_s"}),
    "byzantine": frozenset({"nodes", "behaviour", "delay_ms", "until_s", "for_s"}),
}
"""The fields each fault kind reads (besides at_s, at_block, block_event and kind):
fiscosim.faults.injector."""

FAULT_ROLES = ("leader", "next_leader")
"""What a fault's ``nodes`` may name instead of a node: resolved when the fault starts."""


# -- the scenario ------------------------------------------------------------------------------


class Scenario(BaseModel):
    """A complete, validated run description. Load one with :func:`load_scenario`."""

    model_config = _MODEL

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
            raise _Invalid((), f"scenario schema version {value} is newer than this fiscosim "
                           "reads", "this fiscosim reads version 1: upgrade fiscosim")
        if type(value) is not int or value != 1:
            raise _Invalid((), f"{_show(value)} is not a scenario schema version",
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
            raise _Invalid("groups", "is an empty list", "leave groups out for one group")
        seen_ids: set[str] = set()
        in_some: set[str] = set()
        for g, group in enumerate(self.groups):
            if group.id in seen_ids:
                raise _Invalid(("groups", g, "id"), f"group id {group.id!r} is used twice",
                               "give every group its own id")
            seen_ids.add(group.id)
            members: set[str] = set()
            for field_name in ("sealers", "observers", "light"):
                for i, name in enumerate(getattr(group, field_name)):
                    if name not in names:
                        raise _Invalid(("groups", g, field_name, i), f"unknown node {name!r}",
                                       _choices_hint(name, names, "nodes"))
                    if name in members:
                        raise _Invalid(("groups", g, field_name, i),
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
                        raise _Invalid(where, f"{target!r} is not in group {group.id!r}",
                                       _choices_hint(target, sorted(members), "members"))
        idle = [name for name in names if name not in in_some]
        if idle:
            raise _Invalid("groups", f"node {idle[0]!r} is in no group",
                           "add it to a group's sealers, observers or light, or remove it")
        if any(spec.role != "sealer" for spec in specs):
            raise _Invalid("nodes", "a node has a role although groups are given",
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
            raise _Invalid(
                "warmup_s",
                f"{self.warmup_s} is not below duration_s {self.duration_s}",
                "make warmup_s smaller or duration_s larger",
            )
        if self.workload.tick_ms > self.duration_s * 1000:
            raise _Invalid(
                "workload.tick_ms",
                f"a tick of {self.workload.tick_ms} ms is longer "
                f"than the {self.duration_s} s workload",
                "use a tick of a few ms, e.g. 10",
            )
        specs = self.nodes.specs()
        names = [spec.name for spec in specs]
        where = "nodes.list" if self.nodes.list is not None else "nodes"
        if not any(spec.role == "sealer" for spec in specs):
            raise _Invalid(where, "no node is a sealer", "make at least one node role: sealer")
        self._check_topology(specs, names)
        if isinstance(self.workload.targets, list):
            for i, target in enumerate(self.workload.targets):
                if target not in names:
                    raise _Invalid(
                        ("workload", "targets", i),
                        f"unknown node {target!r}",
                        _choices_hint(target, names, "nodes"),
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
                        raise _Invalid(("faults", i, "nodes"), f"{name!r} is both a node's name "
                                       "and a role", f"rename the node {name!r}")
                    if self.groups is not None:
                        raise _Invalid(("faults", i, "nodes"), f"the role {name!r} is ambiguous "
                                       "with several groups", "name the node")
                elif name not in names:
                    raise _Invalid(("faults", i), f"unknown node {name!r}",
                                   _choices_hint(name, names, "nodes"))
            if fault.at_block is not None and self.groups is not None:
                raise _Invalid(("faults", i, "at_block"), "at_block is ambiguous with several "
                               "groups (each has its own block numbers)", "use at_s")
            # The run stops at end_us before anything due then (fiscosim.sim.simulation).
            if fault.at_s is not None and round(fault.at_s * 1_000_000) >= end_us:
                raise _Invalid(("faults", i, "at_s"),
                               f"{fault.at_s:g} s is not before the end of the run at "
                               f"{end_us / 1e6:g} s (duration_s + drain_s): it would never "
                               "happen", "move it earlier or make the run longer")
            if fault.kind == "byzantine":
                self._check_byzantine(i, fault, specs)
        _check_profile(self.nodes.profile, ("nodes", "profile"))
        if self.nodes.list is not None:
            for i, spec in enumerate(self.nodes.list):
                if spec.profile is not None:
                    _check_profile(spec.profile, ("nodes", "list", i, "profile"))
        return self

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
                raise _Invalid(("faults", i, "nodes", j),
                               f"{name!r} is {what} in {', '.join(where)} and a sealer in no "
                               "group: it runs no PBFT",
                               "make a node that seals in some group byzantine")
            if roles[name] != "sealer":
                what = "an observer" if roles[name] == "observer" else "a light node"
                raise _Invalid(("faults", i, "nodes"),
                               f"{name!r} is {what} and runs no PBFT",
                               "make a sealer byzantine")

    def _check_queries(self, specs: list[NodeSpec]) -> None:
        # Queries go to a group's light nodes; without any they would be dropped unsent.
        def refuse(where: tuple, rate: float, whom: str) -> None:
            raise _Invalid(where, f"{rate:g} queries a second but {whom} has no light node",
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
            raise _Invalid(("workload", "query_rate"),
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
        return found

    def _check_topology(self, specs: list[NodeSpec], names: list[str]) -> None:
        topology = self.network.topology
        n = len(names)
        if topology.degree is not None and topology.degree >= n:
            raise _Invalid(
                "network.topology.degree",
                f"degree {topology.degree} is not below the node count {n}",
                f"use a degree between 1 and {n - 1}, or kind: full_mesh",
            )
        if topology.kind == "random" and topology.degree == 1 and n > 2:
            raise _Invalid(
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
                    raise _Invalid(
                        where, f"unknown node {member!r}", _choices_hint(member, names, "nodes")
                    )
                if member in region_of:
                    raise _Invalid(
                        where,
                        f"node {member!r} is also in region {region_of[member]!r}",
                        "put each node in one region",
                    )
                region_of[member] = region
        for name in names:
            if name not in region_of:
                raise _Invalid(
                    "network.topology.regions",
                    f"node {name!r} is in no region",
                    "add it to one region's list",
                )
        for i, spec in enumerate(specs):
            if spec.region is not None and spec.region != region_of[spec.name]:
                raise _Invalid(
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
        return _validate(data, source, ())

    def with_overrides(
        self, overrides: Sequence[str] | Mapping[str, object], source: str | None = None
    ) -> Scenario:
        """A new scenario with ``overrides`` applied (same forms as :func:`load_scenario`)."""
        where = source or f"<scenario {self.name}>"
        data = self.model_dump(mode="json", exclude_none=True)
        applied = _apply_overrides(data, overrides, where)
        return _validate(data, where, applied)

    def dump_yaml(self) -> str:
        """The scenario as YAML that loads back to an equal scenario."""
        return yaml.dump(
            self.model_dump(mode="json", exclude_none=True), Dumper=_ScenarioDumper,
            sort_keys=False, allow_unicode=True,
        )


def _us(seconds: float) -> int:
    """Seconds as the run's integer µs, truncated as fiscosim.sim.world does."""
    return int(seconds * 1_000_000)


def _choices_hint(value: Any, choices: Sequence[str], what: str) -> str:
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f"{hint}known {what}: {shown}"


def _check_profile(ref: Any, where: tuple) -> None:
    try:
        profile = load_profile(ref)
    except ValueError as error:
        problem, fix = _split_fix(str(error))
        raise _Invalid(where, problem, fix) from None
    # An inline profile's cores are bounded by the schema; a profile file's are checked here.
    if profile.cores > MAX_CORES:
        raise _Invalid(where, f"the profile has {profile.cores:,} cores, more than {MAX_CORES}",
                       f"use a profile of at most {MAX_CORES} cores (the CPU model scans every "
                       "core for each task)")


def _split_fix(message: str) -> tuple[str, str]:
    """'what (fix)' -> ('what', 'fix'), matching the last parenthesis."""
    if message.endswith(")"):
        depth = 0
        for i in range(len(message) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(message[i], 0)
            if depth == 0:
                return message[:i].rstrip(), message[i + 1 : -1]
    return message, SCHEMA_HELP


# -- loading -----------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load that rejects a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}, first at line {first + 1}",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


class _TooBig(yaml.YAMLError):
    """A scenario file or --set value over one of the caps (depth, values, recursion)."""

    def __init__(self, problem: str, fix: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.problem_mark = mark


class _ScenarioLoader(_UniqueKeyLoader):
    """How scenario files and --set values are read: safe_load without duplicate keys, with
    :data:`MAX_DEPTH` and :data:`MAX_YAML_VALUES` enforced while the document is composed (the
    composer recurses per level, so the depth is checked before it recurses), and with YAML
    1.2's ``1e12`` as a number (PyYAML's YAML 1.1 reads it as text)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        # id(node) -> (values, depth) of what the node stands for once aliases are expanded
        self._expanded: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self._depth += 1
        self._values += 1
        if self._depth > MAX_DEPTH:
            raise _TooBig(f"nested more than {MAX_DEPTH} levels deep",
                          "a scenario needs 7 levels at most: flatten it", mark)
        if self._values > MAX_YAML_VALUES:
            raise _TooBig(f"more than {MAX_YAML_VALUES:,} keys, items and values",
                          "a scenario has a few hundred: remove what is not a scenario field",
                          mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        children: list[Any] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        values, depth = 1, 1
        for child in children:
            size = self._expanded.get(id(child))
            if size is None:
                raise _TooBig("an alias refers to the collection it is in",
                              "YAML aliases must not make a loop", mark)
            values += size[0]
            depth = max(depth, size[1] + 1)
        if values > MAX_YAML_VALUES or depth > MAX_DEPTH:
            raise _TooBig(f"its aliases expand to more than {MAX_YAML_VALUES:,} values or "
                          f"{MAX_DEPTH} levels", "write the values out instead of aliases", mark)
        self._expanded[id(node)] = (values, depth)
        return node


class _ScenarioDumper(yaml.SafeDumper):
    """safe_dump that quotes text the loader would read as a number (a description '1e5')."""


for _side in (_ScenarioLoader, _ScenarioDumper):
    _side.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def _parse_yaml(text: str) -> Any:
    # A SafeLoader subclass: as safe as yaml.safe_load.
    loader = _ScenarioLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


_NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _read_text(source: str, file: Path) -> str:
    """The file's text, refused unless a regular file of at most :data:`MAX_FILE_BYTES`."""

    def refuse_kind(mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise ScenarioError(
                source, "", "is a folder, not a file", "give the path of a .yaml scenario file"
            )
        if not stat.S_ISREG(mode):
            what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
            raise ScenarioError(source, "", f"is {what}, not a regular file",
                                "give the path of a .yaml scenario file")

    def refuse_size(size: int) -> None:
        raise ScenarioError(
            source, "", f"the file is {size:,} bytes, over the 1 MiB limit of a scenario file",
            "a scenario is a few KB: keep long notes and data out of it")

    try:
        # stat first: opening a FIFO for reading would wait for a writer, forever.
        info = os.stat(file)
        refuse_kind(info.st_mode)
        if info.st_size > MAX_FILE_BYTES:
            refuse_size(info.st_size)
        # O_NONBLOCK: should the path have become a FIFO since, the open still returns.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            refuse_kind(os.fstat(handle.fileno()).st_mode)
            data = handle.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise ScenarioError(
            source, "", "no such file", "check the path; ready scenarios are in scenarios/"
        ) from None
    except OSError as error:
        raise ScenarioError(
            source, "", f"cannot read the file: {error.strerror or error}", "check its permissions"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        refuse_size(len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(
            source,
            "",
            f"not UTF-8 text ({error.reason} at byte {error.start})",
            "save the file as UTF-8",
        ) from None


def load_scenario(
    path: str | Path,
    overrides: Sequence[str] | Mapping[str, object] = (),
    *,
    check_memory: bool = True,
) -> Scenario:
    """Reads a scenario YAML file, applies ``overrides`` and validates it.

    ``overrides`` are ``"dotted.field=value"`` strings as ``fiscosim run --set`` takes them
    (the value is read as YAML, so ``20000`` is a number and ``[a, b]`` a list; ``null``
    removes an optional field), or a mapping of dotted field -> value. List items are
    addressed by index: ``nodes.list.0.weight=3``. Relative profile paths are looked up
    beside the scenario file first. Any problem raises :class:`ScenarioError`.

    ``check_memory``: also refuse a run whose estimated peak memory does not fit in what this
    machine has available (:func:`fiscosim.sim.estimate.check_fits`); turn it off to inspect a
    scenario without running it (``fiscosim run --dry-run``).
    """
    source = str(path)
    file = Path(path)
    text = _read_text(source, file)
    try:
        data = _parse_yaml(text)
    except _TooBig as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(source, where, error.problem, error.fix) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        context_mark = getattr(error, "context_mark", None)
        if (
            context
            and context_mark is not None
            and mark is not None
            and (context_mark.line != mark.line)
        ):
            context = f"{context} that starts at line {context_mark.line + 1}"
        what = f"YAML syntax error: {problem}" + (f", {context}" if context else "")
        raise ScenarioError(source, where, what, "fix the YAML at that line") from None
    if data is None:
        raise ScenarioError(
            source,
            "",
            "the file is empty",
            "write a scenario with at least 'name:' and 'nodes:', see scenarios/quickstart.yaml",
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            source,
            "",
            f"the top level is {_kind(data)}, not a mapping",
            "write 'key: value' lines such as 'name: demo', see scenarios/quickstart.yaml",
        )
    applied = _apply_overrides(data, overrides, source)
    _resolve_profile_paths(data, file.parent)
    scenario = _validate(data, source, applied)
    if check_memory:
        try:
            from fiscosim.sim.estimate import check_fits
        except ImportError:
            # A stand-in estimator without the check (tests of --dry-run use one): no check.
            return scenario
        check_fits(scenario, source, applied)
    return scenario


def scenario_digest(s: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON: equal scenarios, equal digests."""
    # Version 1 is left out, so that digests of files from before the field stay the same.
    dumped = s.model_dump(mode="json", exclude={"version"} if s.version == 1 else None)
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _resolve_profile_paths(data: dict, folder: Path) -> None:
    """Rewrites relative profile paths that exist beside the scenario file to that file."""
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return
    holders = [nodes]
    if isinstance(nodes.get("list"), list):
        holders += [spec for spec in nodes["list"] if isinstance(spec, dict)]
    shipped = set(shipped_profiles())
    for holder in holders:
        for owner, key in ((holder, "profile"), (holder.get("profile"), "base")):
            if not isinstance(owner, dict):
                continue
            ref = owner.get(key)
            if not isinstance(ref, str) or ref in shipped or Path(ref).is_absolute():
                continue
            beside = folder / ref
            if beside.is_file():
                owner[key] = str(beside)


def _validate(data: Any, source: str, overrides: Sequence[tuple[str, str]]) -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(
            source,
            "",
            f"the scenario is {_kind(data)}, not a mapping",
            "give a mapping of scenario fields",
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise _to_scenario_error(error, source, overrides) from None


# -- turning pydantic's errors into one line ---------------------------------------------------


def _to_scenario_error(
    error: ValidationError, source: str, overrides: Sequence[tuple[str, str]]
) -> ScenarioError:
    errors = error.errors(include_url=False)
    first = errors[0]
    loc = tuple(
        part for part in first["loc"] if not (isinstance(part, str) and part.startswith("~"))
    )
    ctx = first.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _Invalid):
        loc = loc + cause.where
        problem, fix = cause.problem, cause.fix
    else:
        problem, fix = _explain(first, loc)
    field = ".".join(str(part) for part in loc)
    for path, text in overrides:
        if field == path or field.startswith(path + ".") or path.startswith(field + "."):
            fix = f"{fix}; it was set by --set {_short(text)}"
            break
    return ScenarioError(source, field or "scenario", problem, fix, more=len(errors) - 1)


def _explain(err: Mapping[str, Any], loc: tuple) -> tuple[str, str]:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    shown = _show(value)
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model is not None else []
        return f"unknown key {loc[-1]!r}", _choices_hint(loc[-1], known, "keys")
    if kind == "invalid_key":
        return f"the key {shown} is not text", "keys are names such as 'workload'; quote it"
    if kind == "missing":
        return "required field is missing", f"add '{loc[-1] if loc else 'it'}: ...'"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        if loc and loc[-1] == "contract":
            return (f"{shown} is not a modelled contract",
                    f"{hint}use one of: {', '.join(choices)}; others arrive with contract "
                    "models, contracts/README.md")
        return f"{shown} is not allowed", f"{hint}use one of: {', '.join(choices)}"
    bounds = {
        "greater_than_equal": ("too small", ">=", "ge"),
        "greater_than": ("too small", ">", "gt"),
        "less_than_equal": ("too large", "<=", "le"),
        "less_than": ("too large", "<", "lt"),
    }
    if kind in bounds:
        what, op, key = bounds[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{shown} is {what}", f"use a value {op} {bound}"
    if kind in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"):
        whole = kind.startswith("int")
        span = _range_text(loc)
        if isinstance(value, str):
            # Strict types: YAML gives text for anything quoted, and for 2^40 or 1,000.
            return (f"{shown} is not a {'whole ' if whole else ''}number, it is text",
                    f"write a {'whole ' if whole else ''}number without quotes"
                    + (f", {span}" if span else ""))
        if whole:
            return f"{shown} is not a whole number", f"write an integer, {span or 'e.g. 4'}"
        return f"{shown} is not a number", f"write a number, {span or 'e.g. 2.5'}"
    if kind == "finite_number":
        return f"{shown} is not a finite number", "write a finite number"
    if kind == "string_type":
        return f"{shown} is not text", "write a string; quote it if YAML reads it as a number"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return (
            f"expected a mapping, got {_kind(value)}",
            "write 'key: value' lines indented under it",
        )
    if kind == "list_type":
        return f"expected a list, got {_kind(value)}", "write a YAML list, e.g. [a, b]"
    if kind == "string_too_short":
        return "must not be empty", "write some text"
    if kind == "string_too_long":
        return (f"the text is {len(str(value)):,} characters long",
                f"use at most {ctx.get('max_length', MAX_TEXT):,} characters")
    if kind == "too_long":
        count = ctx.get("actual_length")
        return (f"has {count:,} items" if isinstance(count, int) else "has too many items",
                f"use at most {ctx.get('max_length'):,}")
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false", "write true or false"
    return _one_line(err.get("msg", "invalid value")), SCHEMA_HELP


def _short(text: str, limit: int = 60) -> str:
    """An override as quoted in a message: a 10 MB --set value must not make a 10 MB line."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({_show(value)})"
    return type(value).__name__


# -- the schema as a tree: for overrides and for suggesting keys -------------------------------


def _options(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Optional, unions and Annotated unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _options(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [option for arg in get_args(annotation) for option in _options(arg)]
    return [] if annotation is type(None) else [annotation]


def _child(annotation: Any, segment: str | int) -> tuple[str, Any]:
    """How ``segment`` goes one level into ``annotation``: ('field'|'index'|'key', type).

    ('scalar', None) when the annotation is a value, ('unknown', model) when the segment is
    not a field of the model there.
    """
    options = _options(annotation)
    models = [o for o in options if isclass(o) and issubclass(o, BaseModel)]
    lists = [get_args(o)[0] for o in options if get_origin(o) is list]
    dicts = [get_args(o)[1] for o in options if get_origin(o) is dict]
    text = str(segment)
    if lists and (isinstance(segment, int) or text.lstrip("-").isdigit()):
        return "index", lists[0]
    if models:
        fields = models[0].model_fields
        if text in fields:
            return "field", fields[text].annotation
        if not dicts:
            return "unknown", models[0]
    if dicts:
        return "key", dicts[0]
    if lists:
        return "index-expected", None
    return "scalar", None


def _field_at(path: tuple) -> Any:
    """The FieldInfo (or, inside a dict or list, the item annotation) at a dotted path."""
    if not path:
        return None
    annotation: Any = Scenario
    for segment in path[:-1]:
        how, annotation = _child(annotation, segment)
        if how in ("unknown", "scalar", "index-expected"):
            return None
    for option in _options(annotation):
        if isclass(option) and issubclass(option, BaseModel):
            return option.model_fields.get(str(path[-1]))
    how, item = _child(annotation, path[-1])
    return item if how in ("index", "key") else None


def _constraints(field: Any) -> dict[str, Any]:
    """ge, gt, le, lt and max_length of a FieldInfo or an annotation (Annotated layers and the
    arms of an Optional included)."""
    found: dict[str, Any] = {}
    metadata: list[Any] = []
    annotation = field
    if isinstance(field, FieldInfo):
        metadata += field.metadata
        annotation = field.annotation
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = get_origin(current)
        if origin is Annotated:
            inner, *extra = get_args(current)
            pending.append(inner)
            for item in extra:
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
        elif origin is Union or origin is types.UnionType:
            pending += [arg for arg in get_args(current) if arg is not type(None)]
    for item in metadata:
        for key in ("ge", "gt", "le", "lt", "max_length"):
            value = getattr(item, key, None)
            if value is not None and not isinstance(value, bool):
                found[key] = value
    return found


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _range_text(where: Any) -> str:
    """A field's range in words, e.g. 'from 64 to 1,048,576' ('' when it has none).

    ``where`` is a dotted path (tuple) into the scenario, or a FieldInfo or annotation.
    """
    bounds = _constraints(_field_at(where) if isinstance(where, tuple) else where)
    low = (f"from {_number(bounds['ge'])}" if "ge" in bounds else
           f"above {_number(bounds['gt'])}" if "gt" in bounds else "")
    high = (f"to {_number(bounds['le'])}" if "le" in bounds and low.startswith("from") else
            f"at most {_number(bounds['le'])}" if "le" in bounds else
            f"below {_number(bounds['lt'])}" if "lt" in bounds else "")
    if low and high:
        return f"{low} {high}" if high.startswith("to") else f"{low}, {high}"
    if low:
        return low.replace("from", "at least", 1)
    if high:
        return high
    if "max_length" in bounds:
        return f"at most {_number(bounds['max_length'])} items"
    return ""


def _model_at(path: tuple) -> type[BaseModel] | None:
    annotation: Any = Scenario
    for segment in path:
        how, annotation = _child(annotation, segment)
        if how in ("unknown", "scalar", "index-expected"):
            return None
    models = [o for o in _options(annotation) if isclass(o) and issubclass(o, BaseModel)]
    return models[0] if models else None


def _apply_overrides(
    data: dict, overrides: Sequence[str] | Mapping[str, object], source: str
) -> list[tuple[str, str]]:
    """Applies overrides to ``data`` in place; returns (dotted path, text) of each applied."""
    if isinstance(overrides, str):
        overrides = [overrides]
    items: list[tuple[str, Any, str]] = []
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            items.append((str(key).strip(), copy.deepcopy(value), f"{key}={value}"))
    else:
        for text in overrides:
            key, sep, raw = str(text).partition("=")
            if not sep or not key.strip():
                raise ScenarioError(
                    source,
                    f"--set {_short(text)}",
                    "expected FIELD=VALUE",
                    "write e.g. --set workload.rate_tps=20000",
                )
            try:
                value = _parse_yaml(raw) if raw.strip() else ""
            except _TooBig as error:
                raise ScenarioError(source, key.strip(), f"the --set value is {error.problem}",
                                    error.fix) from None
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or "invalid YAML"
                raise ScenarioError(
                    source,
                    f"--set {_short(text)}",
                    f"the value is not YAML: {problem}",
                    "quote it, e.g. --set 'name=\"my run\"'",
                ) from None
            items.append((key.strip(), value, str(text)))
    applied = []
    for key, value, text in items:
        segments = key.split(".")
        _set_path(data, segments, value, source, text)
        applied.append((key, text))
    return applied


def _set_path(data: dict, segments: list[str], value: Any, source: str, text: str) -> None:
    where = f"--set {_short(text)}"
    annotation: Any = Scenario
    node: Any = data
    for depth, segment in enumerate(segments):
        done = ".".join(segments[:depth])
        if not segment:
            raise ScenarioError(
                source,
                where,
                "empty field name in the path",
                "write dotted names such as workload.rate_tps",
            )
        how, next_annotation = _child(annotation, segment)
        if how == "unknown":
            known = list(next_annotation.model_fields)
            raise ScenarioError(
                source,
                where,
                f"unknown field {segment!r}",
                _choices_hint(segment, known, f"fields of {done or 'a scenario'}"),
            )
        if how == "scalar":
            raise ScenarioError(
                source, where, f"{done} is a value, not a section", f"set {done} itself"
            )
        if how == "index-expected":
            raise ScenarioError(
                source,
                where,
                f"{done} is a list: {segment!r} is not an index",
                f"write {done}.0.<field> for its first item",
            )
        last = depth == len(segments) - 1
        if how == "index":
            if not isinstance(node, list):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} is not a list in this scenario",
                    f"give {done} as a list first",
                )
            index = int(segment)
            if not -len(node) <= index < len(node):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} has no item {index}: it has {len(node)}",
                    f"use an index 0..{len(node) - 1}",
                )
            if last:
                node[index] = value
                return
            node = node[index]
        else:
            if not isinstance(node, dict):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} is {_kind(node)}, not a section",
                    f"set {done} to a mapping first",
                )
            if last:
                node[segment] = value
                return
            child = node.get(segment)
            if child is None:
                child_how, _ = _child(next_annotation, segments[depth + 1])
                if child_how == "index":
                    raise ScenarioError(
                        source,
                        where,
                        f"{'.'.join(segments[: depth + 1])} is not in this scenario",
                        "add the list to the file first",
                    )
                child = node[segment] = {}
            node = child
        annotation = next_annotation


__all__ = [
    "ChainConfig",
    "GroupConfig",
    "LatencyConfig",
    "NetworkConfig",
    "NodeSpec",
    "NodesConfig",
    "ProfileCosts",
    "ProfileSpec",
    "Scenario",
    "ScenarioError",
    "TopologyConfig",
    "WorkloadConfig",
    "load_scenario",
    "scenario_digest",
]


def field_reference() -> str:
    """Every scenario field with its type, default and meaning, as a Markdown document.

    ``docs/scenario-reference.md`` is this text; a test keeps the two equal, so the reference
    a user reads is the schema the loader applies.
    """
    lines = [
        "# Scenario fields",
        "",
        "Generated from the schema (`fiscosim.scenario.field_reference()`); a test keeps it",
        "current. Every field is optional unless marked *required*; unknown keys are errors.",
        "Override any field with `--set dotted.path=value`.",
        "",
        *textwrap.wrap(
            "Every number has the range shown; a value outside it is refused with one line "
            "naming the field. Types are strict: a number in quotes is text and refused, a "
            "whole float such as `1e6` is taken for an integer. Text is at most "
            f"{MAX_TEXT:,} characters. A scenario file is a regular file of at most "
            f"{MAX_FILE_BYTES:,} bytes (1 MiB), nested at most {MAX_DEPTH} levels, with at most "
            f"{MAX_YAML_VALUES:,} keys, items and values. When a file is loaded, the run's peak "
            "memory is estimated (`fiscosim.sim.estimate`) and a run that would not fit in the "
            "memory this machine has available is refused, naming what to reduce. A setting "
            "that would do nothing is refused too (a fault after the end of the run, a field "
            "its fault kind does not read, `query_rate` without light nodes); where the run "
            "still makes sense it is a warning instead, in the report and in summary.json's "
            "`warnings` (an `until_s` after the end, a `std_ms` with a constant latency).",
            width=88),
        "",
    ]

    def range_of(info: Any) -> str:
        text = _range_text(info)
        if text:
            return text
        leaf = info.annotation
        while True:
            options = _options(leaf)
            if len(options) != 1:
                break
            origin = get_origin(options[0])
            if origin not in (list, dict):
                break
            leaf = get_args(options[0])[-1]
            text = _range_text(leaf)
            if text:
                return f"each {text}"
        if str in _options(info.annotation):
            return f"at most {MAX_TEXT:,} characters"
        return ""

    def type_name(annotation: Any) -> str:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            return type_name(args[0])
        if origin is typing.Literal:
            return " or ".join(f"`{arg}`" for arg in args)
        if origin in (typing.Union, types.UnionType):
            return " or ".join(type_name(arg) for arg in args if arg is not type(None))
        if origin is list:
            return f"list of {type_name(args[0])}"
        if origin is dict:
            return f"map of {type_name(args[0])} to {type_name(args[1])}"
        names = {"ProfileSpec": "inline profile", "NodeSpec": "node (below)"}
        name = getattr(annotation, "__name__", str(annotation))
        return names.get(name, name)

    def walk(model: type[BaseModel], prefix: str, title: str) -> None:
        rows: list[str] = []
        nested: list[tuple[type[BaseModel], str, str]] = []
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            annotation = info.annotation
            child = annotation if isinstance(annotation, type) and issubclass(
                annotation, BaseModel) else None
            if info.is_required():
                default = "*required*"
            elif child is not None:
                default = "(section)"
            else:
                default = f"`{info.default!r}`" if info.default is not None else "none"
            doc = info.description or ""
            if not doc and child is not None and child.__doc__:
                doc = child.__doc__.strip().split("\n\n")[0]
            doc = " ".join(doc.split()).replace("|", "\\|")
            span = range_of(info)
            rows.append(f"| `{path}` | {type_name(annotation)} | {default} | {span} | {doc} |")
            if child is not None:
                nested.append((child, f"{path}.", path))
            bare = annotation
            while typing.get_origin(bare) is typing.Annotated:
                bare = typing.get_args(bare)[0]
            options = (bare,) if typing.get_origin(bare) is list else (
                typing.get_args(bare) or ())
            for arg in options:
                while typing.get_origin(arg) is typing.Annotated:
                    arg = typing.get_args(arg)[0]
                listed = typing.get_origin(arg) is list
                for item in typing.get_args(arg) if listed else (arg,):
                    if isinstance(item, type) and issubclass(item, BaseModel):
                        section = f"{path} items" if listed else f"{path} (inline form)"
                        nested.append((item, "", section))
        intro = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        lines.extend([f"## {title}", "", intro, "",
                      "| field | type | default | range | meaning |", "|---|---|---|---|---|",
                      *rows, ""])
        for child, child_prefix, child_title in nested:
            walk(child, child_prefix, child_title)

    walk(Scenario, "", "scenario")
    return "\n".join(lines) + "\n"
