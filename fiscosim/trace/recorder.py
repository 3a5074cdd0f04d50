"""Records a run as a ``fiscosim-trace/1`` file: consensus and control traffic, node steps and
state, in JSON lines that a lecture, a narration or a viewer can be built from.

The runtime and the network call the recorder as ``recorder(event, fields)`` with their raw
events (a send per copy, a delivery, a core event, a timer, an execution...); the recorder
shapes them into the schema's records (:mod:`fiscosim.trace.events`, docs/trace.md):

- one ``send`` per broadcast, with its destinations, then exactly one ``recv`` or ``drop`` per
  destination, naming the send (``of``); a message to oneself is not on the wire and not
  written; every consensus message carries its block number (``blk``), view and hash;
- a ``quorum`` record when a node reaches a Prepare, Commit or CheckPoint quorum, naming the
  sends whose votes reached it and were counted (``from``) and whether its own vote counted
  (``own``: a node's vote counts when it casts it, and its send may leave later);
- ``pbft`` records: the core's typed events (:mod:`fiscosim.consensus.events`), every field,
  from which :mod:`fiscosim.trace.narrate` writes its sentences; ``timer``, ``exec``,
  ``ledger``, ``seal``, ``sync``, ``fault``, ``node`` (crash, restart) records;
- a ``state`` record each time a node's view, view it is moving to, leader, committed or
  executed height, or liveness changes (a full record: any line reads on its own);
- a ``check`` record per safety property at the end, and an ``end`` record.

Transactions stay aggregated per block (``txs`` counts): the transaction pushes between nodes
and their admissions are not written (they made 80 % of the old per-copy trace).

Times are integer microseconds and ids count from 0 in the order of the lines, which is the
order things happened (simpy's, deterministic): the same scenario and seed give a
byte-identical file. The first line (``run``) names the groups and nodes; it is written last,
so the body goes to a temporary file first and the whole is renamed into place by
:meth:`TraceRecorder.close` (a failed run leaves no file). A name ending in ``.gz`` is written
gzip-compressed, with no time stamp in its header.

When tracing is off no recorder exists and the runtime checks one ``None`` per event site, so
runs pay nothing for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fiscosim.metrics.output import create_temporary
from fiscosim.trace.events import SCHEMA, short_hash

UNTRACED_KINDS = frozenset({"TxPush"})
"""Message kinds the trace leaves out: per-transaction gossip."""

_UNTRACED_EVENTS = frozenset({"admitted", "seal_notified", "note"})
"""Raw events with no record of their own (``note`` is the old name of a core event)."""

_VOTE_PHASE = {"prepare": "Prepare", "commit": "Commit"}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return short_hash(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} into the trace")


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, default=_plain, separators=(",", ":"), ensure_ascii=False)


def describe_message(message: Any) -> dict[str, Any]:
    """A message's fields in the trace: its type, block, view and hash where it has them."""
    forged = bool(getattr(message, "forged", False))
    inner = getattr(message, "message", None)
    if inner is not None and hasattr(message, "forged"):
        message = inner  # an Envelope: the PBFT message it carries
    kind = getattr(message, "kind", None)
    out: dict[str, Any] = {"type": kind if isinstance(kind, str) else type(message).__name__}
    for name, key in (("index", "blk"), ("view", "view")):
        value = getattr(message, name, None)
        if isinstance(value, int | np.integer):
            out[key] = int(value)
    digest = getattr(message, "hash", None)
    if digest is None:
        proposal = getattr(message, "proposal", None)
        digest = getattr(proposal, "hash", None)
    if digest is None:
        digest = getattr(message, "executed_hash", None)
    if isinstance(digest, bytes):
        out["hash"] = short_hash(digest)
    if forged:
        out["forged"] = True
    return out


