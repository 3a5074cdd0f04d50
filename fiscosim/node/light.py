"""Light nodes (docs/fisco-reference.md §4.2): block headers only; client queries answered with
proofs.

A light node keeps the headers of its group's chain. Full nodes announce each new block to it
(:class:`~fiscosim.node.messages.BlockStatus`); it asks one of them for the missing headers,
at most ``light.max_headers`` (50) per request, and stores a header only if its parent link
matches the header below and — unless ``light.verify_signatures`` is false, which is FISCO's
own behaviour — its signature list weighs at least Q. A client's query for a transaction, a
receipt or a block goes to a full node; the answer comes with a Merkle proof (or the block's
transaction hashes), which the light node checks against the stored header's root with the
real Merkle code of :mod:`fiscosim.crypto.merkle`. A transaction a client sends to a light
node is forwarded to a full node, whose RPC handles it (its receipt is returned when that full
node commits the block; the hop back to the light node is not modelled).

Headers are the full nodes' real block headers (:class:`fiscosim.chain.block.BlockHeader`);
the light node computes each header's hash and checks that the next header's parent link names
it. The roots and proofs are real Merkle roots and proofs with the chain's hash (keccak256 or
SM3) over the blocks' transaction hashes (the corpus's signed hashes in real-crypto mode, the
modelled ones otherwise: :meth:`~fiscosim.node.context.Shared.tx_hashes`) and receipts
(:class:`~fiscosim.chain.receipt.ReceiptBatch`); a receipt's answer carries the receipt, which
the light node hashes itself. A full node with the byzantine behaviour ``forge_light`` serves
headers with a forged signature list and proofs with one flipped byte; the light node catches
both, counts them and asks another full node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fiscosim.chain.block import BlockHeader, txs_root
from fiscosim.chain.receipt import Receipt
from fiscosim.crypto.merkle import MerkleTree, merkle_tree, verify_proof
from fiscosim.engine import schedule
from fiscosim.node.context import LedgerEntry, NodeContext
from fiscosim.node.costs import RECEIPT_BYTES
from fiscosim.node.messages import MESSAGE_OVERHEAD, PER_TX_FRAMING
from fiscosim.node.txpool import REJECT_CODES, Reject

SIGNATURE_ENTRY_BYTES = 8 + 65
"""Per signer in the signature list: index and signature."""
PROOF_NODE_BYTES = 32 + 2
"""A Merkle proof's node on the wire: a hash and its position."""
QUERY_KINDS = ("tx", "receipt", "block")


@dataclass(frozen=True, slots=True)
class LightHeader:
    """A block header as a full node serves it to a light node (docs/fisco-reference.md §2.6):
    the header and its signature list (here the signers' consensus indices)."""

    header: BlockHeader
    signers: tuple[int, ...]
    forged: bool = False
    """Sent by a ``forge_light`` full node: its signature list does not verify."""
    wire_bytes: int = 0
    """Bytes on the wire: the encoded header and one signature-list entry per signer."""

    @classmethod
    def of(cls, entry: LedgerEntry, forged: bool = False) -> LightHeader:
        header = entry.block.header
        return cls(header, entry.signers, forged,
                   len(header.encode()) + SIGNATURE_ENTRY_BYTES * len(entry.signers))

    @property
    def number(self) -> int:
        return self.header.number

    def size(self) -> int:
        return self.wire_bytes


@dataclass(frozen=True, slots=True)
class HeadersRequest:
    first: int
    last: int
    kind = "LightHeadersRequest"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 16


@dataclass(frozen=True, slots=True)
class HeadersResponse:
    headers: tuple[LightHeader, ...]
    kind = "LightHeadersResponse"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + sum(header.size() for header in self.headers)


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """``getTransactionByHashWithProof``, ``getTransactionReceiptByHashWithProof`` or
    ``getBlockByNumber`` with transactions (§4.2)."""

    query: int
    what: str
    number: int
    tx: int
    kind = "LightQueryRequest"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + 8 + 32


