"""Lesson scripts: a teacher's notes, questions and answers anchored to the events of a real
run (scenarios/teach/*.lesson.yaml, docs/teaching.md).

A script names its scenario and lists notes. Each note is anchored to a record of the trace by
a predicate, ``at: {ev: quorum, node: node1, blk: 1, phase: prepared}`` (every key must equal
the record's; ``nth: 2`` takes the second match, ``-1`` the last), and goes right after that
record. Its ``text`` (and ``question`` and ``answer``) may use the matched record's fields in
braces and what the run says about them:

- ``{t_ms}``: the record's time in ms; ``{node}``, ``{blk}``, ``{view}``...: its fields;
- ``{idx}``: the consensus index of the record's node;
- ``{leader}`` and ``{leader_idx}``: the leader of the record's block in the view the node
  is in at that moment (FISCO's formula, ``(blk // leader_period + view) % n``, over the
  group's sealers in index order), so a lesson names the leader the chain really has;
- ``{since_seal_ms}``: how long after its block was sealed (the first seal of that block);
- ``{n}``, ``{f}``, ``{quorum}``, ``{leader_period}``, ``{timeout_ms}``: the group's;
- ``{to_leader}`` and ``{to_leader_idx}``: for a record with a ``to_view`` (a view change),
  the leader of its block in that view, by the same formula;
- ``{since_prev_block_ms}``: how long after block ``blk - 1`` entered a ledger (the record's
  node's ledger record of it, else the first one): a block interval, or a view change's stall;
- ``{timer_ms}`` and ``{timer_set_ms}``: the delay of the node's view timer (for a ``timer``
  record, of that timer) as last set at or before the record, and when it was set (the last
  progress it measures from); ``{prev_timer_ms}``: the delay of the timer of that name that
  fired at that node before that one was set (so a back-off reads ``{prev_timer_ms}`` × 1.5 =
  ``{timer_ms}``);
- ``{consensus_height}``, ``{executed_height}``, ``{ledger_height}``: at the record's node up
  to the record, the highest block with a Commit quorum, executed, and in its ledger.

A note whose anchor matches nothing is an error naming the note: a lesson never silently
loses a step when the model changes. ``pause: true`` marks where a viewer stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiscosim.trace.events import Trace


class LessonError(ValueError):
    """A lesson script that cannot be read or placed: the message names the note."""


@dataclass(frozen=True)
class Note:
    """One note of a lesson script."""

    at: dict[str, Any]
    text: str
    nth: int = 1
    pause: bool = False
    question: str | None = None
    answer: str | None = None


@dataclass(frozen=True)
class Lesson:
    """A lesson script: its title, its scenario (relative to the script) and its notes."""

    path: Path
    title: str
    scenario: str
    notes: tuple[Note, ...]

    def place(self, trace: Trace) -> list[dict[str, Any]]:
        """The notes placed in ``trace``: each as ``{after: record id, text, pause, question,
        answer, node}`` with its braces filled, in the order of the trace."""
        placed = []
        for number, note in enumerate(self.notes, 1):
            matches = [r for r in trace.records if _matches(r, note.at)]
            if not matches:
                raise LessonError(f"{self.path}: notes[{number}]: nothing in the trace matches "
                                  f"at: {note.at} (did the scenario or the model change?)")
            try:
                record = matches[note.nth - 1 if note.nth > 0 else note.nth]
            except IndexError:
                raise LessonError(f"{self.path}: notes[{number}]: nth: {note.nth}, but only "
                                  f"{len(matches)} records match at: {note.at}") from None
            values = _values(trace, record)
            entry: dict[str, Any] = {"after": record["id"], "code": f"note{number}",
                                     "text": _fill(note.text, values, self.path, number)}
            if "node" in record:
                entry["node"] = record["node"]
            entry["pause"] = note.pause
            if note.question:
                entry["question"] = _fill(note.question, values, self.path, number)
            if note.answer:
                entry["answer"] = _fill(note.answer, values, self.path, number)
            placed.append(entry)
        placed.sort(key=lambda e: e["after"])
        return placed


def _matches(record: dict[str, Any], at: dict[str, Any]) -> bool:
    for key, value in at.items():
        got = record.get(key)
        if isinstance(got, list) and not isinstance(value, list):
            if value not in got:
                return False
        elif got != value:
            return False
    return True


def _values(trace: Trace, record: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in record.items() if not isinstance(v, dict)}
    values["t_ms"] = f"{record['t'] / 1000:.3f}"
    groups = trace.groups()
    group = next((g for g in groups if g["id"] == record.get("g")), groups[0] if groups else None)
    if group is None:
        return values
    sealers = group["sealers"]
    values.update(n=group["n"], f=group["f"], quorum=group["quorum"],
                  leader_period=group["leader_period"], timeout_ms=group["timeout_ms"])
    node = record.get("node") or record.get("src")
    if node in sealers:
        values["idx"] = sealers.index(node)
    view = _view_at(trace, record, node)
    if "view" not in values and view is not None:
        values["view"] = view
    blk = record.get("blk")
    if blk is not None:
        sealed = next((r["t"] for r in trace.records
                       if r["ev"] == "seal" and r.get("blk") == blk), None)
        if sealed is not None and record["t"] >= sealed:
            values["since_seal_ms"] = f"{(record['t'] - sealed) / 1000:.1f}"
    if blk is not None and view is not None and sealers:
        leader = (blk // group["leader_period"] + view) % len(sealers)
        values["leader_idx"] = leader
        values["leader"] = f"idx{leader} ({sealers[leader]})"
    to_view = record.get("to_view")
    if blk is not None and isinstance(to_view, int) and sealers:
        leader = (blk // group["leader_period"] + to_view) % len(sealers)
        values["to_leader_idx"] = leader
        values["to_leader"] = f"idx{leader} ({sealers[leader]})"
    if blk is not None:
        previous = _previous_block_at(trace, blk - 1, node)
        if previous is not None and record["t"] >= previous:
            values["since_prev_block_ms"] = f"{(record['t'] - previous) / 1000:.1f}"
    if node is not None:
        values.update(_timer_values(trace, record, node))
        values.update(_heights(trace, record, node))
    return values


def _previous_block_at(trace: Trace, blk: int, node: str | None) -> int | None:
    """When block ``blk`` entered ``node``'s ledger, else the first ledger (µs)."""
    first = None
    for other in trace.records:
        if other["ev"] == "ledger" and other.get("blk") == blk:
            if other.get("node") == node:
                return int(other["t"])
            if first is None:
                first = int(other["t"])
    return first


