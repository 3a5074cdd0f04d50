"""The ready scenarios shipped with fiscosim, found by name: ``fiscosim run quickstart``.

The repository's ``scenarios/`` folder is their one source. A wheel carries a copy of it as
package data, ``fiscosim/scenarios/`` (``setup.py`` copies it at build time), so that a name
works wherever fiscosim is installed; from a source checkout, an editable install included,
names resolve to the checkout's own ``scenarios/`` files, the ones people edit.

A command's SCENARIO argument (and :func:`fiscosim.load_simulation`'s first) is resolved by
:func:`resolve_scenario`: an existing file is that file; otherwise an argument without a ``/``
(``quickstart``, ``quickstart.yaml``) is looked up among :func:`shipped_scenarios`; anything
else is refused in one line that lists the names::

    >>> resolve_scenario("quickstart").name
    'quickstart.yaml'
    >>> resolve_scenario("quickstrat")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fiscosim.schema.errors.ScenarioError: quickstrat: neither a file nor a shipped scenario (...
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fiscosim.schema import ScenarioError

SUFFIXES = (".yaml", ".yml")
"""What a scenario name may end in (``quickstart.yaml`` names ``quickstart`` too)."""

SUBFOLDERS = ("teach",)
"""Folders of ``scenarios/`` whose files ship too, named ``teach/normal4``: the lessons."""

LESSON_SUFFIX = ".lesson"
"""A lesson script's stem ends in it (``normal4.lesson.yaml``): shipped, not a scenario."""

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.cache
def scenario_folder() -> Path | None:
    """The folder the shipped scenarios are read from, or None if there is none.

    A source checkout's ``scenarios/`` (the package sits beside it and a ``pyproject.toml``
    naming fiscosim): what an editable install and the tests read, so an edit shows at once.
    Otherwise the installed package's ``fiscosim/scenarios/``.
    """
    checkout = _PACKAGE.parent
    project = checkout / "pyproject.toml"
    if (checkout / "scenarios").is_dir() and project.is_file():
        try:
            ours = 'name = "fiscosim"' in project.read_text("utf-8", errors="replace")
        except OSError:
            ours = False
        if ours:
            return checkout / "scenarios"
    data = resources.files("fiscosim").joinpath("scenarios")
    # A zipped package's Traversable is no Path: names need files that can be opened by path.
    if isinstance(data, Path) and data.is_dir():
        return data
    return None


def shipped_scenarios() -> dict[str, Path]:
    """Name -> file of every shipped scenario, sorted by name; the name is the file's stem.

    >>> {"quickstart", "pbft-4-50k"} <= set(shipped_scenarios())
    True
    """
    return _shipped(scenarios=True)


def shipped_lessons() -> dict[str, Path]:
    """Name (``teach/normal4``) -> file of every shipped lesson script, sorted by name."""
    return _shipped(scenarios=False)


def _shipped(scenarios: bool) -> dict[str, Path]:
    folder = scenario_folder()
    if folder is None:
        return {}
    found: dict[str, Path] = {}
    for prefix, where in [("", folder)] + [(f"{sub}/", folder / sub) for sub in SUBFOLDERS]:
        if not where.is_dir():
            continue
        for entry in where.iterdir():
            if entry.suffix not in SUFFIXES or not entry.is_file():
                continue
            lesson = entry.stem.endswith(LESSON_SUFFIX)
            if lesson != scenarios:
                stem = entry.stem[: -len(LESSON_SUFFIX)] if lesson else entry.stem
                found[prefix + stem] = entry
    return dict(sorted(found.items()))


def _looks_like_a_name(text: str) -> bool:
    separators = {"/", os.sep, os.altsep} - {None}
    text = text.strip()
    for sub in SUBFOLDERS:
        if text.startswith(f"{sub}/"):
            text = text[len(sub) + 1:]
    return bool(text) and not any(sep in text for sep in separators)