class TraceRecorder:
    """Writes the ``fiscosim-trace/1`` file of one run (the module docstring).

    ``recorder(event, fields)`` takes the runtime's and the network's raw events; :meth:`attach`
    hands it the built world (node names, groups, each node's state); :meth:`close` writes the
    ``run`` header, the body and the ``end`` record and renames the file into place."""

    def __init__(self, path: str | os.PathLike, clock: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._body_path = create_temporary(self.path)
        self._body = os.fdopen(fd, "w", buffering=1 << 20, encoding="utf-8")
        self._clock = clock
        self._next_id = 0
        self.events = 0
        self._names: list[str] = []
        self._state_of: Callable[[str, int], dict[str, Any] | None] | None = None
        self._header: dict[str, Any] | None = None
        self._members: dict[str, list[int]] = {}
        self._checks: Callable[[], list[dict[str, Any]]] | None = None
        # send bookkeeping: the last broadcast (to group its copies), packet -> send id
        self._last_send: dict[str, Any] | None = None
        self._last_message: Any = None
        self._last_src = -1
        self._last_send_at = 0
        self._packets: dict[int, tuple[int, tuple[str, int, str] | None]] = {}
        # votes a node received, (node, type, blk) -> {sender: send id}, and its own votes,
        # (node, type, blk) -> send id; forgotten up to the block a node writes to its ledger
        # (all keyed by group too: nodes serve several groups, whose block numbers coincide)
        self._votes: dict[tuple[str, str, str, int], dict[str, int]] = {}
        self._forgotten: dict[tuple[str, str], int] = {}
        self._states: dict[tuple[str, str], tuple] = {}
        self._timer_why: dict[str, tuple[str, dict[str, Any]]] = {}
        self._group_names: dict[str, list[str]] = {}

    # -- set-up --------------------------------------------------------------------------------
    def attach(self, header: dict[str, Any], names: list[str],
               state_of: Callable[[str, int], dict[str, Any] | None],
               members: dict[str, list[int]],
               checks: Callable[[], list[dict[str, Any]]] | None = None) -> None:
        """The world is built: the ``run`` header's fields, the nodes' names by network
        position, ``state_of(group, position)`` (a node's state record's fields, ``None`` for
        a node with none), each group's full nodes by position (their states are checked at
        the end) and ``checks()`` (the ``check`` records written at the end)."""
        self._header = header
        self._names = list(names)
        self._state_of = state_of
        self._members = members
        self._checks = checks
        for group in header.get("groups", []):
            self._group_names[group["id"]] = list(group["sealers"])

    def _name(self, position: int) -> str:
        names = self._names
        return names[position] if 0 <= position < len(names) else f"node{position}"

    # -- writing -------------------------------------------------------------------------------
    def _emit(self, record: dict[str, Any], at: int | None = None) -> int:
        ident = self._next_id
        self._next_id = ident + 1
        line = {"ev": record.pop("ev"), "id": ident,
                "t": int(self._clock.now) if at is None else at, **record}
        self._body.write(_dumps(line))
        self._body.write("\n")
        self.events += 1
        return ident

    def _flush_send(self) -> None:
        send = self._last_send
        if send is not None:
            self._last_send = None
            self._last_message = None
            packets = send.pop("packets")
            src, kind, blk = send["src"], send.get("type"), send.get("blk")
            # written when the next record comes, stamped when it was sent
            ident = self._emit(send, self._last_send_at)
            vote = None
            if kind in ("Prepare", "Commit", "CheckPoint") and blk is not None:
                vote = (send.get("g", ""), kind, blk, src)
            for packet in packets:
                self._packets[packet] = (ident, vote)

    def __call__(self, event: str, fields: dict) -> None:
        if event == "send":
            self._on_send(fields)
            return
        self._flush_send()
        if event in ("deliver", "drop"):
            self._on_arrival(event, fields)
            return
        handler = _HANDLERS.get(event)
        if handler is None:
            if event in _UNTRACED_EVENTS:
                return
            record = {"ev": "other", "what": event,
                      **{k: v for k, v in fields.items() if k not in ("node", "sealer")}}
            if "node_name" in record:
                record["node"] = record.pop("node_name")
            self._emit(record)
            return
        handler(self, fields)

    def _on_send(self, fields: dict) -> None:
        message = fields.get("message")
        src, dst = fields["node"], fields["dst"]
        if fields.get("kind") in UNTRACED_KINDS or src == dst:
            return
        last = self._last_send
        if last is not None and message is self._last_message and self._last_src == src:
            last["dst"].append(self._name(dst))
            last["packets"].append(fields["id"])
            return
        self._flush_send()
        record: dict[str, Any] = {"ev": "send"}
        group = _group_of(fields.get("deliver"))
        if group is not None:
            record["g"] = group
        record["src"] = self._name(src)
        record["dst"] = [self._name(dst)]
        record.update(describe_message(message))
        record["bytes"] = int(fields.get("bytes", fields.get("size", 0)))
        record["packets"] = [fields["id"]]
        self._last_send = record
        self._last_message = message
        self._last_src = src
        self._last_send_at = int(self._clock.now)

    def _on_arrival(self, event: str, fields: dict) -> None:
        sent = self._packets.pop(fields["id"], None)
        if sent is None:
            return  # an untraced kind or a message to oneself
        send, vote = sent
        node = self._name(fields["node"])
        if event == "deliver":
            self._emit({"ev": "recv", "of": send, "node": node})
            if vote is not None:
                group, kind, blk, src = vote
                if blk > self._forgotten.get((group, node), 0):
                    self._votes.setdefault((group, node, kind, blk), {})[src] = send
            return
        self._emit({"ev": "drop", "of": send, "node": node, "why": fields.get("reason", "")})

    # -- close ---------------------------------------------------------------------------------
    def close(self) -> Path:
        """Writes the ``check`` and ``end`` records, then the whole file under its final name
        (the ``run`` header first); on any failure removes what it wrote."""
        final_tmp: Path | None = None
        try:
            self._flush_send()
            self._check_all_states()
            for record in (self._checks() if self._checks is not None else []):
                self._emit(dict(record))
            end = {"ev": "end", "events": self._next_id + 1, "truncated": False}
            self._emit(end)
            self._body.close()
            fd, final_tmp = create_temporary(self.path)
            header = {"ev": "run", "schema": SCHEMA, **(self._header or {})}
            raw = os.fdopen(fd, "wb")
            with raw:
                if self.path.suffix == ".gz":
                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
                        self._copy(header, out)
                else:
                    self._copy(header, raw)
            os.replace(final_tmp, self.path)
            final_tmp = None
        except BaseException:
            if final_tmp is not None:
                final_tmp.unlink(missing_ok=True)
            raise
        finally:
            with contextlib.suppress(OSError):
                self._body.close()
            self._body_path.unlink(missing_ok=True)
        return self.path

    def _copy(self, header: dict[str, Any], out: Any) -> None:
        out.write((_dumps(header) + "\n").encode("utf-8"))
        with open(self._body_path, "rb") as body:
            shutil.copyfileobj(body, out, 1 << 20)

    def abort(self) -> None:
        """Drops the partial trace (a failed run leaves no result files)."""
        try:
            # A full disk fails the final flush too; the file goes anyway.
            with contextlib.suppress(OSError):
                self._body.close()
        finally:
            self._body_path.unlink(missing_ok=True)

    # -- node records --------------------------------------------------------------------------
    def _node_record(self, ev: str, fields: dict, **extra: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"ev": ev, "node": fields.get("node_name")
                                  or self._name(fields.get("node", -1))}
        if "g" in fields:
            record["g"] = fields["g"]
        record.update(extra)
        return record

    def _after(self, fields: dict) -> None:
        """Writes the node's state record if its state changed."""
        if self._state_of is None or "g" not in fields:
            return
        self._check_state(fields["g"], fields.get("node", -1))

    def _check_state(self, group: str, position: int) -> None:
        assert self._state_of is not None
        state = self._state_of(group, position)
        if state is None:
            return
        _state(self, {"g": group, "node": position, **state})

    def _write_state(self, group: str | None, node: str, state: dict[str, Any]) -> None:
        key = tuple(state.items())
        if self._states.get((group or "", node)) == key:
            return
        self._states[(group or "", node)] = key
        record: dict[str, Any] = {"ev": "state", "node": node}
        if group is not None:
            record["g"] = group
        record.update(state)
        self._emit(record)

    def _check_all_states(self) -> None:
        if self._state_of is None:
            return
        for group, positions in self._members.items():
            for position in positions:
                self._check_state(group, position)

    def _core_event(self, fields: dict) -> None:
        event = fields["step"]
        group = fields.get("g")
        node = fields.get("node_name") or self._name(fields.get("node", -1))
        code = event.code
        values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)
                  if getattr(event, f.name) is not None}
        if code in _TIMER_CODES:
            # Said by the timer record that follows (the runtime's SetTimer or CancelTimer).
            self._timer_why[node] = (_TIMER_CODES[code], values)
            return
        self._timer_why.pop(node, None)
        if code in _QUORUM_CODES:
            self._emit(self._quorum_record(node, group, code, values))
        else:
            record: dict[str, Any] = {"ev": "pbft", "node": node}
            if group is not None:
                record["g"] = group
            record["code"] = code
            if "index" in values:
                record["blk"] = values.pop("index")
            record.update(values)
            self._emit(record)

    def _quorum_record(self, node: str, group: str | None, code: str,
                       values: dict[str, Any]) -> dict[str, Any]:
        phase = _QUORUM_CODES[code]
        kind = {"prepared": "Prepare", "committed": "Commit"}.get(phase, "CheckPoint")
        names = self._group_names.get(group or "", [])
        index = values["index"]
        counted = []
        own = False
        received = self._votes.get((group or "", node, kind, index), {})
        for voter in values["voters"]:
            name = names[voter] if 0 <= voter < len(names) else None
            if name == node:
                own = True  # counted when cast: its send may leave after this quorum
            elif name is not None and name in received:
                counted.append(received[name])
        record: dict[str, Any] = {"ev": "quorum", "node": node}
        if group is not None:
            record["g"] = group
        record.update({"code": code, "blk": index, "view": values["view"], "phase": phase,
                       "weight": values["weight"], "need": values["quorum"],
                       "voters": [names[v] if 0 <= v < len(names) else v
                                  for v in values["voters"]],
                       "from": sorted(counted), "own": own})
        for extra in ("hash", "executed_hash", "waiting"):
            if extra in values:
                record[extra] = values[extra]
        return record


