"""Hardware profiles and the cost model: shipped and calibrated profiles, filling, integer µs."""

from __future__ import annotations

import math

import pytest

from fiscosim.calibrate import write_profile
from fiscosim.node.costs import (
    BATCH_VERIFY_FIELDS,
    CALIBRATED_FIELDS,
    COST_FIELDS,
    LEDGER_KEYS_PER_TX,
    RECEIPT_BYTES,
    REFERENCE_PROFILE,
    STATE_ENTRY_BYTES,
    STORAGE_FIELDS,
    CostModel,
    HardwareProfile,
    load_profile,
    shipped_profiles,
)

MEASURED = {
    "verify_secp256k1": 50.5,
    "verify_sm2": 20.25,
    "keccak256_per_kb": 2.0,
    "sm3_per_kb": 3.0,
    "msgpack_encode_per_kb": 0.5,
    "msgpack_decode_per_kb": 0.75,
}


def calibrated_dict(**changes) -> dict:
    """What ``fiscosim calibrate`` produces, by hand."""
    profile = {
        "name": "hand-made",
        "cpu_model": "Test CPU 9000",
        "cores": 12,
        "measured": {
            "by": "fiscosim 0.1.0 calibrate",
            "python": "3.11.7",
            "date": "2026-11-23",
            "backends": {"secp256k1": "libsecp256k1 (coincurve)", "sm2": "fallback"},
        },
        "costs_us": dict(MEASURED),
    }
    profile.update(changes)
    return profile


# -- shipped profiles --------------------------------------------------------------------------


def test_shipped_profiles_load():
    assert {"reference-2core", "server-8core"} <= set(shipped_profiles())
    for name in shipped_profiles():
        profile = load_profile(name)
        assert profile.name == name
        assert profile.cores >= 1
        assert profile.filled == ()  # shipped profiles are complete
        for cost in COST_FIELDS:
            value = getattr(profile, cost)
            assert math.isfinite(value) and value > 0, (name, cost)


def test_reference_and_server_profiles():
    reference = load_profile("reference-2core")
    server = load_profile("server-8core")
    # docs/fisco-reference.md §4: 8 cores recommended
    assert reference.cores == 2 and server.cores == 8
    # Same per-core costs: the server profile is derived from the reference (docs/profiles.md).
    assert reference.costs() == server.costs()
    # FISCO's C++ transaction pool cannot be run here: its costs are marked as assumptions;
    # everything calibrate measures (crypto, msgpack, RocksDB) is not.
    for profile in (reference, server):
        assert set(profile.assumed) == {"txpool_insert_per_tx", "txpool_lookup_per_tx"}
        assert not set(profile.assumed) & set(CALIBRATED_FIELDS + STORAGE_FIELDS)
    assert {reference.provenance_of(cost).source for cost in STORAGE_FIELDS} == {"measured"}


def test_loading_is_cached_and_a_profile_passes_through():
    assert load_profile("server-8core") is load_profile("server-8core")
    profile = load_profile("server-8core")
    assert load_profile(profile) is profile


def test_to_dict_round_trips():
    profile = load_profile("server-8core")
    again = load_profile(profile.to_dict())
    assert again.costs() == profile.costs() and again.cores == profile.cores
    assert again.filled == ()


# -- calibrated files --------------------------------------------------------------------------


def test_calibrated_file_loads_and_fills_missing_costs(tmp_path):
    path = write_profile(calibrated_dict(), tmp_path / "host.yaml")
    profile = load_profile(path)
    reference = load_profile(REFERENCE_PROFILE)
    assert profile.name == "hand-made" and profile.cores == 12
    assert profile.cpu_model == "Test CPU 9000"
    for cost, value in MEASURED.items():
        assert getattr(profile, cost) == value
    assert set(profile.filled) == set(COST_FIELDS) - set(CALIBRATED_FIELDS)
    assert profile.filled_from == REFERENCE_PROFILE
    for cost in profile.filled:
        assert getattr(profile, cost) == getattr(reference, cost)
    # Filled costs that were assumptions in the reference stay marked as assumptions.
    assert "txpool_insert_per_tx" in profile.assumed and "verify_sm2" not in profile.assumed
    assert "2026-11-23" in profile.source and "fallback" in profile.notes


