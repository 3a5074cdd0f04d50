"""Contract models (fiscosim.contracts): the shipped models load and say where their figures come
from, a user's model loads from a file, a bad file is refused in one line naming the file, the
field and the fix, and a mix becomes a method table with the right probabilities.

With ``FISCOSIM_SLOW=1`` (and pyrevm), the Solidity models' ``reads`` and ``writes`` are
recounted from revm's EIP-3155 trace of the calls ``fiscosim calibrate`` measures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from fiscosim.contracts import (
    COST_SOURCES,
    ContractError,
    ContractModel,
    Cost,
    Method,
    MethodTable,
    load_contract,
    method_table,
    shipped_contracts,
)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "fiscosim" / "contracts" / "models"
CALIBRATION = ROOT / "docs" / "measurements" / "2026-12-02-epyc2-calibrate.yaml"
SHIPPED = ["CpuHeavy", "DagTransfer", "HelloWorld", "KvTable", "ParallelOk", "SmallBank"]
CALIBRATE_LABELS = {("CpuHeavy", "sort32"): "sort(32)", ("CpuHeavy", "sort128"): "sort(128)"}
"""Model methods whose label in calibrate's output differs from their name."""

GOOD = {
    "name": "Token",
    "kind": "solidity",
    "source": "contracts/solidity/Token.sol",
    "description": "A user's token.",
    "methods": {
        "mint": {"weight": 1, "accounts": 1, "reads": 1, "writes": 1, "parallel": True,
                 "gas": 30000, "cost_us": {"us": 20.5, "source": "assumed",
                                           "detail": "like ParallelOk.set"}},
        "move": {"weight": 3, "accounts": 2, "reads": 2, "writes": 2, "parallel": True,
                 "gas": 46000, "cost_us": {"us": 26, "source": "measured",
                                           "detail": "revm on a laptop"}},
    },
}


