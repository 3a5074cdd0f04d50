"""A trace file told as text: one line per step, with filters and per-node columns
(``fiscosim trace narrate``, docs/trace.md).

Each line is ``[   500.114 ms] who  symbol  sentence``. The PBFT core's own events (``pbft``
and ``quorum`` records) are rebuilt into :mod:`fiscosim.consensus.events` objects and worded by
:class:`fiscosim.trace.narrate.Narrator`, so a sentence gives the protocol's own reason; the
other records (sends, drops, timers, execution, the ledger, faults, lesson notes) have
templates here. Sealers are named as the narrator names them: "sealer 1 (node2)", the
consensus index (FISCO's nodeID order, which the leader formula uses) and the scenario's name.

Filters (all optional, combined with "and"): nodes (a record about one of them: its node, a
send's sender or a destination), message types (sends and their drops; abbreviations PP, P,
C, CP, VC, NV), blocks ``A:B`` and times ``A:B`` in milliseconds. ``columns`` puts each node's
lines in a column of its own (dslogs' layout). ``lang="zh"`` tells it in Simplified Chinese
(:mod:`fiscosim.trace.zh`); names the trace itself carries (message types, drop reasons,
fault texts) stay as they are.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fiscosim.consensus import events as ev
from fiscosim.trace import zh
from fiscosim.trace.events import Trace
from fiscosim.trace.narrate import Narrator

TYPE_ABBREVIATIONS = {"PP": "PrePrepare", "P": "Prepare", "C": "Commit", "CP": "CheckPoint",
                      "VC": "ViewChange", "NV": "NewView"}
"""Short names a filter may use for the PBFT messages."""

_EVENT_TYPES: dict[str, type] = {}
for _cls in vars(ev).values():
    if (isinstance(_cls, type) and issubclass(_cls, ev.Event) and _cls is not ev.Event
            and isinstance(_cls.__dict__.get("code"), str)):
        _EVENT_TYPES[_cls.__dict__["code"]] = _cls


def event_of(record: dict[str, Any], index_of: dict[str, int]) -> ev.Event | None:
    """The core event a ``pbft`` or ``quorum`` record was written from (``None`` for a code
    this version does not know)."""
    code = record.get("code", "")
    values = {k: v for k, v in record.items()
              if k not in ("ev", "id", "t", "node", "g", "code")}
    if "blk" in values:
        values["index"] = values.pop("blk")
    if record["ev"] == "quorum":
        values["quorum"] = values.pop("need")
        values["voters"] = [index_of.get(v, -1) if isinstance(v, str) else v
                            for v in values["voters"]]
        for extra in ("from", "phase"):
            values.pop(extra, None)
        if code in ("prepare_quorum", "commit_quorum"):
            values["phase"] = code.split("_", 1)[0]
            cls: type | None = ev.QuorumReached
        else:
            cls = ev.StableCheckpoint
    else:
        cls = _EVENT_TYPES.get(code)
    if cls is None:
        return None
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        kwargs[field.name] = _typed(values[field.name], hints.get(field.name))
    try:
        return cls(**kwargs)
    except TypeError:
        return None


def _typed(value: Any, hint: Any) -> Any:
    """A JSON value back in the type the event's field has: bytes from hex, tuples from lists."""
    text = str(hint)
    if isinstance(value, str) and "bytes" in text:
        try:
            return bytes.fromhex(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return tuple(_typed(v, "tuple") if isinstance(v, list) else v for v in value)
    return value


@dataclass
class Filters:
    """Which records a narration keeps (``None``: any)."""

    nodes: frozenset[str] | None = None
    types: frozenset[str] | None = None
    blocks: tuple[int, int] | None = None
    time_ms: tuple[float, float] | None = None
    recv: bool = False
    timers: bool = False

    @staticmethod
    def parse_types(text: str) -> frozenset[str]:
        """``"PP,P,C"`` → the message types (full names or abbreviations)."""
        names = [part.strip() for part in text.split(",") if part.strip()]
        return frozenset(TYPE_ABBREVIATIONS.get(name, name) for name in names)


def _range(text: str, kind: type) -> tuple[Any, Any]:
    low, sep, high = text.partition(":")
    if not sep:
        value = kind(low)
        return value, value
    return (kind(low) if low else kind("-inf") if kind is float else -(1 << 62),
            kind(high) if high else kind("inf") if kind is float else 1 << 62)


def parse_range(text: str, kind: type = int) -> tuple[Any, Any]:
    """``"3:5"`` (both ends included), ``"3"``, ``"3:"`` or ``":5"`` → (low, high)."""
    try:
        return _range(text, kind)
    except ValueError:
        raise ValueError(f"{text!r} is not a range such as 3:5, 3 or 3:") from None


class Teller:
    """Tells the records of one trace (the module docstring)."""

    def __init__(self, trace: Trace, lang: str = "en", group: str | None = None) -> None:
        self.trace = trace
        self.lang = lang
        groups = trace.groups()
        self.group = group if group is not None else (groups[0]["id"] if groups else None)
        self.index_of = trace.index_of(self.group)
        sealers = next((g["sealers"] for g in groups if g["id"] == self.group), [])
        if lang not in _WORDS:
            raise ValueError(f"unknown narration language {lang!r}: the languages are "
                             f"{', '.join(_WORDS)}")
        label = zh.LABEL if lang == "zh" else "sealer {i} ({name})"
        self.labels = tuple(label.format(i=i, name=name) for i, name in enumerate(sealers))
        self.narrators = {name: Narrator(i, self.labels, lang)
                          for i, name in enumerate(sealers)}
        self.sends: dict[int, dict[str, Any]] = {}
        self.states: dict[str, tuple[int, int, bool]] = {}
        self.words = _WORDS[lang]

    def who(self, name: str) -> str:
        index = self.index_of.get(name)
        return name if index is None else self.labels[index]

    def whos(self, names: Sequence[str]) -> str:
        indexes = [self.index_of.get(n) for n in names]
        if all(i is not None for i in indexes) and len(names) > 1:
            return self.words["sealers"] + ",".join(str(i) for i in sorted(indexes))  # type: ignore[type-var]
        return ", ".join(self.who(n) for n in names)

    def message(self, send: dict[str, Any]) -> str:
        parts = []
        if "blk" in send:
            parts.append(f"{self.words['blk']} {send['blk']}")
        if "view" in send:
            parts.append(f"{self.words['view']} {send['view']}")
        inside = ", ".join(parts)
        return f"{send['type']}({inside})" if inside else send["type"]

    def tell(self, record: dict[str, Any]) -> tuple[str, str, str] | None:
        """(who, symbol, sentence) for one record, or ``None`` for one not told."""
        kind = record["ev"]
        w = self.words
        if kind == "send":
            self.sends[record["id"]] = record
            forged = w["forged"] if record.get("forged") else ""
            return (record["src"], "▶",
                    f"{forged}{self.message(record)} → {self.whos(record['dst'])}")
        if kind in ("recv", "drop"):
            send = self.sends.get(record["of"])
            if send is None:
                return None
            if kind == "recv":
                return (record["node"], "◀",
                        f"{self.message(send)} {w['from']} {self.who(send['src'])}")
            return (record["node"], "✕", w["dropped"].format(
                msg=self.message(send), src=self.who(send["src"]), why=record.get("why", "")))
        if kind in ("pbft", "quorum"):
            if record.get("code") == "execute":
                return None  # the exec record says it, with when it ends
            narrator = self.narrators.get(record["node"])
            event = event_of(record, self.index_of)
            if narrator is None or event is None:
                return record["node"], "·", f"{record.get('code')}"
            text = narrator(event)
            symbol = "✔" if kind == "quorum" else "·"
            return record["node"], symbol, text
        if kind == "timer":
            op = record["op"]
            if op == "fire":
                return record["node"], "⏱", w["timer_fired"].format(name=record["name"])
            due = record.get("due")
            when = f" ({w['due']} {due / 1000:.3f} ms)" if due is not None else ""
            why = f": {record['why']}" if record.get("why") else ""
            verb = w["timer_set"] if op == "set" else w["timer_cancel"]
            return record["node"], "⏱", f"{verb.format(name=record['name'])}{when}{why}"
        if kind == "exec":
            if record["op"] == "start":
                until = record.get("until")
                end = (w["until_at"].format(t=f"{until / 1000:.3f} ms")
                       if until is not None else "")
                return record["node"], "⚙", w["exec_start"].format(
                    blk=record["blk"], txs=record.get("txs", 0)) + end
            if record["node"] in self.narrators:
                return None  # the core's "executed: sending CheckPoint" says it
            return record["node"], "⚙", w["exec_end"].format(blk=record["blk"])
        if kind == "ledger":
            if record["node"] in self.narrators:
                return None  # the core's "writing block ... with n signatures" says it
            return record["node"], "▣", w["ledger"].format(
                blk=record["blk"], hash=record.get("hash", ""), sigs=record.get("sigs", 0),
                txs=record.get("txs", 0))
        if kind == "seal":
            return record["node"], "□", w["seal"].format(blk=record["blk"], txs=record["txs"])
        if kind == "state":
            if "view" not in record:
                return None
            said = (record["view"], record["to_view"], record["up"])
            before = self.states.get(record["node"])
            self.states[record["node"]] = said
            if before is None or before == said:
                return None  # a new height alone: the core's own lines say it
            key = "state" if record["to_view"] == record["view"] else "state_moving"
            return record["node"], "≡", w[key].format(
                view=record["view"], to_view=record["to_view"], leader=self.who(record["leader"]),
                committed=record["committed"], executed=record["executed"],
                up="" if record["up"] else w["down"])
        if kind == "node":
            return record["node"], "⚡", w["crash" if record["op"] == "crash" else "restart"]
        if kind == "fault":
            text = record.get("text")
            if text is None and "behaviour" in record:
                switch = "on" if record.get("on") else "off"
                text = f"{record['kind']} {record['behaviour']} {switch}"
            return (record.get("node", "*"), "⚡", w["fault"].format(text=text or record["kind"]))
        if kind == "check":
            ok = record["ok"]
            return "*", "✔" if ok else "✘", w["check_ok" if ok else "check_bad"].format(
                prop=record["prop"], detail=record.get("detail", ""))
        if kind == "note":
            text = record["text"]
            if record.get("question"):
                text += f"\n      {w['question']}: {record['question']}"
            if record.get("answer"):
                text += f"\n      {w['answer']}: {record['answer']}"
            return record.get("node", "*"), "✎", text
        if kind in ("fetch", "sync"):
            details = ", ".join(f"{k} {v}" for k, v in record.items()
                                if k not in ("ev", "id", "t", "node", "g"))
            return record["node"], "↻", f"{kind}: {details}"
        return None


def keep(record: dict[str, Any], filters: Filters, sends: dict[int, dict[str, Any]]) -> bool:
    """Whether ``record`` passes ``filters`` (``sends``: the sends so far, by id)."""
    kind = record["ev"]
    if kind == "recv" and not filters.recv:
        return False
    if kind == "timer" and record.get("op") != "fire" and not filters.timers:
        return False
    send = record if kind == "send" else sends.get(record.get("of", -1)) \
        if kind in ("recv", "drop") else None
    if filters.types is not None and (send is None or send.get("type") not in filters.types):
        return False
    if filters.nodes is not None:
        if send is not None:
            involved = {send["src"], *(send["dst"] if kind == "send" else [record["node"]])}
        elif "node" in record:
            involved = {record["node"]}
        else:
            involved = filters.nodes  # a run-wide record: a check, a partition
        if not involved & filters.nodes:
            return False
    if filters.blocks is not None:
        blk = (send or record).get("blk")
        if blk is None or not filters.blocks[0] <= blk <= filters.blocks[1]:
            return False
    if filters.time_ms is not None:
        t_ms = record["t"] / 1000
        if not filters.time_ms[0] <= t_ms <= filters.time_ms[1]:
            return False
    return True


def narrate_trace(trace: Trace, filters: Filters | None = None, lang: str = "en",
                  columns: bool = False, width: int = 44, group: str | None = None,
                  notes: Iterable[dict[str, Any]] = ()) -> list[str]:
    """The narration of ``trace`` as lines (the module docstring). ``notes``: lesson notes,
    each placed after the record whose id it names (``after``)."""
    filters = filters or Filters()
    teller = Teller(trace, lang, group)
    by_after: dict[int, list[dict[str, Any]]] = {}
    for note in notes:
        by_after.setdefault(int(note["after"]), []).append(note)
    column_of: dict[str, int] = {}
    if columns:
        order = [n["id"] for n in trace.header.get("nodes", [])]
        shown = [n for n in order if filters.nodes is None or n in filters.nodes]
        column_of = {name: i for i, name in enumerate(shown)}
    lines: list[str] = []
    if columns:
        heads = [teller.who(name)[:width - 1].ljust(width) for name in column_of]
        lines.append(" " * 15 + "".join(heads).rstrip())
    sends = teller.sends
    for record in trace.records:
        if record["ev"] == "send":
            sends[record["id"]] = record
        if group is not None and record.get("g") not in (None, group):
            continue
        kept = keep(record, filters, sends)
        if not kept and record["ev"] == "state" and "view" in record:
            # a state line says a change: the states filtered out are still the "before"
            teller.states[record["node"]] = (record["view"], record["to_view"], record["up"])
        told = teller.tell(record) if kept else None
        if told is not None:
            who, symbol, text = told
            stamp = f"[{record['t'] / 1000:10.3f} ms]"
            if columns and who in column_of:
                pad = " " * (width * column_of[who])
                lines.append(f"{stamp} {pad}{symbol} {text}")
            else:
                name = teller.who(who) if who != "*" else "*"
                lines.append(f"{stamp} {name} {symbol} {text}")
        for note in by_after.get(record["id"], ()):
            told = teller.tell({"ev": "note", **{k: v for k, v in note.items() if k != "after"}})
            if told is not None:
                lines.append(f"{'':15}{told[1]} {told[2]}")
    return lines


_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "sealers": "sealers ", "blk": "blk", "from": "from", "forged": "forged ",
        "dropped": "{msg} from {src} dropped: {why}",
        "timer_fired": "{name} timer fired", "timer_set": "{name} timer set",
        "timer_cancel": "{name} timer cancelled", "due": "due",
        "exec_start": "executes block {blk} ({txs} txs)",
        "exec_end": "executed block {blk}",
        "ledger": "writes block {blk} to the ledger (executed hash {hash}, {sigs} CheckPoint "
                  "signatures, {txs} txs)",
        "seal": "seals block {blk} with {txs} txs",
        "state": "{up}in view {view}, waits for {leader}; committed {committed}, executed "
                 "{executed}",
        "state_moving": "{up}view {view}, moving to view {to_view}, waits for {leader}; "
                        "committed {committed}, executed {executed}",
        "view": "view", "until_at": " until {t}",
        "down": "down; ", "crash": "crashes", "restart": "restarts",
        "fault": "fault: {text}", "check_ok": "{prop} holds", "check_bad": "{prop} violated: "
        "{detail}", "question": "Question", "answer": "Answer",
    },
    "zh": zh.WORDS,
}
