"""A sweep's tables: one row per run (``runs``) and one per point × metric (``points``).

``runs`` is built from the runs' ``summary.json`` through one explicit Arrow schema; ``points``
is tidy, the statistics of :mod:`fiscosim.sweep.stats` over each point's done runs. Both are
written as Parquet (typed, with the sweep's metadata under the schema key ``fiscosim.sweep``)
and as CSV beside it, atomically and byte-for-byte reproducibly: the same runs give the same
files whichever order they finished in and whichever machine ran them.

pyarrow (and pandas, for :func:`load_frames`) come with the ``analysis`` extra; they are
imported when needed, so the rest of fiscosim runs without them.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fiscosim.metrics.output import temporary_name
from fiscosim.sweep.stats import summarize

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

METADATA_KEY = "fiscosim.sweep"
"""The Parquet schema metadata key that holds the sweep's metadata (JSON)."""

ID_COLUMNS = ("run_id", "point_id", "seed", "label")
"""The columns that identify a run, first in ``runs``."""

PROVENANCE_COLUMNS = ("fiscosim_version", "model_epoch", "commit", "dirty", "host", "wall_s")
"""Where a run came from, last in ``runs``: provenance only, never part of a run's identity."""

STAT_COLUMNS = ("n", "n_failed", "mean", "std", "sem", "ci_low", "ci_high", "median", "min",
                "max")
"""The statistics of one point × metric in ``points``, after its ``metric`` column."""

NOT_METRICS = frozenset({"seed", "wall_time_s", "sim_speed"})
"""Numeric summary fields left out of the default metric list (``metrics=None``).

``seed`` is already the ``seed`` column; ``wall_time_s`` and ``sim_speed`` measure the host,
not the model, so they would make the tables of two identical sweeps differ (a run's wall time
is kept, as provenance, in ``wall_s``). Naming them in ``metrics`` still gives them.
"""

_TABLE_WRITE = {"compression": "zstd", "compression_level": 3, "version": "2.6",
                "use_dictionary": True, "write_statistics": True}
"""Fixed Parquet options: the defaults could change between pyarrow releases."""


def require(module: str, purpose: str) -> ModuleType:
    """Imports ``module`` of the ``analysis`` extra, or says in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"{purpose} needs {module.split('.')[0]}: pip install \"fiscosim[analysis]\"",
            name=error.name,
        ) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _leaves(node: Mapping, prefix: str, out: dict[str, float]) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _leaves(value, f"{path}.", out)
        elif _is_number(value):
            out.setdefault(path, float(value))


def metric_columns(summary: Mapping, wanted: Sequence[str] | None = None) -> dict[str, float]:
    """The numeric leaves of a run's summary, by dotted path (``latency_ms.p95``), as floats.

    A metric is a number: ints and floats are (as floats), bools are not (``safety.ok`` is a
    verdict to count, not a quantity to average), nor strings, nor None (a quantity the run
    could not measure, ``view_changes.mean_s`` with no view change: it is left out here, and
    is NaN in a table where another run has it), nor lists (per-item records whose length
    changes from run to run, ``faults``, ``warnings``). NaN and infinities are kept.

    ``wanted`` restricts the result to those paths, in that order; a wanted path that is not
    a numeric leaf of this summary gives NaN, since one run may lack a metric its neighbours
    have. Paths are the keys joined by dots; a key holding a dot itself is not escaped, and
    where two paths collide the first in the summary's order wins.

    >>> metric_columns({"tps": 9, "latency_ms": {"p95": 1.5}, "safety": {"ok": True}})
    {'tps': 9.0, 'latency_ms.p95': 1.5}
    >>> metric_columns({"tps": 9}, ["tps", "blocks"])
    {'tps': 9.0, 'blocks': nan}
    """
    found: dict[str, float] = {}
    _leaves(summary, "", found)
    if wanted is None:
        return found
    return {path: found.get(path, math.nan) for path in wanted}


def _param_type(pa: ModuleType, values: Iterable[Any]) -> Any:
    """One Arrow type for a param column: bool, int64, float64, else string."""
    present = [v for v in values if v is not None]
    if not present:
        return pa.string()
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, Integral) and not isinstance(v, bool) for v in present):
        if all(-(2**63) <= v < 2**63 for v in present):
            return pa.int64()
        return pa.string()
    if all(_is_number(v) for v in present):
        return pa.float64()
    return pa.string()


def _as_string(value: Any) -> str | None:
    """A param value in a string column: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _param_values(pa: ModuleType, kind: Any, values: list[Any]) -> list[Any]:
    if kind == pa.string():
        return [_as_string(v) for v in values]
    if kind == pa.float64():
        return [None if v is None else float(v) for v in values]
    if kind == pa.int64():
        return [None if v is None else int(v) for v in values]
    return values


