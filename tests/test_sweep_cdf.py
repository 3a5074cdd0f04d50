"""Latency CDFs across a sweep's runs, the max-TPS plot and ``--artifacts all``.

Each run keeps its committed transactions' latencies at fixed probabilities
(``latency_quantiles.json``); ``tables/latency_cdf`` puts a Student t interval across runs on
each quantile (tornettools' draw_cdf_ci); ``kind: cdf`` plots draw it. The max-TPS plot draws
``tables/max_tps`` like a metric. ``--artifacts all`` keeps each run's transaction table.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT, tiny_sweep
from scipy import stats as sp

pa = pytest.importorskip("pyarrow", reason="sweeps need the analysis extra")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("matplotlib")

from fiscosim.schema import ScenarioError  # noqa: E402
from fiscosim.sweep import campaign, tables  # noqa: E402
from fiscosim.sweep.campaign import aggregate, run_sweep, status  # noqa: E402
from fiscosim.sweep.plan import read_sweep  # noqa: E402
from fiscosim.sweep.plots import (  # noqa: E402
    CDF_CSV_COLUMNS,
    CSV_COLUMNS,
    _figure,
    default_specs,
    max_tps_points,
    plot,
    table_of,
)
from fiscosim.sweep.tables import (  # noqa: E402
    CDF_PROBABILITIES,
    latency_cdf_table,
    latency_quantiles,
)

# -- per-run quantiles -------------------------------------------------------------------------


def test_the_probabilities_are_a_fine_grid_with_the_summarys_percentiles():
    assert len(CDF_PROBABILITIES) == 202
    assert list(CDF_PROBABILITIES) == sorted(set(CDF_PROBABILITIES))
    assert CDF_PROBABILITIES[0] == 0.0 and CDF_PROBABILITIES[-1] == 1.0
    # the very doubles np.percentile(.., [50, 95, 99]) turns into quantiles
    for percent in (50, 95, 99):
        assert percent / 100 in CDF_PROBABILITIES
    assert 0.999 in CDF_PROBABILITIES and 0.005 in CDF_PROBABILITIES


def test_latency_quantiles_are_numpys_linear_percentiles_rounded_to_the_microsecond():
    rng = np.random.default_rng(3)
    ms = rng.integers(1_000, 900_000, size=997).astype(np.float64) / 1000.0
    found = latency_quantiles(ms)
    assert len(found) == len(CDF_PROBABILITIES)
    expected = np.percentile(ms, [100 * p for p in CDF_PROBABILITIES])
    assert found == pytest.approx(expected, abs=5e-4 + 1e-9)
    assert found[0] == ms.min() and found[-1] == ms.max()
    assert found == sorted(found)
    assert latency_quantiles(np.array([])) is None


# -- the latency_cdf table ---------------------------------------------------------------------

PARAMS = ["nodes.count", "case"]
RUNS = [  # run_id, point_id, label, nodes.count, case
    ("p1-s1", "p1", "4/a", 4, "a"), ("p1-s2", "p1", "4/a", 4, "a"),
    ("p1-s3", "p1", "4/a", 4, "a"),
    ("p2-s1", "p2", "7/a", 7, "a"), ("p2-s2", "p2", "7/a", 7, "a"),
    ("p3-s1", "p3", "4/b", 4, "b"),
]
PROBS = [0.0, 0.5, 0.95, 1.0]
QUANTILES = {
    "p1-s1": [10.0, 100.0, 400.0, 500.0],
    "p1-s2": [12.0, 130.0, 390.0, 520.0],
    "p1-s3": [11.0, 115.5, 450.0, 600.0],
    "p2-s1": [20.0, 200.0, 800.0, 900.0],
    "p2-s2": [22.0, 260.0, 700.0, 950.0],
    "p3-s1": [5.0, 50.0, 90.0, 99.0],
}


def runs_of(rows=RUNS) -> pa.Table:
    return pa.table({"run_id": [r[0] for r in rows], "point_id": [r[1] for r in rows],
                     "seed": list(range(len(rows))), "label": [r[2] for r in rows],
                     "nodes.count": pa.array([r[3] for r in rows], type=pa.int64()),
                     "case": [r[4] for r in rows], "tps": [1.0] * len(rows)})


def quantiles_of(run_ids) -> dict:
    return {run_id: {"probabilities": PROBS, "latency_ms": QUANTILES[run_id]}
            for run_id in run_ids}


def test_the_cdf_tables_interval_is_scipys_t_interval_on_each_quantile():
    table = latency_cdf_table(runs_of(), quantiles_of(QUANTILES), PARAMS, ci=0.9)
    assert table.column_names == ["point_id", "label", *PARAMS, "probability", "n", "mean",
                                  "std", "sem", "ci_low", "ci_high"]
    assert table.schema.field("nodes.count").type == pa.int64()
    rows = table.to_pylist()
    assert [(r["point_id"], r["probability"]) for r in rows] == [
        (p, q) for p in ("p1", "p2", "p3") for q in PROBS]
    for row in rows:
        index = PROBS.index(row["probability"])
        members = [r for r in RUNS if r[1] == row["point_id"]]
        values = np.array([QUANTILES[r[0]][index] for r in members])
        assert (row["label"], row["nodes.count"], row["case"]) == members[0][2:]
        assert row["n"] == len(values)
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-14)
        if len(values) == 1:  # p3: one run, no interval
            assert row["std"] is row["sem"] is row["ci_low"] is row["ci_high"] is None
            continue
        low, high = sp.t.interval(0.9, len(values) - 1, loc=values.mean(),
                                  scale=sp.sem(values))
        assert row["std"] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert row["sem"] == pytest.approx(sp.sem(values), rel=1e-12)
        assert row["ci_low"] == pytest.approx(low, rel=1e-10)
        assert row["ci_high"] == pytest.approx(high, rel=1e-10)
    p1_median = next(r for r in rows if r["point_id"] == "p1" and r["probability"] == 0.5)
    assert p1_median["mean"] == pytest.approx((100.0 + 130.0 + 115.5) / 3)


def test_runs_without_quantiles_add_nothing_and_none_give_no_rows():
    partial = latency_cdf_table(runs_of(), quantiles_of(["p1-s1", "p1-s2", "p2-s1"]), PARAMS)
    counts = {(r["point_id"], r["n"]) for r in partial.to_pylist()}
    assert counts == {("p1", 2), ("p2", 1)}
    empty = latency_cdf_table(runs_of(), {}, PARAMS)
    assert empty.num_rows == 0 and "probability" in empty.column_names
    with pytest.raises(ValueError, match="2 probabilities and 3 latencies"):
        latency_cdf_table(runs_of(), {"p1-s1": {"probabilities": [0.0, 1.0],
                                                "latency_ms": [1.0, 2.0, 3.0]}}, PARAMS)


# -- kind: cdf plots ---------------------------------------------------------------------------


@pytest.fixture
def cdf() -> pa.Table:
    return latency_cdf_table(runs_of(), quantiles_of(QUANTILES), PARAMS)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def num(text: str) -> float | None:
    return None if text == "" else float(text)


def test_a_cdf_plot_writes_png_svg_and_the_plotted_numbers(cdf, tmp_path):
    spec = {"kind": "cdf", "y": "latency_ms", "hue": "nodes.count", "facet": "case"}
    paths = plot(cdf, spec, tmp_path)
    assert [p.name for p in paths] == ["latency_cdf_by_nodes.count_per_case.png",
                                       "latency_cdf_by_nodes.count_per_case.svg",
                                       "latency_cdf_by_nodes.count_per_case.csv"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:2000]
    rows = read_csv(paths[2])
    assert list(rows[0]) == list(CDF_CSV_COLUMNS)
    # exactly the table's rows, facet by facet, series by series, probability by probability
    expected = [(repr(r["probability"]), str(r["nodes.count"]), r["case"], r["mean"],
                 r["ci_low"], r["ci_high"], str(r["n"]), str(r["nodes.count"]))
                for r in sorted(cdf.to_pylist(),
                                key=lambda r: (r["case"], r["nodes.count"], r["probability"]))]
    got = [(r["probability"], r["hue"], r["facet"], num(r["mean"]), num(r["ci_low"]),
            num(r["ci_high"]), r["n"], r["series"]) for r in rows]
    assert got == expected
    again = [p.read_bytes() for p in plot(cdf, spec, tmp_path / "again")]
    assert [p.read_bytes() for p in paths] == again


def test_the_cdf_figure_draws_mean_latency_against_probability_with_a_band(cdf):
    figure, drawn = _figure(cdf, {"kind": "cdf", "y": "latency_ms", "hue": "case",
                                  "logx": True})
    (ax,) = figure.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "latency_ms"
    assert ax.get_ylabel() == "probability"
    lines = {line.get_label(): line for line in ax.lines}
    # nodes.count varies but is not placed: it splits the series
    assert sorted(lines) == ["a, nodes.count=4", "a, nodes.count=7", "b, nodes.count=4"]
    p1 = [r for r in cdf.to_pylist() if r["point_id"] == "p1"]
    assert list(lines["a, nodes.count=4"].get_xdata()) == [r["mean"] for r in p1]
    assert list(lines["a, nodes.count=4"].get_ydata()) == PROBS
    # a band for the two points with several runs, none for p3's single run
    assert len(ax.collections) == 2
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 0].min() == pytest.approx(min(r["ci_low"] for r in p1))
    assert band[:, 0].max() == pytest.approx(max(r["ci_high"] for r in p1))
    assert {d["series"] for d in drawn if d["ci_low"] is None} == {"b, nodes.count=4"}


def test_a_single_run_gives_a_curve_and_no_band(cdf):
    one = cdf.filter(pa.compute.equal(cdf["point_id"], "p3"))
    figure, drawn = _figure(one, {"kind": "cdf", "y": "latency_ms"})
    (ax,) = figure.axes
    assert list(ax.lines[0].get_xdata()) == QUANTILES["p3-s1"]
    assert len(ax.collections) == 0
    assert all(d["n"] == 1 and d["ci_low"] is None for d in drawn)


@pytest.mark.parametrize(("spec", "match"), [
    ({"kind": "cdf", "y": "tps"}, "kind cdf draws y latency_ms, not 'tps'"),
    ({"kind": "cdf", "y": "latency_ms", "x": "nodes.count"}, "takes no x"),
    ({"kind": "cdf", "y": "latency_ms", "logy": True}, "takes no logy"),
    ({"kind": "cdf", "y": "latency_ms", "hue": "seed"}, "not a param"),
    ({"kind": "cdf", "y": "latency_ms", "hue": "case", "facet": "case"}, "different"),
    ({"kind": "cdf", "y": "latency_ms", "colour": "case"}, "unknown keys"),
])
def test_bad_cdf_specs_are_one_line_errors(cdf, tmp_path, spec, match):
    with pytest.raises(ValueError, match=match) as caught:
        plot(cdf, spec, tmp_path)
    assert "\n" not in str(caught.value)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_specs_name_their_table():
    assert table_of({"kind": "cdf", "y": "latency_ms"}) == "latency_cdf"
    assert table_of({"kind": "cdf"}) == "latency_cdf"
    assert table_of({"x": "a", "y": "max_sustainable_tps"}) == "max_tps"
    assert table_of({"x": "a", "y": "tps", "kind": "bar"}) == "points"


# -- the max-TPS plot --------------------------------------------------------------------------


def max_tps_table(mode: str) -> pa.Table:
    """tables/max_tps as campaign._write_search writes it (search.max_tps_rows' columns)."""
    rows = []
    for nodes, case, best in ((4, "a", 9000.0), (7, "a", 7000.0), (10, "a", 5000.0),
                              (4, "b", 8000.0), (7, "b", 6500.0), (10, "b", 4000.0)):
        per_seed = mode == "per_seed"
        rows.append({"label": f"{nodes}/{case}", "nodes.count": nodes, "case": case,
                     "searches": 3 if per_seed else 1, "max_sustainable_tps": best,
                     "ci_low": best - 400.0 if per_seed else None,
                     "ci_high": best + 400.0 if per_seed else None,
                     "std": 160.0 if per_seed else None, "first_failing_tps": best + 500,
                     "failed_criterion": "goodput_ratio", "bound_by": "consensus",
                     "non_monotone": False, "probes": 7})
    return pa.Table.from_pylist(rows)


def test_the_max_tps_plot_per_seed_has_its_band(tmp_path):
    table = max_tps_table("per_seed")
    spec = {"x": "nodes.count", "y": "max_sustainable_tps", "hue": "case"}
    paths = plot(table, spec, tmp_path)
    assert [p.name for p in paths][2] == "max_sustainable_tps_vs_nodes.count_by_case.csv"
    rows = read_csv(paths[2])
    assert list(rows[0]) == list(CSV_COLUMNS)
    expected = [(str(r["nodes.count"]), r["case"], r["max_sustainable_tps"], r["ci_low"],
                 r["ci_high"], "3") for r in sorted(table.to_pylist(),
                                                    key=lambda r: (r["case"], r["nodes.count"]))]
    assert [(r["x"], r["hue"], num(r["mean"]), num(r["ci_low"]), num(r["ci_high"]), r["n"])
            for r in rows] == expected
    figure, _ = _figure(table, spec)
    (ax,) = figure.axes
    assert len(ax.collections) == 2  # one band per case
    line = next(line for line in ax.lines if line.get_label() == "a")
    assert list(line.get_ydata()) == [9000.0, 7000.0, 5000.0]
    assert [p.read_bytes() for p in paths] == [
        p.read_bytes() for p in plot(table, spec, tmp_path / "again")]


def test_the_max_tps_plot_pooled_has_no_band(tmp_path):
    table = max_tps_table("pooled")
    figure, drawn = _figure(table, {"x": "nodes.count", "y": "max_sustainable_tps",
                                    "facet": "case"})
    assert len(figure.axes) == 2
    assert all(len(ax.collections) == 0 for ax in figure.axes)
    assert [d["mean"] for d in drawn] == [9000.0, 7000.0, 5000.0, 8000.0, 6500.0, 4000.0]
    assert all(d["ci_low"] is None and d["n"] == 1 for d in drawn)
    points = max_tps_points(table)
    assert points.column("metric").to_pylist() == ["max_sustainable_tps"] * 6
    assert points.schema.field("ci_low").type == pa.float64()


def test_default_specs_add_the_cdf_and_max_tps():
    assert default_specs(["nodes.count", "case"], ["nodes.count"], latency_cdf=True,
                         max_tps=True) == [
        {"x": "nodes.count", "y": "tps", "hue": "case"},
        {"x": "nodes.count", "y": "latency_ms.p95", "hue": "case"},
        {"x": "nodes.count", "y": "max_sustainable_tps", "hue": "case"},
        {"kind": "cdf", "y": "latency_ms", "hue": "nodes.count"}]
    assert default_specs([], [], latency_cdf=True) == [{"kind": "cdf", "y": "latency_ms"}]
    assert default_specs(["a"], ["a"], metrics=["blocks"], max_tps=True) == [
        {"x": "a", "y": "max_sustainable_tps"}]


# -- a real sweep ------------------------------------------------------------------------------

SWEEP = tiny_sweep()


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    """A sweep of 2 points × 2 seeds with --artifacts all (about a second of runs)."""
    folder = tmp_path_factory.mktemp("cdf-sweep")
    path = folder / "sweep.yaml"
    path.write_text(SWEEP)
    report = run_sweep(path, out=folder / "out", jobs=2, artifacts="all")
    assert report.exit_code == 0 and len(report.executed) == 4
    return folder / "out"


def run_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "runs").iterdir() if not p.name.startswith("."))


