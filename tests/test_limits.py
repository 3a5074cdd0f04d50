"""Extreme, meaningless and hostile scenario input: refused before the run, in one line.

Every case here goes through ``fiscosim run`` and must exit with code 2, print exactly one
line on stderr (``error: <file>: <field>: <problem> (<fix>)``) naming the field, print no
traceback, and write no files (neither ``--out`` nor ``--trace``). Most run in-process
(click's CliRunner, with the simulation forbidden to start); the FIFO and the deep nesting run
in a subprocess whose timeout only guards against a hang. Grouped by kind:

- ranges: an out-of-range value for every numeric field of docs/scenario-reference.md (a test
  checks that none is missing), low and high;
- extremes: the inputs that once crashed, hung or exhausted memory after validation passed;
- memory: runs whose every field is in range but that cannot fit in memory together;
- files: what a scenario file may be (regular, 1 MiB, 32 levels, 20,000 values);
- knobs: settings that did nothing, refused rather than dropped without a word;
- types: text where a number belongs.

Settings a run accepts but that change nothing are warnings instead: the last tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT

import fiscosim.sim.simulation as simulation_module
from fiscosim.cli import main

SCENARIOS = REPO_ROOT / "scenarios"
QUICKSTART = SCENARIOS / "quickstart.yaml"
BROKEN = Path(__file__).parent / "broken_scenarios"
REFERENCE = REPO_ROOT / "docs" / "scenario-reference.md"
HANG_GUARD_S = 60

# Every numeric field is reachable from one of these by --set (list items, inline profiles,
# regions, faults of each kind, a light node); short, should a case wrongly pass.
LIST_BASE = """\
name: limits
duration_s: 2
warmup_s: 0.5
drain_s: 1
nodes:
  profile: {base: reference-2core, cores: 2, costs_us: {storage_write_per_key: 5}}
  list:
    - {name: node0, region: eu, weight: 1, bandwidth_mbps: 1000, profile: {cores: 2}}
    - {name: node1, region: eu}
    - {name: node2, region: asia}
    - {name: node3, region: asia}
    - {name: light0, role: light, region: asia}
network:
  topology:
    kind: regions
    latency_ms_matrix: {eu: {eu: 1, asia: 50}, asia: {asia: 1}}
  latency: {distribution: normal, mean_ms: 1, std_ms: 0.2}
workload:
  rate_tps: 100
  targets: [node0, node1, node2, node3]
  query_rate: 5
  contract: {DagTransfer: 1}
faults:
  - {at_s: 1, kind: loss, rate: 0.1, until_s: 1.5}
  - {at_s: 1, kind: delay, nodes: [node1], delay_ms: 5}
  - {at_s: 1, kind: slow, nodes: [node2], factor: 2}
"""
GROUPS_BASE = """\
name: limits-groups
duration_s: 2
warmup_s: 0.5
drain_s: 1
nodes: {count: 5}
groups:
  - {id: a, sealers: [node0, node1, node2, node3],
     workload: {rate_tps: 100, contract: {DagTransfer: 1}}}
  - {id: b, sealers: [node0, node1, node2, node3], observers: [node4]}
"""


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bases")
    (folder / "list.yaml").write_text(LIST_BASE)
    (folder / "groups.yaml").write_text(GROUPS_BASE)
    return {"list": folder / "list.yaml", "groups": folder / "groups.yaml",
            "quickstart": QUICKSTART, "light": SCENARIOS / "light-clients.yaml"}


@pytest.fixture
def no_run(monkeypatch):
    """A started simulation fails the test: every error must be found before the run."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("the simulation started; the error should have been found first")

    monkeypatch.setattr(simulation_module.Simulation, "run", refuse)


