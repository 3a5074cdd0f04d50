"""How fast the HTML viewer is on a 50,000-event trace, measured in headless Chromium
(docs/viewer.md "Speed"; not run by CI).

The trace is a real run, long enough: ``teach/normal4`` (four sealers, 20 ms links, five
transactions a block) with enough transactions for at least ``--events`` records. The script
writes its page, opens it in Debian's chromium (Playwright for Python) at 1280x720 and reads,
with ``performance.now()`` in the page (from the navigation's start):

- first paint: the first render done (``fiscosim.readyAt``) and the frame after it painted
  (``fiscosim.paintedAt``); and the browser's own first-contentful-paint entry;
- seeks: ``--seeks`` random ``seek(k)`` calls (seeded), each timed alone (script: the replay
  from the snapshot and the DOM update) and to the next painted frame; median and max;
- the arrows and elements in the DOM after every seek and after "fit" (key 0), at most 4,000;
- play: frames drawn per second while playing at 1,000 events per second, on the window it
  opens with, zoomed to about 2,000 arrows, and fitted to the whole run (4,000 arrows).

    python benchmarks/viewer_speed.py            # a table; --json for one JSON line
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fiscosim import load_simulation
from fiscosim.trace.events import read_trace
from fiscosim.trace.viewer import write_html

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVENTS_PER_TX = 26.5  # teach/normal4 at five transactions a block (measured)


def record(folder: Path, events: int) -> Path:
    """A real teach/normal4 run with at least ``events`` records."""
    txs = math.ceil(events / EVENTS_PER_TX)
    while True:
        path = folder / "big.trace.jsonl"
        overrides = {"workload.total_txs": txs, "duration_s": txs // 5 * 0.2 + 5}
        load_simulation("teach/normal4", overrides=overrides).run(trace=path)
        with open(path, encoding="utf-8") as handle:
            count = sum(1 for _ in handle) - 1  # the run header is no event
        if count >= events:
            return path
        txs = math.ceil(txs * events / count) + 5


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def play_rate(page: Any) -> tuple[float, int]:
    """Frames drawn per second while playing for 3 s, and the most arrows in the DOM then."""
    before = page.evaluate("fiscosim.renders")
    page.keyboard.press(" ")
    started = time.perf_counter()
    most = 0
    for _ in range(10):
        page.wait_for_timeout(300)
        most = max(most, page.evaluate("fiscosim.counts().arrows"))
    page.keyboard.press(" ")
    return (page.evaluate("fiscosim.renders") - before) / (time.perf_counter() - started), most


def measure(page_path: Path, events: int, seeks: int, seed: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 720})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_function("() => window.fiscosim && window.fiscosim.paintedAt",
                               timeout=60000)
        if page.evaluate("fiscosim.error"):
            raise SystemExit(f"the page says: {page.evaluate('fiscosim.error')}")
        ready = page.evaluate("fiscosim.readyAt")
        painted = page.evaluate("fiscosim.paintedAt")
        fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] "
                            "|| {}).startTime || null")
        rng = random.Random(seed)
        script_ms, frame_ms, arrows, elements = [], [], [], []
        for _ in range(seeks):
            k = rng.randint(0, events)
            script_ms.append(page.evaluate(
                "k => { const t0 = performance.now(); fiscosim.seek(k); "
                "return performance.now() - t0; }", k))
            frame_ms.append(page.evaluate(
                "k => new Promise(done => { const t0 = performance.now(); fiscosim.seek(k); "
                "requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0));"
                " })", rng.randint(0, events)))
            counts = page.evaluate("fiscosim.counts()")
            arrows.append(counts["arrows"])
            elements.append(counts["elements"])
        page.evaluate("fiscosim.seek(0)")
        for _ in range(9):
            page.keyboard.press("+")  # 1,000 events per second
        fps, played = play_rate(page)
        page.keyboard.press("0")  # fit the whole run: the cap must hold
        fit = page.evaluate("fiscosim.counts()")
        arrows.append(fit["arrows"])
        elements.append(fit["elements"])
        fit_fps, _ = play_rate(page)
        box = page.locator("#msc").bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for _ in range(40):  # zoom in until at most 2,000 arrows are drawn (the play budget's)
            if page.evaluate("fiscosim.counts().arrows") <= 2000:
                break
            page.mouse.wheel(0, -100)
            page.wait_for_timeout(50)
        page.evaluate("fiscosim.seek(0)")
        mid_fps, mid_arrows = play_rate(page)
        context.close()
    return {
        "ready_ms": round(ready), "painted_ms": round(painted),
        "first_contentful_paint_ms": round(fcp) if fcp else None,
        "seek_script_ms": {"median": round(statistics.median(script_ms), 1),
                           "max": round(max(script_ms), 1)},
        "seek_to_frame_ms": {"median": round(statistics.median(frame_ms), 1),
                             "max": round(max(frame_ms), 1)},
        "seeks": seeks,
        "max_arrows_in_dom": max([*arrows, played, mid_arrows]),
        "max_arrows_after_seeks": max(arrows[:-1]), "arrows_after_fit": fit["arrows"],
        "max_dom_elements": max(elements),
        "play_frames_per_s": round(fps, 1), "play_arrows_in_dom": played,
        "play_frames_per_s_2000": round(mid_fps, 1), "play_2000_arrows_in_dom": mid_arrows,
        "play_frames_per_s_fitted": round(fit_fps, 1),
        "console_errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seeks", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON line")
    parser.add_argument("--keep", type=Path, help="keep the trace and the page in this folder")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        trace_path = record(folder, args.events)
        trace = read_trace(trace_path)
        started = time.perf_counter()
        page_path = write_html(trace, folder / "big.html")
        build_s = time.perf_counter() - started
        result = {
            "events": len(trace.records), "trace_mb": round(trace_path.stat().st_size / 1e6, 1),
            "html_mb": round(page_path.stat().st_size / 1e6, 1),
            "to_html_s": round(build_s, 2),
            **measure(page_path, len(trace.records), args.seeks, args.seed),
            "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(),
                        "chromium": os.popen(f"{CHROMIUM} --version 2>/dev/null").read().strip()},
        }
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