@dataclass(frozen=True, slots=True)
class QueryResponse:
    query: int
    what: str
    number: int
    leaf: bytes
    index: int
    proof: Any
    hashes: np.ndarray
    """A block query's answer: the block's transaction hashes, n×32 uint8 (none otherwise)."""
    payload_bytes: int
    receipt: Receipt | None = None
    """A receipt query's answer: the receipt (its hash is the proof's leaf)."""
    kind = "LightQueryResponse"

    def wire_size(self) -> int:
        nodes = sum(len(group) for group in self.proof.levels) if self.proof is not None else 0
        return (MESSAGE_OVERHEAD + self.payload_bytes + 32 * len(self.hashes)
                + PROOF_NODE_BYTES * nodes)


@dataclass(frozen=True, slots=True)
class ForwardTxs:
    """Transactions a light node forwards to a full node (``sendTransaction``, §4.2)."""

    ids: np.ndarray
    payload_bytes: int
    kind = "LightSendTransactions"

    def wire_size(self) -> int:
        return MESSAGE_OVERHEAD + self.payload_bytes + PER_TX_FRAMING * len(self.ids)


@dataclass
class LightStats:
    headers: int = 0
    header_bytes: int = 0
    header_lag_us: list[int] = field(default_factory=list)
    query_latency_us: dict[str, list[int]] = field(default_factory=dict)
    queries_failed: int = 0
    forged_caught: int = 0
    forwarded_txs: int = 0
    sync_bytes_in: int = 0
    """Wire bytes received to follow the chain: status announcements and headers."""
    query_bytes_in: int = 0
    """Wire bytes received in answer to queries."""


# -- what full nodes compute and serve -----------------------------------------------------------


_NO_HASHES = np.empty((0, 32), dtype=np.uint8)


def _tree(ctx: NodeContext, entry: LedgerEntry, what: str) -> MerkleTree:
    """The Merkle tree behind block ``entry``'s transaction (``what`` "tx") or receipt root,
    built once per block for the run (a host-side memo: every full node would build the same
    one; the cost model still charges each its hashing)."""
    memo = ctx.shared.light_trees
    key = (entry.block.hash, what)
    tree = memo.get(key)
    if tree is None:
        suite = ctx.shared.suite
        width = ctx.shared.merkle_width
        if what == "tx":
            tree = merkle_tree(ctx.shared.tx_hashes(entry.proposal.tx_ids), suite.hash, width)
        else:
            tree = entry.block.receipt_tree(suite, width)
        memo[key] = tree
    return tree


def header_of(ctx: NodeContext, number: int) -> LightHeader:
    return LightHeader.of(ctx.ledger[number], "forge_light" in ctx.byzantine)


def serve(ctx: NodeContext, src: int, message: Any,
          rpc_submit: Callable[[np.ndarray], None]) -> None:
    """A full node (its context ``ctx``) answers a light node: headers, a query with its proof,
    or forwarded transactions (taken in as if its own RPC had received them: ``rpc_submit``)."""
    kind = message.kind
    if kind == "LightSendTransactions":
        ctx.shared.table.route(message.ids, ctx.net_id)
        rpc_submit(message.ids)
        return
    if kind == "LightHeadersRequest":
        last = min(message.last, ctx.height)
        answer: Any = HeadersResponse(tuple(header_of(ctx, n)
                                            for n in range(message.first, last + 1)))
        work = ctx.costs.encode(answer.wire_size())
    else:
        answer = _answer(ctx, message)
        if answer is None:
            return
        work = ctx.costs.encode(answer.wire_size()) + ctx.costs.hash(32 * len(answer.hashes))
    ctx.stats.light_bytes_served += answer.wire_size()
    ctx.send_after(work, "light", src, answer, answer.wire_size())


def _answer(ctx: NodeContext, request: QueryRequest) -> QueryResponse | None:
    entry = ctx.ledger.get(request.number)
    if entry is None:
        return None
    ids = entry.proposal.tx_ids
    table = ctx.shared.table
    if request.what == "block":
        payload = int(table.size[ids].sum(dtype=np.int64))
        leaves = ctx.shared.tx_hashes(ids)
        if "forge_light" in ctx.byzantine and len(leaves):
            leaves = leaves.copy()
            leaves[0, 0] ^= 1
        return QueryResponse(request.query, "block", request.number, b"", -1, None, leaves,
                             payload)
    position = np.flatnonzero(ids == request.tx)
    if len(position) == 0:
        return None
    index = int(position[0])
    tree = _tree(ctx, entry, request.what)
    proof = tree.proof(index)
    leaf = tree.leaf(index)
    if "forge_light" in ctx.byzantine:
        leaf = _flip(leaf)
    if request.what == "tx":
        return QueryResponse(request.query, "tx", request.number, leaf, index, proof, _NO_HASHES,
                             int(table.size[request.tx]))
    receipt = entry.block.receipts.row(index)
    return QueryResponse(request.query, "receipt", request.number, leaf, index, proof, _NO_HASHES,
                         RECEIPT_BYTES, receipt)


