"""Golden outputs: six ready scenarios give the same summary, blocks and trace as recorded.

A refactor must not change what a run computes. For each scenario in :data:`SCENARIOS`,
``tests/golden/<name>/`` holds the ``summary.json`` (wall-clock fields removed) and
``blocks.csv`` that ``fiscosim run`` wrote, and ``trace.json``: the SHA-256, line count and
per-event counts of the ``--trace`` file (the traces themselves run to 90 MB, so only their
digest is kept; the counts say which kind of event moved when the digest differs).

The files carry a ``model_epoch``, and ``epochs.json`` holds, per model epoch, the SHA-256 of
every golden file: results that change without a new epoch fail the tests, and ``--record``
refuses to write them (a sweep's run ids are keyed by the epoch, so a silent change would mix
old and new results in one table, docs/sweeps.md). A change that is meant to change results (a
new cost, a fixed protocol rule) bumps :data:`fiscosim.MODEL_EPOCH` and re-records, saying why
in the commit::

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
            counts[json.loads(line)["ev"]] += 1
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


GOLDEN_FILES = ("summary.json", "blocks.csv", "trace.json")
RESULT_FILES = ("summary.json", "blocks.csv")
"""The goldens that are simulated results: what the model epoch vouches for. The trace's
digest is a golden too, but its format has a version of its own (fiscosim-trace/1): a new
way of writing the same run changes it and not the results."""
EPOCHS = GOLDEN / "epochs.json"


def golden_digest(folder: Path = GOLDEN, names: list[str] = SCENARIOS) -> str:
    """SHA-256 over every result golden (name and content), in a fixed order."""
    sha = hashlib.sha256()
    for name in names:
        for file in RESULT_FILES:
            sha.update(f"{name}/{file}\n".encode())
            sha.update((folder / name / file).read_bytes())
    return sha.hexdigest()


def epoch_problem(digest: str, epoch: int, ledger: dict[str, str]) -> str | None:
    """Why goldens with ``digest`` may not stand at ``epoch`` (None: they may)."""
    recorded = ledger.get(str(epoch))
    if recorded is None:
        return (f"tests/golden/epochs.json has no entry for model_epoch {epoch}: record the "
                "goldens (`python tests/test_golden.py --record`)")
    if recorded != digest:
        return (f"the golden summaries differ from those recorded at model_epoch {epoch}: a "
                "change to results needs a new fiscosim.MODEL_EPOCH (bump it, then "
                "re-record with `python tests/test_golden.py --record`)")
    return None


def record(names: list[str]) -> None:
    produced = {name: produce(name) for name in names}
    ledger = json.loads(EPOCHS.read_text()) if EPOCHS.is_file() else {}
    with tempfile.TemporaryDirectory() as staging:
        # What the golden folder would hold: the epoch's digest is checked before writing.
        for name in SCENARIOS:
            (Path(staging) / name).mkdir()
            for file in GOLDEN_FILES:
                text = (produced[name][file] if name in produced
                        else (GOLDEN / name / file).read_text())
                (Path(staging) / name / file).write_text(text)
        digest = golden_digest(Path(staging))
    epoch = fiscosim.MODEL_EPOCH
    if str(epoch) in ledger and ledger[str(epoch)] != digest:
        sys.exit(f"refused: {epoch_problem(digest, epoch, ledger)}")
    for name, files in produced.items():
        folder = GOLDEN / name
        folder.mkdir(parents=True, exist_ok=True)
        for file, text in files.items():
            (folder / file).write_text(text)
        print(f"recorded {folder}", file=sys.stderr)
    (GOLDEN / "model_epoch").write_text(f"{epoch}\n")
    EPOCHS.write_text(json.dumps({**ledger, str(epoch): digest}, indent=2, sort_keys=True)
                      + "\n")


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


def test_goldens_changed_only_with_a_new_model_epoch():
    problem = epoch_problem(golden_digest(), fiscosim.MODEL_EPOCH,
                            json.loads(EPOCHS.read_text()))
    assert problem is None, problem


def test_a_golden_changed_without_a_new_epoch_is_caught(tmp_path):
    import shutil

    shutil.copytree(GOLDEN, tmp_path / "golden")
    ledger = {str(fiscosim.MODEL_EPOCH): golden_digest(tmp_path / "golden")}
    assert epoch_problem(golden_digest(tmp_path / "golden"), fiscosim.MODEL_EPOCH,
                         ledger) is None
    summary = tmp_path / "golden" / "quickstart" / "summary.json"
    summary.write_text(summary.read_text().replace('"tps": ', '"tps": 1', 1))
    problem = epoch_problem(golden_digest(tmp_path / "golden"), fiscosim.MODEL_EPOCH, ledger)
    assert problem is not None and "MODEL_EPOCH" in problem
    assert "no entry" in epoch_problem(golden_digest(), fiscosim.MODEL_EPOCH + 1, ledger)


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
