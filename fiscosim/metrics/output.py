"""Writes a run's result files atomically: summary.json, blocks.csv and manifest.json.

All files are written under temporary names first and renamed only when every one of them is
complete, so a failed run leaves no partial results behind.

Temporary names are ``.<final name>.fiscosim-<pid>-<random>``: recognisably ours and carrying
the writer's PID, so that a later run can remove the ones a killed process (SIGKILL, a power
cut) left behind without touching another running process's files
(:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import re
import secrets
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from fiscosim.version import MODEL_EPOCH

PACKAGES = ("fiscosim", "numpy", "simpy", "networkx", "msgpack", "pydantic", "coincurve",
            "pyyaml", "tongsuopy", "ipp-crypto")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a run's numbers depend on."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


GIT_TIMEOUT_S = 2.0
"""How long each ``git`` call may take when finding the commit; slower means no commit."""


def source_root() -> Path:
    """The folder that holds the ``fiscosim`` package: a clone's root when run from one."""
    return Path(__file__).resolve().parent.parent.parent


def git_state(root: Path | None = None) -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` of the clone fiscosim runs from, or None.

    None unless ``root`` (the package's source folder) is itself a git work tree: an
    installed copy inside some other repository (a virtualenv in a clone) is not that
    repository's commit. ``dirty`` means tracked files differ from the commit (untracked
    files, such as results folders, do not count). Never raises: no git, a slow git (each
    call is cut at :data:`GIT_TIMEOUT_S`) or an unsafe repository give None.
    """
    root = source_root() if root is None else root
    if not (root / ".git").exists():
        return None

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=True, stdin=subprocess.DEVNULL)
        return done.stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return {"commit": commit, "dirty": dirty}


def cpu_info(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> dict[str, Any]:
    """The CPU: ``model``, ``cores`` this process may use, and ``avx512ifma``.

    ``avx512ifma`` (the instructions the fast signature verifiers use) is read from
    ``/proc/cpuinfo``'s flags; None where that file is missing (not Linux).
    """
    model: str | None = None
    flags: set[str] | None = None
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip() or None
                elif key == "flags" and flags is None:
                    flags = set(value.split())
                if model is not None and flags is not None:
                    break
    except OSError:
        pass
    if model is None:
        model = platform.processor() or None
    try:
        cores: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count()
    return {"model": model, "cores": cores,
            "avx512ifma": None if flags is None else "avx512ifma" in flags}


def provenance(command_line: Sequence[str] | None,
               overrides: Sequence[str]) -> dict[str, Any]:
    """Where a result came from, for manifest.json (never for the deterministic summary).

    ``command_line`` is ``sys.argv`` of a ``fiscosim run`` (None from the Python API).
    """
    try:
        version: str | None = metadata.version("fiscosim")
    except metadata.PackageNotFoundError:
        version = None
    return {
        "command_line": list(command_line) if command_line is not None else None,
        "overrides": list(overrides),
        "fiscosim_version": version,
        "model_epoch": MODEL_EPOCH,
        "git": git_state(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_info(),
    }


def blocks_csv(columns: dict[str, np.ndarray]) -> str:
    """The block table as CSV text (a header line, then one row per committed block)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    count = len(next(iter(columns.values()))) if columns else 0
    for i in range(count):
        writer.writerow([columns[name][i] for name in names])
    return buffer.getvalue()


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


TEMPORARY = re.compile(r"\..+\.fiscosim-(?P<pid>[1-9][0-9]{0,9})-[0-9a-f]{8}")
"""The name of a temporary file (or probe folder) of a fiscosim process, with its PID."""


def temporary_name(final: Path) -> Path:
    """A fresh temporary name beside ``final``: ``.<name>.fiscosim-<pid>-<random>``."""
    return final.with_name(f".{final.name}.fiscosim-{os.getpid()}-{secrets.token_hex(4)}")


def create_temporary(final: str | os.PathLike) -> tuple[int, Path]:
    """Creates a temporary file beside ``final``; returns its descriptor (for writing) and path.

    Mode 0666 less the umask, as ``open()`` would create ``final`` (0644 with the usual umask
    022): result files are for sharing, unlike tempfile.mkstemp's 0600.
    """
    final = Path(final)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = temporary_name(final)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {final}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_temporaries(folder: str | os.PathLike, *, own: bool = False) -> list[Path]:
    """Removes the fiscosim temporaries in ``folder`` whose process is gone; returns them.

    A process that was killed before it could clean up (SIGKILL) leaves its temporaries; the
    PID in their names tells whether their writer still runs. With ``own``, this process's
    temporaries go too (after a stop, whatever an interrupted write had not yet tidied).
    A PID reused by an unrelated process only keeps a stale file a while longer.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    me = os.getpid()
    for entry in entries:
        match = TEMPORARY.fullmatch(entry.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if (pid == me and not own) or (pid != me and _alive(pid)):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                path.rmdir()  # a probe folder; never one with anything in it
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def write_results(out_dir: str | os.PathLike, files: dict[str, str]) -> list[Path]:
    """Writes ``{file name: text}`` into ``out_dir``: all to temporary names, then renamed.

    Interrupted anywhere (an error, Ctrl-C, SIGTERM), it leaves none of the new files: the
    temporaries are removed and, if renaming had begun, the files already renamed too, so a
    folder never holds a summary from one run beside blocks from another.
    """
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    renamed: list[Path] = []
    try:
        for name, text in files.items():
            fd, tmp = create_temporary(target / name)
            staged.append((tmp, target / name))
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        for tmp, final in staged:
            os.replace(tmp, final)
            renamed.append(final)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for final in renamed:
            final.unlink(missing_ok=True)
        raise
    return [final for _, final in staged]
