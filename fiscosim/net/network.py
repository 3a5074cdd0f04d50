"""The simulated network: per-node uplinks, per-link latency and loss, routing, faults, counters.

A message of ``size`` payload bytes from ``src`` to ``dst`` travels like this:

1. It waits for ``src``'s **uplink**, which sends one message at a time in FIFO order, and is
   serialised in ``ceil((size + header_bytes) * 8 / bandwidth)`` µs (``header_bytes`` is
   FISCO's 14-byte P2P header, docs/fisco-reference.md §4.1). So a leader's PrePrepare to 99 peers
   takes 99 serialisations, the last peer hearing of it 99 transmission times after the first.
2. It then propagates for a **latency** drawn from the link's distribution.
3. ``on_deliver(src, dst, message)`` is called at the arrival time.

Only the sender's uplink is a bottleneck: a receiver takes any number of messages at once (its
downlink and its CPU belong to the node model). If ``src`` and ``dst`` are not neighbours the
message is relayed along the shortest path by hop count — FISCO gateways relay through peers
with a distance-vector router table (docs/fisco-reference.md §4.1) — paying the relay's uplink and
the next link's latency at every hop. Routes are computed once from the graph (breadth-first from
the destination, neighbours in id order, so ties always break the same way); they do not route
around partitions or down nodes.

**Transport order.** FISCO's links are TCP connections, which never reorder: by default a
message never arrives on a directed link before the one sent on it before (its arrival is
``max(departure + latency, previous arrival on that link)``). ``fifo_links=False`` lets jitter
reorder messages (datagram-like).

**Causality.** A hop never arrives before it departs: a latency stream that yields a negative
delay raises RuntimeError, naming the link and both times, when the hop is sent, and the delivery
queue raises if it finds an arrival the clock has already passed, rather than deliver it late or
move simpy's clock back to it. Each costs one integer comparison per message.

**Randomness.** Every directed link (u→v) has its own two random streams, seeded from the
network's ``SeedSequence`` and the link's endpoints only: one for latencies, one for loss
decisions, each drawn in blocks (:mod:`fiscosim.net.latency`). The k-th message over a link
gets the k-th draw of that link's stream, whatever traffic other links carry; turning loss on
does not change latencies. Streams are created lazily, on a link's first message.

**Loss and faults.** Each hop loses the message with probability ``loss_rate``, decided at
departure from the link's loss stream (only consumed while ``loss_rate > 0``), and the loss
takes effect at the hop's arrival time. Fault hooks — :meth:`Network.set_node_up`,
:meth:`Network.partition`, :meth:`Network.cut`, :meth:`Network.heal`,
:meth:`Network.set_extra_delay` — are checked when a hop arrives: a message is dropped if its
original sender or the hop's endpoints are down at that moment, or if the hop crosses a
partition or a cut link. A send from a node that is already down, or to an unreachable node, is
dropped at once (at the current time, without using the uplink). Every send ends in exactly one
``on_deliver`` or one drop (``on_drop(src, dst, message)`` when given), counted with its reason
in :attr:`Network.stats`: ``loss``, ``src_down``, ``dst_down``, ``relay_down``, ``partition``,
``link_cut`` or ``no_route``.

**Speed.** No simpy process and no simpy event per message. Each node keeps the time its
uplink becomes free, so departure and arrival are computed when a message is sent. Because
links are FIFO, the messages on a link arrive in the order they were queued: the network keeps
one deque per directed link and a heap holding only each busy link's head, keyed by
(arrival time, scheduling order), and merges it into simpy with one "wake" event at the earliest
arrival. When a wake fires, the network delivers everything due and, as long as no other simpy
event is due first, moves the clock on to the next arrival itself
(:func:`~fiscosim.engine.simpy_adapter.advance_clock_if_idle`: simpy internals, so any
``simpy.Environment`` or subclass that keeps them, not a ``RealtimeEnvironment``; the adapter
is the only module that touches them). So ``env.step`` runs far fewer times than messages are
delivered; :meth:`NetworkStats.totals` counts those. Messages due at the same microsecond are
delivered together, in the order they were scheduled (send order); another simpy event due at
that microsecond runs before or after the whole batch, deterministically, and one due earlier
always runs first. With ``fifo_links=False`` each message has its own heap entry.

**Link utilisation** (docs/bottleneck.md). Each sending queue (a machine's uplink, its
loopback) adds the part of every serialisation that falls inside the measured window
(:meth:`Network.set_window`; the whole run by default) to its busy time; a broadcast adds its
run of back-to-back copies at once. A receiver's downlink is not a queue here (see above):
the wire bytes of every hop that arrives at a machine from another machine inside the window
are counted instead, and its downlink utilisation is those bytes at its uplink's rate
(a symmetric NIC) over the window. Lost copies are not counted at their receiver.

**Compression.** FISCO zstd-compresses payloads above 1024 bytes (docs/fisco-reference.md §4.1). The
network charges the payload size it is given; pass ``compress`` (payload size -> compressed size,
called for payloads above :data:`COMPRESS_THRESHOLD_BYTES`) to model compression.

>>> import numpy as np, simpy
>>> from fiscosim.net.latency import LatencyModel
>>> from fiscosim.net.topology import full_mesh
>>> env = simpy.Environment()
>>> net = Network(env, full_mesh(3, LatencyModel("constant", 10.0)), bandwidth_bps=1e6,
...               loss_rate=0.0, seed_seq=np.random.SeedSequence(1))
>>> arrivals = []
>>> net.broadcast(0, [1, 2], "hello", 986, lambda s, d, m: arrivals.append((d, env.now)))
>>> env.run()
>>> arrivals            # (986 + 14) bytes * 8 = 8000 µs each on a 1 Mbit/s uplink, + 10 ms
[(1, 18000), (2, 26000)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush, heapreplace
from typing import Any

import networkx as nx
import numpy as np
import simpy

from fiscosim.engine.simpy_adapter import advance_clock_if_idle, schedule_call
from fiscosim.net.latency import uniform_stream

P2P_HEADER_BYTES = 14
"""FISCO's P2P header: length u32, version u16, packetType i16, seq u32, ext u16
(docs/fisco-reference.md §4.1)."""
COMPRESS_THRESHOLD_BYTES = 1024
"""FISCO compresses payloads larger than this (``c_compressThreshold``, docs/fisco-reference.md
§4.1)."""
UNLIMITED_BPS = 10**18
"""An infinite bandwidth is stored as this: any real message then takes 1 µs to serialise."""


Deliver = Callable[[int, int, Any], None]
Tracer = Callable[[str, dict], None]

LOSS = "loss"
ADVANCE_CLOCK = True
"""Let the network's queue move simpy's clock to the next arrival when no simpy event comes
before it (see :meth:`Network._drain`); False schedules a simpy event per arrival time."""

DROP_REASONS = ("loss", "src_down", "dst_down", "relay_down", "partition", "link_cut", "no_route")

# Indices into a kind's counter list (a list, not an object: it is bumped on every message).
_SENT, _BYTES_SENT, _DELIVERED, _BYTES_DELIVERED, _DROPPED, _BYTES_DROPPED = range(6)
# Indices into a packet's shared ``sent`` tuple.
_SRC, _MESSAGE, _SIZE, _WIRE, _KIND, _COUNTERS, _ON_DELIVER, _ON_DROP, _AT = range(9)


def _unused(src: int, dst: int, message: object) -> None:  # pragma: no cover - never queued
    raise RuntimeError("an aggregated copy was queued for delivery")


class NetworkStats:
    """Counters of a network: messages and wire bytes by kind and outcome, bytes by uplink.

    ``by_kind`` counts each message once, end to end, with its wire size (payload + header);
    ``node_bytes_sent`` / ``node_messages_sent`` count every use of a node's uplink, relayed
    hops included.
    """

    def __init__(self, nodes: int) -> None:
        self._kinds: dict[str, list[int]] = {}
        self.drop_reasons: dict[str, int] = {}
        """Dropped messages by reason (see the module docstring)."""
        self.node_bytes_sent: list[int] = [0] * nodes
        """Wire bytes each node's uplink has sent (its own messages and those it relayed)."""
        self.node_messages_sent: list[int] = [0] * nodes
        """Messages each node's uplink has sent (relayed hops included)."""

    def _counters(self, kind: str) -> list[int]:
        counters = self._kinds.get(kind)
        if counters is None:
            counters = self._kinds[kind] = [0] * 6
        return counters

    def by_kind(self) -> dict[str, dict[str, int]]:
        """``{kind: {sent, bytes_sent, delivered, bytes_delivered, dropped, bytes_dropped}}``."""
        names = ("sent", "bytes_sent", "delivered", "bytes_delivered", "dropped", "bytes_dropped")
        return {kind: dict(zip(names, c, strict=True)) for kind, c in self._kinds.items()}

    def totals(self) -> dict[str, int]:
        """The :meth:`by_kind` counters summed over kinds, plus ``in_flight``."""
        sums = [sum(c[i] for c in self._kinds.values()) for i in range(6)]
        names = ("sent", "bytes_sent", "delivered", "bytes_delivered", "dropped", "bytes_dropped")
        out = dict(zip(names, sums, strict=True))
        out["in_flight"] = out["sent"] - out["delivered"] - out["dropped"]
        return out


