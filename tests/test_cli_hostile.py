"""The command line against hostile input and hostile circumstances.

Every error case: exit code 2 (124 for --timeout, 130 for SIGINT, 143 for SIGTERM), exactly
one line on stderr, no traceback, and no files written: no result files, no trace, no
temporaries, no folders. Paths are checked before the run starts, not after it ends. Most
cases run in-process through click's CliRunner; signals need a real process, and those tests'
timeouts only guard against hangs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

import fiscosim.sim.simulation as simulation_module
from fiscosim.cli import EXIT_CODES, Duration, main
from fiscosim.metrics.output import remove_stale_temporaries, write_results

SHORT = ["--set", "duration_s=2", "--set", "warmup_s=0.5", "--set", "drain_s=1"]
LONG = ["--set", "duration_s=1000"]  # minutes of wall clock: only ever stopped
QUICKSTART = str(REPO_ROOT / "scenarios" / "quickstart.yaml")
HANG_GUARD_S = 120


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def files_under(folder: Path) -> list[str]:
    """Every file and folder under ``folder``, hidden ones included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_one_line_error(result, code: int = 2) -> str:
    """The exit code, one stderr line starting 'error: ', no traceback; returns the line."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def no_run(monkeypatch):
    """Makes a started simulation fail the test: the error must be found before the run."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the simulation started; the error should have been found first")

    monkeypatch.setattr(simulation_module.Simulation, "run", refuse)


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


# -- usage errors: one line, exit 2, every subcommand -------------------------------------------

USAGE_ERRORS = [
    (["run", "--seed", "abc"], "--seed", "whole number"),
    (["run", "--seed", "-1"], "--seed", ">= 0"),
    (["run", "--seed", "1.5"], "--seed", "whole number"),
    (["run", "--seed"], "--seed", "requires"),
    (["run", "--sed", "1"], "--sed", "did you mean --seed"),
    (["run", "a.yaml", "b.yaml"], "unexpected extra argument", "--help"),
    (["run", "--timeout", "0"], "--timeout", "90s"),
    (["run", "--timeout", "-5"], "--timeout", "90s"),
    (["run", "--timeout", "soon"], "--timeout", "90s"),
    (["run", "--timeout", "5x"], "--timeout", "90s"),
    (["run", "--timeout", "inf"], "--timeout", "90s"),
    (["rn"], "rn", "did you mean run"),
    (["fuzz", "--runs", "0"], "--runs", ">= 1"),
    (["fuzz", "--loss", "1"], "--loss", "< 1"),
    (["fuzz", "--nodes", "three"], "--nodes", "whole number"),
    (["fuzz", "--chain-version", "2.8"], "--chain-version", "use '2.9'"),
    (["fuzz", "--chain-version", "3.10.2"], "--chain-version", "write '3.10'"),
    (["corpus", "--count", "0"], "--count", ">= 1"),
    (["corpus", "--suite", "rsa"], "--suite", "secp256k1"),
    (["bench", "verify", "--workers", "0"], "--workers", ">= 1"),
    (["bench", "verify", "--batch", "many"], "--batch", "whole number"),
    (["bench", "verify", "--mode", "fibers"], "--mode", "processes"),
    (["bench", "verify", "--seconds", "0"], "--seconds", ">= 0.1"),
    (["bench", "verify", "--suite", "sm2", "--backend", "gpu"], "gpu", "crypto_mb"),
    (["calibrate", "--seconds", "x"], "--seconds", "number"),
]


@pytest.mark.parametrize(("args", "name", "fix"), USAGE_ERRORS,
                         ids=[" ".join(args) for args, _, _ in USAGE_ERRORS])
def test_a_usage_error_is_one_line_naming_the_option_and_the_fix(tmp_path, monkeypatch, args,
                                                                 name, fix):
    monkeypatch.chdir(tmp_path)  # calibrate and friends would write here
    line = assert_one_line_error(invoke(*args))
    assert name in line and fix in line, line
    assert "Usage:" not in line and "Try '" not in line
    assert files_under(tmp_path) == []