def refused(tmp_path: Path, scenario: Path | str, *options: str) -> str:
    """Runs ``fiscosim run`` in-process; asserts exit 2, one stderr line and no files; returns
    the line."""
    out, trace = tmp_path / "out", tmp_path / "trace" / "t.jsonl"
    result = CliRunner().invoke(
        main, ["run", str(scenario), *options, "--out", str(out), "--trace", str(trace)],
        catch_exceptions=False)
    return _check(result.exit_code, result.stdout, result.stderr, tmp_path)


def _check(code: int, stdout: str, stderr: str, tmp_path: Path) -> str:
    assert code == 2, (code, stdout, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "Traceback" not in stderr + stdout, stderr
    assert stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "trace").exists()
    return lines[0]


def names_field(line: str, field: str) -> None:
    assert f": {field}: " in line, (field, line)


# -- ranges: every numeric field, low and high --------------------------------------------------

# (field as docs/scenario-reference.md names it, --set path, out-of-range values). The error
# must name the --set path. Low and high where the field has both bounds.
RANGES = [
    ("seed", "seed", ["-1", str(2**63)]),
    ("duration_s", "duration_s", ["0", "86401"]),
    ("warmup_s", "warmup_s", ["-1", "86401"]),
    ("drain_s", "drain_s", ["-1", "86401"]),
    ("chain.tx_count_limit", "chain.tx_count_limit", ["0", "1000001"]),
    ("chain.min_seal_time_ms", "chain.min_seal_time_ms", ["0", "600001"]),
    ("chain.leader_period", "chain.leader_period", ["0", "1000001"]),
    ("chain.consensus_timeout_ms", "chain.consensus_timeout_ms", ["0", "3600001"]),
    ("chain.sync_status_ms", "chain.sync_status_ms", ["1", "600001"]),
    ("chain.pipeline_size", "chain.pipeline_size", ["0", "1001"]),
    ("chain.block_limit", "chain.block_limit", ["0", "5001"]),
    ("chain.txpool_limit", "chain.txpool_limit", ["0", "10000001"]),
    ("chain.tx_expiry_s", "chain.tx_expiry_s", ["0", "31536001"]),
    ("chain.execution_us_per_tx", "chain.execution_us_per_tx", ["-1", "1000001"]),
    ("nodes.count", "nodes.count", ["0", "1001"]),
    ("cores", "nodes.profile.cores", ["0", "257"]),
    ("cores", "nodes.list.0.profile.cores", ["257"]),
    *[(f"costs_us.{cost}", f"nodes.profile.costs_us.{cost}", ["-1", "1000001"])
      for cost in ("verify_secp256k1", "verify_sm2", "verify_secp256k1_batch_row",
                   "verify_secp256k1_batch_msm", "sign_secp256k1", "sign_sm2", "keccak256_per_kb",
                   "sm3_per_kb", "msgpack_encode_per_kb",
                   "msgpack_decode_per_kb", "txpool_insert_per_tx", "txpool_lookup_per_tx",
                   "storage_read_per_key", "storage_write_per_key",
                   "storage_commit_per_block")],
    ("weight", "nodes.list.0.weight", ["0", "10001"]),
    ("bandwidth_mbps", "nodes.list.0.bandwidth_mbps", ["0", "1000001"]),
    ("network.bandwidth_mbps", "network.bandwidth_mbps", ["0", "1000001"]),
    ("network.loss_rate", "network.loss_rate", ["-0.1", "1"]),
    ("network.loopback_latency_ms", "network.loopback_latency_ms", ["-1", "10.1"]),
    ("network.loopback_mbps", "network.loopback_mbps", ["0", "1000001"]),
    ("nodes.hosts", "nodes.hosts", ["0", "1001"]),
    ("network.topology.degree", "network.topology.degree", ["0", "1000"]),
    ("network.topology.latency_ms_matrix", "network.topology.latency_ms_matrix.eu.asia",
     ["-1", "60001"]),
    ("network.latency.mean_ms", "network.latency.mean_ms", ["-1", "60001"]),
    ("network.latency.std_ms", "network.latency.std_ms", ["-1", "60001"]),
    *[(f"workload.{name}", f"workload.{name}", values) for name, values in (
        ("clients", ["0", "1001"]), ("rate_tps", ["-1", "1000001"]),
        ("tx_size_bytes", ["63", "1048577"]), ("tick_ms", ["0.09", "60001"]),
        ("accounts", ["0", "1000001"]), ("invalid_fraction", ["-0.1", "1.1"]),
        ("query_rate", ["-1", "10001"]), ("account_skew", ["-0.1", "4.1"]),
        ("outstanding", ["0", "1000001"]), ("total_txs", ["0", "2147483648"]),
        ("client_latency_ms", ["-1", "60001"]))],
    ("workload.contract", "workload.contract.DagTransfer", ["0", "1000001"]),
    *[(name, f"groups.0.workload.{name}", values) for name, values in (
        ("clients", ["0", "1001"]), ("rate_tps", ["-1", "1000001"]),
        ("tx_size_bytes", ["63", "1048577"]), ("tick_ms", ["0.09", "60001"]),
        ("accounts", ["0", "1000001"]), ("invalid_fraction", ["-0.1", "1.1"]),
        ("query_rate", ["-1", "10001"]), ("account_skew", ["-0.1", "4.1"]),
        ("outstanding", ["0", "1000001"]), ("total_txs", ["0", "2147483648"]),
        ("client_latency_ms", ["-1", "60001"]))],
    ("contract", "groups.0.workload.contract.DagTransfer", ["0", "1000001"]),
    ("at_s", "faults.0.at_s", ["-1", "172801"]),
    ("rate", "faults.0.rate", ["-0.1", "1"]),
    ("until_s", "faults.0.until_s", ["0", "172801"]),
    ("delay_ms", "faults.1.delay_ms", ["-1", "60001"]),
    ("factor", "faults.2.factor", ["0", "10001"]),
    ("at_block", "faults.1.at_block", ["0", "1000000001"]),
    ("for_s", "faults.2.for_s", ["0", "172801"]),
    ("light.max_headers", "light.max_headers", ["0", "10001"]),
]

