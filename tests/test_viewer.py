"""The HTML viewer's Python side, no browser (docs/viewer.md): the page is deterministic, its
data cannot end their script elements early, the template stays small and offline, the file is
written atomically, and ``reference_state`` (the state the page must show at event k) says what
the run did. tests/test_viewer_browser.py checks the page itself in Chromium."""

from __future__ import annotations

import copy
import html
import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from fiscosim import load_simulation
from fiscosim.trace.events import Trace, read_trace
from fiscosim.trace.lesson import load_lesson
from fiscosim.trace.viewer import (
    HtmlViewer,
    cut,
    notebook_html,
    reference_state,
    template,
    to_html,
    write_html,
)

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "scenarios" / "teach" / "normal4.lesson.yaml"
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:")

# Four sealers on 20 ms links; the leader of block 3 (idx3 in view 0) crashes once block 2 is
# sealed, so the others change to view 1 and block 3 commits there (lesson 2's set-up, kept
# here so that this test does not move when the lesson does).
VIEWCHANGE_SCENARIO = """\
name: viewer-viewchange
seed: 1
duration_s: 2
warmup_s: 0
drain_s: 1
chain: {tx_count_limit: 5, min_seal_time_ms: 100, leader_period: 1}
nodes: {count: 4}
network:
  latency: {distribution: constant, mean_ms: 20}
workload: {mode: sdk_demo, total_txs: 15, rate_tps: 1000}
faults:
  - {at_block: 2, block_event: sealed, kind: crash, nodes: [node2]}
"""


def record_trace(folder: Path, name: str, scenario: str | Path = "teach/normal4",
                 overrides: dict[str, object] | None = None) -> Path:
    """Runs ``scenario`` with a trace into ``folder/name.trace.jsonl``; returns the path."""
    path = folder / f"{name}.trace.jsonl"
    load_simulation(scenario, overrides=overrides or {}).run(trace=path)
    return path


def viewchange_trace(folder: Path) -> Path:
    scenario = folder / "viewer-viewchange.yaml"
    scenario.write_text(VIEWCHANGE_SCENARIO)
    return record_trace(folder, "viewchange", scenario)


@pytest.fixture(scope="module")
def normal4(tmp_path_factory) -> Path:
    return record_trace(tmp_path_factory.mktemp("viewer"), "normal4")


def first(trace: Trace, **fields: object) -> dict:
    return next(r for r in trace.records if all(r.get(k) == v for k, v in fields.items()))


def embedded(page: str, element: str) -> str:
    """The text of the data script element ``element`` (trace, notes, narration) of a page."""
    match = re.search(rf'<script type="[^"]+" id="{element}">(.*?)</script>', page, re.S)
    assert match is not None, element
    return match.group(1)


def test_the_same_run_gives_the_same_bytes(normal4, tmp_path):
    trace = read_trace(normal4)
    notes = load_lesson(LESSON).place(trace)
    page = to_html(trace, notes)
    assert to_html(trace, notes) == page
    again = read_trace(record_trace(tmp_path, "again"))  # the same scenario and seed, run again
    assert to_html(again, load_lesson(LESSON).place(again)) == page
    assert to_html(normal4, notes) == page  # the file embedded as it is reads the same
    assert to_html(trace) != page  # the notes are in the page


def test_the_page_embeds_the_trace_its_narration_and_the_notes(normal4):
    trace = read_trace(normal4)
    notes = load_lesson(LESSON).place(trace)
    page = to_html(trace, notes)
    lines = embedded(page, "trace").splitlines()
    assert json.loads(lines[0]) == trace.header
    assert [json.loads(line) for line in lines[1:]] == trace.records
    assert json.loads(embedded(page, "notes")) == notes
    narration = json.loads(embedded(page, "narration"))
    told = narration[trace.groups()[0]["id"]]
    ids = [entry[0] for entry in told]
    assert ids == sorted(ids) and set(ids) <= {r["id"] for r in trace.records}
    prepared = first(trace, ev="quorum", phase="prepared")
    line = next(entry for entry in told if entry[0] == prepared["id"])
    assert line[2] == "✔" and "prepare quorum for block 1" in line[3]


