"""A sweep's plots, drawn from its tables: mean lines with confidence bands, and CDFs.

Each plot is one spec (``x``, ``y``, optional ``hue``, ``facet``, ``logx``, ``logy``, ``kind``):
per hue value, the mean of metric ``y`` over param ``x`` with a band from ``ci_low`` to
``ci_high`` (tornettools' ``draw_line_ci``), one axes per ``facet`` value, and published
points from a reference table drawn beside the simulated ones (as Delphi-BFT does). Each plot
is written as PNG, SVG and a CSV of exactly the numbers drawn.

A spec reads the table :func:`table_of` names: ``points``; ``max_tps`` for ``y:
max_sustainable_tps`` (the capacity search's answer, drawn as a line like a metric); or
``latency_cdf`` for ``kind: cdf``, the mean latency at each probability with a band across
runs (tornettools' ``draw_cdf_ci``), the same series, hue and facets as a line plot.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas, never through pyplot,
so drawing touches no global state (a notebook's backend stays as it was), and under
matplotlib's default style, so a user's matplotlibrc does not change the files. The same
points give byte-identical files: the SVG's ids are salted with a fixed string and neither
file records a date or the software that wrote it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fiscosim.metrics.output import temporary_name
from fiscosim.sweep.tables import CDF_STAT_COLUMNS, STAT_COLUMNS, all_or_none, require

if TYPE_CHECKING:
    import pyarrow as pa
    from matplotlib.figure import Figure

SPEC_KEYS = frozenset({"x", "y", "hue", "facet", "logx", "logy", "kind", "reference", "name"})
"""What a plot spec may hold. ``reference`` (a file) is read by the caller and handed to
:func:`plot` as a table; ``name`` replaces the file names' stem."""

KINDS = ("line", "bar", "cdf")

CSV_COLUMNS = ("x", "hue", "facet", "mean", "ci_low", "ci_high", "n", "series")
"""The plotted numbers' CSV: one row per drawn point, published points last with n empty."""

CDF_CSV_COLUMNS = ("probability", "hue", "facet", "mean", "ci_low", "ci_high", "n", "series")
"""A CDF's CSV: one row per drawn probability; mean, ci_low and ci_high are the latency (ms)."""

CDF_TABLES = {"latency_ms": "latency_cdf"}
"""The ``y`` a ``kind: cdf`` spec may draw, and the table (and the files' stem) it reads."""

MAX_TPS = "max_sustainable_tps"
"""The ``y`` that reads ``tables/max_tps`` (a search's answer per point) instead of points."""

MAX_TPS_COLUMNS = frozenset({"label", "searches", MAX_TPS, "ci_low", "ci_high", "std",
                             "first_failing_tps", "failed_criterion", "bound_by",
                             "non_monotone", "probes"})
"""The columns of ``tables/max_tps`` (fiscosim.sweep.search.max_tps_rows) that are not params."""

_CDF_FIXED = frozenset({"point_id", "label", "probability", *CDF_STAT_COLUMNS})

_SVG_SALT = "fiscosim"
_PUBLISHED_MARKERS = ("*", "D", "X", "P", "^", "v")


