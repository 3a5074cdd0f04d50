"""Reference points against FISCO BCOS's published figures (fiscosim/published, issue 16 part 3):
the shipped file is complete and valid, a bad file is one line naming the field, the fast
subset is deterministic, and `fiscosim compare-published` prints the table with an exit code
that follows the check rows' verdicts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fiscosim.published import (
    NO_HARDWARE,
    OUTSIDE,
    WITHIN,
    PublishedError,
    compare,
    exit_code,
    load_points,
    parse_points,
    verdict_of,
)
from fiscosim.published.points import FileSource, IssueSource, ScenarioPrediction
from fiscosim.published.predict import Row, scenario_data

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "fiscosim" / "published" / "points.yaml"
STAGES = ["fisco2-block2500-decode", "fisco2-block2500-verify", "fisco2-block2500-execute",
          "fisco2-block2500-commit", "fisco2-prepare10000-decode-verify"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fiscosim", "compare-published", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_every_point_has_a_full_source_a_tolerance_and_a_kind() -> None:
    points = load_points().points
    assert {p.kind for p in points} == {"fit", "check"}
    for point in points:
        source = point.source
        if isinstance(source, FileSource):
            assert re.fullmatch(r"[0-9a-f]{40}", source.commit), point.id
            assert source.path and source.quote, point.id
        else:
            assert isinstance(source, IssueSource)
            assert source.url.endswith(f"/issues/{source.issue}"), point.id
        assert 0 < point.tolerance <= 1, point.id
    checks = [p for p in points if p.kind == "check"]
    # The issue's rule: check rows are end-to-end figures (TPS within 25 %, latency 50 %).
    assert checks and all(p.published.metric in ("tps", "latency_ms") for p in checks)
    assert all(p.tolerance == (0.25 if p.published.metric == "tps" else 0.5) for p in checks)


def test_the_packaged_file_is_the_one_loaded() -> None:
    assert load_points().model_dump() == load_points(SHIPPED).model_dump()


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["points"][0].pop("tolerance"), "points[0] (id fisco2-dagtransfer-11172): "
                                                "tolerance: Field required"),
    (lambda d: d["points"][1]["source"].update(commit="7de7543b"),
     "points[1] (id fisco2-parallelok-5590): source.commit: String should match pattern"),
    (lambda d: d["points"][2].update(kind="guess"), "points[2] (id fisco2-pte-precompiled-"
                                                    "serial): kind: Input should be 'fit' or"),
    (lambda d: d["points"][5]["predict"].update(stage="dessert"), "predict.stage: Input"),
    (lambda d: d["points"][0]["conditions"].update(hardwre="x"), "conditions.hardwre: Extra"),
    (lambda d: d.update(schema_version=2), "schema_version: Input should be 1"),
    (lambda d: d["points"][1].update(id=d["points"][0]["id"]), "two points have the id"),
])
def test_a_bad_file_is_one_line_naming_the_field(edit, field: str) -> None:
    data = yaml.safe_load(SHIPPED.read_text("utf-8"))
    edit(data)
    with pytest.raises(PublishedError) as caught:
        parse_points(yaml.safe_dump(data, allow_unicode=True), "bad.yaml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("bad.yaml: ")
    assert field in message


def test_bad_yaml_syntax_and_a_missing_file_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(PublishedError, match=r"^x.yaml: line 1: YAML syntax error"):
        parse_points("points: [", "x.yaml")
    with pytest.raises(PublishedError, match="cannot read the file"):
        load_points(tmp_path / "none.yaml")


def test_verdicts_and_the_exit_code() -> None:
    assert verdict_of(1.25, 0.25, True) == (True, WITHIN)
    assert verdict_of(0.74, 0.25, True) == (False, OUTSIDE)
    assert verdict_of(3.0, 0.5, False) == (False, NO_HARDWARE)

    def row(kind: str, within: bool, stated: bool) -> Row:
        return Row(id="x", kind=kind, what="", metric="tps", unit="tx/s", published=1,
                   predicted=1, ratio=1, tolerance=0.25, within=within,
                   hardware_stated=stated, verdict="", how="", source="", note="",
                   fast=False)  # fmt: skip

    assert exit_code([row("check", True, True), row("fit", False, True)]) == 0
    assert exit_code([row("check", False, False)]) == 0  # no hardware: the gap is named
    assert exit_code([row("check", False, True)]) == 1


def test_stage_rows_follow_docs_profiles_figures() -> None:
    # docs/profiles.md's table: decode 1.9, verify 113.2, commit 24.7 ms (one core).
    rows = {r.id: r for r in compare(only=STAGES)}
    assert rows["fisco2-block2500-decode"].predicted == pytest.approx(1.9, abs=0.05)
    assert rows["fisco2-block2500-verify"].predicted == pytest.approx(113.2, abs=0.05)
    assert rows["fisco2-block2500-commit"].predicted == pytest.approx(24.7, abs=0.05)
    assert rows["fisco2-block2500-execute"].verdict == WITHIN


EXECUTOR_ROWS = ["fisco2-pte-precompiled-serial", "fisco2-pte-precompiled-4core",
                 "fisco2-pte-solidity-serial", "fisco2-pte-solidity-4core",
                 "fisco2-pte-precompiled-1core", "fisco2-pte-precompiled-2core",
                 "fisco2-pte-precompiled-3core"]


def test_three_fitted_costs_predict_the_executor_rows_they_were_not_fitted_to() -> None:
    """userTransfer (serial row), the PTE serial share (4-core row) and 2.x's EVM (Solidity
    serial row) are fitted; the Solidity 4-core row and the 2- and 3-core rows are predictions,
    and must hold within 5 % (docs/validation.md)."""
    rows = {r.id: r for r in compare(only=EXECUTOR_ROWS)}
    for fitted in ("fisco2-pte-precompiled-serial", "fisco2-pte-solidity-serial"):
        assert rows[fitted].ratio == pytest.approx(1.0, abs=0.002), fitted
    assert rows["fisco2-pte-precompiled-4core"].ratio == pytest.approx(1.0, abs=0.05)
    for predicted in ("fisco2-pte-solidity-4core", "fisco2-pte-precompiled-2core",
                      "fisco2-pte-precompiled-3core"):
        assert rows[predicted].ratio == pytest.approx(1.0, abs=0.05), predicted
    # FISCO's 1-thread PTE beat its own serial path; a serial share cannot give that.
    assert 0.8 < rows["fisco2-pte-precompiled-1core"].ratio < 0.9
    assert all(row.verdict == WITHIN for row in rows.values())


def test_the_fast_subset_is_deterministic() -> None:
    first = [r.to_dict() for r in compare(fast=True)]
    second = [r.to_dict() for r in compare(fast=True)]
    assert first == second
    assert [r["id"] for r in first] == [p.id for p in load_points().points]
    assert all(r["fast"] for r in first if r["kind"] == "check")
    assert all(r["predicted"] > 0 for r in first)


def test_only_kind_and_an_unknown_id() -> None:
    assert {r.kind for r in compare(kind="fit", only=STAGES)} == {"fit"}
    assert compare(kind="check", only=STAGES) == []
    with pytest.raises(PublishedError, match="no point 'nope'"):
        compare(only=["nope"])


@pytest.mark.skipif(not (ROOT / "scenarios" / "fisco2-cluster.yaml").is_file(),
                    reason="the repository's scenarios/ folder is not here (an installed copy)")
def test_shipped_scenarios_equal_the_files_they_name() -> None:
    from fiscosim.scenario import load_scenario
    from fiscosim.schema import Scenario

    for point in load_points().points:
        predict = point.predict
        if not isinstance(predict, ScenarioPrediction) or predict.same_as is None:
            continue
        shipped = Scenario.from_dict(predict.scenario)
        in_repo = load_scenario(ROOT / predict.same_as, check_memory=False)
        assert shipped == in_repo, f"{point.id}: differs from {predict.same_as}"
        assert scenario_data(point, fast=False)["workload"]["rate_tps"] == 80000


def test_cli_prints_the_table_and_exits_by_the_check_rows() -> None:
    fits = _cli("--only", "fisco2-block2500-execute", "--only", "fisco2-block2500-commit")
    assert fits.returncode == 0, fits.stderr
    assert "fisco2-block2500-execute" in fits.stdout and "within" in fits.stdout
    assert "no hardware stated" in fits.stdout

    as_json = _cli("--fast", "--kind", "check", "--json")
    result = json.loads(as_json.stdout.splitlines()[-1])
    outside = [r for r in result["rows"] if r["hardware_stated"] and not r["within"]]
    assert as_json.returncode == result["exit_code"] == (1 if outside else 0)
    assert {r["kind"] for r in result["rows"]} == {"check"}


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "points.yaml"
    bad.write_text("schema_version: 1\npoints: []\n", "utf-8")
    for args in (["--points", str(bad)], ["--only", "nope"], ["--kind", "both"]):
        done = _cli(*args)
        assert done.returncode == 2, args
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
        assert "Traceback" not in done.stderr
