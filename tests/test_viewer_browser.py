"""The HTML viewer in a real browser: Playwright for Python driving Debian's chromium
(docs/viewer.md). The page must stay offline, draw the right arrows and the right leader, step
and seek exactly as the Python reference says, keep its settings in the URL hash, stop at a
lesson's questions, name a bad line instead of going blank, render markup as text, export its
view; and screenshots of every lesson at 1280x720 are saved for people to look at.

``playwright install`` cannot download a browser here: .ci/run installs Debian's chromium
(/usr/bin/chromium). Without it, or without the playwright package, these tests skip, saying
why; under ``CI=true`` they fail instead, so a green CI cannot hide a missing browser.
Screenshots go to ``$FISCOSIM_SCREENSHOTS`` (default ``test-artifacts/screenshots/``).
"""

from __future__ import annotations

import base64
import copy
import os
import random
import struct
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_viewer import CSP, LESSON, record_trace, viewchange_trace

from fiscosim import load_simulation
from fiscosim.trace.events import Trace, read_trace
from fiscosim.trace.lesson import load_lesson
from fiscosim.trace.viewer import reference_state, write_html

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("FISCOSIM_SCREENSHOTS")
                   or ROOT / "test-artifacts" / "screenshots")


def _unavailable(reason: str) -> None:
    """Skips, or fails under CI=true: CI must have the browser (.ci/run installs it)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI=true the browser tests must run (.ci/run installs "
                    "Debian's chromium with apt-get)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Any]:
    """One Chromium for the module: a persistent context on a fresh, empty profile folder."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=ARGS, viewport={"width": 1280, "height": 720},
            accept_downloads=True)
        try:
            yield context
        finally:
            context.close()