_QUORUM_CODES = {"prepare_quorum": "prepared", "commit_quorum": "committed",
                 "stable_checkpoint": "checkpointed"}
"""Core events written as ``quorum`` records, and their phase names."""

_TIMER_CODES = {"timer_set": "set", "timer_cancelled": "cancel"}
"""Core events whose words go into the timer record that follows them."""


def _group_of(deliver: Any) -> str | None:
    """The group a message belongs to: its delivery callback is its group's."""
    owner = getattr(deliver, "__self__", None)
    group = getattr(owner, "group_id", None)
    return group if isinstance(group, str) else None


# -- handlers of the raw events --------------------------------------------------------------------


def _timer(op: str) -> Callable[[TraceRecorder, dict], None]:
    def handle(recorder: TraceRecorder, fields: dict) -> None:
        extra: dict[str, Any] = {"name": fields.get("name"), "op": op}
        if op == "set":
            extra["due"] = int(recorder._clock.now) + int(fields.get("delay_us", 0))
        node = fields.get("node_name") or recorder._name(fields.get("node", -1))
        said = recorder._timer_why.pop(node, None)
        if said is not None and said[0] == op:
            values = said[1]
            # The core's reason and the block and view it was about
            for key, name in (("index", "blk"), ("view", "view"), ("why", "why")):
                if values.get(key) not in (None, ""):
                    extra[name] = values[key]
        recorder._emit(recorder._node_record("timer", fields, **extra))
    return handle