RANGE_CASES = [
    pytest.param(path, value, id=f"{path}={value}")
    for _, path, values in RANGES for value in values
]


def base_for(path: str) -> str:
    if path.startswith("groups."):
        return "groups"
    return "quickstart" if path == "nodes.count" else "list"


@pytest.mark.parametrize(("path", "value"), RANGE_CASES)
def test_a_value_out_of_range_is_one_line_naming_the_field(tmp_path, bases, no_run, path,
                                                           value):
    line = refused(tmp_path, bases[base_for(path)], "--set", f"{path}={value}")
    names_field(line, path)
    assert re.search(r"is too (small|large) \(use a value [<>]=? ", line), line


def numeric_fields_of_the_reference() -> set[str]:
    """The field names of every row of docs/scenario-reference.md whose type is a number
    (a map of numbers included)."""
    found = set()
    for row in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in row.split("|")]
        if len(cells) > 3 and cells[1].startswith("`") and re.search(r"\b(int|float)\b",
                                                                     cells[2]):
            found.add(cells[1].strip("`"))
    return found


def test_every_numeric_field_of_the_reference_has_a_range_and_a_case():
    numeric = numeric_fields_of_the_reference()
    assert len(numeric) > 40
    covered = {field for field, _, _ in RANGES}
    assert numeric - covered == set(), "numeric fields without an out-of-range case"
    assert covered - numeric == set(), "cases for fields the reference does not list"
    # Every numeric row shows its range, with both ends.
    for row in REFERENCE.read_text().splitlines():
        cells = [cell.strip() for cell in row.split("|")]
        if len(cells) > 3 and cells[1].strip("`") in numeric:
            assert re.search(r"(from|above) \S+.*(to|at most|below) \S+", cells[4]), row


# -- extremes: what once crashed, hung or exhausted memory after validation ---------------------

