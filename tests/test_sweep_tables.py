"""The sweep's tables (fiscosim/sweep/tables.py): runs, tidy points, and their files."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sp

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

from fiscosim.sweep import tables  # noqa: E402
from fiscosim.sweep.tables import (  # noqa: E402
    load_frames,
    metric_columns,
    points_table,
    read_table,
    runs_table,
    table_metadata,
    write_tables,
)

PARAMS = ["nodes.count", "network.latency.mean_ms", "case", "crypto.batch", "txpool.limit"]

# point_id → (params, label); latency mixes int and float, txpool.limit int and str.
POINTS = {
    "aaaa00000001": ({"nodes.count": 4, "network.latency.mean_ms": 1, "case": "no-faults",
                      "crypto.batch": True, "txpool.limit": 1000}, "n=4,lat=1"),
    "bbbb00000002": ({"nodes.count": 7, "network.latency.mean_ms": 2.5, "case": "crash",
                      "crypto.batch": False, "txpool.limit": "auto"}, "n=7,lat=2.5"),
    "cccc00000003": ({"nodes.count": 10, "network.latency.mean_ms": 50, "case": "crash",
                      "crypto.batch": True, "txpool.limit": 4000}, "n=10,lat=50"),
}

TPS = {  # (point_id, seed) → tps
    ("aaaa00000001", 1): 981.2, ("aaaa00000001", 2): 975.4, ("aaaa00000001", 3): 990.1,
    ("bbbb00000002", 1): 640.0, ("bbbb00000002", 2): 655.5, ("bbbb00000002", 3): 629.25,
    ("cccc00000003", 1): 410.0,
}


def summary(point_id: str, seed: int) -> dict:
    tps = TPS[(point_id, seed)]
    result = {
        "scenario": "quickstart", "overrides": ["duration_s=3"], "seed": 42 + seed,
        "tps": tps, "latency_ms": {"p50": 400.0 + seed, "p95": 600.0 + 2 * seed,
                                   "p99": None},
        "blocks": 18 + seed,
        "safety": {"ok": True, "status": "ok", "violations": []},
        "messages": {"Prepare": {"count": 12 * seed, "bytes": 2856 * seed}},
        "faults": [], "wall_time_s": 1.5 * seed, "sim_speed": 3.0, "light": None,
    }
    if point_id == "bbbb00000002" and seed == 2:
        del result["blocks"]  # one run lacks a metric the others have
    if point_id == "cccc00000003":
        result["view_changes"] = {"final_view": 3, "mean_s": 1.25}  # only this run has it
    return result


def record(point_id: str, seed: int) -> dict:
    params, label = POINTS[point_id]
    return {
        "run_id": f"{point_id}-s{seed}", "point_id": point_id, "seed": seed, "label": label,
        "params": dict(params), "summary": summary(point_id, seed),
        "provenance": {"fiscosim_version": "0.1.0", "model_epoch": 6, "commit": "abc1234",
                       "dirty": seed == 3, "host": f"host{seed}", "wall_s": 1.5 * seed},
    }


def same(one, two) -> bool:
    """Tables equal in schema and in every bit of every value (NaN included, unlike equals)."""

    def serialized(table) -> bytes:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()

    return serialized(one.combine_chunks()) == serialized(two.combine_chunks())


@pytest.fixture
def records() -> list[dict]:
    return [record(point_id, seed) for point_id, seed in TPS]


# -- metric_columns --------------------------------------------------------------------------


def test_metric_columns_are_numeric_leaves_by_dotted_path():
    found = metric_columns(summary("aaaa00000001", 2))
    assert found == {
        "seed": 44.0, "tps": 975.4, "latency_ms.p50": 402.0, "latency_ms.p95": 604.0,
        "blocks": 20.0, "messages.Prepare.count": 24.0, "messages.Prepare.bytes": 5712.0,
        "wall_time_s": 3.0, "sim_speed": 3.0,
    }
    assert all(type(value) is float for value in found.values())


def test_metric_columns_skip_bools_strings_lists_and_none():
    found = metric_columns({"ok": True, "n": False, "s": "x", "l": [1, 2], "none": None,
                            "d": {"b": True, "v": 2}})
    assert found == {"d.v": 2.0}


def test_metric_columns_wanted_keeps_order_and_gives_nan_for_absent():
    found = metric_columns(summary("aaaa00000001", 1),
                           ["tps", "view_changes.mean_s", "latency_ms.p99", "safety.ok",
                            "latency_ms"])
    assert list(found) == ["tps", "view_changes.mean_s", "latency_ms.p99", "safety.ok",
                           "latency_ms"]
    assert found["tps"] == 981.2
    assert all(math.isnan(found[name]) for name in list(found)[1:])


def test_metric_columns_keep_nan_and_infinity():
    found = metric_columns({"a": math.nan, "b": math.inf})
    assert math.isnan(found["a"]) and found["b"] == math.inf


# -- runs_table -------------------------------------------------------------------------------


def test_runs_table_columns_and_types(records):
    table = runs_table(records, PARAMS)
    metrics = ["blocks", "latency_ms.p50", "latency_ms.p95", "messages.Prepare.bytes",
               "messages.Prepare.count", "tps", "view_changes.final_view",
               "view_changes.mean_s"]
    expected = pa.schema(
        [("run_id", pa.string()), ("point_id", pa.string()), ("seed", pa.int64()),
         ("label", pa.string()),
         ("nodes.count", pa.int64()), ("network.latency.mean_ms", pa.float64()),
         ("case", pa.string()), ("crypto.batch", pa.bool_()), ("txpool.limit", pa.string())]
        + [(name, pa.float64()) for name in metrics]
        + [("fiscosim_version", pa.string()), ("model_epoch", pa.int64()),
           ("commit", pa.string()), ("dirty", pa.bool_()), ("host", pa.string()),
           ("wall_s", pa.float64())])
    assert table.schema.equals(expected)
    assert table.num_rows == len(TPS)


def test_runs_table_rows(records):
    table = runs_table(records, PARAMS)
    rows = table.to_pylist()
    assert [(r["point_id"], r["seed"]) for r in rows] == sorted(TPS)
    first = rows[0]
    assert first["run_id"] == "aaaa00000001-s1"
    assert first["label"] == "n=4,lat=1"
    assert first["network.latency.mean_ms"] == 1.0
    assert first["txpool.limit"] == "1000"  # mixed with "auto": all strings
    assert first["tps"] == 981.2
    assert first["messages.Prepare.count"] == 12.0
    assert first["model_epoch"] == 6 and first["dirty"] is False and first["host"] == "host1"
    by_run = {r["run_id"]: r for r in rows}
    assert by_run["bbbb00000002-s2"]["txpool.limit"] == "auto"
    assert by_run["bbbb00000002-s3"]["dirty"] is True


def test_runs_table_metrics_are_the_sorted_union_with_nan_for_missing(records):
    table = runs_table(records, PARAMS)
    names = table.column_names[4 + len(PARAMS):-6]
    assert names == sorted(names)
    # seed is the seed column; wall time and speed measure the host (tables.NOT_METRICS).
    assert not {"seed", "wall_time_s", "sim_speed", "latency_ms.p99", "safety.ok"} & set(names)
    by_run = {r["run_id"]: r for r in table.to_pylist()}
    assert math.isnan(by_run["bbbb00000002-s2"]["blocks"])
    assert by_run["bbbb00000002-s3"]["blocks"] == 21.0
    assert by_run["cccc00000003-s1"]["view_changes.mean_s"] == 1.25
    assert math.isnan(by_run["aaaa00000001-s1"]["view_changes.mean_s"])


def test_runs_table_does_not_depend_on_the_order_runs_finished(records):
    reference = runs_table(records, PARAMS)
    shuffled = list(records)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert same(runs_table(shuffled, PARAMS), reference)
    assert not same(reference.slice(1), reference)


def test_runs_table_with_named_metrics(records):
    table = runs_table(records, PARAMS, ["tps", "wall_time_s", "not.there"])
    assert table.column_names[4 + len(PARAMS):-6] == ["tps", "wall_time_s", "not.there"]
    assert all(math.isnan(v) for v in table.column("not.there").to_pylist())


def test_runs_table_refuses_a_metric_named_like_another_column(records):
    with pytest.raises(ValueError, match="clash"):
        runs_table(records, PARAMS, ["tps", "seed"])
    with pytest.raises(ValueError, match="reserved"):
        runs_table(records, ["nodes.count", "host"])


def test_runs_table_param_types():
    def one(values):
        recs = [{"run_id": f"p{i}-s1", "point_id": f"p{i}", "seed": 1, "label": "",
                 "params": {"k": v}, "summary": {"tps": 1.0}, "provenance": {}}
                for i, v in enumerate(values)]
        table = runs_table(recs, ["k"])
        return table.schema.field("k").type, table.column("k").to_pylist()

    assert one([1, 2]) == (pa.int64(), [1, 2])
    assert one([1, 2.5]) == (pa.float64(), [1.0, 2.5])
    assert one([True, False]) == (pa.bool_(), [True, False])
    assert one(["a", "b"]) == (pa.string(), ["a", "b"])
    assert one([True, 1]) == (pa.string(), ["true", "1"])
    assert one([4, None]) == (pa.int64(), [4, None])
    assert one([None, None]) == (pa.string(), [None, None])
    assert one([[1, 2], "x"]) == (pa.string(), ["[1,2]", "x"])


def test_runs_table_of_no_runs():
    table = runs_table([], ["nodes.count"])
    assert table.num_rows == 0
    assert table.column_names == ["run_id", "point_id", "seed", "label", "nodes.count",
                                  *tables.PROVENANCE_COLUMNS]


# -- points_table -----------------------------------------------------------------------------


def test_points_table_values_against_numpy_and_scipy(records):
    runs = runs_table(records, PARAMS)
    metrics = ["tps", "blocks", "latency_ms.p95"]
    points = points_table(runs, PARAMS, metrics, ci=0.9, failed={"cccc00000003": 2})
    rows = points.to_pylist()
    assert [(r["point_id"], r["metric"]) for r in rows] == sorted(
        (p, m) for p in POINTS for m in metrics)
    for row in rows:
        values = np.array([summary(p, s).get("blocks", math.nan) if row["metric"] == "blocks"
                           else metric_columns(summary(p, s))[row["metric"]]
                           for p, s in TPS if p == row["point_id"]], dtype=float)
        values = values[~np.isnan(values)]
        params, label = POINTS[row["point_id"]]
        assert row["label"] == label
        assert row["nodes.count"] == params["nodes.count"]
        assert row["n"] == len(values)
        assert row["n_failed"] == (2 if row["point_id"] == "cccc00000003" else 0)
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-14)
        assert row["median"] == np.median(values)
        assert (row["min"], row["max"]) == (values.min(), values.max())
        if len(values) < 2:
            assert row["std"] is row["sem"] is row["ci_low"] is row["ci_high"] is None
            continue
        low, high = sp.t.interval(0.9, len(values) - 1, loc=values.mean(),
                                  scale=sp.sem(values))
        assert row["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert row["sem"] == pytest.approx(sp.sem(values), rel=1e-12)
        assert row["ci_low"] == pytest.approx(low, rel=1e-10)
        assert row["ci_high"] == pytest.approx(high, rel=1e-10)
    tps_b = next(r for r in rows if r["point_id"] == "bbbb00000002" and r["metric"] == "tps")
    assert tps_b["mean"] == pytest.approx((640.0 + 655.5 + 629.25) / 3)
    blocks_b = next(r for r in rows
                    if r["point_id"] == "bbbb00000002" and r["metric"] == "blocks")
    assert blocks_b["n"] == 2  # the run without blocks is not a value


def test_points_table_schema(records):
    runs = runs_table(records, PARAMS)
    points = points_table(runs, PARAMS, None)
    assert points.column_names == ["point_id", "label", *PARAMS, "metric",
                                   *tables.STAT_COLUMNS]
    for name in PARAMS:
        assert points.schema.field(name).type == runs.schema.field(name).type
    assert points.schema.field("n").type == pa.int64()
    assert points.schema.field("ci_low").type == pa.float64()
    metrics = set(points.column("metric").to_pylist())
    assert metrics == set(runs.column_names[4 + len(PARAMS):-6])


def test_points_table_refuses_unknown_columns(records):
    runs = runs_table(records, PARAMS)
    with pytest.raises(ValueError, match="no column"):
        points_table(runs, PARAMS, ["tps", "nope"])


# -- files ------------------------------------------------------------------------------------


META = {"name": "pbft-scaling", "model_epoch": 6, "params": PARAMS, "metrics": ["tps"]}


def test_write_tables_is_byte_identical_and_leaves_no_temporaries(records, tmp_path):
    table = runs_table(records, PARAMS)
    first = write_tables(tmp_path / "a", "runs", table, META)
    second = write_tables(tmp_path / "b", "runs", runs_table(list(reversed(records)), PARAMS),
                          dict(reversed(META.items())))
    assert [p.name for p in first] == ["runs.parquet", "runs.csv"]
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()
    again = write_tables(tmp_path / "a", "runs", table, META)
    assert again == first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["runs.csv", "runs.parquet"]


def test_write_tables_metadata_and_values_round_trip(records, tmp_path):
    table = runs_table(records, PARAMS)
    parquet, csv = write_tables(tmp_path, "runs", table, META)
    back = read_table(parquet)
    assert table_metadata(back) == META
    raw = pq.read_schema(parquet).metadata[b"fiscosim.sweep"]
    assert raw == json.dumps(META, sort_keys=True).encode()
    assert same(back.replace_schema_metadata(None), table.replace_schema_metadata(None))
    from_csv = read_table(csv)
    assert from_csv.num_rows == table.num_rows
    assert from_csv.column_names == table.column_names
    assert from_csv.column("tps").to_pylist() == table.column("tps").to_pylist()


def test_a_failed_parquet_write_leaves_nothing(records, tmp_path, monkeypatch):
    def broken(table, where, **options):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        write_tables(tmp_path, "runs", runs_table(records, PARAMS), META)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_csv_write_keeps_the_previous_files(records, tmp_path, monkeypatch):
    table = runs_table(records, PARAMS)
    write_tables(tmp_path, "runs", table, META)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    import pyarrow.csv as pcsv

    def broken(table, where, **options):
        with open(where, "wb") as handle:
            handle.write(b"run_id,poi")
        raise OSError("disk full")

    monkeypatch.setattr(pcsv, "write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_tables(tmp_path, "runs", table.slice(0, 2), {"other": True})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_write_tables_refuses_metadata_json_cannot_hold(records, tmp_path):
    with pytest.raises(TypeError):
        write_tables(tmp_path, "runs", runs_table(records, PARAMS), {"when": object()})
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_load_frames(records, tmp_path):
    runs = runs_table(records, PARAMS)
    points = points_table(runs, PARAMS, ["tps", "blocks"])
    write_tables(tmp_path, "runs", runs, META)
    write_tables(tmp_path, "points", points, META)
    runs_frame, points_frame = load_frames(tmp_path)
    assert isinstance(runs_frame, pd.DataFrame) and isinstance(points_frame, pd.DataFrame)
    assert runs_frame.shape == (runs.num_rows, runs.num_columns)
    assert points_frame.shape == (6, points.num_columns)
    assert runs_frame["nodes.count"].dtype == np.int64
    assert points_frame.loc[points_frame["metric"] == "tps", "mean"].iloc[0] == pytest.approx(
        (981.2 + 975.4 + 990.1) / 3)


def test_a_missing_analysis_package_says_how_to_install():
    with pytest.raises(ModuleNotFoundError, match=r'pip install "fiscosim\[analysis\]"'):
        tables.require("fiscosim_no_such_module", "the sweep's tables")


def test_importing_the_sweep_modules_loads_no_analysis_package_nor_scipy():
    code = ("import sys, fiscosim.sweep.stats, fiscosim.sweep.tables, fiscosim.sweep.plots;"
            "print(sorted(m for m in ('pyarrow', 'pandas', 'matplotlib', 'scipy')"
            " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