def param_array(values: list[Any]) -> pa.Array:
    """A param column as Arrow: one type for it (bool, int64, float64, else strings, JSON
    for what is not a string), as the runs table types its params."""
    pa = require("pyarrow", "the sweep's tables")
    kind = _param_type(pa, values)
    return pa.array(_param_values(pa, kind, values), type=kind)


def runs_table(records: Iterable[Mapping[str, Any]], params: Sequence[str],
               metrics: Sequence[str] | None = None) -> pa.Table:
    """One row per run: run_id, point_id, seed, label, the params, the metrics, provenance.

    ``records`` are dicts with ``run_id``, ``point_id``, ``seed``, ``label``, ``params`` (dotted
    name → value), ``summary`` (the run's summary.json) and ``provenance``. Param columns keep
    their dotted names; each gets one Arrow type over all runs (bool, int64, float64 where ints
    and floats mix, else string, non-strings then written as JSON); a run without the param
    gives null. Metric columns are float64 (:func:`metric_columns`); with ``metrics`` None they
    are every numeric leaf any run has, sorted, less :data:`NOT_METRICS` and any name already
    taken by another column. Rows are sorted by (point_id, seed), so the table does not
    depend on the order runs finished in.
    """
    pa = require("pyarrow", "the sweep's tables")
    rows = sorted(records, key=lambda r: (str(r["point_id"]), int(r["seed"])))
    params = list(params)
    taken = set(ID_COLUMNS) | set(params) | set(PROVENANCE_COLUMNS)
    if len(taken) != len(ID_COLUMNS) + len(params) + len(PROVENANCE_COLUMNS):
        raise ValueError(f"runs_table: params {params} repeat a name or use a reserved one "
                         f"({', '.join(ID_COLUMNS + PROVENANCE_COLUMNS)})")
    leaves = [metric_columns(r.get("summary") or {}) for r in rows]
    if metrics is None:
        metrics = sorted({path for found in leaves for path in found} - NOT_METRICS - taken)
    else:
        metrics = list(metrics)
        clash = sorted(set(metrics) & taken)
        if clash or len(set(metrics)) != len(metrics):
            raise ValueError(f"runs_table: metrics repeat a name or clash with other columns: "
                             f"{clash or metrics}")

    columns: dict[str, tuple[Any, list[Any]]] = {
        "run_id": (pa.string(), [str(r["run_id"]) for r in rows]),
        "point_id": (pa.string(), [str(r["point_id"]) for r in rows]),
        "seed": (pa.int64(), [int(r["seed"]) for r in rows]),
        "label": (pa.string(), [r.get("label") for r in rows]),
    }
    for name in params:
        values = [(r.get("params") or {}).get(name) for r in rows]
        kind = _param_type(pa, values)
        columns[name] = (kind, _param_values(pa, kind, values))
    for name in metrics:
        columns[name] = (pa.float64(), [found.get(name, math.nan) for found in leaves])
    provenance = [r.get("provenance") or {} for r in rows]
    for name, kind, cast in (("fiscosim_version", pa.string(), str),
                             ("model_epoch", pa.int64(), int),
                             ("commit", pa.string(), str),
                             ("dirty", pa.bool_(), bool),
                             ("host", pa.string(), str),
                             ("wall_s", pa.float64(), float)):
        values = [p.get(name) for p in provenance]
        columns[name] = (kind, [None if v is None else cast(v) for v in values])

    schema = pa.schema([pa.field(name, kind) for name, (kind, _) in columns.items()])
    arrays = [pa.array(values, type=kind) for kind, values in columns.values()]
    return pa.Table.from_arrays(arrays, schema=schema)


def _metric_names(runs: pa.Table, params: Sequence[str]) -> list[str]:
    """The metric columns of a runs table: the float64 columns that are not params or ids."""
    pa = require("pyarrow", "the sweep's tables")
    skip = set(ID_COLUMNS) | set(params) | set(PROVENANCE_COLUMNS)
    return [field.name for field in runs.schema
            if field.name not in skip and field.type == pa.float64()]