EXTREMES = [
    # (what, base, options, field, the limit the line must state)
    ("duration 1e12: 2.56 PiB", "quickstart", ["--set", "duration_s=1e12"], "duration_s",
     "<= 86400"),
    ("rate 1e9: 26.8 GiB", "quickstart", ["--set", "workload.rate_tps=1e9"],
     "workload.rate_tps", "<= 1000000"),
    ("tx size 1e12: int32 overflow", "quickstart", ["--set", "workload.tx_size_bytes=1e12"],
     "workload.tx_size_bytes", "<= 1048576"),
    ("tx size 2**40", "quickstart", ["--set", "workload.tx_size_bytes=1099511627776"],
     "workload.tx_size_bytes", "<= 1048576"),
    ("tx size 2^40 as written", "quickstart", ["--set", "workload.tx_size_bytes=2^40"],
     "workload.tx_size_bytes", "from 64 to 1,048,576"),
    ("accounts 1e12", "quickstart", ["--set", "workload.accounts=1e12"], "workload.accounts",
     "<= 1000000"),
    ("a million nodes: 5e11 links", "quickstart", ["--set", "nodes.count=1000000"],
     "nodes.count", "<= 1000"),
    ("a million clients", "quickstart", ["--set", "workload.clients=1000000"],
     "workload.clients", "<= 1000"),
    ("a million cores", "quickstart", ["--set", "nodes.profile={cores: 1000000}"],
     "nodes.profile.cores", "<= 256"),
    ("a million cores on a node", "list", ["--set", "nodes.list.0.profile.cores=1000000"],
     "nodes.list.0.profile.cores", "<= 256"),
    ("1e9 queries to a light node", "light", ["--set", "workload.query_rate=1e9"],
     "workload.query_rate", "<= 10000"),
    ("lognormal std 1e300", "quickstart", ["--set", "network.latency.distribution=lognormal",
                                           "--set", "network.latency.std_ms=1e300"],
     "network.latency.std_ms", "<= 60000"),
    ("a partition with a node on both sides", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: partition, groups: [[node0, node1], [node1, node2]]}]"],
     "faults.0.groups.1.0", "on two sides of the partition"),
    ("a 20,000-character description", "quickstart", ["--set", "description=" + "x" * 20_000],
     "description", "at most 10,000 characters"),
    ("--set nested 2,000 levels", "quickstart",
     ["--set", "description=" + "[" * 2000 + "]" * 2000], "description",
     "the --set value is nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("base", "options", "field", "limit"),
                         [pytest.param(*case[1:], id=case[0]) for case in EXTREMES])
def test_extreme_input_is_refused_with_its_limit(tmp_path, bases, no_run, base, options,
                                                 field, limit):
    line = refused(tmp_path, bases[base], *options)
    names_field(line, field)
    assert limit in line, line


def test_an_extreme_duration_in_the_file_itself(tmp_path, no_run):
    line = refused(tmp_path, BROKEN / "duration_1e12.yaml")
    names_field(line, "duration_s")
    assert "<= 86400" in line


# -- memory: every field in range, together too large ------------------------------------------

MEMORY = [
    ("a million TPS for a day", ["--set", "workload.rate_tps=1000000", "--set",
                                 "duration_s=86400"], "workload.rate_tps",
     "the largest part: the transaction table"),
    ("1,000 sealers for a day", ["--set", "nodes.count=1000", "--set", "duration_s=86400"],
     "duration_s", "the largest part: block records"),
    ("real crypto at a million TPS", ["--set", "workload.rate_tps=1000000", "--set",
                                      "duration_s=10000", "--set", "chain.crypto_mode=real"],
     "chain.crypto_mode", "the largest part: the signed corpus"),
]


@pytest.mark.parametrize(("options", "field", "part"),
                         [pytest.param(*case[1:], id=case[0]) for case in MEMORY])
def test_a_run_that_cannot_fit_in_memory_is_refused(tmp_path, no_run, options, field, part):
    line = refused(tmp_path, QUICKSTART, *options)
    names_field(line, field)
    assert "the run would need ~" in line and " is available; " in line and part in line
    assert "asked for it" in line  # which --set made it so large


