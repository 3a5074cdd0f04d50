"""The sweep's plots (fiscosim/sweep/plots.py): files, plotted numbers, facets, scales."""

from __future__ import annotations

import csv
import math
import subprocess
import sys

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")

from fiscosim.sweep import plots  # noqa: E402
from fiscosim.sweep.plots import _figure, default_specs, plot, stem  # noqa: E402
from fiscosim.sweep.tables import STAT_COLUMNS  # noqa: E402

NODES = (4, 7, 10)
LATENCIES = (1.0, 50.0)
CASES = ("no-faults", "crash", "partition")


def row(nodes: int, latency: float, case: str, metric: str) -> dict:
    mean = 1000.0 / nodes + latency + 10.0 * CASES.index(case)
    if metric == "latency_ms.p95":
        mean = 100.0 * nodes + latency
    single = nodes == 7 and case == "crash"  # one seed only: no interval
    return {
        "point_id": f"{nodes:02d}{int(latency):02d}{case}", "label": f"{nodes}/{latency}/{case}",
        "nodes.count": nodes, "network.latency.mean_ms": latency, "case": case,
        "metric": metric, "n": 1 if single else 3, "n_failed": 0, "mean": mean,
        "std": None if single else 2.0, "sem": None if single else 1.0,
        "ci_low": None if single else mean - 4.0 - nodes / 10,
        "ci_high": None if single else mean + 4.0 + nodes / 10,
        "median": mean, "min": mean - 1, "max": mean + 1,
    }


SCHEMA = pa.schema(
    [("point_id", pa.string()), ("label", pa.string()), ("nodes.count", pa.int64()),
     ("network.latency.mean_ms", pa.float64()), ("case", pa.string()), ("metric", pa.string()),
     ("n", pa.int64()), ("n_failed", pa.int64())]
    + [(name, pa.float64()) for name in STAT_COLUMNS[2:]])


@pytest.fixture
def points():
    rows = [row(n, lat, case, metric) for n in NODES for lat in LATENCIES for case in CASES
            for metric in ("tps", "latency_ms.p95")]
    return pa.Table.from_pylist(sorted(rows, key=lambda r: (r["point_id"], r["metric"])),
                                schema=SCHEMA)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def num(text: str) -> float | None:
    return None if text == "" else float(text)


def test_plot_writes_png_svg_and_csv(points, tmp_path):
    spec = {"x": "nodes.count", "y": "tps", "hue": "network.latency.mean_ms", "facet": "case"}
    paths = plot(points, spec, tmp_path / "plots")
    stem_ = "tps_vs_nodes.count_by_network.latency.mean_ms_per_case"
    assert [p.name for p in paths] == [f"{stem_}.png", f"{stem_}.svg", f"{stem_}.csv"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in paths[1].read_bytes()[:2000]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)


def test_csv_holds_exactly_the_plotted_means_and_bands(points, tmp_path):
    spec = {"x": "nodes.count", "y": "tps", "hue": "network.latency.mean_ms", "facet": "case"}
    rows = read_csv(plot(points, spec, tmp_path)[2])
    assert list(rows[0]) == list(plots.CSV_COLUMNS)
    expected = []
    for case in sorted(CASES):
        for latency in LATENCIES:
            for nodes in NODES:
                r = row(nodes, latency, case, "tps")
                expected.append((str(nodes), repr(latency), case, r["mean"], r["ci_low"],
                                 r["ci_high"], str(r["n"])))
    got = [(r["x"], r["hue"], r["facet"], num(r["mean"]), num(r["ci_low"]), num(r["ci_high"]),
            r["n"]) for r in rows]
    assert got == expected


def test_the_figure_draws_the_csv_numbers(points):
    spec = {"x": "nodes.count", "y": "tps", "hue": "network.latency.mean_ms"}
    figure, drawn = _figure(points.filter(pa.compute.equal(points["case"], "no-faults")), spec)
    (ax,) = figure.axes
    lines = [line for line in ax.lines if not line.get_label().startswith("_")]
    assert [line.get_label() for line in lines] == ["1.0", "50.0"]
    for line, latency in zip(lines, LATENCIES, strict=True):
        assert list(line.get_xdata()) == list(NODES)
        assert list(line.get_ydata()) == [row(n, latency, "no-faults", "tps")["mean"]
                                          for n in NODES]
    bands = ax.collections
    assert len(bands) == 2
    for band, latency in zip(bands, LATENCIES, strict=True):
        ys = band.get_paths()[0].vertices[:, 1]
        lows = [row(n, latency, "no-faults", "tps")["ci_low"] for n in NODES]
        highs = [row(n, latency, "no-faults", "tps")["ci_high"] for n in NODES]
        assert min(ys) == pytest.approx(min(lows)) and max(ys) == pytest.approx(max(highs))
    legend = figure.legends[0]
    assert legend.get_title().get_text() == "network.latency.mean_ms"
    assert [d["mean"] for d in drawn] == [row(n, lat, "no-faults", "tps")["mean"]
                                          for lat in LATENCIES for n in NODES]