def _strip_suffix(text: str) -> str:
    for suffix in SUFFIXES:
        if text.lower().endswith(suffix):
            return text[: -len(suffix)]
    return text


def shipped_path(name: str) -> Path | None:
    """The file of the shipped scenario ``name`` (``quickstart``, ``quickstart.yaml``, in any
    case), or None.

    >>> shipped_path("Quickstart.yaml").name, shipped_path("nope")
    ('quickstart.yaml', None)
    """
    if not _looks_like_a_name(name):
        return None
    shipped = shipped_scenarios()
    stem = _strip_suffix(name.strip())
    if stem in shipped:
        return shipped[stem]
    folded = {key.casefold(): path for key, path in shipped.items()}
    return folded.get(stem.casefold())


def _names_hint(shipped: dict[str, Path], near: str) -> str:
    """The fix of an unknown name: the closest name, the list and the command that shows it."""
    if not shipped:
        return ("this installation has no shipped scenarios (reinstall fiscosim); give the "
                "path of a .yaml scenario file")
    close = difflib.get_close_matches(_strip_suffix(near).casefold(), list(shipped), n=1)
    guess = f"did you mean '{close[0]}'? " if close else ""
    return (f"{guess}give a scenario file's path or one of the shipped scenarios: "
            f"{', '.join(shipped)}; 'fiscosim scenarios' describes them")


def resolve_scenario(arg: str | os.PathLike[str]) -> Path:
    """The scenario file ``arg`` names: a path, or the name of a shipped scenario.

    An existing path is that path (a file ``quickstart`` in the working folder beats the
    shipped scenario of that name; a folder does not, so ``--out quickstart`` from an earlier
    run does not shadow it). Otherwise an argument without a ``/``, with or without ``.yaml``,
    is looked up by :func:`shipped_path`. Anything else raises :class:`ScenarioError`, one
    line naming ``arg``.
    """
    text = os.fspath(arg)
    path = Path(text)
    if text and os.path.lexists(path) and not path.is_dir():
        return path
    found = shipped_path(text)
    if found is not None:
        return found
    if text and os.path.lexists(path):
        return path  # a folder: loading it says so
    shipped = shipped_scenarios()
    if _looks_like_a_name(text):
        raise ScenarioError(text, "", "neither a file nor a shipped scenario",
                            _names_hint(shipped, text))
    named = shipped_path(path.name)
    if named is not None:
        fix = (f"check the path, or give the shipped scenario's name, "
               f"'{_strip_suffix(path.name)}', which works from any folder")
    else:
        fix = "check the path; 'fiscosim scenarios' lists the shipped scenarios, by name"
    raise ScenarioError(text or "''", "", "no such file", fix)


@dataclass(frozen=True)
class ScenarioInfo:
    """One shipped scenario as ``fiscosim scenarios`` lists it
    (:func:`fiscosim.scenario.describe_scenarios`)."""

    name: str
    description: str
    nodes: int | None
    """All nodes (sealers, observers, light); None when the file does not load."""
    roles: dict[str, int]
    """Nodes by role, those present: ``{"sealer": 4, "observer": 2}``."""
    groups: int | None
    path: Path
    error: str | None = None
    """Why the file does not load (a shipped scenario always should)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (the path as a string)."""
        return {**asdict(self), "path": str(self.path)}


def first_comment(path: Path) -> str:
    """The first comment line's text, less a leading ``<name>:``."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("#") and line.strip("#").strip():
                    text = line.strip("#").strip()
                    head, sep, rest = text.partition(": ")
                    return rest.strip() if sep and head == path.stem else text
                if line.strip() and not line.startswith("#"):
                    break
    except OSError:
        pass
    return ""


__all__ = [
    "SUFFIXES",
    "ScenarioInfo",
    "first_comment",
    "resolve_scenario",
    "scenario_folder",
    "shipped_lessons",
    "shipped_path",
    "shipped_scenarios",
]