def test_the_largest_accepted_runs_still_load(tmp_path):
    # The ranges admit every shipped scenario (tests/test_scenario.py), 1,000 sealers and a 10x
    # overload of the 8-core LAN chain; their estimates fit on a machine with 16 GB free.
    from fiscosim.scenario import load_scenario
    from fiscosim.sim.estimate import check_fits

    for path, sets in ((QUICKSTART, ["nodes.count=1000"]),
                       (SCENARIOS / "server-8core-lan.yaml", ["workload.rate_tps=50000"]),
                       (SCENARIOS / "pbft-4-50k.yaml", [])):
        scenario = load_scenario(path, sets, check_memory=False)
        check_fits(scenario, str(path), available=16 << 30)


# -- files --------------------------------------------------------------------------------------


def test_a_50_mb_description_is_refused_by_size(tmp_path, no_run):
    big = tmp_path / "big.yaml"
    big.write_text("name: big\nnodes: {count: 4}\ndescription: " + "x" * 50_000_000 + "\n")
    line = refused(tmp_path, big)
    assert f"error: {big}: the file is 50,000,042 bytes, over the 1 MiB limit" in line


def test_a_million_unknown_keys_are_refused_by_size(tmp_path, no_run):
    keys = tmp_path / "keys.yaml"
    keys.write_text("name: keys\nnodes: {count: 4}\n" + "".join(f"k{i}: 0\n"
                                                                for i in range(1_000_000)))
    assert "over the 1 MiB limit" in refused(tmp_path, keys)


def test_too_many_values_under_the_size_cap(tmp_path, no_run):
    many = tmp_path / "many.yaml"
    many.write_text("name: many\nnodes: {count: 4}\nextra: [" + "0," * 25_000 + "0]\n")
    assert many.stat().st_size < 1 << 20
    line = refused(tmp_path, many)
    assert "more than 20,000 keys, items and values" in line and ": line 3, column " in line


@pytest.mark.parametrize("name", ["alias_bomb", "nested_40_levels", "description_too_long"])
def test_a_file_over_a_cap(tmp_path, no_run, name):
    path = BROKEN / f"{name}.yaml"
    expect = path.read_text().splitlines()[0].removeprefix("# expect: ")
    assert expect in refused(tmp_path, path)


def test_a_folder_is_refused(tmp_path, no_run):
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert "is a folder, not a file" in refused(tmp_path, folder)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_before_it_is_read(tmp_path, no_run):
    # Reading /dev/zero never ends: the kind of file is checked before anything is read.
    assert "is a character device, not a regular file" in refused(tmp_path, "/dev/zero")


def run_process(tmp_path: Path, scenario: Path) -> str:
    out, trace = tmp_path / "out", tmp_path / "trace" / "t.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "fiscosim", "run", str(scenario), "--out", str(out),
         "--trace", str(trace)], capture_output=True, text=True, cwd=REPO_ROOT,
        timeout=HANG_GUARD_S)
    return _check(result.returncode, result.stdout, result.stderr, tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    assert "is a named pipe (FIFO), not a regular file" in run_process(tmp_path, fifo)


@pytest.mark.parametrize("levels", [2_000, 20_000])
def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path, levels):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nnodes: {count: 4}\ndescription: "
                    + "[" * levels + "]" * levels + "\n")
    line = run_process(tmp_path, deep)
    assert f"error: {deep}: line 3, column 45: nested more than 32 levels deep" in line


def test_deep_block_nesting_is_refused(tmp_path):
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nnodes: {count: 4}\n"
                    + "".join("  " * i + "a:\n" for i in range(2_000)) + "  " * 2_000 + "1\n")
    assert "over the 1 MiB limit" in run_process(tmp_path, deep)


# -- knobs that did nothing ---------------------------------------------------------------------

SHORT = ["--set", "duration_s=2", "--set", "warmup_s=0", "--set", "drain_s=2"]

