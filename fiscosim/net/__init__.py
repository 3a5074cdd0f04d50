"""The network model: topology, link latency, uplink bandwidth, loss, partitions.

- :mod:`~fiscosim.net.latency` — one-way latency distributions drawn in integer µs, and the
  buffered per-link streams that keep draws fast and deterministic;
- :mod:`~fiscosim.net.topology` — graph builders: full mesh (FISCO's gateways), random
  near-regular graphs (relayed traffic), regions with a latency matrix;
- :mod:`~fiscosim.net.network` — :class:`Network`: uplink serialisation, propagation, relaying,
  loss, node and link faults, counters and the trace hook.

It knows message sizes and timing, never protocol semantics (docs/architecture.md): a message is
an opaque object with a size, and its kind (for the counters) is its ``kind`` attribute or its
type's name.
"""

from fiscosim.net.latency import LatencyModel
from fiscosim.net.network import P2P_HEADER_BYTES, Network, NetworkStats
from fiscosim.net.topology import build_topology, full_mesh, random_regular_ish, regions

random_topology = random_regular_ish
"""Another name for :func:`~fiscosim.net.topology.random_regular_ish`."""

__all__ = [
    "P2P_HEADER_BYTES",
    "LatencyModel",
    "Network",
    "NetworkStats",
    "build_topology",
    "full_mesh",
    "random_regular_ish",
    "random_topology",
    "regions",
]
