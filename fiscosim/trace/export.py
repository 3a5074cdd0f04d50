"""A trace in other tools' formats (``fiscosim trace export``, docs/trace.md):

- **perfetto**: the Chrome trace event format (JSON), which ui.perfetto.dev and
  chrome://tracing open: one track per node (``pid`` 1, ``tid`` the node's row in FISCO index
  order, named by metadata events), every send/recv or send/drop pair as a flow (``ph`` "s" at
  the sender, "f" at the receiver, one flow id per pair) between two instant events, execution
  as a complete slice (``ph`` "X"), quorums, ledger writes, timers and faults as instant events;
  time in µs, the trace's own unit;
- **mermaid**: a ``sequenceDiagram`` (Mermaid's text syntax, for Markdown and slides): one
  participant per node in index order, one arrow per pair (``-x`` for a drop), quorums and
  ledger writes as notes. It is meant for a few blocks: select them with ``blocks``.

Both keep each send/recv pair exactly once, which :func:`pairs_of` reads back (tests).
"""

from __future__ import annotations

import json
from typing import Any

from fiscosim.trace.events import Trace, pairs


def _rows(trace: Trace) -> list[str]:
    """The nodes in chart order: each group's sealers in index order, then the others."""
    order: list[str] = []
    for group in trace.groups():
        for name in group["sealers"]:
            if name not in order:
                order.append(name)
    for node in trace.header.get("nodes", []):
        if node["id"] not in order:
            order.append(node["id"])
    return order


def _in_blocks(record: dict[str, Any], send: dict[str, Any] | None,
               blocks: tuple[int, int] | None) -> bool:
    if blocks is None:
        return True
    blk = (send or record).get("blk")
    return blk is not None and blocks[0] <= blk <= blocks[1]


def _label(trace: Trace, name: str) -> str:
    for group in trace.groups():
        if name in group["sealers"]:
            return f"idx{group['sealers'].index(name)} {name}"
    return name


def to_perfetto(trace: Trace, blocks: tuple[int, int] | None = None) -> dict[str, Any]:
    """The Chrome trace event format of ``trace`` (the module docstring)."""
    rows = _rows(trace)
    tid = {name: i + 1 for i, name in enumerate(rows)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": 1, "name": "process_name",
         "args": {"name": f"{trace.header.get('scenario', 'fiscosim')} (seed "
                          f"{trace.header.get('seed')})"}}]
    for name in rows:
        events.append({"ph": "M", "pid": 1, "tid": tid[name], "name": "thread_name",
                       "args": {"name": _label(trace, name)}})
        events.append({"ph": "M", "pid": 1, "tid": tid[name], "name": "thread_sort_index",
                       "args": {"sort_index": tid[name]}})
    sends = {r["id"]: r for r in trace.records if r["ev"] == "send"}
    for send, arrival in pairs(trace.records):
        if not _in_blocks(arrival, send, blocks) or send["src"] not in tid \
                or arrival["node"] not in tid:
            continue
        flow = arrival["id"]
        name = send["type"] + (f" {send['blk']}" if "blk" in send else "")
        args = {k: send[k] for k in ("type", "blk", "view", "hash", "bytes") if k in send}
        events.append({"ph": "i", "s": "t", "pid": 1, "tid": tid[send["src"]], "ts": send["t"],
                       "name": f"send {name}", "cat": send["type"], "args": args})
        events.append({"ph": "s", "id": flow, "pid": 1, "tid": tid[send["src"]],
                       "ts": send["t"], "name": name, "cat": send["type"],
                       "args": {"send": send["id"]}})
        verb = "recv" if arrival["ev"] == "recv" else "drop"
        end_args = {"of": send["id"], "from": send["src"]}
        if verb == "drop":
            end_args["why"] = arrival.get("why", "")
        events.append({"ph": "i", "s": "t", "pid": 1, "tid": tid[arrival["node"]],
                       "ts": arrival["t"], "name": f"{verb} {name}", "cat": send["type"],
                       "args": end_args})
        events.append({"ph": "f", "bp": "e", "id": flow, "pid": 1, "tid": tid[arrival["node"]],
                       "ts": arrival["t"], "name": name, "cat": send["type"]})
    for record in trace.records:
        kind = record["ev"]
        node = record.get("node")
        if kind in ("send", "recv", "drop") or node not in tid \
                or (not _in_blocks(record, sends.get(record.get("of", -1)), blocks) \
                and kind not in ("fault", "node", "timer")):
            continue
        base = {"pid": 1, "tid": tid[node], "ts": record["t"]}
        if kind == "exec" and record["op"] == "start" and "until" in record:
            events.append({**base, "ph": "X", "dur": max(1, record["until"] - record["t"]),
                           "name": f"execute {record['blk']}", "cat": "exec",
                           "args": {"txs": record.get("txs", 0)}})
        elif kind == "quorum":
            events.append({**base, "ph": "i", "s": "t", "cat": "quorum",
                           "name": f"{record['phase']} {record['blk']} "
                                   f"{record['weight']}/{record['need']}",
                           "args": {"from": record["from"], "voters": record["voters"]}})
        elif kind == "ledger":
            events.append({**base, "ph": "i", "s": "t", "cat": "ledger",
                           "name": f"ledger {record['blk']}",
                           "args": {k: record[k] for k in ("hash", "sigs", "txs")
                                    if k in record}})
        elif kind == "timer" and record["op"] == "fire":
            events.append({**base, "ph": "i", "s": "t", "cat": "timer",
                           "name": f"{record['name']} timer fired"})
        elif kind in ("node", "fault"):
            events.append({**base, "ph": "i", "s": "t", "cat": "fault",
                           "name": record.get("op") or record.get("text", kind)})
    for record in trace.records:
        if record["ev"] == "fault" and "node" not in record:
            events.append({"ph": "i", "s": "g", "pid": 1, "tid": 0, "ts": record["t"],
                           "cat": "fault", "name": record.get("text", record["kind"])})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {k: trace.header[k] for k in ("schema", "fiscosim", "seed", "scenario")
                          if k in trace.header}}