def _fmt(value: Any) -> str:
    """A value as the CSV and the legend show it: exact, and empty for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def _order(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def _distinct(values: Any) -> list[Any]:
    """The distinct values in sorted order (None last)."""
    return [value for _, value in sorted({_order(v): v for v in values}.items())]


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def stem(spec: Mapping[str, Any]) -> str:
    """The plot's file name without suffix: ``<y>_vs_<x>[_by_<hue>][_per_<facet>]``.

    Dots stay (they are the dotted names); path separators, spaces and other characters a
    shell or a file system would trip on become ``_``. ``_per_<facet>`` keeps two plots that
    differ only by their facet apart.

    A CDF's is ``<table>[_by_<hue>][_per_<facet>]``, its table named by :data:`CDF_TABLES`.

    >>> stem({"x": "nodes.count", "y": "latency_ms.p95", "hue": "case"})
    'latency_ms.p95_vs_nodes.count_by_case'
    >>> stem({"kind": "cdf", "y": "latency_ms", "hue": "case"})
    'latency_cdf_by_case'
    """
    if spec.get("name"):
        raw = str(spec["name"])
    else:
        if spec.get("kind") == "cdf":
            y = spec.get("y") or "latency_ms"
            raw = CDF_TABLES.get(y, f"{y}_cdf")
        else:
            raw = f"{spec.get('y')}_vs_{spec.get('x')}"
        if spec.get("hue"):
            raw += f"_by_{spec['hue']}"
        if spec.get("facet"):
            raw += f"_per_{spec['facet']}"
    return re.sub(r"[^\w.=+,-]+", "_", raw).lstrip(".") or "plot"


def table_of(spec: Mapping[str, Any]) -> str:
    """The table (``tables/<name>.parquet``) a spec draws from: ``latency_cdf`` for ``kind:
    cdf`` (:data:`CDF_TABLES`), ``max_tps`` for ``y: max_sustainable_tps``, else ``points``.

    >>> table_of({"x": "nodes.count", "y": "max_sustainable_tps"})
    'max_tps'
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"plot spec: a mapping of x, y, hue, .. is needed, not {spec!r}")
    if spec.get("kind") == "cdf":
        y = spec.get("y") or "latency_ms"
        if y not in CDF_TABLES:
            raise ValueError(f"plot spec: kind cdf draws y {', '.join(CDF_TABLES)}, not {y!r}")
        return CDF_TABLES[y]
    return "max_tps" if spec.get("y") == MAX_TPS else "points"


def _check_keys(spec: Mapping[str, Any]) -> None:
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        raise ValueError(f"plot spec: unknown keys {unknown} (known: {sorted(SPEC_KEYS)})")


def _check_roles(spec: Mapping[str, Any], params: Sequence[str]) -> None:
    """x, hue and facet (those given) are params of the sweep, and different ones."""
    for key in ("x", "hue", "facet"):
        name = spec.get(key)
        if name and name not in params:
            raise ValueError(f"plot spec: {key} {name!r} is not a param of the sweep "
                             f"(params: {', '.join(params) or 'none'})")
    roles = [spec[key] for key in ("x", "hue", "facet") if spec.get(key)]
    if len(set(roles)) != len(roles):
        raise ValueError(f"plot spec: x, hue and facet must be different params, got {roles}")


def _check_spec(spec: Mapping[str, Any], params: Sequence[str], metrics: Sequence[str]) -> None:
    _check_keys(spec)
    for key in ("x", "y"):
        if not spec.get(key):
            raise ValueError(f"plot spec: {key!r} is required")
    _check_roles(spec, params)
    if spec["y"] not in metrics:
        raise ValueError(f"plot spec: y {spec['y']!r} is not a metric of the points table")
    if spec.get("kind", "line") not in KINDS:
        raise ValueError(f"plot spec: kind {spec['kind']!r} is not one of {', '.join(KINDS)}")


def _check_cdf_spec(spec: Mapping[str, Any]) -> None:
    """A ``kind: cdf`` spec: y one of :data:`CDF_TABLES`, no x (the latency is x), no logy
    (the probability axis is linear) nor reference (hue and facet: :func:`_check_roles`)."""
    _check_keys(spec)
    table_of(spec)  # refuses a y without a CDF table
    for key, why in (("x", "its x is the latency"), ("logy", "its y is a probability"),
                     ("reference", "published points are not distributions")):
        if spec.get(key):
            raise ValueError(f"plot spec: kind cdf takes no {key} ({why})")


def _params(points: pa.Table, fixed: frozenset[str] | None = None) -> list[str]:
    """The param columns of a table: the columns that are not ``fixed`` (by default, those of
    the ``points`` table that are not params)."""
    if fixed is None:
        fixed = frozenset({"point_id", "label", "metric", *STAT_COLUMNS})
    return [name for name in points.column_names if name not in fixed]


