"""A workload's contract calls: ``workload.contract`` and ``workload.account_skew`` are checked at
load, each transaction's method and account keys are drawn with the mix and the Zipf skew into
the transaction table, from a stream of their own, so every earlier draw (and every earlier
result, tests/test_golden.py) is unchanged.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from fiscosim.contracts import method_table
from fiscosim.node.txtable import TxTable
from fiscosim.scenario import ScenarioError, load_scenario, load_simulation
from fiscosim.schema import WorkloadConfig, scenario_digest
from fiscosim.workload.clients import OpenLoopClient, ZipfAccounts, emit_tick

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
TICK_US = 10_000


def client(methods=None, accounts: int = 1000, skew: float = 0.0, seed: int = 5,
           rate_tps: float = 2000.0) -> OpenLoopClient:
    return OpenLoopClient(index=0, rate_tps=rate_tps, arrivals="poisson", targets=[0],
                          tx_size=300, accounts=accounts, rng=np.random.default_rng(seed),
                          methods=methods, account_skew=skew)


def ticks(clients, count: int = 50) -> TxTable:
    table = TxTable()
    for k in range(count):
        emit_tick(clients, TICK_US, (k + 1) * TICK_US, table, lambda target: 0)
    return table


# -- the scenario fields -----------------------------------------------------------------------


def test_the_default_is_dagtransfer_and_transfer_is_its_old_name():
    assert WorkloadConfig().contract == "DagTransfer"
    assert WorkloadConfig(contract="transfer").contract == "DagTransfer"
    assert WorkloadConfig(contract="TRANSFER").contract == "DagTransfer"
    assert WorkloadConfig(contract="smallbank").contract == "SmallBank"
    mix = WorkloadConfig(contract={"kvtable": 1, "transfer": 3})
    assert mix.contract == {"KvTable": 1.0, "DagTransfer": 3.0}
    assert mix.contract_mix == {"KvTable": 1.0, "DagTransfer": 3.0}
    assert WorkloadConfig().contract_mix == {"DagTransfer": 1.0}
    assert WorkloadConfig().account_skew == 0.0


def test_the_contract_and_the_skew_are_part_of_the_digest():
    plain = load_scenario(QUICKSTART)
    skewed = load_scenario(QUICKSTART, overrides=["workload.account_skew=1"])
    other = load_scenario(QUICKSTART, overrides=["workload.contract=SmallBank"])
    assert len({scenario_digest(s) for s in (plain, skewed, other)}) == 3


def test_a_contract_path_is_taken_relative_to_the_scenario(tmp_path):
    model = yaml.safe_load((ROOT / "fiscosim/contracts/models/HelloWorld.yaml").read_text())
    model["name"] = "Greeter"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "greeter.yaml").write_text(yaml.safe_dump(model, sort_keys=False))
    scenario = tmp_path / "s.yaml"
    scenario.write_text(QUICKSTART.read_text().replace(
        "contract: transfer", "contract: {models/greeter.yaml: 1, DagTransfer: 1}"))
    loaded = load_scenario(scenario)
    (path, _), _ = loaded.workload.contract.items()
    assert Path(path) == tmp_path / "models" / "greeter.yaml"
    assert loaded.workload.methods().names[:2] == ("Greeter.set", "Greeter.get")


def refused(*overrides: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(QUICKSTART, overrides=list(overrides), check_memory=False)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("override", "field", "problem"), [
    ("workload.contract=Nope", "workload.contract", "unknown contract 'Nope' (use a shipped "
     "model: CpuHeavy, DagTransfer, HelloWorld, KvTable, ParallelOk, SmallBank"),
    ("workload.contract=no/such.yaml", "workload.contract",
     "no/such.yaml: no such contract model file"),
    ("workload.contract={DagTransfer: 0}", "workload.contract.DagTransfer",
     "0 is too small (use a value > 0"),
    ("workload.contract={DagTransfer: -2, SmallBank: 1}", "workload.contract.DagTransfer",
     "-2 is too small (use a value > 0"),
    ("workload.contract={}", "workload.contract", "the mix is empty"),
    ("workload.contract={DagTransfer: 1, dagtransfer: 1}", "workload.contract.dagtransfer",
     "is contract DagTransfer again"),
    ("workload.account_skew=-0.5", "workload.account_skew", "is too small"),
    ("workload.account_skew=4.5", "workload.account_skew", "is too large"),
])
def test_a_bad_contract_or_skew_is_one_line_naming_the_field(override, field, problem):
    message = refused(override)
    assert f": {field}: " in message, message
    assert problem in message, message


def test_a_bad_model_file_is_named_with_its_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    model = yaml.safe_load((ROOT / "fiscosim/contracts/models/HelloWorld.yaml").read_text())
    model["methods"]["set"]["accounts"] = 3
    bad.write_text(yaml.safe_dump(model))
    message = refused(f"workload.contract={bad}")
    assert f"workload.contract: {bad}: methods.set.accounts: 3 is not 0, 1 or 2" in message


def test_two_accounts_need_two_accounts():
    message = refused("workload.accounts=1", "workload.contract=ParallelOk")
    assert "workload.accounts: ParallelOk.transfer takes two distinct accounts" in message
    # HelloWorld takes none: one account is fine.
    load_scenario(QUICKSTART, overrides=["workload.accounts=1", "workload.contract=HelloWorld"],
                  check_memory=False)


def test_fiscosim_run_with_an_unknown_contract_says_so_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fiscosim", "run", str(QUICKSTART), "--set",
         "workload.contract=Nope", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith(f"error: {QUICKSTART}: workload.contract: unknown contract 'Nope'")
    assert "DagTransfer" in lines[0] and "SmallBank" in lines[0]
    assert not (tmp_path / "out").exists()


# -- the draws ---------------------------------------------------------------------------------


def test_method_frequencies_follow_the_mix():
    table = method_table({"SmallBank": 2, "KvTable": 1, "DagTransfer": 1})
    methods, _a, _b = client(table).calls(300_000)
    n = len(methods)
    counts = np.bincount(methods, minlength=len(table))
    sigma = np.sqrt(n * table.probability * (1 - table.probability))
    assert np.all(np.abs(counts - n * table.probability) <= 5 * sigma + 1), counts
    # Contract shares: 1/2, 1/4, 1/4 (DagTransfer's calls all userTransfer).
    shares = np.bincount(table.contract[methods], minlength=3) / n
    assert np.allclose(shares, [0.5, 0.25, 0.25], atol=0.01)
    assert counts[table.method_id("DagTransfer.userAdd")] == 0


def test_account_columns_follow_each_methods_accounts():
    table = method_table({"SmallBank": 1, "HelloWorld": 1})
    methods, a, b = client(table, accounts=50).calls(50_000)
    need = table.accounts[methods]
    assert np.all((a >= 0) == (need >= 1)) and np.all((b >= 0) == (need == 2))
    assert a.max() < 50 and b.max() < 50
    two = need == 2
    assert two.any() and np.all(a[two] != b[two])


def test_zipf_skew_gives_the_top_account_its_theoretical_share():
    accounts, skew, n = 10_000, 1.2, 400_000
    table = method_table("ParallelOk")  # transfers: two distinct accounts each
    _methods, a, b = client(table, accounts=accounts, skew=skew).calls(n)
    ranks = np.arange(1, accounts + 1, dtype=np.float64)
    share = 1 / np.sum(ranks ** -skew)  # 1 / H(10,000, 1.2), about 0.21
    top = np.mean(a == 0)
    assert top > 100 / accounts  # far above uniform's 1/10,000
    assert top == pytest.approx(share, abs=5 * np.sqrt(share * (1 - share) / n))
    assert ZipfAccounts(accounts, skew).share(0) == pytest.approx(share)
    # The second account is the first's distribution conditioned on differing from it.
    assert np.all(a != b)
    second_top = np.mean(b == 0)
    expected = np.sum(np.where(np.arange(accounts) == 0, 0.0,
                               (ranks ** -skew * share) * share / (1 - ranks ** -skew * share)))
    assert second_top == pytest.approx(expected, rel=0.05)


def test_skew_0_is_uniform():
    accounts, n = 20, 200_000
    _methods, a, _b = client(method_table("DagTransfer"), accounts=accounts).calls(n)
    counts = np.bincount(a, minlength=accounts)
    expected = n / accounts
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 60  # 19 degrees of freedom: p < 1e-5 above 50
    assert ZipfAccounts(accounts).share(0) == pytest.approx(1 / accounts)


def test_zipf_draws_stay_in_range_at_the_extremes():
    rng = np.random.default_rng(0)
    for accounts, skew in [(1, 0.0), (1, 4.0), (2, 4.0), (1_000_000, 4.0), (1_000_000, 0.3)]:
        draws = ZipfAccounts(accounts, skew).draw(rng, 10_000)
        assert draws.dtype == np.int32 and draws.min() >= 0 and draws.max() < accounts
    top = np.array([np.nextafter(1.0, 0.0)])  # the largest uniform number below 1
    for accounts in (1, 2, 3, 1000, 999_983, 1 << 20, 1_000_000):
        for skew in (0.0, 1.0):
            assert ZipfAccounts(accounts, skew).ranks(top)[0] == accounts - 1
    pair = ZipfAccounts(2, 4.0)
    first = pair.draw(rng, 10_000)
    assert np.all(pair.draw_other(rng, first) == 1 - first)
    with pytest.raises(ValueError):
        ZipfAccounts(1, 0.0).draw_other(rng, np.zeros(3, dtype=np.int32))
    with pytest.raises(ValueError):
        ZipfAccounts(10, 4.5)


def test_the_same_seed_gives_the_same_columns():
    table = method_table({"SmallBank": 1, "ParallelOk": 1})
    first = ticks([client(table, skew=0.8), client(table, skew=0.8, seed=6)])
    second = ticks([client(table, skew=0.8), client(table, skew=0.8, seed=6)])
    for column in ("method", "account_a", "account_b", "sender", "nonce", "submit_time"):
        assert np.array_equal(first.column(column), second.column(column)), column
    assert first.count > 500 and np.all(first.column("method") >= 0)
    other = ticks([client(table, skew=0.8, seed=7), client(table, skew=0.8, seed=6)])
    assert not np.array_equal(first.column("method")[:100], other.column("method")[:100])


def test_contract_calls_change_none_of_the_clients_other_draws():
    # The calls come from a stream spawned from the client's: with or without them, arrivals,
    # senders and nonces are the same.
    without = ticks([client(None)])
    with_calls = ticks([client(method_table({"SmallBank": 1}), skew=1.5)])
    assert without.count == with_calls.count
    for column in ("submit_time", "sender", "nonce", "size"):
        assert np.array_equal(without.column(column), with_calls.column(column)), column
    assert np.all(without.column("method") == -1) and np.all(without.column("account_a") == -1)


def test_a_run_fills_the_columns():
    simulation = load_simulation(QUICKSTART, check_memory=False, overrides=[
        "duration_s=1", "warmup_s=0", "drain_s=1", "workload.contract={SmallBank: 1, "
        "DagTransfer: 1}", "workload.account_skew=1"])
    result = simulation.run()
    table = result.world.table
    methods = table.column("method")
    assert table.count > 0 and np.all(methods >= 0)
    names = result.world.clients[0].methods.names
    used = {names[m] for m in np.unique(methods)}
    assert "DagTransfer.userTransfer" in used and "SmallBank.sendPayment" in used
    transfers = methods == names.index("DagTransfer.userTransfer")
    assert np.all(table.column("account_b")[transfers] >= 0)