def _copy_fields(ev: str, keep: dict[str, str], *, state: bool = False,
                 **fixed: Any) -> Callable[[TraceRecorder, dict], None]:
    """A record of ``ev`` with the raw event's fields renamed by ``keep``; ``state``: the
    node's state is checked after it (a crash, a restart, a block a follower stored: no core
    action carries that change)."""
    def handle(recorder: TraceRecorder, fields: dict) -> None:
        extra = {new: fields[old] for old, new in keep.items() if old in fields}
        recorder._emit(recorder._node_record(ev, fields, **fixed, **extra))
        if state:
            recorder._after(fields)
    return handle


def _state(recorder: TraceRecorder, fields: dict) -> None:
    """The runtime's state of a node after the core's actions: a record when it changed."""
    group = fields.get("g")
    state = {k: v for k, v in fields.items()
             if k not in ("node", "sealer", "node_name", "g")}
    leader = state.get("leader")
    if isinstance(leader, int):
        names = recorder._group_names.get(group or "", [])
        if 0 <= leader < len(names):
            state["leader"] = names[leader]
    recorder._write_state(group, fields.get("node_name") or recorder._name(fields["node"]),
                          state)


_VOTE_TYPES = ("Prepare", "Commit", "CheckPoint")


def _ledger(recorder: TraceRecorder, fields: dict) -> None:
    """A block in a node's ledger: the record, and the node's votes of blocks up to it are
    forgotten (a quorum of a block in the ledger is behind it: memory stays flat)."""
    _copy_fields("ledger", {"index": "blk", "hash": "hash", "sigs": "sigs", "txs": "txs"})(
        recorder, fields)
    node = fields.get("node_name") or recorder._name(fields.get("node", -1))
    height = int(fields.get("index", 0))
    group = fields.get("g", "")
    start = recorder._forgotten.get((group, node), 0)
    for blk in range(start + 1, height + 1):
        for kind in _VOTE_TYPES:
            recorder._votes.pop((group, node, kind, blk), None)
    recorder._forgotten[(group, node)] = max(start, height)