def max_tps_points(max_tps: pa.Table) -> pa.Table:
    """``tables/max_tps`` in the ``points`` table's shape, so it is drawn as a metric is: one
    row per point, metric ``max_sustainable_tps``, mean the search's answer (per_seed: the mean
    over the seeds, with its interval; pooled: one value, no interval), n the searches.

    Its params are the columns not in :data:`MAX_TPS_COLUMNS`; the point id is the label.
    """
    pa = require("pyarrow", "the sweep's plots")
    names = max_tps.column_names
    if MAX_TPS not in names or "label" not in names:
        raise ValueError(f"plot spec: y {MAX_TPS} needs the max_tps table (label, {MAX_TPS}, "
                         f"..); this table has {', '.join(names)}")
    count = max_tps.num_rows

    def numbers(name: str | None, kind: Any) -> pa.Array:
        """A column as ``kind``; all null where the table has no such column."""
        values = max_tps.column(name).to_pylist() if name in names else [None] * count
        cast = int if kind == pa.int64() else float
        return pa.array([None if v is None else cast(v) for v in values], type=kind)

    labels = pa.array([str(v) for v in max_tps.column("label").to_pylist()], type=pa.string())
    columns: dict[str, pa.Array] = {"point_id": labels, "label": labels}
    for name in names:
        if name not in MAX_TPS_COLUMNS:
            columns[name] = max_tps.column(name).combine_chunks()
    columns["metric"] = pa.array([MAX_TPS] * count, type=pa.string())
    columns["n"] = numbers("searches", pa.int64())
    columns["n_failed"] = pa.array([0] * count, type=pa.int64())
    for name, source in (("mean", MAX_TPS), ("std", "std"), ("sem", None), ("ci_low", "ci_low"),
                         ("ci_high", "ci_high"), ("median", None), ("min", None),
                         ("max", None)):
        columns[name] = numbers(source, pa.float64())
    return pa.table(columns)