def _timer_values(trace: Trace, record: dict[str, Any], node: str) -> dict[str, str]:
    """``{timer_ms}``, ``{timer_set_ms}`` and ``{prev_timer_ms}`` (the module docstring)."""
    name = record.get("name", "pbft") if record["ev"] == "timer" else "pbft"
    last_set: dict[str, Any] | None = None
    fired: int | None = None  # the delay of the last timer that fired so far
    fired_before_set: int | None = None  # ... before ``last_set`` was set
    for other in trace.records:
        if other["id"] > record["id"]:
            break
        if other["ev"] != "timer" or other.get("node") != node or other.get("name") != name:
            continue
        if other["op"] == "set" and "due" in other:
            last_set = other
            fired_before_set = fired
        elif other["op"] == "fire" and last_set is not None:
            fired = int(last_set["due"]) - int(last_set["t"])
    values: dict[str, str] = {}
    if last_set is not None:
        values["timer_ms"] = f"{(int(last_set['due']) - int(last_set['t'])) / 1000:.1f}"
        values["timer_set_ms"] = f"{int(last_set['t']) / 1000:.3f}"
    if fired_before_set is not None:
        values["prev_timer_ms"] = f"{fired_before_set / 1000:.1f}"
    return values


def _heights(trace: Trace, record: dict[str, Any], node: str) -> dict[str, int]:
    """``{consensus_height}``, ``{executed_height}``, ``{ledger_height}`` at ``node``."""
    consensus = executed = ledger = 0
    for other in trace.records:
        if other["id"] > record["id"]:
            break
        if other.get("node") != node or "blk" not in other:
            continue
        ev, blk = other["ev"], int(other["blk"])
        if ev == "quorum" and other.get("phase") == "committed":
            consensus = max(consensus, blk)
        elif ev == "exec" and other.get("op") == "end":
            executed = max(executed, blk)
        elif ev == "ledger" or (ev == "sync" and other.get("op") == "stored"):
            ledger = max(ledger, blk)
    return {"consensus_height": consensus, "executed_height": executed, "ledger_height": ledger}


def _view_at(trace: Trace, record: dict[str, Any], node: str | None) -> int | None:
    """The view ``node`` is in at ``record`` (its last state record up to it)."""
    if "view" in record and record["ev"] != "state":
        return int(record["view"])
    view = None
    for other in trace.records:
        if other["id"] > record["id"]:
            break
        if other["ev"] == "state" and other.get("node") == node and "view" in other:
            view = other["view"]
    return view


def _fill(text: str, values: dict[str, Any], path: Path, number: int) -> str:
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError) as error:
        raise LessonError(f"{path}: notes[{number}]: {{{error.args[0] if error.args else ''}}} "
                          "is not a field of the matched record (see docs/teaching.md for "
                          "the names a note may use)") from None


def load_lesson(path: str | Path) -> Lesson:
    """Reads a lesson script (the module docstring)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise LessonError(f"{path}: cannot read it: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise LessonError(f"{path}: not YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("notes"), list):
        raise LessonError(f"{path}: a lesson script has title:, scenario: and a list notes:")
    notes = []
    allowed = {"at", "text", "nth", "pause", "question", "answer"}
    for number, raw in enumerate(data["notes"], 1):
        if not isinstance(raw, dict) or not isinstance(raw.get("at"), dict) \
                or not isinstance(raw.get("text"), str):
            raise LessonError(f"{path}: notes[{number}]: needs at: {{...}} and text: '...'")
        extra = set(raw) - allowed
        if extra:
            raise LessonError(f"{path}: notes[{number}]: unknown key {sorted(extra)[0]!r} "
                              f"(allowed: {', '.join(sorted(allowed))})")
        nth = raw.get("nth", 1)
        if not isinstance(nth, int) or nth == 0:
            raise LessonError(f"{path}: notes[{number}]: nth must be a non-zero integer "
                              "(1 the first match, -1 the last)")
        notes.append(Note(at=dict(raw["at"]), text=raw["text"], nth=nth,
                          pause=bool(raw.get("pause", False)), question=raw.get("question"),
                          answer=raw.get("answer")))
    return Lesson(path=path, title=str(data.get("title", path.stem)),
                  scenario=str(data.get("scenario", "")), notes=tuple(notes))
