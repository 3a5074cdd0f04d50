"""Where a result came from: overrides in summary.json and the report, provenance in
manifest.json (command line, fiscosim version, git commit, Python, platform, CPU).

summary.json stays a pure function of the scenario, its overrides and the seed; everything about
the machine goes into manifest.json only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

from fiscosim.cli import main
from fiscosim.metrics import output
from fiscosim.metrics.output import cpu_info, git_state, provenance
from fiscosim.metrics.summary import WALL_CLOCK_KEYS, scenario_label
from fiscosim.scenario import load_simulation
from fiscosim.sim.simulation import Simulation

QUICKSTART = REPO_ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["duration_s=2", "warmup_s=0.5", "drain_s=1"]
MANIFEST_KEYS = {"seed", "scenario_digest", "scenario", "versions", "command_line", "overrides",
                 "fiscosim_version", "model_epoch", "git", "python", "platform",
                 "cpu"}


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_run_records_overrides_and_provenance(tmp_path, monkeypatch):
    out = tmp_path / "out"
    sets = [arg for text in SHORT for arg in ("--set", text)]
    argv = ["fiscosim", "run", str(QUICKSTART), "--out", str(out), "--seed", "3", *sets]
    monkeypatch.setattr(sys, "argv", argv)
    result = cli(*argv[1:])
    assert result.exit_code == 0, result.output
    assert "quickstart (+3 overrides)" in result.output  # the report's title

    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "quickstart (+3 overrides)"
    assert summary["overrides"] == SHORT  # --seed is not an override: the seed is shown apart
    assert summary["seed"] == 3
    for key in ("command_line", "git", "cpu", "platform", "python", "fiscosim_version"):
        assert key not in summary

    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest) >= MANIFEST_KEYS
    assert manifest["command_line"] == argv
    assert manifest["overrides"] == SHORT
    assert manifest["scenario"]["name"] == "quickstart" and manifest["scenario"]["seed"] == 3
    assert manifest["fiscosim_version"] == manifest["versions"]["fiscosim"]
    assert manifest["python"] == ".".join(map(str, sys.version_info[:3]))
    assert isinstance(manifest["platform"], str) and manifest["platform"]
    assert set(manifest["cpu"]) == {"model", "cores", "avx512ifma"}
    assert manifest["cpu"]["cores"] >= 1
    assert manifest["cpu"]["avx512ifma"] in (True, False, None)
    git = manifest["git"]
    if (REPO_ROOT / ".git").exists() and shutil.which("git"):
        assert set(git) == {"commit", "dirty"}
        assert len(git["commit"]) == 40 and isinstance(git["dirty"], bool)
    else:
        assert git is None


def test_no_overrides_keeps_the_plain_name():
    result = cli("run", str(QUICKSTART), "--quiet", "--json", "--seed", "5")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["scenario"] == "quickstart" and summary["overrides"] == []


def test_api_run_has_no_command_line():
    simulation = load_simulation(QUICKSTART, overrides={"duration_s": 2, "warmup_s": 0.5,
                                                        "drain_s": 1})
    result = simulation.run()
    assert result.manifest["command_line"] is None
    assert result.manifest["overrides"] == SHORT
    assert set(result.manifest) >= MANIFEST_KEYS
    assert result.summary["scenario"] == "quickstart (+3 overrides)"
    # A scenario built directly (no file, no overrides) runs with the plain name.
    direct = Simulation(simulation.scenario).run()
    assert direct.summary["scenario"] == "quickstart" and direct.summary["overrides"] == []
    assert direct.summary["scenario_digest"] == result.summary["scenario_digest"]


def test_summary_is_deterministic_and_an_identical_override_keeps_the_digest():
    plain = load_simulation(QUICKSTART, overrides=SHORT).run().deterministic_summary()
    again = load_simulation(QUICKSTART, overrides=SHORT).run().deterministic_summary()
    assert json.dumps(plain) == json.dumps(again)  # byte-identical, no machine data in it
    assert not set(plain) & set(WALL_CLOCK_KEYS)
    # workload.rate_tps is 500 in the file: the same effective scenario, one override more.
    same = load_simulation(QUICKSTART, overrides=[*SHORT, "workload.rate_tps=500"])
    marked = same.run().deterministic_summary()
    assert marked["scenario_digest"] == plain["scenario_digest"]
    assert marked["scenario"] == "quickstart (+4 overrides)"
    assert marked["overrides"] == [*SHORT, "workload.rate_tps=500"]
    ignore = {"scenario", "overrides"}
    assert ({k: v for k, v in marked.items() if k not in ignore}
            == {k: v for k, v in plain.items() if k not in ignore})


def test_scenario_label():
    assert scenario_label("quickstart") == "quickstart"
    assert scenario_label("quickstart", ["seed=1"]) == "quickstart (+1 override)"
    assert scenario_label("q", ["a=1", "b=2"]) == "q (+2 overrides)"


def test_git_state_outside_a_work_tree_is_none(tmp_path):
    assert git_state(tmp_path) is None
    # A folder inside a repository that is not the repository's root is not its commit.
    (tmp_path / ".git").mkdir()
    assert git_state(tmp_path) is None  # an empty .git folder: git refuses, no exception


def test_git_state_never_fails_without_git(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()

    def missing(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(output.subprocess, "run", missing)
    assert git_state(tmp_path) is None

    def slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs.get("timeout", 2))

    monkeypatch.setattr(output.subprocess, "run", slow)
    assert git_state(tmp_path) is None
    assert provenance(None, [])["git"] is None  # the run's own clone too: no commit, no error


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_state_of_a_clone(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c",
                        "user.email=t@example.com", *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    state = git_state(tmp_path.resolve())
    assert state is not None and len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "untracked.txt").write_text("results\n")
    assert git_state(tmp_path.resolve())["dirty"] is False  # untracked files do not count
    (tmp_path / "a.txt").write_text("two\n")
    assert git_state(tmp_path.resolve())["dirty"] is True


def test_cpu_info_reads_model_and_flags(tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Test CPU\n"
                    "flags\t\t: fpu sse2 avx512f avx512ifma\n\nprocessor\t: 1\n")
    info = cpu_info(fake)
    assert info["model"] == "Intel(R) Xeon(R) Test CPU" and info["avx512ifma"] is True
    fake.write_text("model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2\n")
    assert cpu_info(fake)["avx512ifma"] is False
    missing = cpu_info(Path(tmp_path / "none"))
    assert missing["avx512ifma"] is None and missing["cores"] >= 1
