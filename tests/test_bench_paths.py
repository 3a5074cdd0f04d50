"""``fiscosim bench verify --paths``: every verification path side by side (issue 21, part 5).

Tiny sizes only, and no assertion on any rate beyond its being positive: these tests check which
paths are measured and what each figure says about itself, never the timing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fiscosim.cli import main
from fiscosim.crypto import secp_batch
from fiscosim.crypto.batch import VerifierPool
from fiscosim.crypto.secp256k1 import recover_public_keys
from fiscosim.crypto.sm2 import BACKENDS
from fiscosim.crypto.suite import get_suite
from fiscosim.crypto.throughput import (
    BAD_ROWS,
    KnownKeyShards,
    PathsMeasurement,
    make_corpus,
    measure_paths,
    suite_with,
)

BATCH = 64
WORKERS = 2


def sm2_backends() -> tuple[list[str], list[str]]:
    """(backends that run here, backends that do not), the tables' included."""
    usable, missing = [], []
    for name in (*BACKENDS, "tables"):
        try:
            suite_with("sm2", name)
        except RuntimeError:
            missing.append(name)
        else:
            usable.append(name)
    return usable, missing


def expected_paths(workers: int, batch_measured: bool) -> dict[str, tuple[int, int, str]]:
    """Path name → (workers, bad rows, suite) for a 64-row run on ``workers`` workers."""
    expected = {"recovery, 1 worker": (1, 0, "secp256k1")}
    if workers > 1:
        expected[f"recovery, {workers} workers"] = (workers, 0, "secp256k1")
    if batch_measured:
        expected |= {"batch, warm cache": (1, 0, "secp256k1"),
                     "batch, cold cache": (1, 0, "secp256k1"),
                     f"batch, {BATCH} senders, warm": (1, 0, "secp256k1"),
                     f"batch, {BATCH} senders, cold": (1, 0, "secp256k1")}
        expected |= {f"batch, warm cache, {k} bad": (1, k, "secp256k1") for k in BAD_ROWS}
        if workers > 1:
            expected |= {f"batch, warm cache, {workers} workers": (workers, 0, "secp256k1"),
                         f"batch, {BATCH} senders, warm, {workers} workers":
                             (workers, 0, "secp256k1")}
    usable = sm2_backends()[0]
    for name in usable:
        if name == "tables":  # its own warm and cold rows, on repeated senders
            continue
        expected[f"sm2 {name}, 1 worker"] = (1, 0, "sm2")
        if workers > 1:
            expected[f"sm2 {name}, {workers} workers"] = (workers, 0, "sm2")
    if "tables" in usable:
        expected |= {f"sm2 tables, {BATCH} senders, warm": (1, 0, "sm2"),
                     f"sm2 tables, {BATCH} senders, cold": (1, 0, "sm2")}
    return expected


def check(measurement: PathsMeasurement, workers: int) -> None:
    figures = {figure.path: figure for figure in measurement.paths}
    expected = expected_paths(workers, measurement.measured)
    assert figures.keys() == expected.keys()
    for name, (shards, bad, suite) in expected.items():
        figure = figures[name]
        assert (figure.workers, figure.bad, figure.suite) == (shards, bad, suite), name
        assert figure.batch == BATCH and figure.senders == BATCH, name
        assert figure.verified_per_s > 0, name
    usable, missing = sm2_backends()
    assert sorted(measurement.sm2_unavailable) == sorted(missing)
    assert all(measurement.sm2_unavailable[name] for name in missing)
    assert not set(usable) & set(measurement.sm2_unavailable)
    assert measurement.rounds >= 1


@pytest.mark.parametrize("workers", [1, WORKERS])
def test_every_path_is_measured_with_its_workers_and_bad_rows(workers):
    measurement = measure_paths(workers=workers, batch=BATCH, min_seconds=0.05, min_rounds=1)
    assert measurement.measured is secp_batch.available()
    check(measurement, workers)


def test_without_the_extension_the_batch_paths_are_left_out(monkeypatch):
    monkeypatch.setattr(secp_batch, "_native", None)
    monkeypatch.setattr(secp_batch, "available", lambda: False)
    measurement = measure_paths(workers=WORKERS, batch=BATCH, min_seconds=0.05, min_rounds=1)
    assert measurement.measured is False and "not built" in measurement.batch_backend
    check(measurement, WORKERS)


