"""The network between the nodes: topology, latency, bandwidth and loss
(:class:`NetworkConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from fiscosim.schema.errors import Invalid, choices_hint
from fiscosim.schema.fields import MODEL, Float, Int
from fiscosim.schema.limits import MAX_DELAY_MS, MAX_NODES

LatencyMs = Annotated[Float, Field(ge=0, le=MAX_DELAY_MS)]


class TopologyConfig(BaseModel):
    """Who is connected to whom (FISCO gateways form a full mesh, docs/fisco-reference.md §4.1)."""

    model_config = MODEL

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
            raise Invalid(
                "degree",
                "a random topology needs a degree",
                "add e.g. 'degree: 3', the peers per node, below the node count",
            )
        if self.kind == "regions":
            if self.regions is None:
                raise Invalid(
                    "regions",
                    "a regions topology needs regions",
                    "map each region to its node names, or give every node of nodes.list a region",
                )
            if self.latency_ms_matrix is None:
                raise Invalid(
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
            raise Invalid(
                ("latency_ms_matrix", a),
                f"unknown region {a!r}",
                choices_hint(a, names, "regions"),
            )
        for b in row:
            if b not in regions:
                raise Invalid(
                    ("latency_ms_matrix", a, b),
                    f"unknown region {b!r}",
                    choices_hint(b, names, "regions"),
                )
    for i, a in enumerate(names):
        for b in names[i:]:
            forward = matrix.get(a, {}).get(b)
            backward = matrix.get(b, {}).get(a)
            if forward is None and backward is None:
                raise Invalid(
                    "latency_ms_matrix",
                    f"no latency between regions {a!r} and {b!r}",
                    f"add latency_ms_matrix.{a}.{b}: <ms>",
                )
            if forward is not None and backward is not None and forward != backward:
                raise Invalid(
                    ("latency_ms_matrix", b, a),
                    f"{a}->{b} is {forward} ms but {b}->{a} is {backward} ms",
                    "a link has one latency: give one direction or equal values",
                )


class LatencyConfig(BaseModel):
    """Each link's one-way latency distribution (for ``regions``: the jitter around the
    matrix's mean)."""

    model_config = MODEL

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
            raise Invalid(
                "mean_ms",
                "a lognormal latency with std_ms > 0 needs mean_ms > 0",
                "set mean_ms above 0, or std_ms to 0",
            )
        return self


LOOPBACK_LATENCY_MS = 0.016
"""One-way latency between two nodes of one machine: half the median round trip of a 64-byte
message over loopback TCP on the development host, 31.9 µs (``python benchmarks/loopback.py``,
docs/hosts.md)."""
LOOPBACK_BPS = 25_000_000_000
"""Loopback throughput between two nodes of one machine: one TCP stream, median of three runs
25.8 Gbit/s on the development host (``python benchmarks/loopback.py``, docs/hosts.md)."""


class NetworkConfig(BaseModel):
    """Topology, latency, bandwidth and loss of the network between the nodes."""

    model_config = MODEL

    topology: TopologyConfig = TopologyConfig()
    latency: LatencyConfig = LatencyConfig()
    bandwidth_mbps: Float = Field(1000, gt=0, le=1_000_000)
    """Each node's uplink in megabits per second (messages queue on it); a node of
    ``nodes.list`` may set its own ``bandwidth_mbps``. At most 1 Tbit/s, beyond any NIC."""
    loss_rate: Float = Field(0, ge=0, lt=1)
    """Probability that a message is lost, in [0, 1)."""
    votes: Literal["exact", "aggregate"] = "exact"
    """How PBFT's votes (Prepare, Commit, CheckPoint) travel. ``exact``: each copy is a network
    delivery. ``aggregate``: each copy is timed the same way (the sender's uplink, the link's
    latency) but not delivered one by one; a node runs when a quorum of a phase's votes has
    reached it, with every vote that arrived by then (fiscosim/net/aggregate.py); every
    message's latency is then drawn from one stream per sender, not per link. Far fewer
    events at large n, a quarter of the links' memory; statistically, not exactly, the exact
    mode's results (docs/performance.md, "Aggregated votes"). Refused with byzantine nodes,
    partitions, loss, delay faults, several groups, nodes sharing a machine, a topology other
    than a full mesh, and tracing."""
    loopback_latency_ms: Float | None = Field(None, ge=0, le=10)
    """One-way latency between two nodes of one machine (``nodes.hosts``, a node's ``host``),
    which talk over loopback instead of the network. None: 0.016 ms, half the median round
    trip of a 64-byte message over loopback TCP measured on the development host (31.9 µs,
    ``python benchmarks/loopback.py``; Python at both ends, so an upper bound). Only for
    nodes that share a machine: set without them, it is refused."""
    loopback_mbps: Float | None = Field(None, gt=0, le=1_000_000)
    """Throughput of a machine's loopback in Mbit/s, shared by the messages its nodes send each
    other. None: 25,000, one loopback TCP stream measured on the development host (25.8
    Gbit/s, median of 3, ``python benchmarks/loopback.py``). Only for nodes that share a
    machine: set without them, it is refused."""

    def loopback(self) -> tuple[float, float]:
        """The loopback's one-way latency (ms) and throughput (bit/s), defaults filled in."""
        latency = LOOPBACK_LATENCY_MS if self.loopback_latency_ms is None else \
            self.loopback_latency_ms
        bps = LOOPBACK_BPS if self.loopback_mbps is None else self.loopback_mbps * 1e6
        return latency, bps

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
                    raise Invalid(
                        ("topology", "latency_ms_matrix", a, b),
                        "a lognormal latency with std_ms > 0 needs every region mean > 0, "
                        f"{a}->{b} is 0",
                        "set it above 0, or use distribution: normal, "
                        "or set network.latency.std_ms to 0",
                    )
        return self
