"""What a contract call costs under FISCO 2.x (``chain.version: '2.9'``), where 2.x's executor
is slower than the 3.x figures the contract models hold.

A Solidity call runs in 2.x's EVM, an interpreter FISCO replaced with evmone in 3.x. The models'
Solidity costs are revm's, measured on this project's hosts, which stands in for evmone. FISCO
published one Solidity figure for 2.x's executor with its hardware: Solidity transfers executed
one by one at 4,735 TPS on a 2.0 GHz Xeon Gold (fit row ``fisco2-pte-solidity-serial``,
fiscosim/published/points.yaml). Taken to be ParallelOk.transfer, that is 1 s / 4,735 = 211.2 µs
a call, less the 6.8 µs a call fiscosim charges on top for receipts and roots: 204.4 µs. Under
2.x every Solidity call costs its model's figure times the ratio of that to ParallelOk.transfer's
model cost (about 7.8): an assumption that 2.x's interpreter slowed all bytecode alike, which
one published figure cannot check. Precompiled calls are native C++ in both releases and keep
their models' figures. This module imports nothing of fiscosim but the contract models.
"""

from __future__ import annotations

import numpy as np

from fiscosim.contracts.model import load_contract
from fiscosim.contracts.table import MethodTable

V2_EVM_REFERENCE = ("ParallelOk", "transfer")
"""The call FISCO's 2.x Solidity figure is taken to be (contract, method)."""
V2_EVM_REFERENCE_US = 204.4
"""What that call costs in 2.x's EVM, µs on one core (the module docstring)."""
V2_EVM_ROW = "fisco2-pte-solidity-serial"
"""The reference point (fiscosim/published/points.yaml) the figure comes from."""


def v2_evm_scale() -> float:
    """2.x's EVM time over the model's (revm) time for the reference call (~7.8)."""
    contract, method = V2_EVM_REFERENCE
    return V2_EVM_REFERENCE_US / load_contract(contract).method(method).cost.us


def release_cost_us(methods: MethodTable, version: str | None) -> np.ndarray:
    """Each method's cost per call, µs on one core, under ``chain.version`` ``version``: the
    models' figures, Solidity ones times :func:`v2_evm_scale` under '2.9'.

    >>> from fiscosim.contracts import method_table
    >>> table = method_table({"ParallelOk": 1, "DagTransfer": 1})
    >>> costs = release_cost_us(table, "2.9")
    >>> round(float(costs[table.method_id("ParallelOk.transfer")]), 1)
    204.4
    >>> bool(costs[table.method_id("DagTransfer.userTransfer")]
    ...      == table.cost_us[table.method_id("DagTransfer.userTransfer")])
    True
    """
    costs = methods.cost_us.astype(np.float64, copy=True)
    if version == "2.9":
        solidity = np.array([methods.contracts[int(c)].kind == "solidity"
                             for c in methods.contract], dtype=bool)
        costs[solidity] *= v2_evm_scale()
    return costs