@dataclass
class Viewer:
    """A page and what it did: the requests it tried (aborted) and its console errors."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def state(self) -> dict[str, Any]:
        return self.js("fiscosim.state()")

    def seek(self, k: int) -> None:
        self.js("k => fiscosim.seek(k)", k)

    def offline(self) -> None:
        assert self.requests == [], f"the page tried the network: {self.requests}"
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == []


def guarded(context: Any) -> Viewer:
    """A new page whose every request but file: and data: is aborted and counted."""
    viewer = Viewer(context.new_page())

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            viewer.requests.append(url)
            route.abort()

    viewer.page.route("**/*", route)
    viewer.page.on("console", lambda m: m.type == "error" and viewer.errors.append(m.text))
    viewer.page.on("pageerror", lambda e: viewer.errors.append(str(e)))
    viewer.page.on("dialog", lambda d: (viewer.dialogs.append(d.message), d.dismiss()))
    return viewer


def open_viewer(context: Any, page_path: Path, hash_: str = "") -> Viewer:
    viewer = guarded(context)
    viewer.page.goto(page_path.as_uri() + hash_)
    viewer.page.wait_for_function("() => window.fiscosim && window.fiscosim.ready", timeout=20000)
    return viewer


@dataclass
class Run:
    trace: Trace
    html: Path
    notes: list[dict[str, Any]]

    @property
    def sealers(self) -> list[str]:
        return self.trace.groups()[0]["sealers"]

    def first(self, **fields: object) -> dict[str, Any]:
        return next(r for r in self.trace.records
                    if all(r.get(k) == v for k, v in fields.items()))


def make_run(path: Path, notes: bool = False) -> Run:
    trace = read_trace(path)
    placed = load_lesson(LESSON).place(trace) if notes else []
    html = path.with_suffix(".html")
    write_html(trace, html, placed)
    return Run(trace, html, placed)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("viewer-runs")
    return {
        "normal4": make_run(record_trace(folder, "normal4"), notes=True),
        "normal7": make_run(record_trace(folder, "normal7", overrides={"nodes.count": 7})),
        "viewchange": make_run(viewchange_trace(folder)),
    }


def test_the_request_guard_counts_a_request(browser):
    """The guard below is no dummy: a page that asks for the network is seen and stopped."""
    viewer = guarded(browser)
    viewer.page.set_content('<img src="http://127.0.0.1:9/x.png">')
    viewer.page.wait_for_timeout(200)
    assert viewer.requests == ["http://127.0.0.1:9/x.png"]


def test_offline_and_quiet_while_used(browser, runs):
    run = runs["normal4"]
    viewer = open_viewer(browser, run.html)
    page = viewer.page
    assert page.locator('meta[http-equiv="Content-Security-Policy"]').get_attribute(
        "content") == CSP
    assert viewer.js("fiscosim.error") is None
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    page.keyboard.press(" ")
    for key in ("ArrowRight", "Shift+ArrowRight", "]", "ArrowLeft", "Shift+ArrowLeft", "v",
                "0", "?", "Escape", "End"):
        page.keyboard.press(key)
    page.locator("#msc .ar").first.dispatch_event("click")
    assert page.locator("#p-message table.kv").count() >= 1
    page.locator("#msc .q").first.dispatch_event("click")
    assert page.locator("#msc.lit .ar.lt").count() >= 2  # the votes that quorum counted
    page.locator("#t-nodes").click()
    page.locator("#t-narration").click()
    page.locator("#search").fill("ledger")
    page.locator("#search").press("Enter")
    # export: the SVG as XML with the page's arrows, the PNG from a canvas (not tainted)
    svg = ET.fromstring(viewer.js("fiscosim.exportSVG()").split("\n", 1)[1])
    arrows = [e for e in svg.iter() if e.get("data-type")]
    assert len(arrows) == viewer.js("fiscosim.counts().arrows") > 0
    png = base64.b64decode(viewer.js("fiscosim.exportPNG(1)").split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as download:
        page.locator("#b-svg").click()
    assert Path(download.value.path()).read_text().lstrip().startswith("<?xml")
    with page.expect_download() as download:
        page.locator("#b-png").click()
    assert Path(download.value.path()).read_bytes()[:4] == b"\x89PNG"
    viewer.offline()


@pytest.mark.parametrize("name, n, total", [("normal4", 4, 39), ("normal7", 7, 132)])
def test_block_1_has_its_arrows(browser, runs, name, n, total):
    run = runs[name]
    viewer = open_viewer(browser, run.html)
    page = viewer.page
    by_type = {kind: page.locator(f'#msc .ar[data-blk="1"][data-type="{kind}"]').count()
               for kind in ("PrePrepare", "Prepare", "Commit", "CheckPoint")}
    assert by_type == {"PrePrepare": n - 1, "Prepare": n * (n - 1), "Commit": n * (n - 1),
                       "CheckPoint": n * (n - 1)}
    assert page.locator('#msc [data-type][data-blk="1"]').count() == total == (n - 1) * (3 * n + 1)
    assert viewer.js("fiscosim.counts().byBlk['1']") == total
    assert page.locator('#msc .ledger[data-blk="1"]').count() == n  # a ledger tick per sealer
    labels = page.locator("#msc text.lbl").all_text_contents()
    assert labels == [f"idx{i} · {name} · w=1" for i, name in enumerate(run.sealers)]
    viewer.offline()


def crown(viewer: Viewer) -> str:
    """The crowned node, checked to sit on that node's row."""
    page = viewer.page
    assert page.locator("text.crown").count() == 1
    mark = page.locator("text.crown")
    node = mark.get_attribute("data-node")
    label = page.locator(f'#msc text.lbl[data-node="{node}"]')
    assert abs(float(mark.get_attribute("y")) - float(label.get_attribute("y"))) < 6
    return node


