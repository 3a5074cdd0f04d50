"""Writes a run's result files atomically: summary.json, blocks.csv and manifest.json.

All files are written under temporary names first and renamed only when every one of them is
complete, so a failed run leaves no partial results behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

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


def write_results(out_dir: str | os.PathLike, files: dict[str, str]) -> list[Path]:
    """Writes ``{file name: text}`` into ``out_dir``: all to temporary names, then renamed."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target)
            staged.append((tmp, target / name))
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]
