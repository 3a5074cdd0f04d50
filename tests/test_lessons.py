"""The lessons (scenarios/teach/*.lesson.yaml): each runs its scenario with a trace, the trace
is valid, every note finds its record, and the narration with the lesson's notes equals its
golden file (tests/golden/lessons/<lesson>.txt). A change to the model or the narration that
moves a lesson shows here first; re-record with ``python tests/test_lessons.py --record`` after
reading the difference."""

from __future__ import annotations

import difflib
import itertools
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


# -- each lesson's key fact, read from the trace records --------------------------------------

_TRACES: dict[str, object] = {}


@pytest.fixture(scope="module")
def lesson_trace(tmp_path_factory):
    """The trace of a lesson's run, by stem (each scenario runs once for these tests)."""
    def trace_of(stem: str):
        if stem not in _TRACES:
            lesson = load_lesson(TEACH / f"{stem}.lesson.yaml")
            path = tmp_path_factory.mktemp(stem) / f"{stem}.trace.jsonl"
            load_simulation(TEACH / lesson.scenario).run(trace=path)
            _TRACES[stem] = read_trace(path)
        return _TRACES[stem]
    return trace_of


def _group(trace):
    group = trace.header["groups"][0]
    return group, group["sealers"]


def _leader(group, sealers, blk: int, view: int) -> str:
    return sealers[(blk // group["leader_period"] + view) % len(sealers)]


def _of(trace, ev: str, **fields):
    return [r for r in trace.records if r["ev"] == ev
            and all(r.get(k) == v for k, v in fields.items())]


def _fired_delays(trace, node: str, before: int) -> list[int]:
    """The delays (µs) of the node's view timers that fired before ``before`` (µs)."""
    delays, armed = [], None
    for r in trace.records:
        if r["t"] >= before:
            break
        if r["ev"] == "timer" and r.get("node") == node and r.get("name") == "pbft":
            if r["op"] == "set":
                armed = r["due"] - r["t"]
            elif r["op"] == "fire":
                delays.append(armed)
    return delays


def test_lesson_2a_the_view_timer_finds_a_silent_leader(lesson_trace):
    trace = lesson_trace("viewchange4")
    group, sealers = _group(trace)
    timeout = group["timeout_ms"] * 1000
    silent = _leader(group, sealers, 3, 0)
    assert _of(trace, "fault", kind="partition")[0]["text"] == f"partition {silent}"
    survivors = sorted({r["node"] for r in _of(trace, "ledger", blk=3)})
    assert len(survivors) == 3 and silent not in survivors
    for node in survivors:
        progress = _of(trace, "ledger", blk=2, node=node)[0]["t"]
        first_vc = next(r for r in _of(trace, "send", type="ViewChange") if r["src"] == node)
        sent = _of(trace, "pbft", code="view_change_sent", node=node)[0]
        assert sent["reason"] == "timeout" and sent["to_view"] == 1
        # the timer ran from the last progress (block 2 in the ledger): one timeout, no more
        assert timeout <= first_vc["t"] - progress < timeout + 1000, node
    new_leader = _leader(group, sealers, 3, 1)
    assert [r["node"] for r in _of(trace, "seal", blk=3)] == [new_leader]
    assert {r["src"] for r in _of(trace, "send", type="NewView")} == {new_leader}
    commits = _of(trace, "quorum", phase="committed", blk=3)
    assert commits and {r["view"] for r in commits} == {1}
    spike = _of(trace, "ledger", blk=3)[0]["t"] - _of(trace, "ledger", blk=2)[0]["t"]
    assert timeout < spike < timeout + 200_000


def test_lesson_2b_a_crash_the_peers_see_costs_a_few_round_trips(lesson_trace):
    trace = lesson_trace("viewchange4-fast")
    group, sealers = _group(trace)
    crashed = _leader(group, sealers, 3, 0)
    assert [r["node"] for r in _of(trace, "node", op="crash")] == [crashed]
    sent = _of(trace, "pbft", code="view_change_sent")
    assert len(sent) == 3 and {r["reason"] for r in sent} == {"leader_unreachable"}
    assert not _of(trace, "timer", op="fire", name="pbft")
    assert [r["node"] for r in _of(trace, "seal", blk=3)] == [_leader(group, sealers, 3, 1)]
    spike = _of(trace, "ledger", blk=3)[0]["t"] - _of(trace, "ledger", blk=2)[0]["t"]
    assert spike < group["timeout_ms"] * 1000 / 10


def test_lesson_2c_two_failed_leaders_back_the_timer_off_and_skip_a_view(lesson_trace):
    trace = lesson_trace("viewchange7")
    group, sealers = _group(trace)
    timeout = group["timeout_ms"] * 1000
    cut = {_leader(group, sealers, 3, 0), _leader(group, sealers, 3, 1)}
    text = _of(trace, "fault", kind="partition")[0]["text"]
    assert {side.strip() for side in text.removeprefix("partition ").split("|")} == cut
    committed = _of(trace, "ledger", blk=3)
    survivors = sorted({r["node"] for r in committed})
    assert len(survivors) == 5 and not cut & set(survivors)
    for node in survivors:
        assert _fired_delays(trace, node, committed[0]["t"]) == [timeout, timeout * 3 // 2]
        views = {r["view"] for r in _of(trace, "state", node=node) if "view" in r}
        assert views == {0, 2}, node  # never in view 1
    assert [r["node"] for r in _of(trace, "seal", blk=3)] == [_leader(group, sealers, 3, 2)]
    assert {r["view"] for r in _of(trace, "quorum", phase="committed", blk=3)} == {2}


def test_lesson_3_a_partition_stops_the_chain_and_the_heal_restarts_it(lesson_trace):
    trace = lesson_trace("partition4")
    group, sealers = _group(trace)
    cut, heal = _of(trace, "fault", kind="partition")[0], _of(trace, "fault", kind="undo")[0]
    sides = [set(side.strip().split(",")) for side in
             cut["text"].removeprefix("partition ").split("|")]
    assert sides == [set(sealers[:2]), set(sealers[2:])]
    side_of = {name: i for i, side in enumerate(sides) for name in side}
    assert not [r for r in _of(trace, "ledger") if cut["t"] <= r["t"] < heal["t"]]
    sends = {r["id"]: r for r in _of(trace, "send")}
    crossing = 0
    for r in trace.records:
        if r["ev"] in ("recv", "drop"):
            send = sends[r["of"]]
            if cut["t"] <= send["t"] < heal["t"] and side_of[send["src"]] != side_of[r["node"]]:
                crossing += 1
                assert r["ev"] == "drop" and r["why"] == "partition", r
    assert crossing >= 10
    first = _of(trace, "ledger", blk=3)[0]["t"]
    assert first > heal["t"]
    for node in sealers:
        delays = _fired_delays(trace, node, first)
        assert len(delays) >= 2 and delays[0] == group["timeout_ms"] * 1000, node
        assert all(b == a * 3 // 2 for a, b in itertools.pairwise(delays)), (node, delays)
    assert max(len(_fired_delays(trace, node, first)) for node in sealers) >= 3
    states = [r for r in _of(trace, "state") if cut["t"] <= r["t"] < heal["t"] and "view" in r]
    assert {r["view"] for r in states} == {0} and max(r["to_view"] for r in states) >= 2
    assert _of(trace, "check", prop="safety")[0]["ok"] is True


def test_lesson_4a_an_equivocating_leader_stalls_a_view_but_forks_nothing(lesson_trace):
    trace = lesson_trace("equivocate4")
    group, sealers = _group(trace)
    liar = _leader(group, sealers, 2, 0)
    proposals = [r for r in _of(trace, "send", type="PrePrepare", blk=2, view=0)]
    assert {r["src"] for r in proposals} == {liar} and len({r["hash"] for r in proposals}) == 2
    honest = [name for name in sealers if name != liar]
    assert not [r for r in _of(trace, "quorum", phase="prepared", blk=2, view=0)
                if r["node"] in honest]
    assert {r["view"] for r in _of(trace, "quorum", phase="committed", blk=2)} == {1}
    assert len({r["hash"] for r in _of(trace, "ledger", blk=2) if r["node"] in honest}) == 1
    assert _of(trace, "check", prop="safety")[0]["ok"] is True


def test_lesson_4b_the_majority_value_commits_and_the_odd_node_fetches_it(lesson_trace):
    trace = lesson_trace("equivocate4-majority")
    group, sealers = _group(trace)
    liar = _leader(group, sealers, 2, 0)
    proposals = _of(trace, "send", type="PrePrepare", blk=2, view=0)
    assert len({r["hash"] for r in proposals}) == 2
    odd = next(r for r in proposals if len(r["dst"]) == 1)["dst"][0]
    assert _of(trace, "pbft", code="committed_proposal_accepted", node=odd)
    honest = [name for name in sealers if name != liar]
    ledgers = [r for r in _of(trace, "ledger", blk=2) if r["node"] in honest]
    assert sorted(r["node"] for r in ledgers) == sorted(honest)
    assert len({r["hash"] for r in ledgers}) == 1
    assert not _of(trace, "pbft", code="view_change_sent")
    assert _of(trace, "check", prop="safety")[0]["ok"] is True


def test_lesson_4c_f_plus_one_colluders_fork_and_the_checker_says_so(lesson_trace):
    trace = lesson_trace("equivocate4-collude")
    liars = {r["node"] for r in _of(trace, "fault", kind="byzantine") if "node" in r}
    ledgers = [r for r in _of(trace, "ledger", blk=2) if r["node"] not in liars]
    assert len(ledgers) == 2 and len({r["hash"] for r in ledgers}) == 2
    check = _of(trace, "check", prop="safety")[0]
    assert check["ok"] is False and check["detail"].startswith("block 2:")


def test_lesson_5_ordering_runs_ahead_of_execution(lesson_trace):
    trace = lesson_trace("pipeline4")
    _, sealers = _group(trace)
    executed = {(r["node"], r["blk"]): r["t"] for r in _of(trace, "exec", op="end")}
    # block i's PrePrepare leaves before block i - 1 is executed anywhere
    ahead = [r["blk"] for r in _of(trace, "send", type="PrePrepare")
             if r["blk"] > 1 and r["t"] < min(executed[(n, r["blk"] - 1)] for n in sealers)]
    assert len(ahead) >= 5
    last = max(r["blk"] for r in _of(trace, "seal"))
    for node in sealers:
        ordered = _of(trace, "quorum", phase="committed", blk=last, node=node)[0]["t"]
        done = max(blk for (n, blk), t in executed.items() if n == node and t <= ordered)
        assert last - done >= 3, node
        heights = [r["blk"] for r in _of(trace, "ledger", node=node)]
        assert heights == list(range(1, last + 1)), node
        ends = [t for (n, _), t in sorted(executed.items()) if n == node]
        assert ends == sorted(ends), node

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