def test_a_sweep_keeps_each_runs_quantiles_and_they_are_the_summarys_percentiles(swept):
    for run in run_folders(swept):
        data = json.loads((run / "latency_quantiles.json").read_text())
        assert data["probabilities"] == list(CDF_PROBABILITIES)
        assert data["method"] == "linear"
        latency = json.loads((run / "summary.json").read_text())["latency_ms"]
        at = dict(zip(data["probabilities"], data["latency_ms"], strict=True))
        # the same latencies and the same method: equal, not close
        assert (at[0.5], at[0.95], at[0.99]) == (latency["p50"], latency["p95"],
                                                 latency["p99"])
        assert (at[0.0], at[1.0]) == (latency["min"], latency["max"])


def test_a_sweep_builds_the_cdf_table_and_plot(swept):
    cdf = pq.read_table(swept / "tables" / "latency_cdf.parquet")
    assert (swept / "tables" / "latency_cdf.csv").is_file()
    assert tables.table_metadata(cdf)["quantile_method"] == "linear"
    assert cdf.num_rows == 2 * len(CDF_PROBABILITIES)
    runs = pq.read_table(swept / "tables" / "runs.parquet").to_pylist()
    for row in cdf.filter(pa.compute.equal(cdf["probability"], 0.5)).to_pylist():
        p50s = [r["latency_ms.p50"] for r in runs if r["point_id"] == row["point_id"]]
        assert row["n"] == 2
        assert row["mean"] == pytest.approx(sum(p50s) / 2, rel=1e-12)
    stem_ = "latency_cdf_by_nodes.count"
    for suffix in (".png", ".svg", ".csv"):
        assert (swept / "plots" / f"{stem_}{suffix}").is_file()
    drawn = read_csv(swept / "plots" / f"{stem_}.csv")
    assert len(drawn) == cdf.num_rows


