"""Topology builders: who is connected to whom, and each link's latency distribution.

Every builder returns a :class:`networkx.Graph` whose nodes are the ints ``0..n-1`` (the network
ids the rest of the simulator uses) and whose every edge carries the attribute ``latency``, a
:class:`~fiscosim.net.latency.LatencyModel`. The graph is undirected: both directions of a link
share its latency distribution, each with its own random stream (see
:mod:`fiscosim.net.network`). Nodes and edges are inserted in sorted order, so iterating a graph
built from one seed always gives the same order.

FISCO BCOS gateways form a full mesh of TCP connections (docs/fisco-reference.md §4.1):
:func:`full_mesh` is the faithful default. :func:`random_regular_ish` models partially connected
deployments where messages are relayed through peers (FISCO's distance-vector router table), and
:func:`regions` models a geo-distributed full mesh whose latencies come from a region-to-region ping
matrix.

>>> from fiscosim.net.latency import LatencyModel
>>> g = full_mesh(4, LatencyModel("constant", 10.0))
>>> sorted(g.nodes), g.number_of_edges(), g.edges[0, 3]["latency"].mean_ms
([0, 1, 2, 3], 6, 10.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np

from fiscosim.net.latency import Distribution, LatencyModel

MAX_ATTEMPTS = 1000
"""Random graphs redrawn before giving up on a connected one. Degree >= 3 is connected on the
first draw almost surely; degree 2 (a union of cycles) needs tens of draws at 100 nodes."""

KINDS = ("full_mesh", "random", "regions")


def _sorted_graph(n: int, edges: Iterable[tuple[int, int]], latency: Any) -> nx.Graph:
    """A graph on 0..n-1 with ``edges`` inserted in sorted order, each with its latency."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    ordered = sorted((min(u, v), max(u, v)) for u, v in edges)
    if callable(latency):
        graph.add_edges_from((u, v, {"latency": latency(u, v)}) for u, v in ordered)
    else:
        graph.add_edges_from(ordered, latency=latency)
    return graph


def full_mesh(n: int, latency: LatencyModel) -> nx.Graph:
    """Every pair of the ``n`` nodes connected, every link with ``latency``.

    Parameters
    ----------
    n : number of nodes (>= 1).
    latency : the latency distribution of every link.

    Returns
    -------
    The complete graph on ``0..n-1``.

    Examples
    --------
    >>> g = full_mesh(5, LatencyModel("normal", 20.0, 2.0))
    >>> g.number_of_edges(), min(d for _, d in g.degree)
    (10, 4)
    """
    if n < 1:
        raise ValueError(f"a network needs at least one node, got n={n}")
    return _sorted_graph(n, ((u, v) for u in range(n) for v in range(u + 1, n)), latency)


def random_regular_ish(
    n: int, degree: int, latency: LatencyModel, rng: np.random.Generator
) -> nx.Graph:
    """A connected random graph where every node has ``degree`` links (a few have one more).

    When ``n * degree`` is even the graph is a uniformly random ``degree``-regular graph
    (:func:`networkx.random_regular_graph`). When it is odd no regular graph exists: the graph
    is then a random ``degree``-regular graph on ``n - 1`` nodes plus one node linked to
    ``degree`` random others (which end with ``degree + 1``), relabelled by a random
    permutation so the extra links do not always land on the same ids. Either way the graph is
    redrawn from ``rng`` until it is connected, so one seed always gives one graph.

    ``degree >= n - 1`` gives the full mesh.

    Parameters
    ----------
    n : number of nodes.
    degree : the minimum degree (>= 1; >= 2 when n > 2, or the graph cannot be connected).
    latency : the latency distribution of every link.
    rng : the generator every random choice comes from.

    Examples
    --------
    >>> g = random_regular_ish(9, 3, LatencyModel("constant", 5.0), np.random.default_rng(1))
    >>> nx.is_connected(g), min(d for _, d in g.degree), max(d for _, d in g.degree)
    (True, 3, 4)
    >>> h = random_regular_ish(9, 3, LatencyModel("constant", 5.0), np.random.default_rng(1))
    >>> sorted(g.edges) == sorted(h.edges)
    True
    """
    if n < 1:
        raise ValueError(f"a network needs at least one node, got n={n}")
    if degree >= n - 1:
        return full_mesh(n, latency)
    if degree < 1 or (degree < 2 and n > 2):
        raise ValueError(f"degree {degree} cannot connect {n} nodes (need >= 2)")
    for _ in range(MAX_ATTEMPTS):
        # networkx takes an int seed; drawing it from rng keeps one stream behind every retry.
        seed = int(rng.integers(2**32))
        if n * degree % 2 == 0:
            edges = list(nx.random_regular_graph(degree, n, seed=seed).edges)
        else:
            base = nx.random_regular_graph(degree, n - 1, seed=seed)
            extra = rng.choice(n - 1, size=degree, replace=False)
            edges = [*base.edges, *((n - 1, int(v)) for v in extra)]
            perm = rng.permutation(n)
            edges = [(int(perm[u]), int(perm[v])) for u, v in edges]
        graph = _sorted_graph(n, edges, latency)
        if nx.is_connected(graph):
            return graph
    raise RuntimeError(
        f"no connected graph with n={n}, degree={degree} after {MAX_ATTEMPTS} draws"
    )


