"""Calibrate's EVM path: every Solidity workload deploys and runs in pyrevm, with real gas."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "pyrevm",
    reason="pyrevm is not installed (the calibrate extra); it ships wheels only for CPython "
    "3.10-3.12 on x86-64 Linux and macOS",
)

from fiscosim.calibrate import evm


@pytest.fixture(scope="module")
def measured():
    warnings: list[str] = []
    results, info = evm.measure_evm(repeats=1, batch=8, warn=warnings.append)
    return results, info, warnings


def _word(data: bytes, index: int = 0) -> int:
    return int.from_bytes(data[32 * index : 32 * index + 32], "big", signed=True)


def test_every_method_deploys_and_runs(measured):
    results, info, warnings = measured
    assert warnings == []
    expected = {(w.contract, w.label) for w in evm.WORKLOADS}
    assert {(c, m) for c, methods in results.items() for m in methods} == expected
    for methods in results.values():
        for record in methods.values():
            assert record["gas"] > 21_000 or record["gas_min"] > 0
            assert record["us"] > 0 and record["min"] > 0 and record["runs"] == 1
            assert record["state"] in ("fresh", "prepared")
    assert set(info["deploy_gas"]) == set(evm.CONTRACTS)
    assert info["call_floor_us"]["median"] > 0
    assert "0.8.11" in info["compiler"] and "London" in info["engine"]


def test_gas_tells_the_methods_apart(measured):
    results, _, _ = measured
    cpu = results["CpuHeavy"]
    assert cpu["sort(128)"]["gas"] > 2 * cpu["sort(32)"]["gas"]
    assert cpu["hashRounds(512)"]["gas"] > 2 * cpu["hashRounds(64)"]["gas"]
    # A first write of a new account costs a chain's 20,000 for the zero-to-nonzero slot.
    pt, bank = results["ParallelTransfer"], results["SmallBank"]
    assert pt["set"]["gas"] > 42_000 and pt["set"]["state"] == "fresh"
    assert pt["balanceOf"]["gas"] < pt["set"]["gas"] < pt["transfer"]["gas"]
    gases = [record["gas"] for methods in results.values() for record in methods.values()]
    assert len(set(gases)) >= len(gases) - 2
    assert bank["updateBalance"]["gas"] != bank["getBalance"]["gas"]


def test_the_contracts_do_what_they_say():
    bank = evm._Deployed(evm.load_artifact("SmallBank"))

    def call(signature, *args):
        return bank.send(bank.calldata((signature, args)))

    call("updateBalance(string,int256)", "alice", 100)
    call("updateSaving(string,int256)", "alice", 50)
    call("updateBalance(string,int256)", "bob", 10)
    call("sendPayment(string,string,int256)", "alice", "bob", 30)
    assert _word(call("getBalance(string)", "alice")) == 120
    call("writeCheck(string,int256)", "bob", 100)  # 40 available: overdrawn, penalty 1
    assert _word(call("getBalance(string)", "bob")) == 40 - 100 - 1
    call("amalgamate(string,string)", "alice", "bob")
    assert _word(call("getBalance(string)", "alice")) == 0
    assert _word(call("getBalance(string)", "bob")) == 120 - 61

    table = evm._Deployed(evm.load_artifact("KvTable"))
    send = lambda *c: table.send(table.calldata(c))  # noqa: E731
    assert _word(send("insert(string,string,uint256)", ("k", "apple", 3))) == 1
    assert _word(send("insert(string,string,uint256)", ("k", "pear", 4))) == 0
    found = send("select(string)", ("k",))
    assert _word(found, 0) == 1 and _word(found, 2) == 3 and b"apple" in found
    assert _word(send("update(string,string,uint256)", ("k", "plum", 9))) == 1
    assert _word(send("select(string)", ("k",)), 2) == 9
    assert _word(send("remove(string)", ("k",))) == 1
    assert _word(send("select(string)", ("k",)), 0) == 0

    pt = evm._Deployed(evm.load_artifact("ParallelTransfer"))
    pt.send(pt.calldata(("set(string,uint256)", ("a", 5))))
    pt.send(pt.calldata(("transfer(string,string,uint256)", ("a", "b", 2))))
    assert _word(pt.send(pt.calldata(("balanceOf(string)", ("b",))))) == 2
    with pytest.raises(RuntimeError, match="Revert"):
        pt.send(pt.calldata(("transfer(string,string,uint256)", ("a", "b", 10))))


def test_a_reverting_method_is_left_out_and_said():
    overdraw = evm.Workload(
        "ParallelTransfer", "transfer-unfunded",
        lambda i: ("transfer(string,string,uint256)", (f"nobody{i}", "x", 1)),
    )  # fmt: skip
    warnings: list[str] = []
    results, _ = evm.measure_evm(1, 4, workloads=[overdraw], warn=warnings.append)
    assert results == {}
    assert len(warnings) == 1 and "transfer-unfunded left out" in warnings[0]


def test_abi_encoding_of_strings_and_signed_numbers():
    data = evm.encode_call("01020304", ["string", "int256", "string"], ["ab", -1, ""])
    assert data[:4] == bytes.fromhex("01020304")
    body = data[4:]
    assert _word(body, 0) == 96 and _word(body, 1) == -1 and _word(body, 2) == 160
    assert _word(body, 3) == 2 and body[128:130] == b"ab" and _word(body, 5) == 0
    with pytest.raises(ValueError):
        evm.encode_call("00000000", ["address"], ["0x00"])