def write_model(tmp_path: Path, data, name: str = "token.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def changed(**edits) -> dict:
    """GOOD with dotted ``edits`` (``methods__move__accounts=3``); None deletes the key."""
    data = json.loads(json.dumps(GOOD))
    for dotted, value in edits.items():
        *path, last = dotted.split("__")
        node = data
        for part in path:
            node = node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


# -- the shipped models ------------------------------------------------------------------------


def test_the_shipped_models_are_the_six():
    assert shipped_contracts() == SHIPPED
    assert sorted(p.stem for p in MODELS.glob("*.yaml")) == sorted(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_loads_and_says_where_its_figures_come_from(name):
    model = load_contract(name)
    assert isinstance(model, ContractModel)
    assert model.name == name
    assert model.kind in ("precompiled", "solidity")
    assert model.description and model.methods
    assert sum(m.weight for m in model.methods) > 0
    for method in model.methods:
        assert isinstance(method, Method) and isinstance(method.cost, Cost)
        assert method.accounts in (0, 1, 2)
        assert method.reads >= 0 and method.writes >= 0 and method.gas >= 0
        assert method.cost.us > 0 and method.cost.source in COST_SOURCES
        assert len(method.cost.detail) > 40
    if model.kind == "solidity":
        assert (ROOT / model.source).is_file(), model.source
        assert model.source.startswith("contracts/solidity/")
        for method in model.methods:
            assert method.cost.source == "measured"
            assert "revm" in method.cost.detail and "2026-12-02" in method.cost.detail
            assert "evmone" in method.cost.detail  # says what revm stands in for
    else:
        assert "DagTransferPrecompiled.cpp" in model.source


def test_the_solidity_costs_are_the_kept_calibration():
    measured = yaml.safe_load(CALIBRATION.read_text())["measured"]["evm"]
    seen = 0
    for name in SHIPPED:
        model = load_contract(name)
        if model.kind != "solidity":
            continue
        artifact = Path(model.source).stem
        for method in model.methods:
            label = CALIBRATE_LABELS.get((name, method.name), method.name)
            record = measured[artifact][label]
            assert method.cost.us == record["us"], (name, method.name)
            assert method.gas == record["gas"], (name, method.name)
            assert f"measured.evm.{artifact}.{label}" in method.cost.detail
            seen += 1
    assert seen == 17


def test_the_parallel_methods_are_fiscos():
    # DagTransferPrecompiled declares its users; ParallelOk registers transfer and set only.
    dag = load_contract("DagTransfer")
    assert [m.parallel for m in dag.methods] == [True, True, True]
    assert dag.method("userTransfer").accounts == 2
    ok = load_contract("ParallelOk")
    assert {m.name: m.parallel for m in ok.methods} == {
        "set": True, "transfer": True, "balanceOf": False}
    for name in ("HelloWorld", "KvTable", "CpuHeavy", "SmallBank"):
        assert not any(m.parallel for m in load_contract(name).methods), name


def test_dagtransfer_comes_from_fiscos_executor_benchmark():
    """userTransfer: 1 s / 24,570 TPS (FISCO's serial executor figure, hardware stated) less
    the receipts and roots fiscosim charges per call; the others in proportion (assumed)."""
    model = load_contract("DagTransfer")
    transfer = model.method("userTransfer")
    assert transfer.cost.source == "published"
    assert transfer.cost.us == pytest.approx(1e6 / 24_570 - 0.9, abs=0.01)
    assert "24,570 TPS" in transfer.cost.detail and "2.0 GHz" in transfer.cost.detail
    for name, operations in (("userAdd", 2), ("userBalance", 1)):
        cost = model.method(name).cost
        assert cost.source == "assumed"
        assert cost.us == pytest.approx(transfer.cost.us * operations / 4)


# -- references --------------------------------------------------------------------------------


def test_a_shipped_name_in_any_case_and_a_path_load_the_same_model(tmp_path):
    assert load_contract("smallbank") is load_contract("SmallBank")
    path = MODELS / "HelloWorld.yaml"
    assert load_contract(path) == load_contract("HelloWorld")
    assert load_contract(str(path)) == load_contract("HelloWorld")


def test_a_users_model_loads_from_its_file(tmp_path):
    path = write_model(tmp_path, GOOD)
    model = load_contract(path)
    assert model.name == "Token" and [m.name for m in model.methods] == ["mint", "move"]
    move = model.method("move")
    assert (move.weight, move.accounts, move.reads, move.writes, move.parallel, move.gas) == (
        3.0, 2, 2, 2, True, 46000)
    assert move.cost == Cost(26.0, "measured", "revm on a laptop")
    # A rewritten file is read again.
    path.write_text(yaml.safe_dump(changed(name="Token2")))
    assert load_contract(path).name == "Token2"


def one_line_error(ref) -> str:
    with pytest.raises(ContractError) as caught:
        load_contract(ref)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_an_unknown_name_lists_the_shipped_models():
    message = one_line_error("Nope")
    assert "unknown contract 'Nope'" in message
    assert "CpuHeavy, DagTransfer, HelloWorld, KvTable, ParallelOk, SmallBank" in message
    assert "did you mean 'DagTransfer'" in one_line_error("DagTransfr")


def test_a_missing_file_is_named(tmp_path):
    message = one_line_error(str(tmp_path / "missing.yaml"))
    assert "missing.yaml: no such contract model file" in message
    assert "not a file" in one_line_error(tmp_path)


BAD = [
    ("missing field", changed(methods__move__reads=None), "methods.move.reads",
     "required field is missing", "add 'reads: ...'"),
    ("missing top field", changed(kind=None), "kind", "required field is missing", "add 'kind"),
    ("negative cost", changed(methods__move__cost_us__us=-3), "methods.move.cost_us.us",
     "-3.0 is negative", "0 or more"),
    ("unknown cost source", changed(methods__mint__cost_us__source="guessed"),
     "methods.mint.cost_us.source", "'guessed' is not a kind of source",
     "use measured, published, assumed"),
    ("unknown kind", changed(kind="wasm"), "kind", "'wasm' is not a kind of contract",
     "use precompiled or solidity"),
    ("accounts 3", changed(methods__move__accounts=3), "methods.move.accounts",
     "3 is not 0, 1 or 2", "0, 1 or 2"),
    ("negative weight", changed(methods__move__weight=-1), "methods.move.weight",
     "is negative", "0 or more"),
    ("all weights 0", changed(methods__move__weight=0, methods__mint__weight=0), "methods",
     "every method's weight is 0", "above 0"),
    ("parallel not a bool", changed(methods__move__parallel="yes"), "methods.move.parallel",
     "'yes' is not true or false", "true when"),
    ("text for a number", changed(methods__move__gas="lots"), "methods.move.gas",
     "'lots' is not a whole number", "whole number"),
    ("a typo", changed(methods__move__writess=2), "methods.move.writess",
     "unknown key 'writess'", "did you mean 'writes'?"),
    ("no methods", changed(methods={}), "methods", "is not a mapping of methods",
     "at least one method"),
    ("bad name", changed(name="my token"), "name", "not a valid contract name", "letters"),
    ("not a mapping", "- a list\n", "", "the top level is a list", "write name, kind"),
    ("bad YAML", "name: [unclosed\n", "line", "YAML error", "fix the YAML"),
    ("state_reads neither", changed(methods__move__cost_us__state_reads="maybe"),
     "methods.move.cost_us.state_reads", "'maybe' is not charged or included",
     "write included when"),
]


@pytest.mark.parametrize(("data", "field", "problem", "fix"),
                         [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_a_bad_file_is_one_line_naming_the_file_the_field_and_the_fix(tmp_path, data, field,
                                                                      problem, fix):
    path = write_model(tmp_path, data)
    message = one_line_error(path)
    assert message.startswith(f"{path}: {field}"), message
    assert problem in message and fix in message, message
    assert message.endswith(")"), message  # "(the fix)"


# -- method tables -----------------------------------------------------------------------------


def test_reads_are_charged_unless_the_cost_includes_them(tmp_path):
    # DagTransfer's figure is a whole node's execution time, reads included; an EVM measured on
    # in-memory state leaves them to the node's storage (contracts/README.md, state_reads).
    table = method_table({"DagTransfer": 1, "ParallelOk": 1})
    dag = [table.method_id(f"DagTransfer.{m}") for m in ("userAdd", "userTransfer")]
    ok = table.method_id("ParallelOk.transfer")
    assert table.charged_reads[dag].tolist() == [0, 0] and table.reads[dag].tolist() == [1, 2]
    assert table.charged_reads[ok] == table.reads[ok] == 2
    included = method_table(write_model(tmp_path, changed(
        methods__move__cost_us__state_reads="included")))
    move = included.method_id("Token.move")
    assert included.charged_reads[move] == 0 < included.reads[move]


def test_a_method_table_flattens_a_mix_with_normalised_probabilities(tmp_path):
    user = write_model(tmp_path, GOOD)
    table = method_table({"DagTransfer": 2, "SmallBank": 1, str(user): 1})
    assert isinstance(table, MethodTable) and len(table) == 3 + 6 + 2
    assert table.names[:4] == ("DagTransfer.userAdd", "DagTransfer.userTransfer",
                               "DagTransfer.userBalance", "SmallBank.updateBalance")
    assert table.names[-2:] == ("Token.mint", "Token.move")
    assert [m.name for m in table.contracts] == ["DagTransfer", "SmallBank", "Token"]
    assert table.contract.tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2]
    expected = [0, 0.5, 0] + [0.25 / 6] * 6 + [0.25 * 1 / 4, 0.25 * 3 / 4]
    assert np.allclose(table.probability, expected)
    assert table.probability.sum() == pytest.approx(1.0)
    dtypes = {"contract": np.int16, "probability": np.float64, "cost_us": np.float64,
              "gas": np.int64, "accounts": np.int8, "reads": np.int16, "writes": np.int16,
              "parallel": np.bool_}
    for column, dtype in dtypes.items():
        array = getattr(table, column)
        assert array.dtype == dtype and len(array) == len(table), column
        assert not array.flags.writeable, column
    move = table.method_id("Token.move")
    assert (table.cost_us[move], table.gas[move], table.accounts[move], table.reads[move],
            table.writes[move], bool(table.parallel[move])) == (26.0, 46000, 2, 2, 2, True)


def test_a_single_reference_is_a_mix_of_one():
    assert method_table("HelloWorld").names == ("HelloWorld.set", "HelloWorld.get")
    assert method_table("HelloWorld").probability.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("mix", [{}, {"DagTransfer": 0}, {"DagTransfer": -1},
                                 {"DagTransfer": True}, {"DagTransfer": 1, "dagtransfer": 1},
                                 {"Nope": 1}])
def test_a_bad_mix_is_refused(mix):
    with pytest.raises(ContractError) as caught:
        method_table(mix)
    assert "\n" not in str(caught.value)


def test_draws_follow_the_probabilities_and_never_a_method_of_weight_0():
    table = method_table({"DagTransfer": 1, "KvTable": 1, "CpuHeavy": 2})
    draws = table.draw(np.random.default_rng(2026), 200_000)
    assert draws.dtype == np.int16
    counts = np.bincount(draws, minlength=len(table))
    for never in ("DagTransfer.userAdd", "DagTransfer.userBalance"):
        assert counts[table.method_id(never)] == 0
    n = len(draws)
    sigma = np.sqrt(n * table.probability * (1 - table.probability))
    assert np.all(np.abs(counts - n * table.probability) <= 5 * sigma + 1), counts
    # Same stream, same draws.
    again = table.draw(np.random.default_rng(2026), 200_000)
    assert np.array_equal(draws, again)


# -- reads and writes, recounted in revm (slow) ------------------------------------------------


@pytest.mark.slow
def test_solidity_reads_and_writes_are_the_slots_revm_touches(capfd):
    if not os.environ.get("FISCOSIM_SLOW"):
        pytest.skip("slow: set FISCOSIM_SLOW=1")
    pytest.importorskip("pyrevm")
    from pyrevm import EVM

    from fiscosim.calibrate import evm

    workloads = {(w.contract, w.label): w for w in evm.WORKLOADS}
    for name in SHIPPED:
        model = load_contract(name)
        if model.kind != "solidity" or name == "CpuHeavy":  # CpuHeavy.sort is pure: no state
            continue
        artifact = Path(model.source).stem
        for method in model.methods:
            workload = workloads[(artifact, method.name)]
            deployed = evm.load_artifact(artifact)
            machine = EVM(spec_id=evm.SPEC, tracing=True)
            address = machine.deploy(evm.CALLER, bytes.fromhex(deployed["bytecode"]))
            selectors = deployed["method_identifiers"]

            def calldata(call, selectors=selectors):
                signature, args = call
                return evm.encode_call(selectors[signature], evm._types(signature), args)

            for call in workload.setup(3) if workload.setup else ():
                machine.message_call(evm.CALLER, address, calldata(call))
            capfd.readouterr()
            machine.message_call(evm.CALLER, address, calldata(workload.call(3)))
            loads, stores = set(), set()
            for line in capfd.readouterr().out.splitlines():
                if not line.startswith("{"):
                    continue
                step = json.loads(line)
                if step.get("opName") == "SLOAD":
                    loads.add(step["stack"][-1])
                elif step.get("opName") == "SSTORE":
                    stores.add(step["stack"][-1])
            assert (len(loads), len(stores)) == (method.reads, method.writes), (
                name, method.name)