def test_a_folder_as_the_scenario_is_one_line(tmp_path, no_run):
    line = assert_one_line_error(invoke("run", str(tmp_path)))
    assert str(tmp_path) in line and "folder" in line
    line = assert_one_line_error(invoke("corpus", str(tmp_path)))
    assert str(tmp_path) in line and "folder" in line


def test_calibrate_to_a_folder_is_one_line(tmp_path):
    line = assert_one_line_error(invoke("calibrate", "--out", str(tmp_path)))
    assert "--out" in line and str(tmp_path) in line
    assert files_under(tmp_path) == []


def test_ctrl_c_before_the_run_is_one_line_and_130(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("fiscosim.scenario.load_simulation", interrupted)
    line = assert_one_line_error(invoke("run"), code=130)
    assert line == "error: interrupted"


# -- --out and --trace: checked before the run --------------------------------------------------


def bad_paths(tmp_path: Path, a_file: Path) -> dict[str, tuple[list[str], list[str]]]:
    """name: (options, fragments the error line must contain)."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text(Path(QUICKSTART).read_text())
    out_with_folder = tmp_path / "results"
    (out_with_folder / "summary.json").mkdir(parents=True)
    return {
        "out is a file": (["--out", str(a_file)], ["--out", str(a_file), "not a folder"]),
        "out is /dev/null": (["--out", "/dev/null"], ["--out", "/dev/null", "not a folder"]),
        "out in /proc": (["--out", "/proc/x"], ["--out", "/proc/x", "cannot write"]),
        "out under a file": (["--out", str(a_file / "sub")], ["--out", str(a_file / "sub")]),
        "out holds a folder summary.json": (
            ["--out", str(out_with_folder)], ["--out", "summary.json", "is a folder"]),
        "trace is a folder": (["--trace", str(tmp_path)], ["--trace", str(tmp_path), "folder"]),
        "trace is /dev/null": (["--trace", "/dev/null"], ["--trace", "not a regular file"]),
        "trace in /proc": (["--trace", "/proc/trace.jsonl"],
                           ["--trace", "/proc/trace.jsonl", "cannot write"]),
        "trace under a file": (["--trace", str(a_file / "t.jsonl")],
                               ["--trace", str(a_file), "not a folder"]),
        "trace is the scenario": ([str(scenario), "--trace", str(scenario)],
                                  ["--trace", "scenario file"]),
        "trace is a result file": (
            ["--out", str(tmp_path / "o"), "--trace", str(tmp_path / "o" / "blocks.csv")],
            ["--trace", "--out writes"]),
    }


BAD_PATHS = ["out is a file", "out is /dev/null", "out in /proc", "out under a file",
             "out holds a folder summary.json", "trace is a folder", "trace is /dev/null",
             "trace in /proc", "trace under a file", "trace is the scenario",
             "trace is a result file"]


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("case", BAD_PATHS)
def test_a_bad_out_or_trace_is_found_before_the_run(tmp_path, a_file, no_run, case, dry_run):
    options, fragments = bad_paths(tmp_path, a_file)[case]
    before = files_under(tmp_path)
    scenario_text = (tmp_path / "s.yaml").read_text()
    line = assert_one_line_error(invoke("run", *options, *(["--dry-run"] if dry_run else [])))
    for fragment in fragments:
        assert fragment in line, line
    assert ".fiscosim-" not in line and ".trace.jsonl." not in line  # never a temporary's name
    assert files_under(tmp_path) == before
    assert (tmp_path / "s.yaml").read_text() == scenario_text


def test_a_write_failure_after_the_run_leaves_nothing(tmp_path, monkeypatch):
    # The disk fills up while the third file is renamed: the trace (already in place) and the
    # results already renamed go, with the folders the run created.
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst, *args, **kwargs):
        calls.append(Path(dst).name)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    out, trace = tmp_path / "new" / "out", tmp_path / "traces" / "trace.jsonl"
    line = assert_one_line_error(
        invoke("run", "--quiet", "--out", str(out), "--trace", str(trace), *SHORT))
    assert calls == ["trace.jsonl", "summary.json", "blocks.csv"]
    assert line.startswith(f"error: --out: cannot write into {out}: No space left on device")
    assert files_under(tmp_path) == []


def test_write_results_is_all_or_nothing(tmp_path, monkeypatch):
    real_replace = os.replace

    def interrupted_second(src, dst, *args, **kwargs):
        if Path(dst).name == "b":
            raise KeyboardInterrupt
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", interrupted_second)
    with pytest.raises(KeyboardInterrupt):
        write_results(tmp_path, {"a": "1", "b": "2", "c": "3"})
    assert files_under(tmp_path) == []


# -- file modes and stale temporaries -----------------------------------------------------------


def test_result_files_and_trace_are_0644(tmp_path):
    old = os.umask(0o022)
    try:
        out, trace = tmp_path / "out", tmp_path / "trace.jsonl"
        result = invoke("run", "--quiet", "--out", str(out), "--trace", str(trace), *SHORT)
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for path in [out / "summary.json", out / "blocks.csv", out / "manifest.json", trace]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert files_under(tmp_path) == [
        "out", "out/blocks.csv", "out/manifest.json", "out/summary.json", "trace.jsonl"]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=HANG_GUARD_S)
    return child.pid


def test_a_run_removes_stale_temporaries_it_owns(tmp_path):
    out, traces = tmp_path / "out", tmp_path / "traces"
    out.mkdir()
    traces.mkdir()
    dead, alive = dead_pid(), os.getppid()
    stale = [out / f".summary.json.fiscosim-{dead}-0123abcd",
             traces / f".trace.jsonl.fiscosim-{dead}-89abcdef",
             out / f".probe.fiscosim-{dead}-00000000"]
    kept = [out / f".blocks.csv.fiscosim-{alive}-0123abcd",  # a live process's
            out / ".summary.json.k3j_x9z2",  # not recognisably fiscosim's
            out / "notes.fiscosim-1-0123abcd"]
    for path in stale[:2] + kept:
        path.write_text("x")
    stale[2].mkdir()
    trace = traces / "trace.jsonl"
    dry = invoke("run", "--dry-run", "--quiet", "--out", str(out), "--trace", str(trace))
    assert dry.exit_code == 0 and all(p.exists() for p in stale)  # a dry run writes nothing
    result = invoke("run", "--quiet", "--out", str(out), "--trace", str(trace), *SHORT)
    assert result.exit_code == 0, result.output
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert trace.is_file() and (out / "summary.json").is_file()


def test_remove_stale_temporaries_spares_this_process_unless_asked(tmp_path):
    mine = tmp_path / f".summary.json.fiscosim-{os.getpid()}-0123abcd"
    mine.write_text("x")
    assert remove_stale_temporaries(tmp_path) == []
    assert remove_stale_temporaries(tmp_path, own=True) == [mine]
    assert remove_stale_temporaries(tmp_path / "missing") == []


# -- --timeout ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("90s", 90), ("5m", 300), ("1.5h", 5400), ("0.25", 0.25), (" 2 m ", 120),
    ("10S", 10)])
def test_timeout_durations(text, seconds):
    assert Duration().convert(text, None, None) == seconds


def handlers() -> tuple:
    return (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
            signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL))


def test_timeout_stops_the_run_with_one_line_and_no_files(tmp_path):
    before = handlers()
    started = time.monotonic()
    result = invoke("run", "--quiet", "--timeout", "0.5", "--out", str(tmp_path / "out"),
                    "--trace", str(tmp_path / "t" / "trace.jsonl"), *LONG)
    assert time.monotonic() - started < 30
    line = assert_one_line_error(result, code=124)
    assert re.fullmatch(r"error: stopped after the --timeout of 0\.5 s at simulated "
                        r"t = \d+\.\d s; no files written", line), line
    assert files_under(tmp_path) == []
    assert handlers() == before  # the handlers and the alarm are put back


def test_a_callers_own_alarm_survives_a_timeout(tmp_path):
    # An embedding program (or pytest-timeout) with its own SIGALRM timer gets it back.
    def outer(signum, frame):
        raise AssertionError("the caller's alarm fired early")

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 1000)
    try:
        result = invoke("run", "--quiet", "--timeout", "0.3", *LONG)
        assert_one_line_error(result, code=124)
        assert signal.getsignal(signal.SIGALRM) is outer
        assert 990 < signal.getitimer(signal.ITIMER_REAL)[0] <= 1000
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_timeout_is_wall_clock_with_the_progress_bar_too(tmp_path):
    result = invoke("run", "--timeout", "0.5s", "--trace", str(tmp_path / "trace.jsonl"), *LONG)
    assert_one_line_error(result, code=124)
    assert files_under(tmp_path) == []


def test_a_run_within_its_timeout_is_unchanged(tmp_path):
    result = invoke("run", "--quiet", "--json", "--timeout", "5m", *SHORT)
    plain = invoke("run", "--quiet", "--json", *SHORT)
    assert result.exit_code == 0 and plain.exit_code == 0
    timed, untimed = (json.loads(r.stdout.splitlines()[-1]) for r in (result, plain))
    for summary in (timed, untimed):
        summary.pop("wall_time_s")
        summary.pop("sim_speed")
    assert timed == untimed
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# -- signals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code", "words"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated by SIGTERM")])
def test_a_signal_during_the_run_stops_it_cleanly_in_process(tmp_path, monkeypatch, signum,
                                                               code, words):
    # The signal arrives from inside the run (the tenth progress step), as from a terminal.
    real_drive = simulation_module._drive

    def drive(world, progress):
        steps = []

        def step(done, total):
            steps.append(done)
            if len(steps) == 10:
                signal.raise_signal(signum)

        real_drive(world, step)

    monkeypatch.setattr(simulation_module, "_drive", drive)
    before = handlers()
    result = invoke("run", "--quiet", "--out", str(tmp_path / "out"),
                    "--trace", str(tmp_path / "trace.jsonl"), *SHORT)
    line = assert_one_line_error(result, code=code)
    assert re.fullmatch(rf"error: {words} at simulated t = 0\.[0-9] s; no files written", line)
    assert files_under(tmp_path) == []
    assert handlers() == before


def start_long_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A real fiscosim process, once its trace temporary exists (the run has begun)."""
    trace = tmp_path / "trace.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "fiscosim", "run", "--quiet", "--out", str(tmp_path / "out"),
         "--trace", str(trace), *LONG],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell's background job inherits SIGINT ignored, and fiscosim keeps it so.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + HANG_GUARD_S
    while not list(tmp_path.glob(".trace.jsonl.fiscosim-*")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run did not start: {process.communicate()}")
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the simulation
    return process, trace


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_exit_with_one_line_and_leave_nothing(tmp_path, signum, code):
    process, _ = start_long_run(tmp_path)
    process.send_signal(signum)
    try:
        stdout, stderr = process.communicate(timeout=HANG_GUARD_S)
    finally:
        process.kill()
    assert process.returncode == code, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no files written" in lines[0]
    assert "Aborted" not in stderr and "Traceback" not in stderr and stdout == ""
    assert files_under(tmp_path) == []


def test_after_sigkill_the_next_run_removes_the_stale_trace(tmp_path):
    process, trace = start_long_run(tmp_path)
    process.kill()
    process.communicate(timeout=HANG_GUARD_S)
    leftovers = list(tmp_path.glob(".trace.jsonl.fiscosim-*"))
    assert [p.name.split("-")[1] for p in leftovers] == [str(process.pid)]
    result = invoke("run", "--quiet", "--trace", str(trace), *SHORT)
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path) == ["trace.jsonl"]


