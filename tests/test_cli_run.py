"""``fiscosim run``: the default scenario, result files, overrides, traces and bad input.

Bad input must be one line naming the file and the field, exit code 2, no traceback and no
result files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

from fiscosim.cli import main

SHORT = ["--set", "duration_s=2", "--set", "warmup_s=0.5", "--set", "drain_s=1"]


def run(*args: str, cwd: Path | None = None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_run_with_no_arguments_runs_the_quickstart(tmp_path):
    # From any folder: the default scenario is found beside the package in a clone.
    result = run("run", "--quiet", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["scenario"] == "quickstart" and summary["sealers"] == 4
    assert summary["sim_time_s"] >= 10 and summary["safety"]["ok"]


def test_report_and_result_files(tmp_path):
    out = tmp_path / "results" / "pbft"
    result = run("run", str(REPO_ROOT / "scenarios" / "quickstart.yaml"), "--seed", "7", "--out",
                 str(out), *SHORT, "--set", "workload.rate_tps=800")
    assert result.exit_code == 0, result.output
    for word in ("Succ", "Fail", "Send Rate", "Throughput", "safety"):
        assert word in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 7 and summary["send_rate_tps"] > 600
    assert (out / "blocks.csv").read_text().startswith("number,view,leader,leader_node,txs")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["workload"]["rate_tps"] == 800


def test_trace_option_writes_json_lines(tmp_path):
    trace = tmp_path / "trace.jsonl"
    result = run("run", "--quiet", "--trace", str(trace), *SHORT)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["ev"] == "run" and lines[0]["schema"] == "fiscosim-trace/1"
    assert [r["id"] for r in lines[1:]] == list(range(len(lines) - 1))
    assert lines[-1]["ev"] == "end"


BAD_RUNS = [
    (["no/such/file.yaml"], "file.yaml"),
    (["--set", "workload.rate_tps=-5"], "workload.rate_tps"),
    (["--set", "wrkload.rate_tps=5"], "wrkload"),
    (["--set", "nodes.count=0"], "nodes.count"),
    (["--set", "chain.crypto_suite=rsa"], "chain.crypto_suite"),
    (["--set", "rate_tps"], "rate_tps"),
]


@pytest.mark.parametrize(("args", "names"), BAD_RUNS)
def test_bad_input_is_one_line_exit_2_and_no_files(tmp_path, args, names):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "fiscosim", "run", *args, "--out", str(out)]
    if args[0].endswith(".yaml"):
        command[4] = str(tmp_path / args[0])
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert names in lines[0]
    assert not out.exists()


def test_a_broken_scenario_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnodes: {count: 4}\nworkload: {rate_tps: 10, clinets: 2}\n")
    result = subprocess.run([sys.executable, "-m", "fiscosim", "run", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "workload.clinets" in result.stderr
    assert "clients" in result.stderr  # the suggestion


def test_corpus_command_signs_once_and_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path))
    result = run("corpus", "--count", "300", "--accounts", "20")
    assert result.exit_code == 0, result.output
    assert "300 secp256k1 transactions by 20 accounts" in result.output
    files = list(tmp_path.glob("corpus-*.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    assert run("corpus", "--count", "200", "--accounts", "20").exit_code == 0
    assert [f.stat().st_mtime_ns for f in tmp_path.glob("corpus-*.npz")] == [stamp]


def test_an_unwritable_out_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = subprocess.run(
        [sys.executable, "-m", "fiscosim", "run", "--quiet", "--out", str(blocker / "sub"),
         *SHORT], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