def test_artifacts_all_keeps_every_runs_transactions(swept):
    for run in run_folders(swept):
        assert (run / "blocks.csv").is_file()
        summary = json.loads((run / "summary.json").read_text())
        with open(run / "txs.csv", newline="") as handle:
            txs = list(csv.DictReader(handle))
        assert len(txs) == summary["txs_submitted"]
        assert {"tx", "submit_time", "receipt_time", "state", "measured",
                "latency_ms"} <= set(txs[0])
        states = {}
        for tx in txs:
            states[tx["state"]] = states.get(tx["state"], 0) + 1
        assert states == {k: v for k, v in summary["txs_by_state"].items() if v}
        measured = [float(tx["latency_ms"]) for tx in txs
                    if tx["measured"] == "True" and tx["state"] == "committed"]
        assert round(float(np.percentile(measured, 50)), 3) == summary["latency_ms"]["p50"]


def test_runs_without_quantiles_stay_done_and_their_cdf_table_goes(swept, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(swept, out)
    first, *rest = run_folders(out)
    (first / "latency_quantiles.json").unlink()
    aggregate(out)
    cdf = pq.read_table(out / "tables" / "latency_cdf.parquet").to_pylist()
    point = json.loads((first / "manifest.json").read_text())["sweep"]["point_id"]
    assert {r["n"] for r in cdf if r["point_id"] == point} == {1}
    assert all(r["ci_low"] is None for r in cdf if r["point_id"] == point)
    for run in rest:
        (run / "latency_quantiles.json").unlink()
    aggregate(out)
    assert not (out / "tables" / "latency_cdf.parquet").exists()
    assert not (out / "tables" / "latency_cdf.csv").exists()
    assert status(out).complete  # the file is not part of what makes a run done
    # with no table, the defaults leave the CDF out; a spec naming it is a one-line error
    made = campaign.plot(out)
    assert not any(p.name.startswith("latency_cdf") for p in made)
    text = (out / "sweep.yaml").read_text().replace(
        "  metrics:", "  plots:\n  - {kind: cdf, y: latency_ms, hue: nodes.count}\n  metrics:")
    (out / "sweep.yaml").write_text(text)
    assert "plots:" in text
    with pytest.raises(ScenarioError) as caught:
        campaign.plot(out)
    message = str(caught.value)
    assert "\n" not in message and "sweep.plots[0]" in message
    assert "tables/latency_cdf" in message


def test_a_searching_sweep_draws_max_tps_by_default_and_names_a_missing_table(swept,
                                                                              tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(swept, out)
    named = tmp_path / "named.yaml"
    named.write_text(SWEEP.replace(
        "  metrics:", "  plots:\n  - {x: nodes.count, y: max_sustainable_tps}\n  metrics:"))
    with pytest.raises(ScenarioError, match=r"sweep.plots\[0\]: plot "
                       r"max_sustainable_tps_vs_nodes.count needs tables/max_tps"):
        campaign.plot(out, read_sweep(named))
    rows = [{"label": f"nodes.count={n}", "nodes.count": n, "searches": 2,
             "max_sustainable_tps": 1000.0 * n, "ci_low": 900.0 * n, "ci_high": 1100.0 * n,
             "std": 10.0, "first_failing_tps": 1100 * n, "failed_criterion": "goodput_ratio",
             "bound_by": "consensus", "non_monotone": False, "probes": 5} for n in (4, 5)]
    tables.write_tables(out / "tables", "max_tps", pa.Table.from_pylist(rows), {})
    searching = tmp_path / "search.yaml"
    searching.write_text(SWEEP.replace(
        "  metrics:", "  search:\n    max_sustainable_tps: {start: 1000}\n  metrics:"))
    made = {p.name for p in campaign.plot(out, read_sweep(searching))}
    assert {"max_sustainable_tps_vs_nodes.count.csv", "latency_cdf_by_nodes.count.csv",
            "tps_vs_nodes.count.csv"} <= made
    drawn = read_csv(out / "plots" / "max_sustainable_tps_vs_nodes.count.csv")
    assert [(r["x"], num(r["mean"]), num(r["ci_low"]), r["n"]) for r in drawn] == [
        ("4", 4000.0, 3600.0, "2"), ("5", 5000.0, 4500.0, "2")]
    # the folder's own sweep searches nothing: a max_tps table it finds is not its own
    assert not any(p.name.startswith("max_sustainable") for p in campaign.plot(out))


def test_a_run_of_several_groups_pools_their_latencies():
    from fiscosim.scenario import load_scenario
    from fiscosim.sim.simulation import Simulation

    four = "[node0, node1, node2, node3]"
    scenario = load_scenario(REPO_ROOT / "scenarios" / "quickstart.yaml",
                             ["duration_s=2", "warmup_s=0.5", "drain_s=1",
                              "workload.rate_tps=200",
                              f"groups=[{{id: a, sealers: {four}}}, {{id: b, sealers: {four}}}]"])
    result = Simulation(scenario).run()
    pooled = tables.measured_latencies_ms(result.world)
    groups = result.summary["groups"]
    assert math.isclose(pooled.min(), min(g["latency_ms"]["min"] for g in groups.values()),
                        abs_tol=5e-4)
    assert math.isclose(pooled.max(), max(g["latency_ms"]["max"] for g in groups.values()),
                        abs_tol=5e-4)
    columns = tables.transactions_columns(result.world)
    assert set(columns["group"]) == {"a", "b"}
    assert len(columns["tx"]) == result.summary["txs_submitted"]