KNOBS = [
    ("contract erc20", "quickstart", ["--set", "workload.contract=erc20"], "workload.contract",
     "unknown contract 'erc20' (use a shipped model: CpuHeavy, DagTransfer,"),
    ("fault after the end", "quickstart",
     [*SHORT, "--set", "faults=[{at_s: 1000, kind: crash, nodes: [node1]}]"], "faults.0.at_s",
     "1000 s is not before the end of the run at 4 s"),
    ("fault at the end", "quickstart",
     [*SHORT, "--set", "faults=[{at_s: 4, kind: crash, nodes: [node1]}]"], "faults.0.at_s",
     "4 s is not before the end of the run at 4 s"),
    ("behaviour on a crash", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: crash, nodes: [node1], behaviour: silent}]"],
     "faults.0.behaviour", "behaviour does not apply to a crash fault"),
    ("rate on a crash", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: crash, nodes: [node1], rate: 0.5}]"],
     "faults.0.rate", "rate does not apply to a crash fault"),
    ("factor on a delay", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: delay, nodes: [node1], delay_ms: 5, factor: 2}]"],
     "faults.0.factor", "factor does not apply to a delay fault"),
    ("nodes on a loss", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: loss, rate: 0.1, nodes: [node1]}]"],
     "faults.0.nodes", "nodes does not apply to a loss fault"),
    ("groups on a crash", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: crash, nodes: [node1], groups: [[node0]]}]"],
     "faults.0.groups", "groups does not apply to a crash fault"),
    ("delay_ms on a silent byzantine", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: byzantine, nodes: [node1], behaviour: silent, "
      "delay_ms: 5}]"], "faults.0.delay_ms",
     "delay_ms does not apply to a byzantine fault with behaviour silent"),
    ("query_rate without light nodes", "quickstart", ["--set", "workload.query_rate=50"],
     "workload.query_rate", "50 queries a second but the scenario has no light node"),
    ("query_rate of a group without light nodes", "groups",
     ["--set", "groups.0.workload.query_rate=5"], "groups.0.workload.query_rate",
     "5 queries a second but group 'a' has no light node"),
    ("shared query_rate, no group with light nodes", "groups",
     ["--set", "workload.query_rate=5"], "workload.query_rate",
     "5 queries a second but none of the groups using it (b) has a light node"),
    ("a node twice in a fault", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: crash, nodes: [node1, node2, node1]}]"],
     "faults.0.nodes.2", "node 'node1' is listed twice"),
    ("a node twice on one side", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: partition, groups: [[node0, node0]]}]"],
     "faults.0.groups.0.1", "twice on one side of the partition"),
    ("an empty side", "quickstart",
     ["--set", "faults=[{at_s: 1, kind: partition, groups: [[]]}]"],
     "faults.0.groups.0", "a side of the partition is empty"),
    ("byzantine observer in groups", "groups",
     ["--set", "faults=[{at_s: 1, kind: byzantine, nodes: [node4], behaviour: silent}]"],
     "faults.0.nodes.0", "'node4' is an observer in b and a sealer in no group"),
    ("byzantine observer", "quickstart",
     ["--set", "nodes.count=null", "--set", "nodes.list=[{name: a}, {name: b}, {name: c}, "
      "{name: d}, {name: o, role: observer}]", "--set", "faults=[{at_s: 1, kind: byzantine, "
      "nodes: [o], behaviour: silent}]"], "faults.0.nodes", "'o' is an observer"),
]


@pytest.mark.parametrize(("base", "options", "field", "problem"),
                         [pytest.param(*case[1:], id=case[0]) for case in KNOBS])
def test_a_knob_that_would_do_nothing_is_refused(tmp_path, bases, no_run, base, options, field,
                                                 problem):
    line = refused(tmp_path, bases[base], *options)
    names_field(line, field)
    assert problem in line, line


# -- types: text where a number belongs --------------------------------------------------------