def _mermaid_id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _mermaid_text(text: str) -> str:
    # Mermaid reads ; and # as syntax in messages; keep the words plain.
    return text.replace(";", ",").replace("#", "").replace("\n", " ")


def to_mermaid(trace: Trace, blocks: tuple[int, int] | None = None) -> str:
    """A Mermaid ``sequenceDiagram`` of ``trace`` (the module docstring)."""
    rows = _rows(trace)
    lines = ["sequenceDiagram"]
    for name in rows:
        lines.append(f"    participant {_mermaid_id(name)} as {_mermaid_text(_label(trace, name))}")
    sends: dict[int, dict[str, Any]] = {}
    for record in trace.records:
        kind = record["ev"]
        if kind == "send":
            sends[record["id"]] = record
            continue
        if kind in ("recv", "drop"):
            send = sends.get(record["of"])
            if send is None or not _in_blocks(record, send, blocks):
                continue
            arrow = "->>" if kind == "recv" else "-x"
            text = send["type"] + (f"({send['blk']}, v{send['view']})"
                                   if "blk" in send and "view" in send else "")
            if kind == "drop":
                text += f" dropped: {record.get('why', '')}"
            lines.append(f"    {_mermaid_id(send['src'])}{arrow}{_mermaid_id(record['node'])}: "
                         f"{_mermaid_text(text)} [{send['id']}→{record['id']}]")
        elif kind == "quorum" and _in_blocks(record, None, blocks):
            lines.append(f"    Note over {_mermaid_id(record['node'])}: {record['phase']} "
                         f"{record['blk']} ({record['weight']}/{record['need']})")
        elif kind == "ledger" and _in_blocks(record, None, blocks):
            lines.append(f"    Note over {_mermaid_id(record['node'])}: ledger block "
                         f"{record['blk']}")
        elif kind in ("fault", "node") and record.get("node") in rows:
            text = record.get("op") or record.get("text", kind)
            lines.append(f"    Note over {_mermaid_id(record['node'])}: "
                         f"{_mermaid_text(str(text))}")
    return "\n".join(lines) + "\n"


def pairs_of(exported: str | dict[str, Any], fmt: str) -> list[tuple[int, int]]:
    """The (send id, recv-or-drop id) pairs an export holds: the flows' ends (perfetto) or the
    arrows' ``[send→recv]`` tags (mermaid)."""
    if fmt == "perfetto":
        data = exported if isinstance(exported, dict) else json.loads(exported)
        events = data["traceEvents"]
        ends = {e["id"] for e in events if e.get("ph") == "f"}
        return sorted((e["args"]["send"], e["id"]) for e in events
                      if e.get("ph") == "s" and e["id"] in ends)
    text = exported if isinstance(exported, str) else ""
    out = []
    for line in text.splitlines():
        if line.rstrip().endswith("]") and "→" in line:
            tag = line[line.rindex("[") + 1:-1]
            send, recv = tag.split("→")
            out.append((int(send), int(recv)))
    return sorted(out)
