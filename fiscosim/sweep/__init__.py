"""Parameter sweeps: a plan of scenario variants over seeds, run on a local process pool or a
Dask cluster, resumable, with tidy tables, confidence intervals and plots (docs/sweeps.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class SweepTables:
    """A sweep's tables as pandas frames: ``runs`` (one row per done run) and ``points``
    (tidy: one row per point and metric, with mean, std, sem and the confidence interval)."""

    runs: Any
    points: Any


def load(folder: str | Path) -> SweepTables:
    """The tables of the sweep in ``folder`` (``fiscosim sweep`` wrote them) as pandas
    frames; needs the analysis extra.

    >>> load("results/no-such-sweep")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: results/no-such-sweep: no tables/ (run fiscosim sweep first)
    """
    from fiscosim.sweep.tables import load_frames

    tables = Path(folder) / "tables"
    if not (tables / "runs.parquet").is_file():
        raise FileNotFoundError(f"{folder}: no tables/ (run fiscosim sweep first)")
    runs, points = load_frames(tables)
    return SweepTables(runs=runs, points=points)


__all__ = ["SweepTables", "load"]