def test_calibrated_file_by_string_path(tmp_path):
    path = write_profile(calibrated_dict(), tmp_path / "host.yaml")
    assert load_profile(str(path)).cores == 12


def test_rewritten_file_is_read_again(tmp_path):
    path = write_profile(calibrated_dict(), tmp_path / "host.yaml")
    assert load_profile(path).cores == 12
    write_profile(calibrated_dict(cores=3, name="hand-made-again"), path)
    assert load_profile(path).cores == 3


def test_a_real_calibration_loads(tmp_path):
    # What `fiscosim calibrate` really writes on this host loads, measured costs unchanged.
    from fiscosim.calibrate import calibrate_host

    measured = calibrate_host(name="this-host", min_seconds=0.05, repeats=2, evm=False,
                              storage=False)  # fmt: skip
    from fiscosim.crypto import secp_batch

    batch = set(BATCH_VERIFY_FIELDS) if secp_batch.available() else set()
    assert set(measured["costs_us"]) == set(CALIBRATED_FIELDS) | batch
    profile = load_profile(write_profile(measured, tmp_path / "this-host.yaml"))
    assert profile.name == "this-host" and profile.cores == measured["cores"]
    for cost, value in measured["costs_us"].items():
        assert getattr(profile, cost) == value


def test_inline_mapping_fills_from_its_base():
    profile = load_profile({"cores": 4, "base": "server-8core",
                            "costs_us": {"storage_write_per_key": 7}})
    server = load_profile("server-8core")
    assert profile.cores == 4 and profile.storage_write_per_key == 7.0
    assert profile.verify_secp256k1 == server.verify_secp256k1
    assert profile.filled_from == "server-8core"
    assert "storage_write_per_key" not in profile.filled


def test_inline_without_cores_takes_the_base_cores():
    assert (
        load_profile({"costs_us": {"verify_sm2": 1}}).cores == load_profile(REFERENCE_PROFILE).cores
    )


def test_model_dump_objects_are_read_as_mappings():
    from fiscosim.schema import ProfileSpec

    spec = ProfileSpec(cores=3, costs_us={"storage_write_per_key": 11})
    profile = load_profile(spec)
    assert profile.cores == 3 and profile.storage_write_per_key == 11.0


