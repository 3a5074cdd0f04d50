"""Build step that ships the ready scenarios: copies ``scenarios/*.yaml`` and its README into
the wheel as package data, ``fiscosim/scenarios/``, so that ``fiscosim run quickstart`` works
wherever fiscosim is installed (:mod:`fiscosim.scenario.library` finds them there).

The repository's ``scenarios/`` stays their one source: nothing is copied into the source tree,
and an editable install reads the checkout's folder itself. Everything else about the package
is in pyproject.toml; MANIFEST.in puts ``scenarios/`` into the sdist, which this step reads
when a wheel is built from it.

It also builds two *optional* extensions in C: :mod:`fiscosim.crypto._secp_batch`, the batch
secp256k1 verifier, and :mod:`fiscosim.crypto._sm2_tables`, SM2 verification with per-sender
precomputed tables. Where no C compiler works (``CC=false pip install .``) setuptools warns and
goes on: :mod:`fiscosim.crypto.secp_batch` falls back to per-signature recovery, and
:mod:`fiscosim.crypto.sm2_tables` says it is unavailable (the SM2 suite's backends serve).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

SOURCE = Path("scenarios")  # setuptools runs this file from the project's folder
TARGET = ("fiscosim", "scenarios")
PATTERNS = ("*.yaml", "*.yml", "README.md", "teach/*.yaml", "teach/*.yml")


def _scenario_files() -> list[Path]:
    files = sorted({path for pattern in PATTERNS for path in SOURCE.glob(pattern)
                    if path.is_file()})
    if not any(path.suffix in (".yaml", ".yml") for path in files):
        # A wheel without them would fail only later, at `fiscosim run quickstart`.
        raise SystemExit(f"setup.py: no scenario files in {SOURCE.resolve()} (the wheel "
                         "ships them; build from a checkout or a complete sdist)")
    return files


class BuildPyWithScenarios(build_py):
    """build_py, then the scenarios copied into the build tree's ``fiscosim/scenarios/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's scenarios/ in place
        target = Path(self.build_lib, *TARGET)
        self.mkpath(str(target))
        for source in _scenario_files():
            self.mkpath(str((target / source.relative_to(SOURCE)).parent))
            self.copy_file(str(source), str(target / source.relative_to(SOURCE)))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        target = Path(self.build_lib, *TARGET)
        return outputs + [str(target / source.relative_to(SOURCE)) for source in _scenario_files()]


# No -march: a wheel built with -march=native dies with SIGILL on an older CPU, and it was
# measured no faster than the portable build here (docs/performance.md). The stable ABI
# (Py_LIMITED_API, set in the source) makes one .abi3.so serve every CPython >= 3.11.
def _optional_c(module: str) -> Extension:
    """The C extension ``fiscosim.crypto.<module>`` from its one source file (and the header
    both share), optional."""
    return Extension(
        f"fiscosim.crypto.{module}",
        sources=[f"fiscosim/crypto/{module}.c"],
        depends=["fiscosim/crypto/_u256.h"],
        optional=True,
        py_limited_api=True,
        extra_compile_args=["-O3", "-std=c99", "-Wall", "-Wextra"] if os.name == "posix" else [],
    )


# The batch secp256k1 verifier, and SM2 verification with per-sender tables (issue 21).
setup(cmdclass={"build_py": BuildPyWithScenarios},
      ext_modules=[_optional_c("_secp_batch"), _optional_c("_sm2_tables")])
