"""The ``fiscosim-trace/1`` format: its name, its JSON Schema (shipped in the package), reading a
trace file and the checks every trace must pass (docs/trace.md).

A trace is JSON lines: a ``run`` header, then records with a dense ``id`` from 0 and an integer
time ``t`` in microseconds, in (t, id) order, and an ``end`` record. The checks beyond the
schema: ids dense and times non-decreasing; every ``recv`` or ``drop`` names an earlier
``send`` (``of``) and one of its destinations; each destination of a send gets exactly one
``recv`` or ``drop``; a quorum's ``from`` names earlier sends.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA = "fiscosim-trace/1"
"""The format's name, in the ``run`` record's ``schema`` field."""

CONSENSUS_TYPES = ("PrePrepare", "Prepare", "Commit", "CheckPoint", "ViewChange", "NewView")
"""The PBFT messages of FISCO 3.x, in the order a block meets them."""

OLD_NAMES = {"PrePrepare": "PrepareReq", "Prepare": "SignReq", "Commit": "CommitReq",
             "ViewChange": "ViewChangeReq"}
"""FISCO 2.x's names for the same messages (the ones its documentation uses)."""


def short_hash(digest: bytes) -> str:
    """A hash in the trace: its first four bytes in hex."""
    return digest[:4].hex()


class TraceError(ValueError):
    """A trace file that cannot be read: the message names the line."""


@dataclass
class Trace:
    """A trace read into memory: its ``run`` header and its records (the header excluded)."""

    header: dict[str, Any]
    records: list[dict[str, Any]]

    def by_id(self) -> dict[int, dict[str, Any]]:
        return {r["id"]: r for r in self.records}

    def groups(self) -> list[dict[str, Any]]:
        return list(self.header.get("groups", []))

    def index_of(self, group: str | None = None) -> dict[str, int]:
        """Node name → consensus index in ``group`` (the first group by default)."""
        groups = self.groups()
        if not groups:
            return {}
        chosen = next((g for g in groups if g["id"] == group), groups[0])
        return {name: i for i, name in enumerate(chosen["sealers"])}


def open_text(path: str | Path) -> Any:
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each line of a trace file; a line that is not a JSON object
    raises :class:`TraceError` naming it."""
    with open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise TraceError(f"{path}: line {number}: not JSON ({error.msg}); is the file "
                                 "truncated?") from None
            if not isinstance(record, dict) or "ev" not in record:
                raise TraceError(f"{path}: line {number}: not a trace record (no \"ev\"); "
                                 f"is it a {SCHEMA} file?")
            yield number, record


def read_trace(path: str | Path) -> Trace:
    """Reads a trace file; the first line must be its ``run`` header of this schema."""
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for number, record in iter_lines(path):
        if header is None:
            if record.get("ev") != "run" or record.get("schema") != SCHEMA:
                raise TraceError(f"{path}: line {number}: the first record is not a {SCHEMA} "
                                 "run header (record the trace again with this fiscosim)")
            header = record
            continue
        records.append(record)
    if header is None:
        raise TraceError(f"{path}: empty: no run header")
    return Trace(header, records)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one record (a ``oneOf`` over the record kinds), shipped with the
    package as ``fiscosim/trace/trace-1.schema.json``."""
    text = resources.files("fiscosim.trace").joinpath("trace-1.schema.json").read_text("utf-8")
    return json.loads(text)


def check_structure(trace: Trace) -> list[str]:
    """The problems of a trace beyond its schema (empty: none): ids, times, send/recv pairs,
    quorum references, the ``end`` record."""
    problems: list[str] = []
    sends: dict[int, dict[str, Any]] = {}
    answered: dict[int, list[str]] = {}
    last_t: dict[str, int] = {}
    previous_t = -1
    for expected, record in enumerate(trace.records):
        ident, t = record.get("id"), record.get("t")
        if ident != expected:
            problems.append(f"record {expected}: id {ident}, expected {expected}")
        if not isinstance(t, int) or t < previous_t:
            problems.append(f"id {ident}: time {t} before {previous_t}")
        else:
            previous_t = t
        node = record.get("node")
        if isinstance(node, str) and isinstance(t, int):
            if t < last_t.get(node, -1):
                problems.append(f"id {ident}: time goes back at {node}")
            last_t[node] = t
        ev = record.get("ev")
        if ev == "send":
            sends[ident] = record
            answered[ident] = []
        elif ev in ("recv", "drop"):
            of = record.get("of")
            send = sends.get(of)
            if send is None:
                problems.append(f"id {ident}: {ev} of {of}, which is no earlier send")
                continue
            if node not in send["dst"]:
                problems.append(f"id {ident}: {ev} at {node}, not a destination of send {of}")
            if isinstance(t, int) and t < send["t"]:
                problems.append(f"id {ident}: {ev} at {t} before its send at {send['t']}")
            answered[of].append(node)
        elif ev == "quorum":
            for of in record.get("from", []):
                if of not in sends:
                    problems.append(f"id {ident}: quorum counts {of}, which is no earlier send")
    for ident, send in sends.items():
        got = sorted(answered[ident])
        if got != sorted(send["dst"]):
            problems.append(f"send {ident} ({send.get('type')}): {len(send['dst'])} "
                            f"destinations, {len(got)} recv or drop records")
    if not trace.records or trace.records[-1].get("ev") != "end":
        problems.append("no end record")
    return problems


def pairs(records: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(send, recv or drop) for each destination of each send: the arrows of a sequence chart."""
    sends: dict[int, dict[str, Any]] = {}
    for record in records:
        ev = record["ev"]
        if ev == "send":
            sends[record["id"]] = record
        elif ev in ("recv", "drop"):
            send = sends.get(record["of"])
            if send is not None:
                yield send, record
