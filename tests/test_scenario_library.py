"""The shipped scenarios by name: ``fiscosim run quickstart`` from any folder.

Every ``scenarios/*.yaml`` is listed by name and loads; a name works through the commands and
``load_simulation`` from another working folder; an existing file beats a name; an unknown
name is one line, exit code 2. With ``FISCOSIM_SLOW=1``, the built wheel is installed into a
fresh virtual environment outside the clone and runs a scenario by name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

from fiscosim import load_simulation
from fiscosim.cli import main
from fiscosim.scenario import ScenarioError, describe_scenarios, load_scenario
from fiscosim.scenario.library import (
    resolve_scenario,
    scenario_folder,
    shipped_path,
    shipped_scenarios,
)

SCENARIO_FILES = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
TEACH_FILES = sorted(p for p in (REPO_ROOT / "scenarios" / "teach").glob("*.yaml")
                     if not p.stem.endswith(".lesson"))
SCENARIO_NAMES = sorted([p.stem for p in SCENARIO_FILES]
                        + [f"teach/{p.stem}" for p in TEACH_FILES])
SHORT = ["--set", "duration_s=2", "--set", "warmup_s=0.5", "--set", "drain_s=1"]


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def fiscosim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fiscosim", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_there_are_scenario_files():
    assert len(SCENARIO_FILES) >= 10


def test_a_checkout_reads_its_own_scenarios_folder():
    # The editable install (what developers and CI use) sees an edit at once: no copy.
    assert scenario_folder() == REPO_ROOT / "scenarios"
    assert list(shipped_scenarios()) == SCENARIO_NAMES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_every_scenario_file_is_listed_by_name_and_loads(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shipped_scenarios()[path.stem] == path
    assert resolve_scenario(path.stem) == path == resolve_scenario(path.name)
    scenario = load_scenario(path.stem, check_memory=False)
    # `fiscosim scenarios` lists the file's stem; a run reports the scenario's name.
    assert scenario.name == path.stem, f"{path.name}: name: should be {path.stem!r}"


@pytest.mark.parametrize("path", TEACH_FILES, ids=lambda path: path.stem)
def test_every_lesson_scenario_is_listed_as_teach_slash_name(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"teach/{path.stem}"
    assert shipped_scenarios()[name] == path == resolve_scenario(name)
    assert load_scenario(name, check_memory=False).name == f"teach-{path.stem}"


def test_the_listing_describes_every_scenario():
    infos = describe_scenarios()
    assert [info.name for info in infos] == SCENARIO_NAMES
    for info in infos:
        assert info.error is None, info.error
        assert info.description and "\n" not in info.description
        assert info.nodes and info.nodes == sum(info.roles.values())
    light = next(info for info in infos if info.name == "light-clients")
    assert light.roles == {"sealer": 4, "light": 2}


def test_scenarios_command_table_and_json():
    result = cli("scenarios")
    assert result.exit_code == 0, result.output
    for path in SCENARIO_FILES:
        assert path.stem in result.output
    assert "4 sealers, 2 observers" in result.output
    assert str(REPO_ROOT / "scenarios") in result.output
    listed = cli("scenarios", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert data["folder"] == str(REPO_ROOT / "scenarios")
    rows = {row["name"]: row for row in data["scenarios"]}
    assert list(rows) == SCENARIO_NAMES
    assert rows["pbft-100-2k"]["nodes"] == 100 and rows["quickstart"]["groups"] == 1
    assert all(Path(row["path"]).is_file() and row["error"] is None for row in rows.values())


def test_help_lists_the_scenarios_command():
    result = cli("--help")
    assert result.exit_code == 0
    assert re.search(r"^\s+scenarios\s+\S", result.output, re.MULTILINE), result.output


def test_a_name_runs_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("run", "quickstart", "--quiet", "--json", *SHORT)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["scenario"].split()[0] == "quickstart" and summary["safety"]["ok"]


@pytest.mark.parametrize("name", ["pbft-100-2k", "pbft-100-2k.yaml", "PBFT-100-2k.yml"])
def test_name_spellings_and_the_dry_run(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    result = cli("run", name, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert str(REPO_ROOT / "scenarios" / "pbft-100-2k.yaml") in result.output
    assert json.loads(result.output.strip().splitlines()[-1])["nodes"] == 100


def test_corpus_takes_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path / "cache"))
    result = cli("corpus", "quickstart", "--count", "200", "--accounts", "10")
    assert result.exit_code == 0, result.output
    assert "200 secp256k1 transactions by 10 accounts" in result.output


def test_load_simulation_takes_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    simulation = load_simulation("quickstart", seed=7,
                                 overrides={"duration_s": 2, "warmup_s": 0.5, "drain_s": 1})
    result = simulation.run()
    assert result.summary["scenario"].split()[0] == "quickstart"
    assert result.summary["seed"] == 7


MINE = "name: mine\nnodes:\n  count: 4\nduration_s: 2\nwarmup_s: 0.5\ndrain_s: 1\n"


@pytest.mark.parametrize("file_name", ["quickstart.yaml", "quickstart"])
def test_an_existing_file_beats_the_name(tmp_path, monkeypatch, file_name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / file_name).write_text(MINE)
    assert resolve_scenario(file_name) == Path(file_name)
    assert load_scenario(file_name).name == "mine"
    result = cli("run", file_name, "--dry-run", "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["scenario"] == "mine"


def test_a_folder_does_not_hide_a_name(tmp_path, monkeypatch):
    # `fiscosim run quickstart --out quickstart` must work twice.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").mkdir()
    assert resolve_scenario("quickstart") == REPO_ROOT / "scenarios" / "quickstart.yaml"
    (tmp_path / "mine").mkdir()
    with pytest.raises(ScenarioError, match="mine: is a folder"):
        load_scenario("mine")


def test_a_path_is_never_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario("scenarios/quickstart.yaml")
    message = str(caught.value)
    assert message.startswith("scenarios/quickstart.yaml: no such file")
    assert "'quickstart'" in message  # the hint: the name works from here
    assert shipped_path("scenarios/quickstart.yaml") is None
    assert shipped_path("./quickstart") is None


@pytest.mark.parametrize(("command", "arg", "fragments"), [
    ("run", "quickstrat", ["quickstrat: neither a file nor a shipped scenario",
                           "did you mean 'quickstart'?", "pbft-4-50k", "fiscosim scenarios"]),
    ("capacity", "nope", ["nope: neither a file nor a shipped scenario", "quickstart"]),
    ("corpus", "nope.yaml", ["nope.yaml: neither a file nor a shipped scenario"]),
    ("run", "scenarios/quickstart.yaml", ["scenarios/quickstart.yaml: no such file",
                                          "'quickstart'"]),
])
def test_an_unknown_name_is_one_line_exit_2(tmp_path, command, arg, fragments):
    result = fiscosim(command, arg, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


# -- the wheel, installed outside the clone -----------------------------------------------------


def _dependency_paths() -> list[str]:
    """This environment's site-packages folders, where the wheel's dependencies already are
    (a venv's --system-site-packages would give the base interpreter's instead)."""
    found = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
             *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        found.append(site.getusersitepackages())
    paths = []
    for entry in found:
        path = Path(entry).resolve()
        # Not a folder that holds a fiscosim package (the checkout): only its dependencies.
        if path.is_dir() and not (path / "fiscosim").exists() and str(path) not in paths:
            paths.append(str(path))
    return paths


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel built, as `python -m build` does, from an sdist of a copy of the checkout:
    the sdist must carry scenarios/ for the wheel to ship it, and nothing is written into the
    checkout (a build leaves build/ and egg-info beside its setup.py)."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for name in ("fiscosim", "scenarios"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
    sdist_dir = tmp_path / "sdist"
    built = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(sdist_dir)],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    sdist = sdist_dir / built.stdout.strip().splitlines()[-1]
    # Offline when this environment can build wheels itself (setuptools >= 70.1 has
    # bdist_wheel, older ones need the wheel package); else pip's isolated build fetches
    # pyproject's build requirements, as `pip install -e .` did for this environment.
    import setuptools

    version = tuple(int(part) for part in re.findall(r"\d+", setuptools.__version__)[:2])
    offline = version >= (70, 1) or importlib.util.find_spec("wheel") is not None
    wheels = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", str(sdist), "--no-deps", "-w", str(wheels),
               "--disable-pip-version-check"] + (["--no-build-isolation"] if offline else [])
    built = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = built.stdout + built.stderr
    if built.returncode != 0 and not offline and re.search(
            r"No matching distribution|Could not find a version|NewConnectionError", output):
        pytest.skip("cannot build the wheel offline (install wheel, or setuptools >= 70.1) "
                    "and pip's isolated build cannot fetch setuptools: " + output[-300:])
    assert built.returncode == 0, output
    (wheel,) = wheels.glob("fiscosim-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_runs_a_scenario_by_name_outside_the_clone(tmp_path):
    if not os.environ.get("FISCOSIM_SLOW"):
        pytest.skip("slow: set FISCOSIM_SLOW=1 (.ci/run does)")
    wheel = _build_wheel(tmp_path)
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    shipped = {name.removeprefix("fiscosim/scenarios/") for name in names
               if name.startswith("fiscosim/scenarios/")}
    teach = sorted((REPO_ROOT / "scenarios" / "teach").glob("*.yaml"))
    assert shipped == ({path.name for path in SCENARIO_FILES} | {"README.md"}
                       | {f"teach/{path.name}" for path in teach})
    # the trace's schema and the viewer's page are package data too
    assert {"fiscosim/trace/trace-1.schema.json", "fiscosim/trace/viewer/viewer.html"} <= set(
        names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    # This pip installs into the new venv (--python): no pip to bootstrap there, no index.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--force-reinstall", "--no-index", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # Only now the dependencies: path lines, so this environment's .pth files (the editable
    # install's finder among them) are not run, and the venv's own site-packages comes first.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "zz_fiscosim_test_dependencies.pth").write_text(
        "\n".join(_dependency_paths()) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONNOUSERSITE="1", PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               FISCOSIM_CACHE=str(tmp_path / "cache"))

    def inside(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=300)

    where = inside(str(python), "-c", "import fiscosim, fiscosim.scenario.library as lib; "
                   "print(fiscosim.__file__); print(lib.scenario_folder())")
    assert where.returncode == 0, where.stderr
    package, folder = where.stdout.split()
    assert Path(package).resolve().is_relative_to(venv.resolve()), (
        f"imported {package}, not the wheel's copy")
    assert Path(folder) == Path(package).parent / "scenarios"

    ran = inside(str(venv / "bin" / "fiscosim"), "run", "quickstart", "--quiet", "--json",
                 "--set", "duration_s=3")  # quickstart warms up for 2 s
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout.strip().splitlines()[-1])["scenario"].startswith("quickstart")

    default = inside(str(venv / "bin" / "fiscosim"), "run", "--dry-run", "--quiet", "--json")
    assert default.returncode == 0, default.stdout + default.stderr
    assert json.loads(default.stdout.strip().splitlines()[-1])["scenario"] == "quickstart"

    listed = inside(str(venv / "bin" / "fiscosim"), "scenarios")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "pbft-4-50k" in listed.stdout and "4 sealers, 2 observers" in listed.stdout
    listed = inside(str(venv / "bin" / "fiscosim"), "scenarios", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = json.loads(listed.stdout)["scenarios"]
    assert [row["name"] for row in rows] == SCENARIO_NAMES
    assert all(Path(row["path"]).is_relative_to(Path(folder)) for row in rows)

    # a lesson by name, its viewer and its trace, from the wheel alone
    page, trace = tmp_path / "n4.html", tmp_path / "n4.trace.jsonl"
    lesson = inside(str(venv / "bin" / "fiscosim"), "run", "teach/normal4", "--quiet",
                    "--html", str(page), "--trace", str(trace))
    assert lesson.returncode == 0, lesson.stdout + lesson.stderr
    assert "a leader does not verify its own proposal" in page.read_text(encoding="utf-8")
    told = inside(str(venv / "bin" / "fiscosim"), "trace", "narrate", str(trace), "--lesson",
                  "teach/normal4")
    assert told.returncode == 0 and "✎" in told.stdout, told.stdout + told.stderr
    checked = inside(str(venv / "bin" / "fiscosim"), "trace", "check", str(trace))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The README's Python example, as it stands, from the same folder.
    example = _readme_python_example()
    if importlib.util.find_spec("pandas") is None:  # the analysis extra's, not fiscosim's
        example = "\n".join(line for line in example.splitlines() if "pandas" not in line)
    ran = inside(str(python), "-c", example + "\nprint('scenario:', result.summary['scenario'])")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "scenario: quickstart" in ran.stdout


def _readme_python_example() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    (example,) = re.findall(r"From Python \(notebooks\):\n\n```python\n(.*?)```", text, re.DOTALL)
    assert "load_simulation(" in example
    return example