class _Link:
    """One directed link: its latency and loss streams and the messages travelling on it.

    With FIFO links the messages in ``queue`` arrive in queue order, so only the head needs a
    place in the network's heap (see :meth:`Network._drain`).
    """

    __slots__ = ("last_arrival", "latency", "loss", "queue")

    def __init__(self, latency: Callable[[], int] | None) -> None:
        self.latency = latency
        self.loss: Callable[[], float] | None = None
        self.last_arrival = 0
        self.queue: deque[_Packet] = deque()


class _Packet:
    """One copy of a message in flight, on its current hop.

    What every copy of a broadcast shares — ``(src, message, size, wire, kind, counters,
    on_deliver, on_drop, sent_at)`` — is one tuple, ``sent``, built once per broadcast.
    """

    __slots__ = ("arrival", "dst", "fate", "hop", "ident", "path", "sent", "seq")

    def __init__(self, sent: tuple, dst: int, ident: int, path: tuple[int, ...] | None) -> None:
        self.sent = sent
        self.dst = dst
        self.ident = ident
        self.path = path
        self.hop = 0
        # None: deliver; LOSS: lost on this hop; any other reason: dropped before leaving.
        self.fate: str | None = None
        self.arrival = 0
        self.seq = 0


def _before_departure(u: int, v: int, departure: int, arrival: int) -> str:
    return (
        f"link {u}->{v}: arrival at {arrival} µs is before its departure at {departure} µs "
        f"(a latency of {arrival - departure} µs): link latencies must never be negative"
    )