def _fault(recorder: TraceRecorder, fields: dict) -> None:
    text = str(fields.get("text", ""))
    recorder._emit({"ev": "fault", "kind": text.split(" ", 1)[0] if text else "fault",
                    "text": text})


_HANDLERS: dict[str, Callable[[TraceRecorder, dict], None]] = {
    "core": TraceRecorder._core_event,
    "timer_set": _timer("set"),
    "timer_fired": _timer("fire"),
    "timer_cancelled": _timer("cancel"),
    "execute": _copy_fields("exec", {"index": "blk", "txs": "txs", "until": "until"}, op="start"),
    "executed": _copy_fields("exec", {"index": "blk", "txs": "txs"}, op="end"),
    "commit": _ledger,
    "seal": _copy_fields("seal", {"index": "blk", "txs": "txs"}),
    "fetch": _copy_fields("fetch", {"index": "blk", "missing": "missing"}),
    "sync_request": lambda recorder, fields: _copy_fields(
        "sync", {"first": "first", "last": "last"}, op="request",
        peer=recorder._name(fields.get("peer", -1)))(recorder, fields),
    "synced": _copy_fields("sync", {"index": "blk", "txs": "txs"}, op="stored", state=True),
    "crash": _copy_fields("node", {"height": "height"}, op="crash", state=True),
    "restart": _copy_fields("node", {"height": "height"}, op="restart", state=True),
    "state": _state,
    "byzantine": _copy_fields("fault", {"behaviour": "behaviour", "on": "on"}, kind="byzantine"),
    "forged_rejected": _copy_fields("reject", {"kind": "type", "src": "src"}),
    "fault": _fault,
}
