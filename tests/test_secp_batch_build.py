"""The batch verifier and the SM2 tables are optional extensions: without a C compiler
(CC=false) the package builds and installs all the same, verifies secp256k1 by per-signature
recovery and says the SM2 tables are unavailable; with one, the wheel carries
fiscosim/crypto/_secp_batch.*.so and _sm2_tables.*.so and uses them.

Slow (two wheel builds, two fresh virtual environments): runs with ``FISCOSIM_SLOW=1``, as
.ci/run does, like the wheel test in test_scenario_library.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO_ROOT

CHECK = """
import numpy as np
from fiscosim.crypto import get_suite, secp_batch
suite = get_suite("secp256k1")
rng = np.random.default_rng(3)
keys = [suite.generate_keypair(rng) for _ in range(8)]
hashes = [rng.bytes(32) for _ in range(40)]
sigs = [suite.sign(h, keys[i % 8][0]) for i, h in enumerate(hashes)]
pubs = [keys[i % 8][1] for i in range(40)]
sigs[7] = sigs[7][:64] + bytes([sigs[7][64] ^ 1])
rows = lambda items, width: np.frombuffer(b"".join(items), np.uint8).reshape(-1, width)
verdicts = secp_batch.verify_batch(rows(hashes, 32), rows(sigs, 65), rows(pubs, 64))
assert verdicts.tolist() == [i != 7 for i in range(40)], verdicts
print("available", secp_batch.available())
print("backend", secp_batch.backend())
print("module", secp_batch.__file__)
from fiscosim.crypto import sm2_tables
print("sm2_tables", sm2_tables.available())
"""


def _dependency_paths() -> list[str]:
    """This environment's site-packages folders (the wheel's dependencies), without the ones
    that hold a fiscosim package."""
    found = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
             *site.getsitepackages()]
    paths: list[str] = []
    for entry in found:
        path = Path(entry).resolve()
        if path.is_dir() and not (path / "fiscosim").exists() and str(path) not in paths:
            paths.append(str(path))
    return paths


def _sdist(tmp_path: Path) -> Path:
    """An sdist of a copy of the checkout (nothing written into the checkout)."""
    source = tmp_path / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for name in ("fiscosim", "scenarios"):
        shutil.copytree(REPO_ROOT / name, source / name, ignore=ignore)
    out = tmp_path / "sdist"
    built = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[1]))", str(out)],
        cwd=source, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    return out / built.stdout.strip().splitlines()[-1]


def _wheel(sdist: Path, folder: Path, env: dict[str, str]) -> Path:
    import setuptools

    version = tuple(int(part) for part in re.findall(r"\d+", setuptools.__version__)[:2])
    offline = version >= (70, 1) or importlib.util.find_spec("wheel") is not None
    command = [sys.executable, "-m", "pip", "wheel", str(sdist), "--no-deps", "-w", str(folder),
               "--disable-pip-version-check", "-v"] + (["--no-build-isolation"] if offline else [])
    built = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    output = built.stdout + built.stderr
    if built.returncode != 0 and not offline and re.search(
            r"No matching distribution|Could not find a version|NewConnectionError", output):
        pytest.skip("cannot build the wheel offline (install wheel, or setuptools >= 70.1) "
                    "and pip's isolated build cannot fetch setuptools: " + output[-300:])
    assert built.returncode == 0, output[-3000:]
    (wheel,) = folder.glob("fiscosim-*.whl")
    return wheel


def _install_and_run(wheel: Path, tmp_path: Path) -> dict[str, str]:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "zz_fiscosim_test_dependencies.pth").write_text(
        "\n".join(_dependency_paths()) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    ran = subprocess.run([str(python), "-c", CHECK], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    facts = dict(line.split(" ", 1) for line in ran.stdout.strip().splitlines())
    assert Path(facts["module"]).resolve().is_relative_to(venv.resolve())
    return facts


def _extension_files(wheel: Path) -> list[str]:
    """The compiled modules in the wheel (their C sources may ride along as package data)."""
    return sorted(name for name in zipfile.ZipFile(wheel).namelist()
                  if name.startswith(("fiscosim/crypto/_secp_batch", "fiscosim/crypto/_sm2_tables"))
                  and name.endswith(".so"))


@pytest.mark.slow
def test_without_a_compiler_the_package_installs_and_recovers_one_by_one(tmp_path):
    if not os.environ.get("FISCOSIM_SLOW"):
        pytest.skip("slow: set FISCOSIM_SLOW=1 (.ci/run does)")
    sdist = _sdist(tmp_path)
    import tarfile

    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert any(name.endswith("fiscosim/crypto/_secp_batch.c") for name in names)
        assert any(name.endswith("fiscosim/crypto/_sm2_tables.c") for name in names)
    env = dict(os.environ, CC="false")
    wheel = _wheel(sdist, tmp_path / "wheels", env)
    assert _extension_files(wheel) == []
    facts = _install_and_run(wheel, tmp_path)
    assert facts["available"] == "False"
    assert "not built" in facts["backend"]
    assert facts["sm2_tables"] == "False"


@pytest.mark.slow
def test_with_a_compiler_the_wheel_carries_the_extension(tmp_path):
    if not os.environ.get("FISCOSIM_SLOW"):
        pytest.skip("slow: set FISCOSIM_SLOW=1 (.ci/run does)")
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here")
    wheel = _wheel(_sdist(tmp_path), tmp_path / "wheels", dict(os.environ))
    extensions = _extension_files(wheel)
    assert len(extensions) == 2 and all(name.endswith(".abi3.so") for name in extensions)
    facts = _install_and_run(wheel, tmp_path)
    assert facts["available"] == "True"
    assert facts["sm2_tables"] == "True"