def test_a_point_with_one_seed_gets_its_mean_but_no_band(points):
    crash = points.filter(pa.compute.equal(points["case"], "crash"))
    crash = crash.filter(pa.compute.equal(crash["nodes.count"], 7))
    figure, drawn = _figure(crash, {"x": "network.latency.mean_ms", "y": "tps"})
    (ax,) = figure.axes
    assert list(ax.lines[0].get_ydata()) == [row(7, lat, "crash", "tps")["mean"]
                                             for lat in LATENCIES]
    assert ax.collections == [] or all(len(c.get_paths()) == 0 for c in ax.collections)
    assert all(d["ci_low"] is None and d["ci_high"] is None for d in drawn)


def test_svg_and_png_are_byte_identical_across_calls(points, tmp_path):
    spec = {"x": "nodes.count", "y": "latency_ms.p95", "hue": "case", "logy": True}
    reference = pa.table({"x": [4, 7], "y": [550.0, 800.0], "label": ["FISCO v3", "FISCO v3"]})
    first = [p.read_bytes() for p in plot(points, spec, tmp_path / "a", reference)]
    second = [p.read_bytes() for p in plot(points, spec, tmp_path / "b", reference)]
    assert first == second
    assert b"Date" not in first[1] and b"<dc:date>" not in first[1]


@pytest.mark.parametrize(("facet", "count"), [(None, 1), ("network.latency.mean_ms", 2),
                                              ("case", 3), ("nodes.count", 3)])
def test_facets_make_one_axes_per_value(points, facet, count):
    x = "network.latency.mean_ms" if facet == "nodes.count" else "nodes.count"
    spec = {"x": x, "y": "tps", **({"facet": facet} if facet else {})}
    figure, _ = _figure(points, spec)
    assert len(figure.axes) == count
    if facet:
        titles = [ax.get_title() for ax in figure.axes]
        values = sorted({r[facet] for r in points.to_pylist()})
        assert titles == [f"{facet} = {plots._fmt(v)}" for v in values]


def test_four_facet_values_leave_no_empty_axes():
    rows = [row(n, 1.0, "crash", "tps") | {"case": c, "point_id": f"{n}{c}"}
            for n in NODES for c in "abcd"]
    figure, _ = _figure(pa.Table.from_pylist(rows, schema=SCHEMA),
                        {"x": "nodes.count", "y": "tps", "facet": "case"})
    assert len(figure.axes) == 4


def test_log_scales(points):
    figure, _ = _figure(points, {"x": "nodes.count", "y": "tps", "hue": "case", "logy": True,
                                 "facet": "network.latency.mean_ms"})
    assert all(ax.get_yscale() == "log" and ax.get_xscale() == "linear" for ax in figure.axes)
    figure, _ = _figure(points, {"x": "nodes.count", "y": "tps", "hue": "case", "logx": True})
    assert [ax.get_xscale() for ax in figure.axes] == ["log"]
    assert [ax.get_yscale() for ax in figure.axes] == ["linear"]


def test_axis_labels_are_the_dotted_names(points):
    figure, _ = _figure(points, {"x": "nodes.count", "y": "latency_ms.p95", "hue": "case"})
    (ax,) = figure.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("nodes.count", "latency_ms.p95")


def test_string_x_is_drawn_as_sorted_categories(points, tmp_path):
    spec = {"x": "case", "y": "tps", "hue": "nodes.count", "facet": "network.latency.mean_ms"}
    figure, _ = _figure(points, spec)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(CASES)
    line = next(line for line in ax.lines if line.get_label() == "4")
    assert list(line.get_xdata()) == [0.0, 1.0, 2.0]
    assert list(line.get_ydata()) == [row(4, 1.0, c, "tps")["mean"] for c in sorted(CASES)]
    rows = read_csv(plot(points, spec, tmp_path)[2])
    assert [r["x"] for r in rows[:3]] == sorted(CASES)


def test_bars(points):
    spec = {"x": "case", "y": "tps", "hue": "nodes.count", "kind": "bar",
            "facet": "network.latency.mean_ms"}
    figure, _ = _figure(points, spec)
    ax = figure.axes[0]
    heights = sorted(patch.get_height() for patch in ax.patches)
    assert heights == sorted(row(n, 1.0, c, "tps")["mean"] for n in NODES for c in CASES)


def test_unplaced_params_that_vary_become_separate_series(points):
    _, drawn = _figure(points, {"x": "nodes.count", "y": "tps", "hue": "case"})
    labels = sorted({d["series"] for d in drawn})
    assert labels == sorted(f"{c}, network.latency.mean_ms={lat!r}" for c in CASES
                            for lat in LATENCIES)
    assert len(drawn) == len(NODES) * len(CASES) * len(LATENCIES)


