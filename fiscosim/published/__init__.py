"""FISCO BCOS's published figures as versioned reference points, and the simulator's predictions
of them (issue 16, part 3; docs/validation.md).

The points ship as ``points.yaml`` (:mod:`.points`: the format, validated with one-line errors);
:func:`compare` predicts them and returns one row per point (:mod:`.predict`); ``fiscosim
compare-published`` prints the table.

>>> points = load_points()
>>> sorted({p.kind for p in points.points})
['check', 'fit']
"""

from __future__ import annotations

from fiscosim.published.points import (
    SCHEMA_VERSION,
    Point,
    PointsFile,
    PublishedError,
    load_points,
    parse_points,
)
from fiscosim.published.predict import (
    NO_HARDWARE,
    OUTSIDE,
    WITHIN,
    Row,
    compare,
    exit_code,
    verdict_of,
)

__all__ = [
    "NO_HARDWARE",
    "OUTSIDE",
    "SCHEMA_VERSION",
    "WITHIN",
    "Point",
    "PointsFile",
    "PublishedError",
    "Row",
    "compare",
    "exit_code",
    "load_points",
    "parse_points",
    "verdict_of",
]
