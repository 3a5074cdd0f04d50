"""Contract execution costs for ``fiscosim calibrate``: our Solidity workloads in a real EVM.

The contracts in ``contracts/solidity/`` (the workloads of FISCO's stress tools: transfers,
HelloWorld, a key/value table, CPU-heavy sorting and hashing, SmallBank) are deployed from their
committed build artifacts (``contracts/artifacts/``, written by ``contracts/build.py``) into
pyrevm, Python bindings to revm (a Rust EVM), and every method runs a batch of calls with
distinct accounts or keys. Reported per contract and method: wall microseconds per call (median
over the repeats, with min, max and a noise flag) and gas per call. Storage reads and writes
per call are not reported: pyrevm exposes them only through its EIP-3155 tracer, which costs
about a second per simple call and minutes for a CPU-heavy one (it runs Python source per
trace fragment), too slow for a calibration; nothing is estimated in their place.

What the figures are, precisely:

- **µs per call** is the wall time of ``EVM.message_call`` from Python, so it includes the
  binding's per-call overhead; ``evm_info.call_floor_us`` measures that floor (a call to an
  account without code) so it can be compared. revm is not FISCO's EVM (evmone, C++), so these
  are the cost of the same bytecode in a comparable native interpreter, not FISCO's figures.
- **gas** is revm's, London rules, intrinsic 21,000 and calldata included, refunds deducted.
  pyrevm 0.3.7 keeps all calls of an EVM in one open journal (it never finalizes a
  transaction), so a slot that an earlier call of the same EVM touched is warm and keeps its
  value from before the first call as its "original" value. Each batch therefore runs in a
  fresh EVM and its calls use distinct keys: a method whose calls touch only new keys
  (``state: fresh``) is charged exactly as on a chain; a method that needs prepared state
  (balances, rows) gets it from setup calls in the same EVM (``state: prepared``), and its
  reads and updates of that state are charged as warm, dirty slots: 100 gas where a chain
  charges 2,100 for a cold read or 2,900 + 2,100 for an update (EIP-2929, EIP-2200).
  Read those gas figures as lower bounds.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from fiscosim.calibrate.measure import Measurement

SPEC = "London"
"""revm's rules: the artifacts target evmVersion london (contracts/build.py). pyrevm needs the
name in this spelling; an unknown name silently means the latest fork."""

CALLER = "0x" + "f1" * 20
EMPTY_ACCOUNT = "0x" + "e0" * 20

ARTIFACTS = Path(__file__).resolve().parents[2] / "contracts" / "artifacts"
"""The committed build artifacts, beside the package in a checkout or an editable install."""

PYREVM_NOTE = "pyrevm ships wheels for CPython 3.10-3.12 on x86-64 Linux (and macOS) only"


def why_unavailable() -> str:
    """Why the EVM measurement cannot run here ('' when it can)."""
    try:
        import pyrevm  # noqa: F401
    except ImportError as error:
        return (
            f"pyrevm is not importable ({error}); install the calibrate extra: "
            f'pip install -e ".[calibrate]" ({PYREVM_NOTE})'
        )
    if not ARTIFACTS.is_dir():
        return f"no contract artifacts at {ARTIFACTS} (run python contracts/build.py)"
    return ""


def engine() -> str:
    """The EVM that runs, in words."""
    return f"pyrevm {metadata.version('pyrevm')} (revm), {SPEC} rules"


# -- ABI encoding (the few types our contracts take) -------------------------------------------


def _word(value: int, signed: bool = False) -> bytes:
    return value.to_bytes(32, "big", signed=signed)


def encode_call(selector: str, types: Sequence[str], args: Sequence[Any]) -> bytes:
    """Calldata for a method: 4-byte selector (hex) and its arguments, Solidity ABI encoding.

    Supports ``string``, ``uint256``, ``int256`` and ``bytes32``.

    >>> encode_call("a9059cbb", ["uint256"], [1]).hex()[-4:]
    '0001'
    >>> len(encode_call("00000000", ["string"], ["hi"]))  # selector, offset, length, data
    100
    """
    if len(types) != len(args):
        raise ValueError("one argument per type")
    head, tail = [], []
    tail_size = 0
    for kind, arg in zip(types, args, strict=True):
        if kind == "string":
            data = arg.encode("utf-8")
            padded = data + b"\0" * (-len(data) % 32)
            head.append(_word(32 * len(types) + tail_size))
            tail.append(_word(len(data)) + padded)
            tail_size += 32 + len(padded)
        elif kind == "uint256":
            head.append(_word(arg))
        elif kind == "int256":
            head.append(_word(arg, signed=True))
        elif kind == "bytes32":
            head.append(bytes(arg).rjust(32, b"\0"))
        else:
            raise ValueError(f"ABI type {kind!r} is not supported here")
    return bytes.fromhex(selector) + b"".join(head) + b"".join(tail)


def _types(signature: str) -> list[str]:
    inside = signature[signature.index("(") + 1 : -1]
    return inside.split(",") if inside else []


# -- artifacts ---------------------------------------------------------------------------------


@functools.cache
def _artifact(folder: str, name: str) -> dict[str, Any]:
    return json.loads((Path(folder) / f"{name}.json").read_text("utf-8"))


def load_artifact(name: str, folder: Path = ARTIFACTS) -> dict[str, Any]:
    """The build artifact of contract ``name`` (contracts/build.py's format)."""
    return _artifact(str(folder), name)


# -- the workloads -----------------------------------------------------------------------------

Call = tuple[str, tuple[Any, ...]]
"""A method signature and its arguments."""


@dataclass(frozen=True)
class Workload:
    """One method's batch: ``setup(i)`` prepares call ``i``'s state, ``call(i)`` is the call."""

    contract: str
    label: str
    call: Callable[[int], Call]
    setup: Callable[[int], list[Call]] | None = None
    batch_divisor: int = 1
    """CPU-heavy methods run batch // divisor calls (at least 4), to bound the time."""
    shared_slot: bool = False
    """Every call also touches one slot shared by all calls (HelloWorld's string, set by the
    constructor; KvTable's row count)."""

    @property
    def state(self) -> str:
        """``fresh``: each call touches only slots no earlier call of its EVM touched, so its
        gas is a chain's; ``prepared``: it reads or updates slots written earlier in its EVM
        (setup calls, the constructor), which revm charges as warm (module docstring)."""
        return "prepared" if self.setup is not None or self.shared_slot else "fresh"


def _name(prefix: str, i: int) -> str:
    return f"{prefix}{i:08d}"


def _workloads() -> list[Workload]:
    pt, hw, kv, cpu, sb = "ParallelTransfer", "HelloWorld", "KvTable", "CpuHeavy", "SmallBank"
    funded = 10**9

    def set_user(i: int) -> list[Call]:
        return [("set(string,uint256)", (_name("user", i), funded))]

    def row(i: int) -> list[Call]:
        return [("insert(string,string,uint256)", (_name("key", i), _name("item", i), i))]

    def bank(i: int) -> list[Call]:
        return [
            ("updateBalance(string,int256)", (_name("acct", i), 1000)),
            ("updateSaving(string,int256)", (_name("acct", i), 1000)),
        ]

    def bank_pair(i: int) -> list[Call]:
        return bank(2 * i) + bank(2 * i + 1)

    return [
        Workload(pt, "set", lambda i: ("set(string,uint256)", (_name("user", i), funded))),
        Workload(pt, "balanceOf", lambda i: ("balanceOf(string)", (_name("user", i),)), set_user),
        Workload(
            pt,
            "transfer",
            lambda i: (
                "transfer(string,string,uint256)",
                (_name("user", i), _name("dest", i), 1 + i % 100),
            ),
            set_user,
        ),
        Workload(hw, "set", lambda i: ("set(string)", (f"Hello, fiscosim {i}",)), shared_slot=True),
        Workload(hw, "get", lambda i: ("get()", ()), shared_slot=True),
        Workload(
            kv,
            "insert",
            lambda i: ("insert(string,string,uint256)", (_name("key", i), _name("item", i), i)),
            shared_slot=True,  # the row count, updated by every insert
        ),
        Workload(kv, "select", lambda i: ("select(string)", (_name("key", i),)), row),
        Workload(
            kv,
            "update",
            lambda i: ("update(string,string,uint256)", (_name("key", i), _name("next", i), i + 1)),
            row,
        ),
        Workload(kv, "remove", lambda i: ("remove(string)", (_name("key", i),)), row),
        Workload(cpu, "sort(32)", lambda i: ("sort(uint256,uint256)", (32, i)), batch_divisor=4),
        Workload(cpu, "sort(128)", lambda i: ("sort(uint256,uint256)", (128, i)), batch_divisor=16),
        Workload(
            cpu,
            "hashRounds(64)",
            lambda i: ("hashRounds(uint256,bytes32)", (64, _word(i))),
            batch_divisor=4,
        ),
        Workload(
            cpu,
            "hashRounds(512)",
            lambda i: ("hashRounds(uint256,bytes32)", (512, _word(i))),
            batch_divisor=16,
        ),
        Workload(
            sb, "updateBalance", lambda i: ("updateBalance(string,int256)", (_name("acct", i), 100))
        ),
        Workload(
            sb, "updateSaving", lambda i: ("updateSaving(string,int256)", (_name("acct", i), 100))
        ),
        Workload(
            sb,
            "sendPayment",
            lambda i: (
                "sendPayment(string,string,int256)",
                (_name("acct", 2 * i), _name("acct", 2 * i + 1), 10),
            ),
            bank_pair,
        ),
        Workload(
            sb, "writeCheck", lambda i: ("writeCheck(string,int256)", (_name("acct", i), 50)), bank
        ),
        Workload(
            sb,
            "amalgamate",
            lambda i: (
                "amalgamate(string,string)",
                (_name("acct", 2 * i), _name("acct", 2 * i + 1)),
            ),
            bank_pair,
        ),
        Workload(sb, "getBalance", lambda i: ("getBalance(string)", (_name("acct", i),)), bank),
    ]


WORKLOADS: tuple[Workload, ...] = tuple(_workloads())
"""Every measured method, in report order."""

CONTRACTS: tuple[str, ...] = tuple(dict.fromkeys(w.contract for w in WORKLOADS))


# -- running -----------------------------------------------------------------------------------


class _Deployed:
    """A fresh EVM with one contract deployed from its artifact."""

    def __init__(self, artifact: dict[str, Any]) -> None:
        from pyrevm import EVM

        self.evm = EVM(spec_id=SPEC)
        self.selectors: dict[str, str] = artifact["method_identifiers"]
        self.address = self.evm.deploy(CALLER, bytes.fromhex(artifact["bytecode"]))
        self.deploy_gas = self.evm.result.gas_used if self.evm.result else 0

    def calldata(self, call: Call) -> bytes:
        signature, args = call
        return encode_call(self.selectors[signature], _types(signature), args)

    def send(self, data: bytes) -> bytes:
        return self.evm.message_call(CALLER, self.address, data)


def _prepare(workload: Workload, calls: int, folder: Path) -> tuple[_Deployed, list[bytes]]:
    deployed = _Deployed(load_artifact(workload.contract, folder))
    if workload.setup is not None:
        for i in range(calls):
            for call in workload.setup(i):
                deployed.send(deployed.calldata(call))
    return deployed, [deployed.calldata(workload.call(i)) for i in range(calls)]


def _gas_pass(workload: Workload, calls: int, folder: Path) -> tuple[list[int], int]:
    """Untimed: the gas of every call and of the deployment."""
    deployed, batch = _prepare(workload, calls, folder)
    gas = []
    for data in batch:
        deployed.send(data)
        gas.append(deployed.evm.result.gas_used)
    return gas, deployed.deploy_gas


def _timed_pass(workload: Workload, calls: int, folder: Path) -> float:
    """µs per call of one batch in a fresh EVM (setup untimed)."""
    deployed, batch = _prepare(workload, calls, folder)
    send, caller, address = deployed.evm.message_call, CALLER, deployed.address
    started = time.perf_counter()
    for data in batch:
        send(caller, address, data)
    return (time.perf_counter() - started) * 1e6 / len(batch)


def call_floor(repeats: int, calls: int) -> Measurement:
    """µs of a message call to an account without code: the binding's and revm's floor."""
    from pyrevm import EVM

    def sample() -> float:
        evm = EVM(spec_id=SPEC)
        send = evm.message_call
        started = time.perf_counter()
        for _ in range(calls):
            send(CALLER, EMPTY_ACCOUNT, b"")
        return (time.perf_counter() - started) * 1e6 / calls

    sample()
    return Measurement(tuple(sample() for _ in range(repeats)))


def measure_method(
    workload: Workload, repeats: int, batch: int, folder: Path = ARTIFACTS
) -> tuple[dict[str, Any], int]:
    """One method's record ``{us, min, max, runs, noisy, calls, gas, ...}`` and its
    contract's deployment gas. Raises RuntimeError when a call reverts."""
    calls = max(4, batch // workload.batch_divisor)
    gas, deploy_gas = _gas_pass(workload, calls, folder)  # also the warm-up
    timing = Measurement(tuple(_timed_pass(workload, calls, folder) for _ in range(repeats)))
    summary = timing.summary()
    ordered = sorted(gas)
    record = {
        "us": summary["median"],
        "min": summary["min"],
        "max": summary["max"],
        "runs": summary["runs"],
        "noisy": summary["noisy"],
        "calls": calls,
        "gas": ordered[len(ordered) // 2],
        "gas_min": ordered[0],
        "gas_max": ordered[-1],
        "state": workload.state,
    }
    return record, deploy_gas


def measure_evm(
    repeats: int,
    batch: int,
    folder: Path = ARTIFACTS,
    workloads: Sequence[Workload] = WORKLOADS,
    warn: Callable[[str], None] | None = None,
) -> tuple[dict, dict]:
    """Every workload: ``(evm, evm_info)``, ``evm`` being contract → method → record.

    A method whose call reverts is left out and reported through ``warn``.
    """
    results: dict[str, dict[str, Any]] = {}
    deploy: dict[str, int] = {}
    for workload in workloads:
        try:
            record, deploy_gas = measure_method(workload, repeats, batch, folder)
        except RuntimeError as error:
            if warn is not None:
                first = str(error).splitlines()[0][:160]
                warn(
                    f"evm: {workload.contract}.{workload.label} left out: the call failed ({first})"
                )
            continue
        results.setdefault(workload.contract, {})[workload.label] = record
        deploy[workload.contract] = deploy_gas
    floor = call_floor(repeats, max(batch, 100))
    artifact = load_artifact(workloads[0].contract, folder) if workloads else {}
    compiler = artifact.get("compiler", {})
    settings = artifact.get("settings", {})
    optimizer = settings.get("optimizer", {})
    info = {
        "engine": engine(),
        "compiler": (
            f"{compiler.get('name', 'solc')} {compiler.get('version', '?')}, optimizer "
            f"{'on' if optimizer.get('enabled') else 'off'} "
            f"({optimizer.get('runs', '?')} runs), evmVersion "
            f"{settings.get('evmVersion', '?')}"
        ),
        "artifacts": "contracts/artifacts (contracts/build.py)",
        "calls_per_batch": batch,
        "call_floor_us": floor.summary(),
        "deploy_gas": deploy,
        "gas": "revm gas incl. 21,000 intrinsic; state 'prepared': reads and updates of slots "
        "set up in the same EVM are charged warm (lower bound), see fiscosim/calibrate/evm.py",
    }
    return results, info