# -- bad profiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- a\n- b\n", "not a mapping"),
        ("name: x\ncores: [\n", "YAML error at line"),
        ("name: x\ncores: 0\ncosts_us: {}\n", "cores: 0 is not a whole number >= 1"),
        ("name: x\ncores: true\n", "cores: True is not a whole number"),
        ("name: x\ncorez: 2\n", "did you mean 'cores'"),
        ("name: x\ncores: 2\ncosts_us: {verify_secp256k: 1}\n", "did you mean 'verify_secp256k1'"),
        ("name: x\ncores: 2\ncosts_us: {verify_sm2: -1}\n", "costs_us.verify_sm2: -1 must be"),
        ("name: x\ncores: 2\ncosts_us: {verify_sm2: fast}\n", "'fast' is not a number"),
        ("name: x\ncores: 2\ncosts_us: [1, 2]\n", "costs_us: expected a mapping"),
        ("name: x\ncores: 2\nbase: nowhere-9core\n", "unknown profile 'nowhere-9core'"),
        ("name: x\ncores: 2\nassumed: [speed]\n", "assumed: unknown key 'speed'"),
    ],
)
def test_bad_profile_files_fail_with_one_line(tmp_path, content, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ValueError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert "\n" not in message and expected in message, message
    assert "bad.yaml" in message


def test_unknown_names_and_missing_files():
    with pytest.raises(ValueError, match=r"unknown profile 'server-8cores' \(did you mean"):
        load_profile("server-8cores")
    with pytest.raises(ValueError, match="no such profile file"):
        load_profile("profiles/missing.yaml")
    with pytest.raises(ValueError, match="not a profile reference"):
        load_profile(42)  # type: ignore[arg-type]


def test_a_base_cycle_is_reported(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(f"name: a\nbase: {b}\n")
    b.write_text(f"name: b\nbase: {a}\n")
    with pytest.raises(ValueError, match="cycle"):
        load_profile(a)


# -- the cost model ----------------------------------------------------------------------------


def model(suite: str = "secp256k1", **costs) -> CostModel:
    return CostModel(load_profile(REFERENCE_PROFILE).replace(**costs), suite)


def test_costs_are_integer_microseconds_rounded_up():
    m = model(verify_secp256k1=45.2, storage_write_per_key=0.1, storage_commit_per_block=0.0,
              keccak256_per_kb=2.0)
    assert m.verify(1) == 46 and m.verify(10) == 452
    assert m.storage_commit(1, 1) == 1  # 0.3 µs of work still takes a microsecond
    assert m.storage_commit(5) == 1  # 10 × 0.1 is exactly 1, not 2 after floating-point error
    assert m.hash(1024) == 2 and m.hash(1) == 1
    for value in (
        m.verify(7),
        m.sign(),
        m.hash(100),
        m.encode(100),
        m.decode(100),
        m.execute_block(5.5),
        m.execute_block(5.5, 3, 2, 2),
        m.storage_commit(5),
        m.admit(300, 1),
    ):
        assert type(value) is int


def test_zero_and_negative_amounts_cost_nothing():
    m = model()
    assert m.verify(0) == m.sign(0) == m.hash(0) == m.encode(0) == m.decode(0) == 0
    assert m.verify(-3) == 0
    # A block is written even when empty (an empty NewView proposal).
    assert m.storage_commit(0) == math.ceil(
        load_profile(REFERENCE_PROFILE).storage_commit_per_block
    )


@pytest.mark.parametrize("suite", ["secp256k1", "sm2"])
def test_costs_are_monotone_in_the_amount(suite):
    m = CostModel(load_profile("server-8core"), suite)
    for method in (m.verify, m.sign, m.hash, m.encode, m.decode, m.execute_block,
                   m.storage_commit):
        values = [method(n) for n in (0, 1, 2, 3, 10, 100, 1000, 10_000, 100_000)]
        assert values == sorted(values), method.__name__
        assert values[-1] > values[1] or method in (m.storage_commit, m.execute_block)


def test_suite_selects_verify_sign_and_hash_costs():
    profile = load_profile(REFERENCE_PROFILE).replace(
        verify_secp256k1=40.0,
        verify_sm2=20.0,
        sign_secp256k1=30.0,
        sign_sm2=300.0,
        keccak256_per_kb=2.0,
        sm3_per_kb=3.0,
    )
    secp, sm2 = CostModel(profile, "secp256k1"), CostModel(profile, "sm2")
    assert (secp.verify(10), sm2.verify(10)) == (400, 200)
    assert (secp.sign(), sm2.sign()) == (30, 300)
    assert (secp.hash(10 * 1024), sm2.hash(10 * 1024)) == (20, 30)
    # Suite-independent costs are the same.
    assert secp.encode(5000) == sm2.encode(5000)
    assert secp.cores == sm2.cores == 2


def test_unknown_suite():
    with pytest.raises(ValueError, match="unknown crypto suite 'ed25519'"):
        CostModel(load_profile(REFERENCE_PROFILE), "ed25519")


def test_storage_commit_is_per_block_plus_per_key_written():
    m = model(storage_write_per_key=2.5, storage_commit_per_block=20.0)
    # A transaction writes its row and its receipt's (LEDGER_KEYS_PER_TX), plus its state.
    assert LEDGER_KEYS_PER_TX == 2
    assert m.storage_commit(0) == 20
    assert m.storage_commit(1000) == 20 + 2000 * 2.5
    assert m.storage_commit(1000, 2000) == 20 + 4000 * 2.5


def test_executing_a_block_is_the_executors_time_reads_receipts_and_roots():
    m = model(keccak256_per_kb=1024.0, msgpack_encode_per_kb=0.0,  # 1 µs per hashed byte
              storage_read_per_key=3.0)
    assert m.execute_block(1000.2) == 1001 + m.hash(256)  # an empty block: the header hash
    # Three transactions, two state reads charged, four slots written: each receipt encoded
    # and hashed, the receipt Merkle tree, the state root over the changed entries.
    hashed = 3 * RECEIPT_BYTES + 3 * 64 + 4 * STATE_ENTRY_BYTES
    assert m.execute_block(1000.0, 3, 2, 4) == 1006 + hashed + 256
    assert model(storage_read_per_key=7.0).execute_block(0.0, 0, 10) == 70 + model().hash(256)


def test_admitting_decodes_and_hashes_every_transaction_and_inserts_the_fresh_ones():
    m = model(keccak256_per_kb=1024.0, msgpack_decode_per_kb=1024.0, verify_secp256k1=40.0,
              txpool_insert_per_tx=2.0)
    assert m.admit(600, 2) == 600 + 600 + 80 + 4
    assert m.admit(600, 0) == 1200  # duplicates: decoded and hashed to be recognised, no more


@pytest.mark.parametrize("retired,hint", [("execute_tx", "contract models now"),
                                          ("storage_commit_per_tx", "storage_write_per_key")])
def test_a_profile_no_longer_gives_a_retired_cost(retired, hint):
    for bad in ({"costs_us": {retired: 3}}, {"assumed": [retired]},
                {"provenance": {retired: {"source": "assumed", "detail": "x"}}}):
        with pytest.raises(ValueError, match=hint):
            load_profile(bad)


def test_profile_is_frozen():
    profile = load_profile(REFERENCE_PROFILE)
    with pytest.raises(AttributeError):
        profile.cores = 3  # type: ignore[misc]
    assert isinstance(profile, HardwareProfile)


# -- provenance: where each cost comes from --------------------------------------------------


@pytest.mark.parametrize("name", ["reference-2core", "server-8core"])
def test_every_cost_of_a_shipped_profile_says_where_it_comes_from(name):
    from fiscosim.node.costs import COST_FIELDS, PROVENANCE_SOURCES

    profile = load_profile(name)
    assert [cost for cost, _ in profile.provenance] == list(COST_FIELDS)
    for cost, where in profile.provenance:
        assert where.source in PROVENANCE_SOURCES and where.source != "given", cost
        assert len(where.detail) > 30, cost
    assert set(profile.assumed) == {c for c, w in profile.provenance if w.source == "assumed"}


def test_a_provenance_entry_is_checked():
    with pytest.raises(ValueError, match=r"provenance.sign_sm2.source: 'guessed' is not one of"):
        load_profile({"costs_us": {"sign_sm2": 3},
                      "provenance": {"sign_sm2": {"source": "guessed", "detail": "x"}}})
    with pytest.raises(ValueError, match=r"provenance.sign_sm2.detail: say where"):
        load_profile({"costs_us": {"sign_sm2": 3},
                      "provenance": {"sign_sm2": {"source": "assumed", "detail": " "}}})


def test_inline_costs_are_given_and_the_rest_keep_the_base_provenance():
    profile = load_profile({"costs_us": {"txpool_insert_per_tx": 3}})
    assert profile.provenance_of("txpool_insert_per_tx").source == "given"
    assert "txpool_insert_per_tx" not in profile.assumed
    inherited = profile.provenance_of("verify_secp256k1")
    assert inherited.source == "measured" and inherited.detail.startswith("from reference-2core")
    assert profile.provenance_of("txpool_lookup_per_tx").source == "assumed"


def test_a_calibrated_file_marks_its_figures_measured():
    record = {"median": 50.0, "min": 49.0, "max": 51.0, "runs": 5, "noisy": False,
              "how": "recover + keccak, batch kernel", "backend": "libsecp256k1"}
    profile = load_profile({"cores": 2, "costs_us": {"verify_secp256k1": 50.0},
                            "measured": {"date": "2026-12-02",
                                         "provenance": {"verify_secp256k1": record}}})
    where = profile.provenance_of("verify_secp256k1")
    assert where.source == "measured"
    assert "median of 5 runs (49.0–51.0)" in where.detail and "libsecp256k1" in where.detail


def test_the_summary_and_the_report_list_the_assumed_costs(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "fiscosim", "run", "--set", "duration_s=3",
                          "--out", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "assumed costs" in out.stdout and "txpool_insert_per_tx 2 µs" in out.stdout
    # The default contract's call cost is published, not assumed: the report does not list it.
    assert "DagTransfer.userTransfer" not in out.stdout.split("assumed costs", 1)[1]
    import json

    costs = json.loads((tmp_path / "summary.json").read_text())["costs"]
    entry = costs["reference-2core"]
    assert entry["assumed_us"] == {"txpool_insert_per_tx": 2.0, "txpool_lookup_per_tx": 0.2}
    assert entry["provenance"]["verify_secp256k1"] == "measured"
    assert len(entry["nodes"]) == 4