def _region_latency(
    a: str, b: str, matrix: Mapping[str, Mapping[str, float]]
) -> float:
    """Mean one-way latency between regions a and b; the matrix may give either direction."""
    forward = matrix.get(a, {}).get(b)
    backward = matrix.get(b, {}).get(a)
    if forward is None and backward is None:
        raise ValueError(f"latency_ms_matrix has no entry for regions {a!r} and {b!r}")
    if forward is not None and backward is not None and forward != backward:
        # A link is one undirected edge with one distribution: an asymmetric pair is an error.
        raise ValueError(
            f"latency_ms_matrix is asymmetric for {a!r}/{b!r}: {forward} vs {backward}"
        )
    return float(forward if forward is not None else backward)


def regions(
    assignment: Mapping[str, Sequence[int]],
    latency_ms_matrix: Mapping[str, Mapping[str, float]],
    jitter: tuple[Distribution, float] = ("constant", 0.0),
) -> nx.Graph:
    """A full mesh over nodes placed in regions; each link's mean latency from a region matrix.

    Parameters
    ----------
    assignment : region name -> the node ids in it. Together the lists must hold every id
        ``0..n-1`` exactly once.
    latency_ms_matrix : region -> region -> mean one-way latency in ms. It must hold every pair
        of regions that have nodes (including each region with itself, for links inside it);
        one direction is enough, both must agree.
    jitter : ``(distribution, std_ms)`` of every link around its mean.

    Examples
    --------
    >>> g = regions({"eu": [0, 1], "asia": [2]},
    ...             {"eu": {"eu": 2.0, "asia": 90.0}, "asia": {"asia": 1.0}},
    ...             jitter=("normal", 3.0))
    >>> g.edges[0, 1]["latency"].mean_ms, g.edges[1, 2]["latency"].mean_ms
    (2.0, 90.0)
    >>> g.edges[1, 2]["latency"].std_ms
    3.0
    """
    region_of: dict[int, str] = {}
    for region, members in assignment.items():
        for node in members:
            node = int(node)
            if node in region_of:
                raise ValueError(f"node {node} is in regions {region_of[node]!r} and {region!r}")
            region_of[node] = region
    n = len(region_of)
    if sorted(region_of) != list(range(n)):
        raise ValueError(f"region assignment must cover node ids 0..{n - 1} exactly once")
    distribution, std_ms = jitter
    models: dict[tuple[str, str], LatencyModel] = {}

    def link_latency(u: int, v: int) -> LatencyModel:
        # One model object per region pair, shared by its links.
        key = tuple(sorted((region_of[u], region_of[v])))
        model = models.get(key)
        if model is None:
            mean = _region_latency(key[0], key[1], latency_ms_matrix)
            model = models[key] = LatencyModel(distribution, mean, std_ms)
        return model

    return _sorted_graph(
        n, ((u, v) for u in range(n) for v in range(u + 1, n)), link_latency
    )


def build_topology(
    kind: str,
    n: int,
    *,
    latency: LatencyModel,
    degree: int | None = None,
    regions: Mapping[str, Sequence[int]] | None = None,
    latency_ms_matrix: Mapping[str, Mapping[str, float]] | None = None,
    jitter: tuple[Distribution, float] | None = None,
    rng: np.random.Generator | None = None,
) -> nx.Graph:
    """The graph a scenario names: ``kind`` is ``full_mesh``, ``random`` or ``regions``.

    ``random`` (also spelled ``random_regular``) needs ``degree`` and ``rng``; ``regions``
    needs ``regions`` and ``latency_ms_matrix`` and takes its jitter from ``jitter`` or, when
    that is None, from ``latency``'s distribution and std. Hyphens and underscores are the same.

    >>> g = build_topology("full-mesh", 3, latency=LatencyModel("constant", 1.0))
    >>> g.number_of_edges()
    3
    """
    name = kind.replace("-", "_").lower()
    if name in ("full_mesh", "mesh", "full"):
        return full_mesh(n, latency)
    if name in ("random", "random_regular", "random_regular_ish"):
        if degree is None or rng is None:
            raise ValueError("a random topology needs degree and rng")
        return random_regular_ish(n, degree, latency, rng)
    if name == "regions":
        if regions is None or latency_ms_matrix is None:
            raise ValueError("a regions topology needs regions and latency_ms_matrix")
        graph = _regions(
            regions,
            latency_ms_matrix,
            jitter if jitter is not None else (latency.distribution, latency.std_ms),
        )
        if graph.number_of_nodes() != n:
            raise ValueError(
                f"regions place {graph.number_of_nodes()} nodes but the network has {n}"
            )
        return graph
    raise ValueError(f"unknown topology kind {kind!r}; expected one of {', '.join(KINDS)}")


# build_topology's keyword ``regions`` shadows the builder inside it.
_regions = regions
