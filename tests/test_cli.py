"""The command line: version, help, bench verify's JSON contract, calibrate, bad options."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from fiscosim import __version__
from fiscosim.cli import main

JSON_KEYS = {
    "suite",
    "workers",
    "batch",
    "verifications_per_s",
    "single_core_per_s",
    "parallel_efficiency",
    "target_per_s",
    "backend",
}


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version_and_help():
    assert run("--version").output.strip().endswith(__version__)
    result = run("--help")
    assert result.exit_code == 0
    assert "bench" in result.output and "calibrate" in result.output


@pytest.mark.parametrize(
    ("suite", "workers"), [("secp256k1", "1"), ("secp256k1", "2"), ("sm2", "2")]
)
def test_bench_verify_json_is_the_last_line(suite, workers):
    result = run(
        "bench", "verify", "--suite", suite, "--workers", workers, "--batch", "96",
        "--seconds", "0.1", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report.keys() >= JSON_KEYS
    assert report["suite"] == suite and report["workers"] == int(workers)
    assert report["batch"] == 96 and report["target_per_s"] == 50_000
    assert report["verifications_per_s"] > 0 and report["single_core_per_s"] > 0
    expected = report["verifications_per_s"] / (report["workers"] * report["single_core_per_s"])
    assert report["parallel_efficiency"] == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("built", [True, False])
def test_bench_verify_paths_side_by_side(built, monkeypatch):
    from fiscosim.crypto import secp_batch

    if built and not secp_batch.available():
        pytest.skip("the batch extension fiscosim.crypto._secp_batch is not built here")
    if not built:  # what a user without a C compiler sees
        monkeypatch.setattr(secp_batch, "_native", None)
        monkeypatch.setattr(secp_batch, "available", lambda: False)
    result = run("bench", "verify", "--paths", "--workers", "2", "--batch", "64",
                 "--seconds", "0.1", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report.keys() >= JSON_KEYS and report["batch_measured"] is built
    assert report["batch_backend"] == secp_batch.backend()
    figures = {figure["path"]: figure for figure in report["paths"]}
    expected = {"recovery, 1 worker": 1, "recovery, 2 workers": 2}
    if built:
        expected |= {"batch, warm cache": 1, "batch, cold cache": 1,
                     "batch, 64 senders, warm": 1, "batch, 64 senders, cold": 1,
                     "batch, warm cache, 1 bad": 1, "batch, warm cache, 4 bad": 1,
                     "batch, warm cache, 16 bad": 1, "batch, warm cache, 2 workers": 2,
                     "batch, 64 senders, warm, 2 workers": 2}
        assert "batch paths not measured" not in result.output
    else:
        assert "batch paths not measured" in result.output
        assert "not built" in result.output
    secp = {name: f["workers"] for name, f in figures.items() if f["suite"] == "secp256k1"}
    assert secp == expected  # the SM2 rows: tests/test_bench_paths.py
    for figure in figures.values():
        assert figure["batch"] == 64 and figure["verified_per_s"] > 0
    assert figures["recovery, 1 worker"]["senders"] == 64


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bench", "verify", "--suite", "rsa"], "'rsa' is not one of"),
        (["bench", "verify", "--workers", "0"], "0 is not in the range x>=1"),
        (["bench", "verify", "--batch", "many"], "'many' is not a valid integer"),
        (["bench", "verify", "--suite", "sm2", "--backend", "gpu"], "backend"),
    ],
)
def test_bad_options_are_one_clear_line_and_exit_2(args, fragment):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_calibrate_writes_a_profile(tmp_path):
    out = tmp_path / "profiles" / "host.yaml"
    result = run("calibrate", "--out", str(out), "--seconds", "0.05", "--name", "ci-host",
                 "--repeats", "2", "--evm-batch", "4", "--storage-block-txs", "10")  # fmt: skip
    assert result.exit_code == 0, result.output
    profile = yaml.safe_load(out.read_text())
    assert profile["name"] == "ci-host"
    costs = profile["costs_us"]
    for key in (
        "verify_secp256k1", "verify_sm2", "keccak256_per_kb", "sm3_per_kb",
        "msgpack_encode_per_kb", "msgpack_decode_per_kb",
    ):  # fmt: skip
        assert costs[key] > 0
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind
