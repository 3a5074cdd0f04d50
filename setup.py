"""Build step that ships the ready scenarios: copies ``scenarios/*.yaml`` and its README into
the wheel as package data, ``fiscosim/scenarios/``, so that ``fiscosim run quickstart`` works
wherever fiscosim is installed (:mod:`fiscosim.scenario.library` finds them there).

The repository's ``scenarios/`` stays their one source: nothing is copied into the source tree,
and an editable install reads the checkout's folder itself. Everything else about the package
is in pyproject.toml; MANIFEST.in puts ``scenarios/`` into the sdist, which this step reads
when a wheel is built from it.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
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


setup(cmdclass={"build_py": BuildPyWithScenarios})