def test_markup_in_a_label_or_a_note_cannot_end_its_script(normal4):
    trace = read_trace(normal4)
    hostile = "</script><b>x"
    header = copy.deepcopy(trace.header)
    header["nodes"][0]["label"] = hostile
    notes = [{"after": 5, "text": "a note </script><script>alert(1)</script>", "pause": False,
              "question": "<!-- q", "answer": "</SCRIPT >"}]
    page = to_html(Trace(header, trace.records), notes)
    assert hostile not in page and "<script>alert" not in page and "<!-- q" not in page
    # every "</script" ends one of the page's own four script elements
    assert len(re.findall(r"</script", page, re.I)) == page.count("<script") == 4
    first_line = embedded(page, "trace").splitlines()[0]
    assert "\\u003c/script>\\u003cb>x" in first_line
    assert json.loads(first_line)["nodes"][0]["label"] == hostile  # decodes to the same text
    assert json.loads(embedded(page, "notes"))[0]["text"] == notes[0]["text"]


def test_the_template_is_small_offline_and_has_its_slots():
    page = template()
    assert len(page.encode("utf-8")) <= 150 * 1024
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:|//)", page, re.I)
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "eval(" not in page
    for slot in ("TRACE", "NOTES", "NARRATION"):
        assert page.count(f"@@FISCOSIM_{slot}@@") == 1
    assert '<script type="application/x-ndjson" id="trace">@@FISCOSIM_TRACE@@</script>' in page


def test_the_template_ships_as_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "trace/viewer/*.html" in data["tool"]["setuptools"]["package-data"]["fiscosim"]
    test_extra = data["project"]["optional-dependencies"]["test"]
    assert any(req.replace(" ", "").startswith("playwright>=") for req in test_extra)


def test_write_html_is_atomic(normal4, tmp_path, monkeypatch):
    target = tmp_path / "out" / "n4.html"
    target.parent.mkdir()
    assert write_html(normal4, target) == target
    assert target.read_text(encoding="utf-8") == to_html(normal4)
    assert sorted(p.name for p in target.parent.iterdir()) == ["n4.html"]

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    other = tmp_path / "out" / "other.html"
    with pytest.raises(OSError, match="disk full"):
        write_html(normal4, other)
    assert sorted(p.name for p in target.parent.iterdir()) == ["n4.html"]  # no half page left