def _flip(digest: bytes) -> bytes:
    return bytes([digest[0] ^ 1]) + digest[1:]


# -- the light node ------------------------------------------------------------------------------


class LightNode:
    """A light node of one group: header sync, verified queries, forwarded transactions."""

    def __init__(self, net_id: int, name: str, shared: Any, cpu: Any, costs: Any,
                 verify_signatures: bool, max_headers: int) -> None:
        self.net_id = net_id
        self.name = name
        self.shared = shared
        self.env = shared.env
        self.cpu = cpu
        self.costs = costs
        self.index = -1
        self.verify_signatures = verify_signatures
        self.max_headers = max_headers
        self.headers: dict[int, LightHeader] = {}
        self.hashes: dict[int, bytes] = {0: shared.genesis.hash}
        """Each stored header's hash, as this node computed it (block 0: the genesis block it
        was configured with)."""
        self.height = 0
        self.known_height = 0
        self.up = True
        self.stats = LightStats()
        self.byzantine: frozenset[str] = frozenset()
        self._syncing_from: int | None = None
        self._epoch = 0
        self._queries: dict[int, tuple[int, str, int, int]] = {}  # id → (sent, what, number, tx)
        self._next_query = 0
        self._peer_turn = 0

    # the runtime's surface (world, faults, clients)
    def start(self) -> None:
        return None

    def crash(self) -> None:
        self.up = False
        self._epoch += 1
        self._syncing_from = None
        self._queries.clear()
        self.shared.network.set_node_up(self.net_id, False)

    def restart(self) -> None:
        if self.up:
            return
        self.up = True
        self.shared.network.set_node_up(self.net_id, True)
        self.cpu.reset(self.env.now)

    def set_byzantine(self, behaviour: str, on: bool, delay_us: int = 0) -> None:
        raise ValueError("a light node runs no consensus and serves no one")

    def later(self, at_us: int, fn: Any, *args: Any) -> None:
        epoch = self._epoch
        schedule(self.env, at_us, lambda: fn(*args) if epoch == self._epoch else None)

    def _full_node(self) -> int:
        """The full node to ask next: the group's sealers in turn."""
        sealers = self.shared.sealer_net_ids
        self._peer_turn += 1
        return sealers[(self.net_id + self._peer_turn) % len(sealers)]

    def _send(self, dest: int, message: Any, work: int = 0) -> None:
        size = message.wire_size()
        done = self.cpu.run(self.env.now, work + self.costs.encode(size), lane="light")
        self.later(done, self.shared.network.send, self.net_id, dest, message, size,
                    self.shared.nodes_deliver, self._lost)

    def _lost(self, src: int, dst: int, message: Any) -> None:
        if message.kind == "LightHeadersRequest" or message.kind == "LightHeadersResponse":
            self._syncing_from = None

    # transactions
    def rpc_submit(self, ids: np.ndarray) -> None:
        """A client's batch: forwarded to a full node (``sendTransaction``)."""
        table = self.shared.table
        if not self.up:
            table.reject(ids, REJECT_CODES[Reject.RpcUnreachable])
            return
        payload = int(table.size[ids].sum(dtype=np.int64))
        self.stats.forwarded_txs += len(ids)
        self._send(self._full_node(), ForwardTxs(ids, payload))

    # header sync
    def receive(self, src: int, message: Any) -> None:
        if not self.up:
            return
        kind = message.kind
        if kind == "LightQueryResponse":
            self.stats.query_bytes_in += message.wire_size()
        else:
            self.stats.sync_bytes_in += message.wire_size()
        if kind == "BlockStatus":
            if message.height > self.known_height:
                self.known_height = message.height
            self._maybe_sync(src)
        elif kind == "LightHeadersResponse":
            work = self.costs.decode(message.wire_size()) + sum(
                self.costs.hash(h.wire_bytes) for h in message.headers)
            if self.verify_signatures:
                work += sum(self.costs.verify(len(h.signers)) for h in message.headers)
            done = self.cpu.run(self.env.now, work, lane="light")
            self.later(done, self._store_headers, src, message.headers)
        elif kind == "LightQueryResponse":
            work = self.costs.decode(message.wire_size()) + self.costs.hash(
                32 * max(len(message.hashes), 2 * _proof_nodes(message)))
            done = self.cpu.run(self.env.now, work, lane="light")
            self.later(done, self._check_answer, src, message)

    def _maybe_sync(self, peer: int | None = None) -> None:
        if self._syncing_from is not None or self.known_height <= self.height:
            return
        peer = self._full_node() if peer is None else peer
        last = min(self.known_height, self.height + self.max_headers)
        self._syncing_from = peer
        self._send(peer, HeadersRequest(self.height + 1, last))
        # a lost or ignored request is given up after the block-sync timeout
        # (docs/fisco-reference.md §7)
        self.later(self.env.now + 1_600_000, self._sync_timeout, peer, self.height)

    def _sync_timeout(self, peer: int, height: int) -> None:
        if self._syncing_from == peer and self.height == height:
            self._syncing_from = None
            self._maybe_sync(self._full_node())

    def _store_headers(self, src: int, headers: tuple[LightHeader, ...]) -> None:
        self._syncing_from = None
        weights, quorum = self.shared.weights, self.shared.quorum
        for header in headers:
            if header.number != self.height + 1:
                continue
            parents = header.header.parent_info
            parent_ok = bool(parents) and parents[0].hash == self.hashes[self.height]
            signed = sum(weights[s] for s in set(header.signers)) >= quorum
            if self.verify_signatures and (header.forged or not signed):
                self.stats.forged_caught += 1
                self._maybe_sync(self._full_node())  # ask someone else
                return
            if not parent_ok:
                self.stats.forged_caught += 1
                self._maybe_sync(self._full_node())
                return
            self.headers[header.number] = header
            self.hashes[header.number] = header.header.hash(self.shared.suite)
            self.height = header.number
            self.stats.headers += 1
            self.stats.header_bytes += header.size()
            first = self.shared.first_commit_us(header.number)
            if first >= 0:
                self.stats.header_lag_us.append(self.env.now - first)
        self._maybe_sync()

    # queries
    def query(self, what: str, tx: int) -> bool:
        """A client asks for transaction ``tx`` (with proof), its receipt (with proof) or its
        block; False when this node has no header for its block yet (the client asks later)."""
        if not self.up:
            return False
        number = int(self.shared.table.commit_block[tx])
        if number < 1 or number not in self.headers:
            return False
        self._next_query += 1
        self._queries[self._next_query] = (self.env.now, what, number, tx)
        self._send(self._full_node(), QueryRequest(self._next_query, what, number, tx))
        return True

    def _check_answer(self, src: int, answer: QueryResponse) -> None:
        pending = self._queries.pop(answer.query, None)
        if pending is None:
            return
        sent, what, number, tx = pending
        header = self.headers[number].header
        suite = self.shared.suite
        if what == "block":
            ok = txs_root(answer.hashes, suite, self.shared.merkle_width) == header.txs_root
        else:
            root = header.txs_root if what == "tx" else header.receipts_root
            ok = verify_proof(answer.leaf, answer.index, answer.proof, root, suite.hash)
            if what == "tx":
                expected = bytes(self.shared.tx_hashes(np.array([tx], dtype=np.int64))[0])
            else:
                expected = answer.receipt.hash(suite) if answer.receipt is not None else b""
            ok = ok and answer.leaf == expected
        if not ok:
            self.stats.forged_caught += 1
            # ask another full node
            self._queries[answer.query] = pending
            self._send(self._full_node(), QueryRequest(answer.query, what, number, tx))
            return
        self.stats.query_latency_us.setdefault(what, []).append(self.env.now - sent)


def _proof_nodes(answer: QueryResponse) -> int:
    return sum(len(group) for group in answer.proof.levels) if answer.proof is not None else 0


__all__ = ["QUERY_KINDS", "RECEIPT_BYTES", "LightHeader", "LightNode", "LightStats", "serve"]