def test_reference_points_are_drawn_and_written(points, tmp_path):
    spec = {"x": "nodes.count", "y": "tps", "hue": "case", "facet": "network.latency.mean_ms"}
    reference = pa.table({"nodes.count": [4, 10], "tps": [900.0, 450.0]})
    figure, _ = _figure(points, spec, reference)
    for ax in figure.axes:
        published = [line for line in ax.lines if line.get_label() == "published"]
        assert len(published) == 1
        assert list(published[0].get_xdata()) == [4.0, 10.0]
        assert list(published[0].get_ydata()) == [900.0, 450.0]
    rows = read_csv(plot(points, spec, tmp_path, reference)[2])
    published = [r for r in rows if r["series"] == "published"]
    assert [(r["facet"], r["x"], num(r["mean"]), r["ci_low"]) for r in published] == [
        (repr(lat), x, y, "") for lat in LATENCIES for x, y in (("4", 900.0), ("10", 450.0))]


def test_a_reference_naming_the_facet_goes_on_its_facet_only(points):
    spec = {"x": "nodes.count", "y": "tps", "facet": "case"}
    reference = pa.table({"x": [4], "y": [900.0], "case": ["crash"]})
    figure, _ = _figure(points, spec, reference)
    counts = [sum(line.get_label() == "published" for line in ax.lines) for ax in figure.axes]
    assert counts == [1 if c == "crash" else 0 for c in sorted(CASES)]


@pytest.mark.parametrize(("spec", "match"), [
    ({"x": "nodes.count", "y": "tps", "colour": "case"}, "unknown keys"),
    ({"x": "nodes.count", "y": "throughput"}, "not a metric"),
    ({"x": "nodes", "y": "tps"}, "not a param"),
    ({"y": "tps"}, "'x' is required"),
    ({"x": "case", "y": "tps", "logx": True}, "logx needs a numeric x"),
    ({"x": "nodes.count", "y": "tps", "hue": "nodes.count"}, "different params"),
    ({"x": "nodes.count", "y": "tps", "kind": "cdf"}, "kind"),
])
def test_bad_specs_are_refused(points, tmp_path, spec, match):
    with pytest.raises(ValueError, match=match):
        plot(points, spec, tmp_path)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_stem_keeps_dots_and_replaces_slashes_and_spaces():
    assert stem({"x": "a b", "y": "lat/ms"}) == "lat_ms_vs_a_b"
    assert stem({"x": "nodes.count", "y": "tps", "name": "my plot"}) == "my_plot"


def test_a_failed_write_leaves_no_file(points, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    real = Figure.savefig

    def broken(self, fname, **options):
        if options.get("format") == "svg":
            raise OSError("disk full")
        return real(self, fname, **options)

    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        plot(points, {"x": "nodes.count", "y": "tps"}, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_default_specs():
    assert default_specs(["nodes.count", "case"], ["nodes.count"]) == [
        {"x": "nodes.count", "y": "tps", "hue": "case"},
        {"x": "nodes.count", "y": "latency_ms.p95", "hue": "case"}]
    assert default_specs(["case", "a", "b"], ["a", "b"]) == [
        {"x": "a", "y": "tps", "hue": "case"}, {"x": "a", "y": "latency_ms.p95", "hue": "case"}]
    assert default_specs(["nodes.count"], ["nodes.count"]) == [
        {"x": "nodes.count", "y": "tps"}, {"x": "nodes.count", "y": "latency_ms.p95"}]
    assert default_specs(["case"], []) == [{"x": "case", "y": "tps"},
                                           {"x": "case", "y": "latency_ms.p95"}]
    assert default_specs([], []) == []
    assert default_specs(["a"], ["a"], metrics=["tps", "blocks"]) == [{"x": "a", "y": "tps"}]


def test_default_specs_draw(points, tmp_path):
    made = []
    for spec in default_specs(["nodes.count", "case"], ["nodes.count"]):
        made += plot(points, spec, tmp_path)
    assert len(made) == 6 and all(p.is_file() for p in made)
    assert not any(math.isnan(num(r["mean"])) for r in read_csv(made[2]))


def test_plotting_uses_no_pyplot():
    code = ("import sys, pyarrow as pa; from fiscosim.sweep.plots import _figure, _style;"
            "t = pa.table({'point_id': ['a', 'b'], 'label': ['', ''], 'k': [1, 2],"
            " 'metric': ['tps', 'tps'], 'n': [1, 1], 'mean': [1.0, 2.0],"
            " 'ci_low': [None, None], 'ci_high': [None, None]});"
            "ctx = _style(); ctx.__enter__(); _figure(t, {'x': 'k', 'y': 'tps'});"
            "print('matplotlib.pyplot' in sys.modules, 'scipy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]