def test_a_trace_that_does_not_read_still_gives_a_page(normal4, tmp_path):
    text = normal4.read_text()
    cut = tmp_path / "cut.trace.jsonl"
    cut.write_text(text[: len(text) // 2])  # stops in the middle of a line
    page = to_html(cut)
    assert embedded(page, "trace") == text[: len(text) // 2].replace("<", "\\u003c")
    assert json.loads(embedded(page, "narration")) == {}  # the page says what is wrong


def test_notebook_html_is_the_page_in_an_iframe(normal4):
    trace = read_trace(normal4)
    frame = notebook_html(trace, height=500)
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" style="[^"]*height:500px[^"]*" '
                         r'sandbox="allow-scripts allow-downloads" [^>]*></iframe>', frame)
    assert match is not None
    assert html.unescape(match.group(1)) == to_html(trace)
    assert HtmlViewer(trace)._repr_html_() == notebook_html(trace)


def test_reference_state_follows_the_run(normal4):
    trace = read_trace(normal4)
    sealers = trace.groups()[0]["sealers"]
    start = reference_state(trace, 0)
    assert start["k"] == 0 and start["cursor"] is None and start["t"] == 0
    assert start["blk"] == 1 and start["view"] == 0 and start["leader"] == sealers[1]
    assert list(start["nodes"]) == sealers  # rows in FISCO index order
    assert all(n == {"view": 0, "to_view": 0, "leader": None, "committed": 0, "executed": 0,
                     "up": True, "cycle": 0, "timer": None} for n in start["nodes"].values())

    timer = first(trace, ev="timer", name="pbft", op="set")
    at = reference_state(trace, timer["id"] + 1)
    assert at["nodes"][timer["node"]]["timer"] == timer["due"] and at["cursor"] == timer["id"]

    for blk in (1, 2):
        pp = first(trace, ev="send", type="PrePrepare", blk=blk)
        state = reference_state(trace, pp["id"] + 1)
        assert state["blk"] == blk and state["t"] == pp["t"]
        assert state["leader"] == sealers[blk % 4] == pp["src"]  # (blk / 1 + 0) % 4

    ledger = first(trace, ev="ledger", blk=1)
    assert reference_state(trace, ledger["id"] + 1)["blk"] == 1  # a step of block 1
    committed = first(trace, ev="state", committed=1)  # the state record after that ledger
    after = reference_state(trace, committed["id"] + 1)
    assert after["nodes"][committed["node"]]["committed"] == 1
    assert after["blk"] == 2  # a state record is no block's step: the next block to commit

    end = reference_state(trace, len(trace.records) + 10)  # clamped to the end
    assert end["k"] == len(trace.records) and end["cursor"] == trace.records[-1]["id"]
    assert all(n["committed"] == 2 and n["executed"] == 2 and n["view"] == 0
               for n in end["nodes"].values())
    assert end["blk"] == 3 and end["leader"] == sealers[3]  # the next block's leader


def test_reference_state_after_a_view_change(tmp_path):
    trace = read_trace(viewchange_trace(tmp_path))
    sealers = trace.groups()[0]["sealers"]
    new_view = first(trace, ev="send", type="NewView")
    pp = first(trace, ev="send", type="PrePrepare", blk=3)
    assert pp["view"] == new_view["view"] == 1
    state = reference_state(trace, pp["id"] + 1)
    assert state["view"] == 1 and state["blk"] == 3
    assert state["leader"] == sealers[(3 + 1) % 4] == pp["src"]
    end = reference_state(trace, len(trace.records))
    crashed = first(trace, ev="node", op="crash")["node"]
    assert not end["nodes"][crashed]["up"]
    assert all(n["view"] == 1 for name, n in end["nodes"].items() if name != crashed)


def test_a_long_trace_is_cut_and_says_so(normal4, tmp_path):
    trace = read_trace(normal4)
    assert cut(trace, len(trace.records)) is trace
    notes = [{"after": 10, "text": "kept", "pause": False},
             {"after": 200, "text": "after the cut", "pause": False}]
    page = to_html(normal4, notes, max_events=100)
    lines = embedded(page, "trace").splitlines()
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) == 100 and records[:99] == trace.records[:99]
    assert records[-1] == {"ev": "end", "id": 99, "t": trace.records[98]["t"], "events": 100,
                           "truncated": True}
    assert [n["text"] for n in json.loads(embedded(page, "notes"))] == ["kept"]
    assert to_html(trace, notes, max_events=100) == page


def test_result_trace_draws_itself(tmp_path):
    result = load_simulation("teach/normal4").run(trace=True)
    page = result.trace.to_html(tmp_path / "n4.html")
    assert page == (tmp_path / "n4.html").read_text(encoding="utf-8") == to_html(result.trace)
    assert result.trace._repr_html_().startswith("<iframe srcdoc=")
    from_file = load_simulation("teach/normal4").run(trace=tmp_path / "n4.trace.jsonl")
    assert from_file.trace.to_html() == page


def test_run_html_writes_the_viewer_with_the_lesson(tmp_path):
    from click.testing import CliRunner

    from fiscosim.cli import main

    runner = CliRunner()
    out = tmp_path / "n4.html"
    result = runner.invoke(main, ["run", "teach/normal4", "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "lesson: " in result.output
    page = out.read_text(encoding="utf-8")
    assert "a leader does not verify its own proposal" in page  # lesson 1's second note
    again = tmp_path / "again.html"
    assert runner.invoke(main, ["run", "teach/normal4", "--quiet", "--html", str(again),
                                "--trace", str(tmp_path / "t.jsonl")]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()
    # a plain scenario has no lesson; a folder is refused in one line, nothing written
    assert runner.invoke(main, ["run", "quickstart", "--quiet", "--set", "duration_s=3",
                                "--html", str(tmp_path / "q.html")]).exit_code == 0
    refused = runner.invoke(main, ["run", "teach/normal4", "--html", str(tmp_path)])
    assert refused.exit_code == 2 and "--html" in refused.output
    assert "Traceback" not in refused.output
    clash = runner.invoke(main, ["run", "teach/normal4", "--html", str(tmp_path / "x"),
                                 "--trace", str(tmp_path / "x")])
    assert clash.exit_code == 2 and not (tmp_path / "x").exists()
