"""``fiscosim calibrate``: options, the profile's provenance, and honest fallbacks."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from click.testing import CliRunner

from fiscosim.calibrate import calibrate_host
from fiscosim.cli import main
from fiscosim.crypto import secp_batch
from fiscosim.node.costs import (
    BATCH_VERIFY_FIELDS,
    CALIBRATED_FIELDS,
    STORAGE_FIELDS,
    load_profile,
)

HAVE_PYREVM = importlib.util.find_spec("pyrevm") is not None
HAVE_ROCKSDICT = importlib.util.find_spec("rocksdict") is not None
PROVENANCE_KEYS = {"source", "how", "runs", "median", "min", "max", "noisy", "backend"}


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "option", "fix"),
    [
        (["--repeats", "0"], "--repeats", ">= 1"),
        (["--repeats", "many"], "--repeats", "whole number"),
        (["--cores", "0"], "--cores", ">= 1"),
        (["--cores", "1.5"], "--cores", "whole number"),
        (["--evm-batch", "1"], "--evm-batch", ">= 4"),
        (["--storage-block-txs", "0"], "--storage-block-txs", ">= 1"),
    ],
)
def test_bad_options_are_one_line(tmp_path, monkeypatch, args, option, fix):
    monkeypatch.chdir(tmp_path)
    result = invoke("calibrate", *args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert option in lines[0] and fix in lines[0] and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_out_under_a_file_fails_before_measuring(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = invoke("calibrate", "--out", str(blocker / "host.yaml"))
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: --out") and "not a folder" in line and "\n" not in line


def test_a_small_calibration_writes_provenance_and_loads(tmp_path):
    out = tmp_path / "host.yaml"
    result = invoke(
        "calibrate", "--out", str(out), "--name", "tiny", "--seconds", "0.05", "--repeats", "2",
        "--cores", "16", "--evm-batch", "4", "--storage-block-txs", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    profile = yaml.safe_load(out.read_text())
    measured = profile["measured"]
    assert profile["cores"] == 16 and measured["host_cores"] >= 1 and measured["repeats"] == 2
    expected = (set(CALIBRATED_FIELDS) | (set(STORAGE_FIELDS) if HAVE_ROCKSDICT else set())
                | (set(BATCH_VERIFY_FIELDS) if secp_batch.available() else set()))
    assert set(measured["provenance"]) == expected == set(profile["costs_us"])
    for field, record in measured["provenance"].items():
        assert set(record) >= PROVENANCE_KEYS
        assert record["runs"] == 2 and record["source"] == "measured"
        assert record["min"] <= record["median"] <= record["max"]
        assert profile["costs_us"][field] == round(record["median"], 3) > 0
    sm2 = measured["provenance"]["verify_sm2"]
    assert sm2.get("fallback", False) == ("tongsuopy" in sm2["backend"])
    if HAVE_PYREVM:
        assert measured["evm"]["ParallelTransfer"]["transfer"]["gas"] > 0
        assert "ParallelTransfer" in result.output and "amalgamate" in result.output
    else:
        assert "pyrevm" in measured["omitted"]["evm"]
    if HAVE_ROCKSDICT:
        assert measured["storage"]["commit_us_per_key"] > 0
        storage = measured["storage"]
        assert profile["costs_us"]["storage_write_per_key"] == round(
            storage["runs"]["write_us_per_key"]["median"], 3)
        assert profile["costs_us"]["storage_commit_per_block"] == round(
            storage["runs"]["empty_block_us"]["median"], 3)
        assert "rocksdict" in measured["provenance"]["storage_read_per_key"]["backend"]
    else:
        assert "rocksdict" in measured["omitted"]["storage"]
    loaded = load_profile(out)  # the simulator's loader takes the new fields as they are
    assert loaded.name == "tiny" and loaded.cores == 16
    assert list(tmp_path.iterdir()) == [out]


def test_missing_packages_are_left_out_and_said(monkeypatch):
    monkeypatch.setattr("fiscosim.calibrate.evm_costs.why_unavailable",
                        lambda: "pyrevm is not importable (test)")  # fmt: skip
    monkeypatch.setattr("fiscosim.calibrate.storage_costs.why_unavailable",
                        lambda: "rocksdict is not importable (test)")  # fmt: skip
    monkeypatch.setattr("fiscosim.crypto.secp_batch.available", lambda: False)
    monkeypatch.setattr("fiscosim.crypto.secp_batch.backend", lambda: "no C compiler (test)")
    profile = calibrate_host(name="bare", min_seconds=0.05, repeats=1)
    measured = profile["measured"]
    assert "evm" not in measured and "storage" not in measured
    assert measured["omitted"] == {
        "evm": "pyrevm is not importable (test)",
        "storage": "rocksdict is not importable (test)",
        "batch_verify": "the batch verifier is not built here: no C compiler (test)",
    }
    assert "evm: not measured: pyrevm is not importable (test)" in measured["warnings"]
    assert set(profile["costs_us"]) == set(CALIBRATED_FIELDS)


def test_bad_arguments_to_calibrate_host():
    with pytest.raises(ValueError, match="repeats"):
        calibrate_host(repeats=0)
    with pytest.raises(ValueError, match="cores"):
        calibrate_host(cores=0)