def _figure(points: pa.Table, spec: Mapping[str, Any],
            reference: pa.Table | None = None) -> tuple[Figure, list[dict[str, Any]]]:
    """Draws one spec; returns the Figure and the rows of numbers it drew (CSV_COLUMNS, or
    CDF_CSV_COLUMNS for a CDF). ``points`` is the table :func:`table_of` names for the spec.

    Call it inside :func:`_style` so the figure takes the fixed style.
    """
    if isinstance(spec, Mapping) and spec.get("kind") == "cdf":
        return _cdf_figure(points, spec, reference)
    if isinstance(spec, Mapping) and spec.get("y") == MAX_TPS \
            and "metric" not in points.column_names:
        points = max_tps_points(points)
    pa_types = require("pyarrow.types", "the sweep's plots")

    params = _params(points)
    _check_spec(spec, params, sorted(set(points.column("metric").to_pylist())))
    x, y = spec["x"], spec["y"]
    hue, facet = spec.get("hue") or None, spec.get("facet") or None
    kind = spec.get("kind", "line")
    rows = [row for row in points.to_pylist() if row["metric"] == y and row["mean"] is not None]

    x_type = points.schema.field(x).type
    numeric_x = kind == "line" and (pa_types.is_integer(x_type) or pa_types.is_floating(x_type))
    if spec.get("logx") and not numeric_x:
        raise ValueError(f"plot spec: logx needs a numeric x drawn as a line ({x!r}, {kind})")

    series_key, series, colours = _series(rows, params, {x, hue, facet}, hue, y)
    facets = _distinct(row[facet] for row in rows) if facet else [None]

    if numeric_x:
        categories: list[str] = []
    else:
        categories = [_fmt(v) for v in _distinct(row[x] for row in rows)]
        if reference is not None:
            x_ref = "x" if "x" in reference.column_names else x
            if x_ref in reference.column_names:
                more = {_fmt(v) for v in reference.column(x_ref).to_pylist()} - set(categories)
                categories += sorted(more)
    position = {label: float(index) for index, label in enumerate(categories)}

    def where(value: Any) -> float:
        return _float(value) if numeric_x else position[_fmt(value)]

    legend = bool(hue) or len(series) > 1 or reference is not None
    figure, axes, ncols = _canvas(len(facets), legend)

    drawn: list[dict[str, Any]] = []
    width = 0.8 / max(len(series), 1)
    for ax, facet_value in zip(axes, facets, strict=True):
        here = [row for row in rows if not facet or _fmt(row[facet]) == _fmt(facet_value)]
        for index, (key, label) in enumerate(series):
            line = sorted((row for row in here if series_key(row) == key),
                          key=lambda row: _order(row[x]))
            if not line:
                continue
            xs = [where(row[x]) for row in line]
            means = [_float(row["mean"]) for row in line]
            lows = [_float(row["ci_low"]) for row in line]
            highs = [_float(row["ci_high"]) for row in line]
            colour = colours[key]
            if kind == "line":
                ax.plot(xs, means, marker="o", markersize=4, color=colour, label=label)
                _draw_band(ax, xs, means, lows, highs, colour)
            else:
                offset = (index - (len(series) - 1) / 2) * width
                errors = [[m - lo for m, lo in zip(means, lows, strict=True)],
                          [hi - m for m, hi in zip(means, highs, strict=True)]]
                ax.bar([v + offset for v in xs], means, width=width, color=colour, label=label,
                       yerr=errors, capsize=3, error_kw={"linewidth": 1})
            for row in line:
                drawn.append({"x": row[x], "hue": row[hue] if hue else None,
                              "facet": facet_value if facet else None, "mean": row["mean"],
                              "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                              "n": row["n"], "series": label})
        if reference is not None:
            drawn += _draw_reference(ax, reference, spec, facet_value, where)

    for index, ax in enumerate(axes):
        if facet:
            ax.set_title(f"{facet} = {_fmt(facets[index])}", fontsize="medium")
        ax.set_xlabel(x)
        if index % ncols == 0:
            ax.set_ylabel(y)
        if spec.get("logx"):
            ax.set_xscale("log")
        if spec.get("logy"):
            ax.set_yscale("log")
        if not numeric_x:
            ax.set_xticks(list(position.values()), categories)
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.set_axisbelow(True)
    if legend:
        _legend(figure, axes, hue)
    return figure, drawn


def _series(rows: list[dict[str, Any]], params: Sequence[str], placed: set[str | None],
            hue: str | None, fallback: str) -> tuple[Any, list[tuple[Any, str]], dict[Any, str]]:
    """The series of a plot: one per hue value and value of every other param that varies.

    Returns the key function (a row's series), the series as (key, legend label) in sorted
    order, and each key's colour. Params the spec does not place (``placed``: x, hue, facet)
    still tell points apart: they are folded into the series, or two points would share one
    x on one line (one curve, for a CDF). A plot with no hue and nothing varying is one series
    labelled ``fallback``.
    """
    extra = [p for p in params
             if p not in placed and len({_fmt(row[p]) for row in rows}) > 1]

    def series_key(row: dict[str, Any]) -> tuple[tuple[bool, Any], ...]:
        return tuple(_order(row[p]) for p in ([hue] if hue else []) + extra)

    def series_label(row: dict[str, Any]) -> str:
        parts = [_fmt(row[hue])] if hue else []
        parts += [f"{p}={_fmt(row[p])}" for p in extra]
        return ", ".join(parts) or fallback

    series = sorted({series_key(row): series_label(row) for row in rows}.items())
    colours = {key: f"C{index % 10}" for index, (key, _) in enumerate(series)}
    return series_key, series, colours


def _canvas(count: int, legend: bool) -> tuple[Figure, list[Any], int]:
    """A figure of ``count`` axes (facets), three to a row, sharing y, with room for a legend
    beside them; returns it, its axes and the number of columns."""
    figure_module = require("matplotlib.figure", "the sweep's plots")
    agg = require("matplotlib.backends.backend_agg", "the sweep's plots")
    ncols = min(count, 3)
    nrows = math.ceil(count / ncols)
    figure = figure_module.Figure(figsize=(5.0 * ncols + (2.5 if legend else 0.0), 3.8 * nrows),
                                  layout="constrained")
    agg.FigureCanvasAgg(figure)
    grid = figure.subplots(nrows, ncols, squeeze=False, sharey=True)
    axes = [ax for line in grid for ax in line]
    for ax in axes[count:]:
        ax.remove()
    return figure, axes[:count], ncols


def _legend(figure: Figure, axes: list[Any], title: str | None) -> None:
    """One legend for the figure, beside the axes: a series missing from the first facet is
    still named, and no legend hides a line or a bar."""
    if not axes:
        return
    entries: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    figure.legend(list(entries.values()), list(entries), title=title, fontsize="small",
                  title_fontsize="small", loc="outside right upper")


def _cdf_figure(table: pa.Table, spec: Mapping[str, Any],
                reference: pa.Table | None = None) -> tuple[Figure, list[dict[str, Any]]]:
    """Draws a ``kind: cdf`` spec from a ``latency_cdf`` table: per series and facet, the mean
    latency at each probability (x the latency, y the probability) and the band from ci_low
    to ci_high across runs; returns the Figure and its rows (:data:`CDF_CSV_COLUMNS`)."""
    _check_cdf_spec(spec)
    if reference is not None:
        raise ValueError("plot spec: kind cdf takes no reference (published points are not "
                         "distributions)")
    missing = sorted(_CDF_FIXED - set(table.column_names))
    if missing:
        raise ValueError(f"plot spec: kind cdf needs a latency_cdf table; this one has no "
                         f"{', '.join(missing)}")
    params = _params(table, _CDF_FIXED)
    _check_roles(spec, params)
    y = spec.get("y") or "latency_ms"
    hue, facet = spec.get("hue") or None, spec.get("facet") or None
    rows = [row for row in table.to_pylist() if row["mean"] is not None]
    series_key, series, colours = _series(rows, params, {hue, facet}, hue, y)
    facets = _distinct(row[facet] for row in rows) if facet else [None]
    legend = bool(hue) or len(series) > 1
    figure, axes, ncols = _canvas(len(facets), legend)

    drawn: list[dict[str, Any]] = []
    for ax, facet_value in zip(axes, facets, strict=True):
        here = [row for row in rows if not facet or _fmt(row[facet]) == _fmt(facet_value)]
        for key, label in series:
            curve = sorted((row for row in here if series_key(row) == key),
                           key=lambda row: row["probability"])
            if not curve:
                continue
            probabilities = [float(row["probability"]) for row in curve]
            means = [_float(row["mean"]) for row in curve]
            ax.plot(means, probabilities, color=colours[key], label=label)
            _draw_band_x(ax, probabilities, [_float(row["ci_low"]) for row in curve],
                         [_float(row["ci_high"]) for row in curve], colours[key])
            drawn += [{"probability": row["probability"], "hue": row[hue] if hue else None,
                       "facet": facet_value if facet else None, "mean": row["mean"],
                       "ci_low": row["ci_low"], "ci_high": row["ci_high"], "n": row["n"],
                       "series": label} for row in curve]

    for index, ax in enumerate(axes):
        if facet:
            ax.set_title(f"{facet} = {_fmt(facets[index])}", fontsize="medium")
        ax.set_xlabel(y)
        if index % ncols == 0:
            ax.set_ylabel("probability")
        if spec.get("logx"):
            ax.set_xscale("log")
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.set_axisbelow(True)
    if legend:
        _legend(figure, axes, hue)
    return figure, drawn


def _draw_band_x(ax: Any, probabilities: list[float], lows: list[float], highs: list[float],
                 colour: str) -> None:
    """A CDF's interval: a band across x (the latency) at each probability, where it is known
    (n ≥ 2 runs); none at all for a single run."""
    known = [math.isfinite(lo) and math.isfinite(hi) for lo, hi in zip(lows, highs, strict=True)]
    if not any(known):
        return
    ax.fill_betweenx(probabilities, lows, highs, where=known, color=colour, alpha=0.25,
                     linewidth=0)


def _draw_band(ax: Any, xs: list[float], means: list[float], lows: list[float],
               highs: list[float], colour: str) -> None:
    """The interval as a band; a point with n < 2 (NaN bounds) has none and breaks the band.

    A point with an interval between two without one would be a band of zero width, so it
    gets an error bar instead.
    """
    known = [math.isfinite(lo) and math.isfinite(hi) for lo, hi in zip(lows, highs, strict=True)]
    if sum(known) == 0:
        return
    ax.fill_between(xs, lows, highs, color=colour, alpha=0.25, linewidth=0)
    for i, ok in enumerate(known):
        alone = ok and not (i > 0 and known[i - 1]) and not (i + 1 < len(known) and known[i + 1])
        if alone:
            ax.errorbar([xs[i]], [means[i]], yerr=[[means[i] - lows[i]], [highs[i] - means[i]]],
                        fmt="none", ecolor=colour, alpha=0.6, capsize=3, linewidth=1)


def _draw_reference(ax: Any, reference: pa.Table, spec: Mapping[str, Any], facet_value: Any,
                    where: Any) -> list[dict[str, Any]]:
    """Draws the published points on one axes; returns their rows for the CSV."""
    names = reference.column_names
    x_ref = "x" if "x" in names else spec["x"]
    y_ref = "y" if "y" in names else spec["y"]
    if x_ref not in names or y_ref not in names:
        raise ValueError(f"plot reference: needs columns x and y (or {spec['x']!r} and "
                         f"{spec['y']!r}); it has {', '.join(names)}")
    facet = spec.get("facet")
    rows = reference.to_pylist()
    if facet and facet in names:
        # A reference that names the facet goes only on its own facet's axes.
        rows = [row for row in rows if _fmt(row[facet]) == _fmt(facet_value)]
    # Markers by the label's place among all the reference's labels: the same on every facet.
    groups = _distinct(row.get("label") for row in reference.to_pylist())
    drawn = []
    for index, group in enumerate(groups):
        mine = [row for row in rows if row.get("label") == group]
        if not mine:
            continue
        label = "published" if group is None else f"published: {group}"
        ax.plot([where(row[x_ref]) for row in mine], [_float(row[y_ref]) for row in mine],
                linestyle="none", marker=_PUBLISHED_MARKERS[index % len(_PUBLISHED_MARKERS)],
                markersize=9, color="black", markerfacecolor="none", label=label)
        drawn += [{"x": row[x_ref], "hue": None, "facet": facet_value if facet else None,
                   "mean": row[y_ref], "ci_low": None, "ci_high": None, "n": None,
                   "series": label} for row in mine]
    return drawn


@contextlib.contextmanager
def _style() -> Any:
    matplotlib = require("matplotlib", "the sweep's plots")
    style = require("matplotlib.style", "the sweep's plots")
    with style.context("default"), matplotlib.rc_context(
            {"svg.hashsalt": _SVG_SALT, "svg.fonttype": "path"}):
        yield


def _csv_text(drawn: Sequence[Mapping[str, Any]],
              columns: Sequence[str] = CSV_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in drawn:
        writer.writerow([_fmt(row[name]) for name in columns])
    return buffer.getvalue()


def plot(points: pa.Table, spec: Mapping[str, Any], out_dir: Path,
         reference: pa.Table | None = None) -> list[Path]:
    """Draws one plot spec from its table; returns the PNG, SVG and CSV written.

    ``points`` is the table :func:`table_of` names for the spec: the ``points`` table, the
    ``max_tps`` table for ``y: max_sustainable_tps`` (:func:`max_tps_points`), or the
    ``latency_cdf`` table for ``kind: cdf``.

    ``spec``: ``x`` (a param), ``y`` (a metric), optional ``hue`` and ``facet`` (params),
    ``logx``, ``logy`` (bools), ``kind`` (``line``, the default, ``bar``: grouped bars with
    interval whiskers, or ``cdf``: no x, y ``latency_ms``, the mean latency at each probability
    with its band across runs), ``name`` (the files' stem, instead of :func:`stem`'s). A string
    or bool x is drawn as categories in sorted order; params the spec does not place but that
    vary become separate series, named in the legend. ``reference`` holds published points:
    columns ``x`` and ``y`` (or the spec's x and y names), optional ``label``, and optionally
    the facet param to put a point on one facet only.

    The three files are written under temporary names in ``out_dir`` and renamed into place
    together; the CSV has :data:`CSV_COLUMNS`, one row per point drawn (a CDF's
    :data:`CDF_CSV_COLUMNS`, one row per probability drawn).
    """
    out_dir = Path(out_dir)
    with _style():
        figure, drawn = _figure(points, spec, reference)
        columns = CDF_CSV_COLUMNS if spec.get("kind") == "cdf" else CSV_COLUMNS
        out_dir.mkdir(parents=True, exist_ok=True)
        base = stem(spec)
        finals = [out_dir / f"{base}.png", out_dir / f"{base}.svg", out_dir / f"{base}.csv"]
        temporaries = [temporary_name(final) for final in finals]
        with all_or_none(temporaries, finals):
            figure.savefig(temporaries[0], format="png", dpi=120, metadata={"Software": None})
            figure.savefig(temporaries[1], format="svg", metadata={"Date": None, "Creator": None})
            temporaries[2].write_text(_csv_text(drawn, columns), encoding="utf-8")
    return finals


def default_specs(params: Sequence[str], numeric_params: Sequence[str],
                  metrics: Sequence[str] | None = None, *, latency_cdf: bool = False,
                  max_tps: bool = False) -> list[dict[str, Any]]:
    """The plots of a sweep that names none: tps and latency_ms.p95 against the first axis,
    the latency CDF when there is a ``latency_cdf`` table, max TPS when a search made one.

    x is the first numeric param (else the first param, as categories), hue the first other
    param. With ``metrics`` given, a default whose y the sweep does not measure is dropped.
    ``max_tps`` adds max_sustainable_tps against the same x; ``latency_cdf`` a ``kind: cdf``
    plot with hue the first param (the first axis).

    >>> default_specs(["case", "nodes.count"], ["nodes.count"])[1]
    {'x': 'nodes.count', 'y': 'latency_ms.p95', 'hue': 'case'}
    >>> default_specs(["nodes.count"], ["nodes.count"], latency_cdf=True)[2]
    {'kind': 'cdf', 'y': 'latency_ms', 'hue': 'nodes.count'}
    """
    if numeric_params:
        x = numeric_params[0]
    elif params:
        x = params[0]
    else:
        x = None
    hue = next((p for p in params if p != x), None)
    wanted = [y for y in ("tps", "latency_ms.p95") if metrics is None or y in metrics]
    if max_tps:
        wanted.append(MAX_TPS)  # from tables/max_tps, not a metric of the runs
    specs = []
    for y in wanted if x is not None else []:
        spec: dict[str, Any] = {"x": x, "y": y}
        if hue is not None:
            spec["hue"] = hue
        specs.append(spec)
    if latency_cdf:
        cdf: dict[str, Any] = {"kind": "cdf", "y": "latency_ms"}
        if params:
            cdf["hue"] = params[0]
        specs.append(cdf)
    return specs