TYPES = [
    ("chain.tx_count_limit", "'1000'", "'1000' is not a whole number, it is text"),
    ("workload.rate_tps", "'500'", "'500' is not a number, it is text"),
    ("seed", "'7'", "'7' is not a whole number, it is text"),
    ("chain.tx_count_limit", "1000.5", "1000.5 is not a whole number"),
    ("nodes.count", "yes", "true is a yes/no value, not a number"),
    ("light.verify_signatures", "'true'", "'true' is not true or false"),
]


@pytest.mark.parametrize(("path", "value", "problem"), TYPES, ids=[f"{p}={v}" for p, v, _ in TYPES])
def test_text_where_a_number_belongs_is_refused(tmp_path, no_run, path, value, problem):
    line = refused(tmp_path, QUICKSTART, "--set", f"{path}={value}")
    names_field(line, path)
    assert problem in line, line


def test_a_quoted_number_in_a_file(tmp_path, no_run):
    line = refused(tmp_path, BROKEN / "tx_count_limit_quoted.yaml")
    names_field(line, "chain.tx_count_limit")
    assert "without quotes, from 1 to 1,000,000" in line


def test_whole_floats_and_yaml_1_2_exponents_are_numbers():
    from fiscosim.scenario import load_scenario

    scenario = load_scenario(QUICKSTART, ["workload.accounts=1e5", "chain.tx_count_limit=2000.0",
                                          "workload.rate_tps=1e3", "seed=7"])
    assert scenario.workload.accounts == 100_000 and isinstance(scenario.workload.accounts, int)
    assert scenario.chain.tx_count_limit == 2000 and scenario.workload.rate_tps == 1000.0


def test_text_that_looks_like_an_exponent_round_trips(tmp_path):
    # The loader reads 1e5 as a number (YAML 1.2); the dumper quotes such text in return.
    from fiscosim.scenario import dump_yaml, load_scenario
    from fiscosim.schema import Scenario

    scenario = Scenario.from_dict({"name": "2e5", "description": "1e5", "nodes": {"count": 4}})
    path = tmp_path / "s.yaml"
    path.write_text(dump_yaml(scenario))
    assert load_scenario(path) == scenario


def test_a_profile_file_with_a_million_cores(tmp_path, no_run):
    from fiscosim.calibrate import write_profile

    write_profile({"name": "huge", "cores": 1_000_000, "costs_us": {
        name: 1.0 for name in ("verify_secp256k1", "verify_sm2", "keccak256_per_kb",
                               "sm3_per_kb", "msgpack_encode_per_kb", "msgpack_decode_per_kb")}},
        tmp_path / "huge.yaml")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\nnodes: {count: 4, profile: huge.yaml}\n")
    line = refused(tmp_path, scenario)
    names_field(line, "nodes.profile")
    assert "the profile has 1,000,000 cores, more than 256" in line


# -- warnings: accepted, changing nothing, said in the report and summary.json -----------------


def run_ok(tmp_path: Path, *options: str) -> tuple[dict, str]:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(QUICKSTART), *SHORT, "--out", str(out),
                                       *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads((out / "summary.json").read_text()), result.stdout


def test_a_clean_run_has_no_warnings(tmp_path):
    summary, report = run_ok(tmp_path)
    assert summary["warnings"] == [] and "warnings" not in report


def test_settings_that_change_nothing_are_warnings(tmp_path):
    summary, report = run_ok(
        tmp_path, "--set", "faults=[{at_s: 1, kind: crash, nodes: [node1], until_s: 100}]",
        "--set", "network.latency.std_ms=0.3")
    assert summary["warnings"] == [
        "faults.0.until_s: 100 s is not before the end of the run at 4 s: the fault is never "
        "undone",
        "network.latency.std_ms: 0.3 is ignored by distribution constant (use normal or "
        "lognormal for jitter)",
    ]
    (row,) = [line for line in report.splitlines() if line.startswith("warnings")]
    assert "never undone" in row