def test_an_unavailable_sm2_backend_is_explained_not_measured(monkeypatch):
    import fiscosim.crypto.sm2 as sm2

    real = sm2.make_sm2_suite

    def without_ipp(backend=None):
        if backend == "ipp":
            raise RuntimeError("the ipp SM2 backend cannot run: libippcp.so not found (test)")
        return real(backend)

    monkeypatch.setattr(sm2, "make_sm2_suite", without_ipp)
    measurement = measure_paths(workers=WORKERS, batch=BATCH, min_seconds=0.05, min_rounds=1)
    assert "libippcp.so not found (test)" in measurement.sm2_unavailable["ipp"]
    assert not [f for f in measurement.paths if f.path.startswith("sm2 ipp")]


def test_bad_rows_are_checked_and_validated():
    measurement = measure_paths(workers=1, batch=BATCH, min_seconds=0.0, min_rounds=1,
                                bad=(2, 0), sm2_batch=8)
    if measurement.measured:
        bad = {f.path: f.bad for f in measurement.paths if " bad" in f.path}
        assert bad == {"batch, warm cache, 2 bad": 2, "batch, warm cache, 0 bad": 0}
    assert {f.batch for f in measurement.paths if f.suite == "sm2"} <= {8}
    with pytest.raises(ValueError, match="bad must be in"):
        measure_paths(workers=1, batch=8, bad=(9,))


def test_small_batches_keep_the_bad_counts_that_fit():
    measurement = measure_paths(workers=1, batch=8, min_seconds=0.0, min_rounds=1)
    if measurement.measured:
        assert sorted(f.bad for f in measurement.paths if " bad" in f.path) == [1, 4]


def test_the_sharded_batch_path_rejects_exactly_the_tampered_rows():
    """The N-worker batch path's verdicts, row by row: what its per-round check relies on."""
    suite = get_suite("secp256k1")
    hashes, signatures, _ = make_corpus(suite, BATCH, seed=7, accounts=BATCH, cycle=True)
    index, recovered = recover_public_keys(hashes, signatures, np.arange(BATCH))
    assert list(index) == list(range(BATCH))
    keys = np.frombuffer(bytes(recovered), dtype=np.uint8).reshape(BATCH, 64)  # the cache's
    tampered = hashes.copy()
    bad_rows = [3, 40, 63]
    tampered[bad_rows, 0] ^= 0x01
    with VerifierPool(KnownKeyShards(), WORKERS, min_shard=1) as pool:  # type: ignore[arg-type]
        ok, _ = pool.verify(tampered, np.concatenate((signatures, keys), axis=1))
    assert np.flatnonzero(~ok).tolist() == bad_rows


def test_cli_paths_json_carries_every_path_whatever_the_suite():
    for suite in ("secp256k1", "sm2"):
        result = CliRunner().invoke(
            main, ["bench", "verify", "--suite", suite, "--workers", str(WORKERS), "--paths",
                   "--batch", str(BATCH), "--seconds", "0.1", "--json"],
            catch_exceptions=False)
        assert result.exit_code == 0, result.output
        report = json.loads(result.output.strip().splitlines()[-1])
        assert report["suite"] == suite
        figures = {figure["path"]: figure for figure in report["paths"]}
        expected = expected_paths(WORKERS, report["batch_measured"])
        assert figures.keys() == expected.keys()
        for name, (shards, bad, path_suite) in expected.items():
            figure = figures[name]
            assert (figure["workers"], figure["bad"], figure["suite"]) == (shards, bad,
                                                                         path_suite)
            assert figure["batch"] == BATCH and figure["verified_per_s"] > 0
        assert sorted(report["sm2_unavailable"]) == sorted(sm2_backends()[1])
        assert "verification paths" in result.output and "batch, warm cache" in result.output


def test_cli_paths_default_workers():
    result = CliRunner().invoke(main, ["bench", "verify", "--paths", "--batch", str(BATCH),
                                       "--seconds", "0.1", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    names = {figure["path"] for figure in report["paths"]}
    assert "recovery, 1 worker" in names
    assert any(name.startswith("sm2 ") for name in names) or report["sm2_unavailable"]