def points_table(runs: pa.Table, params: Sequence[str], metrics: Sequence[str] | None,
                 ci: float = 0.95, failed: Mapping[str, int] | None = None) -> pa.Table:
    """Tidy statistics: one row per point × metric, sorted by (point_id, metric).

    Columns: point_id, label, the params (as typed in ``runs``), metric, then n (the runs
    with a value: NaN is no value), n_failed (``failed``: point_id → failed runs), mean, std,
    sem, ci_low, ci_high (Student t at ``ci``), median, min, max, null where n is too small
    (:func:`fiscosim.sweep.stats.summarize`). ``metrics`` None takes every metric column of
    ``runs``. Only points with at least one done run appear: a point whose runs all failed
    has no row to carry its params.
    """
    pa = require("pyarrow", "the sweep's tables")
    params = list(params)
    metrics = _metric_names(runs, params) if metrics is None else list(metrics)
    missing = [name for name in ("point_id", "label", *params, *metrics)
               if name not in runs.column_names]
    if missing:
        raise ValueError(f"points_table: the runs table has no column {', '.join(missing)}")
    failed = failed or {}

    point_ids = runs.column("point_id").to_pylist()
    first: dict[str, int] = {}
    members: dict[str, list[int]] = {}
    for index, point_id in enumerate(point_ids):
        first.setdefault(point_id, index)
        members.setdefault(point_id, []).append(index)
    labels = runs.column("label").to_pylist()
    param_values = {name: runs.column(name).to_pylist() for name in params}
    metric_values = {name: runs.column(name).to_pylist() for name in metrics}

    out: dict[str, list[Any]] = {name: [] for name in ("point_id", "label", *params, "metric",
                                                       *STAT_COLUMNS)}
    for point_id in sorted(members):
        row = first[point_id]
        for metric in sorted(metrics):
            values = [metric_values[metric][i] for i in members[point_id]]
            stats = summarize([math.nan if v is None else v for v in values], ci)
            out["point_id"].append(point_id)
            out["label"].append(labels[row])
            for name in params:
                out[name].append(param_values[name][row])
            out["metric"].append(metric)
            out["n"].append(stats.n)
            out["n_failed"].append(int(failed.get(point_id, 0)))
            for name in STAT_COLUMNS[2:]:
                out[name].append(getattr(stats, name))

    fields = [pa.field("point_id", pa.string()), pa.field("label", pa.string())]
    fields += [runs.schema.field(name) for name in params]
    fields += [pa.field("metric", pa.string()), pa.field("n", pa.int64()),
               pa.field("n_failed", pa.int64())]
    fields += [pa.field(name, pa.float64()) for name in STAT_COLUMNS[2:]]
    schema = pa.schema(fields)
    arrays = [pa.array(out[field.name], type=field.type) for field in fields]
    return pa.Table.from_arrays(arrays, schema=schema)


CDF_PROBABILITIES: tuple[float, ...] = tuple(sorted({i / 200 for i in range(201)} | {0.999}))
"""Where a run's latency distribution is kept (``latency_quantiles.json``) and the
``latency_cdf`` table has rows: 0, 0.005, …, 1 and 0.999 (202 probabilities).

``i / 200`` is the double nearest to the decimal, so 0.5, 0.95 and 0.99 are the very numbers
``np.percentile(…, [50, 95, 99])`` turns into quantiles: the summary's p50, p95 and p99.
"""

QUANTILE_METHOD = "linear"
"""numpy's quantile method for the latencies: its default (Hyndman and Fan's type 7), the one
the summary's ``latency_ms`` percentiles use."""

CDF_STAT_COLUMNS = ("n", "mean", "std", "sem", "ci_low", "ci_high")
"""The statistics of one point × probability in ``latency_cdf``, after its ``probability``."""


def measured_latencies_ms(world: Any) -> Any:
    """The latency (ms, a float64 array) of every transaction the summary's ``latency_ms``
    describes: sent by a client inside the measured window [warm-up, end of workload) and
    answered with a receipt, from the client's send to the receipt at the client.

    The same arrays and operations as :func:`fiscosim.metrics.summary.summarise` (whose
    ``latency_ms`` is ``np.percentile`` of these); a run of several groups pools its groups'
    transactions. tests/test_sweep_cdf.py checks that p50, p95 and p99 equal the summary's.
    """
    import numpy as np

    parts = []
    for group in world.groups or [world]:
        table = group.table
        start_us = int(group.scenario.warmup_s * 1_000_000)
        end_us = group.end_of_workload_us
        submit = table.column("submit_time")
        committed = table.column("receipt_time") >= 0
        receipt = table.column("receipt_time") + getattr(group, "client_hop_us", 0)
        in_window = (submit >= start_us) & (submit < end_us)
        parts.append((receipt - submit)[in_window & committed])
    return np.concatenate(parts).astype(np.float64) / 1000.0


