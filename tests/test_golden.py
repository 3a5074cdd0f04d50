"""Golden outputs: six ready scenarios give the same summary, blocks and trace as recorded.

A refactor must not change what a run computes. For each scenario in :data:`SCENARIOS`,
``tests/golden/<name>/`` holds the ``summary.json`` (wall-clock fields removed) and
``blocks.csv`` that ``fiscosim run`` wrote, and ``trace.json``: the SHA-256, line count and
per-event counts of the ``--trace`` file (the traces themselves run to 90 MB, so only their
digest is kept; the counts say which kind of event moved when the digest differs).

The files carry a ``model_epoch``. A change that is meant to change results (a new cost, a fixed
protocol rule) bumps :data:`fiscosim.MODEL_EPOCH` and re-records, saying why in the commit::

    python tests/test_golden.py --record            # every scenario
    python tests/test_golden.py --record quickstart # one

pbft-4-50k (about 35 s and 90 MB of trace) runs with ``FISCOSIM_SLOW=1 pytest -m slow``.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

import fiscosim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SCENARIOS = ["quickstart", "leader-crash", "partition-heal", "two-groups-shared-nodes",
             "light-clients", "pbft-4-50k"]
SLOW_SCENARIOS = {"pbft-4-50k"}
WALL_CLOCK_KEYS = {"wall_time_s", "sim_speed"}


def _without_wall_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK_KEYS}
    if isinstance(value, list):
        return [_without_wall_clock(v) for v in value]
    return value


def _trace_digest(path: Path) -> dict[str, Any]:
    sha = hashlib.sha256()
    counts: collections.Counter[str] = collections.Counter()
    lines = 0
    with path.open("rb") as stream:
        for line in stream:
            sha.update(line)
            lines += 1
            counts[json.loads(line)["event"]] += 1
    return {"sha256": sha.hexdigest(), "lines": lines, "events": dict(sorted(counts.items()))}


def produce(name: str) -> dict[str, Any]:
    """Runs ``fiscosim run`` on the scenario and returns the three golden artefacts."""
    with tempfile.TemporaryDirectory() as folder:
        out, trace = Path(folder) / "out", Path(folder) / "trace.jsonl"
        subprocess.run(
            [sys.executable, "-m", "fiscosim", "run", str(ROOT / "scenarios" / f"{name}.yaml"),
             "--quiet", "--no-memory-check", "--out", str(out), "--trace", str(trace)],
            check=True, cwd=ROOT)
        summary = _without_wall_clock(json.loads((out / "summary.json").read_text()))
        return {
            "summary.json": json.dumps(summary, indent=2) + "\n",
            "blocks.csv": (out / "blocks.csv").read_text(),
            "trace.json": json.dumps({"model_epoch": fiscosim.MODEL_EPOCH,
                                      **_trace_digest(trace)}, indent=2) + "\n",
        }


def record(names: list[str]) -> None:
    for name in names:
        folder = GOLDEN / name
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in produce(name).items():
            (folder / file).write_text(text)
        print(f"recorded {folder}", file=sys.stderr)
    (GOLDEN / "model_epoch").write_text(f"{fiscosim.MODEL_EPOCH}\n")


def _params() -> list[Any]:
    slow = pytest.mark.skipif(not os.environ.get("FISCOSIM_SLOW"),
                              reason="slow: set FISCOSIM_SLOW=1 (.ci/run does)")
    return [pytest.param(name, marks=[pytest.mark.slow, slow]) if name in SLOW_SCENARIOS
            else name for name in SCENARIOS]


def test_goldens_belong_to_this_model_epoch():
    recorded_epoch = int((GOLDEN / "model_epoch").read_text())
    assert recorded_epoch == fiscosim.MODEL_EPOCH, (
        f"tests/golden was recorded at model_epoch {recorded_epoch}, the code is at "
        f"{fiscosim.MODEL_EPOCH}: re-record with `python tests/test_golden.py --record`")
    for name in SCENARIOS:
        trace = json.loads((GOLDEN / name / "trace.json").read_text())
        assert trace["model_epoch"] == fiscosim.MODEL_EPOCH, name


@pytest.mark.parametrize("name", _params())
def test_run_matches_golden(name):
    now = produce(name)
    for file, text in now.items():
        then = (GOLDEN / name / file).read_text()
        if file == "trace.json" and text != then:
            old, new = json.loads(then), json.loads(text)
            moved = {kind: (old["events"].get(kind), new["events"].get(kind))
                     for kind in set(old["events"]) | set(new["events"])
                     if old["events"].get(kind) != new["events"].get(kind)}
            pytest.fail(f"{name}: the trace differs from tests/golden/{name}/trace.json "
                        f"(lines {old['lines']} -> {new['lines']}; event counts that moved "
                        f"(old, new): {moved or 'none, the order or contents changed'})")
        assert text == then, (
            f"{name}: {file} differs from tests/golden/{name}/{file}. If the change is meant to "
            "change results, bump fiscosim.MODEL_EPOCH and re-record "
            "(`python tests/test_golden.py --record`), saying why in the commit message.")


def test_wall_clock_fields_are_the_only_ones_dropped():
    summary = {"tps": 1, "wall_time_s": 2, "groups": [{"sim_speed": 3, "tps": 4}]}
    assert _without_wall_clock(summary) == {"tps": 1, "groups": [{"tps": 4}]}


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"]:
        sys.exit("usage: python tests/test_golden.py --record [scenario ...]")
    record(sys.argv[2:] or SCENARIOS)