# -- --dry-run, --help --------------------------------------------------------------------------


def test_dry_run_prints_the_size_and_writes_nothing(tmp_path, no_run):
    out, trace = tmp_path / "out", tmp_path / "t" / "trace.jsonl"
    result = invoke("run", "--dry-run", "--out", str(out), "--trace", str(trace),
                    "--set", "workload.rate_tps=1000", "--set", "nodes.count=7")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    first, second = result.stdout.splitlines()
    assert "quickstart" in first and "7 nodes (7 sealers)" in first
    assert "10,000 transactions offered" in first and first.endswith("transactions offered")
    assert second.startswith("estimate: ")
    assert files_under(tmp_path) == []


def test_dry_run_json(no_run):
    result = invoke("run", "--dry-run", "--quiet", "--json", QUICKSTART)
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert report["dry_run"] is True and report["nodes"] == 4 and report["sealers"] == 4
    assert report["offered_txs"] == 5000 and report["duration_s"] == 10
    for key in ("events", "peak_bytes"):
        assert isinstance(report[key], int) and report[key] > 0, report


def test_dry_run_prints_the_estimators_line(no_run):
    from fiscosim.scenario import load_scenario
    from fiscosim.sim.estimate import estimate_run

    expected = estimate_run(load_scenario(QUICKSTART))
    result = invoke("run", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == f"estimate: {expected.describe()}"
    report = json.loads(lines[-1])
    assert (report["events"], report["peak_bytes"]) == (expected.events, expected.peak_bytes)


def test_dry_run_shows_a_run_the_memory_check_would_refuse(no_run):
    big = ("--set", "workload.rate_tps=900000", "--set", "duration_s=3000")
    refused = invoke("run", *big)
    assert refused.exit_code == 2 and "workload.rate_tps" in refused.stderr
    result = invoke("run", "--dry-run", *big)
    assert result.exit_code == 0, result.output
    assert "a run would be refused" in result.stdout and "--no-memory-check" in result.stdout


def test_dry_run_of_a_bad_scenario_is_one_line(tmp_path, no_run):
    line = assert_one_line_error(invoke("run", "--dry-run", "--set", "nodes.count=0"))
    assert "nodes.count" in line


def test_help_lists_the_exit_codes():
    result = invoke("run", "--help")
    assert result.exit_code == 0
    for code in (0, 2, 3, 124, 130, 143):
        assert re.search(rf"^\s+{code}\s+\S", result.stdout, re.MULTILINE), code
        assert code in EXIT_CODES


# -- scenario files' version --------------------------------------------------------------------

def test_a_scenario_may_say_version_1(tmp_path, no_run):
    text = Path(QUICKSTART).read_text()
    versioned = tmp_path / "v1.yaml"
    versioned.write_text("version: 1\n" + text)
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    results = [invoke("run", "--dry-run", "--quiet", "--json", str(p)) for p in (versioned, plain)]
    assert [r.exit_code for r in results] == [0, 0], results[0].output
    digests = [json.loads(r.stdout)["scenario_digest"] for r in results]
    assert digests[0] == digests[1]  # a file without version: is version 1


@pytest.mark.parametrize("version", ["2", "0", "'1'", "abc"])
def test_an_unknown_scenario_version_is_one_line(tmp_path, no_run, version):
    scenario = tmp_path / "future.yaml"
    scenario.write_text(f"version: {version}\n" + Path(QUICKSTART).read_text())
    line = assert_one_line_error(invoke("run", str(scenario)))
    assert f"{scenario}: version: " in line, line
    assert "unknown key" not in line and "1" in line.split(": version: ", 1)[1]