def latency_quantiles(latency_ms: Any,
                      probabilities: Sequence[float] = CDF_PROBABILITIES) -> list[float] | None:
    """The quantiles of ``latency_ms`` at ``probabilities`` (numpy's linear method, rounded to
    the µs as the summary rounds its percentiles), or None when there is no latency.

    >>> latency_quantiles([1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 0.9, 1.0])
    [1.0, 2.5, 3.7, 4.0]
    >>> latency_quantiles([]) is None
    True
    """
    import numpy as np

    values = np.asarray(latency_ms, dtype=np.float64)
    if values.size == 0:
        return None
    found = np.quantile(values, list(probabilities), method=QUANTILE_METHOD)
    return [round(float(v), 3) for v in found]


def transactions_columns(world: Any) -> dict[str, Any]:
    """The run's per-transaction table (``txs.csv`` of ``--artifacts all``) as numpy columns.

    One row per transaction any client sent: ``group`` (in a run of several groups), ``tx``
    (its id in its group), the transaction table's columns as the simulator keeps them (times
    in simulated µs; ``receipt_time`` is the RPC node's commit, -1 for none; codes -1 for
    none), ``state`` (its end state: :data:`fiscosim.metrics.summary.STATES`), ``measured``
    (sent inside the measured window) and ``latency_ms`` (send to the receipt at the client,
    NaN without a receipt: the summary's ``latency_ms`` covers the measured rows with one).
    """
    import numpy as np

    from fiscosim.metrics.summary import STATES, tx_states
    from fiscosim.node.txtable import _COLUMNS  # so a column added there appears here too

    groups = world.groups or [world]
    parts: list[dict[str, Any]] = []
    for group in groups:
        table = group.table
        columns: dict[str, Any] = {}
        if len(groups) > 1:
            columns["group"] = np.full(table.count, group.group_id, dtype=object)
        columns["tx"] = np.arange(table.count, dtype=np.int64)
        for name in _COLUMNS:
            columns[name] = table.column(name)
        masks, _ = tx_states(group)
        state = np.full(table.count, "", dtype=object)
        for name in STATES:
            state[masks[name]] = name
        columns["state"] = state
        submit = table.column("submit_time")
        start_us = int(group.scenario.warmup_s * 1_000_000)
        columns["measured"] = (submit >= start_us) & (submit < group.end_of_workload_us)
        receipt = table.column("receipt_time")
        latency = (receipt + getattr(group, "client_hop_us", 0) - submit) / 1000.0
        columns["latency_ms"] = np.where(receipt >= 0, latency, np.nan)
        parts.append(columns)
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def latency_cdf_table(runs: pa.Table, quantiles: Mapping[str, Mapping[str, Sequence[float]]],
                      params: Sequence[str], ci: float = 0.95) -> pa.Table:
    """Per-quantile statistics across runs: one row per point × probability, sorted so.

    ``quantiles`` maps a run id of ``runs`` to its ``latency_quantiles.json`` (``probabilities``
    and ``latency_ms``, equally long): each run's own distribution of its transactions'
    latencies. At each probability the point's runs' quantiles are summarised as
    :func:`points_table` summarises a metric (:func:`fiscosim.sweep.stats.summarize`): n, mean,
    std, sem and the Student t interval at ``ci``, null where n is too small. This is
    tornettools' ``draw_cdf_ci``: latencies pooled within a run, the interval across runs.
    Columns: point_id, label, the params (as typed in ``runs``), probability,
    :data:`CDF_STAT_COLUMNS`. Runs without quantiles add nothing; none at all give no rows.
    """
    pa = require("pyarrow", "the sweep's tables")
    params = list(params)
    missing = [name for name in ("run_id", "point_id", "label", *params)
               if name not in runs.column_names]
    if missing:
        raise ValueError(f"latency_cdf_table: the runs table has no column {', '.join(missing)}")
    run_ids = runs.column("run_id").to_pylist()
    point_ids = runs.column("point_id").to_pylist()
    labels = runs.column("label").to_pylist()
    param_values = {name: runs.column(name).to_pylist() for name in params}

    first: dict[str, int] = {}
    # point id -> probability -> the quantile of each of its runs that has one
    values: dict[str, dict[float, list[float]]] = {}
    for index, (run_id, point_id) in enumerate(zip(run_ids, point_ids, strict=True)):
        found = quantiles.get(run_id)
        if not found:
            continue
        probabilities, latencies = found["probabilities"], found["latency_ms"]
        if len(probabilities) != len(latencies):
            raise ValueError(f"latency_cdf_table: run {run_id} has {len(probabilities)} "
                             f"probabilities and {len(latencies)} latencies")
        first.setdefault(point_id, index)
        at = values.setdefault(point_id, {})
        for probability, latency in zip(probabilities, latencies, strict=True):
            at.setdefault(float(probability), []).append(
                math.nan if latency is None else float(latency))

    out: dict[str, list[Any]] = {name: [] for name in ("point_id", "label", *params,
                                                       "probability", *CDF_STAT_COLUMNS)}
    for point_id in sorted(values):
        row = first[point_id]
        for probability in sorted(values[point_id]):
            stats = summarize(values[point_id][probability], ci)
            out["point_id"].append(point_id)
            out["label"].append(labels[row])
            for name in params:
                out[name].append(param_values[name][row])
            out["probability"].append(probability)
            for name in CDF_STAT_COLUMNS:
                out[name].append(getattr(stats, name))

    fields = [pa.field("point_id", pa.string()), pa.field("label", pa.string())]
    fields += [runs.schema.field(name) for name in params]
    fields += [pa.field("probability", pa.float64()), pa.field("n", pa.int64())]
    fields += [pa.field(name, pa.float64()) for name in CDF_STAT_COLUMNS[1:]]
    schema = pa.schema(fields)
    arrays = [pa.array(out[field.name], type=field.type) for field in fields]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_tables(out_dir: Path, name: str, table: pa.Table,
                 metadata: Mapping[str, Any]) -> list[Path]:
    """Writes ``out_dir/<name>.parquet`` and ``out_dir/<name>.csv``; returns their paths.

    Both are written under temporary names in ``out_dir`` (``.<name>.fiscosim-<pid>-<hex>``,
    which :func:`fiscosim.metrics.output.remove_stale_temporaries` clears after a kill) and
    renamed into place only when both are complete, so a reader never sees a partial file
    and a failure leaves any previous version in place. The Parquet schema metadata key
    ``fiscosim.sweep`` holds ``json.dumps(metadata, sort_keys=True)``. Nothing written depends
    on the time or the machine: the same table and metadata give byte-identical files.
    """
    pq = require("pyarrow.parquet", "the sweep's tables")
    pcsv = require("pyarrow.csv", "the sweep's tables")
    text = json.dumps(metadata, sort_keys=True)  # fails before anything is written
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    finals = [out_dir / f"{name}.parquet", out_dir / f"{name}.csv"]
    temporaries = [temporary_name(final) for final in finals]
    tagged = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                            METADATA_KEY.encode(): text.encode()})
    with all_or_none(temporaries, finals):
        pq.write_table(tagged, temporaries[0], **_TABLE_WRITE)
        # The CSV's own options are fixed too; its values carry no metadata.
        pcsv.write_csv(table, temporaries[1],
                       write_options=pcsv.WriteOptions(include_header=True, delimiter=",",
                                                       quoting_style="needed"))
    return finals


