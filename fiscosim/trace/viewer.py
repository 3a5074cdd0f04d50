"""The offline HTML viewer of a trace (docs/viewer.md): one page, plain JavaScript and SVG, with
the trace, its narration and a lesson's notes embedded, and a Content-Security-Policy that
forbids the network.

- :func:`to_html` fills the template (``fiscosim/trace/viewer/viewer.html``) and returns the page;
  :func:`write_html` writes it atomically; :func:`notebook_html` and :class:`HtmlViewer` show
  it in a notebook (an ``<iframe srcdoc>``).
- :func:`reference_state` is the Python reference of what the page shows after ``k`` events;
  ``window.fiscosim.state()`` in the page must equal it (the browser tests check it).

The page is deterministic: the same trace and notes give the same bytes (no time stamp, no
random id). The trace goes into ``<script type="application/x-ndjson" id="trace">`` line for line
(the page reads and checks it line by line and names a bad line), the notes and the narration
into two ``application/json`` script elements. In all three every ``<`` is written ``\\u003c``, a
JSON escape, so no ``</script>`` or ``<!--`` in a label or a note can end the element early.

The state model (``reference_state(trace, k)``, the page's ``state()``): after ``k`` events,
that is records ``0 .. k-1`` applied (``k`` from 0 to the number of records):

- ``k``; ``cursor``: the id of the last record applied (``k - 1``; ``None`` at ``k = 0``);
  ``t``: its time in µs (0 at ``k = 0``); ``group``: the group shown (the first by default).
- ``nodes``: one entry per row of the chart: the group's sealers in index order, then the
  run's observers and light nodes. Each is the node's last ``state`` record of this group at
  or before the cursor, its fields ``view``, ``to_view``, ``leader``, ``committed``,
  ``executed``, ``up``, ``cycle`` (``None`` where that record lacks one); before the first
  such record a sealer is ``view 0, to_view 0, leader None, committed 0, executed 0, up True,
  cycle 0`` and any other node ``committed 0, up True`` and ``None`` elsewhere. Plus
  ``timer``: the ``due`` time of the node's ``pbft`` timer when its last ``timer`` record
  named ``pbft`` is a ``set``, else ``None``.
- ``blk``: the block the cursor is about: the cursor record's block when that record is one
  of a block's steps (a ``seal``, ``quorum``, ``exec`` or ``ledger`` record, or a PrePrepare,
  Prepare, Commit or CheckPoint ``send`` or its ``recv``/``drop``), else the next block to
  commit, one above the highest ``committed`` of the group's sealers.
- ``view``: the highest ``view`` among the group's sealers; ``leader``: the leader of ``blk``
  in that view by FISCO's formula, ``sealers[(blk // leader_period + view) % n]`` over the
  header's sealers in index order: the node the page crowns.

A record of another group changes nothing but ``k``; a ``recv`` or ``drop`` belongs to its
send's group, and a record without ``g`` to every group.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from fiscosim.metrics.output import create_temporary
from fiscosim.trace.events import Trace, open_text, read_trace

TEMPLATE = "viewer/viewer.html"
"""The page's template, package data beside this module."""

BLOCK_MESSAGES = frozenset({"PrePrepare", "Prepare", "Commit", "CheckPoint"})
"""The messages that are steps of one block (the others, view changes and sync, are not)."""

STATE_FIELDS = ("view", "to_view", "leader", "committed", "executed", "up", "cycle")
"""The fields of a node's state taken from its last ``state`` record."""

MAX_EVENTS = 200_000
"""The most records a page embeds (docs/viewer.md "Scale"): about 20 MB of HTML."""

_SLOTS = re.compile(r"@@FISCOSIM_(TRACE|NOTES|NARRATION)@@")


def template() -> str:
    """The page's template (HTML, CSS and JavaScript, with three slots for the data)."""
    return resources.files("fiscosim.trace").joinpath(TEMPLATE).read_text("utf-8")


def _script_safe(text: str) -> str:
    """``text`` (JSON or JSON lines) safe inside a ``<script>`` element: every ``<`` as the JSON
    escape ``\\u003c`` (``<`` appears only inside JSON strings, where the escape means the same)."""
    return text.replace("<", "\\u003c")


