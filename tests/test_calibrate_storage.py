"""Calibrate's RocksDB path: FISCO's two-phase block commit and point reads, in a temp folder."""

from __future__ import annotations

import pytest

pytest.importorskip("rocksdict", reason="rocksdict is not installed (the calibrate extra)")

from fiscosim.calibrate import storage


def test_per_key_costs_are_measured_and_the_database_is_removed(tmp_path):
    result = storage.measure_storage(
        repeats=2, block_txs=20, accounts=300, blocks_per_repeat=1, folder=tmp_path
    )
    for key in (
        "prepare_us_per_key",
        "commit_us_per_key",
        "read_us_per_key",
        "prepare_us_per_block",
        "commit_us_per_block",
        "prepare_commit_us_per_tx",
        "write_us_per_key",
        "empty_block_us",
    ):
        assert result[key] > 0, key  # fmt: skip
    # A key's write is both phases of a full block; an empty block costs less than a full one.
    assert result["write_us_per_key"] == pytest.approx(
        result["runs"]["write_us_per_key"]["median"], abs=1e-4)
    assert result["empty_block_us"] < result["prepare_us_per_block"] + result["commit_us_per_block"]
    assert result["block"]["keys"] == 20 * storage.KEYS_PER_TX + storage.KEYS_PER_BLOCK
    assert result["block"]["existing_state_keys"] == 300
    for record in result["runs"].values():
        assert record["runs"] == 2 and record["min"] <= record["median"] <= record["max"]
    assert "WAL on, sync off" in result["options"]["write"]
    assert result["engine"].startswith("rocksdict ") and result["filesystem"]
    assert list(tmp_path.iterdir()) == []


def test_bad_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="must be >= 1"):
        storage.measure_storage(repeats=0, folder=tmp_path)


def test_filesystem_lookup():
    assert storage.filesystem_of(storage.Path("/")) != ""


def test_the_profile_costs_are_the_medians_with_their_provenance(tmp_path):
    result = storage.measure_storage(repeats=3, block_txs=10, accounts=100, blocks_per_repeat=1,
                                     folder=tmp_path)
    costs = storage.profile_costs(result)
    from fiscosim.node.costs import STORAGE_FIELDS

    assert set(costs) == set(STORAGE_FIELDS)
    runs = result["runs"]
    assert costs["storage_read_per_key"]["median"] == runs["read_us_per_key"]["median"]
    assert costs["storage_write_per_key"]["median"] == runs["write_us_per_key"]["median"]
    assert costs["storage_commit_per_block"]["median"] == runs["empty_block_us"]["median"]
    for record in costs.values():
        assert record["source"] == "measured" and record["runs"] == 3
        assert "rocksdict" in record["backend"] and record["how"]