@contextlib.contextmanager
def all_or_none(temporaries: Sequence[Path], finals: Sequence[Path]) -> Iterator[None]:
    """The block writes ``temporaries``; then each is renamed to its final name, or, if the
    block fails (or is interrupted), all are removed and no final file appears."""
    try:
        yield
        for temporary, final in zip(temporaries, finals, strict=True):
            os.replace(temporary, final)
    except BaseException:
        for temporary in temporaries:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        raise


def read_table(path: Path) -> pa.Table:
    """A table written by :func:`write_tables`: Parquet (typed), or its CSV by the suffix."""
    path = Path(path)
    if path.suffix == ".csv":
        return require("pyarrow.csv", "reading the sweep's tables").read_csv(path)
    return require("pyarrow.parquet", "reading the sweep's tables").read_table(path)


def table_metadata(table: pa.Table) -> dict[str, Any] | None:
    """The ``fiscosim.sweep`` metadata of a table read from Parquet, or None if it has none."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY.encode())
    return None if raw is None else json.loads(raw)


def load_frames(tables_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sweep's ``runs`` and ``points`` tables from ``tables_dir``, as pandas DataFrames."""
    require("pandas", "loading the sweep's tables as DataFrames")
    tables_dir = Path(tables_dir)
    runs = read_table(tables_dir / "runs.parquet").to_pandas()
    points = read_table(tables_dir / "points.parquet").to_pandas()
    return runs, points
