"""The lessons (scenarios/teach/*.lesson.yaml): each runs its scenario with a trace, the trace
is valid, every note finds its record, and the narration with the lesson's notes equals its
golden file (tests/golden/lessons/<lesson>.txt). A change to the model or the narration that
moves a lesson shows here first; re-record with ``python tests/test_lessons.py --record`` after
reading the difference."""

from __future__ import annotations

import difflib
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fiscosim import load_simulation  # noqa: E402
from fiscosim.trace.events import check_structure, read_trace  # noqa: E402
from fiscosim.trace.lesson import load_lesson  # noqa: E402
from fiscosim.trace.narration import narrate_trace  # noqa: E402

TEACH = ROOT / "scenarios" / "teach"
GOLDEN = ROOT / "tests" / "golden" / "lessons"
LESSONS = sorted(TEACH.glob("*.lesson.yaml"))


def lesson_name(path: Path) -> str:
    return path.name.removesuffix(".lesson.yaml")


def narrate_lesson(path: Path, folder: Path) -> tuple[str, object]:
    """The lesson's narration (its notes between the lines) and the trace it was told from."""
    lesson = load_lesson(path)
    trace_path = folder / f"{lesson_name(path)}.trace.jsonl"
    load_simulation(path.parent / lesson.scenario).run(trace=trace_path)
    trace = read_trace(trace_path)
    lines = narrate_trace(trace, notes=lesson.place(trace))
    return "\n".join(lines) + "\n", trace


def test_there_are_lessons():
    assert len(LESSONS) >= 1


@pytest.mark.parametrize("path", LESSONS, ids=lesson_name)
def test_lesson_matches_its_golden_narration(path, tmp_path):
    text, trace = narrate_lesson(path, tmp_path)
    assert check_structure(trace) == []
    golden = GOLDEN / f"{lesson_name(path)}.txt"
    expected = golden.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(list(difflib.unified_diff(
            expected.splitlines(True), text.splitlines(True), str(golden), "now", n=1))[:60])
        pytest.fail(f"{lesson_name(path)}: the narration moved (re-record with `python "
                    f"tests/test_lessons.py --record` if meant):\n{diff}")


@pytest.mark.parametrize("path", LESSONS, ids=lesson_name)
def test_every_note_is_placed_and_pauses_ask_a_question(path, tmp_path):
    _, trace = narrate_lesson(path, tmp_path)
    lesson = load_lesson(path)
    placed = lesson.place(trace)
    assert len(placed) == len(lesson.notes)
    assert any(note["pause"] for note in placed)
    for note in placed:
        assert "{" not in note["text"], note["text"]
        if note["pause"]:
            assert note.get("question") and note.get("answer"), note


def test_lesson_1_names_the_leader_the_chain_really_has(tmp_path):
    _, trace = narrate_lesson(TEACH / "normal4.lesson.yaml", tmp_path)
    placed = load_lesson(TEACH / "normal4.lesson.yaml").place(trace)
    sealers = trace.header["groups"][0]["sealers"]
    seals = {r["blk"]: r["node"] for r in trace.records if r["ev"] == "seal"}
    first = placed[0]
    last = next(note for note in placed if note["text"].startswith("Block 2"))
    # block k in view 0: (k + 0) % 4
    assert f"idx1 ({sealers[1]})" in first["text"] and seals[1] == sealers[1]
    assert f"idx2 ({sealers[2]})" in last["text"] and seals[2] == sealers[2]


def record() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for path in LESSONS:
            text, _ = narrate_lesson(path, Path(folder))
            (GOLDEN / f"{lesson_name(path)}.txt").write_text(text, encoding="utf-8")
            print(f"recorded {GOLDEN / lesson_name(path)}.txt", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_lessons.py --record")
    record()