def _line(record: dict[str, Any]) -> str:
    """A record as the recorder writes it (compact JSON, UTF-8 kept)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _trace_text(trace: Trace) -> str:
    return "\n".join([_line(trace.header), *(_line(r) for r in trace.records)]) + "\n"


def _narration(trace: Trace) -> dict[str, list[list[Any]]]:
    """Each group's narration, ``[record id, who, symbol, sentence]`` per told record, worded by
    :mod:`fiscosim.trace.narration` (the lines ``fiscosim trace narrate`` prints)."""
    from fiscosim.trace.narration import Filters, Teller, keep

    by_group: dict[str, list[list[Any]]] = {}
    sends = {r["id"]: r for r in trace.records if r.get("ev") == "send"}
    for group in trace.groups():
        gid = group["id"]
        teller = Teller(trace, group=gid)
        filters = Filters()
        entries: list[list[Any]] = []
        for record in trace.records:
            if record["ev"] == "send":
                teller.sends[record["id"]] = record
            owner = record.get("g")
            if record["ev"] in ("recv", "drop"):
                owner = sends.get(record.get("of"), {}).get("g")
            if owner not in (None, gid) or not keep(record, filters, teller.sends):
                continue
            told = teller.tell(record)
            if told is None:
                continue
            who, symbol, text = told
            entries.append([record["id"], teller.who(who) if who != "*" else "*", symbol, text])
        by_group[gid] = entries
    return by_group


def _clean_notes(notes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    keys = ("after", "code", "node", "text", "pause", "question", "answer")
    cleaned = [{k: note[k] for k in keys if k in note} for note in notes or ()]
    return sorted(cleaned, key=lambda n: int(n["after"]))


def cut(trace: Trace, max_events: int = MAX_EVENTS) -> Trace:
    """``trace`` if it has at most ``max_events`` records, else its first ``max_events - 1``
    and an ``end`` record with ``truncated: true`` (the page then says it shows part of the
    run). Sends whose receives fall after the cut are drawn without them."""
    if len(trace.records) <= max_events:
        return trace
    kept = trace.records[: max(0, max_events - 1)]
    end = {"ev": "end", "id": len(kept), "t": kept[-1]["t"] if kept else 0,
           "events": len(kept) + 1, "truncated": True}
    return Trace(trace.header, [*kept, end])


def to_html(trace: Trace | str | Path, notes: list[dict[str, Any]] | None = None,
            max_events: int = MAX_EVENTS) -> str:
    """The viewer page of ``trace`` (a :class:`Trace`, or a trace file's path, ``.gz`` too).

    ``notes``: a lesson's placed notes (:meth:`fiscosim.trace.lesson.Lesson.place`). A file is
    embedded line for line as it is; when it does not read (a truncated or malformed line) the
    page shows an error box naming the line instead of the chart. A trace of more than
    ``max_events`` records is cut there (:func:`cut`): never silently, the page says so.
    """
    if isinstance(trace, Trace):
        parsed: Trace | None = cut(trace, max_events)
        text = _trace_text(parsed)
    else:
        with open_text(trace) as handle:
            text = handle.read()
        try:
            parsed = read_trace(trace)
        except ValueError:  # TraceError: the page says which line and why
            parsed = None
        if parsed is not None and len(parsed.records) > max_events:
            parsed = cut(parsed, max_events)
            text = _trace_text(parsed)
    if parsed is not None:
        notes = [n for n in notes or () if int(n["after"]) < len(parsed.records)]
    narration = _narration(parsed) if parsed is not None else {}
    data = {
        "TRACE": _script_safe(text),
        "NOTES": _script_safe(json.dumps(_clean_notes(notes), ensure_ascii=False,
                                         separators=(",", ":"))),
        "NARRATION": _script_safe(json.dumps(narration, ensure_ascii=False,
                                             separators=(",", ":"))),
    }
    page = template()
    if sorted(_SLOTS.findall(page)) != ["NARRATION", "NOTES", "TRACE"]:
        raise ValueError(f"the viewer template {TEMPLATE} must have each slot exactly once")
    # one pass: the data are never searched for slots themselves
    return _SLOTS.sub(lambda match: data[match.group(1)], page)


def write_html(trace: Trace | str | Path, path: str | Path,
               notes: list[dict[str, Any]] | None = None, max_events: int = MAX_EVENTS) -> Path:
    """Writes :func:`to_html` to ``path`` atomically (a temporary name beside it, then a rename:
    an interrupted write leaves no half page). Returns the path."""
    page = to_html(trace, notes, max_events)
    final = Path(path)
    fd, tmp = create_temporary(final)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(page)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def notebook_html(trace: Trace | str | Path, notes: list[dict[str, Any]] | None = None,
                  height: int = 640) -> str:
    """The page in an ``<iframe srcdoc>`` for a notebook cell (the page attribute-escaped; a
    sandbox that lets its scripts run and its exports download)."""
    page = html.escape(to_html(trace, notes), quote=True)
    return (f'<iframe srcdoc="{page}" style="width:100%;height:{int(height)}px;border:1px solid '
            '#ddd" sandbox="allow-scripts allow-downloads" title="fiscosim trace viewer">'
            "</iframe>")


class HtmlViewer:
    """A trace (and a lesson's notes) shown by a notebook: ``HtmlViewer(result.trace, notes)``
    as a cell's value draws the viewer; ``write(path)`` saves the page."""

    def __init__(self, trace: Trace | str | Path, notes: list[dict[str, Any]] | None = None,
                 height: int = 640) -> None:
        self.trace = trace
        self.notes = notes
        self.height = height

    def _repr_html_(self) -> str:
        return notebook_html(self.trace, self.notes, self.height)

    def write(self, path: str | Path) -> Path:
        return write_html(self.trace, path, self.notes)


class ViewableTrace(Trace):
    """A :class:`~fiscosim.trace.events.Trace` that draws itself: what ``result.trace`` is.
    ``to_html(path)`` writes (and returns) the page; a notebook shows it (``_repr_html_``)."""

    def to_html(self, path: str | Path | None = None,
                notes: list[dict[str, Any]] | None = None) -> str:
        """The viewer's page, written to ``path`` when given (atomically); ``notes``: a
        lesson's placed notes (:meth:`fiscosim.trace.lesson.Lesson.place`)."""
        if path is not None:
            write_html(self, path, notes)
        return to_html(self, notes)

    def _repr_html_(self) -> str:
        return notebook_html(self)


def viewable(trace: Trace) -> ViewableTrace:
    """``trace`` as a :class:`ViewableTrace` (the same header and records, not copied)."""
    return trace if isinstance(trace, ViewableTrace) else ViewableTrace(trace.header,
                                                                         trace.records)


def _rows(trace: Trace, group: dict[str, Any]) -> list[str]:
    sealers = list(group["sealers"])
    others = [n["id"] for n in trace.header.get("nodes", [])
              if n.get("role") != "sealer" and n["id"] not in sealers]
    return sealers + others


def reference_state(trace: Trace | str | Path, k: int, group: str | None = None) -> dict[str, Any]:
    """What the page shows after ``k`` events of ``trace`` (the model in the module docstring):
    ``window.fiscosim.state()`` after ``seek(k)`` or ``k`` presses of → equals it."""
    if not isinstance(trace, Trace):
        trace = read_trace(trace)
    records = trace.records
    k = max(0, min(int(k), len(records)))
    groups = trace.groups()
    spec = next((g for g in groups if g["id"] == group), groups[0])
    gid = spec["id"]
    sealers = list(spec["sealers"])
    rows = _rows(trace, spec)
    nodes: dict[str, dict[str, Any]] = {}
    for name in rows:
        if name in sealers:
            nodes[name] = {"view": 0, "to_view": 0, "leader": None, "committed": 0, "executed": 0,
                           "up": True, "cycle": 0, "timer": None}
        else:
            nodes[name] = {"view": None, "to_view": None, "leader": None, "committed": 0,
                           "executed": None, "up": True, "cycle": None, "timer": None}

    def owner(record: dict[str, Any]) -> str | None:
        if record["ev"] in ("recv", "drop"):
            return records[record["of"]].get("g")
        return record.get("g")

    for record in records[:k]:
        if owner(record) not in (None, gid):
            continue
        node = nodes.get(record.get("node", ""))
        if node is None:
            continue
        if record["ev"] == "state":
            for field in STATE_FIELDS:
                node[field] = record.get(field)
        elif record["ev"] == "timer" and record.get("name") == "pbft":
            node["timer"] = record.get("due") if record.get("op") == "set" else None

    blk = _block_of(records, records[k - 1], gid) if k else None
    view = max((n["view"] for name, n in nodes.items()
                if name in sealers and isinstance(n["view"], int)), default=0)
    top = max((n["committed"] for name, n in nodes.items()
               if name in sealers and isinstance(n["committed"], int)), default=0)
    if blk is None:
        blk = max(0, top) + 1
    period = max(1, int(spec.get("leader_period", 1)))
    leader = sealers[(blk // period + view) % len(sealers)] if sealers else None
    return {"group": gid, "k": k, "cursor": k - 1 if k else None,
            "t": records[k - 1]["t"] if k else 0, "blk": blk, "view": max(0, view),
            "leader": leader, "nodes": nodes}


def _block_of(records: list[dict[str, Any]], record: dict[str, Any], gid: str) -> int | None:
    """The block ``record`` is a step of (the module docstring's ``blk``), or ``None``."""
    about = records[record["of"]] if record["ev"] in ("recv", "drop") else record
    if about.get("g") not in (None, gid) or not isinstance(about.get("blk"), int):
        return None
    if about["ev"] == "send":
        return about["blk"] if about.get("type") in BLOCK_MESSAGES else None
    return about["blk"] if about["ev"] in ("seal", "quorum", "exec", "ledger") else None