def _overdue(entry: tuple, now: int) -> str:
    item = entry[2]
    packet = item.queue[0] if item.__class__ is _Link else item
    path = packet.path
    u, v = (packet.sent[_SRC], packet.dst) if path is None else path[packet.hop:packet.hop + 2]
    return (
        f"link {u}->{v}: a message due at {entry[0]} µs is still queued at {now} µs: the "
        "clock passed its arrival without delivering it"
    )


def _kind_of(message: Any) -> str:
    kind = getattr(message, "kind", None)
    if type(kind) is str:
        return kind
    if kind is not None:
        # An enum packet type names itself; anything else is shown as text.
        return getattr(kind, "name", None) or str(kind)
    return type(message).__name__


class Network:
    """A network of nodes ``0..n-1`` on ``graph``: uplinks, links, routing, loss and faults.

    Parameters
    ----------
    env : the simpy environment; its clock counts integer microseconds.
    graph : nodes ``0..n-1``, every edge with a ``latency`` attribute
        (:class:`~fiscosim.net.latency.LatencyModel`), e.g. from :mod:`fiscosim.net.topology`.
    bandwidth_bps : each node's uplink in bits per second, one value for all or one per node
        (rounded to whole bits per second; ``math.inf`` for no serialisation delay).
    loss_rate : probability that a hop loses a message, in [0, 1]; may be changed during a run.
    seed_seq : the network's seed; every link's streams derive from it and the link's endpoints.
    header_bytes : bytes added to every message's payload on the wire (FISCO's P2P header).
    tracer : called as ``tracer(event, fields)`` on every send, deliver and drop, with integer
        fields (µs for times); ``None`` costs one check per event.
    fifo_links : keep each directed link in order, like the TCP connections FISCO uses.
    compress : payload size -> size on the wire, for payloads above
        :data:`COMPRESS_THRESHOLD_BYTES`; ``None`` sends payloads as they are.
    hosts : the machine of each node (ints from 0), ``None`` for a machine each. Nodes on one
        machine share its uplink (``bandwidth_bps`` is then each machine's: the first of its
        nodes' values) and reach each other over loopback: their own queue per machine at
        ``loopback_bps``, and the graph edge's latency (the caller gives those edges a
        loopback latency model).
    loopback_bps : the loopback's throughput, bits per second (the scenario's default is
        measured: ``network.loopback_mbps``, docs/hosts.md).
    latency_per_sender : draw a node's latencies from one stream per sender and latency model
        instead of one per link (the aggregated vote mode's, which draws its votes' that way):
        a link then holds no random generator and no block of draws of its own, ~1 KB instead
        of ~4.4 KB, which is what lets a 1,000-sealer mesh (999,000 links) fit in memory; a
        link's draws then depend on the order the sender uses its links.
    """

    def __init__(
        self,
        env: simpy.Environment,
        graph: nx.Graph,
        bandwidth_bps: float | Sequence[float],
        loss_rate: float,
        seed_seq: np.random.SeedSequence,
        header_bytes: int = P2P_HEADER_BYTES,
        tracer: Tracer | None = None,
        *,
        fifo_links: bool = True,
        compress: Callable[[int], int] | None = None,
        hosts: Sequence[int] | None = None,
        loopback_bps: float = math.inf,
        latency_per_sender: bool = False,
    ) -> None:
        n = graph.number_of_nodes()
        if sorted(graph.nodes) != list(range(n)):
            raise ValueError("the network graph's nodes must be the ints 0..n-1")
        if header_bytes < 0:
            raise ValueError(f"header_bytes must be >= 0, got {header_bytes}")
        self.env = env
        self.graph = graph
        self.n = n
        self.header_bytes = int(header_bytes)
        self.tracer = tracer
        self.untraced: frozenset[str] = frozenset()
        """Message kinds the tracer is not called for (a trace that leaves them out: the
        per-transaction gossip); set by whoever gave the tracer."""
        self.fifo_links = fifo_links
        self.compress = compress
        self.loss_rate = loss_rate
        per_node = self._uplinks(bandwidth_bps, n)
        if hosts is None:
            hosts = range(n)
        self._host: list[int] = [int(h) for h in hosts]
        if len(self._host) != n or (n and min(self._host) < 0):
            raise ValueError(f"hosts must give each of the {n} nodes a machine number >= 0")
        machines = max(self._host, default=-1) + 1
        # One sending queue per machine's uplink, then one per machine's loopback: a message's
        # queue is _host[src], or _loop + _host[src] between two nodes of one machine.
        self._loop = machines
        uplink = [UNLIMITED_BPS] * machines
        for node in range(n - 1, -1, -1):
            uplink[self._host[node]] = per_node[node]
        loop = self._uplinks(loopback_bps, 1)[0]
        self._bandwidth = uplink + [loop] * machines
        self._seed = seed_seq
        self._adjacent: list[dict[int, Any]] = [{} for _ in range(n)]
        for u, v, data in graph.edges(data=True):
            latency = data.get("latency")
            if latency is None or not hasattr(latency, "stream"):
                raise ValueError(f"edge ({u}, {v}) has no 'latency' model")
            self._adjacent[u][v] = latency
            self._adjacent[v][u] = latency
        self._out: list[dict[int, _Link]] = [{} for _ in range(n)]
        self._latency_per_sender = latency_per_sender
        self._sender_streams: list[dict[Any, Callable[[], int]]] = [{} for _ in range(n)]
        self._uplink_free_at: list[int] = [0] * (2 * machines)
        self._routes: dict[tuple[int, int], tuple[int, ...] | None] = {}
        self._next_hop: dict[int, list[int]] = {}
        self._next_id = 0
        # The delivery queue: a heap of (arrival, seq, link head or packet) merged into simpy.
        self._heap: list[tuple[int, int, Any]] = []
        self._seq = 0
        self._wakes: list[int] = []
        self._draining = False
        self._local = _Link(None)  # sends to oneself, and drops decided at send time
        # Faults (all empty: the fast path checks one flag).
        self._down: set[int] = set()
        self._group: list[int] | None = None
        self._cuts: set[tuple[int, int]] = set()
        self._extra_delay: list[int] | None = None
        self._faulty = False
        self.stats = NetworkStats(n)
        self.aggregated = 0
        """Copies handed over by :meth:`broadcast_arrivals` (counted, never queued here)."""
        self._aggregate_rngs: dict[int, np.random.Generator] = {}
        self._aggregate_last: np.ndarray | None = None
        self._aggregate_down: np.ndarray | None = None
        """Bytes aggregated copies brought each machine inside the window (link_usage adds
        them to the downlink's)."""
        self._host_of: np.ndarray | None = None
        # The measured window and what the links did inside it (the module docstring).
        self._win_lo = 0
        self._win_hi = 1 << 62
        self._queue_busy: list[float] = [0.0] * (2 * machines)
        self._down_bytes: list[int] = [0] * machines

    @staticmethod
    def _uplinks(bandwidth_bps: float | Sequence[float], n: int) -> list[int]:
        values = (
            [bandwidth_bps] * n if isinstance(bandwidth_bps, int | float) else list(bandwidth_bps)
        )
        if len(values) != n:
            raise ValueError(f"bandwidth_bps has {len(values)} values for {n} nodes")
        out = []
        for bps in values:
            if not bps > 0:
                raise ValueError(f"bandwidth must be > 0 bit/s, got {bps}")
            # Integer bits/s keep serialisation times exact integer arithmetic.
            out.append(UNLIMITED_BPS if math.isinf(bps) else max(1, round(bps)))
        return out

    # -- configuration ---------------------------------------------------------------------
    @property
    def loss_rate(self) -> float:
        """Probability that a hop loses a message (a fault may change it during a run)."""
        return self._loss

    @loss_rate.setter
    def loss_rate(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"loss_rate must be in [0, 1], got {rate}")
        self._loss = float(rate)

    def uplink_free_at(self, node: int) -> int:
        """The time (µs) ``node``'s uplink (its machine's) finishes sending what it has
        queued."""
        return self._uplink_free_at[self._host[node]]

    def _queue_of(self, u: int, v: int) -> int:
        """The sending queue of a message from u to neighbour v: u's machine's uplink, or its
        loopback when v runs on the same machine."""
        host = self._host
        hu = host[u]
        return self._loop + hu if host[v] == hu else hu

    def tx_time(self, node: int, size: int) -> int:
        """Serialisation time (µs) of a ``size``-byte payload on ``node``'s uplink.

        >>> from fiscosim.net.topology import full_mesh
        >>> from fiscosim.net.latency import LatencyModel
        >>> net = Network(simpy.Environment(), full_mesh(2, LatencyModel()), 1e6, 0.0,
        ...               np.random.SeedSequence(0))
        >>> net.tx_time(0, 986), net.tx_time(0, 0)
        (8000, 112)
        """
        return -(-(self._wire(size) * 8_000_000) // self._bandwidth[self._host[node]])

    def _wire(self, size: int) -> int:
        if self.compress is not None and size > COMPRESS_THRESHOLD_BYTES:
            size = self.compress(size)
        return size + self.header_bytes

    # -- utilisation -----------------------------------------------------------------------
    def set_window(self, start_us: int, end_us: int) -> None:
        """Counts link busy time only inside [``start_us``, ``end_us``) (the measured window)."""
        self._win_lo = start_us
        self._win_hi = end_us

    def _busy(self, queue: int, begin: int, end: int) -> None:
        """Adds ``queue``'s serialising from ``begin`` to ``end`` (clipped to the window)."""
        if begin < self._win_lo:
            begin = self._win_lo
        if end > self._win_hi:
            end = self._win_hi
        if end > begin:
            self._queue_busy[queue] += end - begin

    def link_usage(self, node: int) -> dict[str, float]:
        """Busy µs inside the window of ``node``'s machine's links: ``uplink``, ``downlink``
        (its received bytes at its uplink's rate) and, where nodes share machines,
        ``loopback``. Nodes of one machine share these."""
        host = self._host[node]
        down = self._down_bytes[host]
        if self._aggregate_down is not None:
            down += int(self._aggregate_down[host])
        out = {"uplink": self._queue_busy[host],
               "downlink": down * 8_000_000 / self._bandwidth[host]}
        if self._loop < self.n:  # some machine runs several nodes
            out["loopback"] = self._queue_busy[self._loop + host]
        return out

    # -- fault hooks -----------------------------------------------------------------------
    def _refresh_faults(self) -> None:
        self._faulty = bool(self._down) or self._group is not None or bool(self._cuts)

    def set_node_up(self, node: int, up: bool) -> None:
        """Marks ``node`` up or down. Messages to, from or through a down node are dropped."""
        if up:
            self._down.discard(node)
        else:
            self._down.add(node)
        self._refresh_faults()

    def is_up(self, node: int) -> bool:
        """Whether ``node`` is up."""
        return node not in self._down

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Cuts every link between different ``groups``; nodes in no group form one more group.

        Replaces any earlier partition (cut links stay cut).
        """
        group = [-1] * self.n
        for index, members in enumerate(groups):
            for node in members:
                if group[node] != -1:
                    raise ValueError(f"node {node} is in two partition groups")
                group[node] = index
        self._group = group
        self._refresh_faults()

    def cut(self, u: int, v: int) -> None:
        """Cuts the link between ``u`` and ``v`` (both directions) until :meth:`heal`."""
        self._cuts.update(((u, v), (v, u)))
        self._refresh_faults()

    def heal(self) -> None:
        """Removes the partition and every cut link (down nodes stay down)."""
        self._group = None
        self._cuts.clear()
        self._refresh_faults()

    def set_extra_delay(self, node: int, delay_us: int) -> None:
        """Adds ``delay_us`` to the propagation of every hop ``node`` sends (0 removes it)."""
        if delay_us < 0:
            raise ValueError(f"extra delay must be >= 0 µs, got {delay_us}")
        if self._extra_delay is None:
            self._extra_delay = [0] * self.n
        self._extra_delay[node] = int(delay_us)
        if not any(self._extra_delay):
            self._extra_delay = None

    # -- routing and links -----------------------------------------------------------------
    def route(self, src: int, dst: int) -> tuple[int, ...] | None:
        """The hops from ``src`` to ``dst`` (both included), or None if unreachable.

        Shortest by hop count; among equals, each node forwards to its lowest-id neighbour that
        is closest to ``dst`` (a breadth-first tree grown from ``dst`` in id order).
        """
        key = (src, dst)
        if key in self._routes:
            return self._routes[key]
        if dst in self._adjacent[src]:
            path: tuple[int, ...] | None = (src, dst)
        else:
            toward = self._next_hop.get(dst)
            if toward is None:
                toward = self._next_hop[dst] = self._bfs_toward(dst)
            if toward[src] < 0:
                path = None
            else:
                hops = [src]
                while hops[-1] != dst:
                    hops.append(toward[hops[-1]])
                path = tuple(hops)
        self._routes[key] = path
        return path

    def _bfs_toward(self, dst: int) -> list[int]:
        """Each node's next hop toward ``dst`` (-1: unreachable): its lowest-id neighbour one
        hop closer to ``dst``."""
        distance = [-1] * self.n
        distance[dst] = 0
        queue = deque([dst])
        while queue:
            node = queue.popleft()
            for neighbour in self._adjacent[node]:
                if distance[neighbour] < 0:
                    distance[neighbour] = distance[node] + 1
                    queue.append(neighbour)
        toward = [-1] * self.n
        toward[dst] = dst
        for node, d in enumerate(distance):
            if d > 0:
                toward[node] = min(u for u in self._adjacent[node] if distance[u] == d - 1)
        return toward

    def _link(self, u: int, v: int) -> _Link:
        """The directed link u→v, its latency stream created on first use."""
        link = self._out[u].get(v)
        if link is None:
            model = self._adjacent[u][v]
            if self._latency_per_sender:
                streams = self._sender_streams[u]
                draw = streams.get(model)
                if draw is None:
                    # keyed by the sender and the models' order of first use, not by v
                    draw = streams[model] = model.stream(self._rng(u, len(streams), 3)).__next__
            else:
                draw = model.stream(self._rng(u, v, 0)).__next__
            link = self._out[u][v] = _Link(draw)
        return link

    def _rng(self, u: int, v: int, purpose: int) -> np.random.Generator:
        # Keyed by the endpoints, not by creation order or n: a link's draws never depend on
        # which links were used first or on how many nodes exist.
        seed = self._seed
        child = np.random.SeedSequence(
            seed.entropy, spawn_key=(*seed.spawn_key, u, v, purpose), pool_size=seed.pool_size
        )
        return np.random.default_rng(child)

    def _loss_draw(self, link: _Link, u: int, v: int) -> float:
        if link.loss is None:
            link.loss = uniform_stream(self._rng(u, v, 1)).__next__
        return link.loss()

    # -- sending ---------------------------------------------------------------------------
    def _start(self, src: int, message: object, size: int, on_deliver: Deliver,
               on_drop: Deliver | None, copies: int) -> tuple:
        """Counts ``copies`` sends of ``message`` and returns what the copies share."""
        kind = _kind_of(message)
        wire = self._wire(size)
        counters = self.stats._kinds.get(kind) or self.stats._counters(kind)
        counters[_SENT] += copies
        counters[_BYTES_SENT] += copies * wire
        return (src, message, size, wire, kind, counters, on_deliver, on_drop, self.env.now)

    def send(
        self,
        src: int,
        dst: int,
        message: object,
        size: int,
        on_deliver: Deliver,
        on_drop: Deliver | None = None,
    ) -> None:
        """Sends ``message`` of ``size`` payload bytes from ``src`` to ``dst``.

        ``on_deliver(src, dst, message)`` is called at its arrival, or ``on_drop(src, dst,
        message)`` (if given) when it is dropped. Sending to oneself delivers at the current
        time, without the uplink or any draw.
        """
        sent = self._start(src, message, size, on_deliver, on_drop, 1)
        link = self._out[src].get(dst)
        if link is None or self._faulty or self._extra_delay is not None:
            self._send_copy(sent, dst)
            return
        # The fast path: a direct link used before, no faults. The same steps as _depart.
        now = sent[_AT]
        wire = sent[_WIRE]
        stats = self.stats
        stats.node_bytes_sent[src] += wire
        stats.node_messages_sent[src] += 1
        ident = self._next_id
        self._next_id = ident + 1
        packet = _Packet(sent, dst, ident, None)
        queue = self._queue_of(src, dst)
        free = self._uplink_free_at[queue]
        tx = -(-(wire * 8_000_000) // self._bandwidth[queue])
        departure = (now if now > free else free) + tx
        self._uplink_free_at[queue] = departure
        if departure > self._win_lo and departure - tx < self._win_hi:
            self._busy(queue, departure - tx, departure)
        if self._loss and self._loss_draw(link, src, dst) < self._loss:
            packet.fate = LOSS
        arrival = departure + link.latency()
        if arrival < departure:
            raise RuntimeError(_before_departure(src, dst, departure, arrival))
        if (self._win_lo <= arrival < self._win_hi and queue < self._loop
                and packet.fate is None):
            self._down_bytes[self._host[dst]] += wire
        self._enqueue(link, packet, arrival)
        if self.tracer is not None and sent[_KIND] not in self.untraced:
            self.tracer("send", {"node": src, "dst": dst, "kind": sent[_KIND], "size": size,
                                 "bytes": wire, "id": ident, "depart": departure, "hops": 1,
                                 "message": sent[_MESSAGE], "deliver": sent[_ON_DELIVER]})

    def broadcast(
        self,
        src: int,
        dsts: Sequence[int],
        message: object,
        size: int,
        on_deliver: Deliver,
        on_drop: Deliver | None = None,
    ) -> None:
        """Sends ``message`` to each of ``dsts`` in order: the copies queue on ``src``'s uplink
        one after the other (no multicast: FISCO unicasts over its full mesh).

        Exactly the same as calling :meth:`send` for each destination in turn, only faster.
        """
        sent = self._start(src, message, size, on_deliver, on_drop, len(dsts))
        if self._faulty or self._extra_delay is not None:
            for dst in dsts:
                self._send_copy(sent, dst)
            return
        now = sent[_AT]
        wire = sent[_WIRE]
        host = self._host
        uplink = host[src]
        tx = -(-(wire * 8_000_000) // self._bandwidth[uplink])
        out = self._out[src]
        free_at = self._uplink_free_at
        free = free_at[uplink]
        if free < now:
            free = now
        loss = self._loss
        tracer = self.tracer
        if tracer is not None and sent[_KIND] in self.untraced:
            tracer = None
        fifo = self.fifo_links
        heap = self._heap
        direct = 0
        # The copies sent here serialise back to back from `run`: one busy interval per run.
        run = free
        lo, hi = self._win_lo, self._win_hi
        down = self._down_bytes
        for dst in dsts:
            link = out.get(dst)
            if link is None or not fifo or host[dst] == uplink:
                # A first use, a relay, a self-send, unordered links or a node of the same
                # machine (loopback): the general path, with the uplink's state handed over
                # and back.
                if free > run:
                    self._busy(uplink, run, free)
                free_at[uplink] = free
                self._send_copy(sent, dst)
                free = run = free_at[uplink]
                continue
            # _depart and _enqueue inlined: this loop carries most of a PBFT run's traffic.
            free += tx
            direct += 1
            ident = self._next_id
            self._next_id = ident + 1
            packet = _Packet(sent, dst, ident, None)
            if loss and self._loss_draw(link, src, dst) < loss:
                packet.fate = LOSS
            arrival = free + link.latency()
            if arrival < free:
                raise RuntimeError(_before_departure(src, dst, free, arrival))
            if arrival < link.last_arrival:
                arrival = link.last_arrival
            else:
                link.last_arrival = arrival
            if lo <= arrival < hi and packet.fate is None:
                down[host[dst]] += wire
            seq = self._seq
            self._seq = seq + 1
            packet.arrival = arrival
            packet.seq = seq
            waiting = link.queue
            waiting.append(packet)
            if len(waiting) == 1:
                heappush(heap, (arrival, seq, link))
            if tracer is not None:
                tracer("send", {"node": src, "dst": dst, "kind": sent[_KIND], "size": size,
                                "bytes": wire, "id": ident, "depart": free, "hops": 1,
                                "message": sent[_MESSAGE], "deliver": sent[_ON_DELIVER]})
        free_at[uplink] = free
        if free > run:
            self._busy(uplink, run, free)
        stats = self.stats
        stats.node_bytes_sent[src] += direct * wire
        stats.node_messages_sent[src] += direct
        if not self._draining and heap:
            # One wake check for the whole batch: is the earliest arrival covered?
            wakes = self._wakes
            if not wakes or heap[0][0] < wakes[0]:
                self._add_wake(heap[0][0])

    def broadcast_arrivals(self, src: int, dsts: np.ndarray, message: object,
                           size: int) -> np.ndarray:
        """What :meth:`broadcast` does, without the deliveries: the copies queue on ``src``'s
        uplink one after the other and cross their links, and their arrival times are returned
        (int64, in ``dsts`` order) for the caller to hand over itself (the aggregated vote
        mode, :mod:`fiscosim.net.aggregate`). Counted as sent, and as delivered (or dropped at
        a down node), by kind and by uplink, and in :attr:`aggregated`. The latencies come from
        one stream per sender, drawn from the same model the links use, all at once; each
        link keeps FIFO order. Only over a full mesh of distinct machines with no partition,
        loss or extra delay (the scenario refuses the mode otherwise).
        """
        if (self._group is not None or self._cuts or self._extra_delay is not None
                or self._loss or not self.fifo_links):
            raise RuntimeError("aggregated delivery needs a network without partitions, loss, "
                               "extra delay or unordered links")
        m = len(dsts)
        sent = self._start(src, message, size, _unused, None, m)
        now = sent[_AT]
        wire = sent[_WIRE]
        uplink = self._host[src]
        tx = -(-(wire * 8_000_000) // self._bandwidth[uplink])
        free_at = self._uplink_free_at
        run = free_at[uplink]
        if run < now:
            run = now
        free = run + tx * m
        free_at[uplink] = free
        if free > run:
            self._busy(uplink, run, free)
        model = self._adjacent[src][int(dsts[0])]
        stream = self._aggregate_rngs.get(src)
        if stream is None:
            stream = self._aggregate_rngs[src] = self._rng(src, src, 2)
        arrivals = model.draw(stream, m)
        arrivals += np.arange(run + tx, free + 1, tx, dtype=np.int64)[:m]
        last = self._aggregate_last
        if last is None:
            last = self._aggregate_last = np.zeros((self.n, self.n), dtype=np.int64)
        row = last[src]
        np.maximum(arrivals, row[dsts], out=arrivals)
        row[dsts] = arrivals
        in_window = (arrivals >= self._win_lo) & (arrivals < self._win_hi)
        if in_window.any():
            if self._aggregate_down is None:
                self._aggregate_down = np.zeros(len(self._down_bytes), dtype=np.int64)
                self._host_of = np.asarray(self._host, dtype=np.intp)
            np.add.at(self._aggregate_down, self._host_of[dsts[in_window]], wire)
        stats = self.stats
        stats.node_bytes_sent[src] += m * wire
        stats.node_messages_sent[src] += m
        counters = sent[_COUNTERS]
        dropped = int(np.isin(dsts, list(self._down)).sum()) if self._down else 0
        if dropped:
            counters[_DROPPED] += dropped
            counters[_BYTES_DROPPED] += dropped * wire
            stats.drop_reasons["dst_down"] = stats.drop_reasons.get("dst_down", 0) + dropped
        counters[_DELIVERED] += m - dropped
        counters[_BYTES_DELIVERED] += (m - dropped) * wire
        self.aggregated += m
        return arrivals

    def _send_copy(self, sent: tuple, dst: int) -> None:
        """Sends one copy (already counted) in every case the fast paths leave: a link's first
        use, a relay, a fault, a self-send, an extra delay."""
        src = sent[_SRC]
        now = sent[_AT]
        ident = self._next_id
        self._next_id = ident + 1
        path = None if src == dst else self.route(src, dst)
        packet = _Packet(sent, dst, ident, path if path is not None and len(path) > 2 else None)
        if src in self._down:
            packet.fate = "src_down"
        elif src != dst and path is None:
            packet.fate = "no_route"
        if packet.fate is not None or src == dst:
            # It never uses the uplink: it is delivered or dropped now, in send order.
            self._enqueue(self._local, packet, now)
            departure, hops = now, 0
        else:
            assert path is not None
            departure = self._depart(packet, src, path[1], now)
            hops = len(path) - 1
        if self.tracer is not None and sent[_KIND] not in self.untraced:
            self.tracer("send", {"node": src, "dst": dst, "kind": sent[_KIND],
                                 "size": sent[_SIZE], "bytes": sent[_WIRE], "id": ident,
                                 "depart": departure, "hops": hops,
                                 "message": sent[_MESSAGE], "deliver": sent[_ON_DELIVER]})

    def _depart(self, packet: _Packet, u: int, v: int, now: int) -> int:
        """Puts ``packet`` on u's uplink toward neighbour v and schedules its arrival at v.

        Returns its departure time (when its last bit has left u).
        """
        link = self._link(u, v)
        wire = packet.sent[_WIRE]
        stats = self.stats
        stats.node_bytes_sent[u] += wire
        stats.node_messages_sent[u] += 1
        queue = self._queue_of(u, v)
        free = self._uplink_free_at[queue]
        tx = -(-(wire * 8_000_000) // self._bandwidth[queue])
        departure = (now if now > free else free) + tx
        self._uplink_free_at[queue] = departure
        if departure > self._win_lo and departure - tx < self._win_hi:
            self._busy(queue, departure - tx, departure)
        assert link.latency is not None
        arrival = departure + link.latency()
        if self._extra_delay is not None:
            arrival += self._extra_delay[u]
        if arrival < departure:
            raise RuntimeError(_before_departure(u, v, departure, arrival))
        packet.fate = LOSS if self._loss and self._loss_draw(link, u, v) < self._loss else None
        if (self._win_lo <= arrival < self._win_hi and queue < self._loop
                and packet.fate is None):
            self._down_bytes[self._host[v]] += wire
        self._enqueue(link, packet, arrival)
        return departure

    # -- the delivery queue ----------------------------------------------------------------
    def _enqueue(self, link: _Link, packet: _Packet, arrival: int) -> None:
        """Schedules ``packet``'s arrival over ``link`` (FIFO-clamped when links keep order)."""
        seq = self._seq
        self._seq = seq + 1
        packet.seq = seq
        if self.fifo_links:
            if arrival < link.last_arrival:
                arrival = link.last_arrival
            else:
                link.last_arrival = arrival
            packet.arrival = arrival
            queue = link.queue
            queue.append(packet)
            if len(queue) > 1:
                return  # behind the head, which already holds the link's place in the heap
            heappush(self._heap, (arrival, seq, link))
        else:
            packet.arrival = arrival
            heappush(self._heap, (arrival, seq, packet))
        if not self._draining:
            wakes = self._wakes
            if not wakes or arrival < wakes[0]:
                self._add_wake(arrival)

    def _add_wake(self, at: int) -> None:
        """Hands control to :meth:`_drain` at ``at`` (not before the clock): a simpy event."""
        heappush(self._wakes, at)
        schedule_call(self.env, at, self._wake)

    def _wake(self) -> None:
        """Called by simpy at a delivery time: runs the network's queue (:meth:`_drain`)."""
        heappop(self._wakes)
        self._drain()

    def _drain(self) -> None:
        """Delivers every message that is due, in (arrival time, scheduling order).

        The heap holds one entry per link with messages in flight (its head), not one per
        message: with 100 nodes and 200,000 messages in flight it stays under 10,000 entries,
        where simpy's own heap would hold all 200,000 (each push and pop then costs ~3x more).
        While no other simpy event is due before the next arrival, the loop moves the clock to
        that arrival itself instead of scheduling a simpy event for it; simpy's clock only ever
        moves forward to a time no queued event precedes, exactly as ``env.step`` would have.
        """
        env = self.env
        heap = self._heap
        # Only this loop moves the clock while it runs (deliveries schedule, they never step).
        now = env.now
        self._draining = True
        try:
            while heap:
                entry = heap[0]
                at = entry[0]
                if at > now:
                    if not ADVANCE_CLOCK or not advance_clock_if_idle(env, at):
                        break  # another simpy event comes first (or at the same time)
                    now = at
                elif at < now:
                    # Delivering it now would hand it over late; moving the clock back would
                    # deliver it before things that already happened. Neither is a simulation.
                    raise RuntimeError(_overdue(entry, now))
                item = entry[2]
                if item.__class__ is _Link:
                    waiting = item.queue
                    packet = waiting.popleft()
                    if waiting:
                        head = waiting[0]
                        heapreplace(heap, (head.arrival, head.seq, item))
                    else:
                        heappop(heap)
                else:
                    packet = item
                    heappop(heap)
                self._arrive(packet)
        finally:
            # Also after an exception in a callback, so a resumed run still delivers the rest.
            self._draining = False
            if heap:
                at = heap[0][0]
                wakes = self._wakes
                if not wakes or at < wakes[0]:
                    # Never a wake in the past (after the overdue error above): simpy would
                    # move its clock back to it.
                    now = env.now
                    self._add_wake(at if at >= now else now)

    # -- arrival ---------------------------------------------------------------------------
    def _arrive(self, packet: _Packet) -> None:
        """``packet`` reaches the end of its current hop (the clock reads its arrival)."""
        fate = packet.fate
        if fate is not None and fate is not LOSS:
            self._drop(packet, fate)  # it never left its sender
            return
        if self._faulty:
            reason = self._fault_reason(packet)
            if reason is not None:
                self._drop(packet, reason)
                return
        if fate is LOSS:
            self._drop(packet, LOSS)
            return
        path = packet.path
        if path is not None and packet.hop + 2 < len(path):
            # A relay: forward on its own uplink toward the next hop.
            packet.hop += 1
            self._depart(packet, path[packet.hop], path[packet.hop + 1], self.env.now)
            return
        src, message, size, wire, kind, counters, on_deliver, _, sent_at = packet.sent
        counters[_DELIVERED] += 1
        counters[_BYTES_DELIVERED] += wire
        if self.tracer is not None and kind not in self.untraced:
            self.tracer("deliver", {"node": packet.dst, "src": src, "kind": kind, "size": size,
                                    "id": packet.ident, "sent": sent_at})
        on_deliver(src, packet.dst, message)

    def _fault_reason(self, packet: _Packet) -> str | None:
        src = packet.sent[_SRC]
        path = packet.path
        if path is None:
            u, v = src, packet.dst
        else:
            u, v = path[packet.hop], path[packet.hop + 1]
        down = self._down
        if down:
            if src in down:
                return "src_down"
            if v in down:
                return "dst_down" if v == packet.dst else "relay_down"
            if u in down:
                return "relay_down"
        group = self._group
        if group is not None and group[u] != group[v]:
            return "partition"
        if self._cuts and (u, v) in self._cuts:
            return "link_cut"
        return None

    def _drop(self, packet: _Packet, reason: str) -> None:
        src, message, size, wire, kind, counters, _, on_drop, sent_at = packet.sent
        counters[_DROPPED] += 1
        counters[_BYTES_DROPPED] += wire
        reasons = self.stats.drop_reasons
        reasons[reason] = reasons.get(reason, 0) + 1
        if self.tracer is not None and kind not in self.untraced:
            path = packet.path
            at = packet.dst if path is None else path[packet.hop + 1]
            self.tracer("drop", {"node": packet.dst, "src": src, "kind": kind, "size": size,
                                 "id": packet.ident, "sent": sent_at, "reason": reason,
                                 "at": at})
        if on_drop is not None:
            on_drop(src, packet.dst, message)