def test_the_crown_is_on_the_leader(browser, runs):
    run = runs["normal4"]
    viewer = open_viewer(browser, run.html)
    for blk in (1, 2):  # view 0: block k is led by idx (k / 1 + 0) % 4
        viewer.seek(run.first(ev="send", type="PrePrepare", blk=blk)["id"] + 1)
        assert crown(viewer) == run.sealers[blk % 4] == viewer.state()["leader"]
    viewer.offline()

    run = runs["viewchange"]
    viewer = open_viewer(browser, run.html)
    period = run.trace.groups()[0]["leader_period"]
    new_view = run.first(ev="send", type="NewView")["view"]
    pp = run.first(ev="send", type="PrePrepare", blk=3)
    assert new_view == pp["view"] == 1
    viewer.seek(pp["id"] + 1)
    assert crown(viewer) == run.sealers[(3 // period + new_view) % 4] == pp["src"]
    viewer.js("fiscosim.seek(1e9)")
    crashed = run.first(ev="node", op="crash")["node"]
    viewer.page.locator("#t-nodes").click()
    for name in run.sealers:  # every live node shows view 1 in the node table
        cells = viewer.page.locator(f'#p-nodes tr[data-node="{name}"] td').all_text_contents()
        assert cells[1] == ("0" if name == crashed else "1")
        assert cells[-1] == ("down" if name == crashed else "up")
    viewer.offline()


def test_steps_equal_seek_equal_the_python_reference(browser, runs):
    run = runs["normal7"]  # more than 512 records: the snapshots are used
    records = len(run.trace.records)
    assert records > 520
    viewer = open_viewer(browser, run.html)
    page = viewer.page
    targets = [*sorted(random.Random(20).sample(range(1, records), 5)), records]
    pressed = 0
    for k in targets:
        for _ in range(k - pressed):
            page.keyboard.press("ArrowRight")
        pressed = k
        stepped = viewer.state()
        assert stepped == reference_state(run.trace, k)
        viewer.seek(k)
        assert viewer.state() == stepped
    for _ in range(records - 480):  # back across the snapshot at 512
        page.keyboard.press("ArrowLeft")
    assert viewer.state() == reference_state(run.trace, 480)
    viewer.seek(records)
    viewer.seek(480)
    assert viewer.state() == reference_state(run.trace, 480)
    viewer.offline()


def test_filters_hidden_nodes_and_cursor_survive_a_reload(browser, runs):
    run = runs["normal4"]
    viewer = open_viewer(browser, run.html)
    page = viewer.page
    assert page.locator('#msc .ar[data-type="Commit"]').count() == 24
    page.locator('#filters input[data-type="Commit"]').uncheck()
    assert page.locator('#msc .ar[data-type="Commit"]').count() == 0
    assert page.locator('#msc .ar[data-type="Prepare"]').count() == 24
    hide = run.sealers[0]
    page.locator(f'#msc text.lbl[data-node="{hide}"]').click()
    page.keyboard.press("h")
    assert page.locator(f'#msc text.lbl[data-node="{hide}"]').count() == 0
    assert page.locator(f'#msc .ar[data-dst="{hide}"]').count() == 0
    viewer.seek(100)
    page.wait_for_function("() => location.hash.indexOf('e=99') >= 0")
    hash_ = page.evaluate("location.hash")
    assert "types=PP,P,CP" in hash_ and f"hide={hide}" in hash_
    page.reload()
    page.wait_for_function("() => window.fiscosim && window.fiscosim.ready")
    assert viewer.state()["k"] == 100
    assert not page.locator('#filters input[data-type="Commit"]').is_checked()
    assert page.locator('#msc .ar[data-type="Commit"]').count() == 0
    assert page.locator(f'#msc text.lbl[data-node="{hide}"]').count() == 0
    assert page.locator(f'#chips button[data-node="{hide}"]').count() == 1
    viewer.offline()


def test_a_block_link_opens_at_its_preprepare(browser, runs):
    run = runs["viewchange"]
    viewer = open_viewer(browser, run.html, "#blk=3")
    state = viewer.state()
    assert state["cursor"] == run.first(ev="send", type="PrePrepare", blk=3)["id"]
    assert state["blk"] == 3
    viewer.offline()


def test_play_stops_at_a_lesson_question_and_reveal_shows_the_answer(browser, runs):
    run = runs["normal4"]
    pauses = [n for n in run.notes if n["pause"]]
    assert len(pauses) >= 2
    viewer = open_viewer(browser, run.html)
    page = viewer.page
    for _ in range(8):
        page.keyboard.press("+")
    for note in pauses[:2]:
        page.keyboard.press(" ")
        page.wait_for_function("() => !fiscosim.playing()", timeout=10000)
        assert viewer.state()["cursor"] == note["after"]
        assert page.locator("#question").inner_text() == "Question: " + note["question"]
        assert page.locator("#answer").count() == 0
        page.locator("#reveal").click()
        assert page.locator("#answer").inner_text() == note["answer"]
    viewer.offline()


def lines_of(run: Run) -> list[str]:
    return run.html.with_suffix("").with_suffix(".trace.jsonl").read_text().splitlines()


@pytest.mark.parametrize("case", ["middle", "truncated", "header"])
def test_a_bad_trace_names_its_line(browser, runs, tmp_path, case):
    lines = lines_of(runs["normal4"])
    if case == "middle":
        lines[5] = lines[5][:20]  # line 6
        expect = "line 6: not JSON"
    elif case == "truncated":
        lines = lines[:150]
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
        expect = "line 150: not JSON"
    else:
        lines[0] = lines[0].replace('"fiscosim-trace/1"', '"other/2"')
        expect = "line 1: the first record is not a fiscosim-trace/1 run header"
    bad = tmp_path / f"{case}.trace.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    page_path = tmp_path / f"{case}.html"
    write_html(bad, page_path)
    viewer = open_viewer(browser, page_path)
    page = viewer.page
    assert expect in viewer.js("fiscosim.error")
    alert = page.locator("[role=alert]:visible")
    assert alert.count() == 1 and expect in alert.inner_text()
    if case == "header":  # nothing to show: the box alone
        assert page.locator("#error").is_visible() and not page.locator("#app").is_visible()
    else:  # the records before the bad line are still shown
        assert page.locator("#msc text.lbl").count() == 4
    viewer.offline()


def test_a_cut_trace_says_so(browser, runs, tmp_path):
    page_path = tmp_path / "cut.html"
    write_html(runs["normal4"].trace, page_path, max_events=120)
    viewer = open_viewer(browser, page_path)
    assert viewer.js("fiscosim.error") is None
    assert "shows only part of the run" in viewer.page.locator("#banners").inner_text()
    assert viewer.js("fiscosim.counts().events") == 120
    viewer.offline()


def test_markup_in_labels_and_notes_renders_as_text(browser, runs, tmp_path):
    run = runs["normal4"]
    header = copy.deepcopy(run.trace.header)
    node = next(n for n in header["nodes"] if n["id"] == run.sealers[0])
    node["label"] = "</script><b>x"
    notes = [{"after": 3, "text": '<img src=x onerror="alert(1)"><i>note</i>', "pause": True,
              "question": "<b>q</b>", "answer": "<script>alert(2)</script>"}]
    page_path = tmp_path / "hostile.html"
    write_html(Trace(header, run.trace.records), page_path, notes)
    viewer = open_viewer(browser, page_path)
    page = viewer.page
    label = page.locator(f'#msc text.lbl[data-node="{run.sealers[0]}"]')
    assert label.text_content() == "idx0 · </script><b>x · w=1"
    assert page.locator("#msc b, #msc i, #lesson img, #lesson i, #lesson script").count() == 0
    viewer.seek(4)
    assert page.locator("#lesson .note").inner_text() == notes[0]["text"]
    page.locator("#reveal").click()
    assert page.locator("#answer").inner_text() == notes[0]["answer"]
    page.locator("#t-nodes").click()
    assert "</script><b>x" in page.locator("#p-nodes").inner_text()
    viewer.offline()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_screenshots_of_every_lesson(browser, tmp_path):
    lessons = sorted((ROOT / "scenarios" / "teach").glob("*.lesson.yaml"))
    assert lessons, "no lesson scripts in scenarios/teach/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for path in lessons:
        name = path.name.removesuffix(".lesson.yaml")
        lesson = load_lesson(path)
        trace_path = tmp_path / f"{name}.trace.jsonl"
        load_simulation(path.parent / lesson.scenario).run(trace=trace_path)
        trace = read_trace(trace_path)
        notes = lesson.place(trace)
        page_path = tmp_path / f"{name}.html"
        write_html(trace, page_path, notes)
        viewer = open_viewer(browser, page_path)
        pause = next((n for n in notes if n.get("pause")), notes[0] if notes else None)
        shots = {"start": 0, "end": len(trace.records)}
        if pause is not None:
            shots["pause"] = pause["after"] + 1
        for what, k in shots.items():
            viewer.seek(k)
            if what == "pause" and viewer.page.locator("#reveal").count():
                viewer.page.locator("#reveal").click()
            shot = SCREENSHOTS / f"{name}-{what}.png"
            viewer.page.screenshot(path=str(shot))
            assert png_size(shot) == (1280, 720)
        viewer.offline()
